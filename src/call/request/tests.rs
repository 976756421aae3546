//! The request builder's rules, hostile values first, each read off the built request.

use base64::Engine as _;
use serde_json::json;

use super::body::decode_base64;
use super::*;
use crate::catalogue::{CredentialChoice, PropertyEncoding, RequestBody};

const BASE: &str = "https://api.example.com/v1";

fn bind(name: &str, location: ArgumentLocation, style: ParameterStyle, explode: bool) -> ArgumentBinding {
    ArgumentBinding {
        argument: name.to_string(),
        location,
        wire_name: name.to_string(),
        required: location == ArgumentLocation::Path,
        style,
        explode,
        allow_reserved: false,
    }
}

fn path_param(name: &str) -> ArgumentBinding {
    bind(name, ArgumentLocation::Path, ParameterStyle::Simple, false)
}

fn query_param(name: &str) -> ArgumentBinding {
    bind(name, ArgumentLocation::Query, ParameterStyle::Form, true)
}

fn required(mut binding: ArgumentBinding) -> ArgumentBinding {
    binding.required = true;
    binding
}

fn get(path: &str, arguments: Vec<ArgumentBinding>) -> UpstreamCall {
    UpstreamCall {
        method: HttpMethod::Get,
        path: path.to_string(),
        arguments,
        body: None,
        accept: Vec::new(),
        fixed_query: Vec::new(),
        declared_content_type: None,
        credentials: CredentialChoice::All,
    }
}

fn post(content_type: &str, body_required: bool, arguments: Vec<ArgumentBinding>) -> UpstreamCall {
    UpstreamCall {
        method: HttpMethod::Post,
        path: "/upload".to_string(),
        arguments,
        body: Some(RequestBody {
            content_type: content_type.to_string(),
            required: body_required,
            encoding: Vec::new(),
        }),
        accept: Vec::new(),
        fixed_query: Vec::new(),
        declared_content_type: None,
        credentials: CredentialChoice::All,
    }
}

fn property(name: &str, is_required: bool) -> ArgumentBinding {
    ArgumentBinding { required: is_required, ..bind(name, ArgumentLocation::BodyProperty, ParameterStyle::Form, true) }
}

fn whole_body(is_required: bool) -> ArgumentBinding {
    ArgumentBinding { required: is_required, ..bind("body", ArgumentLocation::Body, ParameterStyle::Form, true) }
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test arguments must be an object, got {other}"),
    }
}

fn run(call: &UpstreamCall, value: Value) -> Result<BuiltRequest, BuildError> {
    build(BASE, call, &args(value), &[])
}

fn run_binary(call: &UpstreamCall, value: Value, binary: &[&str]) -> Result<BuiltRequest, BuildError> {
    build(BASE, call, &args(value), binary)
}

fn url_of(call: &UpstreamCall, value: Value) -> String {
    run(call, value).expect("request builds").url.to_string()
}

fn body_of(call: &UpstreamCall, value: Value, binary: &[&str]) -> RequestBodyBytes {
    run_binary(call, value, binary).expect("request builds").body
}

fn bytes(content_type: &str, bytes: &[u8]) -> RequestBodyBytes {
    RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes: bytes.to_vec() }
}

fn is_invalid(result: Result<BuiltRequest, BuildError>, argument: &str) -> bool {
    matches!(result, Err(BuildError::Invalid { argument: found, .. }) if found == argument)
}

/// The OpenAPI 3.0.3 style examples use these three values throughout.
fn colors() -> [Value; 3] {
    [json!("blue"), json!(["blue", "black", "brown"]), json!({"R": 100, "G": 200, "B": 150})]
}

// --- path: hostile values -----------------------------------------------------------------

#[test]
fn hostile_path_values_stay_inside_their_segment() {
    // (value, expected segment; None when the value must be refused)
    let table: &[(&str, Option<&str>)] = &[
        ("../admin", Some("..%2Fadmin")),
        ("..", None),
        (".", None),
        ("%2e%2e", Some("%252e%252e")),
        (".%2e", Some(".%252e")),
        ("...", Some("...")),
        ("a/b", Some("a%2Fb")),
        ("a?b=c", Some("a%3Fb%3Dc")),
        ("a#frag", Some("a%23frag")),
        ("user@evil.com", Some("user%40evil.com")),
        ("http://evil.com", Some("http%3A%2F%2Fevil.com")),
        ("//evil.com", Some("%2F%2Fevil.com")),
        (r"\\evil", Some("%5C%5Cevil")),
        (" spaces ", Some("%20spaces%20")),
        ("ü", Some("%C3%BC")),
        ("%00", Some("%2500")),
        ("\0", Some("%00")),
        ("\r\n", Some("%0D%0A")),
        ("a;b", Some("a%3Bb")),
        ("a=b", Some("a%3Db")),
        ("a,b", Some("a%2Cb")),
        ("{x}", Some("%7Bx%7D")),
        ("", None),
    ];
    let call = get("/pets/{petId}/toys", vec![path_param("petId")]);
    for (value, expected) in table {
        let result = run(&call, json!({ "petId": value }));
        match expected {
            Some(segment) => {
                let url = result.unwrap_or_else(|error| panic!("{value:?}: {error}")).url.to_string();
                assert_eq!(url, format!("https://api.example.com/v1/pets/{segment}/toys"), "value {value:?}");
                let parsed = Url::parse(&url).expect("parses");
                assert_eq!(parsed.host_str(), Some("api.example.com"), "value {value:?}");
                assert_eq!(parsed.path_segments().map(Iterator::count), Some(4), "value {value:?}");
                assert_eq!(parsed.as_str(), url, "the HTTP client would send a different URL for {value:?}");
            }
            None => assert!(is_invalid(result, "petId"), "value {value:?} must be refused"),
        }
    }
}

#[test]
fn dots_inside_a_longer_segment_are_encoded_not_refused() {
    let call = get("/files/{name}.json", vec![path_param("name")]);
    assert_eq!(url_of(&call, json!({"name": ".."})), "https://api.example.com/v1/files/%2E%2E.json");
    assert_eq!(url_of(&call, json!({"name": "."})), "https://api.example.com/v1/files/%2E.json");
}

#[test]
fn segments_assembled_from_several_values_cannot_form_dot_segments() {
    let call = get("/files/{a}{b}", vec![path_param("a"), path_param("b")]);
    assert!(is_invalid(run(&call, json!({"a": ".", "b": "."})), "a"));
    // Label style with empty items would otherwise expand to `..`.
    let call = get("/x/{v}", vec![bind("v", ArgumentLocation::Path, ParameterStyle::Label, true)]);
    assert!(is_invalid(run(&call, json!({"v": ["", ""]})), "v"));
    assert!(is_invalid(run(&call, json!({"v": ""})), "v"));
    assert!(is_invalid(run(&call, json!({"v": []})), "v"));
}

#[test]
fn a_value_that_looks_like_a_placeholder_is_not_expanded_again() {
    let call = get("/a/{x}/{y}", vec![path_param("x"), path_param("y")]);
    assert_eq!(url_of(&call, json!({"x": "{y}", "y": "2"})), "https://api.example.com/v1/a/%7By%7D/2");
}

#[test]
fn template_without_leading_slash_cannot_glue_onto_the_host() {
    let call = get("{p}", vec![path_param("p")]);
    let url =
        build("https://api.example.com", &call, &args(json!({"p": "@evil.com"})), &[]).expect("builds").url.to_string();
    assert_eq!(url, "https://api.example.com/%40evil.com");
    assert_eq!(Url::parse(&url).expect("parses").host_str(), Some("api.example.com"));
}

#[test]
fn path_scalars_use_their_json_text() {
    let call = get("/items/{id}", vec![path_param("id")]);
    assert_eq!(url_of(&call, json!({"id": 42})), "https://api.example.com/v1/items/42");
    assert_eq!(url_of(&call, json!({"id": -1.5})), "https://api.example.com/v1/items/-1.5");
    assert_eq!(url_of(&call, json!({"id": true})), "https://api.example.com/v1/items/true");
}

#[test]
fn path_errors() {
    let call = get("/pets/{petId}", vec![path_param("petId")]);
    assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "petId".into() }));
    assert!(is_invalid(run(&call, json!({"petId": null})), "petId"));
    assert!(is_invalid(run(&call, json!({"petId": {"a": {"b": 1}}})), "petId"));
    assert!(is_invalid(run(&call, json!({"petId": [[1]]})), "petId"));
    // A placeholder with no binding, and a binding in another location, both leave it unfilled.
    assert!(is_invalid(run(&get("/pets/{petId}", vec![]), json!({"petId": 1})), "petId"));
    assert!(is_invalid(run(&get("/pets/{petId}", vec![query_param("petId")]), json!({"petId": 1})), "petId"));
    assert!(is_invalid(run(&get("/pets/{petId", vec![path_param("petId")]), json!({"petId": 1})), "path"));
}

#[test]
fn path_bindings_use_wire_names_in_the_template() {
    let binding = ArgumentBinding { wire_name: "pet-id".into(), ..path_param("pet_id") };
    let call = get("/pets/{pet-id}", vec![binding]);
    assert_eq!(url_of(&call, json!({"pet_id": "7"})), "https://api.example.com/v1/pets/7");
}

// --- path: styles (OpenAPI 3.0.3 style examples, label non-exploded per RFC 6570) --------

#[test]
fn path_styles_match_the_openapi_examples() {
    let table: &[(ParameterStyle, bool, [&str; 3])] = &[
        (ParameterStyle::Simple, false, ["blue", "blue,black,brown", "R,100,G,200,B,150"]),
        (ParameterStyle::Simple, true, ["blue", "blue,black,brown", "R=100,G=200,B=150"]),
        (ParameterStyle::Label, false, [".blue", ".blue,black,brown", ".R,100,G,200,B,150"]),
        (ParameterStyle::Label, true, [".blue", ".blue.black.brown", ".R=100.G=200.B=150"]),
        (ParameterStyle::Matrix, false, [";color=blue", ";color=blue,black,brown", ";color=R,100,G,200,B,150"]),
        (ParameterStyle::Matrix, true, [";color=blue", ";color=blue;color=black;color=brown", ";R=100;G=200;B=150"]),
    ];
    for (style, explode, expected) in table {
        let call = get("/items/{color}", vec![bind("color", ArgumentLocation::Path, *style, *explode)]);
        for (value, segment) in colors().into_iter().zip(expected) {
            let url = run(&call, json!({ "color": value }))
                .unwrap_or_else(|e| panic!("{style:?}/{explode}: {e}"))
                .url
                .to_string();
            assert_eq!(
                url,
                format!("https://api.example.com/v1/items/{segment}"),
                "{style:?} explode={explode} {value}"
            );
        }
    }
}

#[test]
fn path_styles_encode_agent_text_but_not_their_delimiters() {
    let call = get("/items/{c}", vec![bind("c", ArgumentLocation::Path, ParameterStyle::Matrix, true)]);
    assert_eq!(url_of(&call, json!({"c": ["a;b", "c=d"]})), "https://api.example.com/v1/items/;c=a%3Bb;c=c%3Dd");
    assert_eq!(url_of(&call, json!({"c": ""})), "https://api.example.com/v1/items/;c");
    let call = get("/items/{c}", vec![bind("c", ArgumentLocation::Path, ParameterStyle::Simple, true)]);
    assert_eq!(
        url_of(&call, json!({"c": {"k,1": "v=2", "skip": null}})),
        "https://api.example.com/v1/items/k%2C1=v%3D2"
    );
}

// --- query ---------------------------------------------------------------------------------

#[test]
fn query_styles_match_the_openapi_examples() {
    let form_exploded = ["color=blue", "color=blue&color=black&color=brown", "R=100&G=200&B=150"];
    let deep = ["color=blue", "color=blue&color=black&color=brown", "color[R]=100&color[G]=200&color[B]=150"];
    let table: &[(ParameterStyle, bool, [&str; 3])] = &[
        (ParameterStyle::Form, false, ["color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"]),
        (ParameterStyle::Form, true, form_exploded),
        (
            ParameterStyle::SpaceDelimited,
            false,
            ["color=blue", "color=blue%20black%20brown", "color=R%20100%20G%20200%20B%20150"],
        ),
        (ParameterStyle::SpaceDelimited, true, form_exploded),
        (ParameterStyle::PipeDelimited, false, ["color=blue", "color=blue|black|brown", "color=R|100|G|200|B|150"]),
        (ParameterStyle::PipeDelimited, true, form_exploded),
        (ParameterStyle::DeepObject, true, deep),
        (ParameterStyle::DeepObject, false, deep),
    ];
    for (style, explode, expected) in table {
        let call = get("/items", vec![bind("color", ArgumentLocation::Query, *style, *explode)]);
        for (value, query) in colors().into_iter().zip(expected) {
            let url = run(&call, json!({ "color": value }))
                .unwrap_or_else(|e| panic!("{style:?}/{explode}: {e}"))
                .url
                .to_string();
            assert_eq!(url, format!("https://api.example.com/v1/items?{query}"), "{style:?} explode={explode} {value}");
        }
    }
}

#[test]
fn deep_object_nests_objects_and_repeats_arrays() {
    let call = get("/search", vec![bind("filter", ArgumentLocation::Query, ParameterStyle::DeepObject, true)]);
    let url =
        url_of(&call, json!({"filter": {"owner": {"login": "a b"}, "tags": ["x", null, "y"], "gone": null, "n": 1}}));
    assert_eq!(
        url,
        "https://api.example.com/v1/search?filter[owner][login]=a%20b&filter[tags]=x&filter[tags]=y&filter[n]=1"
    );
    let hostile = url_of(&call, json!({"filter": {"a]&b[": "c&d"}}));
    assert_eq!(hostile, "https://api.example.com/v1/search?filter[a%5D%26b%5B]=c%26d");
    assert!(is_invalid(run(&call, json!({"filter": {"a": [{"b": 1}]}})), "filter"));
}

#[test]
fn hostile_query_values_cannot_add_parameters() {
    let table: &[(&str, &str)] = &[
        ("a&admin=true", "q=a%26admin%3Dtrue"),
        ("x=y", "q=x%3Dy"),
        ("#", "q=%23"),
        ("+", "q=%2B"),
        ("%26", "q=%2526"),
        ("\n", "q=%0A"),
        ("a b", "q=a%20b"),
        ("ü", "q=%C3%BC"),
        ("", "q="),
    ];
    for allow_reserved in [false, true] {
        let call = get("/s", vec![ArgumentBinding { allow_reserved, ..query_param("q") }]);
        for (value, query) in table {
            let url = url_of(&call, json!({ "q": value }));
            assert_eq!(
                url,
                format!("https://api.example.com/v1/s?{query}"),
                "{value:?} allow_reserved={allow_reserved}"
            );
            let parsed = Url::parse(&url).expect("parses");
            assert_eq!(parsed.query_pairs().count(), 1, "{value:?}");
            assert_eq!(parsed.query_pairs().next().map(|(_, v)| v.into_owned()), Some(value.to_string()));
        }
    }
    // Property names that become keys are agent data too.
    let call = get("/s", vec![query_param("o")]);
    assert_eq!(url_of(&call, json!({"o": {"a&b=c": "d"}})), "https://api.example.com/v1/s?a%26b%3Dc=d");
}

#[test]
fn allow_reserved_keeps_reserved_characters_in_values_only() {
    let value = "a/b:c?d[e]@f!$(g)*,h;i'j&k=l#m+n%o";
    let strict = get("/s", vec![bind("q x", ArgumentLocation::Query, ParameterStyle::Form, true)]);
    assert_eq!(
        url_of(&strict, json!({ "q x": value })),
        "https://api.example.com/v1/s?q%20x=a%2Fb%3Ac%3Fd%5Be%5D%40f%21%24%28g%29%2A%2Ch%3Bi%27j%26k%3Dl%23m%2Bn%25o"
    );
    let relaxed = get("/s", vec![ArgumentBinding { allow_reserved: true, ..strict.arguments[0].clone() }]);
    assert_eq!(
        url_of(&relaxed, json!({ "q x": value })),
        "https://api.example.com/v1/s?q%20x=a/b:c?d[e]@f!$(g)*,h;i%27j%26k%3Dl%23m%2Bn%25o"
    );
}

#[test]
fn query_omissions_and_scalars() {
    let call = get(
        "/s",
        vec![
            query_param("empty"),
            query_param("nothing"),
            query_param("absent"),
            query_param("flag"),
            query_param("n"),
        ],
    );
    let url = url_of(&call, json!({"empty": [], "nothing": null, "flag": false, "n": 1.5}));
    assert_eq!(url, "https://api.example.com/v1/s?flag=false&n=1.5");
    // No `?` at all when nothing remains.
    assert_eq!(url_of(&call, json!({"empty": {}, "nothing": [null]})), "https://api.example.com/v1/s");
    let call = get("/s", vec![required(query_param("q"))]);
    assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "q".into() }));
    assert_eq!(run(&call, json!({"q": null})), Err(BuildError::Missing { argument: "q".into() }));
    assert!(is_invalid(run(&call, json!({"q": [[1]]})), "q"));
}

#[test]
fn query_follows_path_and_keeps_binding_order() {
    let call = get("/pets/{id}", vec![path_param("id"), query_param("b"), query_param("a"), query_param("b")]);
    assert_eq!(url_of(&call, json!({"id": 1, "a": 2, "b": 3})), "https://api.example.com/v1/pets/1?b=3&a=2&b=3");
}

// --- headers and cookies ---------------------------------------------------------------------

#[test]
fn header_styles_match_the_openapi_examples() {
    let table: &[(bool, [&str; 3])] = &[
        (false, ["blue", "blue,black,brown", "R,100,G,200,B,150"]),
        (true, ["blue", "blue,black,brown", "R=100,G=200,B=150"]),
    ];
    for (explode, expected) in table {
        let call = get("/h", vec![bind("X-Color", ArgumentLocation::Header, ParameterStyle::Simple, *explode)]);
        for (value, header) in colors().into_iter().zip(expected) {
            let built = run(&call, json!({ "X-Color": value })).expect("builds");
            assert_eq!(built.headers, vec![("X-Color".to_string(), header.to_string())], "explode={explode}");
        }
    }
}

#[test]
fn header_values_that_could_inject_are_refused_without_echo() {
    let call = get("/h", vec![bind("X-Trace", ArgumentLocation::Header, ParameterStyle::Simple, false)]);
    for value in ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil", "a\0X-Evil", "über-Evil", "a\u{7f}Evil", "a\u{1b}Evil"]
    {
        let result = run(&call, json!({ "X-Trace": value }));
        match result {
            Err(BuildError::Invalid { argument, reason }) => {
                assert_eq!(argument, "X-Trace");
                assert!(!reason.contains("Evil"), "the reason must not echo the value: {reason}");
            }
            other => panic!("{value:?} must be refused, got {other:?}"),
        }
    }
    // A tab and ordinary punctuation are fine.
    let built = run(&call, json!({"X-Trace": "a\tb; c=\"d\""})).expect("builds");
    assert_eq!(built.headers[0].1, "a\tb; c=\"d\"");
    // So is an array whose items would each be fine, and an empty array leaves the header out.
    assert!(is_invalid(run(&call, json!({"X-Trace": ["ok", "a\nb"]})), "X-Trace"));
    assert!(run(&call, json!({"X-Trace": []})).expect("builds").headers.is_empty());
}

#[test]
fn framing_headers_and_bad_names_are_refused() {
    for name in ["Host", "content-length", "Transfer-Encoding", "Connection"] {
        let call = get("/h", vec![bind(name, ArgumentLocation::Header, ParameterStyle::Simple, false)]);
        assert!(is_invalid(run(&call, json!({ name: "x" })), name), "{name}");
        // Absent, the binding does nothing.
        assert!(run(&call, json!({})).is_ok());
    }
    let call = get("/h", vec![bind("X Bad", ArgumentLocation::Header, ParameterStyle::Simple, false)]);
    assert!(is_invalid(run(&call, json!({"X Bad": "x"})), "X Bad"));
    let call = get("/h", vec![bind("a;b", ArgumentLocation::Cookie, ParameterStyle::Form, true)]);
    assert!(is_invalid(run(&call, json!({"a;b": "x"})), "a;b"));
}

#[test]
fn cookie_styles_and_joining() {
    let table: &[(bool, [&str; 3])] = &[
        (true, ["color=blue", "color=blue; color=black; color=brown", "R=100; G=200; B=150"]),
        (false, ["color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"]),
    ];
    for (explode, expected) in table {
        let call = get("/c", vec![bind("color", ArgumentLocation::Cookie, ParameterStyle::Form, *explode)]);
        for (value, cookie) in colors().into_iter().zip(expected) {
            let built = run(&call, json!({ "color": value })).expect("builds");
            assert_eq!(built.headers, vec![("Cookie".to_string(), cookie.to_string())], "explode={explode}");
        }
    }
    let call = get(
        "/c",
        vec![
            bind("session", ArgumentLocation::Cookie, ParameterStyle::Form, true),
            bind("absent", ArgumentLocation::Cookie, ParameterStyle::Form, true),
            bind("theme", ArgumentLocation::Cookie, ParameterStyle::Form, true),
        ],
    );
    let built = run(&call, json!({"session": "a; admin=1", "theme": "dark mode"})).expect("builds");
    assert_eq!(built.headers, vec![("Cookie".to_string(), "session=a%3B%20admin%3D1; theme=dark%20mode".to_string())]);
}

#[test]
fn header_order_is_bindings_then_cookie_then_accept_then_content_type() {
    let mut call = post(
        "application/json",
        false,
        vec![
            bind("X-A", ArgumentLocation::Header, ParameterStyle::Simple, false),
            bind("c1", ArgumentLocation::Cookie, ParameterStyle::Form, true),
            query_param("q"),
            bind("X-B", ArgumentLocation::Header, ParameterStyle::Simple, false),
            bind("c2", ArgumentLocation::Cookie, ParameterStyle::Form, true),
            property("name", false),
        ],
    );
    call.accept = vec!["application/json".into(), "text/plain".into()];
    let built =
        run(&call, json!({"X-A": 1, "c1": "x", "q": "z", "X-B": true, "c2": "y z", "name": "n"})).expect("builds");
    let expected: Vec<(String, String)> = [
        ("X-A", "1"),
        ("X-B", "true"),
        ("Cookie", "c1=x; c2=y%20z"),
        ("Accept", "application/json, text/plain"),
        ("Content-Type", "application/json"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(built.headers, expected);
    assert_eq!(built.method, HttpMethod::Post);
    assert_eq!(built.url.as_str(), "https://api.example.com/v1/upload?q=z");
}

#[test]
fn required_header_and_cookie_must_be_given() {
    let call = get("/h", vec![required(bind("X-Key", ArgumentLocation::Header, ParameterStyle::Simple, false))]);
    assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "X-Key".into() }));
    let call = get("/h", vec![required(bind("sid", ArgumentLocation::Cookie, ParameterStyle::Form, true))]);
    assert_eq!(run(&call, json!({"sid": null})), Err(BuildError::Missing { argument: "sid".into() }));
}

// --- bodies --------------------------------------------------------------------------------

#[test]
fn json_body_from_flattened_properties() {
    let call = post(
        "application/json; charset=utf-8",
        true,
        vec![property("name", true), property("tag", false), property("age", false)],
    );
    let built = run(&call, json!({"age": null, "name": "Rex"})).expect("builds");
    assert_eq!(built.body, bytes("application/json; charset=utf-8", br#"{"name":"Rex","age":null}"#));
    assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/json; charset=utf-8".to_string())]);
    assert_eq!(run(&call, json!({"tag": "x"})), Err(BuildError::Missing { argument: "name".into() }));
}

#[test]
fn json_media_types_are_recognised() {
    for content_type in [
        "application/json",
        "Application/JSON",
        "application/vnd.api+json",
        "application/problem+json; v=1",
        "text/json",
    ] {
        let call = post(content_type, false, vec![property("a", false)]);
        assert_eq!(
            body_of(&call, json!({"a": [1, "b"]}), &[]),
            bytes(content_type, br#"{"a":[1,"b"]}"#),
            "{content_type}"
        );
    }
}

#[test]
fn whole_json_body() {
    let call = post("application/json", true, vec![whole_body(true)]);
    assert_eq!(
        body_of(&call, json!({"body": [1, "two", {"three": 3}]}), &[]),
        bytes("application/json", br#"[1,"two",{"three":3}]"#)
    );
    assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "body".into() }));
    assert_eq!(run(&call, json!({"body": null})), Err(BuildError::Missing { argument: "body".into() }));
}

#[test]
fn optional_and_required_empty_bodies() {
    let call = post("application/json", false, vec![property("a", false)]);
    let built = run(&call, json!({})).expect("builds");
    assert_eq!(built.body, RequestBodyBytes::None);
    assert!(built.headers.is_empty());
    let call = post("application/json", false, vec![whole_body(false)]);
    assert_eq!(body_of(&call, json!({"body": null}), &[]), RequestBodyBytes::None);
    // Required, but every property is optional: `{}` is a valid body the agent could not otherwise send.
    let call = post("application/json", true, vec![property("a", false)]);
    assert_eq!(body_of(&call, json!({}), &[]), bytes("application/json", b"{}"));
    // Required, and nothing could supply it.
    let call = post("application/json", true, vec![]);
    assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "body".into() }));
    // No body declared and no body bindings: nothing to send.
    assert_eq!(body_of(&get("/x", vec![]), json!({}), &[]), RequestBodyBytes::None);
}

#[test]
fn whole_body_and_properties_together_are_refused() {
    let call = post("application/json", false, vec![whole_body(false), property("a", false)]);
    assert!(is_invalid(run(&call, json!({"body": {"a": 1}, "a": 2})), "body"));
    assert_eq!(body_of(&call, json!({"a": 2}), &[]), bytes("application/json", br#"{"a":2}"#));
}

#[test]
fn form_body() {
    let call = post(
        "application/x-www-form-urlencoded",
        true,
        vec![property("name", true), property("tags", false), property("meta", false), property("gone", false)],
    );
    let body =
        body_of(&call, json!({"name": "a b&c=d+e", "tags": ["x", null, 2], "meta": {"k": 1}, "gone": null}), &[]);
    assert_eq!(
        body,
        // Objects nest with brackets when the spec gives no `encoding` (see `form`).
        bytes("application/x-www-form-urlencoded", b"name=a+b%26c%3Dd%2Be&tags=x&tags=2&meta[k]=1")
    );
    let call = post("application/x-www-form-urlencoded", true, vec![whole_body(true)]);
    assert!(is_invalid(run(&call, json!({"body": [1, 2]})), "body"));
    assert_eq!(
        body_of(&call, json!({"body": {"ü": true}}), &[]),
        bytes("application/x-www-form-urlencoded", b"%C3%BC=true")
    );
}

#[test]
fn form_body_follows_the_encoding_object() {
    let mut call = post(
        "application/x-www-form-urlencoded",
        true,
        vec![
            property("expand", false),
            property("ids", false),
            ArgumentBinding { wire_name: "meta".into(), ..property("meta_data", false) },
        ],
    );
    let encoding =
        |style, explode| PropertyEncoding { style: Some(style), explode: Some(explode), ..Default::default() };
    if let Some(body) = &mut call.body {
        body.encoding = vec![
            ("expand".into(), encoding(ParameterStyle::DeepObject, true)),
            ("ids".into(), encoding(ParameterStyle::Form, false)),
            ("meta".into(), encoding(ParameterStyle::Form, false)),
        ];
    }
    assert_eq!(
        body_of(&call, json!({"expand": ["a", "b"], "ids": [1, 2], "meta_data": {"k": "v"}}), &[]),
        bytes("application/x-www-form-urlencoded", b"expand[0]=a&expand[1]=b&ids=1,2&meta=k,v")
    );
    // A value the declared style cannot carry names the argument, not the wire name.
    assert!(is_invalid(run(&call, json!({"meta_data": {"k": {"deep": 1}}})), "meta_data"));
}

#[test]
fn required_multipart_body_without_parts_is_an_empty_form() {
    let call = post("multipart/form-data", true, vec![property("note", false)]);
    assert_eq!(
        body_of(&call, json!({}), &[]),
        bytes("multipart/form-data; boundary=api2mcp-empty-form", b"--api2mcp-empty-form--\r\n")
    );
    let call = post("application/x-www-form-urlencoded", true, vec![property("note", false)]);
    assert_eq!(body_of(&call, json!({"note": null}), &[]), bytes("application/x-www-form-urlencoded", b""));
}

#[test]
fn multipart_parts_take_the_encoding_content_type() {
    let mut call = post("multipart/form-data", true, vec![property("meta", false), property("picture", false)]);
    if let Some(body) = &mut call.body {
        let typed =
            |content_type: &str| PropertyEncoding { content_type: Some(content_type.into()), ..Default::default() };
        body.encoding = vec![("meta".into(), typed("application/vnd.x+json")), ("picture".into(), typed("image/png"))];
    }
    let built = run_binary(&call, json!({"meta": ["a", 1], "picture": "iVBO"}), &["picture"]).expect("builds");
    assert_eq!(
        built.body,
        RequestBodyBytes::Multipart(vec![
            MultipartPart {
                name: "meta".into(),
                value: MultipartValue::Typed {
                    text: r#"["a",1]"#.into(),
                    content_type: "application/vnd.x+json".into()
                },
            },
            MultipartPart {
                name: "picture".into(),
                value: MultipartValue::File {
                    bytes: vec![0x89, 0x50, 0x4e],
                    file_name: "picture".into(),
                    content_type: "image/png".into(),
                },
            },
        ])
    );
}

#[test]
fn pinned_query_and_declared_content_type() {
    let call = UpstreamCall {
        fixed_query: vec![("beta".into(), "true".into()), ("mode".into(), "a b&c".into())],
        declared_content_type: Some("application/json".into()),
        ..get("/responses/{id}/cancel", vec![path_param("id"), query_param("reason")])
    };
    let built = run(&call, json!({"id": "r1", "reason": "x"})).expect("builds");
    assert_eq!(built.url.as_str(), "https://api.example.com/v1/responses/r1/cancel?beta=true&mode=a%20b%26c&reason=x");
    assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
}

#[test]
fn multipart_body_with_files() {
    let call = post(
        "multipart/form-data",
        true,
        vec![
            property("file", true),
            property("note", false),
            property("count", false),
            property("meta", false),
            property("tags", false),
            property("skip", false),
            property("photos", false),
        ],
    );
    let arguments = json!({
        "file": "aGVsbG8=",
        "note": "hi",
        "count": 3,
        "meta": {"a": 1},
        "tags": ["x", "y"],
        "skip": null,
        "photos": ["aGk", "-_8"],
    });
    let built = run_binary(&call, arguments, &["file", "photos"]).expect("builds");
    let file = |name: &str, bytes: &[u8]| MultipartPart {
        name: name.to_string(),
        value: MultipartValue::File {
            bytes: bytes.to_vec(),
            file_name: name.to_string(),
            content_type: "application/octet-stream".to_string(),
        },
    };
    let text = |name: &str, text: &str| MultipartPart { name: name.into(), value: MultipartValue::Text(text.into()) };
    assert_eq!(
        built.body,
        RequestBodyBytes::Multipart(vec![
            file("file", b"hello"),
            text("note", "hi"),
            text("count", "3"),
            MultipartPart { name: "meta".into(), value: MultipartValue::Json(r#"{"a":1}"#.into()) },
            text("tags", "x"),
            text("tags", "y"),
            file("photos", b"hi"),
            file("photos", &[0xfb, 0xff]),
        ])
    );
    // The client adds `Content-Type: multipart/form-data; boundary=...` itself.
    assert!(built.headers.is_empty());
    assert!(is_invalid(run_binary(&call, json!({"file": "not base64!"}), &["file"]), "file"));
}

#[test]
fn multipart_errors_name_the_argument_not_the_wire_name() {
    let binding = ArgumentBinding { wire_name: "file".into(), ..property("file_body", true) };
    let call = post("multipart/form-data", true, vec![binding]);
    let built = run_binary(&call, json!({"file_body": "AA=="}), &["file_body"]).expect("builds");
    assert!(matches!(&built.body, RequestBodyBytes::Multipart(parts) if parts[0].name == "file"));
    assert!(is_invalid(run_binary(&call, json!({"file_body": "A"}), &["file_body"]), "file_body"));
    // Without the binary flag the same string is plain text.
    let built = run(&call, json!({"file_body": "AA=="})).expect("builds");
    assert!(
        matches!(&built.body, RequestBodyBytes::Multipart(parts) if parts[0].value == MultipartValue::Text("AA==".into()))
    );
}

#[test]
fn raw_bodies() {
    let call = post("application/octet-stream", true, vec![whole_body(true)]);
    assert_eq!(
        body_of(&call, json!({"body": "AAEC/w=="}), &["body"]),
        bytes("application/octet-stream", &[0, 1, 2, 255])
    );
    assert_eq!(
        body_of(&call, json!({"body": "AAEC_w"}), &["body"]),
        bytes("application/octet-stream", &[0, 1, 2, 255])
    );
    assert!(is_invalid(run_binary(&call, json!({"body": "AAEC*w=="}), &["body"]), "body"));
    // Not flagged binary: a string is sent as its text, anything else as JSON.
    assert_eq!(body_of(&call, json!({"body": "raw"}), &[]), bytes("application/octet-stream", b"raw"));
    assert_eq!(body_of(&call, json!({"body": 42}), &[]), bytes("application/octet-stream", b"42"));
    let call = post("text/plain; charset=utf-8", true, vec![whole_body(true)]);
    assert_eq!(body_of(&call, json!({"body": "héllo"}), &[]), bytes("text/plain; charset=utf-8", "héllo".as_bytes()));
    let call = post("application/xml", true, vec![whole_body(true)]);
    let built = run(&call, json!({"body": "<a/>"})).expect("builds");
    assert_eq!(built.body, bytes("application/xml", b"<a/>"));
    assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/xml".to_string())]);
}

// --- base URL --------------------------------------------------------------------------------

#[test]
fn base_urls_are_joined_and_checked() {
    let call = get("/pets", vec![]);
    let table: &[(&str, &str)] = &[
        ("https://api.example.com/v1", "https://api.example.com/v1/pets"),
        ("https://api.example.com/v1/", "https://api.example.com/v1/pets"),
        ("https://api.example.com/v1//", "https://api.example.com/v1/pets"),
        ("https://api.example.com", "https://api.example.com/pets"),
        ("https://api.example.com/", "https://api.example.com/pets"),
        ("http://localhost:8080/api/v2", "http://localhost:8080/api/v2/pets"),
    ];
    for (base, expected) in table {
        assert_eq!(build(base, &call, &Map::new(), &[]).expect("builds").url.as_str(), *expected, "{base}");
    }
    let root = get("", vec![]);
    assert_eq!(
        build("https://api.example.com/v1/", &root, &Map::new(), &[]).expect("builds").url.as_str(),
        "https://api.example.com/v1"
    );
    // An empty path is `/` on the wire (the URL as parsed, which the client is handed).
    assert_eq!(
        build("https://api.example.com", &root, &Map::new(), &[]).expect("builds").url.as_str(),
        "https://api.example.com/"
    );
    for base in
        ["not a url", "/relative", "mailto:a@b.c", "https://api.example.com/v1?key=1", "https://api.example.com#x", ""]
    {
        assert!(is_invalid(build(base, &call, &Map::new(), &[]), "base_url"), "{base}");
    }
}

#[test]
fn dot_segments_in_the_template_fail_the_final_check() {
    // The template comes from the spec, but a rewritten URL is refused whatever its source.
    let call = get("/a/../../admin", vec![]);
    assert!(is_invalid(run(&call, json!({})), "url"));
}

#[test]
fn errors_display_readably() {
    assert_eq!(invalid("x", "bad").to_string(), "argument 'x': bad");
    assert_eq!(missing("y").to_string(), "missing required argument 'y'");
}

// --- base64 ----------------------------------------------------------------------------------

#[test]
fn base64_variants() {
    let table: &[(&str, Option<&[u8]>)] = &[
        ("", Some(b"")),
        ("aGVsbG8=", Some(b"hello")),
        ("aGVsbG8", Some(b"hello")),
        ("aGVs\nbG8=\r\n", Some(b"hello")),
        ("+/8=", Some(&[0xfb, 0xff])),
        ("-_8", Some(&[0xfb, 0xff])),
        ("YQ==", Some(b"a")),
        ("YQ", Some(b"a")),
        ("YQ=", None),
        ("YQ===", None),
        ("Y", None),
        ("YQ==YQ==", None),
        ("aGVsbG8*", None),
        ("ü", None),
    ];
    for (text, expected) in table {
        assert_eq!(decode_base64(text).as_deref(), *expected, "{text:?}");
    }
}

proptest::proptest! {
    #[test]
    fn base64_of_any_bytes_decodes_back_in_every_variant(bytes: Vec<u8>, wrap in 1usize..80) {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&bytes);
            let wrapped: Vec<String> =
                encoded.as_bytes().chunks(wrap).map(|line| String::from_utf8_lossy(line).into_owned()).collect();
            proptest::prop_assert_eq!(decode_base64(&wrapped.join("\r\n")), Some(bytes.clone()));
        }
    }
}

// --- robustness ------------------------------------------------------------------------------

#[test]
fn no_input_panics_or_leaves_the_origin() {
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1.5e300),
        json!(u64::MAX),
        json!(""),
        json!("."),
        json!(".."),
        json!("a/../b"),
        json!("ü\u{0}\r\n"),
        json!("%2e%2E"),
        json!([]),
        json!([null]),
        json!(["", ""]),
        json!([".", ".."]),
        json!([[1]]),
        json!({}),
        json!({"": ""}),
        json!({"a": null}),
        json!({"..": ".."}),
        json!({"a": {"b": [1, {"c": 2}]}}),
        json!({"a": [1, 2]}),
    ];
    let styles = [
        ParameterStyle::Simple,
        ParameterStyle::Label,
        ParameterStyle::Matrix,
        ParameterStyle::Form,
        ParameterStyle::SpaceDelimited,
        ParameterStyle::PipeDelimited,
        ParameterStyle::DeepObject,
    ];
    let locations =
        [ArgumentLocation::Path, ArgumentLocation::Query, ArgumentLocation::Header, ArgumentLocation::Cookie];
    let mut built = 0;
    for location in locations {
        for style in styles {
            for explode in [false, true] {
                for allow_reserved in [false, true] {
                    let binding = ArgumentBinding { allow_reserved, ..bind("v", location, style, explode) };
                    let call = get("/x/{v}/y", vec![binding, path_param("p")]);
                    let call = UpstreamCall {
                        path: if location == ArgumentLocation::Path { call.path } else { "/x/y".into() },
                        ..call
                    };
                    for value in &values {
                        if let Ok(request) = run(&call, json!({ "v": value })) {
                            built += 1;
                            let parsed = Url::parse(request.url.as_str()).expect("every built URL parses");
                            assert_eq!(parsed.host_str(), Some("api.example.com"));
                            assert_eq!(parsed.as_str(), request.url.as_str());
                            assert!(parsed.path().starts_with("/v1/x/"), "{}", request.url);
                            assert_eq!(
                                parsed.path_segments().map(Iterator::count),
                                Some(4 - usize::from(location != ArgumentLocation::Path))
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(built > 100, "the sweep should mostly succeed, built {built}");
    let content_types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/octet-stream",
        "text/plain",
        "",
    ];
    for content_type in content_types {
        for value in &values {
            let call = post(content_type, true, vec![whole_body(true)]);
            let _ = run_binary(&call, json!({ "body": value }), &["body"]);
            let call = post(content_type, true, vec![property("p", true), property("q", false)]);
            let _ = run_binary(&call, json!({ "p": value, "q": value }), &["p"]);
        }
    }
}
