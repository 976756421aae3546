//! The `search_tools` index: BM25 over weighted fields of each tool (name, summary, tags, path
//! segments, parameter names, description), English stemming (Snowball, `rust-stemmers`), and a
//! synonym table derived from the spec itself: abbreviations that path segments and tags use for
//! words of the summaries (`repos` ↔ `repository`, `orgs` ↔ `organization`) and acronyms of frequent
//! word pairs (`pr` ↔ `pull request`). A small, API-independent table maps the verbs people use to
//! the HTTP methods that do it. Built once per catalogue, pure and deterministic: ties are broken by
//! catalogue order.

use std::collections::{BTreeMap, HashMap};

use rust_stemmers::{Algorithm, Stemmer};

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation.
const B: f32 = 0.75;
/// Weight of a synonym relative to the word the user typed.
const SYNONYM_WEIGHT: f32 = 0.6;
/// Weight of a word's exact form, on top of its stem.
const EXACT_FORM_WEIGHT: f32 = 0.3;
/// Weight of the HTTP-method token a verb implies.
const METHOD_WEIGHT: f32 = 0.8;

/// Words that say nothing about which operation is meant.
const STOPWORDS: &str = "a an the on in of for to my me i and or with by from into at as is are be do does \
    can could would should will how what which where when who please this that these those it its via using \
    some any one about our your their want need let lets we you just";

/// Verbs people use, grouped by the HTTP method(s) that usually do it (API-independent). The first
/// word of each group is added to the query as a synonym too, because specs mostly use it.
const VERB_GROUPS: &[(&str, &[&str], &[&str])] = &[
    ("create", &["post"], &["add", "new", "make", "open", "submit", "leave", "write", "start", "register", "post"]),
    ("delete", &["delete"], &["remove", "destroy", "erase", "drop", "unset", "purge", "del", "rm"]),
    ("update", &["patch", "put"], &["edit", "change", "modify", "alter", "rename", "set", "patch", "tweak"]),
    ("list", &["get"], &["all", "enumerate", "browse", "every", "show", "see", "which"]),
    ("get", &["get"], &["fetch", "retrieve", "read", "view", "look", "lookup", "detail", "details", "info", "show"]),
];

/// What the index knows about one tool.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub name: String,
    /// `METHOD /path`.
    pub call: String,
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
    pub summary: String,
    pub description: String,
    pub tags: Vec<String>,
    pub parameters: Vec<String>,
}

/// One ranked hit: the position of the document given to [`Index::build`], and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub document: usize,
    pub score: f32,
}

pub struct Index {
    stemmer: Stemmer,
    /// term → (document, weighted term frequency), documents ascending.
    postings: HashMap<String, Vec<(u32, f32)>>,
    lengths: Vec<f32>,
    average_length: f32,
    /// stemmed term → stemmed synonyms (each a sequence of terms: an acronym expands to two).
    synonyms: BTreeMap<String, Vec<Vec<String>>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("documents", &self.lengths.len())
            .field("terms", &self.postings.len())
            .field("synonyms", &self.synonyms)
            .finish()
    }
}

/// Splits text into lowercase words: on anything not alphanumeric, and between camelCase humps.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c.is_alphanumeric() {
            let hump = c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            if hump && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        previous = Some(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn is_stopword(word: &str) -> bool {
    STOPWORDS.split_ascii_whitespace().any(|stop| stop == word)
}

impl Index {
    pub fn build(documents: &[Document]) -> Index {
        let stemmer = Stemmer::create(Algorithm::English);
        let stem = |word: &str| stemmer.stem(word).into_owned();
        let mut postings: HashMap<String, Vec<(u32, f32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(documents.len());
        // For the derived synonyms: in which documents each raw word of the prose occurs, and which
        // stems the structural fields (path segments, tags) use.
        let mut prose_words: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut structural: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (position, document) in documents.iter().enumerate() {
            let position = position as u32;
            let mut weights: BTreeMap<String, f32> = BTreeMap::new();
            let mut length = 0.0;
            let mut add = |text: &str, weight: f32, weights: &mut BTreeMap<String, f32>| {
                for word in words(text) {
                    if is_stopword(&word) {
                        continue;
                    }
                    *weights.entry(stem(&word)).or_default() += weight;
                    // The exact form counts a little more: "comment" is nearer "create a comment"
                    // than "list comments".
                    *weights.entry(format!("={word}")).or_default() += weight * EXACT_FORM_WEIGHT;
                    length += weight;
                }
            };
            // The name comes from the operationId, so only one of them counts. Without a summary
            // (Stripe writes none), the description's first sentence is the summary.
            add(&document.name, 1.5, &mut weights);
            let summary = if document.summary.trim().is_empty() {
                first_sentence(&document.description)
            } else {
                document.summary.as_str()
            };
            add(summary, 2.5, &mut weights);
            add(&document.description, 0.5, &mut weights);
            for tag in &document.tags {
                add(tag, 1.0, &mut weights);
            }
            let segments: Vec<&str> =
                document.path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
            for segment in &segments {
                add(segment, 1.0, &mut weights);
            }
            for parameter in &document.parameters {
                add(parameter, 0.3, &mut weights);
            }
            *weights.entry(method_term(&document.method)).or_default() += 1.0;
            for (term, weight) in weights {
                postings.entry(term).or_default().push((position, weight));
            }
            lengths.push(length);

            let prose: Vec<String> = words(&format!("{} {}", document.summary, document.description));
            for word in &prose {
                let entry = prose_words.entry(word.clone()).or_default();
                if entry.last() != Some(&position) {
                    entry.push(position);
                }
            }
            for pair in prose.windows(2) {
                if pair.iter().all(|w| w.len() >= 3 && !is_stopword(w) && w.chars().all(char::is_alphabetic)) {
                    *pairs.entry((stem(&pair[0]), stem(&pair[1]))).or_default() += 1;
                }
            }
            for word in segments.iter().flat_map(|s| words(s)).chain(document.tags.iter().flat_map(|t| words(t))) {
                let entry = structural.entry(stem(&word)).or_default();
                if entry.last() != Some(&position) {
                    entry.push(position);
                }
            }
        }
        let average_length =
            if lengths.is_empty() { 1.0 } else { (lengths.iter().sum::<f32>() / lengths.len() as f32).max(1.0) };
        let synonyms = derive_synonyms(&stemmer, &prose_words, &structural, &pairs, &postings);
        Index { stemmer, postings, lengths, average_length, synonyms }
    }

    /// The synonym table derived from the spec (stemmed), for `check` and tests.
    pub fn synonyms(&self) -> &BTreeMap<String, Vec<Vec<String>>> {
        &self.synonyms
    }

    /// The weighted terms a query searches for: its own stems, their derived synonyms, the verbs'
    /// usual words and HTTP methods. Each term also says which of the user's words it stands for
    /// (a bit per word, for coverage); method tokens stand for none.
    fn query_terms(&self, query: &str) -> (BTreeMap<String, (f32, u64)>, usize) {
        let mut terms: BTreeMap<String, (f32, u64)> = BTreeMap::new();
        let mut add = |term: String, weight: f32, word_bit: u64| {
            let entry = terms.entry(term).or_default();
            entry.0 = entry.0.max(weight);
            entry.1 |= word_bit;
        };
        let mut counted = 0usize;
        let mut has_verb = false;
        for word in words(query) {
            if is_stopword(&word) {
                continue;
            }
            let bit = if counted < 64 { 1u64 << counted } else { 0 };
            counted += 1;
            let stemmed = self.stemmer.stem(&word).into_owned();
            for (canonical, methods, others) in VERB_GROUPS {
                if word == *canonical || others.contains(&word.as_str()) {
                    has_verb = true;
                    add(self.stemmer.stem(canonical).into_owned(), SYNONYM_WEIGHT, bit);
                    for (rank, method) in methods.iter().enumerate() {
                        add(method_term(method), METHOD_WEIGHT / (rank as f32 + 1.0), 0);
                    }
                }
            }
            if let Some(alternatives) = self.synonyms.get(&stemmed) {
                for alternative in alternatives {
                    for term in alternative {
                        add(term.clone(), SYNONYM_WEIGHT, bit);
                    }
                }
            }
            add(format!("={word}"), EXACT_FORM_WEIGHT, bit);
            add(stemmed, 1.0, bit);
        }
        // A request without any verb ("comment on an issue", "star a repo") asks for an action:
        // writes rank a little higher than reads.
        if !has_verb && counted > 0 {
            add(method_term("post"), METHOD_WEIGHT / 2.0, 0);
            add(method_term("put"), METHOD_WEIGHT / 4.0, 0);
        }
        (terms, counted.min(64))
    }

    /// The best `limit` documents for `query` among those `allowed` says may be shown, best first;
    /// equal scores keep document order. Documents that match nothing are not returned. A document
    /// that matches more of the user's words ranks higher (BM25 scaled by the square of the share
    /// of words matched, Lucene's "coordination"), so one rare word cannot outrank the whole request.
    pub fn search(&self, query: &str, limit: usize, allowed: impl Fn(usize) -> bool) -> Vec<Hit> {
        let documents = self.lengths.len();
        let mut scores = vec![0.0f32; documents];
        let mut matched = vec![0u64; documents];
        let (terms, words) = self.query_terms(query);
        for (term, (query_weight, word_bits)) in terms {
            let Some(postings) = self.postings.get(&term) else { continue };
            let df = postings.len() as f32;
            let idf = ((documents as f32 - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(document, tf) in postings {
                let length = self.lengths[document as usize];
                let norm = K1 * (1.0 - B + B * length / self.average_length);
                scores[document as usize] += query_weight * idf * tf * (K1 + 1.0) / (tf + norm);
                matched[document as usize] |= word_bits;
            }
        }
        if words > 0 {
            for (score, bits) in scores.iter_mut().zip(&matched) {
                let coverage = bits.count_ones() as f32 / words as f32;
                *score *= coverage * coverage;
            }
        }
        let mut hits: Vec<Hit> = scores
            .iter()
            .enumerate()
            .filter(|(document, score)| **score > 0.0 && allowed(*document))
            .map(|(document, score)| Hit { document, score: *score })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.document.cmp(&b.document)));
        hits.truncate(limit);
        hits
    }
}

fn first_sentence(text: &str) -> &str {
    text.split_inclusive(". ").next().unwrap_or(text)
}

fn method_term(method: &str) -> String {
    format!("_{}", method.to_ascii_lowercase())
}

/// Synonyms the spec itself implies:
/// - an abbreviation used in paths or tags for a longer word of the prose that mostly occurs in the
///   same operations (`repos` ↔ `repository`);
/// - the acronym of a frequent word pair, when the acronym is not already a word of the spec
///   (`pr` → `pull request`).
fn derive_synonyms(
    stemmer: &Stemmer,
    prose_words: &BTreeMap<String, Vec<u32>>,
    structural: &BTreeMap<String, Vec<u32>>,
    pairs: &BTreeMap<(String, String), usize>,
    postings: &HashMap<String, Vec<(u32, f32)>>,
) -> BTreeMap<String, Vec<Vec<String>>> {
    let stem = |word: &str| stemmer.stem(word).into_owned();
    let mut synonyms: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut link = |from: String, to: Vec<String>| {
        if to.len() == 1 && to[0] == from {
            return;
        }
        let entry = synonyms.entry(from).or_default();
        if !entry.contains(&to) {
            entry.push(to);
        }
    };
    for (short, short_documents) in structural {
        if short.len() < 2 || short_documents.len() < 2 {
            continue;
        }
        for (long, long_documents) in prose_words.range(short.clone()..) {
            if !long.starts_with(short.as_str()) {
                break;
            }
            let long_stem = stem(long);
            if long.len() < short.len() + 3 || long_stem == *short || long_documents.len() < 2 {
                continue;
            }
            let shared = long_documents.iter().filter(|d| short_documents.binary_search(d).is_ok()).count();
            if shared * 2 >= long_documents.len() && shared >= 2 {
                link(short.clone(), vec![long_stem.clone()]);
                link(long_stem, vec![short.clone()]);
            }
        }
    }
    // An acronym may stand for several frequent pairs (`pr`: pull request, private repository):
    // each is a synonym, and the rest of the query decides.
    for (pair, count) in pairs {
        if *count < 3 {
            continue;
        }
        let acronym: String = pair.0.chars().take(1).chain(pair.1.chars().take(1)).collect();
        if is_stopword(&acronym) || postings.contains_key(&stem(&acronym)) {
            continue;
        }
        link(stem(&acronym), vec![pair.0.clone(), pair.1.clone()]);
    }
    synonyms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(name: &str, method: &str, path: &str, summary: &str, tags: &[&str]) -> Document {
        Document {
            name: name.into(),
            call: format!("{} {path}", method.to_uppercase()),
            method: method.into(),
            path: path.into(),
            operation_id: None,
            summary: summary.into(),
            description: String::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            parameters: Vec::new(),
        }
    }

    fn corpus() -> Vec<Document> {
        vec![
            document(
                "issues_list_comments",
                "get",
                "/repos/{owner}/{repo}/issues/{n}/comments",
                "List issue comments",
                &["issues"],
            ),
            document(
                "issues_create_comment",
                "post",
                "/repos/{owner}/{repo}/issues/{n}/comments",
                "Create an issue comment",
                &["issues"],
            ),
            document("repos_get", "get", "/repos/{owner}/{repo}", "Get a repository", &["repos"]),
            document("repos_delete", "delete", "/repos/{owner}/{repo}", "Delete a repository", &["repos"]),
            document("repos_list_for_org", "get", "/orgs/{org}/repos", "List organization repositories", &["repos"]),
            document("pulls_create", "post", "/repos/{owner}/{repo}/pulls", "Create a pull request", &["pulls"]),
            document("pulls_list", "get", "/repos/{owner}/{repo}/pulls", "List pull requests", &["pulls"]),
            document("pulls_merge", "put", "/repos/{owner}/{repo}/pulls/{n}/merge", "Merge a pull request", &["pulls"]),
        ]
    }

    fn top(index: &Index, query: &str) -> usize {
        index.search(query, 1, |_| true)[0].document
    }

    #[test]
    fn words_split_case_and_punctuation() {
        assert_eq!(words("issues/create-comment"), ["issues", "create", "comment"]);
        assert_eq!(words("PostCustomersCustomer"), ["post", "customers", "customer"]);
        assert_eq!(words("pull_number"), ["pull", "number"]);
    }

    #[test]
    fn users_words_find_the_specs_words() {
        let index = Index::build(&corpus());
        assert_eq!(top(&index, "comment on an issue"), 1);
        assert_eq!(top(&index, "add a comment to an issue"), 1);
        assert_eq!(top(&index, "show comments of an issue"), 0);
        assert_eq!(top(&index, "remove a repo"), 3);
        assert_eq!(top(&index, "open a PR"), 5);
        assert_eq!(top(&index, "merge PR"), 7);
    }

    #[test]
    fn synonyms_come_from_the_spec() {
        let index = Index::build(&corpus());
        let synonyms = index.synonyms();
        assert!(synonyms.get("repo").is_some_and(|s| s.contains(&vec!["repositori".to_string()])), "{synonyms:?}");
        assert!(synonyms.get("pr").is_some_and(|s| s.contains(&vec!["pull".to_string(), "request".to_string()])));
    }

    #[test]
    fn search_is_deterministic_and_respects_the_filter() {
        let index = Index::build(&corpus());
        let first = index.search("repository", 10, |_| true);
        assert_eq!(first, Index::build(&corpus()).search("repository", 10, |_| true));
        let filtered = index.search("repository", 10, |document| document != 2);
        assert!(filtered.iter().all(|hit| hit.document != 2));
        assert!(index.search("zebra", 5, |_| true).is_empty());
    }
}
