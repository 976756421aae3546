//! The accept loop and the life of one connection: a cap on open connections (the excess is refused
//! at once), a back-off when accepting fails (out of file descriptors), and an idle deadline that
//! closes every connection, HTTP/1 or HTTP/2, before or after protocol detection, that has no
//! request in flight for longer than the header timeout.
//!
//! hyper's own HTTP/1 header timeout starts only once it reads a request head, and nothing at all
//! bounds the protocol detection of `auto::Builder` or an HTTP/2 connection without streams: a
//! client that connects and sends nothing (or `P`, or just the HTTP/2 preface) would hold a socket
//! and a file descriptor forever. The deadline here is measured from the accept (or the end of the
//! last response) to the moment a complete request head reaches the service, whatever the protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::telemetry::metrics::{Metrics, SHED_CONNECTIONS, SHED_QUEUE_DELAY};

/// The shortest and longest pause after a failed `accept`.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The answer written to a connection over the cap before it is closed. Written without reading the
/// request: the socket is closed right after, so the client sees this status or a reset, never a hang.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\n\
content-type: text/plain\r\ncontent-length: 26\r\n\r\ntoo many open connections\n";

/// The answer written to a new connection while the runtime has a standing queue (`shed.rs`).
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\n\
content-type: text/plain\r\ncontent-length: 40\r\n\r\nthe server is overloaded; retry shortly\n";

/// When the service saw a request (before any middleware): the start of its queueing delay.
#[derive(Debug, Clone, Copy)]
pub struct Arrived(pub Instant);

/// What the accept loop needs besides the listener.
pub struct Accepting {
    pub app: axum::Router,
    pub builder: auto::Builder<TokioExecutor>,
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Asked before serving each new connection: a standing queue refuses it at once.
    pub overload: Option<super::shed::Overload>,
    pub metrics: Arc<Metrics>,
}

/// Accepts connections until `shutdown`, each watched by `graceful`.
pub async fn accept_loop(
    listener: &TcpListener,
    accepting: Accepting,
    graceful: &GracefulShutdown,
    shutdown: &CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(accepting.max_connections));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    accepted
                }
                Err(error) => {
                    // EMFILE/ENFILE leave the listener readable: retrying at once spins a core and
                    // starves the connections already open. Pause (longer each time) instead.
                    if backoff == ACCEPT_BACKOFF_MIN || backoff == ACCEPT_BACKOFF_MAX {
                        tracing::warn!(%error, pause = ?backoff, "cannot accept a connection; pausing");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if accepting.overload.as_ref().is_some_and(super::shed::Overload::refusing_connections) {
            accepting.metrics.request_shed(SHED_QUEUE_DELAY);
            refuse(stream, OVERLOADED);
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            accepting.metrics.request_shed(SHED_CONNECTIONS);
            refuse(stream, REFUSED);
            continue;
        };
        let _ = stream.set_nodelay(true);
        serve_connection(stream, peer, slot, &accepting, graceful);
    }
}

/// Tells a connection to come back later, without waiting for it.
fn refuse(stream: TcpStream, answer: &[u8]) {
    // Closing a socket with unread bytes sends a reset, which can destroy the answer in flight:
    // whatever of the request has already arrived is read (and dropped) first.
    let _ = stream.try_read(&mut [0u8; 4096]);
    // A fresh socket's send buffer takes these few bytes at once; if not, closing is answer enough.
    let _ = stream.try_write(answer);
    drop(stream);
}

fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    slot: OwnedSemaphorePermit,
    accepting: &Accepting,
    graceful: &GracefulShutdown,
) {
    let activity = Arc::new(Activity::new());
    let app = accepting.app.clone();
    let tracked = activity.clone();
    let overload = accepting.overload.clone();
    let metrics = accepting.metrics.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(tracked.clone());
        // Admission comes first, before routing, logging and every other check: under overload
        // most requests are refused, and each refusal takes CPU from the admitted ones.
        let mut entered = None;
        let mut refused = None;
        if let Some(overload) = overload.as_ref().filter(|_| super::shed::is_mcp(request.uri().path())) {
            entered = overload.try_enter();
            if entered.is_none() {
                metrics.request_shed(SHED_QUEUE_DELAY);
                refused = Some(super::shed::overloaded());
            }
        }
        let mut request = request.map(Body::new);
        if entered.is_some() {
            request.extensions_mut().insert(super::shed::AdmittedEarly);
        }
        request.extensions_mut().insert(Arrived(Instant::now()));
        // The client's address, for per-address limits (`server.limits.http_per_address`).
        request.extensions_mut().insert(super::ClientAddress(peer));
        let app = app.clone();
        async move {
            let response = match refused {
                Some(refused) => refused,
                None => app.oneshot(request).await.unwrap_or_else(|never| match never {}),
            };
            drop(entered);
            // The request stays in flight until its body is sent (or dropped): SSE streams count.
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(TrackedBody { body, _in_flight: in_flight })),
            )
        }
    });
    let connection = accepting.builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
    let connection = graceful.watch(connection);
    let idle_timeout = accepting.idle_timeout;
    tokio::spawn(async move {
        let _slot = slot;
        tokio::pin!(connection);
        loop {
            let deadline = activity.idle_deadline(idle_timeout);
            tokio::select! {
                _ = &mut connection => break,
                () = tokio::time::sleep_until(deadline.into()) => {
                    if activity.idle_for() >= idle_timeout && activity.in_flight() == 0 {
                        // Nothing is in flight: dropping the connection closes the socket, and no
                        // answer is lost.
                        tracing::debug!(?idle_timeout, "closing a connection with no request in flight");
                        break;
                    }
                }
            }
        }
    });
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the connection last became idle.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity { started: Instant::now(), in_flight: AtomicUsize::new(0), idle_since_ms: AtomicU64::new(0) }
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn idle_since(&self) -> Instant {
        self.started + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire))
    }

    fn idle_for(&self) -> Duration {
        self.idle_since().elapsed()
    }

    /// When the connection will have been idle for `timeout`, or a re-check `timeout` from now while
    /// a request is in flight.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        if self.in_flight() > 0 { Instant::now() + timeout } else { self.idle_since() + timeout }
    }
}

/// One request in flight; dropping it marks the connection idle from now.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let now = u64::try_from(activity.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(now, Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is sent or dropped.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
