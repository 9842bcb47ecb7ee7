//! API keys end to end: create, read, list, edit, revoke, re-activate, delete, and who may.

use chrono::Duration;
use easel_proto as proto;

use crate::harness::*;

fn is_palette_time(s: &str) -> bool {
    // 2030-01-01T00:00:00.000Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

on_both_stores! {
    async fn a_created_key_authenticates_and_reads_back_without_its_value(server) {
        let mut entity = key_entity("ci", "", Some(test_epoch() + Duration::days(7)));
        entity
            .metadata
            .annotations
            .insert("description".into(), "for the CI runners".into());
        let created = server.admin.create_api_key(&entity).await.unwrap();
        assert!(created.api_key.starts_with("easel_"));
        assert_eq!(created.uid.len(), 24);
        assert!(created.uid.bytes().all(|b| b.is_ascii_hexdigit()));

        let as_new = server.anonymous.with_api_key(&created.api_key);
        assert_eq!(as_new.user_info().await.unwrap(), server.admin_info);

        let raw = server
            .admin
            .raw(reqwest::Method::GET, &format!("/v1/apiKeys/{}", created.uid), None)
            .await
            .unwrap();
        assert_eq!(raw.status, 200);
        assert!(!raw.body.contains(&created.api_key), "a read must never return the key");
        let json = raw.json();
        assert_eq!(json["metadata"]["name"], "ci");
        assert_eq!(json["metadata"]["annotations"]["description"], "for the CI runners");
        assert_eq!(json["spec"]["user"]["uid"], server.admin_info.user_uid.as_str());
        assert_eq!(json["spec"]["user"]["firstName"], "Easel");
        assert_eq!(json["spec"]["expiry"], "2030-01-08T00:00:00.000Z");
        assert_eq!(json["status"]["isActive"], true);
        assert_eq!(json["status"]["state"], "active");
        assert!(is_palette_time(json["metadata"]["creationTimestamp"].as_str().unwrap()));
        assert!(is_palette_time(json["metadata"]["lastModifiedTimestamp"].as_str().unwrap()));
        assert_eq!(json["metadata"]["deletionTimestamp"], "0001-01-01T00:00:00.000Z");
        assert!(json["spec"].get("key").is_none());
        let hint = json["spec"]["hint"].as_str().unwrap();
        assert!(created.api_key.ends_with(&hint[hint.len() - 4..]));
    }

    async fn a_key_without_expiry_gets_thirty_days(server) {
        let created = server
            .admin
            .create_api_key(&key_entity("default expiry", "", None))
            .await
            .unwrap();
        let key = server.admin.get_api_key(&created.uid).await.unwrap();
        assert_eq!(key.spec.expiry, Some(test_epoch() + Duration::days(30)));
    }

    async fn a_tenant_admin_creates_keys_for_another_user_and_lists_everyone(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        let (bob, _) = server.user_with_key("bob@acme.test").await;
        server.admin_create_key_for(&alice, "second for alice").await;

        let all = server.admin.list_api_keys(&Default::default()).await.unwrap();
        assert_eq!(all.items.len(), 4, "bootstrap key, two of alice's, one of bob's");
        assert_eq!(all.listmeta.count, 4);

        let only_alice = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                user_uid: Some(alice.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(only_alice.items.len(), 2);
        assert!(only_alice.items.iter().all(|k| k.spec.user.uid == alice));

        // Alice sees her own keys only, with or without the filter.
        let mine = alice_client.list_api_keys(&Default::default()).await.unwrap();
        assert_eq!(mine.items.len(), 2);
        assert!(mine.items.iter().all(|k| k.spec.user.uid == alice));
        assert_error(
            alice_client
                .list_api_keys(&proto::ApiKeyListQuery {
                    user_uid: Some(bob),
                    ..Default::default()
                })
                .await,
            403,
            "Forbidden",
        );
    }

    async fn a_plain_user_creates_keys_for_themselves_but_not_for_others(server) {
        let (alice, alice_client) = server.user_with_key("alice@acme.test").await;
        let created = alice_client
            .create_api_key(&key_entity("mine", "", None))
            .await
            .unwrap();
        let key = alice_client.get_api_key(&created.uid).await.unwrap();
        assert_eq!(key.spec.user.uid, alice);
        assert_error(
            alice_client
                .create_api_key(&key_entity("for the admin", &server.admin_info.user_uid, None))
                .await,
            403,
            "Forbidden",
        );
    }

    async fn editing_changes_name_description_and_expiry_but_never_the_owner(server) {
        let (alice, _) = server.user_with_key("alice@acme.test").await;
        let created = server.admin_create_key_for(&alice, "old name").await;
        let body = serde_json::json!({
            "metadata": {"name": "new name", "uid": "", "annotations": {"description": "now described"}},
            "spec": {"expiry": "2030-02-01T12:00:00.000Z", "userUid": server.admin_info.user_uid}
        });
        let raw = server
            .admin
            .raw(reqwest::Method::PUT, &format!("/v1/apiKeys/{}", created.uid), Some(&body.to_string()))
            .await
            .unwrap();
        assert_eq!(raw.status, 204, "{}", raw.body);
        let key = server.admin.get_api_key(&created.uid).await.unwrap();
        assert_eq!(key.metadata.name.as_deref(), Some("new name"));
        assert_eq!(key.metadata.annotations["description"], "now described");
        assert_eq!(key.spec.expiry.unwrap().to_rfc3339(), "2030-02-01T12:00:00+00:00");
        assert_eq!(key.spec.user.uid, alice, "the owner cannot change");
        assert!(key.metadata.last_modified_timestamp >= key.metadata.creation_timestamp);

        // Fields left out stay as they are.
        let mut only_name = proto::ApiKeyUpdate::default();
        only_name.metadata.name = Some("newer".into());
        server.admin.update_api_key(&created.uid, &only_name).await.unwrap();
        let key = server.admin.get_api_key(&created.uid).await.unwrap();
        assert_eq!(key.metadata.name.as_deref(), Some("newer"));
        assert_eq!(key.metadata.annotations["description"], "now described");
        assert_eq!(key.spec.expiry.unwrap().to_rfc3339(), "2030-02-01T12:00:00+00:00");
    }

    async fn expiry_must_be_in_the_future_and_within_the_tenants_maximum(server) {
        let past = key_entity("past", "", Some(test_epoch() - Duration::minutes(1)));
        assert_error(server.admin.create_api_key(&past).await, 400, "InvalidRequest");
        let now = key_entity("now", "", Some(test_epoch()));
        assert_error(server.admin.create_api_key(&now).await, 400, "InvalidRequest");
        let too_far = key_entity("far", "", Some(test_epoch() + Duration::days(367)));
        assert_error(server.admin.create_api_key(&too_far).await, 400, "InvalidRequest");
        let max = key_entity("max", "", Some(test_epoch() + Duration::days(366)));
        server.admin.create_api_key(&max).await.unwrap();

        // The tenant lowers its maximum: 30 days is now too long, for new keys and edits.
        let tenant = server.tenant_uid().to_owned();
        server
            .admin
            .set_api_key_settings(&tenant, &proto::ApiKeySettings { max_lifetime_days: 10 })
            .await
            .unwrap();
        assert_eq!(server.admin.api_key_settings(&tenant).await.unwrap().max_lifetime_days, 10);
        let month = key_entity("month", "", Some(test_epoch() + Duration::days(30)));
        assert_error(server.admin.create_api_key(&month).await, 400, "InvalidRequest");
        let week = server
            .admin
            .create_api_key(&key_entity("week", "", Some(test_epoch() + Duration::days(7))))
            .await
            .unwrap();
        let mut longer = proto::ApiKeyUpdate::default();
        longer.spec.expiry = Some(test_epoch() + Duration::days(20));
        assert_error(server.admin.update_api_key(&week.uid, &longer).await, 400, "InvalidRequest");
        // A key created without an expiry gets the shorter of 30 days and the maximum.
        let default = server
            .admin
            .create_api_key(&key_entity("default", "", None))
            .await
            .unwrap();
        let key = server.admin.get_api_key(&default.uid).await.unwrap();
        assert_eq!(key.spec.expiry, Some(test_epoch() + Duration::days(10)));
        assert_error(
            server
                .admin
                .set_api_key_settings(&tenant, &proto::ApiKeySettings { max_lifetime_days: 0 })
                .await,
            400,
            "InvalidRequest",
        );
    }

    async fn a_revoked_key_is_refused_at_once_and_works_again_when_reactivated(server) {
        let (alice, _) = server.user_with_key("alice@acme.test").await;
        let created = server.admin_create_key_for(&alice, "to revoke").await;
        let holder = server.anonymous.with_api_key(&created.api_key);
        holder.user_info().await.unwrap();

        server.admin.set_api_key_active(&created.uid, false).await.unwrap();
        assert_error(holder.user_info().await, 401, "ApiKeyRevoked");
        let key = server.admin.get_api_key(&created.uid).await.unwrap();
        assert!(!key.status.is_active);
        assert_eq!(key.status.state, "inactive");

        server.admin.set_api_key_active(&created.uid, true).await.unwrap();
        holder.user_info().await.unwrap();

        // PATCH /v1/apiKeys/{uid} is the same action.
        server.admin.patch_api_key_active(&created.uid, false).await.unwrap();
        assert_error(holder.user_info().await, 401, "ApiKeyRevoked");
        server.admin.patch_api_key_active(&created.uid, true).await.unwrap();
        holder.user_info().await.unwrap();

        // A holder can revoke their own key with it; the very next request is refused.
        holder.set_api_key_active(&created.uid, false).await.unwrap();
        assert_error(holder.user_info().await, 401, "ApiKeyRevoked");
    }

    async fn an_expired_key_is_refused_and_cannot_be_reactivated_or_extended(server) {
        let created = server
            .admin
            .create_api_key(&key_entity("short", "", Some(test_epoch() + Duration::days(7))))
            .await
            .unwrap();
        let holder = server.anonymous.with_api_key(&created.api_key);
        server.clock.advance(Duration::days(7) - Duration::milliseconds(1));
        holder.user_info().await.unwrap();
        server.clock.advance(Duration::milliseconds(1));
        assert_error(holder.user_info().await, 401, "ApiKeyExpired");

        let key = server.admin.get_api_key(&created.uid).await.unwrap();
        assert_eq!(key.status.state, "expired");
        assert_error(server.admin.set_api_key_active(&created.uid, true).await, 409, "ApiKeyExpired");
        let mut extend = proto::ApiKeyUpdate::default();
        extend.spec.expiry = Some(server.clock_now() + Duration::days(7));
        assert_error(server.admin.update_api_key(&created.uid, &extend).await, 409, "ApiKeyExpired");
        // A revoked key that then expires cannot come back either.
        server.admin.set_api_key_active(&created.uid, false).await.unwrap();
        assert_error(server.admin.set_api_key_active(&created.uid, true).await, 409, "ApiKeyExpired");
        assert_error(holder.user_info().await, 401, "ApiKeyRevoked");
    }

    async fn a_deleted_key_is_refused_and_gone(server) {
        let created = server.admin.create_api_key(&key_entity("gone", "", None)).await.unwrap();
        let holder = server.anonymous.with_api_key(&created.api_key);
        holder.user_info().await.unwrap();
        server.admin.delete_api_key(&created.uid).await.unwrap();
        assert_error(holder.user_info().await, 401, "ApiKeyInvalid");
        assert_error(server.admin.get_api_key(&created.uid).await, 404, "ResourceNotFound");
        assert_error(server.admin.delete_api_key(&created.uid).await, 404, "ResourceNotFound");
    }

    async fn a_user_cannot_touch_another_users_key(server) {
        let (bob, _) = server.user_with_key("bob@acme.test").await;
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        let bobs = server.admin_create_key_for(&bob, "bob's").await;
        let before = server.admin.get_api_key(&bobs.uid).await.unwrap();

        assert_error(alice.get_api_key(&bobs.uid).await, 403, "Forbidden");
        let mut rename = proto::ApiKeyUpdate::default();
        rename.metadata.name = Some("stolen".into());
        assert_error(alice.update_api_key(&bobs.uid, &rename).await, 403, "Forbidden");
        assert_error(alice.set_api_key_active(&bobs.uid, false).await, 403, "Forbidden");
        assert_error(alice.patch_api_key_active(&bobs.uid, false).await, 403, "Forbidden");
        assert_error(alice.delete_api_key(&bobs.uid).await, 403, "Forbidden");

        assert_eq!(server.admin.get_api_key(&bobs.uid).await.unwrap(), before);
        server.anonymous.with_api_key(&bobs.api_key).user_info().await.unwrap();
    }

    async fn a_tenant_admin_acting_on_another_users_key(server) {
        let (bob, _) = server.user_with_key("bob@acme.test").await;
        let bobs = server.admin_create_key_for(&bob, "bob's").await;
        let mut rename = proto::ApiKeyUpdate::default();
        rename.metadata.name = Some("renamed by the admin".into());
        server.admin.update_api_key(&bobs.uid, &rename).await.unwrap();
        server.admin.set_api_key_active(&bobs.uid, false).await.unwrap();
        server.admin.set_api_key_active(&bobs.uid, true).await.unwrap();
        let key = server.admin.get_api_key(&bobs.uid).await.unwrap();
        assert_eq!(key.metadata.name.as_deref(), Some("renamed by the admin"));
        server.admin.delete_api_key(&bobs.uid).await.unwrap();
        assert_error(server.anonymous.with_api_key(&bobs.api_key).user_info().await, 401, "ApiKeyInvalid");
    }

    async fn every_key_change_is_audited_with_its_actor(server) {
        let created = server.admin.create_api_key(&key_entity("audited", "", None)).await.unwrap();
        let mut rename = proto::ApiKeyUpdate::default();
        rename.metadata.name = Some("renamed".into());
        server.admin.update_api_key(&created.uid, &rename).await.unwrap();
        server.admin.set_api_key_active(&created.uid, false).await.unwrap();
        server.admin.set_api_key_active(&created.uid, true).await.unwrap();
        server.admin.delete_api_key(&created.uid).await.unwrap();

        let tenant = easel_core::Uid::parse(server.tenant_uid()).unwrap();
        let entries = server.easel.store().audit_entries(&tenant, 100).await.unwrap();
        let for_key: Vec<_> = entries
            .iter()
            .filter(|e| e.resource_uid.as_str() == created.uid)
            .collect();
        let mut actions: Vec<_> = for_key.iter().map(|e| e.action.as_str()).collect();
        actions.sort();
        assert_eq!(
            actions,
            ["apiKey.activate", "apiKey.create", "apiKey.delete", "apiKey.revoke", "apiKey.update"]
        );
        assert!(for_key
            .iter()
            .all(|e| e.actor_uid.as_ref().map(|u| u.as_str()) == Some(server.admin_info.user_uid.as_str())));
        assert!(for_key.iter().all(|e| e.resource_kind == "apiKey"));
    }

    async fn keys_authenticate_by_header_in_any_case_and_by_query_parameter(server) {
        let http = reqwest::Client::new();
        let base = server.anonymous.base_url().to_owned();
        for header in ["ApiKey", "apikey", "APIKEY", "Apikey"] {
            let status = http
                .get(format!("{base}/v1/users/info"))
                .header(header, &server.admin_key)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "header {header}");
        }
        for param in ["ApiKey", "apikey"] {
            let status = http
                .get(format!("{base}/v1/users/info?{param}={}", server.admin_key))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "query parameter {param}");
        }
    }

    async fn each_kind_of_bad_key_gets_its_own_401(server) {
        assert_error(server.anonymous.user_info().await, 401, "AuthenticationRequired");
        assert_error(server.anonymous.with_api_key("").user_info().await, 401, "AuthenticationRequired");
        assert_error(server.anonymous.with_api_key("not-a-key").user_info().await, 401, "ApiKeyMalformed");
        // Right shape, one character changed: the checksum catches it.
        let mut tampered = server.admin_key.clone().into_bytes();
        let i = tampered.len() - 10;
        tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_error(server.anonymous.with_api_key(tampered).user_info().await, 401, "ApiKeyMalformed");
        // A well-formed key that was never issued by this deployment.
        let unknown = easel_core::apikey::KeyFormat::new("easel")
            .unwrap()
            .generate(&easel_core::OsRandom)
            .value;
        assert_error(server.anonymous.with_api_key(unknown).user_info().await, 401, "ApiKeyInvalid");
        let not_text = reqwest::Client::new()
            .get(format!("{}/v1/users/info", server.anonymous.base_url()))
            .header("ApiKey", reqwest::header::HeaderValue::from_bytes(b"easel_\xff\xfe").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(not_text.status(), 401);
        assert_eq!(not_text.json::<serde_json::Value>().await.unwrap()["code"], "ApiKeyMalformed");
        // Text, but not a key's alphabet (a tab, a letter outside ASCII): refused by the parse.
        let mut inner_tab = server.admin_key.clone();
        inner_tab.insert(10, '\t');
        let accented = server.admin_key.replacen('a', "é", 1);
        for odd in [inner_tab, accented] {
            assert_error(server.anonymous.with_api_key(odd).user_info().await, 401, "ApiKeyMalformed");
        }
        let token = server.admin.authenticate().await.unwrap().authorization;
        let odd_token = format!("{}\t{}", &token[..20], &token[20..]);
        assert_error(server.anonymous.with_token(odd_token).user_info().await, 401, "TokenInvalid");
        let raw = server.anonymous.raw(reqwest::Method::GET, "/v1/apiKeys", None).await.unwrap();
        assert_eq!(raw.status, 401);
        assert_eq!(raw.headers["content-type"], "application/json");
    }
}

impl TestServer {
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use easel_core::Clock;
        self.clock.now()
    }
}
