//! Blocks of text to sentences: the splitter (abbreviations, closers), markers left by the HTML
//! lexer, the leading sentences that fit a word budget, and near-repeats of a summary.

use super::injection::{excerpt, instruction_pattern};
use super::markdown::to_blocks;
use super::*;

/// What [`analyze`] finds in a text: its kept sentences, and what was removed.
type Analysis = (Vec<String>, Vec<Finding>);

/// Distinct texts remembered per thread by [`analyze`]; the cache is emptied when full.
const ANALYZED_TEXTS_KEPT: usize = 8_192;

thread_local! {
    /// Specs repeat their prose: Kubernetes inlines the same `ObjectMeta` field descriptions into
    /// each of its 1,123 operations, and analysing them again was a third of its compile time. A
    /// per-thread map (compiling runs on one blocking thread) keyed by the text; bounded, so a
    /// long-lived thread holds at most a few MiB. Shared (`Rc`), not copied out: callers keep one
    /// or two of the sentences, and copying them all on every hit cost more than the lookup.
    static ANALYZED: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<Analysis>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The kept sentences of a text (block ends already punctuated) and findings; remembered, since
/// the answer depends on the text alone.
pub(super) fn analyze(input: &str) -> std::rc::Rc<Analysis> {
    if let Some(known) = ANALYZED.with_borrow(|analyzed| analyzed.get(input).cloned()) {
        return known;
    }
    let fresh = std::rc::Rc::new(analyze_text(input));
    ANALYZED.with_borrow_mut(|analyzed| {
        if analyzed.len() >= ANALYZED_TEXTS_KEPT {
            analyzed.clear();
        }
        analyzed.insert(input.into(), fresh.clone());
    });
    fresh
}

fn analyze_text(input: &str) -> Analysis {
    let input = strip_admonitions(input);
    let (stripped, pre_hidden) = strip_hidden(&input);
    let (blocks, hidden) = to_blocks(&stripped, pre_hidden);

    // A tag that is both opened and closed somewhere delimits a span that is
    // removed whole; a lone tag only taints its own sentence. (At most six
    // distinct names exist, so these vectors stay tiny.)
    let (mut opened, mut closed): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for m in blocks.iter().flat_map(|b| markers(b)) {
        let seen = if m.close { &mut closed } else { &mut opened };
        if !seen.contains(&m.name) {
            seen.push(m.name);
        }
    }
    let paired: Vec<&str> = opened.into_iter().filter(|n| closed.contains(n)).collect();

    let mut items: Vec<(usize, &str)> = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        items.extend(split_sentences(block, &paired).into_iter().map(|s| (b, s)));
    }
    let mut hits: Vec<Option<&'static str>> = items
        .iter()
        .map(|&(_, s)| {
            let strong = markers(s).find(|m| m.strong);
            instruction_pattern(s).or(strong.map(|m| tag_pattern(m.name)))
        })
        .collect();
    let mut last_close: Vec<(&str, usize)> = Vec::new();
    for (idx, &(_, s)) in items.iter().enumerate() {
        for m in markers(s).filter(|m| m.close) {
            last_close.retain(|(n, _)| *n != m.name);
            last_close.push((m.name, idx));
        }
    }
    // Spans run from an opening marker's sentence to its closing one.
    let mut open: Option<(Marker, usize)> = None;
    for (idx, &(_, s)) in items.iter().enumerate() {
        for m in markers(s) {
            match open {
                None if !m.close && last_close.iter().any(|&(n, j)| n == m.name && j > idx) => {
                    open = Some((m, idx));
                }
                Some((o, first)) if m.close && m.name == o.name => {
                    let span = &mut hits[first..=idx];
                    if o.strong || span.iter().any(Option::is_some) {
                        span.iter_mut().for_each(|h| *h = h.or(Some(tag_pattern(o.name))));
                    }
                    open = None;
                }
                _ => {}
            }
        }
    }

    let mut findings = Vec::new();
    if hidden > 0 {
        findings.push(Finding::HiddenCharacters { count: hidden });
    }
    let mut kept: Vec<(usize, String)> = Vec::new();
    for (&(b, s), hit) in items.iter().zip(hits) {
        match hit {
            Some(pattern) => findings.push(Finding::InstructionLike { pattern, excerpt: excerpt(s) }),
            None => {
                let t = strip_markers(s);
                if !t.is_empty() {
                    kept.push((b, t));
                }
            }
        }
    }
    let mut sentences = Vec::with_capacity(kept.len());
    for k in 0..kept.len() {
        let last_in_block = kept.get(k + 1).is_none_or(|(nb, _)| *nb != kept[k].0);
        let mut t = std::mem::take(&mut kept[k].1);
        if last_in_block {
            ensure_terminal(&mut t);
        }
        sentences.push(t);
    }
    (sentences, findings)
}

fn tag_pattern(name: &str) -> &'static str {
    if name == "important" { "important-tag" } else { "role-tag" }
}

#[derive(Clone, Copy)]
struct Marker<'a> {
    close: bool,
    name: &'a str,
    strong: bool,
    len: usize,
}

/// The suspicious-tag markers in a text.
fn markers(s: &str) -> impl Iterator<Item = Marker<'_>> {
    s.match_indices([STRONG, WEAK]).filter_map(move |(p, _)| marker_at(&s[p..]))
}

/// Parses a marker at the start of `s`.
fn marker_at(s: &str) -> Option<Marker<'_>> {
    let strong = s.starts_with(STRONG);
    let rest = s.strip_prefix([STRONG, WEAK])?.strip_prefix('<')?;
    let (close, rest) = match rest.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let end = rest.find('>')?;
    let len = s.len() - rest.len() + end + 1;
    Some(Marker { close, name: &rest[..end], strong, len })
}

/// A kept sentence without its (weak) markers, whitespace collapsed again.
fn strip_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find([STRONG, WEAK]) {
        out.push_str(&rest[..p]);
        let len = marker_at(&rest[p..]).map_or(1, |m| m.len);
        rest = &rest[p + len..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_closer(c: char) -> bool {
    "\"')]”’»".contains(c)
}

fn starts_sentence(c: char) -> bool {
    c.is_uppercase() || c.is_ascii_digit() || "\"'([“‘«".contains(c) || c == STRONG || c == WEAK
}

/// "e.g.", "etc." and dotted initialisms ("U.S.") end in a period but do not end a sentence.
fn is_abbreviation(word: &str) -> bool {
    const ABBREVIATIONS: &str = "e.g. i.e. etc. vs. cf. approx. incl. esp. resp. al. mr. mrs. ms. dr. st. no. fig. ca.";
    let w = word.trim_start_matches(['(', '[', '"', '\'', '“', '‘']).to_lowercase();
    let stem = w.trim_end_matches('.');
    let initials = || stem.split('.').all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
    listed(ABBREVIATIONS, &w) || (stem.contains('.') && initials())
}

/// Splits one whitespace-collapsed block into sentences at ". ", "! ", "? "
/// (closing quotes/brackets allowed in between) followed by a sentence start.
/// "v1.2", "3.5" and "example.com" never split because no space follows the
/// dot. Paired suspicious tags split too, so the span between them can be
/// removed without taking the neighbouring sentences along.
pub(super) fn split_sentences<'a>(block: &'a str, paired: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut push = |s: &'a str| {
        let s = s.trim();
        if !s.is_empty() {
            out.push(s);
        }
    };
    let (mut start, mut word_start, mut i) = (0, 0, 0);
    while let Some(c) = block[i..].chars().next() {
        let next = i + c.len_utf8();
        if c == ' ' {
            word_start = next;
        } else if let Some(m) = marker_at(&block[i..]) {
            if paired.contains(&m.name) {
                let cut = if m.close { i + m.len } else { i };
                push(&block[start..cut]);
                start = cut;
            }
            i += m.len;
            continue;
        } else if matches!(c, '.' | '!' | '?') {
            let tail = &block[next..];
            let run = tail.find(|ch: char| !is_closer(ch) && !".!?".contains(ch)).unwrap_or(tail.len());
            let end = next + run;
            let after = block[end..].strip_prefix(' ').and_then(|r| r.chars().next());
            if after.is_some_and(starts_sentence) && !(c == '.' && is_abbreviation(&block[word_start..next])) {
                push(&block[start..end]);
                start = end;
            }
            i = end;
            continue;
        }
        i = next;
    }
    push(&block[start..]);
    out
}

/// Adds a period to a sentence that ends a block without punctuation, so the
/// joined text still reads as sentences ("## Usage" becomes "Usage.").
pub(super) fn ensure_terminal(t: &mut String) {
    let last = t.trim_end_matches(is_closer).chars().last();
    if last.is_some_and(|c| !".!?:;…".contains(c)) {
        let keep = t.trim_end_matches([',', '-', ' ']).len();
        t.truncate(keep);
        t.push('.');
    }
}

pub(super) fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Leading sentences within `budget` words: (text, words used, all taken).
/// A first sentence longer than the budget is cut and ends with "…".
pub(super) fn take_leading(sentences: &[String], budget: usize) -> (String, usize, bool) {
    let mut out = String::new();
    let mut used = 0;
    for (i, s) in sentences.iter().enumerate() {
        let w = word_count(s);
        if used + w > budget {
            if i == 0 && budget > 0 {
                return (cut_words(s, budget), budget, false);
            }
            return (out, used, false);
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
        used += w;
    }
    (out, used, true)
}

fn cut_words(s: &str, n: usize) -> String {
    let mut out = s.split_whitespace().take(n).collect::<Vec<_>>().join(" ");
    // "word," + "…" reads badly; drop dangling punctuation before the ellipsis.
    let keep = out.trim_end_matches(|c: char| ",;:.!?-–—([\"'".contains(c)).len();
    if keep > 0 {
        out.truncate(keep);
    }
    out.push('…');
    out
}

// --- Near-repeat detection for summary vs description ------------------------

const STOPWORDS: &str = "a an the of for to in on by with and or from this that these those it its \
    is are be all any given specified specific";

/// Sorted, deduplicated content words with a crude plural/3rd-person stem
/// ("Lists" and "List" compare equal).
pub(super) fn content_words(s: &str) -> Vec<String> {
    let lower = s.to_lowercase();
    let mut words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !listed(STOPWORDS, w))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if w.len() > 3 && !w.ends_with("ss") => stem.to_string(),
            _ => w.to_string(),
        })
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// True when `sentence` adds nothing to the summary: all its content words are
/// in the summary, or it is the summary plus at most one extra content word
/// ("Lists repositories for the specified organization." after "List organization repositories").
pub(super) fn near_repeat(summary: &[String], sentence: &str) -> bool {
    let words = content_words(sentence);
    let within = |small: &[String], big: &[String]| small.iter().all(|w| big.binary_search(w).is_ok());
    within(&words, summary) || (!summary.is_empty() && within(summary, &words) && words.len() <= summary.len() + 1)
}
