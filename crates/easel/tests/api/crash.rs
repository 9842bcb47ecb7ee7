//! `kill -9` in the middle of concurrent writes: after a restart, every key whose creation
//! was answered 201 exists and authenticates, and every key whose revocation was answered 204
//! is refused. Run against the real binary, on SQLite and on PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::*;
use crate::process::{spawn_serve, spawn_serve_with, terminate};

/// What the load saw acknowledged before the crash.
#[derive(Default)]
struct Acknowledged {
    /// Keys answered 201 and not revoked.
    created: Vec<String>,
    /// Keys whose revocation was answered 204.
    revoked: Vec<String>,
}

async fn the_acknowledged_survives_kill_9(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The first start bootstraps and prints the admin's key; then a plain start for the load.
    let (_, stdout) = terminate(spawn_serve(&db.url, "info").await).await;
    let admin_key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("easel_"))
        .expect("the first start prints the admin's key")
        .to_owned();
    // One address makes all the load: per-address rate limits would pace it, not test it.
    let mut running = spawn_serve_with(&db.url, "info", &["--rate-limits", "off"]).await;
    let base = running.base.clone();

    let seen = Arc::new(Mutex::new(Acknowledged::default()));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (base, admin_key, seen) = (base.clone(), admin_key.clone(), seen.clone());
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let created = http
                    .post(format!("{base}/v1/apiKeys"))
                    .header("ApiKey", &admin_key)
                    .json(&serde_json::json!({"metadata": {"name": format!("w{worker}-{i}")}}))
                    .send()
                    .await;
                let Ok(created) = created else { return };
                if created.status() != 201 {
                    continue;
                }
                let Ok(body) = created.json::<serde_json::Value>().await else {
                    return;
                };
                let key = body["apiKey"].as_str().unwrap().to_owned();
                let uid = body["uid"].as_str().unwrap().to_owned();
                if i % 3 != 0 {
                    seen.lock().unwrap().created.push(key);
                    continue;
                }
                let revoked = http
                    .patch(format!("{base}/v1/apiKeys/{uid}"))
                    .header("ApiKey", &admin_key)
                    .json(&serde_json::json!({"isActive": false}))
                    .send()
                    .await;
                match revoked {
                    Ok(r) if r.status() == 204 => seen.lock().unwrap().revoked.push(key),
                    // Created but not known to be revoked: it must exist; either state is
                    // a correct outcome of a revocation that was never answered.
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    // Let the load run, then kill the server without warning.
    let started = tokio::time::Instant::now();
    while seen.lock().unwrap().created.len() < 200 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.child.start_kill().unwrap();
    running.child.wait().await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.created.len() >= 200,
        "the load was acknowledged: {}",
        seen.created.len()
    );
    assert!(
        !seen.revoked.is_empty(),
        "some revocations were acknowledged"
    );

    let restarted = spawn_serve_with(&db.url, "info", &["--rate-limits", "off"]).await;
    let http = reqwest::Client::new();
    let status_with = |key: &str| {
        http.get(format!("{}/v1/users/info", restarted.base))
            .header("ApiKey", key)
            .send()
    };
    for key in &seen.created {
        let status = status_with(key).await.unwrap().status();
        assert_eq!(
            status, 200,
            "a key answered 201 before the crash authenticates after it"
        );
    }
    for key in &seen.revoked {
        let status = status_with(key).await.unwrap().status();
        assert_eq!(
            status, 401,
            "a key whose revocation was answered 204 stays refused"
        );
    }
    let (status, _) = terminate(restarted).await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_on_sqlite() {
    the_acknowledged_survives_kill_9(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_on_postgres() {
    the_acknowledged_survives_kill_9(Backend::Postgres).await;
}
