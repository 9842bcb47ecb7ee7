//! Users: who am I, and tenant admins managing the tenant's users.

use easel_proto as proto;

use crate::harness::*;

const TENANT_ADMIN_ROLE: &str = "000000000000000000000001";

on_both_stores! {
    async fn who_am_i(server) {
        let info = server.admin.user_info().await.unwrap();
        assert_eq!(info.org_name, TENANT);
        assert_eq!(info.tenant_uid.len(), 24);
        assert_eq!(info.user_uid.len(), 24);
    }

    async fn a_tenant_admin_creates_reads_updates_lists_and_deletes_users(server) {
        let entity = user_entity("Ann.Lee@Acme.test", "Ann", "Lee", &[]);
        let uid = server.admin.create_user(&entity).await.unwrap().uid;
        let user = server.admin.get_user(&uid).await.unwrap();
        assert_eq!(user.metadata.uid, uid);
        assert_eq!(user.metadata.name.as_deref(), Some("Ann Lee"));
        assert_eq!(user.spec.email_id, "ann.lee@acme.test", "emails are kept lower-case");
        assert_eq!(user.spec.first_name, "Ann");
        assert!(user.spec.roles.is_empty());
        assert!(user.status.is_active);

        let mut update = proto::UserUpdateEntity::default();
        update.spec.email_id = "ann@acme.test".into();
        update.spec.first_name = "Annie".into();
        update.spec.last_name = "Lee".into();
        update.spec.roles = Some(vec![TENANT_ADMIN_ROLE.into()]);
        server.admin.update_user(&uid, &update).await.unwrap();
        let user = server.admin.get_user(&uid).await.unwrap();
        assert_eq!(user.spec.email_id, "ann@acme.test");
        assert_eq!(user.spec.first_name, "Annie");
        assert_eq!(user.spec.roles, vec![TENANT_ADMIN_ROLE.to_owned()]);

        let users = server.admin.list_users(&Default::default()).await.unwrap();
        assert_eq!(users.items.len(), 2);
        assert_eq!(users.listmeta.count, 2);

        server.admin.delete_user(&uid).await.unwrap();
        assert_error(server.admin.get_user(&uid).await, 404, "ResourceNotFound");
        assert_error(server.admin.delete_user(&uid).await, 404, "ResourceNotFound");
        let actions = server.audit_actions().await;
        for action in ["user.create", "user.update", "user.delete"] {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }
    }

    async fn a_user_made_tenant_admin_by_role_name_can_manage_users(server) {
        let uid = server.create_user("second@acme.test", &["Tenant Admin"]).await;
        let key = server.admin_create_key_for(&uid, "admin two").await;
        let second = server.anonymous.with_api_key(key.api_key);
        second.create_user(&user_entity("third@acme.test", "T", "Hird", &[])).await.unwrap();
        assert_eq!(second.list_users(&Default::default()).await.unwrap().items.len(), 3);
    }

    async fn bad_user_input_is_refused_and_changes_nothing(server) {
        for (email, first, last, roles) in [
            ("not-an-email", "A", "B", vec![]),
            ("a@b.test", "", "B", vec![]),
            ("a@b.test", "A", "   ", vec![]),
            ("a@b.test", &*"x".repeat(257), "B", vec![]),
            ("a@b.test", "A", "B", vec!["no such role"]),
        ] {
            assert_error(
                server.admin.create_user(&user_entity(email, first, last, &roles)).await,
                400,
                "InvalidRequest",
            );
        }
        server.create_user("dup@acme.test", &[]).await;
        assert_error(
            server.admin.create_user(&user_entity("DUP@acme.test", "A", "B", &[])).await,
            409,
            "UserExists",
        );
        assert_eq!(server.admin.list_users(&Default::default()).await.unwrap().items.len(), 2);
    }

    async fn a_plain_user_reads_themselves_and_nothing_else(server) {
        let (alice_uid, alice) = server.user_with_key("alice@acme.test").await;
        let bob_uid = server.create_user("bob@acme.test", &[]).await;
        let me = alice.get_user(&alice_uid).await.unwrap();
        assert_eq!(me.spec.email_id, "alice@acme.test");
        assert_eq!(alice.user_info().await.unwrap().user_uid, alice_uid);

        assert_error(alice.get_user(&bob_uid).await, 403, "Forbidden");
        assert_error(alice.list_users(&Default::default()).await, 403, "Forbidden");
        assert_error(
            alice.create_user(&user_entity("eve@acme.test", "E", "Ve", &[])).await,
            403,
            "Forbidden",
        );
        let mut update = proto::UserUpdateEntity::default();
        update.spec.email_id = "bob@acme.test".into();
        update.spec.first_name = "Evil".into();
        update.spec.last_name = "Bob".into();
        assert_error(alice.update_user(&bob_uid, &update).await, 403, "Forbidden");
        // Promoting oneself is an update too.
        let mut promote = update.clone();
        promote.spec.email_id = "alice@acme.test".into();
        promote.spec.roles = Some(vec![TENANT_ADMIN_ROLE.into()]);
        assert_error(alice.update_user(&alice_uid, &promote).await, 403, "Forbidden");
        assert_error(alice.delete_user(&bob_uid).await, 403, "Forbidden");
        assert_error(alice.set_user_active(&bob_uid, false).await, 403, "Forbidden");

        let bob = server.admin.get_user(&bob_uid).await.unwrap();
        assert_eq!(bob.spec.first_name, "Test");
        assert!(bob.status.is_active);
        assert!(server.admin.get_user(&alice_uid).await.unwrap().spec.roles.is_empty());
    }

    async fn deactivating_a_user_revokes_their_keys(server) {
        let (alice_uid, alice) = server.user_with_key("alice@acme.test").await;
        let second = server.admin_create_key_for(&alice_uid, "second").await;
        alice.user_info().await.unwrap();

        server.admin.set_user_active(&alice_uid, false).await.unwrap();
        assert!(!server.admin.get_user(&alice_uid).await.unwrap().status.is_active);
        assert_error(alice.user_info().await, 401, "ApiKeyRevoked");
        let keys = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                user_uid: Some(alice_uid.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(keys.items.len(), 2);
        assert!(keys.items.iter().all(|k| !k.status.is_active));
        // Keys cannot be created for, nor re-activated on, a disabled user.
        assert_error(
            server.admin.create_api_key(&key_entity("new", &alice_uid, None)).await,
            409,
            "UserDisabled",
        );
        assert_error(server.admin.set_api_key_active(&second.uid, true).await, 409, "UserDisabled");

        // Re-activating the user does not bring the keys back on its own.
        server.admin.set_user_active(&alice_uid, true).await.unwrap();
        assert_error(alice.user_info().await, 401, "ApiKeyRevoked");
        server.admin.set_api_key_active(&second.uid, true).await.unwrap();
        server.anonymous.with_api_key(&second.api_key).user_info().await.unwrap();
        assert!(server.audit_actions().await.iter().any(|a| a == "user.deactivate"));
    }

    async fn deleting_a_user_deletes_their_keys(server) {
        let (alice_uid, alice) = server.user_with_key("alice@acme.test").await;
        server.admin.delete_user(&alice_uid).await.unwrap();
        assert_error(alice.user_info().await, 401, "ApiKeyInvalid");
        let keys = server
            .admin
            .list_api_keys(&proto::ApiKeyListQuery {
                user_uid: Some(alice_uid),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(keys.items.is_empty());
    }

    async fn the_last_tenant_admin_cannot_be_removed(server) {
        let me = server.admin_info.user_uid.clone();
        assert_error(server.admin.delete_user(&me).await, 409, "LastTenantAdmin");
        assert_error(server.admin.set_user_active(&me, false).await, 409, "LastTenantAdmin");
        let mut demote = proto::UserUpdateEntity::default();
        demote.spec.email_id = ADMIN_EMAIL.into();
        demote.spec.first_name = "Easel".into();
        demote.spec.last_name = "Admin".into();
        demote.spec.roles = Some(vec![]);
        assert_error(server.admin.update_user(&me, &demote).await, 409, "LastTenantAdmin");
        let user = server.admin.get_user(&me).await.unwrap();
        assert!(user.status.is_active);
        assert_eq!(user.spec.roles, vec![TENANT_ADMIN_ROLE.to_owned()]);
        server.admin.user_info().await.unwrap();

        // With a second admin, the first may step down.
        server.create_user("second@acme.test", &[TENANT_ADMIN_ROLE]).await;
        server.admin.update_user(&me, &demote).await.unwrap();
        assert!(server.admin.get_user(&me).await.unwrap().spec.roles.is_empty());
    }

    async fn user_patch_refuses_what_it_does_not_support(server) {
        let uid = server.create_user("p@acme.test", &[]).await;
        for body in [
            r#"[{"op":"remove","path":"/spec/firstName"}]"#,
            r#"[{"op":"replace","path":"/metadata/uid","value":"x"}]"#,
            r#"[{"op":"replace","path":"/status/isActive","value":"no"}]"#,
            r#"{"op":"replace"}"#,
        ] {
            let raw = server
                .admin
                .raw(reqwest::Method::PATCH, &format!("/v1/users/{uid}"), Some(body))
                .await
                .unwrap();
            assert_eq!(raw.status, 400, "{body}: {}", raw.body);
        }
        let patch = [proto::HttpPatch {
            op: "replace".into(),
            path: "/spec/firstName".into(),
            value: serde_json::json!("Patched"),
            from: None,
        }];
        server.admin.patch_user(&uid, &patch).await.unwrap();
        assert_eq!(server.admin.get_user(&uid).await.unwrap().spec.first_name, "Patched");
    }
}
