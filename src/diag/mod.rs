//! Diagnostics: what every stage reports about the user's input, and how it is rendered.
//!
//! A diagnostic carries a stable code (documented in `specs/diagnostics.md`), a message that names the
//! user's own entities, where it comes from (`file:line:col` when the input was a file) and at most one
//! `help:` line. Stages push into [`Diagnostics`]; nothing is printed until the whole run is done, so
//! that one `check` shows every problem at once, errors before warnings.

mod render;

pub use render::render;

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Where a diagnostic points: a file (path or URL) and, when known, a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn file_only(file: impl Into<String>) -> Self {
        Location { file: file.into(), line: 0, column: 0 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, e.g. `mapping/unknown-operation`; listed in `specs/diagnostics.md`.
    pub code: &'static str,
    pub message: String,
    pub location: Option<Location>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), location: None, help: None }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, code, message: message.into(), location: None, help: None }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// The diagnostics of one run, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Warning).count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Errors first, then warnings; within each, the order in which they were found (which follows the
    /// order of the user's files), so output is deterministic.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut sorted: Vec<&Diagnostic> = self.items.iter().collect();
        sorted.sort_by_key(|d| d.severity);
        sorted
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}

/// The closest candidate to `unknown` when it is plausibly a typo, for `help: did you mean ...`.
pub fn did_you_mean<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(unknown, candidates).map(|candidate| format!("did you mean '{candidate}'?"))
}

/// The candidate a typo most likely meant, or `None` when none is close. Close: within a third of
/// the name's length in edits (Damerau-Levenshtein, ignoring case), or Jaro-Winkler ≥ 0.85. Ranked
/// by edits first, then the longer shared prefix, then the nearer length: Jaro-Winkler alone ranks
/// `findPetsByTags` above `findPetsByStatus` for `findPetByStatus`, one letter away from the latter.
pub fn closest<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let unknown_lower = unknown.to_lowercase();
    let budget = (unknown_lower.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let candidate_lower = candidate.to_lowercase();
            let edits = strsim::damerau_levenshtein(&unknown_lower, &candidate_lower);
            let close = edits <= budget || strsim::jaro_winkler(&unknown_lower, &candidate_lower) >= 0.85;
            let prefix = unknown_lower.chars().zip(candidate_lower.chars()).take_while(|(a, b)| a == b).count();
            let length_gap = unknown_lower.chars().count().abs_diff(candidate_lower.chars().count());
            close.then_some(((edits, std::cmp::Reverse(prefix), length_gap), candidate))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let names = ["listPets", "createPets", "showPetById"];
        assert_eq!(did_you_mean("listPet", names).as_deref(), Some("did you mean 'listPets'?"));
        assert_eq!(did_you_mean("showpetbyid", names).as_deref(), Some("did you mean 'showPetById'?"));
        assert_eq!(did_you_mean("deleteEverything", names), None);
    }

    #[test]
    fn the_nearest_name_wins_over_a_merely_similar_one() {
        let petstore = ["findPetsByStatus", "findPetsByTags", "getPetById", "updatePet", "addPet"];
        assert_eq!(closest("findPetByStatus", petstore), Some("findPetsByStatus"));
        assert_eq!(closest("findPetByTags", petstore), Some("findPetsByTags"));
        assert_eq!(closest("findPetsByStatsu", petstore), Some("findPetsByStatus"), "a transposition is one edit");
        assert_eq!(closest("getpetbyid", petstore), Some("getPetById"));
        // Equal edits: the longer shared prefix, then the nearer length.
        assert_eq!(closest("pet_a", ["pet_b", "xet_a"]), Some("pet_b"));
        assert_eq!(closest("listPetz", ["listPets", "listPetsAll"]), Some("listPets"));
        assert_eq!(closest("deleteEverything", petstore), None);
        assert_eq!(closest("x", petstore), None);
    }

    #[test]
    fn errors_sort_before_warnings_keeping_order() {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(Diagnostic::warning("a/w1", "w1"));
        diagnostics.push(Diagnostic::error("a/e1", "e1"));
        diagnostics.push(Diagnostic::warning("a/w2", "w2"));
        diagnostics.push(Diagnostic::error("a/e2", "e2"));
        let codes: Vec<_> = diagnostics.sorted().iter().map(|d| d.code).collect();
        assert_eq!(codes, ["a/e1", "a/e2", "a/w1", "a/w2"]);
    }
}
