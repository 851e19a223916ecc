//! The clocks that close slow and idle connections: [`WatchedIo`] times the wait for a
//! request's header and the idle wait between requests, [`DeadlineBody`] the arrival of
//! a request's body.
//!
//! hyper has one timer for the first two (`header_read_timeout`, which in hyper 1.12
//! also runs while a kept-alive connection waits for its next request), so one setting
//! would have to serve both a short header deadline against slow-header attacks and a
//! long idle wait that lets a backend's pooled connections be reused. These two are
//! separate, like nginx's `client_header_timeout` and `keepalive_timeout` or Go's
//! `ReadHeaderTimeout` and `IdleTimeout`. They cost one timer per connection, moved
//! (never re-created) once per request; hyper's own timer is turned off.

use crate::limits::ServerLimits;
use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Where a connection is between requests, shared by its socket ([`WatchedIo`]) and its
/// service, which sees each request begin and its answer come out. Both run in the
/// connection's one task, so relaxed ordering is enough.
#[derive(Debug, Default)]
pub struct Phase(AtomicU8);

/// Waiting for a request (the socket's timer runs).
const WAITING: u8 = 0;
/// A request is being served: its body and its handler have their own limits.
const BUSY: u8 = 1;
/// The answer is out: the next read starts a new wait.
const ANSWERED: u8 = 2;

impl Phase {
    /// A request's header is complete and its handler starts.
    pub fn request_started(&self) {
        self.0.store(BUSY, Ordering::Relaxed);
    }

    /// The request's answer is ready.
    pub fn answered(&self) {
        self.0.store(ANSWERED, Ordering::Relaxed);
    }
}

/// What the socket's timer measures now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// For the rest of a header: since the connection opened, or since the first byte
    /// of a later request.
    Header,
    /// For the first byte of the next request, after an answer.
    Idle,
}

/// A client's TCP stream whose reads fail with [`io::ErrorKind::TimedOut`] once the
/// header or idle deadline has passed, which makes hyper close the connection.
pub struct WatchedIo {
    io: TcpStream,
    phase: std::sync::Arc<Phase>,
    /// Boxed once per connection so it can be moved (`reset`) rather than re-created.
    timer: Pin<Box<Sleep>>,
    wait: Wait,
    header: Duration,
    idle: Duration,
}

impl WatchedIo {
    /// Starts the header clock: a new connection must send a whole header in time.
    pub fn new(io: TcpStream, phase: std::sync::Arc<Phase>, limits: &ServerLimits) -> Self {
        WatchedIo {
            io,
            phase,
            timer: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
            wait: Wait::Header,
            header: limits.header_read_timeout,
            idle: limits.idle_timeout,
        }
    }

    fn start(&mut self, wait: Wait) {
        let length = match wait {
            Wait::Header => self.header,
            Wait::Idle => self.idle,
        };
        self.wait = wait;
        // A limit too long to add to the clock (`Duration::MAX`) means no limit, as
        // with tokio's own `sleep`, rather than a panic.
        let now = Instant::now();
        let deadline = now
            .checked_add(length)
            .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
        self.timer.as_mut().reset(deadline);
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        let got_bytes = matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before;
        match this.phase.0.load(Ordering::Relaxed) {
            // hyper also reads while serving, to notice a client that hung up: that is
            // not waiting for a request.
            BUSY => return result,
            // Read before the answer was flushed: a client sending its next request at
            // once.
            ANSWERED => {
                this.phase.0.store(WAITING, Ordering::Relaxed);
                this.start(if got_bytes { Wait::Header } else { Wait::Idle });
            }
            _ if got_bytes && this.wait == Wait::Idle => this.start(Wait::Header),
            _ => {}
        }
        if result.is_pending() && this.timer.as_mut().poll(cx).is_ready() {
            let what = match this.wait {
                Wait::Header => "the request header did not arrive in time",
                Wait::Idle => "the connection was idle too long",
            };
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
        }
        result
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // hyper flushes each answer, but reads again only when the socket wakes it: the
        // idle clock starts here, and is polled here so that its expiry wakes the
        // connection, whose next read then fails.
        if this.phase.0.load(Ordering::Relaxed) == ANSWERED {
            this.phase.0.store(WAITING, Ordering::Relaxed);
            this.start(Wait::Idle);
            let _ = this.timer.as_mut().poll(cx);
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request body that did not arrive within the request body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// A request body that fails with [`BodyTimedOut`] when it has not fully arrived within
/// `timeout` of the first time it was waited for. A total deadline, not a gap between
/// reads, so a client sending a byte now and then cannot hold a request open. The timer
/// exists only once the body is actually waited for: a body already received with its
/// header (the usual small JSON) costs nothing.
pub struct DeadlineBody<B> {
    body: B,
    timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    pub fn new(body: B, timeout: Duration) -> Self {
        DeadlineBody {
            body,
            timeout,
            timer: None,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether `error`, or anything that caused it, is a [`BodyTimedOut`]: body errors
/// reach handlers wrapped in extractor rejections.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        next = e.source();
    }
    false
}
