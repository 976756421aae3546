//! Output shaping: turns one upstream JSON response into the compact text (and structured value) an agent reads.
//!
//! The agent's context window is the scarcest resource, so every tool result passes through a [`Shaper`],
//! built once at startup from the tool's compiled [`Output`] (JSONPath parsed and template compiled by
//! `compile/`) and applied per call without IO. The steps always run in this order:
//!
//! 1. **select**: the RFC 9535 JSONPath picks part of the response. A *singular* query (only name and index
//!    selectors, e.g. `$.data` or `$.items[0].id`) yields its node, or `[]` when nothing matches. Any other
//!    query (wildcards such as `$.data[*]`, slices, filters, descendants) always yields an array of its
//!    nodes, even when one or none matches, so the shape an agent sees never depends on the data.
//! 2. **fields → exclude → rename**, applied to the value, to each element when it is an array, and through
//!    nested arrays (`labels.name` keeps `name` in each element of `labels`). `fields` keeps only the listed
//!    dotted paths, in the order listed; `exclude` drops dotted paths; `rename` renames the last key of a dotted
//!    path in place (same position, same level), in the order the renames are listed. Scalars found where an
//!    object is expected are left as they are inside arrays (element counts never change) and left out
//!    when they sit under a key that `fields` asked to descend into.
//! 3. **drop_empty** (default on): removes null values, empty strings, empty arrays and empty objects from
//!    objects, recursively. Array elements are never removed, so positions and counts stay meaningful.
//! 4. **budgets**. Both work on the *items*: the value itself when it is an array, or the one array-valued
//!    field of an object that has exactly one (the `{"data": [...], "has_more": true}` wrapper); objects with
//!    zero or several array-valued fields have no items. `max_items` keeps the first items. `max_tokens`
//!    ([`approx_tokens`] of the compact JSON text, note included) keeps as many leading items as fit.
//! 5. **format**: `json` (default) is compact JSON; `table` is a tab-separated header line plus one line per
//!    item for an array of objects (anything else falls back to `json`); `template` renders the minijinja
//!    template with `response` (the value after steps 1-4), `args` (the call's arguments) and `status`.
//!
//! Last, whatever the format, a text still over `max_tokens` (a single huge item, a value without items,
//! a verbose template) is cut at a char boundary. Anything left out is said in a note appended to the text
//! on its own line after `… `, e.g. `showing 20 of 134 items; ask for fewer fields, a smaller page or a
//! narrower filter`, so the agent knows what it did not see and how to get it.

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::catalogue::output::{Output, OutputFormat, Template};

pub mod clean;
pub mod schema;
pub mod stream;

/// The result of shaping one upstream JSON response.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaped {
    /// The text the agent reads (compact JSON, a table, or the template's output), ending with a note when something was left out.
    pub text: String,
    /// The shaped value for structuredContent (None for table/template formats, whose text is not JSON).
    pub structured: Option<Value>,
    /// Set when items were cut by max_items or max_tokens, or the text was cut to max_tokens: what was left out and how to get it, e.g. "showing 20 of 134 items; ask for fewer fields, a smaller page or a narrower filter". Already appended to `text`.
    pub note: Option<String>,
}

/// Why a shaper could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    #[error("output.template failed: {reason}")]
    Template { reason: String },
}

/// A shaper built once at startup from a tool's compiled `Output`, then applied per call.
#[derive(Debug, Clone)]
pub struct Shaper {
    select: Option<Select>,
    /// `None` when `fields` is unset or empty (an empty list would always return `{}`, which is never useful).
    fields: Option<FieldTree>,
    exclude: Vec<Vec<String>>,
    rename: Vec<(Vec<String>, String)>,
    drop_empty: bool,
    max_items: Option<usize>,
    max_tokens: Option<usize>,
    format: Format,
    /// Whether JSON results also produce the structured value (the tool advertises an output schema,
    /// or the mapping asks for it); without it the value is serialised once and never copied.
    structured: bool,
}

#[derive(Debug, Clone)]
struct Select {
    path: JsonPath,
    /// Singular queries return their node; the others always return an array (see the module doc).
    singular: bool,
}

#[derive(Debug, Clone)]
enum Format {
    Json,
    Table,
    Template(Template),
}

/// The hint ending every note: the three levers an agent has to get a smaller result.
const HINT: &str = "ask for fewer fields, a smaller page or a narrower filter";

/// Separates the note from the text: on its own line, marked so it is not read as data.
const NOTE_PREFIX: &str = "\n… ";

/// Template errors can quote values; capping the reason keeps a large response out of logs and results.
const MAX_ERROR_CHARS: usize = 200;

/// One line saying what a tool's output settings do, in the order they apply (for `check` and `tools`).
pub fn describe(config: &Output) -> String {
    let mut parts = Vec::new();
    if let Some(select) = &config.select {
        parts.push(format!("select {}", select.query.text));
    }
    if !config.fields.is_empty() {
        parts.push(format!("fields {}", config.fields.join(",")));
    }
    if !config.exclude.is_empty() {
        parts.push(format!("exclude {}", config.exclude.join(",")));
    }
    if !config.rename.is_empty() {
        let renames: Vec<String> = config.rename.iter().map(|(from, to)| format!("{from}→{to}")).collect();
        parts.push(format!("rename {}", renames.join(",")));
    }
    if !config.drop_empty {
        parts.push("keep empty values".to_string());
    }
    if let Some(max_items) = config.max_items {
        parts.push(format!("max_items {max_items}"));
    }
    if let Some(max_tokens) = config.max_tokens {
        parts.push(format!("max_tokens {max_tokens}"));
    }
    parts.push(
        match config.format {
            OutputFormat::Table => "table",
            OutputFormat::Template(_) => "template",
            OutputFormat::Json => "json",
        }
        .to_string(),
    );
    parts.join(", ")
}

/// Approximate token count used for budgets and reports everywhere in api2mcp: ceil(bytes / 4).
///
/// An approximation on purpose: real tokenizers differ per model and would add a heavy dependency,
/// while budgets only need a stable, cheap, roughly-right figure (English prose averages about 4
/// bytes per token).
#[must_use]
pub fn approx_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// The token budget of a result whose tool sets none: under the 25,000-token cap some clients put on
/// tool results, so a result is cut by api2mcp (with a note saying how to get the rest), not by the client.
pub const DEFAULT_MAX_TOKENS: usize = 20_000;

/// Default shaping when a tool has no `output`: drop_empty, compact JSON, the default token budget.
pub fn default_shaper() -> Shaper {
    Shaper {
        select: None,
        fields: None,
        exclude: Vec::new(),
        rename: Vec::new(),
        drop_empty: true,
        max_items: None,
        max_tokens: Some(DEFAULT_MAX_TOKENS),
        format: Format::Json,
        structured: true,
    }
}

impl Shaper {
    pub fn new(config: &Output) -> Shaper {
        let select =
            config.select.as_ref().map(|select| Select { path: select.query.path.clone(), singular: select.singular });
        let fields = (!config.fields.is_empty()).then(|| {
            let mut tree = FieldTree::default();
            for field in &config.fields {
                tree.insert(&split_path(field));
            }
            tree
        });
        let format = match &config.format {
            OutputFormat::Json => Format::Json,
            OutputFormat::Table => Format::Table,
            OutputFormat::Template(template) => Format::Template(template.clone()),
        };
        Shaper {
            select,
            fields,
            exclude: config.exclude.iter().map(|path| split_path(path)).collect(),
            rename: config.rename.iter().map(|(path, name)| (split_path(path), name.clone())).collect(),
            drop_empty: config.drop_empty,
            max_items: config.max_items.map(to_usize),
            max_tokens: Some(config.max_tokens.map_or(DEFAULT_MAX_TOKENS, to_usize)),
            format,
            structured: true,
        }
    }

    /// `arguments`: the tool call's arguments; `status`: the upstream HTTP status. Pure, no IO.
    pub fn apply(&self, response: &Value, arguments: &Map<String, Value>, status: u16) -> Result<Shaped, ShapeError> {
        // Steps 1 and 2a together: selection yields references and projection copies only the kept parts,
        // so a large response is not cloned whole just to throw most of it away.
        let mut value = match &self.select {
            None => self.project(response),
            Some(select) => {
                let nodes = select.path.query(response).all();
                match nodes.as_slice() {
                    [node] if select.singular => self.project(node),
                    _ => Value::Array(nodes.into_iter().map(|node| self.project(node)).collect()),
                }
            }
        };
        self.reshape(&mut value);
        let items = self.apply_budgets(&mut value);

        let mut notes: Vec<String> = Vec::new();
        if let Some((shown, total)) = items {
            notes.push(items_note(shown, total));
        }
        self.finish(value, notes, HINT, arguments, status)
    }

    /// Steps 2 and 3 for one item of a paginated result: `pagination.items` already chose the items, so
    /// there is no `select`; budgets are the paginator's, which knows where each item came from.
    pub fn shape_item(&self, item: &Value) -> Value {
        let mut value = self.project(item);
        self.reshape(&mut value);
        value
    }

    /// Step 5 for a paginated result: `page` is `{"items": [...], "next_cursor"?: "..."}`, already within
    /// the item budgets; `notes` say what was left out and `hint` how to get it.
    pub fn render_page(
        &self,
        page: Value,
        notes: Vec<String>,
        hint: &str,
        arguments: &Map<String, Value>,
        status: u16,
    ) -> Result<Shaped, ShapeError> {
        self.finish(page, notes, hint, arguments, status)
    }

    /// The `max_items` budget.
    pub fn max_items(&self) -> Option<usize> {
        self.max_items
    }

    /// The `max_tokens` budget.
    pub fn max_tokens(&self) -> Option<usize> {
        self.max_tokens
    }

    /// Results carry text only, no structured value (the tool advertises no output schema).
    #[must_use]
    pub fn without_structured(mut self) -> Self {
        self.structured = false;
        self
    }

    /// Whether the result text is JSON (and so can travel as `structuredContent` too).
    pub fn is_json(&self) -> bool {
        matches!(self.format, Format::Json)
    }

    /// Step 5 and the final cap, for every format.
    fn finish(
        &self,
        value: Value,
        mut notes: Vec<String>,
        hint: &str,
        arguments: &Map<String, Value>,
        status: u16,
    ) -> Result<Shaped, ShapeError> {
        let (mut text, mut structured) = match &self.format {
            Format::Json => json_output(&value, self.structured),
            Format::Table => match table_of(&value) {
                Some(text) => (text, None),
                None => json_output(&value, self.structured),
            },
            Format::Template(template) => (render(template, &value, arguments, status)?, None),
        };
        // The final cap, for every format: the items cut above keeps JSON within budget, but one item can be
        // too large on its own, a value may have no items, and a table or template text is not that JSON.
        if let Some(max_tokens) = self.max_tokens {
            let budget = max_tokens.saturating_mul(4);
            if text.len() + note_len(&notes, hint) > budget {
                notes.push(format!("text cut at {max_tokens} of ~{} tokens", approx_tokens(&text)));
                let keep = budget.saturating_sub(note_len(&notes, hint));
                truncate_at_char_boundary(&mut text, keep);
                // The cut text is no longer the value (nor valid JSON); a full structured copy would defeat
                // the budget. An empty object still conforms to the advertised output schema, whose
                // properties are all optional (shaping may drop any of them).
                if structured.is_some() {
                    structured = Some(Value::Object(Map::new()));
                }
            }
        }
        let note = note_text(&notes, hint);
        if let Some(note) = &note {
            text.push_str(NOTE_PREFIX);
            text.push_str(note);
        }
        Ok(Shaped { text, structured, note })
    }

    /// The rest of step 2 (exclude, rename) and step 3 (drop_empty), after `fields` projected the value:
    /// one definition for whole results and for paginated items, so both are shaped alike.
    fn reshape(&self, value: &mut Value) {
        for path in &self.exclude {
            exclude_path(value, path);
        }
        for (path, name) in &self.rename {
            rename_path(value, path, name);
        }
        if self.drop_empty {
            drop_empty(value);
        }
    }

    fn project(&self, value: &Value) -> Value {
        match &self.fields {
            Some(tree) => project(value, tree),
            None => value.clone(),
        }
    }

    /// Step 4: cuts the items to `max_items`, then to what fits `max_tokens`; returns (shown, total) when cut.
    fn apply_budgets(&self, value: &mut Value) -> Option<(usize, usize)> {
        self.budget_items(value, None)
    }

    /// Step 4, also for items kept while a response streamed (`stream.rs`): `streamed` is the number
    /// of items in the whole response and whether some were left out because they cannot fit
    /// `max_tokens`, since `value` then holds only the first ones.
    fn budget_items(&self, value: &mut Value, streamed: Option<(usize, bool)>) -> Option<(usize, usize)> {
        let items = items_mut(value)?;
        let (total, over) = streamed.unwrap_or((items.len(), false));
        let mut shown = total;
        if let Some(max_items) = self.max_items
            && total > max_items
        {
            items.truncate(max_items);
            shown = max_items;
        }
        if let Some(max_tokens) = self.max_tokens {
            let budget = max_tokens.saturating_mul(4);
            let note = if shown < total { note_len(&[items_note(shown, total)], HINT) } else { 0 };
            if over || compact_len(value) + note > budget {
                // Lengths add up exactly in compact JSON: the value with no items, each item's text, and one comma
                // between items. Measuring every item once avoids re-serialising the value per candidate count.
                let items = items_mut(value)?;
                let kept = std::mem::take(items);
                let lengths: Vec<usize> = kept.iter().map(compact_len).collect();
                let base = compact_len(value);
                // The note's count has at most as many digits as the total, so this reserve always suffices.
                let reserve = note_len(&[items_note(total, total)], HINT);
                let room = budget.saturating_sub(reserve);
                let mut used = base;
                let mut fit = 0;
                for (index, length) in lengths.iter().enumerate() {
                    used += length + usize::from(index > 0);
                    if used > room {
                        break;
                    }
                    fit += 1;
                }
                // Even when no item fits, keep the first one: the final cap then shows as much of it as the
                // budget allows, which tells the agent more than an empty list would.
                let fit = fit.max(1).min(kept.len());
                let items = items_mut(value)?;
                *items = kept;
                items.truncate(fit);
                shown = fit;
            }
        }
        (shown < total).then_some((shown, total))
    }
}

/// RFC 9535 allows only singular queries as comparison operands, so the parser itself tells whether a
/// path is singular; serde_json_path keeps the parsed segments private. Used when `output.select` is
/// compiled.
pub fn is_singular(path: &str) -> bool {
    JsonPath::parse(&format!("$[?{path} == null]")).is_ok()
}

/// `fields` as a tree, so that `labels.name` and `labels.color` fill the same elements of `labels`.
#[derive(Debug, Clone, Default)]
struct FieldTree {
    /// Keep the whole value here; set by a path ending at this node, and wins over longer paths through it.
    whole: bool,
    /// Children in the order the paths list them, which is the order of keys in the result.
    children: IndexMap<String, FieldTree>,
}

impl FieldTree {
    fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.whole = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }
}

/// Whether `path` is a dotted field path (`owner.login`): no empty step.
pub fn is_field_path(path: &str) -> bool {
    !path.split('.').any(str::is_empty)
}

pub fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

fn project(value: &Value, tree: &FieldTree) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in &tree.children {
                let Some(inner) = map.get(key) else { continue };
                if child.whole {
                    out.insert(key.clone(), inner.clone());
                } else if inner.is_object() || inner.is_array() {
                    out.insert(key.clone(), project(inner, child));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| project(item, tree)).collect()),
        other => other.clone(),
    }
}

fn exclude_path(value: &mut Value, path: &[String]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| exclude_path(item, path)),
        Value::Object(map) => match path {
            [] => {}
            [last] => {
                // shift_remove keeps the other keys in the upstream's order.
                map.shift_remove(last);
            }
            [first, rest @ ..] => {
                if let Some(inner) = map.get_mut(first) {
                    exclude_path(inner, rest);
                }
            }
        },
        _ => {}
    }
}

fn rename_path(value: &mut Value, path: &[String], name: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| rename_path(item, path, name)),
        Value::Object(map) => match path {
            [] => {}
            [last] => {
                if last != name && map.contains_key(last) {
                    // Rebuilt to keep the key at its position; the renamed field replaces one already
                    // called `name`, since the mapping asked for that name explicitly.
                    let old = std::mem::take(map);
                    for (key, inner) in old {
                        if key == *last {
                            map.insert(name.to_string(), inner);
                        } else if key != name {
                            map.insert(key, inner);
                        }
                    }
                }
            }
            [first, rest @ ..] => {
                if let Some(inner) = map.get_mut(first) {
                    rename_path(inner, rest, name);
                }
            }
        },
        _ => {}
    }
}

fn drop_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(drop_empty);
            map.retain(|_, inner| !is_empty(inner));
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The items that budgets cut: the value when it is an array, or the only array-valued field of an object.
fn items_mut(value: &mut Value) -> Option<&mut Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) => {
            let mut arrays = map.values_mut().filter_map(|inner| inner.as_array_mut());
            let items = arrays.next()?;
            arrays.next().is_none().then_some(items)
        }
        _ => None,
    }
}

fn items_note(shown: usize, total: usize) -> String {
    format!("showing {shown} of {total} items")
}

fn note_text(notes: &[String], hint: &str) -> Option<String> {
    (!notes.is_empty()).then(|| format!("{}; {hint}", notes.join(", ")))
}

/// Bytes the note adds to the text, its separator included.
fn note_len(notes: &[String], hint: &str) -> usize {
    note_text(notes, hint).map_or(0, |note| NOTE_PREFIX.len() + note.len())
}

/// Length of a value's compact JSON, counted without building the string.
pub fn compact_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising a Value into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Compact JSON text, and the structured value: objects as they are, arrays wrapped as `{"items": [...]}`
/// because older MCP versions require structuredContent to be an object; scalars have none (the text says it all).
fn json_output(value: &Value, structured: bool) -> (String, Option<Value>) {
    if !structured {
        return (value.to_string(), None);
    }
    let structured = match value {
        Value::Object(_) => Some(value.clone()),
        Value::Array(_) => {
            let mut wrapper = Map::new();
            wrapper.insert("items".to_string(), value.clone());
            Some(Value::Object(wrapper))
        }
        _ => None,
    };
    (value.to_string(), structured)
}

/// A header line and one tab-separated line per item; `None` (fall back to JSON) unless the value is a
/// non-empty array of objects.
fn table_of(value: &Value) -> Option<String> {
    // A paginated result is `{"items": [...], "next_cursor"?}`: its table is the items'.
    let value = match value {
        Value::Object(page) if page.contains_key("items") && page.len() <= 2 => &page["items"],
        other => other,
    };
    let items = value.as_array().filter(|items| !items.is_empty())?;
    let rows: Vec<&Map<String, Value>> = items.iter().map(Value::as_object).collect::<Option<_>>()?;
    // Ragged items: the union of keys, in first-seen order; a missing key is an empty cell.
    let columns: IndexSet<&str> = rows.iter().flat_map(|row| row.keys().map(String::as_str)).collect();
    let mut text = columns.iter().map(|column| clean_cell(column)).collect::<Vec<_>>().join("\t");
    for row in rows {
        text.push('\n');
        let cells: Vec<String> = columns.iter().map(|column| row.get(*column).map(cell).unwrap_or_default()).collect();
        text.push_str(&cells.join("\t"));
    }
    Some(text)
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => clean_cell(text),
        // Numbers, booleans and nested values as compact JSON (which escapes tabs and newlines itself).
        other => clean_cell(&other.to_string()),
    }
}

/// Tabs and line breaks inside a value would shift columns or start a row.
fn clean_cell(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

fn render(
    template: &Template,
    value: &Value,
    arguments: &Map<String, Value>,
    status: u16,
) -> Result<String, ShapeError> {
    let template = template
        .environment()
        .get_template(Template::NAME)
        .map_err(|error| ShapeError::Template { reason: template_reason(&error) })?;
    let context = minijinja::context! {
        response => minijinja::Value::from(minijinja::value::Serde(value)),
        args => minijinja::Value::from(minijinja::value::Serde(arguments)),
        status => status,
    };
    template.render(context).map_err(|error| ShapeError::Template { reason: template_reason(&error) })
}

/// The error's kind, detail and line, capped so that no large piece of a response ends up in the message.
fn template_reason(error: &minijinja::Error) -> String {
    let mut reason = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    if let Some(end) = reason.char_indices().nth(MAX_ERROR_CHARS).map(|(index, _)| index) {
        reason.truncate(end);
        reason.push('…');
    }
    if let Some(line) = error.line() {
        reason.push_str(&format!(" (template line {line})"));
    }
    reason
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() <= max_bytes {
        return;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

/// Limits are u64 in the mapping file; on 32-bit targets a larger one means "no limit" in practice.
fn to_usize(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An `output` setting compiled as `compile/` does it, without diagnostics.
    fn config(value: Value) -> Output {
        let config: crate::mapping::OutputConfig = serde_json::from_value(value).expect("test config deserialises");
        let mut diagnostics = crate::diag::Diagnostics::new();
        let output = crate::compile::output::output(&config, "", None, &mut diagnostics);
        assert!(diagnostics.is_empty(), "test config compiles: {diagnostics:?}");
        output
    }

    fn shaper(value: Value) -> Shaper {
        Shaper::new(&config(value))
    }

    fn no_args() -> Map<String, Value> {
        Map::new()
    }

    fn shape(settings: Value, response: Value) -> Shaped {
        shaper(settings).apply(&response, &no_args(), 200).expect("shaping succeeds")
    }

    /// The JSON part of a text, before any note.
    fn json_part(text: &str) -> Value {
        let body = text.split(NOTE_PREFIX).next().unwrap_or_default();
        serde_json::from_str(body).expect("text starts with valid JSON")
    }

    fn numbered(count: usize) -> Value {
        Value::Array((0..count).map(|i| json!({"id": i, "name": format!("item number {i}")})).collect())
    }

    // Step 1: select.

    #[test]
    fn select_singular_path_yields_the_node() {
        let shaped = shape(json!({"select": "$.data"}), json!({"data": {"id": 1}, "meta": {"x": 2}}));
        assert_eq!(shaped.text, r#"{"id":1}"#);
        assert_eq!(shaped.structured, Some(json!({"id": 1})));
        assert_eq!(shaped.note, None);
        let shaped = shape(json!({"select": "$.data[1].id"}), json!({"data": [{"id": 1}, {"id": 2}]}));
        assert_eq!(shaped.text, "2");
    }

    #[test]
    fn select_several_nodes_yields_an_array() {
        let shaped = shape(json!({"select": "$..id"}), json!({"a": {"id": 1}, "b": [{"id": 2}]}));
        assert_eq!(shaped.text, "[1,2]");
        assert_eq!(shaped.structured, Some(json!({"items": [1, 2]})));
    }

    #[test]
    fn select_no_node_yields_an_empty_array() {
        assert_eq!(shape(json!({"select": "$.missing"}), json!({"data": 1})).text, "[]");
        assert_eq!(shape(json!({"select": "$.data[?@.open]"}), json!({"data": [{"id": 1}]})).text, "[]");
    }

    #[test]
    fn select_wildcard_always_yields_an_array() {
        let response = json!({"data": [{"id": 1}], "has_more": false});
        assert_eq!(shape(json!({"select": "$.data[*]"}), response.clone()).text, r#"[{"id":1}]"#);
        assert_eq!(shape(json!({"select": "$.data.*"}), response).text, r#"[{"id":1}]"#);
    }

    #[test]
    fn select_filter_with_one_match_still_yields_an_array() {
        let response = json!({"data": [{"id": 1, "open": true}, {"id": 2, "open": false}]});
        assert_eq!(shape(json!({"select": "$.data[?@.open == true].id"}), response).text, "[1]");
    }

    #[test]
    fn singular_queries_are_told_apart() {
        for path in ["$", "$.a", "$.a[0].b", "$['a b']", "$[-1]"] {
            assert!(is_singular(path), "{path} is singular");
        }
        for path in ["$.a[*]", "$.a.*", "$..a", "$.a[0:2]", "$.a[?@.x]", "$.a[0,1]", "$.a[*].b"] {
            assert!(!is_singular(path), "{path} is not singular");
        }
    }

    #[test]
    fn fields_keep_nested_paths_in_the_listed_order() {
        let response = json!({"title": "t", "id": 7, "owner": {"login": "ann", "id": 3}, "body": "long"});
        let shaped = shape(json!({"fields": ["id", "owner.login", "title"]}), response);
        assert_eq!(shaped.text, r#"{"id":7,"owner":{"login":"ann"},"title":"t"}"#);
    }

    #[test]
    fn fields_apply_to_each_element_and_through_nested_arrays() {
        let response = json!([
            {"id": 1, "labels": [{"name": "bug", "color": "red", "id": 9}, {"name": "ui", "color": "blue"}], "x": 1},
            {"id": 2, "labels": []}
        ]);
        let shaped = shape(json!({"fields": ["id", "labels.name", "labels.color"], "drop_empty": false}), response);
        assert_eq!(
            shaped.text,
            r#"[{"id":1,"labels":[{"name":"bug","color":"red"},{"name":"ui","color":"blue"}]},{"id":2,"labels":[]}]"#
        );
    }

    #[test]
    fn fields_whole_value_wins_over_a_longer_path() {
        let response = json!({"owner": {"login": "ann", "id": 3}});
        let shaped = shape(json!({"fields": ["owner.login", "owner"]}), response);
        assert_eq!(shaped.text, r#"{"owner":{"login":"ann","id":3}}"#);
    }

    #[test]
    fn fields_leave_scalars_alone_where_objects_were_expected() {
        // `owner` is null: there is no `login` under it, so the key is left out; the string labels are
        // elements of an array and are kept so that counts do not change.
        let response = json!({"owner": null, "labels": ["bug", {"name": "ui", "id": 1}]});
        let shaped = shape(json!({"fields": ["owner.login", "labels.name"], "drop_empty": false}), response);
        assert_eq!(shaped.text, r#"{"labels":["bug",{"name":"ui"}]}"#);
        // A scalar response passes through whatever the fields.
        assert_eq!(shape(json!({"fields": ["id"]}), json!("plain")).text, r#""plain""#);
    }

    #[test]
    fn empty_fields_list_keeps_everything() {
        assert_eq!(shape(json!({"fields": []}), json!({"id": 1, "x": 2})).text, r#"{"id":1,"x":2}"#);
    }

    #[test]
    fn exclude_drops_paths_and_keeps_order() {
        let response = json!([
            {"a": 1, "secret": "s", "b": {"c": 1, "d": 2}, "z": 3, "list": [{"k": 1, "drop": 2}]},
            {"a": 2, "b": 5}
        ]);
        let shaped = shape(json!({"exclude": ["secret", "b.d", "list.drop", "missing.path"]}), response);
        assert_eq!(shaped.text, r#"[{"a":1,"b":{"c":1},"z":3,"list":[{"k":1}]},{"a":2,"b":5}]"#);
    }

    #[test]
    fn rename_keeps_the_position_and_works_through_arrays() {
        let response = json!({"id": 1, "user": {"login": "ann", "id": 2}, "items": [{"n": 1, "m": 2}], "z": 0});
        let shaped = shape(json!({"rename": {"user.login": "author", "items.n": "number", "id": "key"}}), response);
        assert_eq!(shaped.text, r#"{"key":1,"user":{"author":"ann","id":2},"items":[{"number":1,"m":2}],"z":0}"#);
    }

    #[test]
    fn rename_replaces_a_field_already_using_the_new_name() {
        let shaped =
            shape(json!({"rename": {"full_name": "name"}}), json!({"name": "short", "full_name": "long", "x": 1}));
        assert_eq!(shaped.text, r#"{"name":"long","x":1}"#);
        // A missing source leaves the existing field alone.
        let shaped = shape(json!({"rename": {"nothing": "name"}}), json!({"name": "short"}));
        assert_eq!(shaped.text, r#"{"name":"short"}"#);
    }

    #[test]
    fn fields_then_exclude_then_rename() {
        let response =
            json!({"data": [{"id": 1, "user": {"login": "ann", "site_admin": false, "avatar": "u"}, "body": "b"}]});
        let settings = json!({
            "select": "$.data[*]",
            "fields": ["id", "user"],
            "exclude": ["user.avatar"],
            "rename": {"user.login": "author"}
        });
        assert_eq!(shape(settings, response).text, r#"[{"id":1,"user":{"author":"ann","site_admin":false}}]"#);
    }

    // Step 3: drop_empty.

    #[test]
    fn drop_empty_is_on_by_default_and_recursive() {
        let response = json!({
            "a": null, "b": "", "c": [], "d": {}, "e": {"f": {"g": null}},
            "keep": 0, "no": false, "text": "x",
            "scalars": [null, "", 1],
            "objects": [{"x": null}, {"y": 1, "z": ""}]
        });
        let shaped = shape(json!({}), response);
        assert_eq!(shaped.text, r#"{"keep":0,"no":false,"text":"x","scalars":[null,"",1],"objects":[{},{"y":1}]}"#);
    }

    #[test]
    fn drop_empty_off_keeps_everything() {
        let response = json!({"a": null, "b": "", "c": [], "d": {}});
        assert_eq!(shape(json!({"drop_empty": false}), response).text, r#"{"a":null,"b":"","c":[],"d":{}}"#);
    }

    // Step 4: budgets.

    #[test]
    fn max_items_cuts_a_top_level_array() {
        let shaped = shape(json!({"max_items": 2}), json!([1, 2, 3, 4, 5]));
        let note = "showing 2 of 5 items; ask for fewer fields, a smaller page or a narrower filter";
        assert_eq!(shaped.note.as_deref(), Some(note));
        assert_eq!(shaped.text, format!("[1,2]\n… {note}"));
        assert_eq!(shaped.structured, Some(json!({"items": [1, 2]})));
    }

    #[test]
    fn max_items_cuts_the_only_array_of_a_wrapper() {
        let response = json!({"data": [{"id": 1}, {"id": 2}, {"id": 3}], "has_more": true, "total": 3});
        let shaped = shape(json!({"max_items": 1}), response);
        assert_eq!(shaped.structured, Some(json!({"data": [{"id": 1}], "has_more": true, "total": 3})));
        assert!(shaped.text.starts_with(r#"{"data":[{"id":1}],"has_more":true,"total":3}"#));
        assert!(shaped.note.as_deref().is_some_and(|note| note.starts_with("showing 1 of 3 items")));
    }

    #[test]
    fn max_items_leaves_objects_with_several_arrays_and_short_arrays_alone() {
        let response = json!({"a": [1, 2, 3], "b": [4, 5, 6]});
        assert_eq!(shape(json!({"max_items": 1}), response).note, None);
        let shaped = shape(json!({"max_items": 3}), json!([1, 2, 3]));
        assert_eq!((shaped.text.as_str(), shaped.note), ("[1,2,3]", None));
    }

    #[test]
    fn max_tokens_cuts_at_an_item_boundary() {
        let shaped = shape(json!({"max_tokens": 100}), numbered(100));
        assert!(approx_tokens(&shaped.text) <= 100, "{} tokens", approx_tokens(&shaped.text));
        let Value::Array(shown) = json_part(&shaped.text) else { panic!("an array is shown") };
        assert!(!shown.is_empty());
        assert_eq!(shown, numbered(100).as_array().expect("array")[..shown.len()].to_vec());
        let note =
            format!("showing {} of 100 items; ask for fewer fields, a smaller page or a narrower filter", shown.len());
        assert_eq!(shaped.note.as_deref(), Some(note.as_str()));
        assert_eq!(shaped.structured, Some(json!({"items": shown})));
        // As many items as fit: one more would go over the budget.
        let one_more = Value::Array(numbered(100).as_array().expect("array")[..shown.len() + 1].to_vec());
        assert!(approx_tokens(&format!("{one_more}\n… {note}")) > 100);
    }

    #[test]
    fn max_tokens_cuts_the_items_of_a_wrapper() {
        let response = json!({"data": numbered(50), "has_more": true});
        let shaped = shape(json!({"max_tokens": 80}), response);
        assert!(approx_tokens(&shaped.text) <= 80);
        let shown = json_part(&shaped.text);
        assert_eq!(shown["has_more"], json!(true));
        let count = shown["data"].as_array().map_or(0, Vec::len);
        assert!(count > 0);
        assert!(shaped.note.as_deref().is_some_and(|note| note.starts_with(&format!("showing {count} of 50 items;"))));
    }

    #[test]
    fn max_tokens_after_max_items_counts_from_the_original_total() {
        let shaped = shape(json!({"max_items": 40, "max_tokens": 60}), numbered(100));
        assert!(approx_tokens(&shaped.text) <= 60);
        let count = json_part(&shaped.text).as_array().map_or(0, Vec::len);
        assert!(count > 0 && count < 40);
        assert!(shaped.note.as_deref().is_some_and(|note| note.starts_with(&format!("showing {count} of 100 items;"))));
    }

    #[test]
    fn max_tokens_leaves_a_fitting_result_alone() {
        let shaped = shape(json!({"max_tokens": 1000}), numbered(3));
        assert_eq!(shaped.note, None);
        assert_eq!(shaped.text, numbered(3).to_string());
    }

    #[test]
    fn max_tokens_truncates_an_item_too_large_on_its_own() {
        let big = "x".repeat(2000);
        let response = json!([{"id": 1, "body": big}, {"id": 2}, {"id": 3}]);
        let shaped = shape(json!({"max_tokens": 100}), response);
        assert!(approx_tokens(&shaped.text) <= 100);
        assert!(shaped.text.starts_with(r#"[{"id":1,"body":"xxx"#));
        assert_eq!(
            shaped.structured,
            Some(json!({})),
            "a cut text is not the value; an empty object conforms to any shaped schema"
        );
        let note = shaped.note.expect("a note says what was cut");
        assert!(note.starts_with("showing 1 of 3 items, text cut at 100 of ~"), "{note}");
        assert!(note.ends_with(HINT));
        assert!(shaped.text.ends_with(&format!("\n… {note}")));
    }

    #[test]
    fn max_tokens_truncates_a_scalar_at_a_char_boundary() {
        let response = Value::String("é🦀".repeat(500));
        let shaped = shape(json!({"max_tokens": 50}), response);
        assert!(approx_tokens(&shaped.text) <= 50);
        assert!(shaped.text.starts_with("\"é🦀"));
        assert!(shaped.note.as_deref().is_some_and(|note| note.starts_with("text cut at 50 of ~")));
    }

    #[test]
    fn max_tokens_smaller_than_the_note_still_says_what_happened() {
        let shaped = shape(json!({"max_tokens": 1}), numbered(5));
        assert!(shaped.note.is_some());
        assert!(shaped.text.starts_with("\n… showing 1 of 5 items, text cut at 1 of ~"));
    }

    // Step 5: format.

    #[test]
    fn json_format_wraps_arrays_only_in_structured() {
        let shaped = shape(json!({"format": "json"}), json!([{"a": 1}]));
        assert_eq!(shaped.text, r#"[{"a":1}]"#);
        assert_eq!(shaped.structured, Some(json!({"items": [{"a": 1}]})));
    }

    #[test]
    fn table_format_lists_flat_objects() {
        let response = json!([{"id": 1, "title": "first", "open": true}, {"id": 2, "title": "second", "open": false}]);
        let shaped = shape(json!({"format": "table"}), response);
        assert_eq!(shaped.text, "id\ttitle\topen\n1\tfirst\ttrue\n2\tsecond\tfalse");
        assert_eq!(shaped.structured, None);
        assert_eq!(shaped.note, None);
    }

    #[test]
    fn table_format_handles_ragged_keys_nested_values_and_control_characters() {
        let response = json!([
            {"id": 1, "tags": ["a", "b"]},
            {"id": 2, "owner": {"login": "ann"}, "text": "tab\there\nnew line\r\nend"},
            {"note": null, "id": 3}
        ]);
        let shaped = shape(json!({"format": "table", "drop_empty": false}), response);
        let expected = [
            "id\ttags\towner\ttext\tnote",
            "1\t[\"a\",\"b\"]\t\t\t",
            "2\t\t{\"login\":\"ann\"}\ttab here new line  end\t",
            "3\t\t\t\t",
        ];
        assert_eq!(shaped.text, expected.join("\n"));
    }

    #[test]
    fn table_format_falls_back_to_json() {
        let shaped = shape(json!({"format": "table"}), json!({"id": 1}));
        assert_eq!((shaped.text.as_str(), shaped.structured), (r#"{"id":1}"#, Some(json!({"id": 1}))));
        assert_eq!(shape(json!({"format": "table"}), json!([1, "a"])).text, r#"[1,"a"]"#);
        assert_eq!(shape(json!({"format": "table"}), json!([{"a": 1}, 2])).text, r#"[{"a":1},2]"#);
        assert_eq!(shape(json!({"format": "table"}), json!([])).text, "[]");
    }

    #[test]
    fn table_format_after_select_fields_and_max_items() {
        let response = json!({"data": [
            {"number": 1, "title": "a", "user": {"login": "ann"}, "body": null},
            {"number": 2, "title": "b", "user": {"login": "bob"}},
            {"number": 3, "title": "c", "user": {"login": "cy"}}
        ]});
        let settings = json!({
            "select": "$.data[*]", "fields": ["number", "title", "user.login"],
            "rename": {"user.login": "by"}, "max_items": 2, "format": "table"
        });
        let shaped = shape(settings, response);
        let note = "showing 2 of 3 items; ask for fewer fields, a smaller page or a narrower filter";
        assert_eq!(
            shaped.text,
            format!("number\ttitle\tuser\n1\ta\t{{\"by\":\"ann\"}}\n2\tb\t{{\"by\":\"bob\"}}\n… {note}")
        );
    }

    #[test]
    fn template_sees_response_args_and_status() {
        let settings = json!({
            "format": "template",
            "template": "{{ status }} {{ args.repo }}:{% for issue in response %} #{{ issue.number }} {{ issue.title }}{% endfor %}"
        });
        let mut arguments = Map::new();
        arguments.insert("repo".to_string(), json!("api2mcp"));
        let response = json!([{"number": 1, "title": "<b>a</b>"}, {"number": 2, "title": "b"}]);
        let shaped = shaper(settings).apply(&response, &arguments, 201).expect("renders");
        // No HTML escaping: the agent reads the text as written.
        assert_eq!(shaped.text, "201 api2mcp: #1 <b>a</b> #2 b");
        assert_eq!(shaped.structured, None);
    }

    #[test]
    fn template_without_format_is_used_and_gets_the_note() {
        let shaped = shape(json!({"template": "{{ response | length }} shown", "max_items": 2}), json!([1, 2, 3]));
        assert_eq!(
            shaped.text,
            "2 shown\n… showing 2 of 3 items; ask for fewer fields, a smaller page or a narrower filter"
        );
    }

    #[test]
    fn template_output_is_capped_by_max_tokens() {
        let settings = json!({"template": "{% for i in range(1000) %}line {{ i }}\n{% endfor %}", "max_tokens": 40});
        let shaped = shape(settings, json!({}));
        assert!(approx_tokens(&shaped.text) <= 40);
        assert!(shaped.text.starts_with("line 0\nline 1\n"));
        assert!(shaped.note.as_deref().is_some_and(|note| note.starts_with("text cut at 40 of ~")));
    }

    #[test]
    fn template_runtime_error_does_not_quote_the_response() {
        let secret = "SECRET-PAYLOAD-".repeat(100);
        let settings = json!({"template": "{{ response.items + 1 }}"});
        let error = shaper(settings).apply(&json!({"items": [secret]}), &no_args(), 200).expect_err("fails");
        assert!(matches!(error, ShapeError::Template { .. }));
        let message = error.to_string();
        assert!(message.starts_with("output.template failed: "), "{message}");
        assert!(!message.contains("SECRET-PAYLOAD"), "{message}");
        assert!(message.len() < 400);
    }

    #[test]
    fn default_shaper_drops_empties_and_returns_compact_json() {
        let response = json!({"id": 1, "none": null, "list": [], "nested": {"a": ""}, "items": [{"x": 1}]});
        let shaped = default_shaper().apply(&response, &no_args(), 200).expect("shapes");
        assert_eq!(shaped.text, r#"{"id":1,"items":[{"x":1}]}"#);
        assert_eq!(shaped.structured, Some(json!({"id": 1, "items": [{"x": 1}]})));
        assert_eq!(shaped.note, None);
    }

    #[test]
    fn scalar_responses_pass_through() {
        for (response, text) in
            [(json!("hello"), r#""hello""#), (json!(42), "42"), (json!(true), "true"), (json!(null), "null")]
        {
            let shaped = default_shaper().apply(&response, &no_args(), 200).expect("shapes");
            assert_eq!(shaped, Shaped { text: text.to_string(), structured: None, note: None });
        }
        let shaped = shape(json!({"format": "table", "max_items": 1, "exclude": ["a"]}), json!(3.5));
        assert_eq!(shaped.text, "3.5");
    }

    #[test]
    fn approx_tokens_rounds_up() {
        assert_eq!(approx_tokens(""), 0);
        assert_eq!(approx_tokens("abc"), 1);
        assert_eq!(approx_tokens("abcd"), 1);
        assert_eq!(approx_tokens("abcde"), 2);
        assert_eq!(approx_tokens("é"), 1);
    }

    #[test]
    fn shaper_can_be_shared_between_calls() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Shaper>();
        shareable::<Shaped>();
    }
}
