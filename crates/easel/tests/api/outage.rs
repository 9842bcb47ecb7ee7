//! The store goes away and comes back: answers are 503 with the error body (never a hang or a
//! 500 with internals), readiness says so, and the server recovers by itself.

use reqwest::Method;

use crate::harness::*;

/// Runs one statement as PostgreSQL's superuser, outside the test database.
async fn admin_sql(sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

async fn status(server: &TestServer, path: &str) -> easel_client::RawResponse {
    server.admin.raw(Method::GET, path, None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_gives_503_and_the_server_recovers_by_itself() {
    let server = start(Backend::Postgres).await;
    let database = server.db.url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(status(&server, "/v1/health/ready").await.status, 200);
    let key = server
        .admin
        .create_api_key(&key_entity("before", "", None))
        .await
        .unwrap();
    let user = server.anonymous.with_api_key(&key.api_key);
    for _ in 0..3 {
        user.user_info().await.unwrap();
    }

    // The database refuses new connections and every open one is killed.
    admin_sql(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .await;
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .await;

    for path in ["/v1/health/ready", "/v1/apiKeys", "/v1/users"] {
        let raw = status(&server, path).await;
        assert_eq!(raw.status, 503, "{path}: {}", raw.body);
        let json = raw.json();
        assert_eq!(json["code"], "ServiceUnavailable", "{path}");
        assert!(raw.headers.contains_key("retry-after"), "{path}");
        let message = json["message"].as_str().unwrap();
        assert!(
            !message.contains("database") && !message.contains(&database),
            "no internals in the answer: {message}"
        );
    }
    // The key's uses cannot be written now; they are kept, not lost.
    assert!(server.easel.flush_usage().await.is_err());
    // A change refused while the store is away is not half-made.
    let raw = server
        .admin
        .raw(Method::DELETE, &format!("/v1/apiKeys/{}", key.uid), None)
        .await
        .unwrap();
    assert_eq!(raw.status, 503, "{}", raw.body);

    admin_sql(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
    let server_ref = &server;
    let ready = eventually(100, std::time::Duration::from_millis(100), || async move {
        status(server_ref, "/v1/health/ready").await.status == 200
    })
    .await;
    assert!(
        ready,
        "ready again once the store is back, without a restart"
    );
    let keys = status(&server, "/v1/apiKeys").await;
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert!(
        keys.body.contains(&key.uid),
        "the key whose deletion failed is still there"
    );
    server.easel.flush_usage().await.unwrap();
    let read = server.admin.get_api_key(&key.uid).await.unwrap();
    assert_eq!(
        read.status.use_count, 3,
        "the uses counted during the outage"
    );
}
