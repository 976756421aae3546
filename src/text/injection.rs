//! Instruction-like (prompt-injection) sentences: word-sequence rules with bounded gaps, parsed
//! once, plus the exfiltration and secret-file checks; no regex engine.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::*;

/// Word-sequence rules over a sentence's lowercase tokens ("do not"/"don't"
/// become "dont", "you're" becomes "you are"). Syntax: `a|b` one of these
/// words, `a|b?` optionally one of them, `~N` up to N arbitrary words, `$` end
/// of sentence, `^` its start, `@name` a shared list. Gaps are bounded so matching stays
/// linear in the sentence length even on adversarial input. Ordinary API prose
/// ("ignores unknown fields", "you must provide an API key") is kept out by
/// requiring the model-directed words. Several rules may share a name.
pub(super) const RULES: &[(&str, &str)] = &[
    ("ignore-previous", "ignore ~3 @prev ~1 @instr"),
    ("ignore-previous", "ignore all|any? your ~1 @instr"),
    ("disregard-instructions", "disregard ~3 @instr"),
    ("disregard-instructions", "disregard everything|anything"),
    ("disregard-instructions", "disregard all|any? the? @prev $"),
    ("forget-instructions", "forget everything"),
    ("forget-instructions", "forget all $"),
    ("forget-instructions", "forget all @prev"),
    ("forget-instructions", "forget ~2 @instr"),
    ("you-are-now", "you are now @role"),
    ("you-are-now", "you are now in ~2 mode"),
    ("you-must-always", "you must always|never @obey"),
    ("as-an-ai", "^ as an ai|llm"),
    ("as-an-ai", "as an ai|llm ~3 you|i"),
    ("as-an-ai", "as a large? language model"),
    ("system-prompt", "your|ignore|reveal|repeat|leak|override|disregard|forget|print|dump ~2 system prompt|prompts"),
    ("hide-from-user", "dont|never tell|inform|reveal|mention|disclose ~3 user|users"),
    ("hide-from-user", "without telling|informing ~1 user|users"),
    ("before-using-tool", "before you? @use ~2 @tool ~12 @act"),
    ("call-tool-first", "call|invoke the|this|that ~2 @tool ~8 first|instead|again|before"),
    ("override-instructions", "override|overrule|bypass|supersede ~3 @prev ~1 @instr"),
    ("override-instructions", "override|overrule|bypass ~2 all|any|your ~1 @instr"),
    ("override-instructions", "override|overrule|bypass ~2 all|any|your ~1 safety|guardrails|restrictions"),
    ("role-prefix", "^ system|assistant|developer override|ignore|disregard|forget|reveal|bypass|you"),
];

fn shared_list(name: &str) -> &'static str {
    match name {
        "@prev" => "previous prior above earlier preceding former",
        "@instr" => "instructions instruction prompts prompt rules directions directives guidelines",
        "@role" => "a an acting operating dan free unrestricted jailbroken playing going my no called named",
        "@use" => "using use calling call invoking invoke running run",
        "@tool" => "tool tools",
        "@obey" => {
            "respond reply answer say obey follow pretend act refuse comply mention tell \
            ignore remember reveal disclose prioritize"
        }
        "@act" => "read send include pass fetch call open cat provide add upload",
        _ => "",
    }
}

enum Slot {
    Words(Vec<&'static str>, bool),
    Gap(usize),
    Start,
    End,
}

/// Rules parsed once per process, not per call.
/// Rules parsed once per process and indexed by the words they can start with,
/// so a sentence costs one lookup per word rather than one test per rule.
pub(super) struct Compiled {
    rules: Vec<(&'static str, Vec<Slot>)>,
    pub(super) by_first: HashMap<&'static str, Vec<usize>>,
}

pub(super) static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let slot = |s: &'static str| match s.strip_prefix('~') {
        _ if s == "$" => Slot::End,
        _ if s == "^" => Slot::Start,
        Some(n) => Slot::Gap(n.parse().unwrap_or(0)),
        None => {
            let (s, optional) = s.strip_suffix('?').map_or((s, false), |s| (s, true));
            let words = if s.starts_with('@') { shared_list(s) } else { s };
            Slot::Words(words.split(['|', ' ']).collect(), optional)
        }
    };
    let rules: Vec<(&str, Vec<Slot>)> =
        RULES.iter().map(|&(name, src)| (name, src.split(' ').map(slot).collect())).collect();
    let mut by_first: HashMap<&str, Vec<usize>> = HashMap::new();
    for (r, (_, slots)) in rules.iter().enumerate() {
        // Every rule starts (after an optional `^`) with required words; a test checks it.
        if let Some(Slot::Words(words, false)) = slots.iter().find(|s| !matches!(s, Slot::Start)) {
            words.iter().for_each(|w| by_first.entry(*w).or_default().push(r));
        }
    }
    Compiled { rules, by_first }
});

fn match_at(tokens: &[&str], i: usize, slots: &[Slot]) -> bool {
    let Some((slot, rest)) = slots.split_first() else {
        return true;
    };
    match slot {
        Slot::Words(set, optional) => {
            (tokens.get(i).is_some_and(|t| set.contains(t)) && match_at(tokens, i + 1, rest))
                || (*optional && match_at(tokens, i, rest))
        }
        Slot::Gap(n) => (0..=*n).any(|k| i + k <= tokens.len() && match_at(tokens, i + k, rest)),
        Slot::Start => i == 0 && match_at(tokens, i, rest),
        Slot::End => i == tokens.len(),
    }
}

fn tokens(lower: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in lower.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|t| !t.is_empty()) {
        match (out.last_mut(), t) {
            (Some(last @ &mut ("do" | "don")), "not" | "t") => *last = "dont",
            (Some(&mut "you"), "re") => out.push("are"),
            _ => out.push(t),
        }
    }
    out
}

pub(super) fn instruction_pattern(sentence: &str) -> Option<&'static str> {
    let lower = sentence.to_lowercase();
    let toks = tokens(&lower);
    let c = &*COMPILED;
    // The earliest rule in RULES that matches anywhere names the finding.
    let mut best: Option<usize> = None;
    for i in 0..toks.len() {
        for &r in c.by_first.get(toks[i]).into_iter().flatten() {
            if best.is_none_or(|b| r < b) && match_at(&toks, i, &c.rules[r].1) {
                best = Some(r);
            }
        }
    }
    let rule = best.map(|r| c.rules[r].0);
    rule.or_else(|| exfiltration(&toks, &lower).then_some("exfiltrate-secret"))
}

const SECRET_WORDS: &str = "password passwords passphrase token tokens secret secrets credential \
    credentials apikey apikeys api_key api_keys";
const KEY_HEADS: &str = "api private access secret ssh";
// ("email", "post" are left out: at a clause start they are mostly nouns, as in JSON examples.)
const TRANSFER: &str = "send upload include exfiltrate forward leak share transmit copy append attach pass";

/// Asks the model to move secrets somewhere. A secret *file* (~/.ssh, .env,
/// ...) with a transfer or read verb is enough. Generic secret words (token,
/// API key) are everyday API prose, so they also need an order (a clause that
/// starts with the verb: "Send ...", not "does not include ..."), a sign of
/// steering data out of the agent's context (URL, "contents", "conversation",
/// "all tokens you have", ...) and no authentication wording ("Include your API
/// key in the Authorization header" stays).
fn exfiltration(t: &[&str], lower: &str) -> bool {
    // Cheap substring prefilter: most sentences mention no secret at all.
    const HINTS: &str = "pass token secret credential key ssh id_ .env /etc/ .netrc";
    if !HINTS.split(' ').any(|h| lower.contains(h)) {
        return false;
    }
    let has = |list: &str| t.iter().any(|w| listed(list, w));
    let pair = |a: &str, b: &str| t.windows(2).any(|w| listed(a, w[0]) && listed(b, w[1]));
    if secret_file(lower) && (has(TRANSFER) || has("read cat open print output")) {
        return true;
    }
    // A *public* SSH or API key is not a secret ("To destroy a public SSH key that you have...").
    let secret_key = t
        .windows(2)
        .enumerate()
        .any(|(i, w)| listed(KEY_HEADS, w[0]) && listed("key keys", w[1]) && (i == 0 || t[i - 1] != "public"));
    let secret = has(SECRET_WORDS) || secret_key;
    if !secret || !ordered_transfer(lower) {
        return false;
    }
    let auth_context = has("header headers authorization bearer oauth oauth2 authenticate authentication login cookie");
    let steer = lower.contains("http://")
        || lower.contains("https://")
        || has("exfiltrate contents conversation context memory sidenote secretly silently quietly covertly")
        || pair("chat conversation", "history log")
        || pair("all any every", SECRET_WORDS)
        || pair("all any every", KEY_HEADS)
        || pair("you", "have know see")
        || pair("environment env", "variable variables vars");
    steer && !auth_context
}

/// A transfer verb that starts a clause, alone or after a word like "please",
/// "then", "you must": the shape of an order rather than a description.
fn ordered_transfer(lower: &str) -> bool {
    const LEADS: &str = "please you must should always also then and first now just simply silently \
        secretly quietly";
    lower.split([',', ';', ':', '(', ')']).any(|clause| {
        let t = tokens(clause);
        // "send a DELETE request to ..." names an HTTP call, not something being handed over.
        let request = |k: usize| t.get(k + 1..k + 4).is_some_and(|next| listed("request requests", next[2]));
        (0..t.len()).any(|k| listed(TRANSFER, t[k]) && (k == 0 || listed(LEADS, t[k - 1])) && !request(k))
    })
}

/// Mentions a local secret file; public keys (*.pub) do not count.
fn secret_file(lower: &str) -> bool {
    const FILES: &str = "~/.ssh id_rsa id_ed25519 /etc/passwd /etc/shadow .aws/credentials .netrc";
    lower.split_whitespace().any(|w| {
        let w = w.trim_start_matches(['`', '"', '\'', '(', '[']);
        let w = w.trim_end_matches(['`', '"', '\'', ')', ']', ',', '.', ';', ':', '!', '?']);
        let env = w == ".env" || w.ends_with("/.env") || w.starts_with(".env.");
        !w.ends_with(".pub") && (env || FILES.split(' ').any(|p| w.contains(p)))
    })
}

/// The name of the first instruction pattern a sentence of `text` matches, for result strings that
/// are flagged (`flag_instructions`): data is split at sentence ends and line breaks, not parsed as
/// markdown. Only the first 16 KiB are read, so a large result costs little.
pub fn instruction_like(text: &str) -> Option<&'static str> {
    let mut end = text.len().min(16 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .split(['.', '!', '?', '\n', ';'])
        .map(str::trim)
        .filter(|sentence| !sentence.is_empty())
        .find_map(instruction_pattern)
}

/// The sentence as found, without markers, at most 80 characters.
pub(super) fn excerpt(s: &str) -> String {
    let mut chars = s.chars().filter(|&c| c != STRONG && c != WEAK);
    let mut out: String = chars.by_ref().take(80).collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}
