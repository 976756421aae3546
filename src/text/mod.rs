//! Plain-text cleaning of third-party spec prose: markdown/HTML to text, removal of hidden characters and instruction-like (prompt-injection) sentences, and sentence-aware shortening into concise tool descriptions.
//!
//! Everything here runs on every summary/description of a spec at startup
//! (about 10,000 for GitHub's), so the work is linear in the input: one
//! pulldown-cmark pass, one small HTML lexer, one sentence splitter and a few
//! word-sequence rules with bounded gaps, parsed once (no regex engine). No
//! function here panics on any input.

/// What was found while cleaning a text that came from a third-party spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Invisible or control characters (zero-width, bidi overrides, tag characters U+E0000..U+E007F, C0/C1 controls other than \n \t) were removed; count of chars removed.
    HiddenCharacters { count: usize },
    /// A sentence that reads like an instruction to a language model was removed; the sentence as found (trimmed to 80 chars) and the name of the pattern that matched.
    InstructionLike { pattern: &'static str, excerpt: String },
}

/// Cleaned text plus what was removed from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cleaned {
    pub text: String,
    pub findings: Vec<Finding>,
}

/// Markdown and HTML to plain text: emphasis, links (keep link text, drop URL), inline code (keep text), code blocks (dropped), images (dropped), tables (cells joined with spaces), lists (items joined as sentences), headings (kept as text followed by a period if they don't end in punctuation), HTML tags dropped (inline and block), HTML entities decoded (every HTML5 name, numeric references). Whitespace collapsed to single spaces. Also removes hidden characters and instruction-like sentences.
pub fn clean(input: &str) -> Cleaned {
    let analysis = analyze(input);
    Cleaned { text: analysis.0.join(" "), findings: analysis.1.clone() }
}

/// clean(), then keep the leading sentences whose total word count stays within
/// `max_words`. If the first sentence alone is longer, it is cut at `max_words`
/// words and ends with "…". Paragraph, list-item, heading and table-row ends
/// are sentence ends even without a period. Findings cover the whole input,
/// including sentences that did not fit: the operator wants to know either way.
pub fn concise(input: &str, max_words: usize) -> Cleaned {
    concise_sentences(input, max_words, usize::MAX)
}

/// [`concise`], keeping at most `max_sentences` sentences.
pub fn concise_sentences(input: &str, max_words: usize, max_sentences: usize) -> Cleaned {
    let analysis = analyze(input);
    let sentences = &analysis.0[..analysis.0.len().min(max_sentences.max(1))];
    let (text, _, _) = take_leading(sentences, max_words);
    Cleaned { text, findings: analysis.1.clone() }
}

/// Combine an operation's summary and description into one tool description of
/// at most `max_words` words: the cleaned summary (period added if missing),
/// then the leading description sentences that are not a near-repeat of the
/// summary, while the total fits. With only one of the two, that one is used
/// as by [`concise`]. Findings from both texts are returned.
pub fn describe_operation(
    summary: Option<&str>,
    description: Option<&str>,
    max_words: usize,
    max_sentences: usize,
) -> Cleaned {
    let max_sentences = max_sentences.max(1);
    let summary = summary.map(analyze).unwrap_or_default();
    let description = description.map(analyze).unwrap_or_default();
    let mut findings = summary.1.clone();
    findings.extend(description.1.iter().cloned());
    let (summary, description) = (&summary.0, &description.0);
    if summary.is_empty() {
        let description = &description[..description.len().min(max_sentences)];
        let (text, _, _) = take_leading(description, max_words);
        return Cleaned { text, findings };
    }
    let summary = &summary[..summary.len().min(max_sentences)];
    let mut sentences_left = max_sentences - summary.len();
    let (mut text, mut used, complete) = take_leading(summary, max_words);
    // A truncated summary already fills the budget; appending more would read oddly.
    if complete {
        let summary_words = content_words(&summary.join(" "));
        for sentence in description.iter().filter(|x| !near_repeat(&summary_words, x)) {
            let w = word_count(sentence);
            if sentences_left == 0 {
                break;
            }
            sentences_left -= 1;
            if used + w > max_words {
                break; // leading sentences only: skipping ahead could change the meaning
            }
            text.push(' ');
            text.push_str(sentence);
            used += w;
        }
    }
    Cleaned { text, findings }
}

/// A description for an operation whose spec has neither summary nor description: its operationId
/// in words (`listGuildMembers` → "List guild members"), or without one the method's verb and the
/// path's literal segments ("Get guilds members"), then the arguments:
/// "List guild members (guild_id, limit, after)." At most eight arguments are named.
pub fn describe_undocumented(operation_id: Option<&str>, method: &str, path: &str, arguments: &[&str]) -> String {
    let words = match operation_id.map(identifier_words).filter(|words| !words.is_empty()) {
        Some(words) => words,
        None => {
            let verb = match method {
                "GET" => "get",
                "POST" => "create",
                "PUT" => "replace",
                "PATCH" => "update",
                "DELETE" => "delete",
                "HEAD" => "check",
                other => other,
            };
            let mut words = vec![verb.to_ascii_lowercase()];
            for segment in path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')) {
                words.extend(identifier_words(segment));
            }
            words
        }
    };
    let mut sentence = words.join(" ");
    if let Some(first) = sentence.get(..1) {
        sentence = first.to_ascii_uppercase() + &sentence[1..];
    }
    if !arguments.is_empty() {
        let shown: Vec<&str> = arguments.iter().take(8).copied().collect();
        let more = if arguments.len() > shown.len() { ", …" } else { "" };
        sentence.push_str(&format!(" ({}{more})", shown.join(", ")));
    }
    sentence.push('.');
    sentence
}

/// `listGuildMembers`, `list_guild_members`, `list-guild-members`, `users.list` → lowercase words;
/// an acronym stays one word (`getHTTPStatus` → get, http, status).
fn identifier_words(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in identifier.split(|c: char| !c.is_alphanumeric()).filter(|part| !part.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut current = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let boundary = i > 0
                && c.is_uppercase()
                && (chars[i - 1].is_lowercase()
                    || chars[i - 1].is_ascii_digit()
                    || chars.get(i + 1).is_some_and(|next| next.is_lowercase()) && chars[i - 1].is_uppercase());
            if boundary && !current.is_empty() {
                words.push(std::mem::take(&mut current).to_lowercase());
            }
            current.push(c);
        }
        if !current.is_empty() {
            words.push(current.to_lowercase());
        }
    }
    words
}

/// GitHub's alert syntax (`> [!NOTE]`, `[!WARNING]`, ...) renders as a styled box on GitHub and as
/// a stray marker anywhere else: the marker goes, the text it introduces stays.
fn strip_admonitions(input: &str) -> std::borrow::Cow<'_, str> {
    const MARKERS: [&str; 5] = ["[!NOTE]", "[!TIP]", "[!IMPORTANT]", "[!WARNING]", "[!CAUTION]"];
    if !input.contains("[!") {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = input.to_string();
    for marker in MARKERS {
        let mut search_from = 0;
        while let Some(found) = out[search_from..].to_ascii_uppercase().find(marker) {
            let start = search_from + found;
            out.replace_range(start..start + marker.len(), "");
            search_from = start;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Word lists below are space-separated strings: compact to read and write,
/// and scanning them is cheap for the few words checked per sentence.
fn listed(list: &str, word: &str) -> bool {
    // A plain byte loop: `str::split` calls memchr per element, which
    // dominated profiles for these short lists.
    list.as_bytes().split(|&b| b == b' ').any(|w| w == word.as_bytes())
}

// --- Hidden characters ------------------------------------------------------

/// Marks a suspicious tag inside block text, followed by the tag as `<name>`.
/// Control characters never come from the input (all are removed before text
/// reaches a block), so a spec cannot forge a marker. A STRONG tag (`<system>`,
/// `<user>`, ..., and the all-caps `<IMPORTANT>` of known tool-poisoning
/// attacks) is an injection by itself. A WEAK one, `<important>` in other
/// casing, is how AWS documentation writes admonitions (about 1,500 times in
/// botocore's models), so its span is removed only if something in it is
/// instruction-like.
const STRONG: char = '\0';
const WEAK: char = '\u{1}';

/// Characters a reader never sees but a model does (or that reorder what a
/// human reviewer sees): zero-width, bidi controls, invisible operators, BOM,
/// soft hyphen, Unicode tag characters, interlinear annotations, C0/C1 controls.
/// The one definition shared with results and error texts (`shape::clean`).
fn is_hidden(c: char) -> bool {
    crate::shape::clean::is_hidden_strict(c)
}

/// Removes hidden characters before markdown parsing, so that they cannot
/// break up markup or words. Newline and tab are structure, not hidden; CR is
/// a line ending (CRLF specs are common) and becomes a newline silently.
fn strip_hidden(input: &str) -> (String, usize) {
    let mut out = String::with_capacity(input.len());
    let mut count = 0;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            c if is_hidden(c) => count += 1,
            c => out.push(c),
        }
    }
    (out, count)
}

mod injection;
mod markdown;
mod sentences;

use sentences::{analyze, content_words, near_repeat, take_leading, word_count};

pub use injection::instruction_like;

#[cfg(test)]
fn describe_operation_words(summary: Option<&str>, description: Option<&str>, max_words: usize) -> Cleaned {
    describe_operation(summary, description, max_words, usize::MAX)
}

#[cfg(test)]
mod tests;
