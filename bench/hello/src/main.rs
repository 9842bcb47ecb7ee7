//! The baseline of Easel's benchmark: an unauthenticated JSON "hello" on the same axum, tokio
//! and release profile as Easel, so that the ratio measures what Easel adds.

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
    let app = Router::new().route(
        "/hello",
        get(|| async { axum::Json(serde_json_free::HELLO) }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("hello listening on {address}");
    axum::serve(listener, app).await
}

mod serde_json_free {
    /// A body of the size of `/v1/users/info`'s.
    pub const HELLO: &str =
        "orgName easel tenantUid 6b04916e034e85497287f6e8 userUid 6b049170202debe4";
}
