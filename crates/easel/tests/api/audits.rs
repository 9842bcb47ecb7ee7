//! The audit log over the API: Palette's list with its filters and paging, single rows,
//! the CSV export, retention, failed sign-ins and refused requests.

use reqwest::Method;

use crate::harness::*;

async fn list(client: &easel_client::Client, query: &str) -> serde_json::Value {
    let raw = client
        .raw(Method::GET, &format!("/v1/audits{query}"), None)
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{query}: {}", raw.body);
    raw.json()
}

fn actions(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["spec"]["actionMsg"].as_str().unwrap().to_owned())
        .collect()
}

async fn start_keeping_a_week(backend: Backend) -> TestServer {
    start_configured(backend, |options| {
        options.easel.audit_retention = Some(chrono::Duration::days(7));
    })
    .await
}

on_both_stores! {
    async fn changes_are_listed_newest_first_and_filtered(server) {
        server.clock.advance(chrono::Duration::seconds(2));
        let key = server.admin.create_api_key(&key_entity("audited", "", None)).await.unwrap();
        server.clock.advance(chrono::Duration::seconds(2));
        let raw = server
            .admin
            .raw(Method::PATCH, &format!("/v1/apiKeys/{}", key.uid), Some(r#"{"isActive":false}"#))
            .await
            .unwrap();
        assert_eq!(raw.status, 204, "{}", raw.body);
        server.clock.advance(chrono::Duration::seconds(2));
        server.admin.delete_api_key(&key.uid).await.unwrap();
        server.clock.advance(chrono::Duration::seconds(2));
        let user = server.create_user("audited@acme.test", &[]).await;

        let all = list(&server.admin, "").await;
        let listed = actions(&all);
        assert_eq!(
            &listed[..4],
            ["user.create", "apiKey.delete", "apiKey.revoke", "apiKey.create"],
            "newest first: {listed:?}"
        );
        assert_eq!(all["listmeta"]["count"].as_i64().unwrap() as usize, listed.len());
        let newest = &all["items"][0];
        assert_eq!(newest["spec"]["actionType"], "create");
        assert_eq!(newest["spec"]["resource"], serde_json::json!({"kind": "user", "uid": user}));
        assert_eq!(newest["spec"]["actor"]["actorType"], "user");
        assert_eq!(newest["spec"]["actor"]["user"]["uid"], server.admin_info.user_uid.as_str());
        assert_eq!(newest["spec"]["actor"]["user"]["emailId"], ADMIN_EMAIL);

        // One resource's history.
        let of_key = list(&server.admin, &format!("?resourceKind=apiKey&resourceUid={}", key.uid)).await;
        assert_eq!(actions(&of_key), ["apiKey.delete", "apiKey.revoke", "apiKey.create"]);
        // By action type, by actor, by time.
        assert_eq!(actions(&list(&server.admin, "?actionType=delete").await), ["apiKey.delete"]);
        let start = (test_epoch() + chrono::Duration::seconds(5)).to_rfc3339();
        let end = (test_epoch() + chrono::Duration::seconds(7)).to_rfc3339();
        let window = list(&server.admin, &format!("?startTime={}&endTime={}",
            urlencode(&start), urlencode(&end))).await;
        assert_eq!(actions(&window), ["apiKey.delete"]);
        let nobody = list(&server.admin, &format!("?userUid={user}")).await;
        assert!(actions(&nobody).is_empty(), "the new user did nothing");
        assert_eq!(nobody["listmeta"]["count"], 0);

        // One row.
        let uid = newest["metadata"]["uid"].as_str().unwrap();
        let one = server.admin.raw(Method::GET, &format!("/v1/audits/{uid}"), None).await.unwrap();
        assert_eq!(one.status, 200);
        assert_eq!(&one.json(), newest);

        // Bad filters are a 400 with the error body, never a 500.
        for bad in ["?actionType=explode", "?startTime=yesterday", "?userUid=nope",
            "?startTime=2031-01-01T00:00:00Z&endTime=2030-01-01T00:00:00Z"] {
            let raw = server.admin.raw(Method::GET, &format!("/v1/audits{bad}"), None).await.unwrap();
            assert_eq!(raw.status, 400, "{bad}: {}", raw.body);
            assert_eq!(raw.json()["code"], "InvalidRequest");
        }
    }

    async fn pages_follow_continue_tokens_of_their_own_filter(server) {
        for i in 0..7 {
            server.admin.create_api_key(&key_entity(&format!("k{i}"), "", None)).await.unwrap();
            server.clock.advance(chrono::Duration::seconds(1));
        }
        let all = actions(&list(&server.admin, "?actionType=create").await);
        let mut seen = Vec::new();
        let mut query = "?actionType=create&limit=3".to_owned();
        loop {
            let page = list(&server.admin, &query).await;
            assert!(page["items"].as_array().unwrap().len() <= 3);
            seen.extend(page["items"].as_array().unwrap().iter().map(|a| a["metadata"]["uid"].clone()));
            let token = page["listmeta"]["continue"].as_str().unwrap().to_owned();
            if token.is_empty() {
                break;
            }
            // A token is refused by another filter.
            let raw = server
                .admin
                .raw(Method::GET, &format!("/v1/audits?actionType=delete&continue={token}"), None)
                .await
                .unwrap();
            assert_eq!(raw.status, 400);
            query = format!("?actionType=create&limit=3&continue={token}");
        }
        assert_eq!(seen.len(), all.len());
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no row twice");
    }

    async fn tenants_see_only_their_own_log(server) {
        let other = server.other_tenant("globex").await;
        let theirs = list(&other, "").await;
        server.clock.advance(chrono::Duration::seconds(1));
        let our_key = server.admin.create_api_key(&key_entity("ours", "", None)).await.unwrap();
        let ours = list(&server.admin, "").await;
        let their_uids: Vec<_> = theirs["items"].as_array().unwrap().iter().map(|a| a["metadata"]["uid"].clone()).collect();
        for row in ours["items"].as_array().unwrap() {
            assert!(!their_uids.contains(&row["metadata"]["uid"]));
        }
        let our_row = ours["items"][0]["metadata"]["uid"].as_str().unwrap();
        assert_eq!(ours["items"][0]["spec"]["resource"]["uid"], our_key.uid.as_str());
        let raw = other.raw(Method::GET, &format!("/v1/audits/{our_row}"), None).await.unwrap();
        assert_eq!(raw.status, 404);
        assert_eq!(raw.json()["code"], "ResourceNotFound");
        // Naming our tenant takes an operator.
        let raw = other
            .raw(Method::GET, &format!("/v1/audits?tenantUid={}", server.tenant_uid()), None)
            .await
            .unwrap();
        assert_eq!(raw.status, 403);
    }

    async fn failed_sign_ins_and_refused_requests_are_recorded(server) {
        let (member_uid, member) = server.user_with_key("member@acme.test").await;
        assert_error(server.anonymous.sign_in(ADMIN_EMAIL, "acme", "wrong password").await, 401, "InvalidCredentials");
        let raw = member.raw(Method::GET, "/v1/users", None).await.unwrap();
        assert_eq!(raw.status, 403);
        // Refusals are queued; the harness waits for the queue.
        server.audit_actions().await;
        let mut activity = Vec::new();
        for _ in 0..100 {
            activity = list(&server.admin, "?actionType=activity").await["items"].as_array().unwrap().clone();
            if activity.iter().any(|a| a["spec"]["actionMsg"] == "access.refused") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            server.audit_actions().await;
        }
        let failed = activity
            .iter()
            .find(|a| a["spec"]["actionMsg"] == "session.signInFailed")
            .expect("the failed sign-in is in the log");
        assert_eq!(failed["spec"]["resource"]["uid"], server.admin_info.user_uid.as_str());
        assert!(!failed.to_string().contains("wrong password\""), "the attempt itself is never stored");
        let refused = activity
            .iter()
            .find(|a| a["spec"]["actionMsg"] == "access.refused")
            .expect("the refused request is in the log");
        assert_eq!(refused["spec"]["actor"]["user"]["uid"], member_uid.as_str());
        let note = refused["spec"]["contentMsg"].as_str().unwrap();
        assert!(note.starts_with("GET /v1/users: "), "{note}");
        assert!(note.contains("user.list"), "{note}");
    }

    async fn the_export_is_csv_of_every_selected_row(server) {
        for i in 0..3 {
            server.admin.create_api_key(&key_entity(&format!("k{i}"), "", None)).await.unwrap();
        }
        let listed = list(&server.admin, "?resourceKind=apiKey").await;
        let raw = server.admin.raw(Method::GET, "/v1/audits/export?resourceKind=apiKey", None).await.unwrap();
        assert_eq!(raw.status, 200);
        assert_eq!(raw.headers["content-type"], "text/csv; charset=utf-8");
        let lines: Vec<&str> = raw.body.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines[0].starts_with("uid,time,tenantUid,actorUid,actorEmail,action,actionType"));
        assert_eq!(lines.len() - 1, listed["items"].as_array().unwrap().len());
        for (line, row) in lines[1..].iter().zip(listed["items"].as_array().unwrap()) {
            assert!(line.starts_with(row["metadata"]["uid"].as_str().unwrap()), "{line}");
            assert!(line.contains(",apiKey.create,create,apiKey,"), "{line}");
        }
        let raw = server.admin.raw(Method::GET, "/v1/audits/export?actionType=nope", None).await.unwrap();
        assert_eq!(raw.status, 400);
    }
}

on_both_stores! {
    @with start_keeping_a_week;

    async fn rows_past_their_retention_are_swept(server) {
        server.admin.create_api_key(&key_entity("old", "", None)).await.unwrap();
        server.clock.advance(chrono::Duration::days(6));
        server.admin.create_api_key(&key_entity("new", "", None)).await.unwrap();
        let before = server.audit_actions().await.len();
        assert_eq!(server.easel.sweep_audits().await.unwrap(), 0, "nothing is a week old yet");
        server.clock.advance(chrono::Duration::days(2));
        let swept = server.easel.sweep_audits().await.unwrap();
        assert!(swept >= 2, "the bootstrap rows and the first key's: {swept}");
        let after = list(&server.admin, "?resourceKind=apiKey").await;
        let names: Vec<_> = after["items"].as_array().unwrap().iter().map(|a| a["spec"]["actionMsg"].clone()).collect();
        assert_eq!(names.len(), 1, "only the newer key's row is left: {names:?}");
        assert_eq!(server.audit_actions().await.len() as u64, before as u64 - swept);
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
