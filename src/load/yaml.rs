//! YAML text → `serde_json::Value`, with an optional index of source positions keyed by JSON pointer.
//!
//! The builder consumes saphyr-parser events with an explicit stack, so deeply nested input cannot
//! overflow the native stack, and it applies the YAML 1.2 core schema to plain scalars.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

/// Deepest nesting of collections we accept; real documents stay far below this.
const MAX_DEPTH: usize = 512;
/// Budget of nodes that alias expansion may produce, which defuses "billion laughs" documents.
const MAX_ALIAS_NODES: u64 = 1_000_000;
/// Budget of nodes copied to remember anchored values; nested anchors would otherwise cost quadratic time.
const MAX_ANCHOR_NODES: u64 = 10_000_000;
const CORE_TAG: &str = "tag:yaml.org,2002:";

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// Where a node was written: its value, its key when it is a mapping value, and whether it was a plain scalar.
#[derive(Debug, Clone, Copy)]
pub struct NodeInfo {
    pub value: Position,
    pub key: Option<Position>,
    pub plain_scalar: bool,
}

/// Source positions of the nodes of one document, keyed by RFC 6901 JSON pointer ("" is the root).
#[derive(Debug, Default)]
pub struct SpanIndex {
    nodes: HashMap<String, NodeInfo>,
}

impl SpanIndex {
    pub fn get(&self, pointer: &str) -> Option<&NodeInfo> {
        self.nodes.get(pointer)
    }

    /// The position of the node, or of the nearest ancestor that has one (walk up the pointer).
    pub fn nearest(&self, pointer: &str) -> Option<Position> {
        let mut p = pointer;
        loop {
            if let Some(info) = self.nodes.get(p) {
                return Some(info.value);
            }
            // Nodes copied by merge keys or aliases have no own entry, so their parent has to speak for them.
            p = &p[..p.rfind('/')?];
        }
    }

    /// Position of the key of the node when it is a mapping value (for "unknown field" errors), else of the value.
    pub fn key_or_value(&self, pointer: &str) -> Option<Position> {
        self.nodes.get(pointer).map(|n| n.key.unwrap_or(n.value))
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message} at line {}, column {}", position.line, position.column)]
pub struct YamlError {
    pub message: String,
    pub position: Position,
}

fn err<T>(message: impl Into<String>, position: Position) -> Result<T, YamlError> {
    Err(YamlError { message: message.into(), position })
}

fn marker_pos(m: Marker) -> Position {
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Position { line: clamp(m.line()), column: clamp(m.col().saturating_add(1)) }
}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> Self {
        YamlError { message: e.info().to_string(), position: marker_pos(*e.marker()) }
    }
}

/// Resolve a plain (unquoted) scalar per the YAML 1.2 core schema.
///
/// `.inf` and `.nan` stay strings because JSON has no such numbers.
pub fn resolve_plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => parse_int(s).or_else(|| parse_float(s)).unwrap_or_else(|| Value::String(s.to_owned())),
    }
}

/// A finite f64 as a JSON number, or the source text when JSON cannot hold it.
fn float_or_text(f: f64, s: &str) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(s.to_owned()), Value::Number)
}

/// Core-schema integers: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn parse_int(s: &str) -> Option<Value> {
    let radix_digits = |digits: &str, radix: u32| -> Option<Value> {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        Some(match u64::from_str_radix(digits, radix) {
            Ok(n) => Value::from(n),
            // Too big for u64: approximate as f64 rather than losing the value entirely.
            Err(_) => {
                let f = digits
                    .chars()
                    .filter_map(|c| c.to_digit(radix))
                    .fold(0f64, |acc, d| acc * f64::from(radix) + f64::from(d));
                float_or_text(f, s)
            }
        })
    };
    if let Some(h) = s.strip_prefix("0x") {
        return radix_digits(h, 16);
    }
    if let Some(o) = s.strip_prefix("0o") {
        return radix_digits(o, 8);
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(Value::from(n));
    }
    match body.parse::<u64>() {
        Ok(n) if !s.starts_with('-') => return Some(Value::from(n)),
        _ => {}
    }
    Some(s.parse::<f64>().map_or_else(|_| Value::String(s.to_owned()), |f| float_or_text(f, s)))
}

/// Core-schema floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn parse_float(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits(&mut i);
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    Some(s.parse::<f64>().map_or_else(|_| Value::String(s.to_owned()), |f| float_or_text(f, s)))
}

/// The suffix of a `!!` core tag, `Some("")` for the non-specific `!` tag, `None` for other tags.
fn core_suffix(tag: Option<&Tag>) -> Option<&str> {
    let tag = tag?;
    if tag.handle == CORE_TAG {
        Some(tag.suffix.as_str())
    } else if tag.handle.is_empty() && tag.suffix == "!" {
        Some("")
    } else {
        None
    }
}

/// The JSON value of a scalar event, and whether it counts as a plain scalar.
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<(Value, bool), String> {
    let invalid = |t: &str| format!("invalid !!{t} value '{text}'");
    let v = match core_suffix(tag) {
        // The non-specific tag `!` forces a plain scalar to be a string, as the spec requires.
        Some("str" | "") => Value::String(text.to_owned()),
        Some("null") => Value::Null,
        Some("bool") => match resolve_plain_scalar(text) {
            b @ Value::Bool(_) => b,
            _ => return Err(invalid("bool")),
        },
        Some("int") => parse_int(text).ok_or_else(|| invalid("int"))?,
        Some("float") => match text {
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
            | ".NAN" => Value::String(text.to_owned()),
            _ => parse_float(text).ok_or_else(|| invalid("float"))?,
        },
        _ if style == ScalarStyle::Plain => {
            return Ok((resolve_plain_scalar(text), tag.is_none()));
        }
        _ => Value::String(text.to_owned()),
    };
    Ok((v, false))
}

/// A key's text in a string of exactly its length. The scanner's own string carries the capacity it
/// grew to while reading (`into_owned` would keep it): that slack was a third of a parsed YAML spec
/// (Stripe: 20.4 MiB of values against 12.5 exact; issue 17 item 10).
fn exact(text: std::borrow::Cow<'_, str>) -> String {
    text.as_ref().to_owned()
}

/// Append one RFC 6901 reference token to a pointer.
fn push_token(ptr: &mut String, token: &str) {
    ptr.push('/');
    for c in token.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
}

/// What a mapping frame expects next.
enum Pending {
    Key,
    Value(String, Position),
    /// The value of a `<<` merge key.
    Merge,
}

enum Kind {
    Seq(Vec<Value>),
    Map { map: Map<String, Value>, pending: Pending, merges: Vec<Map<String, Value>> },
}

struct Frame {
    kind: Kind,
    anchor: usize,
    /// Nodes in this collection so far, itself included; aliases to it are charged this much.
    nodes: u64,
    /// Length of the builder's pointer string when it names this collection.
    ptr_len: usize,
    /// False inside merge sources, whose pointers would not match where their keys end up.
    record: bool,
}

struct Builder {
    index: Option<SpanIndex>,
    ptr: String,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, u64)>,
    alias_nodes: u64,
    anchor_nodes: u64,
    root: Option<Value>,
}

impl Builder {
    /// Set `self.ptr` to the pointer of the next child of the top frame and record its position.
    /// Returns whether spans are recorded for the child's own children.
    fn enter_child(&mut self, at: Position, plain: bool) -> bool {
        let Some(index) = self.index.as_mut() else {
            return false;
        };
        let (key, record) = match self.stack.last() {
            None => {
                self.ptr.clear();
                (None, true)
            }
            Some(f) => {
                self.ptr.truncate(f.ptr_len);
                match &f.kind {
                    Kind::Seq(items) => {
                        push_token(&mut self.ptr, &items.len().to_string());
                        (None, f.record)
                    }
                    Kind::Map { pending: Pending::Value(k, kp), .. } => {
                        push_token(&mut self.ptr, k);
                        (Some(*kp), f.record)
                    }
                    Kind::Map { .. } => (None, false),
                }
            }
        };
        if record {
            index.nodes.insert(self.ptr.clone(), NodeInfo { value: at, key, plain_scalar: plain });
        }
        record
    }

    /// Attach a finished node to its parent (or make it the root), remembering it if anchored.
    fn finish(&mut self, value: Value, nodes: u64, anchor: usize, at: Position) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchor_nodes = self.anchor_nodes.saturating_add(nodes);
            if self.anchor_nodes > MAX_ANCHOR_NODES {
                return err("anchored nodes exceed the copy budget", at);
            }
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        top.nodes = top.nodes.saturating_add(nodes);
        match &mut top.kind {
            Kind::Seq(items) => items.push(value),
            Kind::Map { map, pending, merges } => match std::mem::replace(pending, Pending::Key) {
                Pending::Value(k, _) => {
                    map.insert(k, value);
                }
                Pending::Merge => match value {
                    Value::Object(m) => merges.push(m),
                    Value::Array(items) if items.iter().all(Value::is_object) => {
                        merges.extend(items.into_iter().filter_map(|v| match v {
                            Value::Object(m) => Some(m),
                            _ => None,
                        }));
                    }
                    _ => {
                        return err("a merge key '<<' needs a mapping or a sequence of mappings", at);
                    }
                },
                Pending::Key => return err("internal: value without a key", at),
            },
        }
        Ok(())
    }

    /// Handle a scalar or alias in key position of the mapping on top of the stack.
    fn key(&mut self, key: String, at: Position, merge: bool) -> Result<(), YamlError> {
        if let Some(Frame { kind: Kind::Map { map, pending, .. }, .. }) = self.stack.last_mut() {
            if merge {
                *pending = Pending::Merge;
            } else if map.contains_key(&key) {
                return err(format!("duplicate key '{key}'"), at);
            } else {
                *pending = Pending::Value(key, at);
            }
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { kind: Kind::Map { pending: Pending::Key, .. }, .. }))
    }

    fn open(&mut self, kind: Kind, anchor: usize, at: Position) -> Result<(), YamlError> {
        if self.expecting_key() {
            return err("complex mapping keys (a mapping or sequence used as a key) are not supported", at);
        }
        if self.stack.len() >= MAX_DEPTH {
            return err(format!("nesting deeper than {MAX_DEPTH} levels"), at);
        }
        let record = self.enter_child(at, false);
        self.stack.push(Frame { kind, anchor, nodes: 1, ptr_len: self.ptr.len(), record });
        Ok(())
    }

    fn close(&mut self, at: Position) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return err("unbalanced collection end", at);
        };
        let value = match frame.kind {
            // Collections grow while they are read: each is reallocated at its exact size once
            // complete, since a spec's values are held for the whole compile (see `json.rs`).
            Kind::Seq(mut items) => {
                items.shrink_to_fit();
                Value::Array(items)
            }
            Kind::Map { mut map, merges, .. } => {
                // Explicit keys win over merged ones, and earlier merge sources win over later ones.
                for source in merges {
                    for (k, v) in source {
                        map.entry(k).or_insert(v);
                    }
                }
                Value::Object(super::json::exact(map))
            }
        };
        self.finish(value, frame.nodes, frame.anchor, at)
    }

    fn event(&mut self, event: Event<'_>, at: Position) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let (value, plain) = scalar_value(&text, style, tag.as_deref()).or_else(|m| err(m, at))?;
                if self.expecting_key() {
                    let merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                    // Non-string keys keep their source text, except null, which reads as "null".
                    let key = if value.is_null() { "null".to_owned() } else { exact(text) };
                    if anchor != 0 {
                        self.anchors.insert(anchor, (Value::String(key.clone()), 1));
                    }
                    return self.key(key, at, merge);
                }
                self.enter_child(at, plain);
                self.finish(value, 1, anchor, at)
            }
            Event::Alias(id) => {
                let Some((value, nodes)) = self.anchors.get(&id) else {
                    return err("alias refers to a node that is still open (recursive alias)", at);
                };
                let nodes = *nodes;
                self.alias_nodes = self.alias_nodes.saturating_add(nodes);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return err(format!("alias expansion exceeds {MAX_ALIAS_NODES} nodes"), at);
                }
                let value = value.clone();
                if self.expecting_key() {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Object(_) | Value::Array(_) => {
                            return err(
                                "complex mapping keys (a mapping or sequence used as a key) are not supported",
                                at,
                            );
                        }
                        other => other.to_string(),
                    };
                    return self.key(key, at, false);
                }
                self.enter_child(at, false);
                self.finish(value, nodes, 0, at)
            }
            Event::SequenceStart(anchor, _) => self.open(Kind::Seq(Vec::new()), anchor, at),
            Event::MappingStart(anchor, _) => {
                let kind = Kind::Map { map: Map::new(), pending: Pending::Key, merges: Vec::new() };
                self.open(kind, anchor, at)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(at),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {
                Ok(())
            }
        }
    }
}

/// Parse one YAML document. `with_spans` false skips building the index (big specs).
///
/// Only the first document of a multi-document stream is used; an empty stream yields `Value::Null`.
pub fn parse(text: &str, with_spans: bool) -> Result<(Value, SpanIndex), YamlError> {
    let mut b = Builder {
        index: with_spans.then(SpanIndex::default),
        ptr: String::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        anchor_nodes: 0,
        root: None,
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item?;
        // Stop at the end of the first document; later documents are not even scanned.
        if matches!(event, Event::DocumentEnd | Event::StreamEnd) {
            break;
        }
        b.event(event, marker_pos(span.start))?;
    }
    let mut index = b.index.unwrap_or_default();
    if with_spans && index.nodes.is_empty() {
        index
            .nodes
            .insert(String::new(), NodeInfo { value: Position { line: 1, column: 1 }, key: None, plain_scalar: false });
    }
    Ok((b.root.unwrap_or(Value::Null), index))
}

/// Most flow collections re-indented in one document before the loader gives up; each costs a parse.
const MAX_RECOVERIES: usize = 64;

/// A flow collection (`{ ... }`, `[ ... ]`) whose lines were indented at or left of its key, which
/// YAML 1.2 forbids and PyYAML and js-yaml accept; it was read as they read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// 1-based line where the flow collection opens.
    pub opened: u32,
    /// 1-based line where it closes.
    pub closed: u32,
}

/// [`parse`], recovering from the one class of indentation error that common YAML loaders accept: lines
/// of a flow collection indented at or left of the block that holds it (Docker Engine's description
/// writes `example: {` with its members and `}` at the key's column). Indentation inside a flow
/// collection carries no meaning (line breaks fold to spaces), so those lines are shifted right and
/// the document is parsed again; anything else is refused as before.
pub fn parse_lenient(text: &str) -> Result<(Value, Vec<Recovered>), YamlError> {
    let mut recovered = Vec::new();
    let mut fixed: Option<String> = None;
    loop {
        let current = fixed.as_deref().unwrap_or(text);
        let error = match parse(current, false) {
            Ok((value, _)) => return Ok((value, recovered)),
            Err(error) => error,
        };
        if recovered.len() >= MAX_RECOVERIES || !error.message.contains("indentation") {
            return Err(error);
        }
        let lines: Vec<&str> = current.split('\n').collect();
        let Some(range) = enclosing_flow(&lines, error.position.line as usize) else {
            return Err(error);
        };
        if recovered.iter().any(|r: &Recovered| r.opened as usize == range.0 + 1) {
            // Shifted once already and still refused: not the cosmetic case.
            return Err(error);
        }
        fixed = Some(reindent(&lines, range));
        recovered.push(Recovered { opened: range.0 as u32 + 1, closed: range.1 as u32 + 1 });
    }
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The change in flow nesting over one line (`{`/`[` open, `}`/`]` close), outside quotes and comments.
fn bracket_balance(line: &str) -> isize {
    let mut balance = 0;
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if !previous.is_alphanumeric() => quote = Some(c),
            (None, '#') if previous.is_whitespace() => break,
            (None, '{' | '[') => balance += 1,
            (None, '}' | ']') => balance -= 1,
            _ => {}
        }
        previous = c;
    }
    balance
}

/// The 0-based lines (opening, closing) of the flow collection that encloses 1-based `line`, when it
/// opened on an earlier line.
fn enclosing_flow(lines: &[&str], line: usize) -> Option<(usize, usize)> {
    let error_index = line.checked_sub(1)?;
    let mut depth = 0;
    let mut opened = None;
    for index in (0..error_index).rev().take(2_000) {
        depth += bracket_balance(lines[index]);
        if depth > 0 {
            opened = Some(index);
            break;
        }
    }
    let opened = opened?;
    let mut depth = 0;
    for (index, text) in lines.iter().enumerate().skip(opened) {
        depth += bracket_balance(text);
        if depth <= 0 {
            return (index >= error_index).then_some((opened, index));
        }
    }
    None
}

/// Shifts the lines after `opened` up to `closed` right, so that the least indented is two columns
/// deeper than the opening line.
fn reindent(lines: &[&str], (opened, closed): (usize, usize)) -> String {
    let target = indentation(lines[opened]) + 2;
    let least = lines[opened + 1..=closed]
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| indentation(line))
        .min()
        .unwrap_or(target);
    let shift = " ".repeat(target.saturating_sub(least));
    let mut out = String::with_capacity(lines.iter().map(|line| line.len() + 1).sum::<usize>() + shift.len() * 64);
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        if index > opened && index <= closed && !line.trim().is_empty() {
            out.push_str(&shift);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    fn val(text: &str) -> Value {
        parse(text, false).expect("parse").0
    }

    fn fail(text: &str) -> YamlError {
        parse(text, true).expect_err("should fail")
    }

    #[test]
    fn plain_scalar_resolution_table() {
        let cases: &[(&str, Value)] = &[
            ("", Value::Null),
            ("~", Value::Null),
            ("null", Value::Null),
            ("Null", Value::Null),
            ("NULL", Value::Null),
            ("nULL", json!("nULL")),
            ("true", json!(true)),
            ("True", json!(true)),
            ("TRUE", json!(true)),
            ("false", json!(false)),
            ("False", json!(false)),
            ("FALSE", json!(false)),
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("0", json!(0)),
            ("-0", json!(0)),
            ("42", json!(42)),
            ("+42", json!(42)),
            ("-17", json!(-17)),
            ("012", json!(12)),
            ("0x1F", json!(31)),
            ("0xff", json!(255)),
            ("0o17", json!(15)),
            ("0o18", json!("0o18")),
            ("0x", json!("0x")),
            ("-0x10", json!("-0x10")),
            ("1_000", json!("1_000")),
            ("18446744073709551615", json!(u64::MAX)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("1.5", json!(1.5)),
            ("-1.5", json!(-1.5)),
            (".5", json!(0.5)),
            ("1.", json!(1.0)),
            ("1e3", json!(1000.0)),
            ("1E-2", json!(0.01)),
            ("2.5e+2", json!(250.0)),
            ("1e", json!("1e")),
            (".", json!(".")),
            ("1.2.3", json!("1.2.3")),
            ("3.0.0", json!("3.0.0")),
            ("1e999", json!("1e999")),
            (".inf", json!(".inf")),
            ("-.inf", json!("-.inf")),
            (".nan", json!(".nan")),
            ("hello world", json!("hello world")),
            ("2024-01-01", json!("2024-01-01")),
        ];
        for (input, expected) in cases {
            assert_eq!(&resolve_plain_scalar(input), expected, "resolving {input:?}");
        }
        // Overflowing integers fall back to f64.
        assert_eq!(resolve_plain_scalar("99999999999999999999"), json!(1e20));
        assert_eq!(resolve_plain_scalar("-99999999999999999999"), json!(-1e20));
        assert_eq!(resolve_plain_scalar("0xFFFFFFFFFFFFFFFFFF"), json!(4722366482869645213696.0));
    }

    #[test]
    fn quoted_and_block_scalars_are_strings() {
        let v = val("a: '1'\nb: \"true\"\nc: |\n  42\nd: >\n  null\ne: ''\nf: 1\ng: \"~\"\n");
        assert_eq!(v, json!({"a": "1", "b": "true", "c": "42\n", "d": "null\n", "e": "", "f": 1, "g": "~"}));
    }

    #[test]
    fn plain_scalar_flag() {
        let (_, idx) = parse("a: 1\nb: '1'\nc: !!int 1\nd: x\ne: |\n  y\nf: !custom 2\n", true).unwrap();
        assert!(idx.get("/a").unwrap().plain_scalar);
        assert!(!idx.get("/b").unwrap().plain_scalar);
        assert!(!idx.get("/c").unwrap().plain_scalar);
        assert!(idx.get("/d").unwrap().plain_scalar);
        assert!(!idx.get("/e").unwrap().plain_scalar);
        assert!(!idx.get("/f").unwrap().plain_scalar);
        assert!(!idx.get("").unwrap().plain_scalar);
    }

    #[test]
    fn tags() {
        let v = val(concat!(
            "s: !!str 123\n",
            "t: !!str true\n",
            "i: !!int \"42\"\n",
            "h: !!int 0x10\n",
            "f: !!float 1\n",
            "g: !!float '2.5'\n",
            "inf: !!float .inf\n",
            "b: !!bool 'false'\n",
            "n: !!null ''\n",
            "u: !custom 7\n",
            "v: !custom '7'\n",
            "w: ! 7\n",
            "m: !!map {x: 1}\n",
            "q: !!seq [1]\n",
        ));
        assert_eq!(
            v,
            json!({"s": "123", "t": "true", "i": 42, "h": 16, "f": 1.0, "g": 2.5, "inf": ".inf", "b": false,
                   "n": null, "u": 7, "v": "7", "w": "7", "m": {"x": 1}, "q": [1]})
        );
        let e = fail("a: !!int abc\n");
        assert_eq!(e.message, "invalid !!int value 'abc'");
        assert_eq!(e.position, p(1, 4));
        assert_eq!(fail("a: !!bool yes\n").message, "invalid !!bool value 'yes'");
        assert_eq!(fail("a: !!float x\n").message, "invalid !!float value 'x'");
    }

    /// Keys and strings are held at their exact size, whatever the scanner grew while reading them.
    #[test]
    fn strings_are_allocated_at_their_exact_size() {
        let text = "description_of_a_long_key_name: a value long enough to have grown\n\"quoted key\": |\n  block\n  text\nnested:\n  another_rather_long_key: [x, 'y']\n";
        let mut stack = vec![val(text)];
        let mut seen = 0;
        while let Some(value) = stack.pop() {
            match value {
                Value::Object(map) => {
                    for (key, child) in map {
                        assert_eq!(key.capacity(), key.len(), "{key}");
                        seen += 1;
                        stack.push(child);
                    }
                }
                Value::Array(items) => stack.extend(items),
                Value::String(s) => assert_eq!(s.capacity(), s.len(), "{s}"),
                _ => {}
            }
        }
        assert_eq!(seen, 4);
    }

    #[test]
    fn keys_become_strings() {
        let v = val("200: ok\ntrue: t\n1.5: f\n~: n\n0x10: h\n'quoted': q\n");
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys, ["200", "true", "1.5", "null", "0x10", "quoted"]);
        assert_eq!(obj["200"], json!("ok"));
    }

    #[test]
    fn null_keys_collide() {
        let e = fail("~: a\nnull: b\n");
        assert_eq!(e.message, "duplicate key 'null'");
        assert_eq!(e.position, p(2, 1));
    }

    #[test]
    fn flow_and_empty_keys() {
        assert_eq!(val("{a: 1, b: [x, y], 404: z}"), json!({"a": 1, "b": ["x", "y"], "404": "z"}));
        assert_eq!(val("? \n: v\n"), json!({"null": "v"}));
        assert_eq!(val("a:\nb: ~\n"), json!({"a": null, "b": null}));
    }

    #[test]
    fn complex_keys_are_errors() {
        let e = fail("x: 1\n? {a: 1}\n: v\n");
        assert!(e.message.contains("complex mapping keys"), "{e}");
        assert_eq!(e.position, p(2, 3));
        let e = fail("? [a, b]\n: v\n");
        assert_eq!(e.position, p(1, 3));
        assert!(fail("a: &m {x: 1}\n*m : v\n").message.contains("complex mapping keys"));
    }

    #[test]
    fn duplicate_key_error_with_position() {
        let e = fail("top:\n  name: a\n  other: b\n  name: c\n");
        assert_eq!(e.message, "duplicate key 'name'");
        assert_eq!(e.position, p(4, 3));
        assert_eq!(e.to_string(), "duplicate key 'name' at line 4, column 3");
        // The same key in different mappings is fine.
        assert!(parse("a: {x: 1}\nb: {x: 2}\n", true).is_ok());
        // Quoted and plain spellings of the same key are still the same key.
        assert_eq!(fail("200: a\n'200': b\n").position, p(2, 1));
    }

    #[test]
    fn anchors_and_aliases() {
        let v = val("base: &b {x: 1, y: [1, 2]}\ncopy: *b\nname: &n hello\nagain: *n\nlist: [*n, *b]\n");
        assert_eq!(
            v,
            json!({"base": {"x": 1, "y": [1, 2]}, "copy": {"x": 1, "y": [1, 2]}, "name": "hello", "again": "hello",
                   "list": ["hello", {"x": 1, "y": [1, 2]}]})
        );
        // An anchor may be redefined; aliases see the latest definition.
        assert_eq!(val("a: &x 1\nb: *x\nc: &x 2\nd: *x\n"), json!({"a": 1, "b": 1, "c": 2, "d": 2}));
        // Anchored keys can be reused as keys.
        assert_eq!(val("&k name: 1\nother: *k\n"), json!({"name": 1, "other": "name"}));
        // An alias to an unknown anchor is a scanner/parser error.
        assert!(parse("a: *nope\n", false).is_err());
    }

    #[test]
    fn alias_to_open_node_is_error() {
        let e = fail("a: &x\n  b: *x\n");
        assert!(e.message.contains("still open"), "{e}");
        assert_eq!(e.position, p(2, 6));
    }

    #[test]
    fn merge_keys() {
        let v = val(concat!(
            "defaults: &d {timeout: 5, retries: 3}\n",
            "extra: &e {retries: 9, verbose: true}\n",
            "one:\n  <<: *d\n  timeout: 10\n",
            "two:\n  name: x\n  <<: [*e, *d]\n",
            "three: {<<: {a: 1}, b: 2}\n",
            "quoted: {'<<': 1}\n",
        ));
        assert_eq!(v["one"], json!({"timeout": 10, "retries": 3}));
        assert_eq!(v["two"], json!({"name": "x", "retries": 9, "verbose": true, "timeout": 5}));
        assert_eq!(v["three"], json!({"b": 2, "a": 1}));
        assert_eq!(v["quoted"], json!({"<<": 1}));
        let e = fail("a:\n  <<: 5\n");
        assert!(e.message.contains("merge key"), "{e}");
        // Merged-in keys do not count as duplicates of explicit keys.
        assert!(parse("d: &d {a: 1}\nx:\n  a: 2\n  <<: *d\n", true).is_ok());
    }

    #[test]
    fn positions_of_nested_nodes() {
        let text = "upstreams:\n  petstore:\n    url: http://x\n    tools:\n      - name: a\n      - &t\n        name: b\n    flow: {k: [1, 'two']}\n";
        let (_, idx) = parse(text, true).unwrap();
        let info = |ptr: &str| *idx.get(ptr).unwrap_or_else(|| panic!("missing {ptr}"));
        assert_eq!(info("").value, p(1, 1));
        assert_eq!(info("").key, None);
        assert_eq!(info("/upstreams").key, Some(p(1, 1)));
        assert_eq!(info("/upstreams").value, p(2, 3));
        assert_eq!(info("/upstreams/petstore").key, Some(p(2, 3)));
        assert_eq!(info("/upstreams/petstore").value, p(3, 5));
        assert_eq!(info("/upstreams/petstore/url").key, Some(p(3, 5)));
        assert_eq!(info("/upstreams/petstore/url").value, p(3, 10));
        assert_eq!(info("/upstreams/petstore/tools").key, Some(p(4, 5)));
        assert_eq!(info("/upstreams/petstore/tools").value, p(5, 7));
        assert_eq!(info("/upstreams/petstore/tools/0").value, p(5, 9));
        assert_eq!(info("/upstreams/petstore/tools/0").key, None);
        assert_eq!(info("/upstreams/petstore/tools/0/name").key, Some(p(5, 9)));
        assert_eq!(info("/upstreams/petstore/tools/0/name").value, p(5, 15));
        assert_eq!(info("/upstreams/petstore/tools/1").value, p(6, 9));
        assert_eq!(info("/upstreams/petstore/tools/1/name").key, Some(p(7, 9)));
        assert_eq!(info("/upstreams/petstore/flow").value, p(8, 11));
        assert_eq!(info("/upstreams/petstore/flow/k").key, Some(p(8, 12)));
        assert_eq!(info("/upstreams/petstore/flow/k/0").value, p(8, 16));
        assert_eq!(info("/upstreams/petstore/flow/k/1").value, p(8, 19));
        assert_eq!(idx.key_or_value("/upstreams/petstore/url"), Some(p(3, 5)));
        assert_eq!(idx.key_or_value("/upstreams/petstore/tools/0"), Some(p(5, 9)));
        assert_eq!(idx.nearest("/upstreams/petstore/tools/0/missing/deeper"), Some(p(5, 9)));
        assert_eq!(idx.nearest("/nothing"), Some(p(1, 1)));
        assert_eq!(idx.key_or_value("/nothing"), None);
    }

    #[test]
    fn columns_count_characters() {
        let (_, idx) = parse("é: ü\nb: [ß, x]\n", true).unwrap();
        assert_eq!(idx.get("/é").unwrap().value, p(1, 4));
        assert_eq!(idx.get("/b/1").unwrap().value, p(2, 8));
    }

    #[test]
    fn aliases_and_merges_have_no_inner_entries() {
        let (v, idx) = parse("a: &x {k: 1}\nb: *x\nc:\n  <<: {m: 2}\n", true).unwrap();
        assert_eq!(v["c"], json!({"m": 2}));
        assert_eq!(idx.get("/b").unwrap().value, p(2, 4));
        assert!(idx.get("/b/k").is_none());
        assert_eq!(idx.nearest("/b/k"), Some(p(2, 4)));
        assert!(idx.get("/c/m").is_none());
        assert_eq!(idx.nearest("/c/m"), Some(p(4, 3)));
    }

    #[test]
    fn pointer_escaping() {
        let (v, idx) = parse("paths:\n  /pets/{id}:\n    get: {}\n  a~b: 1\n", true).unwrap();
        assert!(v["paths"]["/pets/{id}"].is_object());
        assert_eq!(idx.get("/paths/~1pets~1{id}").unwrap().key, Some(p(2, 3)));
        assert_eq!(idx.get("/paths/~1pets~1{id}/get").unwrap().value, p(3, 10));
        assert_eq!(idx.get("/paths/a~0b").unwrap().value, p(4, 8));
    }

    #[test]
    fn syntax_error_position() {
        let e = fail("a: 1\nb: [1, 2\nc: 3\n");
        assert!(e.position.line >= 2, "{e}");
        // The scanner reports an unterminated quote at its opening quote.
        let e = fail("a: 'unterminated\n");
        assert_eq!(e.position, p(1, 4), "{e}");
        let e = fail("key: value\n  bad: indent\n");
        assert_eq!(e.position, p(2, 6), "{e}");
        assert!(!e.message.is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // The scanner itself caps flow nesting at 255 levels (a u8 counter).
        let ok = format!("{}{}", "[".repeat(255), "]".repeat(255));
        assert!(parse(&ok, true).is_ok());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = fail(&deep);
        assert!(e.message.contains("nesting") || e.message.contains("recursion"), "{e}");
        let mut block = String::new();
        for i in 0..MAX_DEPTH {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert!(parse(&block, false).is_ok());
        block.push_str(&" ".repeat(MAX_DEPTH));
        block.push_str("k:\n");
        let e = fail(&block);
        assert!(e.message.contains("nesting deeper than 512"), "{e}");
        assert_eq!(e.position, p(MAX_DEPTH as u32 + 1, MAX_DEPTH as u32 + 1));
    }

    #[test]
    fn empty_and_multi_document_streams() {
        let (v, idx) = parse("", true).unwrap();
        assert_eq!(v, Value::Null);
        assert_eq!(idx.nearest("/x"), Some(p(1, 1)));
        assert_eq!(val("# only a comment\n"), Value::Null);
        assert_eq!(val("---\n"), Value::Null);
        assert_eq!(val("---\na: 1\n---\nb: 2\n"), json!({"a": 1}));
        assert_eq!(val("plain text"), json!("plain text"));
        assert!(parse("", false).unwrap().1.is_empty());
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='j' {
            text.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = name;
        }
        let e = fail(&text);
        assert!(e.message.contains("alias expansion"), "{e}");
        // A modest amount of reuse is fine.
        assert!(parse("a: &a [1, 2]\nb: [*a, *a, *a]\n", true).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        // A tiny deterministic generator keeps the test dependency-free.
        let alphabet: Vec<char> = " \n\t-:?[]{},&*!|>'\"#%@`ab1.~<\\é".chars().collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let len = (seed % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let _ = parse(&s, true);
        }
    }

    fn spec(name: &str) -> Option<String> {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/specs")).join(name);
        // ../shared sits beside the checkout in development and CI; a missing corpus is a failure.
        Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    #[test]
    fn real_specs() {
        if let Some(text) = spec("stripe.v3.yaml") {
            let start = std::time::Instant::now();
            let (v, idx) = parse(&text, false).unwrap();
            eprintln!("stripe.v3.yaml without spans: {:?}", start.elapsed());
            assert!(idx.is_empty());
            assert_eq!(v["openapi"], json!("3.0.0"));
            assert!(v["paths"].as_object().is_some_and(|p| p.len() > 100));
            let start = std::time::Instant::now();
            let (v2, idx) = parse(&text, true).unwrap();
            eprintln!("stripe.v3.yaml with spans: {:?} ({} nodes)", start.elapsed(), idx.len());
            assert_eq!(v, v2);
            assert_eq!(idx.get("/openapi").unwrap().key.unwrap().column, 1);
        }
        if let Some(text) = spec("petstore3.yaml") {
            let (v, idx) = parse(&text, true).unwrap();
            assert!(v["paths"]["/pet"].is_object());
            assert!(v["openapi"].is_string());
            assert!(idx.get("/paths/~1pet").is_some());
        }
        if let Some(text) = spec("readme-petstore.v31.yaml") {
            let (v, _) = parse(&text, true).unwrap();
            // `/pet` `put` only lists 400/404/405 in this file, so check a path that has a 200 response.
            let put = v["paths"]["/pet"]["put"]["responses"].as_object().unwrap();
            assert!(put.contains_key("405"));
            let get = v["paths"]["/pet/findByStatus"]["get"]["responses"].as_object().unwrap();
            assert!(get["200"].is_object());
        }
    }

    #[test]
    fn flow_collections_indented_at_their_key_are_recovered() {
        // Members at the key's column (what Docker Engine's description does), and left of it.
        let text = "definitions:\n  Labels:\n    example: {\n    \"com.example.a\": \"x\",\n    \"b\": [1,\n    2]\n    }\n    type: object\n  Other:\n    example: [\n  1, 2\n  ]\n";
        assert!(parse(text, false).is_err(), "the strict parser refuses it");
        let (value, recovered) = parse_lenient(text).expect("recovered");
        assert_eq!(
            value,
            json!({"definitions": {"Labels": {"example": {"com.example.a": "x", "b": [1, 2]}, "type": "object"}, "Other": {"example": [1, 2]}}})
        );
        assert_eq!(recovered, vec![Recovered { opened: 3, closed: 7 }, Recovered { opened: 10, closed: 12 }]);
    }

    #[test]
    fn other_indentation_errors_are_still_refused() {
        for text in ["a:\n  b: 1\n c: 2\n", "a: 'x\n\tb'\n  c: d\n", "a:\n  - 1\n - 2\n"] {
            if parse(text, false).is_err() {
                let strict = parse(text, false).unwrap_err().to_string();
                assert_eq!(parse_lenient(text).unwrap_err().to_string(), strict, "{text:?}");
            }
        }
        let (value, recovered) = parse_lenient("a: {x: 1}\n").unwrap();
        assert_eq!((value, recovered), (json!({"a": {"x": 1}}), vec![]));
    }

    #[test]
    fn brackets_in_quotes_and_comments_do_not_count() {
        assert_eq!(bracket_balance("a: \"{[\" # ]]"), 0);
        assert_eq!(bracket_balance("example: { # opens"), 1);
        assert_eq!(bracket_balance("'it''s {', [\"\\\"]\"]"), 0);
        assert_eq!(bracket_balance("don't {"), 1);
    }
}
