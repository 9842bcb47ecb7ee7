//! The real binary: first start prints the secrets once, a second start prints none, and
//! SIGTERM stops it cleanly.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::*;

struct Running {
    child: Child,
    base: String,
}

/// Starts `easel serve` on port 0 and waits for the line that says where it listens.
async fn spawn_serve(url: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--tenant-name", "acme", "--admin-email", "ops@acme.test"])
        .env("EASEL_DATABASE_URL", url)
        .env("EASEL_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("Easel is listening on ") {
                let rest = &line[at + "Easel is listening on ".len()..];
                return rest.split('"').next().unwrap().to_owned();
            }
        }
        panic!("easel serve exited before listening");
    })
    .await
    .expect("easel serve starts within a minute");
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running { child, base }
}

async fn terminate(mut running: Running) -> (std::process::ExitStatus, String) {
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
    let first = spawn_serve(&db.url).await;
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

    let second = spawn_serve(&db.url).await;
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
