//! OpenTelemetry traces over OTLP/HTTP (protobuf), configured only by the standard `OTEL_*`
//! variables and off when no endpoint is set. `tracing` spans become OTel spans (one per MCP
//! request, one per tool call, one per upstream request); W3C `traceparent` is taken from the
//! incoming request (header or `_meta`) and sent on every upstream request.
//!
//! gRPC is not built in: it would pull tonic and roughly double the exporter's build cost, and every
//! collector accepts OTLP/HTTP on 4318. `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` is reported, not obeyed.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Flushes the spans still queued when dropped or shut down.
pub struct Guard(Option<SdkTracerProvider>);

impl Guard {
    pub fn shutdown(mut self) {
        if let Some(provider) = self.0.take() {
            let _ = provider.shutdown();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            let _ = provider.shutdown();
        }
    }
}

type OtelLayer =
    tracing_opentelemetry::OpenTelemetryLayer<tracing_subscriber::Registry, opentelemetry_sdk::trace::Tracer>;

/// Whether the variables ask for traces: an OTLP endpoint is set, the SDK is not disabled, and the
/// traces exporter is not `none`.
pub fn enabled(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let exporter_none = env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && !disabled && !exporter_none
}

/// The layer and its guard when traces are enabled, plus a warning for settings that are not obeyed.
pub fn from_env(env: impl Fn(&str) -> Option<String>) -> (Guard, Option<OtelLayer>, Option<String>) {
    if !enabled(&env) {
        return (Guard(None), None, None);
    }
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    let warning = protocol.filter(|p| p.trim() != "http/protobuf").map(|p| {
        format!("OTEL_EXPORTER_OTLP_PROTOCOL={p} is not supported by this build; exporting traces as http/protobuf")
    });
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            return (Guard(None), None, Some(format!("traces are off: cannot build the OTLP exporter: {error}")));
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| attributes.contains("service.name="));
    if !named {
        resource = resource.with_service_name("api2mcp");
    }
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    let tracer = provider.tracer("api2mcp");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    (Guard(Some(provider)), Some(tracing_opentelemetry::layer().with_tracer(tracer)), warning)
}

/// Makes `span` a child of the W3C trace context in `traceparent` / `tracestate`, when valid.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else { return };
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_string(), traceparent.to_string());
    if let Some(tracestate) = tracestate {
        carrier.insert("tracestate".to_string(), tracestate.to_string());
    }
    let context = TraceContextPropagator::new().extract(&Carrier(&mut carrier));
    use opentelemetry::trace::TraceContextExt;
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The `traceparent` (and `tracestate`) headers that make an upstream request a child of `span`;
/// empty when traces are off.
pub fn outgoing_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let context = span.context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut Carrier(&mut carrier));
    carrier.into_iter().collect()
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn traces_are_on_only_with_an_endpoint_and_not_disabled() {
        assert!(!enabled(&env(&[])));
        assert!(enabled(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")])));
        assert!(enabled(&env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")])));
        assert!(!enabled(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"), ("OTEL_SDK_DISABLED", "true")])));
        assert!(!enabled(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"), ("OTEL_TRACES_EXPORTER", "none")])));
    }

    #[test]
    fn without_a_tracer_nothing_is_propagated() {
        let span = tracing::info_span!("test");
        continue_trace(&span, Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), None);
        assert!(outgoing_headers(&span).is_empty());
    }
}
