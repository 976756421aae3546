//! Readiness: the catalogue is loaded and every upstream with a `health` probe answers it; Redis
//! (when `server.redis_url` is set) is PINGed and reported `degraded` when it does not answer, which
//! leaves the instance ready (rate limits then fall back to its share). Probes run when `/ready` is asked, concurrently, each
//! under its own timeout, so the answer is as fresh as the request and a reloaded catalogue's
//! upstreams are probed at once.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::catalogue::{Catalogue, HealthProbe, Upstream};

/// How long a Redis PING may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one round of checks answers every `/ready`: `/ready` is public, and a flood of it must not
/// become a flood of upstream probes.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The last round of checks, and what it was for.
struct LastCheck {
    at: Instant,
    catalogue: Weak<Catalogue>,
    shutting_down: bool,
    ready: bool,
    body: Value,
}

/// Long-lived readiness state: the Redis pool (made for the configured URL on first use, remade when
/// the URL changes) and the HTTP client of the upstream probes.
pub struct Readiness {
    redis: Mutex<Option<(String, deadpool_redis::Pool)>>,
    http: reqwest::Client,
    last: Mutex<Option<LastCheck>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    pub fn new() -> Self {
        let http = crate::tls::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Readiness { redis: Mutex::new(None), http, last: Mutex::new(None) }
    }

    /// Every check's result; `true` when all pass. The JSON body says what each check found, without
    /// URLs or credentials. One round runs at a time and its answer is shared for [`FRESH_FOR`] (for
    /// the same catalogue and shutdown state): concurrent requests wait for it instead of probing.
    pub async fn check(&self, catalogue: &Arc<Catalogue>, shutting_down: bool) -> (bool, Value) {
        let mut last = self.last.lock().await;
        if let Some(last) = last.as_ref().filter(|last| {
            last.at.elapsed() < FRESH_FOR
                && last.shutting_down == shutting_down
                && Weak::ptr_eq(&last.catalogue, &Arc::downgrade(catalogue))
        }) {
            return (last.ready, last.body.clone());
        }
        let (ready, body) = self.run_checks(catalogue, shutting_down).await;
        *last = Some(LastCheck {
            at: Instant::now(),
            catalogue: Arc::downgrade(catalogue),
            shutting_down,
            ready,
            body: body.clone(),
        });
        (ready, body)
    }

    async fn run_checks(&self, catalogue: &Catalogue, shutting_down: bool) -> (bool, Value) {
        let mut checks = Map::new();
        let mut ready = !shutting_down;
        if shutting_down {
            checks.insert("shutdown".into(), json!({"status": "down", "detail": "shutting down"}));
        }
        checks.insert("catalogue".into(), json!({"status": "ok", "tools": catalogue.tools.len()}));
        let redis = async {
            match &catalogue.server.redis_url {
                Some(url) => Some(self.ping_redis(url).await),
                None => None,
            }
        };
        let mut probes = tokio::task::JoinSet::new();
        for (index, upstream) in catalogue.upstreams.iter().enumerate() {
            if let Some(probe) = upstream.health.clone() {
                let (upstream, http) = (upstream.clone(), self.http.clone());
                probes.spawn(
                    async move { (index, upstream.name.clone(), probe_upstream(&http, &upstream, &probe).await) },
                );
            }
        }
        let (redis, mut upstreams) = tokio::join!(redis, probes.join_all());
        upstreams.sort_by_key(|(index, _, _)| *index);
        // Without Redis, rate limits fall back to each instance's share: degraded, still serving.
        if let Some(redis) = redis {
            let check = match redis {
                Ok(detail) => json!({"status": "ok", "detail": detail}),
                Err(detail) => json!({"status": "degraded", "detail": detail}),
            };
            checks.insert("redis".into(), check);
        }
        let mut upstream_checks = Map::new();
        for (_, name, result) in upstreams {
            ready &= result.is_ok();
            upstream_checks.insert(name, status(result));
        }
        if !upstream_checks.is_empty() {
            checks.insert("upstreams".into(), Value::Object(upstream_checks));
        }
        let body = json!({"status": if ready { "ready" } else { "not_ready" }, "checks": checks});
        (ready, body)
    }

    async fn ping_redis(&self, url: &str) -> Result<String, String> {
        let pool = {
            let mut current = self.redis.lock().await;
            match current.as_ref().filter(|(configured, _)| configured == url) {
                Some((_, pool)) => pool.clone(),
                None => {
                    // The error may quote the URL, which may hold a password: say only that it is invalid.
                    let pool = deadpool_redis::Config::from_url(url)
                        .builder()
                        .map_err(|_| "invalid redis_url".to_string())?
                        .max_size(2)
                        .runtime(deadpool_redis::Runtime::Tokio1)
                        .build()
                        .map_err(|_| "invalid redis_url".to_string())?;
                    *current = Some((url.to_string(), pool.clone()));
                    pool
                }
            }
        };
        let started = Instant::now();
        let ping = async {
            let mut connection = pool.get().await.map_err(|error| redis_error(&error.to_string()))?;
            let answer: String = deadpool_redis::redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .map_err(|error| redis_error(&error.to_string()))?;
            if answer == "PONG" { Ok(()) } else { Err(format!("unexpected answer to PING: {answer}")) }
        };
        match tokio::time::timeout(REDIS_TIMEOUT, ping).await {
            Ok(Ok(())) => Ok(format!("PING answered in {} ms", started.elapsed().as_millis())),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(format!("no answer to PING within {} s", REDIS_TIMEOUT.as_secs())),
        }
    }
}

async fn probe_upstream(http: &reqwest::Client, upstream: &Upstream, probe: &HealthProbe) -> Result<String, String> {
    let Some(base_url) = &upstream.base_url else {
        return Err("no base URL".to_string());
    };
    let started = Instant::now();
    let attempt = async {
        match &probe.path {
            Some(path) => {
                let url = format!("{}{path}", base_url.trim_end_matches('/'));
                let response = http.get(&url).send().await.map_err(|error| transport_error(&error))?;
                let status = response.status();
                if status.is_success() {
                    Ok(format!("GET {path}: {}", status.as_u16()))
                } else {
                    Err(format!("GET {path}: HTTP {}", status.as_u16()))
                }
            }
            None => {
                let parsed = url::Url::parse(base_url).map_err(|_| "invalid base URL".to_string())?;
                let host = parsed.host_str().ok_or("base URL has no host")?.trim_matches(['[', ']']).to_string();
                let port = parsed.port_or_known_default().ok_or("base URL has no port")?;
                tokio::net::TcpStream::connect((host.as_str(), port))
                    .await
                    .map(|_| "TCP connect".to_string())
                    .map_err(|error| format!("TCP connect: {}", io_kind(&error)))
            }
        }
    };
    match tokio::time::timeout(probe.timeout, attempt).await {
        Ok(Ok(detail)) => Ok(format!("{detail} in {} ms", started.elapsed().as_millis())),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!("no answer within {} ms", probe.timeout.as_millis())),
    }
}

fn status(result: Result<String, String>) -> Value {
    match result {
        Ok(detail) => json!({"status": "ok", "detail": detail}),
        Err(detail) => json!({"status": "down", "detail": detail}),
    }
}

/// Redis errors name the failure, not the URL; the first line is enough.
fn redis_error(message: &str) -> String {
    let first = message.lines().next().unwrap_or("unreachable");
    format!("unreachable: {first}")
}

fn transport_error(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_kind(io);
        }
        source = current.source();
    }
    if error.is_timeout() { "timed out".to_string() } else { "request failed".to_string() }
}

fn io_kind(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "timed out".to_string(),
        kind => kind.to_string(),
    }
}
