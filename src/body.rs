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

use axum::body::Bytes;
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

    /// Takes `bytes` if they are free now, without waiting (for a reader on a blocking thread).
    pub fn try_take(&self, bytes: usize) -> Option<Held> {
        let count = u32::try_from(bytes).ok()?;
        if count == 0 {
            return Some(Held::default());
        }
        self.bytes.clone().try_acquire_many_owned(count).ok().map(|permit| Held(Some(permit)))
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
    /// Adds what `other` holds to this.
    pub fn merge(&mut self, other: Held) {
        self.add(other.0);
    }

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
    /// Stop reading once more than `limit` bytes came, keeping the whole last chunk, and set
    /// `truncated`: the rest of the body is still to be read (see [`read_streamed`]).
    Pause,
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
    #[error("the body's reader failed: {0}")]
    Parser(String),
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
        let (take, over) = match overflow {
            _ if chunk.len() <= room => (chunk.len(), false),
            Overflow::Pause => (chunk.len(), true),
            Overflow::Fail | Overflow::Truncate => (room, true),
        };
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

/// How many chunks of a streamed body may wait for the reader at once (the window).
const WINDOW_CHUNKS: usize = 4;

/// Reads the rest of `response` (after `started`, the part already read by [`read_capped`] with
/// [`Overflow::Pause`]) on to `parse`, which runs on a blocking thread and reads the body as a
/// [`std::io::Read`] while it arrives. The whole body is still capped at `limit` bytes (an endless
/// upstream is cut off by size, and by the client's timeout); each chunk holds its share of
/// `budget` from its arrival until `parse` has read it, at most [`WINDOW_CHUNKS`] chunks at a time,
/// so the memory of the body itself stays a small window whatever its size. A failure of the
/// transfer wins over whatever `parse` made of the body cut short.
pub async fn read_streamed<T: Send + 'static>(
    response: &mut reqwest::Response,
    started: Body,
    limit: usize,
    budget: &Budget,
    parse: impl FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
) -> Result<T, ReadError> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<(Bytes, Held)>(WINDOW_CHUNKS);
    let parsing = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader { receiver, current: Bytes::new(), held: Held::default() };
        parse(&mut reader)
    });
    let mut received = started.bytes.len();
    let pumped = async {
        if sender.send((Bytes::from(started.bytes), started.held)).await.is_err() {
            return Ok(());
        }
        while let Some(chunk) = response.chunk().await? {
            received += chunk.len();
            if received > limit {
                return Err(ReadError::TooLarge);
            }
            let mut held = Held::default();
            held.add(budget.take(chunk.len()).await?);
            // The reader is gone when it stopped early (invalid JSON): nothing more to read.
            if sender.send((chunk, held)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
    .await;
    drop(sender);
    // After a failed transfer the closed channel ends the reader (an early end of the body).
    let parsed = parsing.await;
    pumped?;
    parsed.map_err(|error| ReadError::Parser(error.to_string()))
}

/// The body as a blocking reader: chunks from the channel, each releasing its budget once read.
struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<(Bytes, Held)>,
    current: Bytes,
    /// The budget of `current`, released when the next chunk replaces it.
    held: Held,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some((chunk, held)) => {
                    self.current = chunk;
                    self.held = held;
                }
                None => {
                    self.held = Held::default();
                    return Ok(0);
                }
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
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
