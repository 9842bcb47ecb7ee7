//! The flows that go by mail, through a real SMTP server on loopback: "forgot your
//! organisation?", password reset, and activation of users created by an admin.

use chrono::Duration;

use crate::harness::*;

const GOOD: &str = "vivid otter mango glacier";
const BETTER: &str = "quiet maple harbor lantern";

on_both_stores! {
    @with start_with_mail;

    async fn forgot_organisation_mails_every_organisation_with_its_sign_in_url(server) {
        let mail = server.mail.as_ref().unwrap();
        let shared = "sam@example.test";
        server.create_user(shared, &[]).await;
        let globex = server.other_tenant("globex").await;
        globex.create_user(&user_entity(shared, "Sam", "S", &[])).await.unwrap();
        // Unknown and malformed addresses get the same 204, and no mail.
        server.anonymous.forgot_organization("nobody@example.test").await.unwrap();
        server.anonymous.forgot_organization("not an address").await.unwrap();
        server.anonymous.forgot_organization(shared).await.unwrap();

        let received = mail.wait_for(shared, 3).await;
        let message = received
            .iter()
            .find(|m| m.subject == "Your Easel organisations")
            .expect("the organisations mail");
        assert!(message.body.contains("acme"), "{}", message.body);
        assert!(message.body.contains("globex"), "{}", message.body);
        let link = message.link("org=globex");
        let page = reqwest::get(&link).await.unwrap();
        assert_eq!(page.status(), 200, "the sign-in link works");
        assert!(mail.messages().iter().all(|m| !m.to.contains("nobody@")));
    }

    async fn a_reset_link_sets_the_password_once(server) {
        let mail = server.mail.as_ref().unwrap();
        let session = server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
        server.anonymous.request_password_reset(ADMIN_EMAIL).await.unwrap();
        server.anonymous.request_password_reset("nobody@acme.test").await.unwrap();
        let message = mail
            .wait_for(ADMIN_EMAIL, 1)
            .await
            .into_iter()
            .find(|m| m.subject == "Reset your Easel password")
            .unwrap();
        let link = message.link("/console/password/reset#token=");
        assert!(link.starts_with(server.anonymous.base_url()), "{link}");
        let page = reqwest::get(&link).await.unwrap();
        assert_eq!(page.status(), 200);
        let token = message.token("/console/password/reset");

        // A weak password is refused and does not use the link up.
        assert_error(server.anonymous.set_password_with_token(&token, "reset", "password").await, 400, "InvalidRequest");
        // The reset token is not an activation token.
        assert_error(server.anonymous.set_password_with_token(&token, "activate", GOOD).await, 400, "InvalidRequest");
        server.anonymous.set_password_with_token(&token, "reset", GOOD).await.unwrap();
        // Once only.
        assert_error(server.anonymous.set_password_with_token(&token, "reset", BETTER).await, 400, "InvalidRequest");
        assert_error(server.anonymous.set_password_with_token("made-up", "reset", BETTER).await, 400, "InvalidRequest");

        assert_error(server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await, 401, "InvalidCredentials");
        server.anonymous.sign_in(ADMIN_EMAIL, "", GOOD).await.unwrap();
        assert_error(
            server.anonymous.with_token(&session.authorization).user_info().await,
            401,
            "SessionRevoked",
        );
    }

    async fn reset_links_expire_after_an_hour(server) {
        let mail = server.mail.as_ref().unwrap();
        server.anonymous.request_password_reset(ADMIN_EMAIL).await.unwrap();
        let token = mail.wait_for(ADMIN_EMAIL, 1).await[0].token("/console/password/reset");
        server.clock.advance(Duration::hours(1));
        assert_error(server.anonymous.set_password_with_token(&token, "reset", GOOD).await, 400, "InvalidRequest");
        server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
    }

    async fn a_user_created_by_an_admin_activates_through_the_mailed_link(server) {
        let mail = server.mail.as_ref().unwrap();
        let uid = server
            .admin
            .create_user(&user_entity("newbie@acme.test", "New", "Bie", &[]))
            .await
            .unwrap()
            .uid;
        let message = mail.wait_for("newbie@acme.test", 1).await.remove(0);
        assert!(message.subject.contains("acme"), "{}", message.subject);
        let token = message.token("/console/password/activate");
        assert_error(server.anonymous.sign_in("newbie@acme.test", "", GOOD).await, 401, "InvalidCredentials");
        // Too close to the user's own name.
        assert_error(server.anonymous.set_password_with_token(&token, "activate", "newbie1234").await, 400, "InvalidRequest");
        server.anonymous.set_password_with_token(&token, "activate", GOOD).await.unwrap();
        assert_error(server.anonymous.set_password_with_token(&token, "activate", BETTER).await, 400, "InvalidRequest");
        let signed_in = server.anonymous.sign_in("newbie@acme.test", "acme", GOOD).await.unwrap();
        let info = server.anonymous.with_token(&signed_in.authorization).user_info().await.unwrap();
        assert_eq!(info.user_uid, uid);
        let actions = server.audit_actions().await;
        assert!(actions.iter().any(|a| a == "user.activatePassword"), "{actions:?}");
    }

    async fn an_admin_sends_a_reset_link(server) {
        let mail = server.mail.as_ref().unwrap();
        let uid = server.create_user("forgetful@acme.test", &[]).await;
        server.admin.send_password_reset(&uid).await.unwrap();
        let received = mail.wait_for("forgetful@acme.test", 2).await;
        let reset = received.iter().find(|m| m.subject.starts_with("Reset")).unwrap();
        server
            .anonymous
            .set_password_with_token(&reset.token("/console/password/reset"), "reset", GOOD)
            .await
            .unwrap();
        server.anonymous.sign_in("forgetful@acme.test", "", GOOD).await.unwrap();
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        assert_error(alice.send_password_reset(&uid).await, 403, "Forbidden");
    }
}
