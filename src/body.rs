//! HTTP response bodies read into memory under a size limit (measured after decompression) and,
//! for upstream responses, under a process-wide budget of buffered bytes shared by every call in
//! flight. Every capped read in the crate (upstream responses, token, introspection and JWKS
//! answers, remote specs) goes through [`read_capped`].
//!
//! Each response is capped, but many large responses at once are not: 80 calls buffering 10 MiB
//! each is 800 MiB. The budget is a semaphore of bytes: a read takes permits for the buffer it is
//! about to grow (the allocation itself, capacity not length, so the buffer's doubling is counted),
//! waits at most [`BUDGET_WAIT`] for them, and otherwise fails with [`ReadError::OverBudget`], which
//! callers classify as a retryable "server busy". The permits are held until the body is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a read waits for budget before it gives up.
pub const BUDGET_WAIT: Duration = Duration::from_secs(1);
/// The budget when none is configured.
pub const DEFAULT_BUDGET_BYTES: usize = 24 * 1024 * 1024;
/// The first allocation of a body of unknown length.
const FIRST_ALLOCATION: usize = 16 * 1024;

// glibc raises its mmap threshold after each large free (up to 32 MiB), so freed response
// buffers can stay in the heap: under a flood of large responses the process kept about 60 MiB
// more than the budget (`bench/hostile-responses`). Unsafe code is forbidden here, so the threshold
// is fixed from outside: the image, the Kubernetes manifests and the bench set
// `MALLOC_MMAP_THRESHOLD_=262144`, which glibc reads before `main` (`specs/limits.md`).

/// Bytes that all buffered upstream response bodies together may hold.
#[derive(Debug, Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl Budget {
    pub fn new(total: usize) -> Self {
        // tokio caps a semaphore's permits; a budget that large is no budget anyway.
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        Budget { bytes: Arc::new(Semaphore::new(total)), total }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes not held by any body now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    async fn take(&self, bytes: usize) -> Result<Option<OwnedSemaphorePermit>, ReadError> {
        if bytes == 0 {
            return Ok(None);
        }
        // More than the whole budget can never be granted: fail now rather than after the wait.
        let count = u32::try_from(bytes).ok().filter(|_| bytes <= self.total).ok_or(ReadError::OverBudget)?;
        match tokio::time::timeout(BUDGET_WAIT, self.bytes.clone().acquire_many_owned(count)).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(ReadError::OverBudget),
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BUDGET_BYTES)
    }
}

/// Budget held by a body; released when dropped.
#[derive(Debug, Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    fn add(&mut self, permit: Option<OwnedSemaphorePermit>) {
        match (&mut self.0, permit) {
            (Some(held), Some(more)) => held.merge(more),
            (held @ None, more) => *held = more,
            (Some(_), None) => {}
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

/// What to do with a body longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Fail with [`ReadError::TooLarge`].
    Fail,
    /// Keep the first `limit` bytes and stop reading (error bodies: their start says enough).
    Truncate,
}

/// A body read whole (or truncated), with the budget it holds.
#[derive(Debug, Default)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub truncated: bool,
    pub held: Held,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the body is larger than the limit")]
    TooLarge,
    #[error("no memory budget for the body")]
    OverBudget,
    #[error("reading the body failed: {0}")]
    Transport(#[from] reqwest::Error),
}

/// Reads `response`'s body under `limit` bytes and, when given, `budget`.
pub async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
    overflow: Overflow,
    budget: Option<&Budget>,
) -> Result<Body, ReadError> {
    let mut body = Body::default();
    // A declared length sizes the buffer at once (never beyond the limit); it is not trusted further.
    let declared = response.content_length().and_then(|n| usize::try_from(n).ok());
    if declared.is_some_and(|n| n > limit) && overflow == Overflow::Fail {
        return Err(ReadError::TooLarge);
    }
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.bytes.len();
        let (take, over) = if chunk.len() > room { (room, true) } else { (chunk.len(), false) };
        if over && overflow == Overflow::Fail {
            return Err(ReadError::TooLarge);
        }
        let needed = body.bytes.len() + take;
        if needed > body.bytes.capacity() {
            let grown = needed
                .max(body.bytes.capacity() * 2)
                .max(declared.unwrap_or(0))
                .max(FIRST_ALLOCATION)
                .min(limit)
                .max(needed);
            if let Some(budget) = budget {
                body.held.add(budget.take(grown - body.bytes.capacity()).await?);
            }
            body.bytes.reserve_exact(grown - body.bytes.len());
        }
        body.bytes.extend_from_slice(&chunk[..take]);
        if over {
            body.truncated = true;
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budget_is_shared_and_released() {
        let budget = Budget::new(100);
        let first = budget.take(60).await.unwrap();
        assert_eq!(budget.available(), 40);
        assert!(matches!(budget.take(101).await, Err(ReadError::OverBudget)), "more than the whole budget");
        drop(first);
        assert_eq!(budget.available(), 100);
        let mut held = Held::default();
        held.add(budget.take(30).await.unwrap());
        held.add(budget.take(30).await.unwrap());
        assert_eq!((held.bytes(), budget.available()), (60, 40));
    }

    #[tokio::test]
    async fn a_read_waits_briefly_then_gives_up() {
        let budget = Budget::new(100);
        let all = budget.take(100).await.unwrap();
        let started = tokio::time::Instant::now();
        assert!(matches!(budget.take(10).await, Err(ReadError::OverBudget)));
        assert!(started.elapsed() >= BUDGET_WAIT);
        // Budget freed while a read waits is granted to it.
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take(10).await.map(|held| held.map(|p| p.num_permits())) }
        });
        drop(all);
        assert_eq!(waiting.await.unwrap().unwrap(), Some(10));
    }
}
