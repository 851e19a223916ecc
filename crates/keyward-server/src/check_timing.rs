//! The check latency histogram's clock: a tower layer on the routes that answer checks
//! (the verify API), timing each request from when the router hands it over to when
//! its answer is ready. Timed here rather than inside the check, whose cached path
//! costs well under a microsecond: two clock reads there would be a tenth of it.
//!
//! A plain layer, as `RefuseKeysInQuery` is: no boxed future, no allocation.

use axum::extract::Request;
use axum::response::Response;
use keyward_app::Keyward;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

#[derive(Clone)]
pub struct TimeChecksLayer(pub Keyward);

impl<S> Layer<S> for TimeChecksLayer {
    type Service = TimeChecks<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TimeChecks {
            inner,
            app: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct TimeChecks<S> {
    inner: S,
    app: Keyward,
}

impl<S> Service<Request> for TimeChecks<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Timed {
            answer: self.inner.call(request),
            started: Instant::now(),
            app: self.app.clone(),
        }
    }
}

/// An answer under way, and when it was asked for.
pub struct Timed<F> {
    answer: F,
    started: Instant,
    app: Keyward,
}

impl<F, E> Future for Timed<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let answer = ready!(Pin::new(&mut this.answer).poll(cx));
        this.app.metrics().check_answered(this.started.elapsed());
        Poll::Ready(answer)
    }
}
