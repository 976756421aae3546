//! Where things are in a document's source text, found in time linear in the text: the offsets where
//! lines start (byte offset → line and column by binary search) and where each `operationId` value is
//! written. Built at most once per document, and only when a diagnostic needs a location: a spec that
//! compiles cleanly never pays for it (GitHub's 13 MB description used to be rescanned from the start
//! for every operation).

use std::collections::HashMap;

/// Line starts and `operationId` values of one document's text.
#[derive(Debug, Default)]
pub struct TextIndex {
    /// Byte offset of the first character of every line; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
    /// Every `operationId` value → byte offset of its first occurrence as such a value.
    operation_ids: HashMap<String, usize>,
}

impl TextIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(newline_offsets(text).map(|newline| newline + 1));
        let mut operation_ids = HashMap::new();
        for (key_offset, key) in text.match_indices("operationId") {
            if let Some((value_offset, value)) = value_after_key(text, key_offset + key.len()) {
                operation_ids.entry(value.to_string()).or_insert(value_offset);
            }
        }
        TextIndex { line_starts, operation_ids }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp to it.
    pub fn line_column(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        // The last line start at or before `offset`.
        let line_index = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line_index];
        let column = text[line_start..offset].chars().count() as u32 + 1;
        (line_index as u32 + 1, column)
    }

    /// Byte offset where `id` is written as an `operationId` value.
    pub fn operation_id(&self, id: &str) -> Option<usize> {
        self.operation_ids.get(id).copied()
    }
}

fn newline_offsets(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes().enumerate().filter(|(_, byte)| *byte == b'\n').map(|(offset, _)| offset)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The scalar written after a key ending at `after_key`, in JSON (`"operationId": "x"`) or YAML
/// (`operationId: x`, `'x'`, `"x"`) on the same line: its offset and text. `None` when the key is not
/// followed by `:` (the word inside a description, say).
fn value_after_key(text: &str, after_key: usize) -> Option<(usize, &str)> {
    let rest = &text[after_key..];
    let bytes = rest.as_bytes();
    let mut position = 0;
    // The key's closing quote, then spaces, then the colon.
    if matches!(bytes.first(), Some(b'"') | Some(b'\'')) {
        position += 1;
    }
    while matches!(bytes.get(position), Some(b' ') | Some(b'\t')) {
        position += 1;
    }
    if bytes.get(position) != Some(&b':') {
        return None;
    }
    position += 1;
    while matches!(bytes.get(position), Some(b' ') | Some(b'\t')) {
        position += 1;
    }
    let (start, end) = match bytes.get(position) {
        Some(&quote @ (b'"' | b'\'')) => {
            let start = position + 1;
            let length = rest[start..].find([quote as char, '\n'])?;
            (start, start + length)
        }
        Some(_) => {
            let length = rest[position..].find(['\n', '\r', ',', '}', ' ', '#']).unwrap_or(rest.len() - position);
            (position, position + length)
        }
        None => return None,
    };
    (end > start).then(|| (after_key + start, &rest[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "a: 1\nbé: x\n\nlast";
        let index = TextIndex::new(text);
        assert_eq!(index.line_column(text, 0), (1, 1));
        assert_eq!(index.line_column(text, 3), (1, 4));
        assert_eq!(index.line_column(text, 4), (1, 5));
        assert_eq!(index.line_column(text, 5), (2, 1));
        // `x` comes after the two-byte `é`: byte 10, character column 5.
        assert_eq!(index.line_column(text, text.find('x').unwrap()), (2, 5));
        assert_eq!(index.line_column(text, text.find("last").unwrap()), (4, 1));
        assert_eq!(index.line_column(text, text.len() + 10), (4, 5));
    }

    #[test]
    fn operation_ids_are_found_in_json_and_yaml() {
        let json = r#"{"paths":{"/a":{"get":{"operationId":"listA","description":"the operationId of b"},"post":{"operationId" : "makeA"}}}}"#;
        let index = TextIndex::new(json);
        assert_eq!(index.operation_id("listA"), json.find("listA"));
        assert_eq!(index.operation_id("makeA"), json.find("makeA"));
        assert_eq!(index.operation_id("of"), None);
        let yaml = "paths:\n  /a:\n    get:\n      operationId: listA # first\n    post:\n      operationId: 'make A'\n    put:\n      \"operationId\": \"putA\"\n";
        let index = TextIndex::new(yaml);
        assert_eq!(index.operation_id("listA"), yaml.find("listA"));
        assert_eq!(index.operation_id("make A"), yaml.find("make A"));
        assert_eq!(index.operation_id("putA"), yaml.find("putA"));
        assert_eq!(index.line_column(yaml, index.operation_id("listA").unwrap()), (4, 20));
    }

    #[test]
    fn the_first_occurrence_wins_and_empty_values_are_skipped() {
        let yaml = "operationId: x\noperationId: ''\noperationId: x\n";
        let index = TextIndex::new(yaml);
        assert_eq!(index.operation_id("x"), Some(13));
        assert_eq!(index.operation_id(""), None);
    }
}
