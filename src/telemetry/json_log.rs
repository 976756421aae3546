//! JSON log lines written straight into the line buffer: the same objects as tracing-subscriber's
//! JSON format with `flatten_event` and `with_current_span` (timestamp, level, the event's fields in
//! order, target, and the current span's fields and name), without its per-line detours. Its
//! formatter builds a serde map per line and parses the current span's stored fields back from JSON
//! text for every line, and its span-field formatter re-parses and re-serialises a span's fields on
//! every `record`, four times per tool call here. Here a span's fields are JSON object text appended
//! to in place (re-built only when a field is recorded a second time), and a line splices that text.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format: one JSON object per line.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

/// The span-field format: a JSON object of the span's fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSpanFields;

impl<S> FormatEvent<S, JsonSpanFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, JsonSpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", metadata.level())?;
        let mut fields = Entries { out: &mut writer, result: Ok(()), first: false, span: false, names: Vec::new() };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_string(&mut writer, metadata.target())?;
        let span = event.parent().and_then(|id| context.span(id)).or_else(|| context.lookup_current());
        if let Some(span) = span {
            let extensions = span.extensions();
            let stored = extensions.get::<FormattedFields<JsonSpanFields>>().map_or("", |f| f.fields.as_str());
            writer.write_str(",\"span\":")?;
            match stored.strip_suffix('}') {
                Some(open) if open.len() > 1 => writer.write_str(open)?,
                _ => writer.write_str("{")?,
            }
            if stored.len() > 2 {
                writer.write_str(",")?;
            }
            writer.write_str("\"name\":")?;
            write_string(&mut writer, span.metadata().name())?;
            writer.write_str("}")?;
        }
        writer.write_str("}\n")
    }
}

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut object = String::new();
        let mut entries = Entries::span(&mut object);
        fields.record(&mut entries);
        entries.result?;
        writer.write_char('{')?;
        writer.write_str(&object)?;
        writer.write_char('}')
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        let mut entries = Entries::span(&mut added);
        fields.record(&mut entries);
        entries.result?;
        let names = entries.names;
        if added.is_empty() {
            return Ok(());
        }
        let stored = &mut current.fields;
        let seen = names.iter().any(|name| stored.contains(&format!("\"{name}\":")));
        if !seen && stored.len() >= 2 && stored.ends_with('}') {
            stored.pop();
            if stored.len() > 1 {
                stored.push(',');
            }
            stored.push_str(&added);
            stored.push('}');
            return Ok(());
        }
        // A field recorded again (or fields stored by something else): merge, later values winning.
        let mut merged: serde_json::Map<String, serde_json::Value> = serde_json::from_str(stored).unwrap_or_default();
        let added: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{{added}}}")).map_err(|_| fmt::Error)?;
        merged.extend(added);
        *stored = serde_json::Value::Object(merged).to_string();
        Ok(())
    }
}

/// Writes `"name":value` entries, comma-separated, the way serde_json would write them.
struct Entries<'a, W: Write> {
    out: &'a mut W,
    result: fmt::Result,
    /// Whether no entry has been written yet (events start after `level`, so with a comma).
    first: bool,
    /// Span fields: a raw identifier's `r#` is dropped (as tracing-subscriber does for spans), and
    /// the names written are noted.
    span: bool,
    names: Vec<&'static str>,
}

impl<'a, W: Write> Entries<'a, W> {
    fn span(out: &'a mut W) -> Self {
        Entries { out, result: Ok(()), first: true, span: true, names: Vec::new() }
    }

    fn entry(&mut self, name: &'static str, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = if self.span {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.names.push(name);
            name
        } else {
            name
        };
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.out.write_char(',')?;
            }
            write_string(self.out, name)?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl<W: Write> Visit for Entries<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field.name(), |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field.name(), |out| write_string(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field.name(), |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field.name(), |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field.name(), |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field.name(), |out| out.write_str(&serde_json::Value::from(value).to_string()));
    }
}

/// A JSON string, escaped as serde_json escapes it.
fn write_string(out: &mut (impl Write + ?Sized), text: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(text)?;
    out.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string: `"`, `\` and control characters, with
/// serde_json's short forms (`\n`, `\t`, ...) and `\u00xx` for the others.
struct Escaped<'a, W: Write + ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut start = 0;
        for (index, byte) in text.bytes().enumerate() {
            let short = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[start..index])?;
            if short.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(short)?;
            }
            start = index + 1;
        }
        self.0.write_str(&text[start..])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What happens in a request: spans with fields recorded later (once, twice), events of every
    /// field type, escapes, an event outside any span.
    fn activity() {
        tracing::info!(target: "outside", count = 3u64, "no span \"here\"");
        let request = tracing::info_span!(
            "mcp.request",
            otel.name = tracing::field::Empty,
            request_id = "6f1c",
            http.response.status_code = tracing::field::Empty,
        );
        let _request = request.enter();
        request.record("otel.name", "mcp tools/call");
        tracing::warn!(ratio = 0.25f64, negative = -7i64, flag = true, text = %"a\tb\u{1}c\u{7f}é", "first {}", 1);
        let call = tracing::info_span!(
            "mcp.tools.call",
            gen_ai.tool.name = "get_pet",
            api2mcp.outcome = tracing::field::Empty
        );
        let _call = call.enter();
        call.record("api2mcp.outcome", "ok");
        call.record("api2mcp.outcome", "upstream");
        tracing::info!(target: "audit", subject = "-", tool = "get_pet", duration_ms = 0u64, arguments = %"petId", "tool call allowed");
        request.record("http.response.status_code", 200u64);
        let empty = tracing::info_span!("empty");
        let _empty = empty.enter();
        tracing::error!(error = ?std::io::Error::other("boom"), "inside an empty span");
    }

    fn lines_of<S: Subscriber + Send + Sync + 'static>(subscriber: S, lines: &Lines) -> Vec<Value> {
        tracing::subscriber::with_default(subscriber, activity);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| {
                let mut value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert!(value["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
                value.as_object_mut().unwrap().remove("timestamp");
                value
            })
            .collect()
    }

    #[test]
    fn lines_hold_what_tracing_subscribers_json_format_writes() {
        let ours = Lines::default();
        let reference = Lines::default();
        let ours_subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonSpanFields)
            .event_format(JsonLines)
            .with_writer({
                let ours = ours.clone();
                move || ours.clone()
            })
            .finish();
        let reference_subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_writer({
                let reference = reference.clone();
                move || reference.clone()
            })
            .finish();
        let expected = lines_of(reference_subscriber, &reference);
        let got = lines_of(ours_subscriber, &ours);
        assert_eq!(got.len(), 4);
        assert_eq!(got, expected);
        // The field recorded twice holds its last value.
        assert_eq!(got[2]["span"]["api2mcp.outcome"], "upstream");
    }

    proptest! {
        #[test]
        fn escaped_strings_read_back_as_written(text in any::<String>()) {
            let mut out = String::new();
            write_string(&mut out, &text).unwrap();
            prop_assert_eq!(&out, &serde_json::to_string(&text).unwrap());
        }
    }
}
