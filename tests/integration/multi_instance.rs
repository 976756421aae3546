//! Many instances (issue 12, item 6): three `api2mcp serve` processes behind a real HAProxy
//! (round-robin, started here on loopback) sharing one real `redis-server`. Rate limits hold across
//! instances, a cursor issued by one instance opens on another, a SIGKILLed instance loses no
//! acknowledged call and answers none wrongly, and SIGTERM drains. Every process is a child of the
//! test, killed when its `Fleet` is dropped, also when an assertion fails.
//!
//! Every instance serves `tests/fixtures/multi-instance/api2mcp.yaml` with its own `INSTANCE` in the
//! environment; the mapping puts it at the start of the upstream's base URL path, so the recording
//! upstream knows which instance sent each request. Calls are plain JSON-RPC POSTs (the stateless
//! Streamable HTTP era: no session, any instance can serve any request), which lets the test see
//! HAProxy's own status codes as well as MCP answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::support::{RedisServer, redis_ready, send_signal, temp_dir};

const MAPPING: &str = "tests/fixtures/multi-instance/api2mcp.yaml";
const INSTANCES: usize = 3;
/// The `per_caller` limit of the `limited` tool in the mapping: 5/hour.
const LIMIT: usize = 5;
/// How long any one step may take before the test fails instead of hanging (a debug build on a
/// shared machine; each step normally takes milliseconds).
const STEP: Duration = Duration::from_secs(30);

/// One upstream request as the recording upstream saw it.
#[derive(Clone, Debug)]
struct Hit {
    instance: String,
    tool: &'static str,
    id: String,
}

/// The recording upstream: every request, in arrival order, and a gate that holds `/slow`.
struct Recorder {
    hits: Mutex<Vec<Hit>>,
    changed: tokio::sync::Notify,
    release: tokio::sync::watch::Sender<bool>,
}

impl Recorder {
    fn record(&self, instance: String, tool: &'static str, id: &str) {
        self.hits.lock().unwrap().push(Hit { instance, tool, id: id.to_string() });
        self.changed.notify_waiters();
    }

    fn hits(&self, tool: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|hit| hit.tool == tool).cloned().collect()
    }

    /// Waits until `condition` holds for the requests recorded so far (woken by each new one).
    async fn wait_for(&self, what: &str, condition: impl Fn(&[Hit]) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let changed = self.changed.notified();
            if condition(&self.hits.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}; upstream saw {:?}", self.hits.lock().unwrap());
            }
        }
    }
}

type Params = Query<std::collections::HashMap<String, String>>;

/// The upstream on 127.0.0.1:0: `/{instance}/echo`, `/limited`, `/pages` (three pages by cursor)
/// and `/slow` (answers once released).
async fn recorder() -> (String, Arc<Recorder>) {
    let state = Arc::new(Recorder {
        hits: Mutex::default(),
        changed: Default::default(),
        release: tokio::sync::watch::channel(false).0,
    });
    let app = Router::new()
        .route(
            "/{instance}/echo",
            get(|State(state): State<Arc<Recorder>>, Path(instance): Path<String>, Query(query): Params| async move {
                let id = query.get("id").cloned().unwrap_or_default();
                state.record(instance.clone(), "echo", &id);
                axum::Json(json!({"id": id, "instance": instance}))
            }),
        )
        .route(
            "/{instance}/limited",
            get(|State(state): State<Arc<Recorder>>, Path(instance): Path<String>| async move {
                state.record(instance.clone(), "limited", "");
                axum::Json(json!({"instance": instance}))
            }),
        )
        .route(
            "/{instance}/pages",
            get(|State(state): State<Arc<Recorder>>, Path(instance): Path<String>, Query(query): Params| async move {
                let cursor = query.get("cursor").cloned().unwrap_or_default();
                state.record(instance, "pages", &cursor);
                axum::Json(match cursor.as_str() {
                    "" => json!({"items": [1, 2], "next": "p2"}),
                    "p2" => json!({"items": [3, 4], "next": "p3"}),
                    _ => json!({"items": [5]}),
                })
            }),
        )
        .route(
            "/{instance}/slow",
            get(|State(state): State<Arc<Recorder>>, Path(instance): Path<String>, Query(query): Params| async move {
                let id = query.get("id").cloned().unwrap_or_default();
                let mut released = state.release.subscribe();
                state.record(instance.clone(), "slow", &id);
                let _ = released.wait_for(|released| *released).await;
                axum::Json(json!({"id": id, "instance": instance}))
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), state)
}

/// One `api2mcp serve` process and the log lines it has written so far.
struct Instance {
    name: String,
    process: tokio::process::Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// A field of a JSON log line (tracing puts event fields under `fields`).
fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    if line[name].is_null() { &line["fields"][name] } else { &line[name] }
}

impl Instance {
    /// Starts `api2mcp serve` on 127.0.0.1:0 and reads the address it bound from its JSON startup
    /// line (`"serving N tools at ..."`, field `listen`). Its stderr is read to the end, so the
    /// process never blocks on a full pipe.
    async fn start(name: &str, upstream: &str, redis_url: &str) -> Instance {
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
            .args(["serve", "--config", MAPPING, "--listen", "127.0.0.1:0"])
            // Queue-delay shedding is off: it would turn a busy shared test machine into 503s that
            // have nothing to do with what is tested here.
            .args(["--queue-target", "0", "--shutdown-grace", "60s"])
            .env("UPSTREAM", upstream)
            .env("REDIS_URL", redis_url)
            .env("INSTANCE", name)
            .env("API2MCP_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .env_remove("API2MCP_CONFIG")
            .env_remove("API2MCP_LISTEN")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the api2mcp binary starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (bound, address) = tokio::sync::oneshot::channel::<SocketAddr>();
        let mut lines = tokio::io::BufReader::new(process.stderr.take().unwrap()).lines();
        let lines_log = log.clone();
        tokio::spawn(async move {
            let mut bound = Some(bound);
            while let Ok(Some(line)) = lines.next_line().await {
                let parsed: Value = serde_json::from_str(&line).unwrap_or_default();
                if field(&parsed, "message").as_str().is_some_and(|m| m.starts_with("serving "))
                    && let Some(listen) = field(&parsed, "listen").as_str().and_then(|a| a.parse().ok())
                    && let Some(bound) = bound.take()
                {
                    let _ = bound.send(listen);
                }
                lines_log.lock().unwrap().push(line);
            }
        });
        let address = match tokio::time::timeout(STEP, address).await {
            Ok(Ok(address)) => address,
            _ => panic!("instance {name} did not report its address; its log:\n{}", log.lock().unwrap().join("\n")),
        };
        Instance { name: name.to_string(), process, address, log }
    }
}

/// Redis, the recording upstream, three instances and HAProxy in front of them. Dropping it kills
/// every child process (also on a failed assertion, when the test unwinds).
struct Fleet {
    _redis: RedisServer,
    recorder: Arc<Recorder>,
    instances: Vec<Instance>,
    haproxy: tokio::process::Child,
    /// HAProxy's listening address: the one clients use.
    balancer: SocketAddr,
    http: reqwest::Client,
    /// HAProxy's configuration and log; removed after the processes are told to stop.
    dir: tempfile::TempDir,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            let _ = instance.process.start_kill();
        }
        let _ = self.haproxy.start_kill();
    }
}

impl Fleet {
    async fn start() -> Fleet {
        let dir = temp_dir("multi-instance");
        let redis = RedisServer::start();
        let redis_port = redis.port();
        drop(redis_ready(redis_port).await);
        let (upstream, recorder) = recorder().await;
        let redis_url = format!("redis://127.0.0.1:{redis_port}/0");
        // The instances start concurrently (each compiles the mapping).
        let starting: Vec<_> = (0..INSTANCES)
            .map(|i| {
                let (upstream, redis_url) = (upstream.clone(), redis_url.clone());
                tokio::spawn(async move { Instance::start(&format!("i{i}"), &upstream, &redis_url).await })
            })
            .collect();
        let mut instances = Vec::new();
        for instance in starting {
            instances.push(instance.await.unwrap());
        }

        // HAProxy gets its listening socket already bound and listening, as its stdin (`bind fd@0`):
        // the port is ours from the start (no bind-drop-rebind race) and no unsafe code is needed to
        // pass a descriptor. Connections made before HAProxy is up wait in the socket's backlog.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let balancer = listener.local_addr().unwrap();
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(&instances)).unwrap();
        let haproxy_log = std::fs::File::create(dir.path().join("haproxy.log")).unwrap();
        let haproxy = tokio::process::Command::new(haproxy_binary())
            .args(["-db", "-f"])
            .arg(&config)
            .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(listener)))
            .stdout(std::process::Stdio::null())
            .stderr(haproxy_log)
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy is installed (./test and .ci/run install it; locally: apt-get install -y haproxy)");
        let http = reqwest::Client::builder().no_proxy().timeout(STEP).build().unwrap();
        let mut fleet = Fleet { _redis: redis, recorder, instances, haproxy, balancer, http, dir };
        fleet.wait_for_balancer().await;
        fleet
    }

    /// Waits until a request through HAProxy is answered (it may still be reading its configuration).
    async fn wait_for_balancer(&mut self) {
        let deadline = Instant::now() + STEP;
        loop {
            let answer = self.http.get(format!("http://{}/health", self.balancer)).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return;
            }
            if let Ok(Some(status)) = self.haproxy.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default();
                panic!("haproxy exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "haproxy did not answer within {STEP:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn instance(&mut self, name: &str) -> &mut Instance {
        self.instances.iter_mut().find(|instance| instance.name == name).unwrap()
    }

    /// The instance logs, for failure messages.
    fn logs(&self) -> String {
        let mut logs = String::new();
        for instance in &self.instances {
            logs.push_str(&format!("--- {} ---\n{}\n", instance.name, instance.log.lock().unwrap().join("\n")));
        }
        logs
    }
}

fn haproxy_binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/haproxy").exists() { "/usr/sbin/haproxy" } else { "haproxy" }
}

/// Round-robin over the instances. `http-server-close` opens a server connection per request, so
/// each request is balanced on its own and a closed listener (killed or draining instance) shows
/// as a refused connection, which HAProxy retries on another instance (`redispatch`): a request
/// that was never sent is safe to retry. Requests already sent are never retried (`retry-on` keeps
/// its default, connection failures only).
fn haproxy_config(instances: &[Instance]) -> String {
    let mut config = String::from(
        "global\n  maxconn 2000\n  nbthread 1\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n  \
         retries 3\n  option redispatch 1\n  option http-server-close\n\
         frontend mcp\n  bind fd@0\n  default_backend api2mcp\n\
         backend api2mcp\n  balance roundrobin\n",
    );
    for instance in instances {
        config.push_str(&format!("  server {} {}\n", instance.name, instance.address));
    }
    config
}

/// Why a call got no MCP answer: HAProxy's status or a connection error.
#[derive(Debug)]
enum Failure {
    Status(u16, String),
    Transport(String),
}

/// One `tools/call` as a plain JSON-RPC POST to `address` (an instance or HAProxy). `Ok` is the
/// JSON-RPC answer of an HTTP 200; anything else is a `Failure`.
async fn call(
    http: &reqwest::Client,
    address: SocketAddr,
    rpc_id: usize,
    tool: &str,
    arguments: Value,
) -> Result<Value, Failure> {
    let request = json!({"jsonrpc": "2.0", "id": rpc_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}});
    let answer = http
        .post(format!("http://{address}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(request.to_string())
        .send()
        .await
        .map_err(|error| Failure::Transport(format!("{error:?}")))?;
    let status = answer.status().as_u16();
    let body = answer.text().await.map_err(|error| Failure::Transport(format!("{error:?}")))?;
    if status != 200 {
        return Err(Failure::Status(status, body));
    }
    Ok(serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("HTTP 200 with a body that is not JSON ({error}): {body}")))
}

/// The structured content of a successful answer to JSON-RPC request `rpc_id`.
fn success(answer: &Value, rpc_id: usize) -> &Value {
    assert_eq!(answer["id"], rpc_id, "the answer belongs to another request: {answer}");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    &answer["result"]["structuredContent"]
}

/// The error of a tool error answer to JSON-RPC request `rpc_id`.
fn tool_error(answer: &Value, rpc_id: usize) -> &Value {
    assert_eq!(answer["id"], rpc_id, "the answer belongs to another request: {answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    &answer["result"]["structuredContent"]
}

fn assert_rate_limited(answer: &Value, rpc_id: usize, served_by: &str) {
    let error = tool_error(answer, rpc_id);
    assert_eq!(error["code"], "rate_limited", "{served_by}: {error}");
    assert_eq!(error["category"], "CLIENT", "{served_by}: {error}");
    assert_eq!(error["retryable"], true, "{served_by}: {error}");
    // 5/hour: one unit every 720 s; the wait is what is left of it, rounded up to whole seconds,
    // less the time the calls took since the first one.
    let wait = error["retry_after"].as_u64().unwrap_or_else(|| panic!("{served_by}: no retry_after in {error}"));
    assert!((700..=720).contains(&wait), "{served_by}: retry_after {wait}: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_caller_limit_holds_across_three_instances_behind_haproxy() {
    let fleet = Fleet::start().await;
    for rpc_id in 0..LIMIT {
        let answer = call(&fleet.http, fleet.balancer, rpc_id, "limited", json!({})).await.unwrap();
        success(&answer, rpc_id);
    }
    let served: Vec<String> = fleet.recorder.hits("limited").into_iter().map(|hit| hit.instance).collect();
    assert_eq!(served.len(), LIMIT, "{served:?}");
    let mut distinct = served.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct, ["i0", "i1", "i2"], "HAProxy spread the {LIMIT} calls over every instance: {served:?}");

    // The caller (anonymous: its address, 127.0.0.1, through HAProxy or not) has used its limit on
    // every instance at once: the next call is refused through HAProxy and by each instance.
    let answer = call(&fleet.http, fleet.balancer, 100, "limited", json!({})).await.unwrap();
    assert_rate_limited(&answer, 100, "through haproxy");
    for (n, instance) in fleet.instances.iter().enumerate() {
        let answer = call(&fleet.http, instance.address, 101 + n, "limited", json!({})).await.unwrap();
        assert_rate_limited(&answer, 101 + n, &instance.name);
    }
    assert_eq!(fleet.recorder.hits("limited").len(), LIMIT, "a refused call is never sent upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_issued_by_one_instance_opens_on_another() {
    let fleet = Fleet::start().await;
    let (first, second) = (&fleet.instances[0], &fleet.instances[1]);
    let answer = call(&fleet.http, first.address, 1, "pages", json!({})).await.unwrap();
    let page = success(&answer, 1);
    assert_eq!(page["items"], json!([1, 2]), "{answer}");
    let cursor = page["next_cursor"].as_str().unwrap_or_else(|| panic!("no next_cursor: {answer}")).to_string();
    let answer = call(&fleet.http, second.address, 2, "pages", json!({"cursor": cursor})).await.unwrap();
    let page = success(&answer, 2);
    assert_eq!(page["items"], json!([3, 4]), "{answer}");
    let served: Vec<(String, String)> =
        fleet.recorder.hits("pages").into_iter().map(|hit| (hit.instance, hit.id)).collect();
    assert_eq!(served, [("i0".into(), String::new()), ("i1".into(), "p2".into())]);

    // Through HAProxy: a walk of all three pages, each page served by whichever instance is next.
    let mut items = Vec::new();
    let mut arguments = json!({});
    for rpc_id in 10..20 {
        let answer = call(&fleet.http, fleet.balancer, rpc_id, "pages", arguments).await.unwrap();
        let page = success(&answer, rpc_id);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => arguments = json!({"cursor": cursor}),
            None => break,
        }
    }
    assert_eq!(items, [json!(1), json!(2), json!(3), json!(4), json!(5)]);
    let walk: Vec<String> = fleet.recorder.hits("pages").into_iter().skip(2).map(|hit| hit.instance).collect();
    assert_eq!(walk.len(), 3, "{walk:?}");
    assert!(walk.windows(2).all(|pair| pair[0] != pair[1]), "round-robin: each page from another instance: {walk:?}");
}

/// How one call of the load ended.
#[derive(Debug)]
enum Ended {
    /// A successful MCP answer: the instance the upstream answer names.
    Acknowledged { instance: String },
    /// No MCP answer, cleanly: HAProxy's 502/503/504 or a closed connection.
    Failed(String),
}

const BEFORE_KILL: u8 = 0;
const KILLING: u8 = 1;
const AFTER_KILL: u8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_load_loses_no_acknowledged_call() {
    const CALLS: usize = 240;
    const CONCURRENCY: usize = 8;
    let mut fleet = Fleet::start().await;
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(tokio::sync::Notify::new());
    // When each call started: before the kill was sent, while it was under way (SIGKILL sent, the
    // process not yet gone), or after the process was gone.
    let phase = Arc::new(AtomicU8::new(BEFORE_KILL));
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, balancer) = (fleet.http.clone(), fleet.balancer);
        let (next, answered, progress, phase) = (next.clone(), answered.clone(), progress.clone(), phase.clone());
        workers.push(tokio::spawn(async move {
            let mut ended = Vec::new();
            loop {
                let rpc_id = next.fetch_add(1, Ordering::SeqCst);
                if rpc_id >= CALLS {
                    return ended;
                }
                let started = phase.load(Ordering::SeqCst);
                let id = format!("call-{rpc_id}");
                let outcome = match call(&http, balancer, rpc_id, "echo", json!({"id": id})).await {
                    Ok(answer) => {
                        // Never a wrong answer: the JSON-RPC id and the upstream's echo are this call's.
                        let content = success(&answer, rpc_id);
                        assert_eq!(content["id"], id, "call {rpc_id} got another call's answer: {answer}");
                        Ended::Acknowledged { instance: content["instance"].as_str().unwrap().to_string() }
                    }
                    Err(Failure::Status(status, body)) => {
                        assert!([502, 503, 504].contains(&status), "call {rpc_id}: HTTP {status}: {body}");
                        Ended::Failed(format!("HTTP {status}"))
                    }
                    Err(Failure::Transport(error)) => Ended::Failed(error),
                };
                ended.push((rpc_id, started, outcome));
                answered.fetch_add(1, Ordering::SeqCst);
                progress.notify_waiters();
            }
        }));
    }

    // A third of the way through, SIGKILL the instance that served the latest call.
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let notified = progress.notified();
        if answered.load(Ordering::SeqCst) >= CALLS / 3 {
            break;
        }
        tokio::time::timeout_at(deadline, notified).await.expect("the load makes progress");
    }
    let victim = fleet.recorder.hits("echo").last().unwrap().instance.clone();
    let logs = fleet.logs();
    let process = &mut fleet.instance(&victim).process;
    // `kill` sends SIGKILL and waits until the process is gone: calls started after it cannot reach it.
    // Calls started while it is under way may still be sent to the dying instance.
    phase.store(KILLING, Ordering::SeqCst);
    process.kill().await.unwrap();
    phase.store(AFTER_KILL, Ordering::SeqCst);

    let mut ended = Vec::new();
    for worker in workers {
        ended.extend(tokio::time::timeout(STEP * 2, worker).await.expect("the load ends").unwrap());
    }
    assert_eq!(ended.len(), CALLS);

    let hits = fleet.recorder.hits("echo");
    let mut recorded: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for hit in &hits {
        recorded.entry(hit.id.as_str()).or_default().push(hit.instance.as_str());
    }
    let duplicated: Vec<_> = recorded.iter().filter(|(_, instances)| instances.len() > 1).collect();
    assert!(duplicated.is_empty(), "requests sent upstream twice: {duplicated:?}");
    let mut failures = Vec::new();
    for (rpc_id, started, outcome) in &ended {
        let after_kill = *started == AFTER_KILL;
        let id = format!("call-{rpc_id}");
        match outcome {
            Ended::Acknowledged { instance } => {
                assert_eq!(
                    recorded.get(id.as_str()).map(Vec::as_slice),
                    Some([instance.as_str()].as_slice()),
                    "acknowledged call {id} was recorded once, by the instance that answered"
                );
                assert!(
                    !(after_kill && *instance == victim),
                    "call {id} started after the kill was served by {victim}"
                );
            }
            Ended::Failed(why) => {
                // A failed call died with the killed instance: if it reached the upstream at all, it
                // went through that instance.
                if let Some(instances) = recorded.get(id.as_str()) {
                    assert_eq!(instances, &[victim.as_str()], "failed call {id} ({why})");
                }
                assert!(
                    !after_kill,
                    "call {id} started after the kill failed ({why}): HAProxy retries refused connections"
                );
                failures.push((rpc_id, *started, why.clone()));
            }
        }
    }
    // Only calls in flight on the killed instance when it was killed may fail: at most one per
    // concurrent caller, and any started while the kill was under way (sent to the dying instance).
    let in_flight = failures.iter().filter(|(_, started, _)| *started == BEFORE_KILL).count();
    assert!(in_flight <= CONCURRENCY, "{failures:?}\n{logs}");
    let served_by_victim = ended
        .iter()
        .filter(|(_, _, outcome)| matches!(outcome, Ended::Acknowledged { instance } if *instance == victim))
        .count();
    assert!(served_by_victim > 0, "the killed instance served part of the load before it died");
    let after_kill = ended.iter().filter(|(_, started, _)| *started == AFTER_KILL).count();
    assert!(after_kill >= CALLS / 3, "most of the load ran after the kill ({after_kill} calls)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_calls_in_flight_while_the_others_take_new_ones() {
    let mut fleet = Fleet::start().await;
    // One slow call per instance through HAProxy (round-robin), each held by the upstream.
    let mut slow_calls = Vec::new();
    for n in 0..INSTANCES {
        let (http, balancer) = (fleet.http.clone(), fleet.balancer);
        slow_calls.push(tokio::spawn(async move {
            call(&http, balancer, n, "slow", json!({"id": format!("slow-{n}")})).await
        }));
    }
    fleet.recorder.wait_for("every slow call to reach the upstream", |hits| hits.len() == INSTANCES).await;
    let victim = fleet.recorder.hits("slow")[0].instance.clone();
    let (pid, address) = {
        let instance = fleet.instance(&victim);
        (instance.process.id().unwrap(), instance.address)
    };
    send_signal(pid, "TERM");

    // The draining instance closes its listener at once (HAProxy then sends new connections to the
    // others)...
    let deadline = Instant::now() + STEP;
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "{victim} still accepts connections after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...but keeps running while its call is in flight.
    assert!(fleet.instance(&victim).process.try_wait().unwrap().is_none(), "{victim} exited with a call in flight");
    for rpc_id in 100..(100 + 2 * INSTANCES) {
        let id = format!("new-{rpc_id}");
        let answer = call(&fleet.http, fleet.balancer, rpc_id, "echo", json!({"id": id})).await.unwrap();
        let content = success(&answer, rpc_id);
        assert_eq!(content["id"], id, "{answer}");
        assert_ne!(content["instance"], victim.as_str(), "a new call went to the draining instance");
    }

    fleet.recorder.release.send_replace(true);
    for (n, slow_call) in slow_calls.into_iter().enumerate() {
        let answer = tokio::time::timeout(STEP, slow_call).await.expect("the slow call ends").unwrap();
        let answer = answer.unwrap_or_else(|failure| panic!("slow call {n} failed: {failure:?}\n{}", fleet.logs()));
        assert_eq!(success(&answer, n)["id"], format!("slow-{n}"), "{answer}");
    }
    let status = tokio::time::timeout(STEP, fleet.instance(&victim).process.wait())
        .await
        .expect("the drained instance exits")
        .unwrap();
    assert!(status.success(), "{victim} exited with {status} after draining\n{}", fleet.logs());
}
