//! Rate limits: every bucket a call must fit (per caller, per client, per tool, per upstream, the
//! global backstop), decided in process with `governor` (GCRA) or, with `server.redis_url`, by one
//! atomic Lua script in Redis shared by every instance. When Redis does not answer within its
//! timeout, the decision falls back to this instance's share of each limit; Redis is tried again
//! after [`REDIS_RETRY_AFTER`], so reconnection needs nothing from the operator.
//!
//! Both paths run the same algorithm: a bucket of `count` units refilled evenly over `period`
//! (emission interval `period / count`, burst `count`); a call takes `cost` units from every bucket.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::catalogue::Catalogue;
use crate::catalogue::resilience::{LimitSet, Rate};
use crate::telemetry::metrics::Metrics;

/// After a Redis failure, decisions stay local this long before Redis is tried again: a down Redis
/// then costs one timeout per interval, not one per call.
pub const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Local limiters forget idle callers every this many decisions (their state is then a fresh bucket).
const SWEEP_EVERY: u64 = 4096;
/// Every Redis key starts with this.
pub const KEY_PREFIX: &str = "api2mcp:rl:";

/// Who is calling, as far as it is known.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The token subject or `key:<id>`; `None` for anonymous callers.
    pub caller: Option<String>,
    /// The client's network address, when the transport knows it.
    pub client: Option<String>,
}

/// A call that does not fit: which limit refused it and when it would fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// e.g. `tool:per_caller`, `global:total`, `anonymous`, `http`.
    pub limit: String,
    pub retry_after: Duration,
}

/// One bucket's limiter in this process.
struct LocalBucket {
    /// The metric / refusal label.
    label: String,
    /// The name of the bucket in Redis (its owner and scope; the identity is appended).
    redis_name: String,
    rate: Rate,
    /// The exact rate alone, this instance's share with Redis (the fallback).
    limiter: DefaultKeyedRateLimiter<String>,
}

impl LocalBucket {
    fn new(label: String, redis_name: String, rate: Rate, local_rate: Rate) -> Self {
        let quota = quota(local_rate);
        LocalBucket { label, redis_name, rate, limiter: RateLimiter::keyed(quota) }
    }
}

fn quota(rate: Rate) -> Quota {
    let count = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
    let interval = (rate.period / count.get()).max(Duration::from_nanos(1));
    Quota::with_period(interval).unwrap_or_else(|| Quota::per_second(count)).allow_burst(count)
}

/// Indexes of one level's buckets in [`Limiter::buckets`].
#[derive(Default, Clone, Copy)]
struct Level {
    total: Option<usize>,
    per_caller: Option<usize>,
    per_client: Option<usize>,
}

/// Every rate limit of one catalogue.
pub struct Limiter {
    buckets: Vec<LocalBucket>,
    global: Level,
    upstreams: Vec<Level>,
    tools: Vec<Level>,
    /// The one bucket of unidentified callers.
    anonymous: Option<usize>,
    /// Requests to `/mcp` per client address (always local).
    http: Option<DefaultKeyedRateLimiter<String>>,
    redis: Option<SharedStore>,
    decisions: AtomicU64,
    metrics: Option<Arc<Metrics>>,
}

/// Where each call stands, for the `/ready` check and the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// No Redis: limits are this instance's.
    Local,
    /// Decisions are made in Redis.
    Shared,
    /// Redis is configured but did not answer: each instance enforces its share.
    Degraded,
}

impl Limiter {
    pub fn new(catalogue: &Catalogue) -> Result<Self, String> {
        let limits = &catalogue.server.limits;
        let shared = catalogue.server.redis_url.is_some();
        let instances = if shared { limits.instances } else { 1 };
        let mut buckets = Vec::new();
        let mut add = |owner: &str, label_level: &str, set: &LimitSet| -> Level {
            let mut level = Level::default();
            for (scope, rate, slot) in [
                ("total", set.total, &mut level.total),
                ("per_caller", set.per_caller, &mut level.per_caller),
                ("per_client", set.per_client, &mut level.per_client),
            ] {
                if let Some(rate) = rate {
                    *slot = Some(buckets.len());
                    buckets.push(LocalBucket::new(
                        format!("{label_level}:{scope}"),
                        format!("{owner}:{scope}"),
                        rate,
                        rate.share(instances),
                    ));
                }
            }
            level
        };
        let global = add("g", "global", &limits.global);
        let upstreams = catalogue
            .upstreams
            .iter()
            .map(|upstream| add(&format!("u:{}", upstream.name), "upstream", &upstream.resilience.limits))
            .collect();
        let tools = catalogue
            .tools
            .iter()
            .map(|tool| add(&format!("t:{}", tool.name), "tool", &tool.resilience.limits))
            .collect();
        // Unidentified callers share one bucket, as strict as the strictest per-caller limit.
        let strictest = std::iter::once(&limits.global)
            .chain(catalogue.upstreams.iter().map(|u| &u.resilience.limits))
            .chain(catalogue.tools.iter().map(|t| &t.resilience.limits))
            .filter_map(|set| set.per_caller)
            .min_by(|a, b| {
                (a.count as f64 / a.period.as_secs_f64()).total_cmp(&(b.count as f64 / b.period.as_secs_f64()))
            });
        let anonymous = limits.anonymous.or(strictest).map(|rate| {
            buckets.push(LocalBucket::new("anonymous".into(), "anonymous".into(), rate, rate.share(instances)));
            buckets.len() - 1
        });
        let http = limits.http_per_address.map(|rate| RateLimiter::keyed(quota(rate)));
        let redis = match &catalogue.server.redis_url {
            Some(url) if !buckets.is_empty() => Some(SharedStore::new(url, limits.redis_timeout)?),
            _ => None,
        };
        Ok(Limiter {
            buckets,
            global,
            upstreams,
            tools,
            anonymous,
            http,
            redis,
            decisions: AtomicU64::new(0),
            metrics: None,
        })
    }

    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }

    pub fn sharing(&self) -> Sharing {
        match &self.redis {
            None => Sharing::Local,
            Some(store) if store.down.load(Ordering::Relaxed) => Sharing::Degraded,
            Some(_) => Sharing::Shared,
        }
    }

    /// Whether any limit applies to `tool_index`'s calls (no work at all otherwise).
    pub fn applies(&self, tool_index: usize, upstream_index: usize) -> bool {
        let levels = [self.tools[tool_index], self.upstreams[upstream_index], self.global];
        levels.iter().any(|l| l.total.is_some() || l.per_caller.is_some() || l.per_client.is_some())
    }

    /// Takes `cost` units from every bucket the call falls in, or refuses it with the longest wait.
    pub async fn admit(
        &self,
        tool_index: usize,
        upstream_index: usize,
        cost: u32,
        identity: &Identity,
    ) -> Result<(), Refusal> {
        if !self.applies(tool_index, upstream_index) {
            return Ok(());
        }
        let checks = self.checks(tool_index, upstream_index, identity);
        if checks.is_empty() {
            return Ok(());
        }
        let decision = match &self.redis {
            Some(store) if !store.skip() => match store.decide(&self.buckets, &checks, cost).await {
                Ok(decision) => decision,
                Err(error) => {
                    tracing::warn!(%error, "redis did not decide a rate limit: this instance enforces its share");
                    if let Some(metrics) = &self.metrics {
                        metrics.rate_limit_fallback();
                    }
                    self.decide_locally(&checks, cost)
                }
            },
            Some(_) => {
                if let Some(metrics) = &self.metrics {
                    metrics.rate_limit_fallback();
                }
                self.decide_locally(&checks, cost)
            }
            None => self.decide_locally(&checks, cost),
        };
        if self.decisions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        if let (Err(refusal), Some(metrics)) = (&decision, &self.metrics) {
            metrics.rate_limited(&refusal.limit);
        }
        decision
    }

    /// The `/mcp` request limit per client address (before any tool is known).
    pub fn admit_http(&self, address: std::net::IpAddr) -> Result<(), Refusal> {
        let Some(limiter) = &self.http else { return Ok(()) };
        // Keyed by the address's text, made only when a limit is set.
        match limiter.check_key(&address.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(Refusal {
                limit: "http".into(),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
        }
    }

    /// (bucket, identity key) pairs, the caller's own buckets first so that a caller over its own
    /// limit takes nothing from the shared ones.
    fn checks(&self, tool_index: usize, upstream_index: usize, identity: &Identity) -> Vec<(usize, String)> {
        let levels = [self.tools[tool_index], self.upstreams[upstream_index], self.global];
        let caller = identity.caller.clone().or_else(|| identity.client.as_ref().map(|a| format!("addr:{a}")));
        let mut checks = Vec::with_capacity(4);
        match &caller {
            Some(caller) => {
                checks.extend(levels.iter().filter_map(|l| l.per_caller).map(|b| (b, format!("c:{caller}"))));
            }
            None => {
                if let Some(anonymous) = self.anonymous
                    && levels.iter().any(|l| l.per_caller.is_some())
                {
                    checks.push((anonymous, String::new()));
                }
            }
        }
        if let Some(client) = &identity.client {
            checks.extend(levels.iter().filter_map(|l| l.per_client).map(|b| (b, format!("a:{client}"))));
        }
        checks.extend(levels.iter().filter_map(|l| l.total).map(|b| (b, String::new())));
        checks
    }

    fn decide_locally(&self, checks: &[(usize, String)], cost: u32) -> Result<(), Refusal> {
        let cells = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        for (index, key) in checks {
            let bucket = &self.buckets[*index];
            match bucket.limiter.check_key_n(key, cells) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => {
                    return Err(Refusal {
                        limit: bucket.label.clone(),
                        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                    });
                }
                // A cost above the bucket's size never fits (`check` reports it); a period is the honest wait.
                Err(_) => return Err(Refusal { limit: bucket.label.clone(), retry_after: bucket.rate.period }),
            }
        }
        Ok(())
    }

    fn sweep(&self) {
        for bucket in &self.buckets {
            bucket.limiter.retain_recent();
            bucket.limiter.shrink_to_fit();
        }
        if let Some(http) = &self.http {
            http.retain_recent();
            http.shrink_to_fit();
        }
    }

    /// Keys held by the local limiters (for tests and the memory bound).
    pub fn local_keys(&self) -> usize {
        self.buckets.iter().map(|b| b.limiter.len()).sum::<usize>() + self.http.as_ref().map_or(0, |h| h.len())
    }
}

/// The GCRA over every bucket of one call, all or nothing: TATs are microseconds on Redis's clock
/// (`TIME`), so instances with skewed clocks agree; each key expires when its bucket is full again.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local worst = 0
local worst_index = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local cost = tonumber(ARGV[#ARGV])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new = tat + cost * interval
  local wait = new - period - now
  if wait > worst then worst = wait; worst_index = i end
  tats[i] = new
end
if worst > 0 then return {0, string.format('%.0f', worst), worst_index} end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', ttl)
end
return {1, '0', 0}
";

/// Redis, reached through one multiplexed connection taken from the pool and kept while it works.
struct SharedStore {
    pool: deadpool_redis::Pool,
    connection: tokio::sync::Mutex<Option<deadpool_redis::redis::aio::MultiplexedConnection>>,
    timeout: Duration,
    down: AtomicBool,
    down_since: std::sync::Mutex<Option<Instant>>,
}

impl SharedStore {
    fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let pool = deadpool_redis::Config::from_url(url)
            .builder()
            .map_err(|_| "invalid redis_url".to_string())?
            .max_size(4)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool_redis::Runtime::Tokio1)
            .build()
            .map_err(|_| "invalid redis_url".to_string())?;
        Ok(SharedStore {
            pool,
            connection: tokio::sync::Mutex::new(None),
            timeout,
            down: AtomicBool::new(false),
            down_since: std::sync::Mutex::new(None),
        })
    }

    /// Down, and not yet time to try again (when it is time, this decision goes to Redis).
    fn skip(&self) -> bool {
        if !self.down.load(Ordering::Relaxed) {
            return false;
        }
        let since = self.down_since.lock().map(|s| *s).unwrap_or(None);
        match since {
            Some(since) if since.elapsed() < REDIS_RETRY_AFTER => true,
            _ => {
                // Time to try again: the next decision goes to Redis (and marks it down again if it fails).
                if let Ok(mut since) = self.down_since.lock() {
                    *since = Some(Instant::now());
                }
                false
            }
        }
    }

    fn mark(&self, up: bool) {
        self.down.store(!up, Ordering::Relaxed);
        if let Ok(mut since) = self.down_since.lock() {
            *since = if up { None } else { Some(Instant::now()) };
        }
    }

    async fn decide(
        &self,
        buckets: &[LocalBucket],
        checks: &[(usize, String)],
        cost: u32,
    ) -> Result<Result<(), Refusal>, String> {
        let attempt = async {
            let mut connection = self.connection().await?;
            // EVAL, not EVALSHA: one round trip whatever Redis has cached, and the script is small.
            let mut command = deadpool_redis::redis::cmd("EVAL");
            command.arg(SCRIPT).arg(checks.len());
            for (index, key) in checks {
                command.arg(format!("{KEY_PREFIX}{}:{key}", buckets[*index].redis_name));
            }
            for (index, _) in checks {
                let rate = buckets[*index].rate;
                let period = rate.period.as_micros() as u64;
                command.arg(period / u64::from(rate.count.max(1))).arg(period);
            }
            command.arg(cost);
            let answer: (i64, String, i64) =
                command.query_async(&mut connection).await.map_err(|error| first_line(&error.to_string()))?;
            Ok::<_, String>(answer)
        };
        let answer = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Err(self.failed(error).await),
            Err(_) => return Err(self.failed(format!("no answer within {} ms", self.timeout.as_millis())).await),
        };
        self.mark(true);
        let (allowed, wait_micros, index) = answer;
        if allowed == 1 {
            return Ok(Ok(()));
        }
        let bucket = usize::try_from(index - 1).ok().and_then(|i| checks.get(i)).map(|(b, _)| &buckets[*b]);
        Ok(Err(Refusal {
            limit: bucket.map_or_else(|| "redis".to_string(), |b| b.label.clone()),
            retry_after: Duration::from_micros(wait_micros.parse().unwrap_or(0)),
        }))
    }

    async fn connection(&self) -> Result<deadpool_redis::redis::aio::MultiplexedConnection, String> {
        let mut cached = self.connection.lock().await;
        if let Some(connection) = cached.as_ref() {
            return Ok(connection.clone());
        }
        let pooled = self.pool.get().await.map_err(|error| first_line(&error.to_string()))?;
        let connection = (*pooled).clone();
        *cached = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection (the next attempt makes a new one) and marks Redis down.
    async fn failed(&self, error: String) -> String {
        if let Ok(mut cached) = self.connection.try_lock() {
            *cached = None;
        }
        self.mark(false);
        error
    }
}

/// Redis errors may quote the URL (and its password): only their first line, which names the failure.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("redis failed").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_count_per_period_with_a_burst_of_count() {
        let limiter: DefaultKeyedRateLimiter<String> =
            RateLimiter::keyed(quota(Rate { count: 3, period: Duration::from_secs(3600) }));
        let key = "k".to_string();
        for _ in 0..3 {
            assert!(limiter.check_key(&key).is_ok());
        }
        let wait = limiter.check_key(&key).unwrap_err().wait_time_from(DefaultClock::default().now());
        assert!(wait > Duration::from_secs(1190) && wait <= Duration::from_secs(1200), "{wait:?}");
    }

    #[test]
    fn a_share_never_drops_to_zero() {
        let rate = Rate { count: 10, period: Duration::from_secs(1) };
        assert_eq!(rate.share(3).count, 3);
        assert_eq!(Rate { count: 2, ..rate }.share(3).count, 1);
    }
}
