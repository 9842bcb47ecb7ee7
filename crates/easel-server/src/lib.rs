//! Easel's HTTP server.
//!
//! [`app`] builds the router (no socket, so it can be driven with `oneshot`); [`serve`] runs
//! it on a listener until a shutdown signal, draining requests in flight. Handlers are thin:
//! they extract the caller ([`auth::Authenticated`]), the body ([`json::ApiJson`]) and the
//! query ([`json::ApiQuery`]), call one [`easel_core::Easel`] method, and turn the result into
//! wire types ([`views`]). Every error, ours or the framework's, leaves as Palette's error
//! body with the request id as `ref` ([`context`]).

pub mod auth;
pub mod auth_routes;
pub mod console;
pub mod context;
pub mod error;
pub mod json;
pub mod rbac_routes;
pub mod routes;
pub mod table;
pub mod tenant_routes;
pub mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use axum::Router;
use easel_core::Easel;
use tokio::net::TcpListener;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub easel: Arc<Easel>,
    /// Whether cookies get the `Secure` attribute (the server, or its proxy, speaks TLS).
    pub secure_cookies: bool,
}

/// Limits that protect the server; see `docs/configuration.md`.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// Every route, with the access each needs.
fn all_routes() -> table::Routes {
    routes::router()
        .merge(auth_routes::router())
        .merge(tenant_routes::router())
        .merge(rbac_routes::router())
        .merge(console::router())
}

/// The route table: every method and path served, and the access it needs.
pub fn route_table() -> Vec<table::RouteInfo> {
    all_routes().table
}

/// The whole HTTP application: the router, with the request context and the timeout
/// wrapped around it once.
pub type App = context::RequestContext<tower_http::timeout::Timeout<Router>>;

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
    let router = routes.router.with_state(state);
    let timeout = tower_http::timeout::Timeout::with_status_code(
        router,
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    );
    context::RequestContext::new(timeout, token_routes, limits.max_body_bytes)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish before returning.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
