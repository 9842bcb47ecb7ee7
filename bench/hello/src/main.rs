//! The baseline of Easel's benchmark: an unauthenticated JSON "hello" on the same axum, tokio
//! and release profile as Easel, so that the ratio measures what Easel adds.
//!
//! `/hello` is the bare baseline the targets are measured against. `/hello-headers` is the
//! same answer carrying the headers every Easel JSON answer carries (its security headers and
//! a request id), added the way Easel adds them: it says how much of Easel's distance from
//! the bare hello is those headers alone, and is reported, never used as the baseline.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The same allocator as Easel's binary, so that the ratio measures Easel's work, not a
/// difference of allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let app = Router::new()
        .route(
            "/hello",
            get(|| async { axum::Json(serde_json_free::HELLO) }),
        )
        .route("/hello-headers", get(hello_with_easels_headers));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("hello listening on {address}");
    axum::serve(listener, app).await
}

/// The headers of an Easel JSON answer served over plain HTTP, but for its length and date,
/// which hyper writes for both servers. The benchmark checks that their names are those of
/// Easel's answer (bench/run.py), so that a header added to Easel is not forgotten here.
static EASELS_HEADERS: LazyLock<HeaderMap> = LazyLock::new(|| {
    [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cache-control", "no-store"),
        // Easel makes a new one for each request; its making is Easel's cost, not the header's.
        ("x-request-id", "5f0c2a9e61d4b7083e9a1c25"),
        ("content-type", "application/json"),
    ]
    .into_iter()
    .map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    })
    .collect()
});

/// The hello answer with [`EASELS_HEADERS`]: one shared map copied into the answer, as Easel
/// starts each JSON answer (`JSON_ANSWER_HEADERS` in easel-server). The body is made as
/// `/hello` makes it, so the map axum made for its content type is dropped: a few tens of
/// nanoseconds that Easel does not pay, counted here against the headers.
async fn hello_with_easels_headers() -> Response {
    let mut response = axum::Json(serde_json_free::HELLO).into_response();
    *response.headers_mut() = EASELS_HEADERS.clone();
    response
}

mod serde_json_free {
    /// A body of the size of `/v1/users/info`'s.
    pub const HELLO: &str =
        "orgName easel tenantUid 6b04916e034e85497287f6e8 userUid 6b049170202debe4";
}
