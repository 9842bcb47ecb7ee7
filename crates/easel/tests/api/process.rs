//! The real binary: first start prints the secrets once, a second start prints none, and
//! SIGTERM stops it cleanly.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::*;

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// Everything the server has logged so far.
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// The task reading the server's stderr; it ends at EOF, after the server exits.
    reader: tokio::task::JoinHandle<()>,
}

/// Starts `easel serve` on port 0 and waits for the line that says where it listens.
pub(crate) const OPS_PASSWORD: &str = "stable orbit cactus velvet";

pub(crate) async fn spawn_serve(url: &str, log_filter: &str) -> Running {
    spawn_serve_with(url, log_filter, &[]).await
}

/// As [`spawn_serve`], with more `easel serve` arguments.
pub(crate) async fn spawn_serve_with(url: &str, log_filter: &str, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(extra)
        .args(["--tenant-name", "acme", "--admin-email", "ops@acme.test"])
        .args(["--admin-password", OPS_PASSWORD])
        .env("EASEL_DATABASE_URL", url)
        .env("EASEL_LOG", log_filter)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
            if let Some(at) = line.find("Easel is listening on ") {
                let rest = &line[at + "Easel is listening on ".len()..];
                return rest.split('"').next().unwrap().to_owned();
            }
        }
        panic!("easel serve exited before listening");
    })
    .await
    .expect("easel serve starts within a minute");
    // Keep reading stderr, so the child never blocks on a full pipe and the test can look.
    let sink = log.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Running {
        child,
        base,
        log,
        reader,
    }
}

pub(crate) async fn terminate(mut running: Running) -> (std::process::ExitStatus, String) {
    let pid = running.child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), running.child.wait())
        .await
        .expect("easel stops within 30 s of SIGTERM")
        .unwrap();
    // Every line the server wrote is in `log` once the reader has seen the end of stderr.
    let _ = (&mut running.reader).await;
    let mut stdout = String::new();
    running
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    (status, stdout)
}

async fn first_start_prints_secrets_once_and_sigterm_exits_zero(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = spawn_serve(&db.url, "info").await;
    let http = reqwest::Client::new();
    let ping = http
        .get(format!("{}/v1/health/ping", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    let (status, stdout) = terminate(first).await;
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert!(stdout.contains("ops@acme.test"), "{stdout}");
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("easel_"))
        .expect("the first start prints the admin's key")
        .to_owned();
    assert!(stdout.contains("password"));
    assert!(
        !stdout.contains(OPS_PASSWORD),
        "a chosen password is not echoed"
    );

    let second = spawn_serve(&db.url, "info").await;
    let info = http
        .get(format!("{}/v1/users/info", second.base))
        .header("ApiKey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "the printed key works");
    let (status, stdout) = terminate(second).await;
    assert!(status.success());
    assert!(
        !stdout.contains("easel_"),
        "a second start prints no secret: {stdout}"
    );
    assert!(!stdout.contains("password"), "{stdout}");
}

#[tokio::test]
async fn binary_on_sqlite() {
    first_start_prints_secrets_once_and_sigterm_exits_zero(Backend::Sqlite).await;
}

#[tokio::test]
async fn binary_on_postgres() {
    first_start_prints_secrets_once_and_sigterm_exits_zero(Backend::Postgres).await;
}

/// Intervals out of range are refused before anything starts, naming the option; a recheck
/// interval of i64::MAX seconds made the server panic at start.
#[test]
fn out_of_range_intervals_are_refused_with_the_option_named() {
    for (option, value) in [
        ("--cache-recheck-secs", "9223372036854775807"),
        ("--cache-recheck-secs", "0"),
        ("--usage-flush-secs", "0"),
        ("--usage-flush-secs", "86401"),
        ("--usage-fold-secs", "0"),
        ("--usage-fold-secs", "86401"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["serve", "--database-url", "sqlite::memory:", option, value])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option} {value}: {stderr}");
        assert!(stderr.contains(option), "{option} {value}: {stderr}");
        assert!(stderr.contains("1..=86400"), "{option} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{option} {value}: {stderr}");
    }
}

/// With logging at its most verbose, no key (sent in a header, in a query string, or returned
/// by the create call), no token, no password and no reset link reaches the log.
async fn no_key_in_any_log_line(backend: Backend) {
    let db = TestDb::new(backend).await;
    let running = spawn_serve(&db.url, "trace").await;
    let (_, stdout) = terminate(running).await;
    let admin_key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("easel_"))
        .unwrap()
        .to_owned();
    let running = spawn_serve(&db.url, "trace").await;
    let client = easel_client::Client::new(&running.base).with_api_key(&admin_key);
    let created = client
        .create_api_key(&key_entity("secret-test", "", None))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for url in [
        format!("{}/v1/users/info?ApiKey={}", running.base, created.api_key),
        format!("{}/v1/apiKeys?apikey={}&limit=5", running.base, admin_key),
        format!("{}/v1/users/info?ApiKey={}x", running.base, created.api_key),
    ] {
        http.get(url).send().await.unwrap();
    }
    http.get(format!("{}/v1/users/info", running.base))
        .header("ApiKey", &created.api_key)
        .send()
        .await
        .unwrap();
    client
        .set_api_key_active(&created.uid, false)
        .await
        .unwrap();
    http.get(format!("{}/v1/users/info", running.base))
        .header("ApiKey", &created.api_key)
        .send()
        .await
        .unwrap();
    // Tokens: by key and by password, used, refreshed in the header and in the path.
    let by_key = client.authenticate().await.unwrap().authorization;
    let anonymous = easel_client::Client::new(&running.base);
    let by_password = anonymous
        .sign_in("ops@acme.test", "acme", OPS_PASSWORD)
        .await
        .unwrap()
        .authorization;
    let refreshed = anonymous
        .with_token(&by_password)
        .refresh()
        .await
        .unwrap()
        .authorization;
    let refreshed_in_path = anonymous
        .refresh_in_path(&refreshed)
        .await
        .unwrap()
        .authorization;
    anonymous.with_token(&by_key).user_info().await.unwrap();
    let _ = anonymous
        .sign_in("ops@acme.test", "acme", "a wrong guess at it")
        .await;
    // Password flows (mail is off here, so the link only exists inside the server).
    anonymous
        .request_password_reset("ops@acme.test")
        .await
        .unwrap();
    anonymous
        .forgot_organization("ops@acme.test")
        .await
        .unwrap();
    let _ = anonymous
        .set_password_with_token("not-a-real-token-value", "reset", OPS_PASSWORD)
        .await;
    let log = running.log.clone();
    let (status, _) = terminate(running).await;
    assert!(status.success());
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("/v1/auth/refresh"),
        "trace logging was on: {log}"
    );
    for secret in [&admin_key, &created.api_key] {
        assert!(!log.contains(secret.as_str()), "a key reached the log");
        // Not even its secret part without the prefix.
        assert!(
            !log.contains(&secret["easel_".len()..]),
            "a key reached the log"
        );
    }
    for token in [&by_key, &by_password, &refreshed, &refreshed_in_path] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token reached the log");
    }
    for secret in [
        OPS_PASSWORD,
        "a wrong guess at it",
        "not-a-real-token-value",
        "#token=",
    ] {
        assert!(!log.contains(secret), "{secret:?} reached the log");
    }
}

#[tokio::test]
async fn no_key_in_any_log_line_on_sqlite() {
    no_key_in_any_log_line(Backend::Sqlite).await;
}

#[tokio::test]
async fn no_key_in_any_log_line_on_postgres() {
    no_key_in_any_log_line(Backend::Postgres).await;
}

/// SIGTERM while a request is half sent: the server waits for it, answers it, then exits 0.
#[tokio::test]
async fn sigterm_drains_a_request_in_flight() {
    use tokio::io::AsyncWriteExt;
    let db = TestDb::new(Backend::Sqlite).await;
    let running = spawn_serve(&db.url, "info").await;
    let (_, stdout) = terminate(running).await;
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("easel_"))
        .unwrap()
        .to_owned();
    let running = spawn_serve(&db.url, "info").await;
    let address = running.base.trim_start_matches("http://").to_owned();
    let body = r#"{"metadata":{"name":"in flight"}}"#;
    let (head, tail) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /v1/apiKeys HTTP/1.1\r\nHost: {address}\r\nApiKey: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Give the server time to read the head and enter the handler (ordering, not timing: the
    // assertion below holds however long this takes).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = running.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let mut running = running;
    let status = tokio::time::timeout(Duration::from_secs(30), running.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
