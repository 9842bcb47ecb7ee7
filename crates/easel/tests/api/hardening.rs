//! What every request meets before a handler: security headers, header and URI size limits,
//! rate limits (per address and prefix, per key, the operators' switch, trusted proxies) and
//! the bound on requests in flight.

use easel_server::ratelimit::Limit;
use reqwest::Method;

use crate::harness::*;

fn limited(default: Limit) -> easel_server::HttpLimits {
    let mut limits = test_limits();
    limits.rate_limits.active = true;
    limits.rate_limits.default_limit = default;
    limits
}

async fn start_limited(backend: Backend) -> TestServer {
    start_with_limits(backend, limited(Limit { rate: 1, burst: 3 })).await
}

async fn start_with_key_limit(backend: Backend) -> TestServer {
    let mut limits = limited(Limit {
        rate: 1000,
        burst: 5,
    });
    limits.rate_limits.per_key = Some(Limit { rate: 1, burst: 2 });
    start_with_limits(backend, limits).await
}

async fn start_behind_proxy(backend: Backend) -> TestServer {
    let mut limits = limited(Limit { rate: 1, burst: 2 });
    limits.rate_limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    start_with_limits(backend, limits).await
}

async fn start_with_short_timeout(backend: Backend) -> TestServer {
    let mut limits = test_limits();
    limits.request_timeout = std::time::Duration::from_millis(300);
    start_with_limits(backend, limits).await
}

async fn start_behind_proxy_at_127_0_0_2(backend: Backend) -> TestServer {
    let mut limits = limited(Limit { rate: 1, burst: 2 });
    limits.rate_limits.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    start_with_limits(backend, limits).await
}

async fn start_one_at_a_time(backend: Backend) -> TestServer {
    let mut limits = test_limits();
    limits.max_in_flight = 1;
    start_with_limits(backend, limits).await
}

/// The status of a ping sent from the loopback address `peer`, saying it forwards `client`.
async fn forwarded_ping(server: &TestServer, peer: &str, client: &str) -> u16 {
    reqwest::Client::builder()
        .local_address(Some(peer.parse().unwrap()))
        .build()
        .unwrap()
        .get(format!("{}/v1/health/ping", server.anonymous.base_url()))
        .header("X-Forwarded-For", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn header<'a>(raw: &'a easel_client::RawResponse, name: &str) -> &'a str {
    raw.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", raw.headers))
        .to_str()
        .unwrap()
}

fn assert_error_body(raw: &easel_client::RawResponse, status: u16, code: &str) {
    assert_eq!(raw.status, status, "{}", raw.body);
    let json = raw.json();
    assert_eq!(json["code"], code, "{}", raw.body);
    assert_eq!(json["ref"], header(raw, "x-request-id"));
}

on_both_stores! {
    async fn every_answer_carries_security_headers(server) {
        let answers = [
            server.admin.raw(Method::GET, "/v1/users/info", None).await.unwrap(),
            server.anonymous.raw(Method::GET, "/v1/users/info", None).await.unwrap(),
            server.admin.raw(Method::GET, "/v1/nowhere", None).await.unwrap(),
            server.admin.raw(Method::POST, "/v1/apiKeys", Some("{")).await.unwrap(),
            server.anonymous.raw(Method::GET, "/console/login", None).await.unwrap(),
        ];
        assert_eq!(
            answers.iter().map(|a| a.status.as_u16()).collect::<Vec<_>>(),
            [200, 401, 404, 400, 200]
        );
        for answer in &answers {
            assert_eq!(header(answer, "x-content-type-options"), "nosniff");
            assert_eq!(header(answer, "x-frame-options"), "DENY");
            assert_eq!(header(answer, "referrer-policy"), "no-referrer");
            assert_eq!(header(answer, "cross-origin-opener-policy"), "same-origin");
            assert!(header(answer, "content-security-policy").contains("frame-ancestors 'none'"));
            // Plain HTTP here: no HSTS promise a client could not keep.
            assert!(answer.headers.get("strict-transport-security").is_none());
            // Each answer's own id, never the defaults' stand-in.
            let id = header(answer, "x-request-id");
            assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        // A JSON answer starts from a copy of the defaults, with its own length.
        assert_eq!(header(&answers[0], "content-type"), "application/json");
        assert_eq!(
            header(&answers[0], "content-length"),
            answers[0].body.len().to_string()
        );
        for api in &answers[..4] {
            assert_eq!(header(api, "cache-control"), "no-store");
            assert_eq!(
                header(api, "content-security-policy"),
                "default-src 'none'; frame-ancestors 'none'"
            );
        }
        // The console keeps its own policy, which lets its own script run.
        assert!(header(&answers[4], "content-security-policy").contains("script-src"));
    }

    async fn oversized_headers_and_uris_are_refused_with_the_error_body(server) {
        let key = server.admin.create_api_key(&key_entity("k", "", None)).await.unwrap();
        let big = "x".repeat(17 * 1024);
        let raw = reqwest::Client::new()
            .get(format!("{}/v1/users/info", server.anonymous.base_url()))
            .header("ApiKey", &server.admin_key)
            .header("X-Padding", &big)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 431);
        assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
        let json: serde_json::Value = raw.json().await.unwrap();
        assert_eq!(json["code"], "RequestHeaderFieldsTooLarge");

        let long_query = format!("/v1/apiKeys/{}?pad={}", key.uid, "y".repeat(9 * 1024));
        let raw = server.admin.raw(Method::DELETE, &long_query, None).await.unwrap();
        assert_error_body(&raw, 414, "UriTooLong");
        // Refused before any handler: the key is still there.
        server.admin.get_api_key(&key.uid).await.unwrap();
    }
}

/// The statuses of `count` requests to `path`, one after another.
async fn statuses_of(client: &easel_client::Client, path: &str, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        statuses.push(
            client
                .raw(Method::GET, path, None)
                .await
                .unwrap()
                .status
                .as_u16(),
        );
    }
    statuses
}

on_both_stores! {
    @with start_limited;

    async fn a_burst_then_429_per_address_and_prefix(server) {
        // Starting the server asked who the admin is; a full bucket to begin with.
        server.clock.advance(chrono::Duration::seconds(10));
        for remaining in [2, 1, 0] {
            let raw = server.admin.raw(Method::GET, "/v1/users/info", None).await.unwrap();
            assert_eq!(raw.status, 200, "{}", raw.body);
            assert_eq!(header(&raw, "ratelimit-policy"), "\"ip\";q=3;w=3");
            assert!(
                header(&raw, "ratelimit").starts_with(&format!("\"ip\";r={remaining};t=")),
                "{:?}",
                raw.headers
            );
        }
        // Sub-resources count toward their parent: /v1/users/info and /v1/users are one.
        let refused = server.admin.raw(Method::GET, "/v1/users", None).await.unwrap();
        assert_error_body(&refused, 429, "TooManyRequests");
        assert_eq!(header(&refused, "retry-after"), "1");
        assert_eq!(header(&refused, "ratelimit"), "\"ip\";r=0;t=3");

        // Another prefix has its own bucket; a refused create creates nothing.
        let before = server.admin.list_api_keys(&Default::default()).await.unwrap().items.len();
        server.clock.advance(chrono::Duration::seconds(10));
        for _ in 0..3 {
            let raw = server
                .admin
                .raw(Method::POST, "/v1/apiKeys", Some(r#"{"metadata":{"name":"k"}}"#))
                .await
                .unwrap();
            assert_eq!(raw.status, 201, "{}", raw.body);
        }
        let refused = server
            .admin
            .raw(Method::POST, "/v1/apiKeys", Some(r#"{"metadata":{"name":"k"}}"#))
            .await
            .unwrap();
        assert_error_body(&refused, 429, "TooManyRequests");

        // One second gives one request back (the server's clock, moved by the test).
        server.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(statuses_of(&server.admin, "/v1/apiKeys", 2).await, [200, 429]);
        server.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(server.admin.list_api_keys(&Default::default()).await.unwrap().items.len(), before + 3);
    }

    async fn operators_switch_rate_limits_and_the_switch_is_audited(server) {
        let status = |raw: easel_client::RawResponse| (raw.status.as_u16(), raw.json());
        assert_eq!(
            status(server.admin.raw(Method::GET, "/v1/system/ratelimit", None).await.unwrap()),
            (200, serde_json::json!({"isActive": true}))
        );
        // A tenant member who is not an operator may neither read nor switch it.
        let (_, member) = server.user_with_key("member@acme.test").await;
        server.clock.advance(chrono::Duration::seconds(10));
        let raw = member.raw(Method::GET, "/v1/system/ratelimit", None).await.unwrap();
        assert_error_body(&raw, 403, "Forbidden");
        let raw = member
            .raw(Method::PATCH, "/v1/system/ratelimit", Some(r#"{"isActive":false}"#))
            .await
            .unwrap();
        assert_error_body(&raw, 403, "Forbidden");

        server.clock.advance(chrono::Duration::seconds(10));
        assert_eq!(
            status(
                server
                    .admin
                    .raw(Method::PATCH, "/v1/system/ratelimit", Some(r#"{"isActive":false}"#))
                    .await
                    .unwrap()
            ),
            (200, serde_json::json!({"isActive": false}))
        );
        for _ in 0..20 {
            assert_eq!(
                server.admin.raw(Method::GET, "/v1/users/info", None).await.unwrap().status,
                200
            );
        }
        // Palette's operation has no body: it toggles.
        assert_eq!(
            status(server.admin.raw(Method::PATCH, "/v1/system/ratelimit", None).await.unwrap()),
            (200, serde_json::json!({"isActive": true}))
        );
        let statuses = statuses_of(&server.admin, "/v1/users/info", 4).await;
        assert_eq!(statuses, [200, 200, 200, 429], "limits are on again");
        server.clock.advance(chrono::Duration::seconds(10));
        let raw = server
            .admin
            .raw(Method::PATCH, "/v1/system/ratelimit", Some(r#"{"isActive":"no"}"#))
            .await
            .unwrap();
        assert_error_body(&raw, 400, "InvalidRequest");
        let actions = server.audit_actions().await;
        assert_eq!(
            actions.iter().filter(|a| *a == "system.rateLimit").count(),
            2,
            "{actions:?}"
        );
    }
}

on_both_stores! {
    @with start_with_key_limit;

    async fn a_key_has_its_own_limit_besides_its_address(server) {
        // The admin's key has the same limit: the clock moves while it sets up.
        server.clock.advance(chrono::Duration::seconds(10));
        let (_, first) = server.user_with_key("one@acme.test").await;
        server.clock.advance(chrono::Duration::seconds(10));
        let (_, second) = server.user_with_key("two@acme.test").await;
        for _ in 0..2 {
            let raw = first.raw(Method::GET, "/v1/users/info", None).await.unwrap();
            assert_eq!(raw.status, 200);
        }
        let refused = first.raw(Method::GET, "/v1/apiKeys", None).await.unwrap();
        assert_error_body(&refused, 429, "TooManyRequests");
        assert_eq!(header(&refused, "retry-after"), "1");
        assert_eq!(header(&refused, "ratelimit-policy"), "\"key\";q=2;w=2");
        assert!(refused.json()["message"].as_str().unwrap().contains("API key"));
        // The same address with another key is not held back.
        assert_eq!(second.raw(Method::GET, "/v1/users/info", None).await.unwrap().status, 200);
        server.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(first.raw(Method::GET, "/v1/users/info", None).await.unwrap().status, 200);
    }
}

on_both_stores! {
    @with start_behind_proxy;

    async fn behind_a_trusted_proxy_each_client_has_its_own_bucket(server) {
        // The test's requests come from 127.0.0.1, configured as a trusted proxy.
        let from = |client: &'static str| forwarded_ping(&server, "127.0.0.1", client);
        assert_eq!([from("198.51.100.1").await, from("198.51.100.1").await], [200, 200]);
        assert_eq!(from("198.51.100.1").await, 429);
        assert_eq!(from("198.51.100.2").await, 200, "another client behind the proxy");
        // A client cannot escape its bucket by adding its own header in front: the proxy
        // appends the address it saw, and that is the one counted.
        assert_eq!(from("203.0.113.7, 198.51.100.1").await, 429);
    }
}

on_both_stores! {
    @with start_one_at_a_time;

    async fn past_the_requests_in_flight_answers_503_with_retry_after(server) {
        use tokio::io::AsyncWriteExt;
        // A request whose body never finishes holds the one place.
        let address = server.anonymous.base_url().trim_start_matches("http://").to_owned();
        let head = format!(
            "POST /v1/apiKeys HTTP/1.1\r\nHost: {address}\r\nApiKey: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
            server.admin_key
        );
        let stall = || async {
            let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
            stalled.write_all(head.as_bytes()).await.unwrap();
            stalled
        };
        let mut stalled = stall().await;
        // The stalled request is being served once others are turned away.
        let mut refused = None;
        for _ in 0..200 {
            let raw = server.admin.raw(Method::GET, "/v1/users/info", None).await.unwrap();
            if raw.status == 503 {
                refused = Some(raw);
                break;
            }
            // If the stalled request arrived while a probe held the place, it was itself
            // turned away (an answer is waiting on its connection): stall another one.
            if stalled.try_read(&mut [0u8; 512]).is_ok() {
                stalled = stall().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let refused = refused.expect("a second request is refused while the first is served");
        assert_error_body(&refused, 503, "ServiceUnavailable");
        assert_eq!(header(&refused, "retry-after"), "1");
        drop(stalled);
        let admin = &server.admin;
        let served = eventually(200, std::time::Duration::from_millis(10), || async move {
            admin.raw(Method::GET, "/v1/users/info", None).await.unwrap().status == 200
        })
        .await;
        assert!(served, "the place is given back when the stalled client goes");
    }
}

on_both_stores! {
    @with start_with_short_timeout;

    async fn a_request_still_waiting_at_the_timeout_answers_503(server) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A body that never finishes: the handler waits for it until the timeout.
        let address = server.anonymous.base_url().trim_start_matches("http://").to_owned();
        let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /v1/apiKeys HTTP/1.1\r\nHost: {address}\r\nApiKey: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
            server.admin_key
        );
        stalled.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&answer).contains("\"ref\"") {
                let n = stalled.read(&mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..n]);
            }
        })
        .await;
        assert!(read.is_ok(), "no answer to the stalled request");
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(answer.starts_with("http/1.1 503"), "{answer}");
        assert!(answer.contains("retry-after: 1\r\n"), "{answer}");
        assert!(answer.contains("\"code\":\"serviceunavailable\""), "{answer}");
        // Nothing was created, and the server goes on answering.
        let keys = server.admin.list_api_keys(&Default::default()).await.unwrap();
        assert_eq!(keys.items.len(), 1, "only the bootstrap key");
        let raw = server.admin.raw(Method::GET, "/v1/users/info", None).await.unwrap();
        assert_eq!(raw.status, 200);
    }
}

on_both_stores! {
    @with start_behind_proxy_at_127_0_0_2;

    async fn the_peer_address_decides_whether_a_forwarded_address_is_believed(server) {
        // Two peers on loopback: 127.0.0.2 is the trusted proxy, 127.0.0.1 is not. Each
        // connection's service must know its own peer for the two to be told apart.
        let from = |peer: &'static str, client: &'static str| forwarded_ping(&server, peer, client);
        let proxy = "127.0.0.2";
        assert_eq!([from(proxy, "198.51.100.1").await, from(proxy, "198.51.100.1").await], [200, 200]);
        assert_eq!(from(proxy, "198.51.100.1").await, 429);
        assert_eq!(from(proxy, "198.51.100.2").await, 200, "each client behind the proxy");
        // Not the proxy: its forwarded addresses are ignored, and it has one bucket.
        let direct = "127.0.0.1";
        assert_eq!([from(direct, "198.51.100.3").await, from(direct, "198.51.100.4").await], [200, 200]);
        assert_eq!(from(direct, "198.51.100.5").await, 429, "one bucket, whatever it claims");
    }
}
