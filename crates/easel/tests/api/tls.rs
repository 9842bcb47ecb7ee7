//! HTTPS with rustls: the real binary with `--tls-cert`/`--tls-key`, a self-signed
//! certificate made by the test, and a client that trusts only that certificate.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;
use crate::process::{spawn_serve_with, terminate};

/// Sends one request over TLS, trusting only `cert`; returns the raw answer.
async fn https_get(base: &str, cert: &[u8], path: &str, api_key: Option<&str>) -> String {
    use rustls_pki_types::pem::PemObject;
    let address = base.trim_start_matches("https://");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(cert).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the handshake succeeds");
    let key_header = api_key
        .map(|k| format!("ApiKey: {k}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{key_header}Connection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = generated.cert.pem();
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, generated.key_pair.serialize_pem()).unwrap();
    let tls_args = [
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];

    let db = TestDb::new(Backend::Sqlite).await;
    let first = spawn_serve_with(&db.url, "info", &tls_args).await;
    assert!(first.base.starts_with("https://"), "{}", first.base);
    let ping = https_get(&first.base, cert_pem.as_bytes(), "/v1/health/ping", None).await;
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    let lower = ping.to_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age=31536000"),
        "{ping}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"), "{ping}");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(first.base.replace("https://", "http://") + "/v1/health/ping")
        .timeout(std::time::Duration::from_secs(15))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");

    let (status, stdout) = terminate(first).await;
    assert!(
        status.success(),
        "SIGTERM exits 0 over TLS too, got {status}"
    );
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("easel_"))
        .expect("the first start prints the admin's key");
    assert!(
        stdout.contains("https://"),
        "the printed example uses https: {stdout}"
    );

    let second = spawn_serve_with(&db.url, "info", &tls_args).await;
    let info = https_get(
        &second.base,
        cert_pem.as_bytes(),
        "/v1/users/info",
        Some(key),
    )
    .await;
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert!(info.contains("\"orgName\":\"acme\""), "{info}");
    let refused = https_get(&second.base, cert_pem.as_bytes(), "/v1/users/info", None).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    terminate(second).await;

    // A certificate that does not match its key is refused at start, with a clear error.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&key_path, other.key_pair.serialize_pem()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_easel"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .args(tls_args)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(
        !stderr.contains("PRIVATE KEY"),
        "the key itself is never printed: {stderr}"
    );
}
