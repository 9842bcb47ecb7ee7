//! The console's pages (sign-in, password links, sign-up, the operators' tenant list): static HTML, one stylesheet, one script, no
//! build step. Pages are served with a strict Content-Security-Policy (no inline script, no
//! third-party origin) and never cached, so a password form is never stale.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::table::Routes;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn login() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../console/login.html"),
    )
}

async fn password() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../console/password.html"),
    )
}

async fn signup() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../console/signup.html"),
    )
}

async fn tenants() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../console/tenants.html"),
    )
}

async fn api() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../console/api.html"),
    )
}

/// The route table as JSON, for the reference page.
async fn api_routes() -> Response {
    let routes: Vec<serde_json::Value> = crate::route_table()
        .into_iter()
        .map(|r| serde_json::json!({"method": r.method, "path": r.path, "access": r.access}))
        .collect();
    let mut response = crate::json::Json(routes).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../console/auth.js"),
    )
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../console/easel.css"),
    )
}

pub fn router() -> Routes {
    Routes::default()
        .add("/console/login", get(login), &[("GET", "public")])
        .add(
            "/console/password/reset",
            get(password),
            &[("GET", "public")],
        )
        .add(
            "/console/password/activate",
            get(password),
            &[("GET", "public")],
        )
        .add("/console/signup", get(signup), &[("GET", "public")])
        .add(
            "/console/tenants",
            get(tenants),
            &[("GET", "public page; its calls need an operator")],
        )
        .add("/console/api", get(api), &[("GET", "public")])
        .add(
            "/console/api/routes.json",
            get(api_routes),
            &[("GET", "public")],
        )
        .add("/console/static/auth.js", get(script), &[("GET", "public")])
        .add(
            "/console/static/easel.css",
            get(stylesheet),
            &[("GET", "public")],
        )
}
