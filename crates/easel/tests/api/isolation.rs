//! Two tenants in one database: neither sees, changes or learns about the other's objects.

use easel_proto as proto;

use crate::harness::*;

on_both_stores! {
    async fn a_tenant_admin_gets_404_for_another_tenants_keys_and_users(server) {
        let (alice_uid, _) = server.user_with_key("alice@acme.test").await;
        let alices = server.admin_create_key_for(&alice_uid, "alice's").await;
        let before = server.admin.get_api_key(&alices.uid).await.unwrap();

        let other = server.other_tenant("globex").await;
        assert_eq!(other.user_info().await.unwrap().org_name, "globex");

        assert_error(other.get_api_key(&alices.uid).await, 404, "ResourceNotFound");
        let mut rename = proto::ApiKeyUpdate::default();
        rename.metadata.name = Some("hijacked".into());
        assert_error(other.update_api_key(&alices.uid, &rename).await, 404, "ResourceNotFound");
        assert_error(other.set_api_key_active(&alices.uid, false).await, 404, "ResourceNotFound");
        assert_error(other.patch_api_key_active(&alices.uid, false).await, 404, "ResourceNotFound");
        assert_error(other.delete_api_key(&alices.uid).await, 404, "ResourceNotFound");
        assert_error(other.get_user(&alice_uid).await, 404, "ResourceNotFound");
        assert_error(other.delete_user(&alice_uid).await, 404, "ResourceNotFound");
        assert_error(other.set_user_active(&alice_uid, false).await, 404, "ResourceNotFound");
        // Creating a key for another tenant's user is the same as for no user at all.
        assert_error(
            other.create_api_key(&key_entity("x", &alice_uid, None)).await,
            404,
            "ResourceNotFound",
        );
        // Filtering by another tenant's user finds nothing.
        let filtered = other
            .list_api_keys(&proto::ApiKeyListQuery {
                user_uid: Some(alice_uid.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(filtered.items.is_empty());
        // Lists hold only the tenant's own.
        let keys = other.list_api_keys(&Default::default()).await.unwrap();
        assert_eq!(keys.items.len(), 1);
        let users = other.list_users(&Default::default()).await.unwrap();
        assert_eq!(users.items.len(), 1);
        assert_eq!(users.items[0].spec.email_id, "admin@globex.test");
        // And another tenant's settings are not there either.
        let acme = server.tenant_uid().to_owned();
        assert_error(other.api_key_settings(&acme).await, 404, "ResourceNotFound");
        assert_error(
            other
                .set_api_key_settings(&acme, &proto::ApiKeySettings { max_lifetime_days: 1 })
                .await,
            404,
            "ResourceNotFound",
        );

        assert_eq!(server.admin.get_api_key(&alices.uid).await.unwrap(), before);
        assert!(server.admin.get_user(&alice_uid).await.unwrap().status.is_active);
        assert_eq!(server.admin.api_key_settings(&acme).await.unwrap().max_lifetime_days, 366);
    }

    async fn the_same_email_may_exist_in_two_tenants(server) {
        server.create_user("shared@example.test", &[]).await;
        let other = server.other_tenant("globex").await;
        other
            .create_user(&user_entity("shared@example.test", "S", "Hared", &[]))
            .await
            .unwrap();
    }
}

on_both_stores! {
    async fn two_tenants_with_objects_of_the_same_names_never_meet(server) {
        // Seed both tenants alike: a user of the same email, keys of the same name.
        let other = server.other_tenant("globex").await;
        let other_info = other.user_info().await.unwrap();
        let acme_user = server.create_user("same@example.test", &[]).await;
        let globex_user = other
            .create_user(&user_entity("same@example.test", "Test", "User", &[]))
            .await
            .unwrap()
            .uid;
        let acme_key = server.admin_create_key_for(&acme_user, "same name").await;
        let globex_key = other
            .create_api_key(&key_entity("same name", &globex_user, None))
            .await
            .unwrap();
        let acme_tenant = server.tenant_uid().to_owned();

        // Every tenant-scoped endpoint, called by globex's admin on acme's objects: 404, and
        // nothing of acme's in any answer.
        let acme_uids = [acme_user.clone(), acme_key.uid.clone(), acme_tenant.clone()];
        let calls: Vec<(reqwest::Method, String, Option<&str>)> = vec![
            (reqwest::Method::GET, format!("/v1/users/{acme_user}"), None),
            (reqwest::Method::PUT, format!("/v1/users/{acme_user}"), Some(r#"{"spec":{"emailId":"x@y.test","firstName":"X","lastName":"Y"}}"#)),
            (reqwest::Method::PATCH, format!("/v1/users/{acme_user}"), Some(r#"[{"op":"replace","path":"/spec/firstName","value":"X"}]"#)),
            (reqwest::Method::DELETE, format!("/v1/users/{acme_user}"), None),
            (reqwest::Method::PATCH, format!("/v1/users/{acme_user}/password/change"), Some(r#"{"newPassword":"vivid otter mango glacier"}"#)),
            (reqwest::Method::PATCH, format!("/v1/users/{acme_user}/password/reset"), Some("{}")),
            (reqwest::Method::GET, format!("/v1/apiKeys/{}", acme_key.uid), None),
            (reqwest::Method::PUT, format!("/v1/apiKeys/{}", acme_key.uid), Some(r#"{"metadata":{"name":"x"}}"#)),
            (reqwest::Method::PATCH, format!("/v1/apiKeys/{}", acme_key.uid), Some(r#"{"isActive":false}"#)),
            (reqwest::Method::PUT, format!("/v1/apiKeys/{}/state", acme_key.uid), Some(r#"{"isActive":false}"#)),
            (reqwest::Method::DELETE, format!("/v1/apiKeys/{}", acme_key.uid), None),
            (reqwest::Method::GET, format!("/v1/tenants/{acme_tenant}"), None),
            (reqwest::Method::GET, format!("/v1/tenants/{acme_tenant}/apiKeySettings"), None),
            (reqwest::Method::PUT, format!("/v1/tenants/{acme_tenant}/apiKeySettings"), Some(r#"{"maxLifetimeDays":1}"#)),
            (reqwest::Method::GET, format!("/v1/tenants/{acme_tenant}/authTokenSettings"), None),
            (reqwest::Method::PUT, format!("/v1/tenants/{acme_tenant}/authTokenSettings"), Some(r#"{"expiryTimeMinutes":60}"#)),
            (reqwest::Method::GET, format!("/v1/tenants/{acme_tenant}/password/policy"), None),
            (reqwest::Method::POST, format!("/v1/tenants/{acme_tenant}/password/policy"), Some(r#"{"minLength":20}"#)),
            (reqwest::Method::GET, format!("/v1/tenants/{acme_tenant}/domains"), None),
        ];
        for (method, path, body) in &calls {
            let raw = other.raw(method.clone(), path, *body).await.unwrap();
            assert_eq!(raw.status, 404, "{method} {path}: {}", raw.body);
            assert_eq!(raw.json()["code"], "ResourceNotFound", "{method} {path}");
        }
        // Lists show only one's own, however alike the names.
        for path in ["/v1/users", "/v1/apiKeys", &format!("/v1/apiKeys?userUid={acme_user}")] {
            let raw = other.raw(reqwest::Method::GET, path, None).await.unwrap();
            assert_eq!(raw.status, 200);
            for uid in &acme_uids {
                assert!(!raw.body.contains(uid.as_str()), "{path} shows acme's {uid}");
            }
        }
        let mine = other.list_api_keys(&Default::default()).await.unwrap();
        assert!(mine.items.iter().all(|k| k.metadata.annotations["tenantUid"] == other_info.tenant_uid));

        // Nothing of acme's changed, and each audit trail holds only its own tenant's rows.
        server.anonymous.with_api_key(&acme_key.api_key).user_info().await.unwrap();
        assert_eq!(server.admin.get_user(&acme_user).await.unwrap().spec.first_name, "Test");
        assert_eq!(server.admin.api_key_settings(&acme_tenant).await.unwrap().max_lifetime_days, 366);
        assert_eq!(server.admin.token_settings(&acme_tenant).await.unwrap().expiry_time_minutes, 15);
        assert_eq!(server.admin.password_policy(&acme_tenant).await.unwrap().min_length, 8);
        let acme_audit = server
            .easel
            .store()
            .audit_entries(&easel_core::Uid::parse(&acme_tenant).unwrap(), 1000)
            .await
            .unwrap();
        assert!(acme_audit.iter().all(|e| e.tenant_uid.as_str() == acme_tenant));
        assert!(acme_audit.iter().all(|e| e.resource_uid.as_str() != globex_key.uid));
        let globex_audit = server
            .easel
            .store()
            .audit_entries(&easel_core::Uid::parse(&other_info.tenant_uid).unwrap(), 1000)
            .await
            .unwrap();
        assert!(globex_audit.iter().any(|e| e.resource_uid.as_str() == globex_key.uid));
        assert!(globex_audit.iter().all(|e| e.resource_uid.as_str() != acme_key.uid));
    }
}
