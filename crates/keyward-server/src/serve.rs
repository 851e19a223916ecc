//! The serving loop behind [`launch`]: it accepts connections up to the connection
//! limit, serves each with hyper's HTTP/1 under the clocks of [`crate::timeouts`], and
//! on shutdown stops accepting, lets requests under way finish, and closes whatever is
//! still open at the deadline.
//!
//! Written against hyper rather than through `axum::serve`, which offers none of these
//! limits. Each request gets its id, the client's address and a body deadline here, in
//! front of the router, without boxing anything beyond what axum itself does.

use crate::fast::Endpoint;
use crate::limits::ServerLimits;
use crate::request_id::{self, X_REQUEST_ID};
use crate::state::AppState;
use crate::timeouts::{DeadlineBody, Phase, WatchedIo};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use keyward_app::metrics::OpenConnection;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::Service;

/// Serves keyward on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting (the listener is closed), lets the requests under way finish for up to
/// `limits.shutdown_deadline`, closes the connections still open, and returns. Its open
/// connections are counted in the metrics.
pub async fn launch(
    state: AppState,
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let router = crate::router(state.clone());
    serve(router, listener, limits, shutdown, Some(state)).await;
}

/// Serves `/metrics` alone on `listener`, as [`launch`] serves the API (within the
/// same limits, stopping the same way), for a listener of its own.
pub async fn launch_metrics(
    state: AppState,
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve(
        crate::metrics_router(state),
        listener,
        limits,
        shutdown,
        None,
    )
    .await;
}

/// The serving loop. With `api`, the API's: the check endpoints take their own path
/// ([`crate::fast`]) and connections are counted in its metrics.
async fn serve(
    router: Router,
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    api: Option<AppState>,
) {
    let mut http = http1::Builder::new();
    // The clocks of `WatchedIo` replace hyper's header timer.
    http.header_read_timeout(None);
    let http = Arc::new(http);
    // One slot per connection, taken before accepting: beyond the limit, new clients
    // wait in the kernel's listen queue until a connection ends, rather than be
    // accepted into a process that has no descriptors left for its database.
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if let Some(pause) = backoff.failed(&e) {
                        tokio::select! {
                            biased;
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                    }
                    continue;
                }
            },
        };
        backoff.succeeded();
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(Accepted {
            tcp,
            peer,
            router: router.clone(),
            api: api.clone(),
            http: http.clone(),
            watcher: graceful.watcher(),
            limits,
            _slot: slot,
            _open: api
                .as_ref()
                .map(|api| api.app.metrics().connection_opened()),
        }));
    }
    // Refuse new connections from now on.
    drop(listener);
    let open = graceful.count();
    tracing::info!(
        connections = open,
        deadline = ?limits.shutdown_deadline,
        "stopped accepting; finishing requests under way"
    );
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        while connections.try_join_next().is_some() {}
        tracing::warn!(
            connections = connections.len(),
            "closing the connections still open at the shutdown deadline"
        );
    }
    // Drops every connection left: their sockets close.
    connections.shutdown().await;
}

/// Pauses the accept loop after errors that say the process or the system is out of
/// something (descriptors, memory): the waiting connection stays queued, so retrying at
/// once would spin on the same error. Errors about one client's connection do not pause.
#[derive(Default)]
struct AcceptBackoff {
    pause: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    fn failed(&mut self, error: &io::Error) -> Option<Duration> {
        use io::ErrorKind::*;
        if matches!(
            error.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
        ) {
            return None;
        }
        let pause = match self.pause {
            None => {
                // Logged once per spell, not per retry.
                tracing::warn!(%error, "cannot accept connections; retrying");
                Self::FIRST
            }
            Some(p) => (p * 2).min(Self::LONGEST),
        };
        self.pause = Some(pause);
        Some(pause)
    }

    fn succeeded(&mut self) {
        if self.pause.take().is_some() {
            tracing::info!("accepting connections again");
        }
    }
}

/// A connection and what serving it needs.
struct Accepted {
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    api: Option<AppState>,
    http: Arc<http1::Builder>,
    watcher: Watcher,
    limits: ServerLimits,
    /// Held until the connection ends.
    _slot: OwnedSemaphorePermit,
    /// Counts the connection as open until it ends.
    _open: Option<OpenConnection>,
}

async fn serve_connection(c: Accepted) {
    // Answers are small and each one completes a request: send them at once rather
    // than let Nagle's algorithm hold them back.
    let _ = c.tcp.set_nodelay(true);
    let phase = Arc::new(Phase::default());
    let io = TokioIo::new(WatchedIo::new(c.tcp, phase.clone(), &c.limits));
    let service = Connection {
        router: c.router,
        api: c.api,
        phase,
        peer: c.peer,
        body_timeout: c.limits.request_body_timeout,
    };
    if let Err(error) = c.watcher.watch(c.http.serve_connection(io, service)).await {
        tracing::debug!(client = %c.peer, %error, "connection closed");
    }
}

/// The router, as one connection's hyper service; on the API's listener, the check
/// endpoints' own path beside it.
struct Connection {
    router: Router,
    api: Option<AppState>,
    phase: Arc<Phase>,
    peer: SocketAddr,
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        self.phase.request_started();
        let (mut parts, body) = request.into_parts();
        let id = request_id::ensure(&mut parts.headers);
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = Body::new(DeadlineBody::new(body, self.body_timeout));
        let fast = self
            .api
            .as_ref()
            .and_then(|api| Some((api, Endpoint::of(&parts.method, parts.uri.path())?)));
        let request = Request::from_parts(parts, body);
        let answer = match fast {
            Some((api, endpoint)) => Routed::Fast(Box::pin(crate::fast::answer(
                api.clone(),
                endpoint,
                request,
            ))),
            // A router is always ready (its `poll_ready` returns `Ready` at once); a
            // clone is one reference count.
            None => Routed::Router(self.router.clone().call(request)),
        };
        Answer {
            answer,
            id: Some(id),
            phase: self.phase.clone(),
        }
    }
}

/// An answer under way: the router's, or the check endpoints' own.
// One per request under way, held by hyper in place: boxing the router's future to
// even the sizes would cost every other request an allocation.
#[allow(clippy::large_enum_variant)]
enum Routed {
    Router(RouteFuture<Infallible>),
    Fast(Pin<Box<dyn Future<Output = Response> + Send>>),
}

/// The answer with the request id added, marking the connection idle once it is ready.
struct Answer {
    answer: Routed,
    id: Option<HeaderValue>,
    phase: Arc<Phase>,
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut response = match &mut this.answer {
            Routed::Router(answer) => {
                let Ok(response) = ready!(Pin::new(answer).poll(cx));
                response
            }
            Routed::Fast(answer) => ready!(answer.as_mut().poll(cx)),
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        this.phase.answered();
        Poll::Ready(Ok(response))
    }
}
