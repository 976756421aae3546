//! Everything shown to an agent is cleaned here: control and invisible characters removed,
//! every known form of every secret replaced with `[redacted]`, length capped.

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::REDACTED;

/// Remove control and invisible formatting characters and collapse whitespace to single spaces.
///
/// Control characters can break the text rendering or smuggle terminal escapes; bidi overrides and
/// zero-width characters can make a message read differently from what it says.
pub(super) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if crate::shape::clean::is_hidden_strict(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Cut to at most `limit` characters, ending with `…` when something was cut.
pub(super) fn truncate_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Base64 forms shorter than this are not redacted: they would match ordinary words.
const MIN_BASE64_PATTERN: usize = 4;

/// Replaces every known form of every secret with `[redacted]`.
pub(super) struct Redactor {
    /// Longest first, so a secret that contains another is redacted whole.
    patterns: Vec<String>,
}

impl Redactor {
    pub(super) fn new(secrets: &[&str]) -> Self {
        let mut patterns = Vec::new();
        for secret in secrets.iter().copied() {
            // An empty or blank "secret" would match everywhere and redact every space.
            if secret.trim().is_empty() {
                continue;
            }
            patterns.push(secret.to_owned());
            // Text is sanitized before it is searched, so the sanitized form is what can appear.
            patterns.push(sanitize(secret));
            patterns.push(crate::encoding::strict(secret));
            for alphabet in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let exact = alphabet.encode(secret.as_bytes());
                if exact.len() >= MIN_BASE64_PATTERN {
                    patterns.push(exact);
                }
                // Inside a longer encoded string ("user:secret"), the secret's encoding depends on
                // where it starts within a 3-byte group; each alignment has a stable core.
                for offset in 0..3 {
                    if let Some(core) = base64_core(secret.as_bytes(), offset, alphabet)
                        && core.len() >= MIN_BASE64_PATTERN
                    {
                        patterns.push(core);
                    }
                }
            }
        }
        patterns.retain(|p| !p.is_empty());
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        Redactor { patterns }
    }

    /// Sanitize, redact and cut to `limit` characters, in that order: redacting before cutting
    /// means a secret straddling the cut can never leave a visible prefix behind.
    pub(super) fn clean(&self, text: &str, limit: usize) -> String {
        let text = sanitize(text);
        let mut out = String::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut rest = text.as_str();
        while !rest.is_empty() {
            if let Some(p) = self.patterns.iter().find(|p| rest.starts_with(p.as_str())) {
                let marker = REDACTED.chars().count();
                if count.saturating_add(marker) > limit {
                    truncated = true;
                    break;
                }
                out.push_str(REDACTED);
                count += marker;
                rest = rest.get(p.len()..).unwrap_or_default();
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            if count.saturating_add(1) > limit {
                truncated = true;
                break;
            }
            out.push(c);
            count += 1;
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
        if truncated {
            while count >= limit && out.pop().is_some() {
                count -= 1;
            }
            out.push('…');
        }
        out
    }
}

/// The base64 characters fully determined by `bytes` when they start `offset` bytes into a 3-byte
/// group of a longer input: character `j` covers bits `6j..6j+6`, so it is kept only when those
/// bits all belong to the secret.
pub(super) fn base64_core(bytes: &[u8], offset: usize, alphabet: &GeneralPurpose) -> Option<String> {
    let mut buf = vec![0u8; offset];
    buf.extend_from_slice(bytes);
    let encoded = alphabet.encode(&buf);
    let start = (8 * offset).div_ceil(6);
    let end = (8 * (offset + bytes.len())) / 6;
    encoded.get(start..end).map(str::to_owned)
}
