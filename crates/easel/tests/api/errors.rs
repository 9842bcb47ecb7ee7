//! Bad input of every kind: a 4xx with Palette's error body, never a 500, nothing changed.

use reqwest::Method;

use crate::harness::*;

/// Sends `body` with `Transfer-Encoding: chunked` over a raw socket; returns the status.
async fn chunked_post(server: &TestServer, path: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server
        .anonymous
        .base_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nApiKey: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.admin_key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(8 * 1024) {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        // The server may answer and close before the whole body is sent.
        if socket.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

async fn expect_400(
    server: &TestServer,
    method: Method,
    path: &str,
    body: &str,
) -> serde_json::Value {
    let raw = server
        .admin
        .raw(method.clone(), path, Some(body))
        .await
        .unwrap();
    assert_eq!(raw.status, 400, "{method} {path} {body}: {}", raw.body);
    let json = raw.json();
    assert_eq!(json["code"], "InvalidRequest");
    assert_eq!(json["ref"], raw.headers["x-request-id"].to_str().unwrap());
    json
}

on_both_stores! {
    async fn malformed_bodies_get_400_with_the_error_body(server) {
        let key = server.admin.create_api_key(&key_entity("k", "", None)).await.unwrap();
        let before = server.admin.get_api_key(&key.uid).await.unwrap();
        let key_path = format!("/v1/apiKeys/{}", key.uid);
        for body in ["{", "[1,2", "not json", "{}{}", "", "null", "[]", "\"string\""] {
            expect_400(&server, Method::POST, "/v1/apiKeys", body).await;
            expect_400(&server, Method::PUT, &key_path, body).await;
        }
        // Wrong types name the field and never echo the value.
        let json = expect_400(
            &server,
            Method::POST,
            "/v1/apiKeys",
            r#"{"metadata":{"name":"x"},"spec":{"expiry":"sekrit-value"}}"#,
        )
        .await;
        let message = json["message"].as_str().unwrap();
        assert!(message.contains("spec.expiry"), "{message}");
        assert!(!message.contains("sekrit"), "{message}");
        let json = expect_400(&server, Method::PUT, &format!("{key_path}/state"), r#"{"isActive":"sekrit"}"#).await;
        assert!(!json["message"].as_str().unwrap().contains("sekrit"));
        expect_400(&server, Method::POST, "/v1/apiKeys", r#"{"metadata":{"name":42}}"#).await;
        // Deeply nested JSON is refused, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        expect_400(&server, Method::POST, "/v1/apiKeys", &deep).await;
        // Invalid UTF-8.
        let raw = reqwest::Client::new()
            .post(format!("{}/v1/apiKeys", server.anonymous.base_url()))
            .header("ApiKey", &server.admin_key)
            .header("Content-Type", "application/json")
            .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 400);
        assert_eq!(server.admin.get_api_key(&key.uid).await.unwrap(), before);
    }

    async fn names_must_be_present_and_at_most_256_characters(server) {
        for body in [
            r#"{"metadata":{"name":""}}"#,
            r#"{"metadata":{"name":"   "}}"#,
            r#"{"metadata":{}}"#,
            r#"{}"#,
        ] {
            expect_400(&server, Method::POST, "/v1/apiKeys", body).await;
        }
        let long = serde_json::json!({"metadata": {"name": "n".repeat(257)}}).to_string();
        expect_400(&server, Method::POST, "/v1/apiKeys", &long).await;
        let ok = serde_json::json!({"metadata": {"name": "n".repeat(256)}}).to_string();
        let raw = server.admin.raw(Method::POST, "/v1/apiKeys", Some(&ok)).await.unwrap();
        assert_eq!(raw.status, 201);
        let uid = raw.json()["uid"].as_str().unwrap().to_owned();
        expect_400(&server, Method::PUT, &format!("/v1/apiKeys/{uid}"), &long).await;
        expect_400(&server, Method::PUT, &format!("/v1/apiKeys/{uid}"), r#"{"metadata":{"name":""}}"#).await;
        let desc = serde_json::json!({"metadata": {"name": "d", "annotations": {"description": "d".repeat(1025)}}});
        expect_400(&server, Method::POST, "/v1/apiKeys", &desc.to_string()).await;
    }

    async fn unknown_and_malformed_uids_are_404(server) {
        for uid in ["000000000000000000000000", "nope", "66E844C44BAB2337F20C7471", "..%2F..%2Fetc"] {
            for (method, path) in [
                (Method::GET, format!("/v1/apiKeys/{uid}")),
                (Method::DELETE, format!("/v1/apiKeys/{uid}")),
                (Method::GET, format!("/v1/users/{uid}")),
                (Method::DELETE, format!("/v1/users/{uid}")),
            ] {
                let raw = server.admin.raw(method.clone(), &path, None).await.unwrap();
                assert_eq!(raw.status, 404, "{method} {path}");
                assert_eq!(raw.json()["code"], "ResourceNotFound");
            }
            let raw = server
                .admin
                .raw(Method::PUT, &format!("/v1/apiKeys/{uid}/state"), Some(r#"{"isActive":false}"#))
                .await
                .unwrap();
            assert_eq!(raw.status, 404);
        }
    }

    async fn what_go_clients_send_is_accepted(server) {
        // Zero times, null arrays and maps, client-sent uid, a missing isActive.
        let body = r#"{
            "metadata": {"name": "from go", "uid": "ffffffffffffffffffffffff", "labels": null,
                         "annotations": null, "creationTimestamp": "0001-01-01T00:00:00.000Z",
                         "deletionTimestamp": "0001-01-01T00:00:00.000Z",
                         "lastModifiedTimestamp": "0001-01-01T00:00:00.000Z"},
            "spec": {"expiry": "2030-01-15T00:00:00.000Z", "userUid": ""}
        }"#;
        let raw = server.admin.raw(Method::POST, "/v1/apiKeys", Some(body)).await.unwrap();
        assert_eq!(raw.status, 201, "{}", raw.body);
        let uid = raw.json()["uid"].as_str().unwrap().to_owned();
        assert_ne!(uid, "ffffffffffffffffffffffff", "client-sent uids are ignored");
        let key = server.admin.get_api_key(&uid).await.unwrap();
        assert!(key.metadata.creation_timestamp.is_some());

        let user = r#"{"metadata":{"name":"Go User","uid":""},
            "spec":{"emailId":"go@acme.test","firstName":"Go","lastName":"User","roles":null,"teams":null}}"#;
        let raw = server.admin.raw(Method::POST, "/v1/users", Some(user)).await.unwrap();
        assert_eq!(raw.status, 201, "{}", raw.body);

        // A zero expiry on update means "unchanged".
        let update = r#"{"metadata":{"name":"renamed"},"spec":{"expiry":"0001-01-01T00:00:00.000Z"}}"#;
        let raw = server.admin.raw(Method::PUT, &format!("/v1/apiKeys/{uid}"), Some(update)).await.unwrap();
        assert_eq!(raw.status, 204, "{}", raw.body);
        assert_eq!(server.admin.get_api_key(&uid).await.unwrap().spec.expiry, key.spec.expiry);

        // `{}` on the state endpoint reads isActive as false: the key is revoked.
        let raw = server.admin.raw(Method::PUT, &format!("/v1/apiKeys/{uid}/state"), Some("{}")).await.unwrap();
        assert_eq!(raw.status, 204);
        assert!(!server.admin.get_api_key(&uid).await.unwrap().status.is_active);
    }

    async fn framework_errors_use_the_error_body_too(server) {
        let raw = server.admin.raw(Method::GET, "/v1/nothing/here", None).await.unwrap();
        assert_eq!(raw.status, 404);
        assert_eq!(raw.json()["code"], "ResourceNotFound");
        let raw = server.admin.raw(Method::POST, "/v1/users/info", Some("{}")).await.unwrap();
        assert_eq!(raw.status, 405);
        assert_eq!(raw.json()["code"], "MethodNotAllowed");
        let huge = format!(r#"{{"metadata":{{"name":"{}"}}}}"#, "x".repeat(200_000));
        let raw = server.admin.raw(Method::POST, "/v1/apiKeys", Some(&huge)).await.unwrap();
        assert_eq!(raw.status, 413);
        assert_eq!(raw.json()["code"], "PayloadTooLarge");
        // Its body was never read, so the connection is closed rather than offered for reuse
        // (a client that reused it would see its next request cut off).
        assert_eq!(raw.headers["connection"], "close");
        // The same body sent chunked (no length announced) is cut off while it is read.
        let keys = server.admin.list_api_keys(&Default::default()).await.unwrap().items.len();
        assert_eq!(chunked_post(&server, "/v1/apiKeys", &huge).await, 413);
        assert_eq!(server.admin.list_api_keys(&Default::default()).await.unwrap().items.len(), keys);
        // A small chunked body is read as usual.
        let small = r#"{"metadata":{"name":"chunked"}}"#;
        assert_eq!(chunked_post(&server, "/v1/apiKeys", small).await, 201);
        let raw = reqwest::Client::new()
            .post(format!("{}/v1/apiKeys", server.anonymous.base_url()))
            .header("ApiKey", &server.admin_key)
            .header("Content-Type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 415);
    }

    async fn health_ping_and_ready(server) {
        assert_eq!(server.anonymous.health_ping().await.unwrap().msg, "ok");
        assert_eq!(server.anonymous.health_ready().await.unwrap().msg, "ready");
    }
}
