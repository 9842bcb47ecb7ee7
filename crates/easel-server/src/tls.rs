//! HTTPS with rustls, when the server is given a certificate and key (`--tls-cert`,
//! `--tls-key`). The same application as plain HTTP; only the connection differs. Each
//! connection has a bounded time to finish its handshake and to send its request headers, so
//! that clients that open connections and go quiet cannot hold them for ever.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::App;

/// How long a client has for the TLS handshake, and then for its request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS acceptor from PEM: a certificate chain (leaf first) and its private key.
/// Errors name what is wrong with the files, never their content.
pub fn acceptor(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate file is not PEM certificates: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no certificate".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("the key file holds no usable private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then lets connections
/// finish the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    acceptor: TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handshake = move |tcp, peer: std::net::SocketAddr| {
        let acceptor = acceptor.clone();
        async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Some(tls),
                // A failed handshake (a plain-HTTP client, a wrong name) is the client's.
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => None,
            }
        }
    };
    let over_tls = crate::connections::Connections {
        open: handshake,
        header_read_timeout: Some(HEADER_READ_TIMEOUT),
    };
    crate::connections::serve(listener, app, over_tls, shutdown).await
}
