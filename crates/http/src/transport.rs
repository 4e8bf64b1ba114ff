//! The connection layer: how long a client may take to send its request, and the promise that
//! no request on a reused connection dies unanswered.
//!
//! Three bounds, each with a default an honest client (a phone, or the ALB in front of the
//! fleet) never reaches:
//! - the header read timeout (hyper's), which also bounds the idle wait between requests on a
//!   keep-alive connection: it must stay above the load balancer's idle timeout (60 s), or the
//!   balancer may send a request into a connection this server is closing;
//! - the body read timeout, from the first byte of the request to the last byte of its body;
//! - the request timeout, for the handler to produce its answer.
//!
//! A handler may answer before it has read the request's body (a 413 for a declared length
//! over the limit, a 401 before a body is parsed, a refused signed upload). HTTP/1.1 then has
//! two honest endings: read the rest of the body so the connection can carry the next request,
//! or say `Connection: close`. Closing without either is what makes a client's next request on
//! that connection die unanswered, and closing with unread bytes in the socket resets the
//! connection before the client has read the answer. [`hygiene`] therefore reads and discards
//! whatever the handler left, up to [`DRAIN_MAX_BYTES`] and within the body read timeout, and
//! says `Connection: close` when it cannot.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::ApiError;

/// The most a request's unread body is drained after its answer: above the largest body any
/// route accepts (a 20 MiB document through the embedded storage), so an honest client always
/// reads its answer; beyond, the connection is closed.
pub const DRAIN_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The body read timeout of the embedded storage's signed uploads: a 20 MiB document over a
/// slow mobile link (about 300 kbit/s) takes nine minutes.
pub const UPLOAD_READ_TIMEOUT: Duration = Duration::from_secs(600);

/// The connection layer's timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// From a connection's opening, or the end of its previous response, to the end of the next
    /// request's headers.
    pub header_read_timeout: Duration,
    /// From the request's arrival to the last byte of its body.
    pub body_read_timeout: Duration,
    /// For the handler to produce its answer.
    pub request_timeout: Duration,
}

impl Default for Transport {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(65),
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl Transport {
    /// The same bounds with the body read timeout of signed uploads.
    pub fn for_uploads(self) -> Self {
        Self {
            body_read_timeout: self.body_read_timeout.max(UPLOAD_READ_TIMEOUT),
            request_timeout: self.request_timeout.max(UPLOAD_READ_TIMEOUT),
            ..self
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the connections in flight to finish their current exchange.
///
/// Every accepted connection has Nagle's algorithm off (TCP_NODELAY), as Node's HTTP server
/// does by default: each response and each WebSocket frame is written whole, and waiting to
/// coalesce it with the next would hold a real-time event back until the client's delayed
/// acknowledgement (up to 40 ms on Linux).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(transport.header_read_timeout);
    // WebSockets over HTTP/2 (RFC 8441), as axum's own server allows.
    builder.http2().enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    let mut listener = listener;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            // Accept errors (too many open files) are retried after a pause inside.
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req.map(Body::new)
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What the handler left of the request's body.
#[derive(Debug, Default)]
struct Leftover {
    /// The unread rest, when the handler dropped the body before its end.
    rest: Option<Body>,
    /// The body did not arrive within the body read timeout.
    timed_out: bool,
    /// The handler asked for at least one frame (with `Expect: 100-continue`, the client sends
    /// the body only then).
    polled: bool,
}

type Slot = Arc<Mutex<Leftover>>;

fn with_slot<T>(slot: &Slot, f: impl FnOnce(&mut Leftover) -> T) -> T {
    // A poisoned lock only means a panic elsewhere while holding it; the data is plain flags.
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}

/// The request body as the handler sees it: the real one under a deadline, which hands its
/// unread rest back to [`hygiene`] when dropped early.
struct Tracked {
    inner: Option<Body>,
    slot: Slot,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The body did not arrive in time.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive within the body read timeout")
    }
}

impl std::error::Error for BodyTimedOut {}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        with_slot(&this.slot, |l| l.polled = true);
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The connection broke: there is nothing left to read.
                this.inner = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.inner = None;
                    with_slot(&this.slot, |l| l.timed_out = true);
                    Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(rest) = self.inner.take().filter(|b| !b.is_end_stream()) {
            with_slot(&self.slot, |l| l.rest = Some(rest));
        }
    }
}

/// How a drain ended.
enum Drained {
    /// The body ended: the connection can carry the next request.
    Whole,
    /// Too long, too slow or broken: the connection must close.
    Abandoned,
}

/// Reads and discards `rest` up to [`DRAIN_MAX_BYTES`] within `within`.
async fn drain(mut rest: Body, within: Duration) -> Drained {
    let read = async {
        let mut seen: u64 = 0;
        while let Some(frame) = rest.frame().await {
            let Ok(frame) = frame else {
                return Drained::Abandoned;
            };
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > DRAIN_MAX_BYTES {
                    return Drained::Abandoned;
                }
            }
        }
        Drained::Whole
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or(Drained::Abandoned)
}

/// The middleware of the module documentation: the body under its deadline, the handler under
/// the request timeout, then the unread rest drained or the connection closed.
pub async fn hygiene(State(transport): State<Transport>, req: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let slot = Slot::default();
    let req = req.map(|body| {
        Body::new(Tracked {
            inner: Some(body),
            slot: slot.clone(),
            deadline: Box::pin(tokio::time::sleep(transport.body_read_timeout)),
        })
    });
    let answered = tokio::time::timeout(transport.request_timeout, next.run(req)).await;
    let Leftover {
        rest,
        timed_out,
        polled,
    } = with_slot(&slot, std::mem::take);
    let mut response = match answered {
        _ if timed_out => ApiError::BodyTimeout(transport.body_read_timeout).into_response(),
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeoutSecs = transport.request_timeout.as_secs(),
                "a request did not complete within the request timeout"
            );
            ApiError::Busy("the request did not complete in time; try again").into_response()
        }
    };
    let keep = match rest {
        _ if timed_out => false,
        None => true,
        // The client waits for a 100 Continue that nobody asked for: it has sent no body.
        Some(_) if expects_continue && !polled => false,
        Some(rest) => {
            let left = transport
                .body_read_timeout
                .saturating_sub(started.elapsed());
            matches!(drain(rest, left).await, Drained::Whole)
        }
    };
    if !keep {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
