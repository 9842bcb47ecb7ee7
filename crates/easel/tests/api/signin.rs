//! Password sign-in: one or several organisations, wrong credentials, throttling, password
//! changes and the password policy.

use chrono::Duration;
use easel_proto as proto;

use crate::harness::*;

const GOOD: &str = "vivid otter mango glacier";
const BETTER: &str = "quiet maple harbor lantern";

on_both_stores! {
    async fn a_person_signs_in_with_email_and_password(server) {
        let token = server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
        let me = server.anonymous.with_token(&token.authorization);
        assert_eq!(me.user_info().await.unwrap(), server.admin_info);
        // With the organisation, in any letter case.
        server.anonymous.sign_in(ADMIN_EMAIL, "ACME", ADMIN_PASSWORD).await.unwrap();
        server.anonymous.sign_in(&ADMIN_EMAIL.to_uppercase(), "acme", ADMIN_PASSWORD).await.unwrap();
        assert!(server.audit_actions().await.iter().any(|a| a == "session.create"));
    }

    async fn wrong_credentials_get_the_same_answer(server) {
        for (email, org, password) in [
            (ADMIN_EMAIL, "", "wrong password"),
            ("nobody@acme.test", "", ADMIN_PASSWORD),
            (ADMIN_EMAIL, "globex", ADMIN_PASSWORD),
            ("not an email", "", ADMIN_PASSWORD),
        ] {
            assert_error(server.anonymous.sign_in(email, org, password).await, 401, "InvalidCredentials");
        }
        // A user who never set a password cannot sign in with any.
        server.create_user("new@acme.test", &[]).await;
        assert_error(server.anonymous.sign_in("new@acme.test", "", "").await, 400, "InvalidRequest");
        assert_error(server.anonymous.sign_in("new@acme.test", "", GOOD).await, 401, "InvalidCredentials");
    }

    async fn several_organisations_need_a_choice_made_after_the_password(server) {
        let shared = "sam@example.test";
        let acme_uid = server.create_user(shared, &[]).await;
        server.set_password(&acme_uid, GOOD).await;
        let globex = server.other_tenant("globex").await;
        let globex_uid = globex
            .create_user(&user_entity(shared, "Sam", "Shared", &[]))
            .await
            .unwrap()
            .uid;
        globex.change_user_password(&globex_uid, "", GOOD).await.unwrap();
        let initech = server.other_tenant("initech").await;
        let initech_uid = initech
            .create_user(&user_entity(shared, "Sam", "Shared", &[]))
            .await
            .unwrap()
            .uid;
        initech.change_user_password(&initech_uid, "", BETTER).await.unwrap();

        // The same password in acme and globex: the answer lists exactly those two.
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
        let json = raw.json();
        assert_eq!(json["code"], "OrganizationRequired");
        assert_eq!(json["details"]["organizations"], serde_json::json!(["acme", "globex"]));
        // A wrong password learns nothing about which organisations exist.
        let raw = server
            .anonymous
            .raw(
                reqwest::Method::POST,
                "/v1/auth/authenticate",
                Some(&serde_json::json!({"emailId": shared, "password": "nope nope nope"}).to_string()),
            )
            .await
            .unwrap();
        assert_eq!(raw.status, 401);
        assert!(!raw.body.contains("globex"));

        // Choosing one signs in there.
        let token = server.anonymous.sign_in(shared, "globex", GOOD).await.unwrap();
        let info = server.anonymous.with_token(&token.authorization).user_info().await.unwrap();
        assert_eq!(info.org_name, "globex");
        assert_eq!(info.user_uid, globex_uid);
        // The password valid in one organisation only signs in there directly.
        let token = server.anonymous.sign_in(shared, "", BETTER).await.unwrap();
        let info = server.anonymous.with_token(&token.authorization).user_info().await.unwrap();
        assert_eq!(info.org_name, "initech");

        // The organisations of a signed-in person.
        let me = server.anonymous.with_token(&token.authorization);
        let orgs = me.organizations().await.unwrap();
        let names: Vec<&str> = orgs.organizations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["acme", "globex", "initech"]);
        assert!(orgs.organizations.iter().all(|o| o.auth_type == "password"));
    }

    async fn failed_sign_ins_are_throttled_per_account_then_allowed_again(server) {
        for _ in 0..5 {
            assert_error(server.anonymous.sign_in(ADMIN_EMAIL, "", "wrong password").await, 401, "InvalidCredentials");
        }
        let raw = server
            .anonymous
            .raw(
                reqwest::Method::POST,
                "/v1/auth/authenticate",
                Some(&serde_json::json!({"emailId": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).to_string()),
            )
            .await
            .unwrap();
        assert_eq!(raw.status, 429, "even the right password waits out the window");
        assert_eq!(raw.json()["code"], "TooManyRequests");
        let retry: i64 = raw.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        // Another account from the same address is not locked.
        let uid = server.create_user("other@acme.test", &[]).await;
        server.set_password(&uid, GOOD).await;
        server.anonymous.sign_in("other@acme.test", "", GOOD).await.unwrap();
        // The window ends: the owner is never locked out for good.
        server.clock.advance(Duration::seconds(retry));
        server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
    }

    async fn failed_sign_ins_are_throttled_per_address(server) {
        for i in 0..50 {
            let email = format!("guess{i}@acme.test");
            assert_error(server.anonymous.sign_in(&email, "", "wrong password").await, 401, "InvalidCredentials");
        }
        assert_error(server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await, 429, "TooManyRequests");
        server.clock.advance(Duration::minutes(15));
        server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
    }

    async fn changing_a_password_ends_the_users_sessions(server) {
        let token = server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
        let session = server.anonymous.with_token(&token.authorization);
        let other = server.admin.authenticate().await.unwrap().authorization;
        assert_error(session.change_own_password(ADMIN_EMAIL, "wrong", GOOD).await, 403, "Forbidden");
        assert_error(session.change_own_password("else@acme.test", ADMIN_PASSWORD, GOOD).await, 403, "Forbidden");
        assert_error(session.change_own_password(ADMIN_EMAIL, ADMIN_PASSWORD, "password1").await, 400, "InvalidRequest");
        session.user_info().await.unwrap();
        session.change_own_password(ADMIN_EMAIL, ADMIN_PASSWORD, GOOD).await.unwrap();
        assert_error(session.user_info().await, 401, "SessionRevoked");
        assert_error(server.anonymous.with_token(&other).user_info().await, 401, "SessionRevoked");
        assert_error(server.anonymous.with_token(&other).refresh().await, 401, "SessionRevoked");
        // API keys are not sessions: they keep working, and open new sessions.
        server.admin.user_info().await.unwrap();
        server.clock.advance(Duration::milliseconds(1));
        let after = server.admin.authenticate().await.unwrap().authorization;
        server.anonymous.with_token(&after).user_info().await.unwrap();
        assert_error(server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await, 401, "InvalidCredentials");
        server.anonymous.sign_in(ADMIN_EMAIL, "", GOOD).await.unwrap();
        // The same through /v1/users/{uid}/password/change.
        let me = server.admin_info.user_uid.clone();
        server.admin.change_user_password(&me, GOOD, BETTER).await.unwrap();
        server.anonymous.sign_in(ADMIN_EMAIL, "", BETTER).await.unwrap();
        // A plain user cannot set someone else's password.
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        assert_error(alice.change_user_password(&me, "", GOOD).await, 403, "Forbidden");
    }

    async fn the_password_policy_follows_nist(server) {
        let tenant = server.tenant_uid().to_owned();
        let policy = server.admin.password_policy(&tenant).await.unwrap();
        assert_eq!(policy.min_length, 8);
        assert!(policy.max_length >= 64);
        let uid = server.create_user("pat@acme.test", &[]).await;
        for weak in ["short", "password", "pat@acme.test", "12345678910", "acmeacmeacme"] {
            assert_error(server.admin.change_user_password(&uid, "", weak).await, 400, "InvalidRequest");
        }
        let long_passphrase = "the long and winding road leads to your door ".repeat(2);
        assert!(long_passphrase.len() > 64);
        server.admin.change_user_password(&uid, "", &long_passphrase).await.unwrap();

        let raise = proto::PasswordPolicy { min_length: 30, ..Default::default() };
        server.admin.set_password_policy(&tenant, &raise).await.unwrap();
        assert_eq!(server.admin.password_policy(&tenant).await.unwrap().min_length, 30);
        assert_error(server.admin.change_user_password(&uid, "", GOOD).await, 400, "InvalidRequest");
        for refused in [
            proto::PasswordPolicy { min_length: 7, ..Default::default() },
            proto::PasswordPolicy { min_length: 12, min_num_of_digits: 1, ..Default::default() },
            proto::PasswordPolicy { min_length: 12, expiry_duration_in_days: 90, ..Default::default() },
            proto::PasswordPolicy { min_length: 12, is_regex: true, regex: ".*".into(), ..Default::default() },
        ] {
            assert_error(server.admin.set_password_policy(&tenant, &refused).await, 400, "InvalidRequest");
        }
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        assert_error(alice.password_policy(&tenant).await, 403, "Forbidden");
    }

    async fn an_organisations_sign_in_page_is_public(server) {
        let org = server.anonymous.organization("ACME").await.unwrap();
        assert_eq!(org.org_name, "acme");
        assert_eq!(org.auth_type, "password");
        assert!(org.sso_logins.is_empty());
        assert!(org.redirect_url.ends_with("/console/login?org=acme"), "{}", org.redirect_url);
        assert_error(server.anonymous.organization("no-such-org").await, 404, "ResourceNotFound");
        let page = reqwest::get(&org.redirect_url).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    }
}
