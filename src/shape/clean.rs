//! The one definition of "invisible characters": what is removed from spec descriptions
//! (`text`), from error texts (`classify`) and from successful results (`call`), so the three
//! cannot drift apart.
//!
//! Such characters are never seen by a person reading a result but are read by a model: terminal
//! escapes (ESC), NUL and BEL, bidirectional overrides that make text read differently from what it
//! says, zero-width characters and Unicode tag characters that can carry hidden instructions.

use std::borrow::Cow;

use serde_json::Value;

use crate::catalogue::CleanMode;

/// Removed by `basic` (the default for results): C0 controls other than tab, newline and carriage
/// return, DEL, C1 controls, bidi embeddings/overrides/isolates, zero-width space, word joiner and
/// invisible operators, BOM / zero-width no-break space, interlinear annotations, tag characters.
pub fn is_hidden_basic(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F..=0x9F | 0x200B | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0000..=0xE007F)
}

/// Removed by `strict` and from spec descriptions: `basic` plus every other control character
/// (carriage return included: callers that keep line structure turn CR into a newline first),
/// zero-width (non-)joiners, left-to-right / right-to-left marks and soft hyphens. Tab and newline are
/// structure and are never hidden.
pub fn is_hidden_strict(c: char) -> bool {
    c != '\n' && c != '\t' && (is_hidden_basic(c) || matches!(c as u32, 0x0D | 0xAD | 0x200C..=0x200F))
}

/// `text` without the characters `mode` removes, and how many were removed. Borrows when nothing is.
pub fn strip(text: &str, mode: CleanMode) -> (Cow<'_, str>, usize) {
    let hidden: fn(char) -> bool = match mode {
        CleanMode::Off => return (Cow::Borrowed(text), 0),
        CleanMode::Basic => is_hidden_basic,
        CleanMode::Strict => is_hidden_strict,
    };
    let Some(first) = text.find(hidden) else {
        return (Cow::Borrowed(text), 0);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut removed = 0;
    for c in text[first..].chars() {
        if hidden(c) {
            removed += 1;
        } else {
            out.push(c);
        }
    }
    (Cow::Owned(out), removed)
}

/// Cleans every string value inside `value` (object keys are left as they are: they are names the
/// output schema may rely on). Returns how many characters were removed.
pub fn clean_value(value: &mut Value, mode: CleanMode) -> usize {
    if mode == CleanMode::Off {
        return 0;
    }
    let mut removed = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                if let (Cow::Owned(cleaned), count) = strip(text, mode) {
                    *text = cleaned;
                    removed += count;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn basic_removes_controls_bidi_zero_width_and_tags_but_keeps_line_structure_and_joiners() {
        let text = "a\u{0}b\u{1b}[31mc\u{7}\td\r\ne\u{202e}f\u{200b}g\u{feff}h\u{e0041}i\u{200d}j\u{85}k";
        let (cleaned, removed) = strip(text, CleanMode::Basic);
        assert_eq!(cleaned, "ab[31mc\td\r\nefghi\u{200d}jk");
        assert_eq!(removed, 8);
    }

    #[test]
    fn strict_also_removes_joiners_marks_soft_hyphens_and_carriage_returns() {
        let (cleaned, removed) = strip("a\u{200d}b\u{200e}c\u{ad}d\r\ne", CleanMode::Strict);
        assert_eq!((cleaned.as_ref(), removed), ("abcd\ne", 4));
    }

    #[test]
    fn off_and_clean_text_borrow() {
        assert!(matches!(strip("a\u{0}", CleanMode::Off), (Cow::Borrowed("a\u{0}"), 0)));
        assert!(matches!(strip("plain ü 😀", CleanMode::Strict), (Cow::Borrowed(_), 0)));
    }

    #[test]
    fn every_string_value_is_cleaned_and_keys_are_kept() {
        let mut value = json!({"a\u{0}": ["x\u{1b}", {"b": "y\u{202e}z"}], "n": 1});
        assert_eq!(clean_value(&mut value, CleanMode::Basic), 2);
        assert_eq!(value, json!({"a\u{0}": ["x", {"b": "yz"}], "n": 1}));
    }
}
