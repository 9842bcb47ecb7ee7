//! Paging: limit, continue and offset, and pages that stay right while rows come and go.

use std::collections::BTreeSet;

use easel_proto as proto;

use crate::harness::*;

fn page(limit: i64, token: Option<String>) -> proto::ListQuery {
    proto::ListQuery {
        limit: Some(limit),
        continue_token: token,
        ..Default::default()
    }
}

on_both_stores! {
    async fn bulk_seeding_writes_every_user_and_key(server) {
        // The benchmark's seeding writes in multi-row statements of 64, 8 and 1 rows: 73 users
        // and 137 keys cross every size. Every row must land whole and every key must work.
        let sample = server.easel.seed(None, 73, 137, 137).await.unwrap();
        assert_eq!(sample.len(), 137);
        let users = server.admin.list_users(&page(1, None)).await.unwrap();
        assert_eq!(users.listmeta.count, 74, "the admin and 73 seeded users");
        let keys = server.admin.list_api_keys(&proto::ApiKeyListQuery { limit: Some(50), ..Default::default() }).await.unwrap();
        assert_eq!(keys.listmeta.count, 137 + 1, "137 seeded keys and the admin's");
        for value in [&sample[0], &sample[63], &sample[64], &sample[136]] {
            let info = server.anonymous.with_api_key(value).user_info().await.unwrap();
            assert_ne!(info.user_uid, server.admin_info.user_uid, "owned by a seeded user");
        }
        let seeded = keys.items.iter().find(|k| k.metadata.name.as_deref().is_some_and(|n| n.starts_with("seed "))).unwrap();
        assert_eq!(seeded.spec.user.first_name, "Seed");
    }

    async fn users_page_through_with_continue_tokens(server) {
        for i in 0..7 {
            server.create_user(&format!("u{i}@acme.test"), &[]).await;
        }
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let list = server.admin.list_users(&page(3, token)).await.unwrap();
            pages += 1;
            assert_eq!(list.listmeta.count, 8);
            assert_eq!(list.listmeta.limit, 3);
            seen.extend(list.items.iter().map(|u| u.metadata.uid.clone()));
            assert_eq!(list.listmeta.offset, seen.len() as i64);
            if list.listmeta.continue_token.is_empty() {
                break;
            }
            token = Some(list.listmeta.continue_token);
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 8);
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 8, "no duplicates");
    }

    async fn a_page_stays_correct_while_rows_are_inserted_and_deleted(server) {
        let mut uids = Vec::new();
        for i in 0..6 {
            uids.push(server.create_user(&format!("u{i}@acme.test"), &[]).await);
        }
        let first = server.admin.list_users(&page(3, None)).await.unwrap();
        let shown: Vec<String> = first.items.iter().map(|u| u.metadata.uid.clone()).collect();
        // Between pages: delete a user already shown, and one not yet shown.
        let all_sorted: Vec<String> = {
            let mut all = uids.clone();
            all.push(server.admin_info.user_uid.clone());
            all.sort();
            all
        };
        let not_yet = all_sorted
            .iter()
            .find(|u| !shown.contains(u) && **u != server.admin_info.user_uid)
            .unwrap()
            .clone();
        let shown_user = shown.iter().find(|u| **u != server.admin_info.user_uid).unwrap();
        server.admin.delete_user(shown_user).await.unwrap();
        server.admin.delete_user(&not_yet).await.unwrap();
        let rest = server
            .admin
            .list_users(&page(50, Some(first.listmeta.continue_token)))
            .await
            .unwrap();
        let rest: Vec<String> = rest.items.iter().map(|u| u.metadata.uid.clone()).collect();
        let expected: Vec<String> = all_sorted
            .iter()
            .filter(|u| !shown.contains(u) && **u != not_yet)
            .cloned()
            .collect();
        assert_eq!(rest, expected, "nothing skipped, nothing repeated");
    }

    async fn limits_are_capped_at_fifty_and_bad_paging_is_refused(server) {
        for i in 0..52 {
            server
                .admin
                .create_api_key(&key_entity(&format!("k{i}"), "", None))
                .await
                .unwrap();
        }
        let list = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                limit: Some(500),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(list.items.len(), 50);
        assert_eq!(list.listmeta.limit, 50);
        assert_eq!(list.listmeta.count, 53);
        assert!(!list.listmeta.continue_token.is_empty());
        let rest = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                continue_token: Some(list.listmeta.continue_token.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 3);
        assert_eq!(rest.listmeta.continue_token, "");
        assert_eq!(rest.listmeta.offset, 53);
        assert_eq!(rest.listmeta.count, 53);

        // The total is reused between pages for a few seconds, but a key created or deleted
        // on this node shows in the next count at once (the test clock does not move).
        let created = server.admin.create_api_key(&key_entity("k-late", "", None)).await.unwrap();
        let count = |server: &TestServer| {
            let admin = server.admin.clone();
            async move { admin.list_api_keys(&Default::default()).await.unwrap().listmeta.count }
        };
        assert_eq!(count(&server).await, 54);
        server.admin.delete_api_key(&created.uid).await.unwrap();
        assert_eq!(count(&server).await, 53);

        // offset, for clients that page that way.
        let by_offset = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                offset: Some(50),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_offset.items, rest.items);

        for query in [
            "limit=-1",
            "offset=-3",
            "limit=ten",
            "continue=garbage",
            "continue=eyJsIjoidXNlcnMiLCJhIjoiMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwibyI6MH0.AAAA",
        ] {
            let raw = server
                .admin
                .raw(reqwest::Method::GET, &format!("/v1/apiKeys?{query}"), None)
                .await
                .unwrap();
            assert_eq!(raw.status, 400, "{query}: {}", raw.body);
            assert_eq!(raw.json()["code"], "InvalidRequest");
        }
        // An offset past the end is an empty page, not an overflow.
        let far = server
            .admin
            .raw(reqwest::Method::GET, "/v1/apiKeys?offset=9223372036854775807", None)
            .await
            .unwrap();
        assert_eq!(far.status, 200, "{}", far.body);
        assert!(far.json()["items"].as_array().unwrap().is_empty());
        // A token from one list is refused by another.
        let raw = server
            .admin
            .raw(
                reqwest::Method::GET,
                &format!("/v1/users?continue={}", list.listmeta.continue_token),
                None,
            )
            .await
            .unwrap();
        assert_eq!(raw.status, 400);
    }

    async fn an_empty_list_still_has_listmeta(server) {
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        let raw = alice
            .raw(reqwest::Method::GET, "/v1/apiKeys?userUid=", None)
            .await
            .unwrap();
        let json = raw.json();
        assert_eq!(json["items"].as_array().unwrap().len(), 1);
        assert_eq!(
            json["listmeta"],
            serde_json::json!({"continue": "", "count": 1, "limit": 50, "offset": 1})
        );
    }
}
