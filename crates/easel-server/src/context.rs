//! Per-request context: the request id, the log line, and Palette error bodies.
//!
//! This middleware replaces a generic trace layer on purpose: it logs the path but never the
//! query string, because API keys may arrive there (`?ApiKey=…`), and for the routes that
//! carry a token in the path (refresh, password links) it logs the route's template instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use easel_proto::ErrorBody;
use tower::Service;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::error::{body, PendingError};

/// The id of the request being served: `ref` in error bodies and `X-Request-Id` in headers.
/// Kept inline (at most 64 plain ASCII bytes), so that naming a request costs no allocation.
#[derive(Clone, Copy)]
struct RequestId {
    bytes: [u8; 64],
    len: u8,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl RequestId {
    /// The caller's request id if it is short and plain (so that it cannot be used to inject
    /// anything into logs), else a new random one.
    fn of(request: &Request) -> RequestId {
        if let Some(value) = request.headers().get(&REQUEST_ID) {
            let value = value.as_bytes();
            let plain = !value.is_empty()
                && value.len() <= 64
                && value
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
            if plain {
                let mut bytes = [0u8; 64];
                bytes[..value.len()].copy_from_slice(value);
                return RequestId {
                    bytes,
                    len: value.len() as u8,
                };
            }
        }
        RequestId::new()
    }

    fn new() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let random: [u8; 12] = rand::random();
        let mut bytes = [0u8; 64];
        for (i, b) in random.iter().enumerate() {
            bytes[2 * i] = HEX[(b >> 4) as usize];
            bytes[2 * i + 1] = HEX[(b & 15) as usize];
        }
        RequestId { bytes, len: 24 }
    }

    fn as_str(&self) -> &str {
        // Only plain ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("-")
    }
}

/// Wraps the whole router once (not each route, as `Router::layer` would): names every
/// request, logs it (the path only, see above), bounds its body, and gives error responses
/// Palette's body. Hand-written rather than `middleware::from_fn` because it sits in front of
/// every request: it neither boxes the inner future nor clones the inner service.
#[derive(Clone)]
pub struct RequestContext<S> {
    inner: S,
    /// Route templates with a `{token}` segment: requests to them are logged as the template.
    token_routes: Arc<[&'static str]>,
    max_body_bytes: usize,
}

impl<S> RequestContext<S> {
    pub fn new(inner: S, token_routes: Arc<[&'static str]>, max_body_bytes: usize) -> Self {
        RequestContext {
            inner,
            token_routes,
            max_body_bytes,
        }
    }

    /// The path as it may be logged: a token-bearing route's template, else the path.
    fn loggable_path<'a>(&self, path: &'a str) -> &'a str {
        // Segment by segment; `{…}` in the template stands for any one segment.
        let matches = |template: &str| {
            let mut segments = path.split('/');
            template.split('/').all(|expected| {
                segments
                    .next()
                    .is_some_and(|got| expected.starts_with('{') || expected == got)
            }) && segments.next().is_none()
        };
        match self.token_routes.iter().find(|t| matches(t)) {
            Some(template) => template,
            None => path,
        }
    }
}

impl<S> Service<Request> for RequestContext<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = RequestId::of(&request);
        let span = tracing::info_span!(
            "request",
            request_id = id.as_str(),
            method = %request.method(),
            path = tracing::field::Empty,
        );
        let started = if span.is_disabled() {
            None
        } else {
            span.record("path", self.loggable_path(request.uri().path()));
            Some(Instant::now())
        };
        let too_large = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > self.max_body_bytes as u64);
        let inner = if too_large {
            Inner::Refused {
                status: StatusCode::PAYLOAD_TOO_LARGE,
            }
        } else {
            Inner::Called {
                future: self.inner.call(limit_body(request, self.max_body_bytes)),
            }
        };
        ContextFuture {
            inner: inner.instrument(span),
            id,
            started,
        }
    }
}

/// Bounds a body whose length is not known in advance (chunked): reading past the limit
/// fails, and the extractors answer 413. Bodies known to be empty are left as they are.
fn limit_body(request: Request, max: usize) -> Request {
    use axum::body::HttpBody;
    if request.body().size_hint().exact() == Some(0) {
        return request;
    }
    request.map(|body| Body::new(http_body_util::Limited::new(body, max)))
}

pin_project_lite::pin_project! {
    /// The inner service's answer, or one given without calling it.
    #[project = InnerProjection]
    pub enum Inner<F> {
        Called { #[pin] future: F },
        Refused { status: StatusCode },
    }
}

impl<F, E> Future for Inner<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            InnerProjection::Called { future } => future.poll(cx),
            InnerProjection::Refused { status } => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = *status;
                Poll::Ready(Ok(response))
            }
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ContextFuture<F> {
        #[pin]
        inner: Instrumented<Inner<F>>,
        id: RequestId,
        started: Option<Instant>,
    }
}

impl<F, E> Future for ContextFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = std::task::ready!(this.inner.as_mut().poll(cx))?;
        let id = this.id.as_str();
        if response.status().is_client_error() || response.status().is_server_error() {
            response = error_body(response, id);
        }
        if let Ok(value) = HeaderValue::from_str(id) {
            response.headers_mut().insert(REQUEST_ID.clone(), value);
        }
        if let Some(started) = this.started {
            this.inner.span().in_scope(|| {
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_us = started.elapsed().as_micros() as u64,
                    "served"
                )
            });
        }
        Poll::Ready(Ok(response))
    }
}

/// Gives every error response Palette's body: ours carry a [`PendingError`]; the framework's
/// own (unknown route, wrong method, body too large, timeout) get one made from the status.
fn error_body(response: Response, id: &str) -> Response {
    let (mut parts, _) = response.into_parts();
    let mut error: ErrorBody = match parts.extensions.remove::<PendingError>() {
        Some(PendingError(error)) => error,
        None => fallback(parts.status),
    };
    error.reference = id.to_owned();
    let json = serde_json::to_vec(&error).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}

fn fallback(status: StatusCode) -> ErrorBody {
    match status {
        StatusCode::NOT_FOUND => body("ResourceNotFound", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => body(
            "MethodNotAllowed",
            "this method is not allowed on this endpoint",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => body("PayloadTooLarge", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => body("RequestTimeout", "the request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            body("UnsupportedMediaType", "send the body as application/json")
        }
        s if s.is_server_error() => body("InternalError", "internal error"),
        s => body(
            "InvalidRequest",
            s.canonical_reason().unwrap_or("invalid request"),
        ),
    }
}
