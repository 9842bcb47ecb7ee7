//! Easel's HTTP server.
//!
//! [`app`] builds the router (no socket, so it can be driven with `oneshot`); [`serve`] runs
//! it on a listener until a shutdown signal, draining requests in flight. Handlers are thin:
//! they extract the caller ([`auth::Authenticated`]), the body ([`json::ApiJson`]) and the
//! query ([`json::ApiQuery`]), call one [`easel_core::Easel`] method, and turn the result into
//! wire types ([`views`]). Every error, ours or the framework's, leaves as Palette's error
//! body with the request id as `ref` ([`context`]).

pub mod audit_routes;
pub mod auth;
pub mod auth_routes;
mod connections;
pub mod console;
pub mod context;
pub mod error;
pub mod json;
pub mod openapi;
pub mod ratelimit;
pub mod rbac_routes;
pub mod routes;
pub mod table;
pub mod tenant_routes;
pub mod tls;
pub mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use axum::Router;
use easel_core::Easel;
use tokio::net::TcpListener;

/// What every handler can reach, behind one `Arc`: axum clones the state for every request,
/// and each clone of an `Arc` writes its count, a cache line both cores then pass between
/// them. One count moves where two did.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    pub easel: Arc<Easel>,
    /// Whether cookies get the `Secure` attribute (the server, or its proxy, speaks TLS).
    pub secure_cookies: bool,
    /// The node's rate limiter (switched by `PATCH /v1/system/ratelimit`).
    pub limiter: Arc<ratelimit::RateLimiter>,
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Limits that protect the server; see `README.md ("Configuration")`.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// All header names and values of a request together.
    pub max_header_bytes: usize,
    /// A request's path and query together.
    pub max_uri_bytes: usize,
    /// Requests served at once by this node; more are answered 503 with `Retry-After`.
    pub max_in_flight: usize,
    pub rate_limits: ratelimit::RateLimitConfig,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_uri_bytes: 8 * 1024,
            max_in_flight: 1024,
            rate_limits: ratelimit::RateLimitConfig::default(),
        }
    }
}

/// Every route, with the access each needs.
fn all_routes() -> table::Routes {
    routes::router()
        .merge(auth_routes::router())
        .merge(tenant_routes::router())
        .merge(rbac_routes::router())
        .merge(audit_routes::router())
        .merge(console::router())
}

/// The route table: every method and path served, and the access it needs.
pub fn route_table() -> Vec<table::RouteInfo> {
    all_routes().table
}

/// The whole HTTP application: the router, with the request context (limits, timeout, log,
/// error bodies) wrapped around it once.
pub type App = context::RequestContext<Router>;

/// The whole HTTP application.
pub fn app(state: AppState, limits: &HttpLimits) -> App {
    let routes = all_routes();
    let token_routes: Arc<[&'static str]> = routes
        .table
        .iter()
        .map(|r| r.path)
        .filter(|p| p.contains("{token}"))
        .collect();
    // Bodies are bounded by the context (a declared length over the limit is refused before
    // routing; any other body is read through a limit), not by `Router::layer`, which would
    // wrap every route in one more boxed service.
    let guard = Arc::new(context::Guard {
        easel: state.easel.clone(),
        max_body_bytes: limits.max_body_bytes,
        max_header_bytes: limits.max_header_bytes,
        max_uri_bytes: limits.max_uri_bytes,
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        max_in_flight: limits.max_in_flight.max(1),
        limiter: state.limiter.clone(),
        default_headers: context::DefaultHeaders::new(state.secure_cookies),
        token_routes,
        request_timeout: limits.request_timeout,
    });
    context::RequestContext::new(routes.router.with_state(state), guard)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish before returning.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let plain = connections::Connections {
        open: |tcp, _peer| std::future::ready(Some(tcp)),
        header_read_timeout: None,
    };
    connections::serve(listener, app, plain, shutdown).await
}
