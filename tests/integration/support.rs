//! Shared helpers for the integration tests.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use api2mcp::catalogue::Catalogue;
use api2mcp::load::ConfigSource;
use api2mcp::pipeline::{Prepared, prepare};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Runs load → validate → compile on a fixture folder: `api2mcp.yaml` when present, else the
/// `spec.*` file in zero-config mode. `env.json` (optional) is the environment.
pub async fn prepare_case(dir: &Path) -> Prepared {
    let env: HashMap<String, String> = std::fs::read_to_string(dir.join("env.json"))
        .map(|text| serde_json::from_str(&text).expect("env.json is a string map"))
        .unwrap_or_default();
    let mapping = dir.join("api2mcp.yaml");
    let source = if mapping.exists() {
        ConfigSource::Mapping(mapping)
    } else {
        let spec = ["spec.yaml", "spec.json"].iter().map(|name| dir.join(name)).find(|p| p.exists());
        let spec = spec.unwrap_or_else(|| panic!("{} has neither api2mcp.yaml nor spec.*", dir.display()));
        ConfigSource::Spec { spec: spec.display().to_string(), base_url: None }
    };
    prepare(&source, &env).await
}

/// Diagnostics as `check` prints them (without snippets, which the CLI tests cover).
pub fn rendered_diagnostics(prepared: &Prepared) -> String {
    let no_sources = HashMap::new();
    prepared.diagnostics.sorted().into_iter().map(|d| api2mcp::diag::render(d, &no_sources)).collect()
}

/// Where each argument of each tool goes, and the upstream settings (secret values never shown).
pub fn describe_calls(catalogue: &Catalogue) -> String {
    let mut out = String::new();
    for upstream in &catalogue.upstreams {
        let headers: Vec<&str> = upstream.headers.iter().map(|(name, _)| name.as_str()).collect();
        let _ = writeln!(
            out,
            "upstream {}: base_url={} timeout={:?} headers=[{}]",
            upstream.name,
            upstream.base_url.as_deref().unwrap_or("-"),
            upstream.timeout,
            headers.join(", ")
        );
    }
    for tool in &catalogue.tools {
        let call = &tool.call;
        let _ = writeln!(out, "{}: {} {} scopes={:?}", tool.name, call.method.upper(), call.path, tool.scopes);
        if let Some(body) = &call.body {
            let _ = writeln!(out, "  body: {} required={}", body.content_type, body.required);
        }
        if !call.accept.is_empty() {
            let _ = writeln!(out, "  accept: {}", call.accept.join(", "));
        }
        for binding in &call.arguments {
            let _ = writeln!(
                out,
                "  {} <- {} {:?} style={:?} explode={} required={}",
                binding.argument,
                binding.location.label(),
                binding.wire_name,
                binding.style,
                binding.explode,
                binding.required
            );
        }
        if let Some(pagination) = &tool.pagination {
            let how = if pagination.inferred { "inferred" } else { "declared" };
            let described = pagination.describe();
            let _ = writeln!(out, "  pagination ({how}): {described}; cursor argument: {}", pagination.cursor_argument);
        }
        if let Some(output) = &tool.output {
            let _ = writeln!(out, "  output: {}", api2mcp::shape::describe(output));
        }
    }
    out
}

/// Serves a prepared (error-free) configuration over Streamable HTTP on 127.0.0.1:0 until `shutdown`;
/// returns the MCP endpoint URL.
pub async fn serve_prepared(
    prepared: Prepared,
    settings: api2mcp::mcp::http::HttpSettings,
    shutdown: tokio_util::sync::CancellationToken,
) -> String {
    assert!(!prepared.diagnostics.has_errors(), "{:?}", prepared.diagnostics);
    let catalogue = std::sync::Arc::new(prepared.compiled.expect("no errors means a catalogue").catalogue);
    let server = server_for(catalogue);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { api2mcp::mcp::http::serve(listener, server, &settings, shutdown).await.unwrap() });
    format!("http://{address}/mcp")
}

/// The MCP server `api2mcp serve` builds: upstream requests and tool calls recorded in one `Metrics`.
pub fn server_for(catalogue: std::sync::Arc<Catalogue>) -> api2mcp::mcp::McpServer {
    let metrics = std::sync::Arc::new(api2mcp::telemetry::metrics::Metrics::new());
    let caller = api2mcp::call::Caller::new(catalogue).unwrap().with_metrics(metrics.clone());
    api2mcp::mcp::McpServer::with_metrics(std::sync::Arc::new(caller), metrics).unwrap()
}

/// One HTTP/1.1 request exactly as it arrived: the head (request line and headers, as sent) and
/// the body bytes (de-chunked when sent chunked).
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub head: String,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// `POST /path?query HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// Every value of a header, by case-insensitive name, in arrival order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(header, _)| header.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_string())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).into_iter().next()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A recording upstream on 127.0.0.1:0 that reads each request off the socket byte for byte (no
/// HTTP library in between to normalise it) and answers 200 with `answer`'s JSON. Returns the base
/// URL and a receiver of the requests, in order.
pub async fn raw_recorder(answer: serde_json::Value) -> (String, tokio::sync::mpsc::UnboundedReceiver<RawRequest>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let answer = answer.to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sender = sender.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                        break end;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
                let mut raw = RawRequest { head, body: Vec::new() };
                let mut rest = buffer[head_end + 4..].to_vec();
                let chunked = raw.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
                let length: usize = raw.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                loop {
                    let complete = if chunked { rest.ends_with(b"0\r\n\r\n") } else { rest.len() >= length };
                    if complete {
                        break;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => rest.extend_from_slice(&chunk[..read]),
                    }
                }
                raw.body = if chunked { dechunk(&rest) } else { rest };
                let _ = sender.send(raw);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, receiver)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = data.windows(2).position(|window| window == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        body.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    body
}
/// A stdio server (`hostile.yaml`) running in process after the initialize handshake: write lines, read answers.
pub struct Stdio {
    input: tokio::io::DuplexStream,
    output: tokio::io::Lines<tokio::io::BufReader<tokio::io::DuplexStream>>,
}

impl Stdio {
    pub async fn start() -> Stdio {
        let source = api2mcp::load::ConfigSource::Spec {
            spec: "tests/fixtures/serve/hostile.yaml".into(),
            base_url: Some("http://127.0.0.1:9".into()),
        };
        let prepared = prepare(&source, &HashMap::new()).await;
        let server = server_for(std::sync::Arc::new(prepared.compiled.unwrap().catalogue));
        let (input, server_input) = tokio::io::duplex(1 << 16);
        let (server_output, output) = tokio::io::duplex(1 << 16);
        tokio::spawn(api2mcp::mcp::stdio::serve_lines(server, server_input, server_output));
        let mut stdio = Stdio { input, output: tokio::io::BufReader::new(output).lines() };
        stdio
            .send(r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"drill","version":"1"}}}"#)
            .await;
        let answer = stdio.answer().await;
        assert_eq!(answer["id"], "init", "{answer}");
        stdio.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
        stdio
    }

    pub async fn send(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    /// The next answer line, within a deadline (a missing answer fails instead of hanging).
    pub async fn answer(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), self.output.next_line())
            .await
            .expect("an answer within 10 s")
            .unwrap()
            .expect("the server is still running");
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
    }
}
/// A `redis-server` on a loopback port (no persistence); killed on drop.
///
/// redis-server cannot listen on port 0 and report the port it got (`--port 0` turns TCP off), so
/// this is the one server in the tests started on a chosen port: a port the kernel just handed out
/// as ephemeral, and, when redis-server still fails to bind it (another process took it meanwhile),
/// another one, up to five times. Startup is read from its log ("Ready to accept connections").
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..5 {
            let candidate = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            match Self::start_on(candidate) {
                Ok(server) => return server,
                Err(why) => failures.push(format!("port {candidate}: {why}")),
            }
        }
        panic!("redis-server did not start: {failures:?}");
    }

    /// Starts again on the same port (after `stop`); the servers under test keep its URL.
    pub fn restart(port: u16) -> Self {
        Self::start_on(port).unwrap_or_else(|why| panic!("redis-server did not restart on {port}: {why}"))
    }

    fn start_on(port: u16) -> Result<Self, String> {
        use std::io::BufRead;
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it; locally: apt-get install -y redis-server)");
        let stdout = child.stdout.take().unwrap();
        let (ready_sender, ready) = std::sync::mpsc::channel();
        // Reads the log to its end (so redis-server never blocks on a full pipe), reporting readiness
        // or the line that says why it stopped.
        std::thread::spawn(move || {
            let mut last = String::new();
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = ready_sender.send(Ok(()));
                } else if !line.trim().is_empty() {
                    last = line;
                }
            }
            let _ = ready_sender.send(Err(last));
        });
        match ready.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(Ok(())) => Ok(RedisServer { child, port }),
            Ok(Err(last)) => {
                let _ = child.wait();
                Err(format!("exited: {last}"))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("not ready within 20 s".to_string())
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`STOP`, `CONT`, ...) to the server.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `attempt` every 20 ms until it gives `Ok`; fails after `within` with `what` was awaited and
/// the last `Err` (what was seen instead). The one poll-until loop of the tests: no sleeps that
/// merely hope, every wait bounded.
pub async fn poll<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    within: std::time::Duration,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(seen) => {
                assert!(std::time::Instant::now() < deadline, "timed out after {within:?} waiting until {what}: {seen}")
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `poll` for a condition.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut() -> F,
) {
    poll(what, within, || {
        let holds = check();
        async move { if holds.await { Ok(()) } else { Err("not yet".to_string()) } }
    })
    .await
}

/// Serves `app` on 127.0.0.1:0 until the test ends; returns its base URL (`http://127.0.0.1:<port>`).
pub async fn serve_router(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// A loopback port that refuses connections: bound (so no other socket takes it) but not listening,
/// until `listen` turns it into a listener on the same port.
pub struct ClosedPort(tokio::net::TcpSocket);

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        ClosedPort(socket)
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.0.local_addr().unwrap()
    }

    pub fn listen(self) -> tokio::net::TcpListener {
        self.0.listen(128).unwrap()
    }
}

/// A unique scratch directory for one test, `api2mcp-test-<label>-<random>` in the system's temporary
/// directory. It is removed when the guard is dropped, even when the test panics: keep the guard for
/// as long as anything (a child process included) uses the files in it.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("api2mcp-test-{label}-")).tempdir().unwrap()
}

/// A file written into a fresh `temp_dir`; the file and its directory are removed when this is dropped.
pub struct TempFile {
    pub path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TempFile {
    /// `text` written to `<temp_dir(label)>/<name>`.
    pub fn new(label: &str, name: &str, text: &str) -> TempFile {
        let dir = temp_dir(label);
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        TempFile { path, _dir: dir }
    }
}

/// `api2mcp serve` as a child process: it listens where `--listen` says (`127.0.0.1:0` in tests) and
/// reports the address it bound in its startup log line (`serving N tools at <url>`, JSON fields
/// `url` and `listen`). Killed on drop.
pub struct ServeProcess {
    pub child: tokio::process::Child,
    /// The MCP URL from the startup line (`http://127.0.0.1:<port>/mcp`).
    pub mcp_url: String,
    /// `http://<client address>`: the MCP URL without `/mcp`.
    pub base: String,
    /// The startup line itself, and the lines before it (JSON log lines, and diagnostics as strings).
    pub startup: serde_json::Value,
    pub earlier: Vec<serde_json::Value>,
    /// Every later stderr line; closed when the process exits.
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl ServeProcess {
    /// Spawns `command` (an `api2mcp serve ...`) with JSON logs and waits up to 30 s for its startup line.
    pub async fn start(mut command: tokio::process::Command) -> ServeProcess {
        let mut child = command
            .env("API2MCP_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("api2mcp serve starts");
        let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let _ = sender.send(line);
            }
        });
        let mut earlier = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let startup = loop {
            let line = tokio::time::timeout_at(deadline, lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no startup line within 30 s: {earlier:?}"))
                .unwrap_or_else(|| panic!("api2mcp serve exited before serving: {earlier:?}"));
            // Diagnostics (`warning[...]`) come before the log starts, as plain text.
            let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&line) else {
                earlier.push(serde_json::Value::String(line));
                continue;
            };
            let message = parsed.get("message").or_else(|| parsed.pointer("/fields/message"));
            if message.and_then(serde_json::Value::as_str).is_some_and(|m| m.starts_with("serving ")) {
                break parsed;
            }
            earlier.push(parsed);
        };
        let url = startup.get("url").or_else(|| startup.pointer("/fields/url"));
        let mcp_url = url.and_then(serde_json::Value::as_str).expect("the startup line has `url`").to_string();
        let base = mcp_url.trim_end_matches("/mcp").to_string();
        ServeProcess { child, mcp_url, base, startup, earlier, lines }
    }

    /// The port from the startup line's `listen` field.
    pub fn port(&self) -> u16 {
        let listen = self.startup.get("listen").or_else(|| self.startup.pointer("/fields/listen"));
        let listen = listen.and_then(serde_json::Value::as_str).expect("the startup line has `listen`");
        listen.rsplit(':').next().unwrap().parse().unwrap()
    }
}

/// What a test upstream received, in arrival order: one shared list, cloned into the upstream's
/// handlers (axum state) and read by the test. `lock()` (through `Deref`) for anything else.
pub struct Recorded<T>(std::sync::Arc<std::sync::Mutex<Vec<T>>>);

impl<T> Clone for Recorded<T> {
    fn clone(&self) -> Self {
        Recorded(self.0.clone())
    }
}

impl<T> Default for Recorded<T> {
    fn default() -> Self {
        Recorded(std::sync::Arc::default())
    }
}

impl<T> std::ops::Deref for Recorded<T> {
    type Target = std::sync::Mutex<Vec<T>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: Clone> Recorded<T> {
    pub fn push(&self, item: T) {
        self.0.lock().unwrap().push(item);
    }

    pub fn all(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Sends `signal` (`TERM`, `KILL`, `STOP`, ...) to process `pid` with kill(1): no unsafe code.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{signal} {pid}");
}

/// Polls until the redis-server on `port` answers a PING (it was just started).
pub async fn redis_ready(port: u16) -> deadpool_redis::redis::aio::MultiplexedConnection {
    let client = deadpool_redis::redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    poll("redis-server answers PING", std::time::Duration::from_secs(10), || async {
        let mut connection = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        let pong: Result<String, _> = deadpool_redis::redis::cmd("PING").query_async(&mut connection).await;
        pong.map(|_| connection).map_err(|e| e.to_string())
    })
    .await
}

/// A JSON-RPC POST to an MCP endpoint in the 2025-11-25 era, with the headers every client sends.
pub fn mcp_post(http: &reqwest::Client, url: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body)
}

/// A `tools/call` of the tool named `hang` (an upstream that never answers), for cancellation tests.
pub const HANGING_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hang"}}"#;
