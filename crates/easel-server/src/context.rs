//! Per-request context: the request id, the log line, the limits every request meets before
//! any handler runs (header and body sizes, the per-address rate limit, the number of
//! requests in flight), security headers, and Palette error bodies.
//!
//! This middleware replaces a generic trace layer on purpose: it logs the path but never the
//! query string, because API keys may arrive there (`?ApiKey=…`), and for the routes that
//! carry a token in the path (refresh, password links) it logs the route's template instead.

use std::cell::Cell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use easel_proto::ErrorBody;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::Service;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::auth::{AuthHeaders, EarlyHash};
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
        let peer = POLLED_PEER.with(Cell::get);
        Ok(ClientAddress(client_address(
            peer,
            &parts.headers,
            &state.limiter,
        )))
    }
}

/// The client's address: the peer's, or what a trusted proxy says. Requests that arrive
/// without a peer address (driven in-process) count as loopback.
fn client_address(
    peer: Option<IpAddr>,
    headers: &axum::http::HeaderMap,
    limiter: &RateLimiter,
) -> IpAddr {
    limiter.client_address(peer.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), headers)
}

thread_local! {
    /// The peer of the connection whose request this thread is polling, for
    /// [`ClientAddress`]: set by [`ContextFuture`] around each poll of its request.
    static POLLED_PEER: Cell<Option<IpAddr>> = const { Cell::new(None) };
    /// Who made the request this thread is polling, once the `Authenticated` extractor knows,
    /// so that a refusal (403) can be recorded in that caller's audit log when the answer
    /// leaves. [`ContextFuture`] takes it back into the request's own state after each poll.
    static POLLED_CALLER: Cell<Option<Arc<easel_core::Caller>>> = const { Cell::new(None) };
    /// The hash of the credential in the headers of the request this thread is polling,
    /// worked out before routing ([`crate::auth::EarlyHash`]).
    static POLLED_EARLY_HASH: Cell<Option<EarlyHash>> = const { Cell::new(None) };
}

/// For the `Authenticated` extractor: the request's credential hashed before routing.
pub(crate) fn polled_early_hash() -> Option<EarlyHash> {
    POLLED_EARLY_HASH.with(Cell::get)
}

/// Called by the `Authenticated` extractor: the request being served is this caller's.
pub fn remember_caller(caller: &Arc<easel_core::Caller>) {
    POLLED_CALLER.with(|slot| slot.set(Some(caller.clone())));
}

/// While a request is polled, what it knows besides the request itself is in this thread's
/// [`POLLED_PEER`], [`POLLED_EARLY_HASH`] and [`POLLED_CALLER`]: put there before the poll
/// and taken back after it (on drop, so a panic in a handler leaves nothing behind for the
/// next request polled on the thread). Plain thread-local cells: a tokio task-local, which
/// they replace, swapped a `RefCell` in and out around every poll and again to drop the
/// request's future (130 more instructions a request than this, under row 2 of the
/// benchmark).
struct PollScope<'a> {
    caller: &'a mut Option<Arc<easel_core::Caller>>,
    outer_peer: Option<IpAddr>,
    outer_early_hash: Option<EarlyHash>,
    outer_caller: Option<Arc<easel_core::Caller>>,
}

impl<'a> PollScope<'a> {
    fn enter(
        peer: Option<IpAddr>,
        early_hash: Option<EarlyHash>,
        caller: &'a mut Option<Arc<easel_core::Caller>>,
    ) -> Self {
        let outer_peer = POLLED_PEER.with(|slot| slot.replace(peer));
        let outer_early_hash = POLLED_EARLY_HASH.with(|slot| slot.replace(early_hash));
        let outer_caller = POLLED_CALLER.with(|slot| slot.replace(caller.take()));
        PollScope {
            caller,
            outer_peer,
            outer_early_hash,
            outer_caller,
        }
    }
}

impl Drop for PollScope<'_> {
    fn drop(&mut self) {
        POLLED_PEER.with(|slot| slot.set(self.outer_peer));
        POLLED_EARLY_HASH.with(|slot| slot.set(self.outer_early_hash));
        *self.caller = POLLED_CALLER.with(|slot| slot.replace(self.outer_caller.take()));
    }
}

/// What every request is checked against before it reaches a handler.
pub struct Guard {
    /// Where refused requests are recorded.
    pub easel: Arc<easel_core::Easel>,
    pub max_body_bytes: usize,
    /// Names and values of all headers together.
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
    /// Requests being served now; past `max_in_flight`, 503 at once rather than a queue.
    /// A plain counter: a semaphore took a lock to give each place back.
    pub in_flight: AtomicUsize,
    pub max_in_flight: usize,
    pub limiter: Arc<RateLimiter>,
    /// What every answer carries unless it set its own ([`DefaultHeaders`]).
    pub default_headers: DefaultHeaders,
    /// Route templates with a `{token}` segment: requests to them are logged (and audited)
    /// as the template.
    pub token_routes: Arc<[&'static str]>,
    /// How long a request may wait (for its body, the store, …) before it is answered 503.
    pub request_timeout: std::time::Duration,
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
    /// The caller's request id (`given`) if it is short and plain (so that it cannot be used
    /// to inject anything into logs), else a new random one.
    fn of(given: Option<&HeaderValue>) -> RequestId {
        if let Some(value) = given {
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

    /// 96 random bits as 24 hex digits. A request id names a request; it guards nothing, so
    /// it comes from a fast per-thread generator (wyrand, seeded from the OS once per
    /// thread) rather than the cryptographic one that keys and tokens come from.
    fn new() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        thread_local! {
            static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
        }
        let next = || {
            STATE.with(|state| {
                let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
                state.set(s);
                let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
                (t as u64) ^ ((t >> 64) as u64)
            })
        };
        // 12 random bytes, two digits each: all eight of one draw and the high four of the
        // other.
        let (high, low) = (next().to_be_bytes(), next().to_be_bytes());
        let random = high.into_iter().chain(low.into_iter().take(4));
        let mut bytes = [0u8; 64];
        for (digits, byte) in bytes[..24].chunks_exact_mut(2).zip(random) {
            digits[0] = HEX[usize::from(byte >> 4)];
            digits[1] = HEX[usize::from(byte & 15)];
        }
        RequestId { bytes, len: 24 }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    fn as_str(&self) -> &str {
        // Only plain ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("-")
    }
}

/// Wraps the whole router once (not each route, as `Router::layer` would): names every
/// request, logs it (the path only, see above), bounds its body and its time, and gives
/// error responses Palette's body. Hand-written rather than `middleware::from_fn` because it
/// sits in front of every request: it neither boxes the inner future nor clones the inner
/// service.
#[derive(Clone)]
pub struct RequestContext<S> {
    inner: S,
    guard: Arc<Guard>,
    /// The connection's peer; `None` when driven in-process.
    peer: Option<IpAddr>,
}

impl<S: Clone> RequestContext<S> {
    pub fn new(inner: S, guard: Arc<Guard>) -> Self {
        RequestContext {
            inner,
            guard,
            peer: None,
        }
    }

    /// The service for one connection from `peer`: made once per connection, so that no
    /// request carries its peer's address as an extension of its own.
    pub fn for_peer(&self, peer: SocketAddr) -> Self {
        RequestContext {
            peer: Some(peer.ip()),
            ..self.clone()
        }
    }
}

/// What the request context reads of a request's headers, in one walk over them: cheaper
/// than a lookup per header, each hashing its name, on top of the walk that sums their sizes.
/// The same walk finds the headers authentication reads (`auth`), for [`EarlyHash`].
struct SeenHeaders {
    /// Names and values of all headers together.
    bytes: usize,
    /// Whether `Content-Length` announces more than `max_body_bytes`.
    body_too_large: bool,
    id: RequestId,
}

impl SeenHeaders {
    fn of<'a>(
        headers: &'a axum::http::HeaderMap,
        max_body_bytes: usize,
        auth: &mut AuthHeaders<'a>,
    ) -> SeenHeaders {
        let mut bytes = 0;
        let (mut length, mut given_id) = (None, None);
        for (name, value) in headers {
            bytes += name.as_str().len() + value.len();
            if name == header::CONTENT_LENGTH {
                length.get_or_insert(value);
            } else if name == REQUEST_ID {
                given_id.get_or_insert(value);
            } else {
                auth.see(name, value);
            }
        }
        let body_too_large = length
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > max_body_bytes as u64);
        SeenHeaders {
            bytes,
            body_too_large,
            id: RequestId::of(given_id),
        }
    }
}

impl<S> RequestContext<S> {
    /// Why a request is refused before routing, if it is.
    fn refusal(&self, request: &mut Request, seen: &SeenHeaders) -> Option<Refusal> {
        let guard = &*self.guard;
        if seen.bytes > guard.max_header_bytes {
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
        if seen.body_too_large {
            return Some(Refusal::Status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        if !guard.limiter.is_active() {
            return None;
        }
        let client = client_address(self.peer, request.headers(), &guard.limiter);
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
        let (seen, early_hash) = {
            let mut auth = AuthHeaders::default();
            let seen = SeenHeaders::of(request.headers(), self.guard.max_body_bytes, &mut auth);
            let early_hash = EarlyHash::of(&auth);
            if let Some(early) = &early_hash {
                self.guard
                    .easel
                    .warm_cached_caller(early.hash(), early.is_token());
            }
            (seen, early_hash)
        };
        let id = seen.id;
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
        let refusal = self.refusal(&mut request, &seen);
        let verdict = request.extensions().get::<Verdict>().copied();
        let method = request.method().clone();
        let uri = request.uri().clone();
        // A refused request's body is never read: the connection cannot carry another request
        // after it, and saying so keeps a client from sending one on it.
        let close = {
            use axum::body::HttpBody;
            request.body().size_hint().exact() != Some(0)
        };
        let guard = &self.guard;
        let mut counted = false;
        let inner = match refusal {
            Some(refusal) => Inner::Refused { refusal, close },
            None if guard.in_flight.fetch_add(1, Ordering::Acquire) < guard.max_in_flight => {
                counted = true;
                Inner::Called {
                    future: self.inner.call(limit_body(request, guard.max_body_bytes)),
                }
            }
            None => {
                guard.in_flight.fetch_sub(1, Ordering::Release);
                Inner::Refused {
                    refusal: Refusal::Status(StatusCode::SERVICE_UNAVAILABLE),
                    close,
                }
            }
        };
        ContextFuture {
            inner: inner.instrument(span),
            peer: self.peer,
            early_hash,
            caller: None,
            deadline: None,
            id,
            started,
            verdict,
            held: Held {
                method,
                uri,
                guard: self.guard.clone(),
                counted,
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
        inner: Instrumented<Inner<F>>,
        // The connection's peer, the hash of the credential in its headers, and the caller
        // once authenticated (see [`PollScope`]).
        peer: Option<IpAddr>,
        early_hash: Option<EarlyHash>,
        caller: Option<Arc<easel_core::Caller>>,
        // Armed when the request first waits. Most requests (a cached caller and no body)
        // are answered on their first poll and never register a timer; the few microseconds
        // before that first wait are not counted.
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
        id: RequestId,
        started: Option<Instant>,
        // The rate-limit count of an allowed request, for its headers.
        verdict: Option<Verdict>,
        held: Held,
    }
}

/// A request's hold on the guard: its place among the requests in flight, given back when
/// its answer is done with, and what it takes to record a refusal once the answer is known.
struct Held {
    method: axum::http::Method,
    uri: axum::http::Uri,
    guard: Arc<Guard>,
    /// Whether this request counts among those in flight (it was let through).
    counted: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.counted {
            self.guard.in_flight.fetch_sub(1, Ordering::Release);
        }
    }
}

impl Held {
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
        let polled = {
            let _scope = PollScope::enter(*this.peer, *this.early_hash, this.caller);
            this.inner.as_mut().poll(cx)
        };
        let mut response = match polled {
            Poll::Ready(response) => response?,
            Poll::Pending => {
                let timeout = this.held.guard.request_timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                std::task::ready!(deadline.as_mut().poll(cx));
                // The request's future is dropped with this one, once the answer is sent.
                let mut timed_out = Response::new(Body::empty());
                *timed_out.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                timed_out
            }
        };
        if response.status() == StatusCode::FORBIDDEN {
            if let Some(caller) = this.caller.take() {
                this.held.record(caller, &response);
            }
        }
        if response.status().is_client_error() || response.status().is_server_error() {
            response = error_body(response, this.id.as_str());
        }
        under_own_headers(response.headers_mut(), &this.held.guard.default_headers);
        // Put in place of the defaults' stand-in, so the map does not grow.
        if let Ok(value) = HeaderValue::from_bytes(this.id.as_bytes()) {
            replace_stand_in(response.headers_mut(), &REQUEST_ID, value);
        }
        // A refusal by the key's own limit already says which policy refused it.
        if let Some(verdict) = this.verdict {
            if !response.headers().contains_key("ratelimit-policy") {
                verdict.write_headers(response.headers_mut());
            }
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

const HSTS: &str = "max-age=31536000";

/// Headers every response carries, built once: `hsts` adds `Strict-Transport-Security`
/// (clients reach the server over TLS). API answers are never to be cached (they carry keys,
/// tokens and people's data), framed, sniffed or read across origins.
pub fn security_headers(hsts: bool) -> axum::http::HeaderMap {
    use axum::http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let mut headers = axum::http::HeaderMap::with_capacity(16);
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    set(REFERRER_POLICY, "no-referrer");
    set(
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(CACHE_CONTROL, "no-store");
    if hsts {
        set(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    headers
}

/// What [`RequestContext`] gives every answer that does not carry it yet: the
/// [`security_headers`], and a stand-in `X-Request-Id` that each answer's own id replaces, so
/// that putting the id in does not grow the map.
pub struct DefaultHeaders {
    any: axum::http::HeaderMap,
    /// Whether `Strict-Transport-Security` is among them (the server, or its proxy, speaks
    /// TLS). JSON answers start without it ([`JSON_ANSWER_HEADERS`]) and get it here.
    hsts: bool,
}

impl DefaultHeaders {
    pub fn new(hsts: bool) -> DefaultHeaders {
        let mut any = security_headers(hsts);
        any.insert(&REQUEST_ID, HeaderValue::from_static("-"));
        DefaultHeaders { any, hsts }
    }
}

/// The headers a JSON answer starts with ([`crate::json::Json`]): the defaults, its content
/// type, and stand-ins for its length and request id, which it and [`RequestContext`] replace
/// in place. Most answers are JSON; starting from a copy of this map spares each the map of
/// its own that would be built, merged with the defaults and dropped: under row 2 of the
/// benchmark, about 950 of the node's 25,000 instructions per request (docs/performance.md,
/// round 14).
pub static JSON_ANSWER_HEADERS: std::sync::LazyLock<axum::http::HeaderMap> =
    std::sync::LazyLock::new(|| {
        // The defaults come first: [`carries_defaults`] knows such a map by its first entry.
        let mut headers = DefaultHeaders::new(false).any;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        headers
    });

/// Puts `value` in place of the stand-in for `name` that a map made from [`DefaultHeaders`]
/// or [`JSON_ANSWER_HEADERS`] holds (or inserts it, if the map has none). Writing over the
/// stand-in's value costs about half as much as inserting (which every answer paid twice,
/// for its length and its id): no room to reserve, no old value to take out and drop.
pub fn replace_stand_in(
    headers: &mut axum::http::HeaderMap,
    name: &HeaderName,
    value: HeaderValue,
) {
    match headers.get_mut(name) {
        Some(stand_in) => *stand_in = value,
        None => {
            headers.insert(name, value);
        }
    }
}

/// Whether `headers` started as a copy of the defaults ([`JSON_ANSWER_HEADERS`]): the
/// defaults are inserted first, and a map's first entry stays first.
fn carries_defaults(headers: &axum::http::HeaderMap) -> bool {
    headers
        .iter()
        .next()
        .is_some_and(|(name, _)| name == header::X_CONTENT_TYPE_OPTIONS)
}

/// Gives a response the `defaults` it did not set itself: a response that set one keeps its
/// own (the console's pages have a content security policy of their own). A JSON answer has
/// them already, as its first headers, and any it replaced since are its own.
///
/// Other answers' headers are put into a copy of the defaults, not the other way round.
/// Measured alone, with seven defaults: 190 ns per response for that copy and merge, 330 ns
/// for a lookup and an insert per default, 360 ns for an entry lookup per default.
fn under_own_headers(headers: &mut axum::http::HeaderMap, defaults: &DefaultHeaders) {
    if carries_defaults(headers) {
        if defaults.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        return;
    }
    let own = std::mem::replace(headers, defaults.any.clone());
    let mut name = None;
    // The iterator gives a name with the first value of each header only.
    for (next, value) in own {
        match next {
            Some(next) => {
                headers.insert(&next, value);
                name = Some(next);
            }
            None => {
                if let Some(name) = &name {
                    headers.append(name, value);
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Arc<easel_core::Caller> {
        use easel_core::ids::Uid;
        use easel_core::model::{Tenant, User};
        let t0 = chrono::DateTime::UNIX_EPOCH;
        let uid = |n: u8| Uid::parse(&format!("{n:024x}")).unwrap();
        Arc::new(easel_core::Caller {
            cache: Default::default(),
            cached: Default::default(),
            tenant: Arc::new(Tenant {
                uid: uid(1),
                name: "t".into(),
                is_active: true,
                max_key_lifetime_days: 1,
                token_lifetime_minutes: 15,
                password_min_length: 8,
                created_at: t0,
                updated_at: t0,
            }),
            user: Arc::new(User {
                uid: uid(2),
                tenant_uid: uid(1),
                email: "e@x.test".into(),
                first_name: "f".into(),
                last_name: "l".into(),
                is_active: true,
                is_operator: false,
                password_hash: None,
                roles: vec![],
                created_at: t0,
                updated_at: t0,
            }),
            key_uid: Some(uid(3)),
            session_uid: None,
            project: None,
            permissions: Default::default(),
        })
    }

    /// The caller authenticated while a request is polled goes back to that request (a 403
    /// is recorded against it), and nothing is left on the thread for the next request
    /// polled there: not after a poll, not after a poll that panicked. Nor is the hash of
    /// the request's credential: another request's extractor must never find it.
    #[test]
    fn a_remembered_caller_stays_with_its_request_and_leaves_the_thread() {
        let caller = caller();
        let peer = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let key = String::from("easel_presented");
        let early = Some(EarlyHash::of_key_value(key.as_bytes(), [7; 32]));
        let polled_peer = || POLLED_PEER.with(Cell::get);
        let polled_key =
            || polled_early_hash().is_some_and(|early| early.is_for_value(key.as_bytes()));
        let left_on_thread = || POLLED_CALLER.with(|slot| slot.take());

        let mut first = None;
        {
            let _scope = PollScope::enter(peer, early, &mut first);
            assert_eq!(polled_peer(), peer);
            assert!(polled_key());
            remember_caller(&caller);
        }
        assert!(first.as_ref().is_some_and(|c| Arc::ptr_eq(c, &caller)));
        assert_eq!(polled_peer(), None);
        assert!(polled_early_hash().is_none());
        assert!(left_on_thread().is_none());

        let mut next = None;
        {
            let _scope = PollScope::enter(None, None, &mut next);
            assert_eq!(polled_peer(), None);
            assert!(polled_early_hash().is_none());
        }
        assert!(
            next.is_none(),
            "another request's caller leaked into this one"
        );

        // The first request's caller goes back in for its next poll and out after it.
        {
            let _scope = PollScope::enter(peer, early, &mut first);
            assert!(POLLED_CALLER.with(|slot| {
                let held = slot.take();
                let same = held.as_ref().is_some_and(|c| Arc::ptr_eq(c, &caller));
                slot.set(held);
                same
            }));
        }
        assert!(first.is_some());

        let mut panicking = None;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _scope = PollScope::enter(peer, early, &mut panicking);
            remember_caller(&caller);
            panic!("a handler panicked");
        }));
        assert!(outcome.is_err());
        assert_eq!(polled_peer(), None);
        assert!(polled_early_hash().is_none());
        assert!(left_on_thread().is_none());
    }

    #[test]
    fn new_request_ids_are_24_hex_digits_and_do_not_repeat() {
        let draw = || {
            (0..10_000)
                .map(|_| RequestId::new().as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let other_thread = std::thread::spawn(draw);
        let mut ids = draw();
        ids.extend(other_thread.join().unwrap());
        assert!(ids.iter().all(|id| id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every digit position varies (none is stuck, as a wrong shift would leave it).
        for position in 0..24 {
            let digits: std::collections::HashSet<_> =
                ids.iter().map(|id| id.as_bytes()[position]).collect();
            assert_eq!(digits.len(), 16, "position {position}");
        }
    }

    #[test]
    fn a_response_keeps_its_own_headers_and_gets_the_other_defaults() {
        let defaults = DefaultHeaders::new(true);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            "script-src 'self'".parse().unwrap(),
        );
        headers.append(header::SET_COOKIE, "a=1".parse().unwrap());
        headers.append(header::SET_COOKIE, "b=2".parse().unwrap());
        headers.insert(header::CONTENT_TYPE, "text/html".parse().unwrap());
        under_own_headers(&mut headers, &defaults);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "script-src 'self'"
        );
        let cookies: Vec<_> = headers.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            cookies,
            ["a=1", "b=2"],
            "every value of a repeated header is kept"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
        // The defaults, the request id's stand-in, and the three of its own.
        assert_eq!(headers.len(), security_headers(true).len() + 1 + 3);
        assert!(!security_headers(false).contains_key(header::STRICT_TRANSPORT_SECURITY));
    }

    #[test]
    fn a_json_answer_starts_with_the_defaults_and_keeps_what_it_replaced() {
        let mut headers = JSON_ANSWER_HEADERS.clone();
        headers.insert(header::CACHE_CONTROL, "private".parse().unwrap());
        headers.insert(header::CONTENT_LENGTH, "93".parse().unwrap());
        let before = headers.clone();
        under_own_headers(&mut headers, &DefaultHeaders::new(false));
        assert_eq!(headers, before, "nothing merged again over its own headers");
        assert_eq!(headers[header::CACHE_CONTROL], "private");
        for (name, value) in &security_headers(false) {
            if name != header::CACHE_CONTROL {
                assert_eq!(&headers[name], value, "{name}");
            }
        }

        // Served over TLS, it gets the one default it was made without.
        under_own_headers(&mut headers, &DefaultHeaders::new(true));
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );

        // A map that did not start from the defaults is not taken for one that did.
        let mut plain = axum::http::HeaderMap::new();
        plain.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        plain.insert(header::X_CONTENT_TYPE_OPTIONS, "nosniff".parse().unwrap());
        under_own_headers(&mut plain, &DefaultHeaders::new(false));
        assert_eq!(plain[header::X_FRAME_OPTIONS], "DENY");
    }
}
