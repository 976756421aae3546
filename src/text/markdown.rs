//! Markdown and HTML to blocks of plain text: one pulldown-cmark pass and a small HTML lexer for
//! raw HTML (tags dropped, raw blocks skipped, entities decoded, suspicious tags marked).

use pulldown_cmark::{Event, Options, Parser, TagEnd};

use super::*;

/// Tags that are dropped like any HTML but mark their sentence as an
/// instruction to the model ("<IMPORTANT>", "<system>", ...).
const SUSPICIOUS_TAGS: &str = "important system instruction instructions assistant user";
/// HTML elements that start or end a paragraph.
const BLOCK_TAGS: &str = "p div li ul ol dl dt dd tr table thead tbody tfoot h1 h2 h3 h4 h5 h6 \
    blockquote hr section article header footer details summary figure nav aside main";
/// HTML elements whose content is code or not prose at all: dropped like code blocks.
const RAW_TAGS: &str = "pre script style textarea template";

#[derive(Default, PartialEq)]
enum HtmlMode {
    #[default]
    Text,
    Tag,
    Comment,
}

/// HTML lexer state. It lives across pulldown events because HTML blocks
/// arrive line by line and inline tags arrive between text events.
#[derive(Default)]
struct HtmlState {
    mode: HtmlMode,
    tag: String,
    dashes: u8,
    /// Inside <pre>, <script>, ...: everything is dropped until this closes.
    raw: Option<&'static str>,
}

/// The blocks of text of `stripped` (markdown with raw HTML, hidden characters already removed),
/// and the count of hidden characters: `already_hidden` plus those found after decoding.
pub(super) fn to_blocks(stripped: &str, already_hidden: usize) -> (Vec<String>, usize) {
    let mut conv = Converter { hidden: already_hidden, ..Converter::default() };
    for ev in Parser::new_ext(stripped, Options::ENABLE_TABLES) {
        conv.event(ev);
    }
    conv.md_break();
    (conv.blocks, conv.hidden)
}

#[derive(Default)]
struct Converter {
    blocks: Vec<String>,
    cur: String,
    /// Depth of code blocks and images, whose text is dropped.
    skip: usize,
    hidden: usize,
    html: HtmlState,
    /// Text events not yet pushed (see `flush_text`).
    pending: String,
}

impl Converter {
    fn event(&mut self, ev: Event<'_>) {
        if !matches!(ev, Event::Text(_)) {
            self.flush_text();
        }
        match ev {
            Event::Start(tag) => self.tag(tag.to_end(), true),
            Event::End(tag) => self.tag(tag, false),
            Event::Text(t) if !self.dropping() => self.pending.push_str(&t),
            // Code is kept verbatim: a `<user>` placeholder in backticks is not a tag.
            Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) if !self.dropping() => self.push_clean(&t),
            Event::Html(t) | Event::InlineHtml(t) if self.skip == 0 => self.html(&t),
            Event::SoftBreak | Event::HardBreak => self.cur.push(' '),
            Event::Rule => self.md_break(),
            _ => {}
        }
    }

    fn tag(&mut self, tag: TagEnd, start: bool) {
        use TagEnd::*;
        match tag {
            // Code blocks and images (alt text included) are dropped whole.
            CodeBlock | Image => {
                if matches!(tag, CodeBlock) {
                    self.md_break();
                }
                self.skip = if start { self.skip + 1 } else { self.skip.saturating_sub(1) };
            }
            TableCell => self.cur.push(' '),
            Emphasis | Strong | Strikethrough | Superscript | Subscript | Link => {}
            _ => self.md_break(),
        }
    }

    /// pulldown-cmark splits text at entities ("&lt;" arrives on its own), so
    /// consecutive text events are joined before looking for literal tags.
    fn flush_text(&mut self) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.push_marked(&pending);
        }
    }

    fn dropping(&self) -> bool {
        self.skip > 0 || self.html.raw.is_some()
    }

    /// A markdown block boundary also ends any half-open HTML state, so an
    /// unclosed `<pre>` or `<!--` cannot swallow the rest of the document.
    fn md_break(&mut self) {
        self.flush_text();
        self.html = HtmlState::default();
        self.block_break();
    }

    fn block_break(&mut self) {
        let block = self.cur.split_whitespace().collect::<Vec<_>>().join(" ");
        if !block.is_empty() {
            self.blocks.push(block);
        }
        self.cur.clear();
    }

    /// Pushes text, dropping hidden characters that entity decoding produced
    /// (`&#8203;` becomes a zero-width space only after parsing).
    fn push_clean(&mut self, s: &str) {
        for c in s.chars() {
            match c {
                '\n' | '\t' | '\r' => self.cur.push(' '),
                c if is_hidden(c) => self.hidden += 1,
                c => self.cur.push(c),
            }
        }
    }

    /// Pushes text; literal suspicious tags (e.g. from `&lt;IMPORTANT&gt;`)
    /// become markers like real ones, so escaping them does not hide them.
    fn push_marked(&mut self, s: &str) {
        let mut rest = s;
        while let Some(p) = rest.find('<') {
            self.push_clean(&rest[..p]);
            let at = &rest[p..];
            let tag = at.bytes().take(16).position(|b| b == b'>').and_then(|e| {
                let (close, name) = parse_tag(&at[1..e])?;
                listed(SUSPICIOUS_TAGS, &name.to_ascii_lowercase()).then_some((e, close, name))
            });
            match tag {
                Some((e, close, name)) => {
                    self.push_marker(close, &name);
                    rest = &at[e + 1..];
                }
                None => {
                    self.cur.push('<');
                    rest = &at[1..];
                }
            }
        }
        self.push_clean(rest);
    }

    fn push_marker(&mut self, close: bool, name: &str) {
        let lower = name.to_ascii_lowercase();
        self.cur.push(' ');
        self.cur.push(if lower == "important" && name != "IMPORTANT" { WEAK } else { STRONG });
        self.cur.push_str(if close { "</" } else { "<" });
        self.cur.push_str(&lower);
        self.cur.push_str("> ");
    }

    /// Feeds raw HTML through the lexer: text is entity-decoded and kept, tags
    /// are dropped (block tags end a paragraph), comments vanish.
    fn html(&mut self, s: &str) {
        let mut text = String::new();
        for c in s.chars() {
            match self.html.mode {
                HtmlMode::Text if c == '<' => {
                    self.flush_html_text(&mut text);
                    self.html.mode = HtmlMode::Tag;
                    self.html.tag.clear();
                }
                HtmlMode::Text => text.push(c),
                HtmlMode::Tag if c == '>' => {
                    self.html.mode = HtmlMode::Text;
                    self.on_tag();
                }
                // "a < b" is text, not a tag.
                HtmlMode::Tag if self.html.tag.is_empty() && !(c.is_ascii_alphabetic() || "/!?".contains(c)) => {
                    self.html.mode = HtmlMode::Text;
                    text.push('<');
                    text.push(c);
                }
                HtmlMode::Tag => {
                    // Only the name matters; attributes can be huge.
                    if self.html.tag.len() < 64 {
                        self.html.tag.push(c);
                    }
                    if self.html.tag == "!--" {
                        self.html.mode = HtmlMode::Comment;
                        self.html.dashes = 0;
                    }
                }
                HtmlMode::Comment => match c {
                    '-' => self.html.dashes = self.html.dashes.saturating_add(1),
                    '>' if self.html.dashes >= 2 => self.html.mode = HtmlMode::Text,
                    _ => self.html.dashes = 0,
                },
            }
        }
        self.flush_html_text(&mut text);
    }

    fn flush_html_text(&mut self, text: &mut String) {
        if !text.is_empty() && !self.dropping() {
            let decoded = decode_entities(text);
            self.push_marked(&decoded);
        }
        text.clear();
    }

    fn on_tag(&mut self) {
        let Some((close, written)) = parse_tag(&self.html.tag) else {
            return;
        };
        let name = written.to_ascii_lowercase();
        if let Some(raw) = self.html.raw {
            if close && name == raw {
                self.html.raw = None;
            }
        } else if listed(SUSPICIOUS_TAGS, &name) {
            self.push_marker(close, &written);
        } else if let Some(raw) = RAW_TAGS.split(' ').find(|t| *t == name) {
            if raw == "pre" {
                self.block_break();
            }
            if !close {
                self.html.raw = Some(raw);
            }
        } else if listed(BLOCK_TAGS, &name) {
            self.block_break();
        } else if listed("br td th", &name) {
            self.cur.push(' ');
        }
    }
}

/// Parses the inside of `<...>` into (is closing tag, name as written).
fn parse_tag(inner: &str) -> Option<(bool, String)> {
    let inner = inner.trim();
    let (close, rest) = match inner.strip_prefix('/') {
        Some(r) => (true, r.trim_start()),
        None => (false, inner),
    };
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let tail = rest[name.len()..].trim_end_matches('/');
    // Reject things like "<user@example.com>" that only look like a tag.
    let tag_like = tail.is_empty() || tail.starts_with(char::is_whitespace);
    (!name.is_empty() && tag_like).then_some((close, name))
}

/// Decodes the entities found in raw HTML (markdown text is decoded by pulldown-cmark): every
/// HTML5 named entity and numeric references; unknown or malformed ones stay as written.
fn decode_entities(s: &str) -> String {
    html_escape::decode_html_entities(s).into_owned()
}
