//! The accept loop both listeners share (plain HTTP, [`crate::serve`]; TLS,
//! [`crate::tls::serve`]): each connection is served by hyper's HTTP/1 connection directly,
//! with the application as its service, until a shutdown signal; then the requests in flight
//! are answered and the connections closed.
//!
//! Written here rather than taken from `axum::serve`, which serves through hyper-util's
//! protocol-detecting builder: Easel speaks HTTP/1 only, so the detection was a layer every
//! request passed for nothing, and `axum::serve` cannot ask hyper for the two things this
//! loop does:
//! - **One write per answer.** hyper writes an answer's head and body with one `writev` by
//!   default, keeping the body in a queue of buffers beside the head. Easel's answers are
//!   small (a JSON body of a few hundred bytes behind about twelve header lines), so copying
//!   the body behind the head and writing once costs less than keeping the queue: about 415
//!   instructions less per answer, measured on the benchmark's baseline under callgrind
//!   (docs/performance.md, round 22). Long list pages are copied too (30 kB, a few µs against
//!   the 150 µs a page costs).
//! - **A bound on slow request heads** where the caller asks for one (the TLS listener, whose
//!   clients may be anywhere). It arms a timer for every request head, so the plain listener,
//!   meant to sit behind a proxy on the same host, does without, as it did before.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

use crate::App;

/// How each connection is opened and served.
pub(crate) struct Connections<Open> {
    /// Turns an accepted TCP stream into the stream HTTP is spoken over (itself, or its TLS
    /// session once the handshake is done); `None` drops the connection.
    pub open: Open,
    /// How long a client has to send each request's head, if bounded.
    pub header_read_timeout: Option<Duration>,
}

/// Accepts connections on `listener` and serves `app` on each until `shutdown` completes;
/// then stops accepting, lets every connection finish the request it is serving, and returns
/// once all are closed.
pub(crate) async fn serve<Open, Opening, Io>(
    listener: TcpListener,
    app: App,
    connections: Connections<Open>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    Open: Fn(TcpStream, SocketAddr) -> Opening + Clone + Send + 'static,
    Opening: Future<Output = Option<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = PerConnection(RefCell::new(app.for_peer(peer)));
        let open = connections.open.clone();
        let header_read_timeout = connections.header_read_timeout;
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(io) = open(tcp, peer).await else {
                return;
            };
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.writev(false);
            if let Some(timeout) = header_read_timeout {
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout);
            }
            let connection = builder.serve_connection(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The application as one connection's hyper service. hyper calls its service through a
/// shared reference and the application is a tower service, called through a unique one;
/// the connection's task is the only caller, one request at a time, so a `RefCell` gives it
/// one where `axum::serve` cloned the application for every request (its router and its
/// guard: two reference counts written, then written back).
struct PerConnection(RefCell<App>);

impl hyper::service::Service<axum::http::Request<Incoming>> for PerConnection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <App as Service<axum::extract::Request>>::Future;

    fn call(&self, request: axum::http::Request<Incoming>) -> Self::Future {
        // The router is always ready (`Router::poll_ready`), and so is the context around it.
        self.0.borrow_mut().call(request.map(Body::new))
    }
}
