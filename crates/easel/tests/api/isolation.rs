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
