//! Tenants at system scope: operators create, list, disable and delete them and set their
//! domains; people sign up for one when that is open.

use easel_client::Client;
use easel_proto as proto;

use crate::harness::*;

const GOOD: &str = "vivid otter mango glacier";

fn tenant_entity(org: &str, email: &str) -> proto::TenantEntity {
    proto::TenantEntity {
        metadata: Default::default(),
        spec: proto::TenantSpecEntity {
            org_name: org.into(),
            email_id: email.into(),
            first_name: "First".into(),
            last_name: "Admin".into(),
        },
    }
}

impl TestServer {
    /// The operator creates a tenant; its admin activates through the mailed link, sets
    /// `password`, and signs in. Returns the tenant's uid and a client with the admin's token.
    async fn tenant_with_active_admin(
        &self,
        org: &str,
        email: &str,
        password: &str,
    ) -> (String, Client) {
        let mail = self.mail.as_ref().expect("a server with mail");
        let before = mail
            .messages()
            .iter()
            .filter(|m| m.to.contains(email))
            .count();
        let uid = self
            .admin
            .create_tenant(&tenant_entity(org, email))
            .await
            .unwrap()
            .uid;
        let received = mail.wait_for(email, before + 1).await;
        let activation = received
            .iter()
            .find(|m| m.subject.contains(org))
            .expect("an activation mail naming the organisation");
        let token = activation.token("/console/password/activate");
        self.anonymous
            .set_password_with_token(&token, "activate", password)
            .await
            .unwrap();
        let signed_in = self.anonymous.sign_in(email, org, password).await.unwrap();
        (uid, self.anonymous.with_token(signed_in.authorization))
    }
}

on_both_stores! {
    @with start_with_mail;

    async fn an_operator_creates_tenants_whose_admins_activate_by_mail(server) {
        let (globex_uid, globex) = server.tenant_with_active_admin("globex", "boss@globex.test", GOOD).await;
        let info = globex.user_info().await.unwrap();
        assert_eq!(info.org_name, "globex");
        assert_eq!(info.tenant_uid, globex_uid);
        // The new admin administers the new tenant.
        globex.create_user(&user_entity("staff@globex.test", "S", "Taff", &[])).await.unwrap();

        // The same person is admin of a second tenant: the organisation picker.
        let shared = "pat@shared.test";
        let (_, _) = server.tenant_with_active_admin("initech", shared, GOOD).await;
        let (_, _) = server.tenant_with_active_admin("umbrella", shared, GOOD).await;
        let raw = server
            .anonymous
            .raw(
                reqwest::Method::POST,
                "/v1/auth/authenticate",
                Some(&serde_json::json!({"emailId": shared, "password": GOOD}).to_string()),
            )
            .await
            .unwrap();
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json()["details"]["organizations"], serde_json::json!(["initech", "umbrella"]));
        let token = server.anonymous.sign_in(shared, "umbrella", GOOD).await.unwrap();
        let info = server.anonymous.with_token(&token.authorization).user_info().await.unwrap();
        assert_eq!(info.org_name, "umbrella");

        let list = server.admin.list_tenants(&Default::default()).await.unwrap();
        let names: Vec<&str> = list.items.iter().map(|t| t.spec.org_name.as_str()).collect();
        assert_eq!(list.listmeta.count, 4);
        for name in ["acme", "globex", "initech", "umbrella"] {
            assert!(names.contains(&name), "{names:?}");
        }
        let tenant = server.admin.get_tenant(&globex_uid).await.unwrap();
        assert_eq!(tenant.metadata.uid, globex_uid);
        assert!(tenant.status.is_active);
    }

    async fn a_disabled_tenant_is_refused_at_once_and_works_again_when_enabled(server) {
        let (globex_uid, globex_token) = server.tenant_with_active_admin("globex", "boss@globex.test", GOOD).await;
        let key = globex_token.create_api_key(&key_entity("k", "", None)).await.unwrap();
        let globex_key = server.anonymous.with_api_key(&key.api_key);
        globex_key.user_info().await.unwrap();

        server.admin.set_tenant_active(&globex_uid, false).await.unwrap();
        assert_error(globex_key.user_info().await, 401, "UserDisabled");
        assert_error(globex_token.user_info().await, 401, "UserDisabled");
        assert_error(server.anonymous.sign_in("boss@globex.test", "globex", GOOD).await, 401, "UserDisabled");
        assert_error(server.anonymous.with_api_key(&key.api_key).authenticate().await, 401, "UserDisabled");
        assert!(!server.admin.get_tenant(&globex_uid).await.unwrap().status.is_active);
        let disabled = server
            .admin
            .list_tenants(&proto::ListQuery { filters: Some("status.isActive=false".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(disabled.items.len(), 1);
        assert_eq!(disabled.items[0].metadata.uid, globex_uid);
        // The operator's own organisation is unaffected.
        server.admin.user_info().await.unwrap();

        server.admin.set_tenant_active(&globex_uid, true).await.unwrap();
        globex_key.user_info().await.unwrap();
        globex_token.user_info().await.unwrap();
        server.anonymous.sign_in("boss@globex.test", "globex", GOOD).await.unwrap();
        // `{}` means active, as the contract's default says.
        let raw = server
            .admin
            .raw(reqwest::Method::PATCH, &format!("/v1/tenants/{globex_uid}/activate"), Some("{}"))
            .await
            .unwrap();
        assert_eq!(raw.status, 204);
        globex_key.user_info().await.unwrap();
        // An operator cannot lock themselves out.
        assert_error(server.admin.set_tenant_active(server.tenant_uid(), false).await, 409, "OwnOrganization");
    }

    async fn deleting_a_tenant_removes_it_and_leaves_the_others_untouched(server) {
        let (globex_uid, globex) = server.tenant_with_active_admin("globex", "boss@globex.test", GOOD).await;
        let (_, initech) = server.tenant_with_active_admin("initech", "boss@initech.test", GOOD).await;
        let globex_key = globex.create_api_key(&key_entity("k", "", None)).await.unwrap();
        let initech_key = initech.create_api_key(&key_entity("k", "", None)).await.unwrap();
        globex.create_user(&user_entity("staff@globex.test", "S", "T", &[])).await.unwrap();

        server.admin.delete_tenant(&globex_uid).await.unwrap();
        assert_error(server.anonymous.with_api_key(&globex_key.api_key).user_info().await, 401, "ApiKeyInvalid");
        assert_error(globex.user_info().await, 401, "SessionRevoked");
        assert_error(server.anonymous.sign_in("boss@globex.test", "", GOOD).await, 401, "InvalidCredentials");
        assert_error(server.admin.get_tenant(&globex_uid).await, 404, "ResourceNotFound");
        assert_error(server.admin.delete_tenant(&globex_uid).await, 404, "ResourceNotFound");
        // The name is free again.
        server.admin.validate_tenant("globex").await.unwrap();

        server.anonymous.with_api_key(&initech_key.api_key).user_info().await.unwrap();
        initech.user_info().await.unwrap();
        server.admin.user_info().await.unwrap();
        assert_eq!(server.admin.list_tenants(&Default::default()).await.unwrap().items.len(), 2);
        // The audit trail keeps the record of the deletion.
        let globex = easel_core::Uid::parse(&globex_uid).unwrap();
        let entries = server.easel.store().audit_entries(&globex, 100).await.unwrap();
        assert!(entries.iter().any(|e| e.action == "tenant.delete"));
        assert_error(server.admin.delete_tenant(server.tenant_uid()).await, 409, "OwnOrganization");
    }

    async fn a_tenant_admin_is_refused_every_system_scope_operation(server) {
        let (globex_uid, globex) = server.tenant_with_active_admin("globex", "boss@globex.test", GOOD).await;
        let acme = server.tenant_uid().to_owned();
        assert_error(globex.list_tenants(&Default::default()).await, 403, "Forbidden");
        assert_error(globex.create_tenant(&tenant_entity("evil", "e@evil.test")).await, 403, "Forbidden");
        assert_error(globex.get_tenant(&acme).await, 404, "ResourceNotFound");
        assert_error(globex.delete_tenant(&acme).await, 403, "Forbidden");
        assert_error(globex.delete_tenant(&globex_uid).await, 403, "Forbidden");
        assert_error(globex.set_tenant_active(&acme, false).await, 403, "Forbidden");
        assert_error(globex.set_tenant_domains(&globex_uid, &["globex.test"]).await, 403, "Forbidden");
        assert_error(globex.operators().await, 403, "Forbidden");
        let me = globex.user_info().await.unwrap().user_uid;
        assert_error(globex.set_operator(&me, true).await, 403, "Forbidden");
        // Its own tenant it may read.
        assert_eq!(globex.get_tenant(&globex_uid).await.unwrap().spec.org_name, "globex");
        assert!(server.admin.get_tenant(&acme).await.unwrap().status.is_active);

        // Granted operator rights, the same admin may; withdrawn, not any more.
        server.admin.set_operator(&me, true).await.unwrap();
        assert_eq!(globex.list_tenants(&Default::default()).await.unwrap().items.len(), 2);
        let operators = server.admin.operators().await.unwrap();
        assert_eq!(operators.items.len(), 2);
        server.admin.set_operator(&me, false).await.unwrap();
        assert_error(globex.list_tenants(&Default::default()).await, 403, "Forbidden");
        // The last operator stays.
        let bootstrap_admin = server.admin_info.user_uid.clone();
        assert_error(server.admin.set_operator(&bootstrap_admin, false).await, 409, "LastOperator");
        server.admin.list_tenants(&Default::default()).await.unwrap();
    }

    async fn domains_route_people_to_their_tenants_sign_in(server) {
        let (globex_uid, globex) = server.tenant_with_active_admin("globex", "boss@globex.test", GOOD).await;
        server
            .admin
            .set_tenant_domains(&globex_uid, &["Login.Globex.test", "globex.test", "globex.test"])
            .await
            .unwrap();
        let domains = globex.tenant_domains(&globex_uid).await.unwrap();
        assert_eq!(domains.domains, ["globex.test", "login.globex.test"]);
        assert_error(
            server.admin.set_tenant_domains(server.tenant_uid(), &["globex.test"]).await,
            409,
            "DomainTaken",
        );
        assert!(server.admin.tenant_domains(server.tenant_uid()).await.unwrap().domains.is_empty());
        for bad in ["no-dot", "under_score.test", ""] {
            assert_error(server.admin.set_tenant_domains(&globex_uid, &[bad]).await, 400, "InvalidRequest");
        }
        assert_eq!(globex.tenant_domains(&globex_uid).await.unwrap().domains.len(), 2);

        // A request on the tenant's host name opens its sign-in.
        let http = reqwest::Client::new();
        let org = |host: &'static str| {
            http.get(format!("{}/v1/auth/org", server.anonymous.base_url()))
                .header("Host", host)
                .send()
        };
        let response = org("login.globex.test:8080").await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["orgName"], "globex");
        assert_eq!(org("elsewhere.test").await.unwrap().status(), 400);
        // Disabled tenants are not routed to.
        server.admin.set_tenant_active(&globex_uid, false).await.unwrap();
        assert_eq!(org("login.globex.test").await.unwrap().status(), 400);
    }

    async fn organisation_names_are_validated(server) {
        server.admin.validate_tenant("fresh-org").await.unwrap();
        assert_error(server.admin.validate_tenant("ACME").await, 409, "TenantExists");
        for bad in ["admin", "API", "www", "system", "ab", "bad name", "under_score", "-dash", &"a".repeat(65)] {
            assert_error(server.anonymous.validate_tenant(bad).await, 400, "InvalidRequest");
        }
        assert_error(server.admin.create_tenant(&tenant_entity("Acme", "x@acme2.test")).await, 409, "TenantExists");
        assert_error(server.admin.create_tenant(&tenant_entity("support", "x@s.test")).await, 400, "InvalidRequest");
        assert_error(server.admin.create_tenant(&tenant_entity("okname", "not-an-email")).await, 400, "InvalidRequest");
        assert_eq!(server.admin.list_tenants(&Default::default()).await.unwrap().items.len(), 1);
    }

    async fn sign_up_is_off_by_default(server) {
        let signup = proto::TenantSignUp {
            email_id: "new@startup.test".into(),
            first_name: "New".into(),
            last_name: "Founder".into(),
            org_name: "startup".into(),
        };
        assert_error(server.anonymous.sign_up(&signup).await, 403, "Forbidden");
        assert_error(server.anonymous.activate_sign_up("whatever").await, 403, "Forbidden");
    }
}

on_both_stores! {
    @with start_with_signup;

    async fn people_sign_up_for_a_tenant_of_their_own(server) {
        let mail = server.mail.as_ref().unwrap();
        let signup = |org: &str, email: &str| proto::TenantSignUp {
            email_id: email.into(),
            first_name: "New".into(),
            last_name: "Founder".into(),
            org_name: org.into(),
        };
        server.anonymous.sign_up(&signup("startup", "founder@startup.test")).await.unwrap();
        // An address that already has an account gets the same answer.
        server.anonymous.sign_up(&signup("sidegig", ADMIN_EMAIL)).await.unwrap();
        assert_error(server.anonymous.sign_up(&signup("acme", "x@y.test")).await, 409, "TenantExists");
        assert_error(server.anonymous.sign_up(&signup("admin", "x@y.test")).await, 400, "InvalidRequest");
        assert_error(server.anonymous.sign_up(&signup("valid-org", "not-an-email")).await, 400, "InvalidRequest");

        let message = mail.wait_for("founder@startup.test", 1).await.remove(0);
        let link = message.link("/console/signup#token=");
        assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
        let token = message.token("/console/signup");
        server.anonymous.activate_sign_up(&token).await.unwrap();
        assert_error(server.anonymous.activate_sign_up(&token).await, 400, "InvalidRequest");
        // The same link then sets the new admin's password, once.
        server.anonymous.set_password_with_token(&token, "activate", GOOD).await.unwrap();
        let signed_in = server.anonymous.sign_in("founder@startup.test", "startup", GOOD).await.unwrap();
        let me = server.anonymous.with_token(&signed_in.authorization);
        assert_eq!(me.user_info().await.unwrap().org_name, "startup");
        me.create_user(&user_entity("hire@startup.test", "H", "Ire", &[])).await.unwrap();
        assert_error(me.list_tenants(&Default::default()).await, 403, "Forbidden");
        assert_error(server.anonymous.set_password_with_token(&token, "activate", GOOD).await, 400, "InvalidRequest");

        // The address that already had an account got a sign-up mail too, and nothing else.
        let theirs = mail.wait_for(ADMIN_EMAIL, 1).await;
        assert!(theirs[0].subject.contains("sidegig"));
    }

    async fn sign_up_is_throttled_per_address(server) {
        for i in 0..10 {
            let signup = proto::TenantSignUp {
                email_id: format!("p{i}@spam.test"),
                first_name: "S".into(),
                last_name: "Pam".into(),
                org_name: format!("spam-{i}"),
            };
            server.anonymous.sign_up(&signup).await.unwrap();
        }
        let one_more = proto::TenantSignUp {
            email_id: "p10@spam.test".into(),
            first_name: "S".into(),
            last_name: "Pam".into(),
            org_name: "spam-ten".into(),
        };
        assert_error(server.anonymous.sign_up(&one_more).await, 429, "TooManyRequests");
    }
}
