//! The `search_tools` index: BM25 over weighted fields of each tool (name, summary, tags, path
//! segments, parameter names, description), English stemming (Snowball, `rust-stemmers`), and a
//! synonym table derived from the spec itself: abbreviations that path segments and tags use for
//! words of the summaries (`repos` ↔ `repository`, `orgs` ↔ `organization`) and acronyms of frequent
//! word pairs (`pr` ↔ `pull request`), the verbs its titles begin with, and the compounds it writes
//! as one word (`setup`). Small, API-independent tables map the verbs people use to the HTTP
//! methods that do it, and a few everyday words to API words. The best BM25 hits are reranked by
//! how much of each tool's title and path the request accounts for (a root path segment that only
//! the caller's own tools use, GitHub's `/user`, counts as named by "my"), whether its title's
//! verb, method and path shape fit the request's verb (a noun used as the verb, "charge a card",
//! asks for the write whose path ends in it; "by id" for an item), and whether the request names
//! the scopes its path is nested in (see `specs/discovery-mode.md`). Built once per catalogue,
//! pure and deterministic: ties are broken by catalogue order.

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
/// Weight of an indexed stem that shares a long prefix with the user's word ("contributed" finds
/// "contributors", "subscribe" finds "subscription"), when stemming alone leaves them apart.
const PREFIX_WEIGHT: f32 = 0.5;
/// Weight of the words APIs use for "the caller" when the user says "my", "me" or "I".
const SELF_WEIGHT: f32 = 0.7;
/// How many of the best BM25 hits the rerank looks at.
const RERANK_DEPTH: usize = 40;
/// Rerank: weight of the share of a tool's title that the request accounts for.
const TITLE_PRECISION_WEIGHT: f32 = 1.0;
/// Rerank: weight of the share of a tool's path (its literal segments) that the request accounts for.
const PATH_PRECISION_WEIGHT: f32 = 1.0;
/// Rerank: bonus for a path whose shape fits the verb (a collection to create in or list, an
/// item to change or delete).
const SHAPE_BONUS: f32 = 0.2;
/// Rerank: share of the score a tool loses when its title begins with another action than the
/// request's verb.
const OTHER_ACTION_PENALTY: f32 = 0.3;
/// Rerank: bonus for a write whose path ends in the noun the request uses as its verb.
const DENOMINAL_BONUS: f32 = 0.5;
/// Rerank: share of the score a tool loses per scope of its path the request does not name.
const SCOPE_PENALTY: f32 = 0.2;
/// Rerank: penalty per path segment (the more general operation first when the words tie).
const SEGMENT_PENALTY: f32 = 0.1;

/// Words by which users mean themselves, and the words APIs use in names and paths for the
/// authenticated caller (API-independent).
const SELF_WORDS: &[&str] = &["my", "me", "i", "mine", "myself", "own"];
const SELF_TERMS: &[&str] = &["authenticated", "current", "me", "myself", "viewer", "mine"];

/// Words that stand for an argument rather than name what it is ("assign someone", "who starred"),
/// and the words APIs use for such a person (API-independent): an optional bonus, like the self
/// words, never a word a tool must match.
const PLACEHOLDER_WORDS: &[&str] =
    &["someone", "somebody", "anyone", "anybody", "everyone", "everybody", "who", "whom"];
const PLACEHOLDER_TERMS: &[&str] = &["user", "member", "people"];

/// Words that stand for an item's identifier ("look up a customer by id") rather than name a
/// thing to match: they ask for one item (a path ending in a parameter), never a word to match.
const ITEM_WORDS: &[&str] = &["id", "identifier", "uuid"];

/// Everyday words and the words APIs use for the same thing (API-independent): each user word
/// adds the API words as synonyms.
const EVERYDAY_WORDS: &[(&str, &[&str])] = &[
    ("person", &["user", "member"]),
    ("people", &["user", "member"]),
    ("logged", &["authenticated"]),
    ("login", &["authenticated"]),
    ("signed", &["authenticated"]),
    ("id", &["identifier"]),
    ("bug", &["issue"]),
    ("ticket", &["issue"]),
];

/// Everyday words whose own stem means something else in APIs ("logged in" is not about logs):
/// their own stem counts as a synonym only, and their API words count fully.
const AMBIGUOUS_WORDS: &[&str] = &["logged", "signed"];

/// Words that say nothing about which operation is meant.
const STOPWORDS: &str = "a an the on in of for to my me i and or with by from into at as is are be do does \
    can could would should will how what which where when who please this that these those it its via using \
    some any one about our your their want need let lets we you just up out there am was were been has have \
    had did so";

/// Verbs people use, grouped by the HTTP method(s) that usually do it (API-independent). The first
/// word of each group is added to the query as a synonym too, because specs mostly use it.
const VERB_GROUPS: &[(&str, &[&str], &[&str])] = &[
    (
        "create",
        &["post"],
        &["add", "new", "make", "open", "submit", "leave", "write", "start", "register", "post", "give", "grant"],
    ),
    ("delete", &["delete"], &["remove", "destroy", "erase", "drop", "unset", "purge", "del", "rm", "kick", "revoke"]),
    ("update", &["patch", "put"], &["edit", "change", "modify", "alter", "rename", "set", "patch", "tweak"]),
    ("list", &["get"], &["all", "enumerate", "browse", "every", "show", "see", "which"]),
    ("get", &["get"], &["fetch", "retrieve", "read", "view", "look", "lookup", "detail", "details", "info", "show"]),
    ("search", &["get"], &["find", "locate"]),
];

/// What a request searches for.
struct QueryTerms {
    /// Weighted terms (stems, synonyms, exact forms `=word`, method tokens `_post`), each with
    /// the bits of the user's words it stands for.
    terms: BTreeMap<String, (f32, u64)>,
    /// How many of the user's words count for coverage.
    words: usize,
    /// The action the request's verb asks for (a `VERB_GROUPS` canonical word).
    intent: Option<&'static str>,
    /// The request's first word and its stem, when that may be a noun used as a verb.
    denominal: Option<(String, String)>,
    /// Whether the request asks for one item by its identifier ("by id").
    names_item: bool,
    /// Whether the request says "my", "me" or "I".
    names_self: bool,
}

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
    /// Per document: the stems of its title (summary, or the description's first sentence), sorted
    /// and deduplicated, for the rerank's precision (how much of the title the request accounts for).
    titles: Vec<Vec<String>>,
    /// Per document: the stems of its path's literal segments, sorted and deduplicated, without
    /// those most paths share (`v1`, GitHub's `repos`), for the rerank's path precision.
    path_words: Vec<Vec<String>>,
    /// Per document: the action its title begins with (the canonical word of a `VERB_GROUPS`
    /// group: "Updates the webhook endpoint" → `update`), when it begins with one.
    title_verbs: Vec<Option<&'static str>>,
    /// Per document: its HTTP method, lower-case.
    methods: Vec<String>,
    /// Per document: the number of path segments, and whether the path ends in a parameter (an item
    /// rather than a collection).
    shapes: Vec<(u8, bool)>,
    /// Per document: the words of its path's last literal segment as written and their stems
    /// (`/issues/{n}/assignees` → `assignees`, `assigne`), for a request that uses that noun as its
    /// verb ("assign someone to an issue").
    last_segments: Vec<(Vec<String>, Vec<String>)>,
    /// Per document: the scopes its path is nested in, each the stems of a literal segment that a
    /// parameter follows and that is not the last (`/customers/{c}/subscriptions` → `[[custom]]`),
    /// without those in more than a third of all paths (GitHub's `repos`).
    scopes: Vec<Vec<Vec<String>>>,
    /// Per document: the stems of its path segments that stand for the caller (GitHub's `/user`),
    /// which a request saying "my" accounts for.
    self_segments: Vec<Vec<String>>,
    /// All indexed stems, sorted, for the prefix fallback ("contributed" → "contributor").
    vocabulary: Vec<String>,
    /// Per verb group (in `VERB_GROUPS` order): the stems of the group's words that this spec uses
    /// to begin its titles ("Remove an organization member", "Retrieves a customer"), so a
    /// request's verb finds the spec's own verb for the same action.
    spec_verbs: Vec<Vec<String>>,
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
        let mut titles = Vec::with_capacity(documents.len());
        let mut path_words = Vec::with_capacity(documents.len());
        let mut title_verbs = Vec::with_capacity(documents.len());
        // How many titles each stem begins: the verbs this spec uses.
        let mut leading_words: BTreeMap<String, usize> = BTreeMap::new();
        let mut shapes = Vec::with_capacity(documents.len());
        let mut last_segments = Vec::with_capacity(documents.len());
        let mut scopes = Vec::with_capacity(documents.len());
        // Per root path word (as written): in how many tools, and in how many of those the title
        // or name is about the caller; per tool, its root path words.
        let mut segment_use: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut segment_forms: Vec<Vec<String>> = Vec::with_capacity(documents.len());
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
            let mut title: Vec<String> = words(summary).iter().filter(|w| !is_stopword(w)).map(|w| stem(w)).collect();
            // The title's very first word ("You can see a list" begins with no verb).
            let leading = words(summary).first().map(|word| stem(word));
            if let Some(leading) = &leading {
                *leading_words.entry(leading.clone()).or_default() += 1;
            }
            title_verbs.push(leading.and_then(|leading| {
                VERB_GROUPS
                    .iter()
                    .find(|(canonical, _, others)| {
                        std::iter::once(canonical).chain(others.iter()).any(|word| stem(word) == leading)
                    })
                    .map(|(canonical, _, _)| *canonical)
            }));
            title.sort();
            title.dedup();
            titles.push(title);
            let segments_all: Vec<&str> = document.path.split('/').filter(|s| !s.is_empty()).collect();
            shapes.push((
                segments_all.len().min(u8::MAX as usize) as u8,
                segments_all.last().is_some_and(|s| s.starts_with('{')),
            ));
            add(&document.description, 0.5, &mut weights);
            for tag in &document.tags {
                add(tag, 1.0, &mut weights);
            }
            let segments: Vec<&str> =
                document.path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
            for segment in &segments {
                add(segment, 1.0, &mut weights);
            }
            let mut path_stems: Vec<String> = segments.iter().flat_map(|s| words(s)).map(|w| stem(&w)).collect();
            path_stems.sort();
            path_stems.dedup();
            path_words.push(path_stems);
            let literal = |segment: &str| !segment.starts_with('{');
            let last_literal = segments_all.iter().rposition(|s| literal(s));
            let about_self =
                words(summary).iter().chain(words(&document.name).iter()).any(|w| SELF_TERMS.contains(&w.as_str()));
            // The root segment only: where an API puts the caller's own tree (`/user/...`).
            let mut forms: Vec<String> = segments.iter().take(1).flat_map(|s| words(s)).collect();
            forms.sort();
            forms.dedup();
            for form in &forms {
                let entry = segment_use.entry(form.clone()).or_default();
                entry.0 += 1;
                entry.1 += usize::from(about_self);
            }
            segment_forms.push(forms);
            let last_words = last_literal.map(|at| words(segments_all[at])).unwrap_or_default();
            let last_stems = last_words.iter().map(|w| stem(w)).collect();
            last_segments.push((last_words, last_stems));
            scopes.push(
                segments_all
                    .windows(2)
                    .enumerate()
                    .filter(|(at, pair)| literal(pair[0]) && !literal(pair[1]) && Some(*at) != last_literal)
                    .map(|(_, pair)| words(pair[0]).iter().map(|w| stem(w)).collect::<Vec<String>>())
                    .collect::<Vec<_>>(),
            );
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
        let mut vocabulary: Vec<String> =
            postings.keys().filter(|t| !t.starts_with('=') && !t.starts_with('_')).cloned().collect();
        vocabulary.sort();
        let spec_verbs = spec_verbs(&stemmer, documents.len(), &leading_words);
        // A root path word (as written: GitHub's `user`, not `users`) that at least three tools
        // use, three quarters of them about the caller, stands for the caller.
        let self_segments: Vec<Vec<String>> = segment_forms
            .iter()
            .map(|forms| {
                forms
                    .iter()
                    .filter(|form| segment_use.get(*form).is_some_and(|(all, own)| *all >= 3 && own * 4 >= *all * 3))
                    .map(|form| stem(form))
                    .collect()
            })
            .collect();
        // A segment word in more than a third of the paths says nothing about the operation.
        let specific = |word: &String| structural.get(word).is_some_and(|d| d.len() * 3 <= documents.len());
        for words in &mut path_words {
            words.retain(specific);
        }
        for scopes in &mut scopes {
            scopes.retain(|scope| scope.iter().all(specific));
        }
        Index {
            stemmer,
            postings,
            lengths,
            average_length,
            synonyms,
            titles,
            path_words,
            title_verbs,
            methods: documents.iter().map(|d| d.method.to_ascii_lowercase()).collect(),
            shapes,
            last_segments,
            scopes,
            self_segments,
            vocabulary,
            spec_verbs,
        }
    }

    /// The synonym table derived from the spec (stemmed), for `check` and tests.
    pub fn synonyms(&self) -> &BTreeMap<String, Vec<Vec<String>>> {
        &self.synonyms
    }

    /// The weighted terms a query searches for: its own stems, their derived synonyms, the verbs'
    /// usual words and HTTP methods. Each term also says which of the user's words it stands for
    /// (a bit per word, for coverage); method tokens stand for none.
    fn query_terms(&self, query: &str) -> QueryTerms {
        let mut terms: BTreeMap<String, (f32, u64)> = BTreeMap::new();
        let mut add = |term: String, weight: f32, word_bit: u64| {
            let entry = terms.entry(term).or_default();
            entry.0 = entry.0.max(weight);
            entry.1 |= word_bit;
        };
        let mut counted = 0usize;
        let mut has_verb = false;
        let mut intent: Option<&'static str> = None;
        let mut names_item = false;
        let mut names_self = false;
        let joined = self.join_compounds(words(query));
        // The request's first word, when it is no verb people usually say and no plural: perhaps
        // the operation's own noun used as a verb ("charge a card", "assign someone").
        let denominal = joined.first().filter(|word| {
            !is_stopword(word)
                && !SELF_WORDS.contains(&word.as_str())
                && !PLACEHOLDER_WORDS.contains(&word.as_str())
                && !VERB_GROUPS
                    .iter()
                    .any(|(canonical, _, others)| canonical == *word || others.contains(&word.as_str()))
                && (!word.ends_with('s') || word.ends_with("ss"))
        });
        let denominal = denominal.map(|word| (word.clone(), self.stemmer.stem(word).into_owned()));
        // The user's counted words in order, with their bits, for acronyms of consecutive words.
        let mut counted_words: Vec<(String, u64)> = Vec::new();
        for word in joined {
            if SELF_WORDS.contains(&word.as_str()) {
                names_self = true;
                // An optional bonus, not one of the words a tool must match.
                for term in SELF_TERMS {
                    add(self.stemmer.stem(term).into_owned(), SELF_WEIGHT, 0);
                }
                continue;
            }
            if ITEM_WORDS.contains(&word.as_str()) {
                // "a customer by id": one item, whatever its identifier is called.
                names_item = true;
                continue;
            }
            if PLACEHOLDER_WORDS.contains(&word.as_str()) {
                for term in PLACEHOLDER_TERMS {
                    add(self.stemmer.stem(term).into_owned(), SYNONYM_WEIGHT, 0);
                }
                continue;
            }
            if is_stopword(&word) {
                continue;
            }
            let bit = if counted < 64 { 1u64 << counted } else { 0 };
            counted += 1;
            counted_words.push((word.clone(), bit));
            let stemmed = self.stemmer.stem(&word).into_owned();
            // A verb with "re" in front that the spec never uses stands for the verb again
            // ("redeploy my app" → `deployments`), as long as the rest is a word of the spec.
            if let Some(rest) = word.strip_prefix("re").filter(|rest| rest.len() >= 4) {
                let rest = self.stemmer.stem(rest).into_owned();
                if !self.postings.contains_key(&stemmed) && self.postings.contains_key(&rest) {
                    add(rest, SYNONYM_WEIGHT, bit);
                }
            }
            for ((canonical, methods, others), spec_verbs) in VERB_GROUPS.iter().zip(&self.spec_verbs) {
                if word == *canonical || others.contains(&word.as_str()) {
                    has_verb = true;
                    intent.get_or_insert(canonical);
                    add(self.stemmer.stem(canonical).into_owned(), SYNONYM_WEIGHT, bit);
                    for verb in spec_verbs {
                        add(verb.clone(), SYNONYM_WEIGHT, bit);
                    }
                    for (rank, method) in methods.iter().enumerate() {
                        add(method_term(method), METHOD_WEIGHT / (rank as f32 + 1.0), 0);
                    }
                }
            }
            let ambiguous = AMBIGUOUS_WORDS.contains(&word.as_str());
            for (everyday, api_words) in EVERYDAY_WORDS {
                // "bugs" as well as "bug".
                if word == *everyday || stemmed == self.stemmer.stem(everyday) {
                    for api_word in *api_words {
                        let weight = if ambiguous { 1.0 } else { SYNONYM_WEIGHT };
                        add(self.stemmer.stem(api_word).into_owned(), weight, bit);
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
            for related in self.sharing_prefix(&stemmed) {
                add(related.clone(), PREFIX_WEIGHT, bit);
            }
            add(format!("={word}"), EXACT_FORM_WEIGHT, bit);
            add(stemmed, if ambiguous { SYNONYM_WEIGHT } else { 1.0 }, bit);
        }
        // Two consecutive words whose initials the spec writes as a word of its own stand for it
        // ("direct message" → `dm`, "pull request" → `pr`), whether or not the spec spells it out.
        for pair in counted_words.windows(2) {
            let initials: String = pair.iter().filter_map(|(word, _)| word.chars().next()).collect();
            if initials.chars().all(char::is_alphabetic) && self.postings.contains_key(&format!("={initials}")) {
                add(self.stemmer.stem(&initials).into_owned(), SYNONYM_WEIGHT, pair[0].1 | pair[1].1);
            }
        }
        // A request without any verb ("comment on an issue", "star a repo") asks for an action:
        // writes rank a little higher than reads.
        if !has_verb && counted > 0 {
            add(method_term("post"), METHOD_WEIGHT / 2.0, 0);
            add(method_term("put"), METHOD_WEIGHT / 4.0, 0);
        }
        QueryTerms { terms, words: counted.min(64), intent, denominal, names_item, names_self }
    }

    /// Two consecutive words of the request that the spec writes as one word become that word
    /// ("set up" → `setup`, "check out" → `checkout`, "web hook" → `webhook`), so the verb "set"
    /// does not stand for `update` there.
    fn join_compounds(&self, words: Vec<String>) -> Vec<String> {
        let mut joined = Vec::with_capacity(words.len());
        let mut index = 0;
        while index < words.len() {
            if let Some(next) = words.get(index + 1) {
                let compound = format!("{}{next}", words[index]);
                if self.postings.contains_key(&format!("={compound}")) {
                    joined.push(compound);
                    index += 2;
                    continue;
                }
            }
            joined.push(words[index].clone());
            index += 1;
        }
        joined
    }

    /// Indexed stems other than `stem` itself that share at least five characters and three
    /// quarters of the longer of the two from the start ("contribut" and "contributor",
    /// "subscrib" and "subscript"; not "invoic" and "invoiceitem").
    fn sharing_prefix<'a>(&'a self, stem: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        let head: &str = match stem.char_indices().nth(5) {
            Some((end, _)) => &stem[..end],
            None if stem.chars().count() == 5 => stem,
            None => "",
        };
        let start = if head.is_empty() {
            self.vocabulary.len()
        } else {
            self.vocabulary.partition_point(|t| t.as_str() < head)
        };
        self.vocabulary[start..]
            .iter()
            .take_while(move |t| !head.is_empty() && t.starts_with(head))
            .filter(move |t| {
                let shared = t.chars().zip(stem.chars()).take_while(|(a, b)| a == b).count();
                let longer = t.chars().count().max(stem.chars().count());
                t.as_str() != stem && shared * 4 >= longer * 3
            })
            .take(8)
    }

    /// The best `limit` documents for `query` among those `allowed` says may be shown, best first;
    /// equal scores keep document order. Documents that match nothing are not returned. A document
    /// that matches more of the user's words ranks higher (BM25 scaled by the square of the share
    /// of words matched, Lucene's "coordination"), so one rare word cannot outrank the whole request.
    pub fn search(&self, query: &str, limit: usize, allowed: impl Fn(usize) -> bool) -> Vec<Hit> {
        let documents = self.lengths.len();
        let mut scores = vec![0.0f32; documents];
        let mut matched = vec![0u64; documents];
        let QueryTerms { terms, words, intent, denominal, names_item, names_self } = self.query_terms(query);
        let terms_matched: Vec<String> =
            terms.keys().filter(|t| !t.starts_with('=') && !t.starts_with('_')).cloned().collect();
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
        let by_score = |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.document.cmp(&b.document));
        hits.sort_by(by_score);
        // Rerank the best few: a tool whose title the request fully accounts for ("Create a pull
        // request" for "open a PR") beats one with more words of its own ("Create a pull request
        // stack"), and among equals the shorter path (the general operation) comes first.
        hits.truncate(RERANK_DEPTH.max(limit));
        let query_stems: Vec<&str> = terms_matched.iter().map(String::as_str).collect();
        // A noun used as the verb ("charge a card", "assign someone to an issue") asks to create
        // or set that thing: the write whose path ends in it. The segment must hold another form
        // of the word ("charges", "assignees", "starred") or the word qualifying its noun
        // ("set up" → `setup_intents`): an action segment that ends in the word itself
        // (`/cancel`, `/force-cancel`) is found by the words alone.
        let names_noun =
            |document: usize| {
                denominal.as_ref().is_some_and(|(verb, verb_stem)| {
                    let writes = matches!(self.methods[document].as_str(), "post" | "put" | "patch");
                    let (forms, stems) = &self.last_segments[document];
                    writes
                        && forms.iter().zip(stems).enumerate().any(|(at, (form, stem))| {
                            related(stem, verb_stem) && (form != verb || at + 1 < forms.len())
                        })
                })
            };
        // When some write is named so, the request is that action, and no read.
        let acts = intent.is_none() && hits.iter().any(|hit| names_noun(hit.document));
        for hit in &mut hits {
            let title = &self.titles[hit.document];
            if !title.is_empty() {
                let covered = title.iter().filter(|t| query_stems.contains(&t.as_str())).count();
                hit.score *= 1.0 + TITLE_PRECISION_WEIGHT * covered as f32 / title.len() as f32;
            }
            // Likewise the path: `/v1/disputes/{d}/close` before `/v1/charges/{c}/dispute/close`
            // for "close a dispute".
            let path = &self.path_words[hit.document];
            if !path.is_empty() {
                // "my" accounts for the segment that stands for the caller (`/user/repos`).
                let own = &self.self_segments[hit.document];
                let covered = path
                    .iter()
                    .filter(|t| query_stems.contains(&t.as_str()) || (names_self && own.contains(t)))
                    .count();
                hit.score *= 1.0 + PATH_PRECISION_WEIGHT * covered as f32 / path.len() as f32;
            }
            let (segments, item) = self.shapes[hit.document];
            hit.score /= 1.0 + SEGMENT_PENALTY * segments as f32;
            // Creating and listing act on a collection (`POST /customers`), changing and deleting
            // on one item (`POST /customers/{id}`): the verb says which of the two is meant.
            let fits = match intent {
                Some("create" | "list") => !item,
                Some("update" | "delete") => item,
                Some("get") => item && names_item,
                _ => false,
            };
            if fits {
                hit.score *= 1.0 + SHAPE_BONUS;
            }
            // A title that begins with another action than the request's ("Updates the webhook
            // endpoint" for "register a webhook endpoint") is the wrong operation on the right
            // thing; listing and getting are both reading.
            // Likewise a method that cannot do what the request asks: a write by GET, creating
            // or changing by DELETE.
            let reading = |verb: &str| matches!(verb, "list" | "get" | "search");
            let other_title = self.title_verbs[hit.document]
                .zip(intent)
                .is_some_and(|(offered, wanted)| wanted != offered && !(reading(wanted) && reading(offered)));
            let other_method = matches!(
                (intent, self.methods[hit.document].as_str()),
                (Some("create" | "update" | "delete"), "get" | "head") | (Some("create" | "update"), "delete")
            );
            if other_title || other_method {
                hit.score *= 1.0 - OTHER_ACTION_PENALTY;
            }
            if names_noun(hit.document) {
                hit.score *= 1.0 + DENOMINAL_BONUS;
            } else if acts && matches!(self.methods[hit.document].as_str(), "get" | "head") {
                hit.score *= 1.0 - OTHER_ACTION_PENALTY;
            }
            // Near-duplicates nested in another scope (`/customers/{c}/subscriptions` beside
            // `/subscriptions`, an organization's secrets beside a repository's): a scope the
            // request does not name costs a share of the score.
            for scope in &self.scopes[hit.document] {
                if !scope.iter().any(|s| query_stems.contains(&s.as_str())) {
                    hit.score *= 1.0 - SCOPE_PENALTY;
                }
            }
        }
        hits.sort_by(by_score);
        hits.truncate(limit);
        hits
    }
}

/// The stems of each verb group's words that begin at least one title in a hundred (and two at
/// least): GitHub says "Remove" as often as "Delete", Stripe "Retrieves" rather than "Gets".
fn spec_verbs(stemmer: &Stemmer, documents: usize, leading_words: &BTreeMap<String, usize>) -> Vec<Vec<String>> {
    let threshold = (documents / 100).max(2);
    VERB_GROUPS
        .iter()
        .map(|(canonical, _, others)| {
            let mut stems: Vec<String> = std::iter::once(canonical)
                .chain(others.iter())
                .map(|word| stemmer.stem(word).into_owned())
                .filter(|stem| leading_words.get(stem).is_some_and(|count| *count >= threshold))
                .collect();
            stems.sort();
            stems.dedup();
            stems
        })
        .collect()
}

/// Whether two stems are the same word: equal, or sharing at least five characters and three
/// quarters of the longer one ("assign" and "assigne", "subscrib" and "subscript").
fn related(a: &str, b: &str) -> bool {
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    a == b || (shared >= 5 && shared * 4 >= a.chars().count().max(b.chars().count()) * 3)
}

fn first_sentence(text: &str) -> &str {
    text.split_inclusive(". ").next().unwrap_or(text)
}

fn method_term(method: &str) -> String {
    format!("_{}", method.to_ascii_lowercase())
}

/// Two consecutive stems of the prose.
type WordPair = (String, String);

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
    // the pairs at least a quarter as frequent as the most frequent one are synonyms, and the rest
    // of the query decides. An acronym that is itself a word of the spec still expands when the
    // pair is far more frequent than the word (GitHub names a few tools `..._with_pr_...`, and
    // writes "pull request" thousands of times).
    let mut by_acronym: BTreeMap<String, Vec<(&WordPair, usize)>> = BTreeMap::new();
    for (pair, count) in pairs {
        if *count < 3 {
            continue;
        }
        let acronym: String = pair.0.chars().take(1).chain(pair.1.chars().take(1)).collect();
        by_acronym.entry(acronym).or_default().push((pair, *count));
    }
    for (acronym, candidates) in by_acronym {
        let acronym_stem = stem(&acronym);
        if is_stopword(&acronym) {
            continue;
        }
        let own_frequency = postings.get(&acronym_stem).map_or(0, Vec::len);
        let most = candidates.iter().map(|(_, count)| *count).max().unwrap_or(0);
        for (pair, count) in candidates {
            if count * 4 >= most && count >= own_frequency * 10 {
                link(acronym_stem.clone(), vec![pair.0.clone(), pair.1.clone()]);
            }
        }
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

    #[test]
    fn the_title_the_request_accounts_for_wins() {
        // Equal BM25 (the same query words, the same weighted length: the stack tool's extra title
        // word weighs what five description words weigh), so without the rerank the first would win.
        let mut documents = vec![
            document("first_tool", "post", "/one", "Create a pull request stack", &[]),
            document("second_tool", "post", "/two", "Create a pull request", &[]),
        ];
        documents[1].description = "alpha bravo charlie delta echo".into();
        let index = Index::build(&documents);
        assert_eq!(top(&index, "create a pull request"), 1);
        assert_eq!(top(&index, "create a pull request stack"), 0);
    }

    #[test]
    fn a_verb_said_again_finds_the_verb() {
        // "redeploy" is no word of the spec; "deploy" is (as `deployments`).
        let documents = vec![
            document("update_app", "put", "/apps/{app}", "Update an app", &[]),
            document("create_deployment", "post", "/apps/{app}/deployments", "Create an app deployment", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "redeploy my app"), 1);
    }

    #[test]
    fn consecutive_words_stand_for_the_acronym_the_spec_uses() {
        let documents = vec![
            document("ban_user", "put", "/guilds/{g}/bans/{user}", "Ban a user", &[]),
            document("create_dm", "post", "/users/@me/channels", "Create DM", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "send a direct message to a user"), 1);
    }

    #[test]
    fn the_verb_picks_collection_or_item() {
        // The same words everywhere: only the path's shape tells creating from changing.
        let documents = vec![
            document("customer_item", "post", "/customers/{customer}", "Customer record", &[]),
            document("customer_collection", "post", "/customers", "Customer record", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "add a customer record"), 1);
        assert_eq!(top(&index, "change a customer record"), 0);
    }

    #[test]
    fn my_means_the_authenticated_caller() {
        let documents = vec![
            document("repos_list_for_user", "get", "/users/{username}/repos", "List repositories for a user", &[]),
            document(
                "repos_list_for_authenticated_user",
                "get",
                "/user/repos",
                "List repositories for the authenticated user",
                &[],
            ),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "list my repositories"), 1);
        assert_eq!(top(&index, "list repositories of a user"), 0);
    }

    #[test]
    fn words_sharing_most_of_their_stem_match() {
        // Contributors second: without the prefix match the tie would go to the first document.
        let documents = vec![
            document("repos_list_languages", "get", "/repos/{o}/{r}/languages", "List repository languages", &[]),
            document(
                "repos_list_contributors",
                "get",
                "/repos/{o}/{r}/contributors",
                "List repository contributors",
                &[],
            ),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "who contributed to this repository"), 1);
        // "invoic" and "invoiceitem" share too little of the longer word.
        assert_eq!(index.sharing_prefix("invoic").count(), 0);
    }

    #[test]
    fn an_acronym_expands_even_when_a_few_names_use_it() {
        // One tool's name says "pr"; the prose says "pull request" ten times more often.
        let mut documents = corpus();
        documents.push(document("codespaces_create_with_pr", "post", "/codespaces", "Create a codespace", &[]));
        for n in 0..8 {
            let path = format!("/repos/{{owner}}/{{repo}}/pulls/{{n}}/part{n}");
            documents.push(document(&format!("pulls_get_part_{n}"), "get", &path, "Get a pull request part", &[]));
        }
        let index = Index::build(&documents);
        assert!(index.synonyms().get("pr").is_some_and(|s| s.contains(&vec!["pull".into(), "request".into()])));
        assert_eq!(top(&index, "merge a PR"), 7);
    }

    /// Unrelated tools, so that words of the fixtures are not in a third of all paths.
    fn fillers() -> Vec<Document> {
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
            .iter()
            .map(|word| document(&format!("{word}_list"), "get", &format!("/{word}s"), &format!("List {word}s"), &[]))
            .collect()
    }

    #[test]
    fn a_verb_finds_the_verb_the_spec_begins_its_titles_with() {
        // "Remove" begins two titles, so "delete" also means "remove" here; without that, the
        // two member tools tie and the first wins.
        let documents = vec![
            document("members_archive", "delete", "/members/{member}", "Archive a member", &[]),
            document("members_remove", "delete", "/members/{member}", "Remove a member", &[]),
            document("teams_remove", "delete", "/teams/{team}", "Remove a team", &[]),
        ];
        let index = Index::build(&documents);
        assert!(index.spec_verbs[1].contains(&"remov".to_string()), "{:?}", index.spec_verbs);
        assert_eq!(top(&index, "delete a member"), 1);
    }

    #[test]
    fn someone_is_a_placeholder_not_a_word_to_match() {
        // The list of a user's photos matches "someone" (user) too; as a word every tool had to
        // match, it would cover the whole request and win over tagging.
        let documents = vec![
            document("photos_list_for_user", "get", "/users/{user}/photos", "List photos a user is tagged in", &[]),
            document("photos_tag", "post", "/photos/{photo}/tags", "Tag a photo", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "tag someone in a photo"), 1);
    }

    #[test]
    fn the_path_the_request_accounts_for_wins() {
        // Equal BM25: the same title and method, as many segments, and the top-level tool's
        // missing `charges` weighs what its two description words weigh. Without the path's
        // precision the first would win.
        let mut documents = fillers();
        documents.push(document("tool_one", "post", "/charges/{c}/disputes/close", "Close a dispute", &[]));
        documents.push(document("tool_two", "post", "/disputes/{d}/{x}/close", "Close a dispute", &[]));
        documents[7].description = "zulu yankee".into();
        let index = Index::build(&documents);
        assert_eq!(top(&index, "close a dispute"), 7);
    }

    #[test]
    fn a_title_or_method_doing_another_action_ranks_lower() {
        // The same words; one title begins with another action than the request's verb.
        let documents = vec![
            document("webhook_one", "post", "/webhooks", "Updates the webhook endpoint", &[]),
            document("webhook_two", "post", "/webhooks", "Each webhook endpoint", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "add a webhook endpoint"), 1);
        // The same words and title; GET cannot remove anything.
        let documents = vec![
            document("webhook_one", "get", "/webhooks/{w}", "Webhook endpoint", &[]),
            document("webhook_two", "post", "/webhooks/{w}", "Webhook endpoint", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "remove the webhook endpoint"), 1);
    }

    #[test]
    fn words_the_spec_writes_as_one_are_one_word() {
        // "set up" is the spec's `setup`, not the verb "set" (update).
        let documents = vec![
            document("payments_update", "post", "/payments/{p}", "Update a payment", &[]),
            document("payments_setup", "post", "/payments/setups", "Payment setup", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "set up a payment"), 1);
    }

    #[test]
    fn everyday_words_find_api_words() {
        // "logged in" means the authenticated caller, not logs.
        let documents = vec![
            document("logs_download", "get", "/logs", "Download logs", &[]),
            document("users_get_authenticated", "get", "/user", "Authenticated user", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "logged in"), 1);
        // Issue trackers call a bug an issue.
        let documents = vec![
            document("labels_list", "get", "/labels", "List labels", &[]),
            document("issues_list", "get", "/issues", "List issues", &[]),
        ];
        assert_eq!(top(&Index::build(&documents), "list bugs"), 1);
    }

    #[test]
    fn a_noun_used_as_the_verb_finds_the_write_ending_in_it() {
        // The same words; only the last segment tells `/charges` (another form of "charge")
        // from `/charge` (the word itself, found by the words alone: it wins without the rule).
        let documents = vec![
            document("tool_one", "post", "/charge/{c}", "Card charge", &[]),
            document("tool_two", "post", "/charges/{c}", "Card charge", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "charge a card"), 1);
        // The word itself counts where it only qualifies the segment's noun (`setup_intents`),
        // not where it ends it (`/setup`, an action).
        let documents = vec![
            document("tool_one", "post", "/setup", "Setup intent", &[]),
            document("tool_two", "post", "/setup_intents", "Setup intent", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "set up an intent"), 1);
    }

    #[test]
    fn a_scope_the_request_does_not_name_costs() {
        // The organization's tool says "repos" in its title too and accounts for more of the
        // request's words; the request means the repository's own secret and names no
        // organization: without the scope's cost the first would win.
        let mut documents = fillers();
        documents.push(document(
            "tool_one",
            "put",
            "/orgs/{org}/secrets/{name}/repos/{r}",
            "Set repos for a secret",
            &[],
        ));
        documents.push(document("tool_two", "put", "/repos/{owner}/{repo}/secrets/{name}", "Set a secret value", &[]));
        let index = Index::build(&documents);
        assert_eq!(top(&index, "set a secret in a repo"), 7);
    }

    #[test]
    fn by_id_asks_for_one_item() {
        // The same words; "by id" is no word to match but asks for the item, not the list.
        let documents = vec![
            document("tool_one", "get", "/customers", "Retrieve customers", &[]),
            document("tool_two", "get", "/customers/{customer}", "Retrieve customers", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "look up a customer by id"), 1);
    }

    #[test]
    fn find_means_search() {
        // Without "find" → search, the shorter path of the list would win.
        let documents = vec![
            document("tool_one", "get", "/issues", "List issues", &[]),
            document("tool_two", "get", "/search/issues", "Search issues", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "find issues"), 1);
    }

    #[test]
    fn a_noun_used_as_the_verb_is_no_read() {
        // The list says "assigned" in its title, closer to the request's words than the write's
        // "assignees"; once a write's path names the noun, the request is that write.
        let documents = vec![
            document("tool_one", "get", "/issues", "List issues assigned to a user", &[]),
            document("tool_two", "post", "/issues/{n}/assignees", "Add assignees to an issue", &[]),
        ];
        let index = Index::build(&documents);
        assert_eq!(top(&index, "assign someone to an issue"), 1);
    }

    #[test]
    fn my_finds_the_callers_own_path() {
        // `/user` roots only tools about the caller, so it stands for "my"; without that, the
        // public list (its path fully named by the request) would win.
        let mut documents = vec![
            document("tool_one", "get", "/repositories", "List public repositories", &[]),
            document("tool_two", "get", "/user/repositories", "List repositories for the authenticated user", &[]),
            document("tool_three", "get", "/user/keys", "List keys for the authenticated user", &[]),
            document("tool_four", "get", "/user/emails", "List emails for the authenticated user", &[]),
        ];
        documents.extend(fillers());
        let index = Index::build(&documents);
        assert_eq!(index.self_segments[1], ["user"]);
        assert_eq!(top(&index, "list my repositories"), 1);
    }
}
