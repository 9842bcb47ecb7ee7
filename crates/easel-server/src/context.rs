//! Per-request context: the request id, the log line, the limits every request meets before
//! any handler runs (header and body sizes, the per-address rate limit, the number of
//! requests in flight), security headers, and Palette error bodies.
//!
//! This middleware replaces a generic trace layer on purpose: it logs the path but never the
//! query string, because API keys may arrive there (`?ApiKey=…`), and for the routes that
//! carry a token in the path (refresh, password links) it logs the route's template instead.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use easel_proto::ErrorBody;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::Service;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::error::{body, PendingError};
use crate::ratelimit::{RateLimiter, Verdict};

/// The address a request is counted and throttled under (see [`RateLimiter::client_address`]),
/// as an extractor: sign-in and sign-up throttle by it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl axum::extract::FromRequestParts<crate::AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(
            &parts.extensions,
            &parts.headers,
            &state.limiter,
        )))
    }
}

/// The client's address: the peer's, or what a trusted proxy says. Requests that arrive
/// without a peer address (driven in-process) count as loopback.
fn client_address(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
    limiter: &RateLimiter,
) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    limiter.client_address(peer, headers)
}

type CallerSlot = std::cell::RefCell<Option<Arc<easel_core::Caller>>>;

tokio::task_local! {
    /// Who made the request being served, once the `Authenticated` extractor knows, so that a
    /// refusal (403) can be recorded in that caller's audit log when the answer leaves. A
    /// task-local rather than a request extension: it costs no allocation per request.
    static CALLER: CallerSlot;
}

/// Called by the `Authenticated` extractor: the request being served is this caller's.
pub fn remember_caller(caller: &Arc<easel_core::Caller>) {
    let _ = CALLER.try_with(|slot| *slot.borrow_mut() = Some(caller.clone()));
}

/// What every request is checked against before it reaches a handler.
pub struct Guard {
    /// Where refused requests are recorded.
    pub easel: Arc<easel_core::Easel>,
    pub max_body_bytes: usize,
    /// Names and values of all headers together.
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
    /// Requests being served at once; past it, 503 at once rather than a queue.
    pub in_flight: Arc<Semaphore>,
    pub limiter: Arc<RateLimiter>,
    /// Whether to send `Strict-Transport-Security` (clients reach the server over TLS).
    pub hsts: bool,
    /// Route templates with a `{token}` segment: requests to them are logged (and audited)
    /// as the template.
    pub token_routes: Arc<[&'static str]>,
}

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
    guard: Arc<Guard>,
}

impl<S> RequestContext<S> {
    pub fn new(inner: S, guard: Arc<Guard>) -> Self {
        RequestContext { inner, guard }
    }

    /// Why a request is refused before routing, if it is.
    fn refusal(&self, request: &mut Request) -> Option<Refusal> {
        let guard = &*self.guard;
        let header_bytes: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        if header_bytes > guard.max_header_bytes {
            return Some(Refusal::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        }
        if request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len())
            > guard.max_uri_bytes
        {
            return Some(Refusal::Status(StatusCode::URI_TOO_LONG));
        }
        let too_large = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > guard.max_body_bytes as u64);
        if too_large {
            return Some(Refusal::Status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        if !guard.limiter.is_active() {
            return None;
        }
        let client = client_address(request.extensions(), request.headers(), &guard.limiter);
        if let Some(verdict) = guard.limiter.check_address(client, request.uri().path()) {
            if !verdict.allowed {
                return Some(Refusal::RateLimited(verdict));
            }
            request.extensions_mut().insert(verdict);
        }
        None
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

    fn call(&mut self, mut request: Request) -> Self::Future {
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
            span.record(
                "path",
                loggable_path(&self.guard.token_routes, request.uri().path()),
            );
            Some(Instant::now())
        };
        let refusal = self.refusal(&mut request);
        let verdict = request.extensions().get::<Verdict>().copied();
        let method = request.method().clone();
        let uri = request.uri().clone();
        // A refused request's body is never read: the connection cannot carry another request
        // after it, and saying so keeps a client from sending one on it.
        let close = {
            use axum::body::HttpBody;
            request.body().size_hint().exact() != Some(0)
        };
        let (inner, permit) = match refusal {
            Some(refusal) => (Inner::Refused { refusal, close }, None),
            None => match self.guard.in_flight.clone().try_acquire_owned() {
                Ok(permit) => (
                    Inner::Called {
                        future: self
                            .inner
                            .call(limit_body(request, self.guard.max_body_bytes)),
                    },
                    Some(permit),
                ),
                Err(_) => (
                    Inner::Refused {
                        refusal: Refusal::Status(StatusCode::SERVICE_UNAVAILABLE),
                        close,
                    },
                    None,
                ),
            },
        };
        ContextFuture {
            inner: CALLER.scope(CallerSlot::default(), inner).instrument(span),
            id,
            started,
            verdict,
            hsts: self.guard.hsts,
            _permit: permit,
            refusal_record: RefusalRecord {
                method,
                uri,
                guard: self.guard.clone(),
            },
        }
    }
}

/// Why a request was answered without calling the router.
#[derive(Clone, Copy)]
pub enum Refusal {
    Status(StatusCode),
    RateLimited(Verdict),
}

/// The path as it may be logged: a token-bearing route's template, else the path.
fn loggable_path<'a>(token_routes: &[&'static str], path: &'a str) -> &'a str {
    // Segment by segment; `{…}` in the template stands for any one segment.
    let matches = |template: &str| {
        let mut segments = path.split('/');
        template.split('/').all(|expected| {
            segments
                .next()
                .is_some_and(|got| expected.starts_with('{') || expected == got)
        }) && segments.next().is_none()
    };
    match token_routes.iter().find(|t| matches(t)) {
        Some(template) => template,
        None => path,
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
        Refused { refusal: Refusal, close: bool },
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
            InnerProjection::Refused { refusal, close } => {
                let mut response = Response::new(Body::empty());
                if *close {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                match *refusal {
                    Refusal::Status(status) => *response.status_mut() = status,
                    Refusal::RateLimited(verdict) => {
                        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                        verdict.write_headers(response.headers_mut());
                        let wait = verdict.retry_after_secs.max(1);
                        response.extensions_mut().insert(PendingError(body(
                            "TooManyRequests",
                            format!(
                                "too many requests from this address to this part of the API; \
                                 retry in {wait} s"
                            ),
                        )));
                    }
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ContextFuture<F> {
        #[pin]
        inner: Instrumented<tokio::task::futures::TaskLocalFuture<CallerSlot, Inner<F>>>,
        id: RequestId,
        started: Option<Instant>,
        // The rate-limit count of an allowed request, for its headers.
        verdict: Option<Verdict>,
        hsts: bool,
        // Held until the answer is ready: one of the requests in flight.
        _permit: Option<OwnedSemaphorePermit>,
        refusal_record: RefusalRecord,
    }
}

/// What it takes to record a refused request once its answer is known.
struct RefusalRecord {
    method: axum::http::Method,
    uri: axum::http::Uri,
    guard: Arc<Guard>,
}

impl RefusalRecord {
    /// Records a 403 given to `caller`, in the background: the answer does not wait for the
    /// audit row.
    fn record(&self, caller: Arc<easel_core::Caller>, response: &Response) {
        let reason = response
            .extensions()
            .get::<PendingError>()
            .map(|e| e.0.message.clone())
            .unwrap_or_default();
        let path = loggable_path(&self.guard.token_routes, self.uri.path());
        let request = format!("{} {path}", self.method);
        let easel = self.guard.easel.clone();
        tokio::spawn(async move { easel.record_refusal(&caller, &request, &reason).await });
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
        if response.status() == StatusCode::FORBIDDEN {
            let caller = this
                .inner
                .as_mut()
                .inner_pin_mut()
                .take_value()
                .and_then(std::cell::RefCell::into_inner);
            if let Some(caller) = caller {
                this.refusal_record.record(caller, &response);
            }
        }
        let id = this.id.as_str();
        if response.status().is_client_error() || response.status().is_server_error() {
            response = error_body(response, id);
        }
        if let Ok(value) = HeaderValue::from_str(id) {
            response.headers_mut().insert(REQUEST_ID.clone(), value);
        }
        // A refusal by the key's own limit already says which policy refused it.
        if let Some(verdict) = this.verdict {
            if !response.headers().contains_key("ratelimit-policy") {
                verdict.write_headers(response.headers_mut());
            }
        }
        security_headers(response.headers_mut(), *this.hsts);
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

/// Headers every response carries. A response that set its own (the console's pages have a
/// content security policy of their own) keeps it. API answers are never to be cached (they
/// carry keys, tokens and people's data), framed, sniffed or read across origins.
fn security_headers(headers: &mut axum::http::HeaderMap, hsts: bool) {
    use axum::http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    static COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
    static CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");
    let defaults = [
        (&X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (&X_FRAME_OPTIONS, "DENY"),
        (&REFERRER_POLICY, "no-referrer"),
        (
            &CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (&COOP, "same-origin"),
        (&CORP, "same-origin"),
        (&CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    if hsts {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
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
    if parts.status == StatusCode::SERVICE_UNAVAILABLE
        && !parts.headers.contains_key(header::RETRY_AFTER)
    {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
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
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => body(
            "RequestHeaderFieldsTooLarge",
            "the request's headers are too large",
        ),
        StatusCode::URI_TOO_LONG => body("UriTooLong", "the request's path and query are too long"),
        StatusCode::SERVICE_UNAVAILABLE => body(
            "ServiceUnavailable",
            "the server is busy or cannot reach its store; retry in a moment",
        ),
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
