//! Authorisation tokens: trading a key for a token, expiry, refresh within a session, and
//! every way a session ends.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;

use crate::harness::*;

/// The claims of a token, read without checking anything.
fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header(token: &str) -> serde_json::Value {
    let payload = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

on_both_stores! {
    async fn concurrent_exchanges_share_commits_and_each_gets_its_own_session(server) {
        // Exchanges made together are written together (group commit); each must still come
        // back with a working token of its own session, tied to its own key.
        let mut keys = Vec::new();
        for n in 0..24 {
            keys.push(server.admin.create_api_key(&key_entity(&format!("burst-{n}"), "", None)).await.unwrap());
        }
        let mut exchanges = tokio::task::JoinSet::new();
        for key in &keys {
            let client = server.anonymous.with_api_key(&key.api_key);
            exchanges.spawn(async move { client.authenticate().await.unwrap().authorization });
        }
        let tokens = exchanges.join_all().await;
        let sessions: std::collections::HashSet<String> =
            tokens.iter().map(|t| claims(t)["sid"].as_str().unwrap().to_owned()).collect();
        assert_eq!(sessions.len(), keys.len(), "one session per exchange");
        for token in &tokens {
            assert_eq!(server.anonymous.with_token(token).user_info().await.unwrap(), server.admin_info);
        }
        // Each session is tied to its own key: revoking one key ends exactly one token.
        server.admin.set_api_key_active(&keys[0].uid, false).await.unwrap();
        let mut refused = 0;
        for token in &tokens {
            if server.anonymous.with_token(token).user_info().await.is_err() {
                refused += 1;
            }
        }
        assert_eq!(refused, 1);
    }

    async fn a_key_is_traded_for_a_token_that_authenticates(server) {
        let token = server.admin.authenticate().await.unwrap();
        assert!(!token.is_mfa);
        let raw = &token.authorization;
        assert_eq!(header(raw)["alg"], "EdDSA");
        let c = claims(raw);
        assert_eq!(c["sub"], server.admin_info.user_uid.as_str());
        assert_eq!(c["tid"], server.admin_info.tenant_uid.as_str());
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 15 * 60);

        // Raw, as Palette clients send it, and as a bearer token.
        let as_token = server.anonymous.with_token(raw);
        assert_eq!(as_token.user_info().await.unwrap(), server.admin_info);
        let bearer = server.anonymous.with_token(format!("Bearer {raw}"));
        assert_eq!(bearer.user_info().await.unwrap(), server.admin_info);
        // A token acts with its owner's permissions.
        as_token.list_users(&Default::default()).await.unwrap();

        // The key may come as a query parameter too.
        let raw_response = server
            .anonymous
            .raw(
                reqwest::Method::POST,
                &format!("/v1/auth/authenticate?ApiKey={}", server.admin_key),
                None,
            )
            .await
            .unwrap();
        assert_eq!(raw_response.status, 200);
        // setCookie defaults to true: an HttpOnly, SameSite cookie for the console.
        let cookie = raw_response.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("Authorization="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let json = raw_response.json();
        assert!(cookie.contains(json["Authorization"].as_str().unwrap()));
        assert_eq!(json["isMfa"], false);
        // setCookie=false: no cookie.
        let no_cookie = server
            .admin
            .raw(reqwest::Method::POST, "/v1/auth/authenticate?setCookie=false", None)
            .await
            .unwrap();
        assert_eq!(no_cookie.status, 200);
        assert!(no_cookie.headers.get("set-cookie").is_none());
    }

    async fn tokens_expire_after_the_tenants_lifetime(server) {
        let tenant = server.tenant_uid().to_owned();
        assert_eq!(server.admin.token_settings(&tenant).await.unwrap().expiry_time_minutes, 15);
        let token = server.admin.authenticate().await.unwrap().authorization;
        let holder = server.anonymous.with_token(&token);
        server.clock.advance(Duration::minutes(15) - Duration::seconds(1));
        holder.user_info().await.unwrap();
        server.clock.advance(Duration::seconds(1));
        assert_error(holder.user_info().await, 401, "TokenExpired");
        assert_error(holder.refresh().await, 401, "TokenExpired");

        server.admin.set_token_settings(&tenant, 60).await.unwrap();
        assert_eq!(server.admin.token_settings(&tenant).await.unwrap().expiry_time_minutes, 60);
        let token = server.admin.authenticate().await.unwrap().authorization;
        let c = claims(&token);
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
        for bad in [14, 1441, 0, -5] {
            assert_error(server.admin.set_token_settings(&tenant, bad).await, 400, "InvalidRequest");
        }
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        assert_error(alice.token_settings(&tenant).await, 403, "Forbidden");
        assert_error(alice.set_token_settings(&tenant, 60).await, 403, "Forbidden");
    }

    async fn refresh_keeps_the_session_until_its_absolute_lifetime(server) {
        let tenant = server.tenant_uid().to_owned();
        server.admin.set_token_settings(&tenant, 60).await.unwrap();
        let first = server.admin.authenticate().await.unwrap().authorization;
        let sid = claims(&first)["sid"].as_str().unwrap().to_owned();
        let mut token = first.clone();
        // Refresh every 50 minutes for 23 h 20 min, alternating the header and path forms.
        for step in 1..=28 {
            server.clock.advance(Duration::minutes(50));
            let next = if step % 2 == 0 {
                server.anonymous.with_token(&token).refresh().await.unwrap()
            } else {
                server.anonymous.refresh_in_path(&token).await.unwrap()
            };
            assert_eq!(claims(&next.authorization)["sid"], sid.as_str(), "a refresh keeps the session");
            assert_ne!(next.authorization, token);
            token = next.authorization;
            server.anonymous.with_token(&token).user_info().await.unwrap();
        }
        // No token outlives the session: the last one ends with it, 24 h after the sign-in.
        let session_end = (test_epoch() + Duration::hours(24)).timestamp();
        assert_eq!(claims(&token)["exp"].as_i64().unwrap(), session_end);
        server.clock.advance(Duration::minutes(50));
        let refused = server.anonymous.with_token(&token).refresh().await.unwrap_err();
        assert_eq!(refused.status().unwrap(), 401);
        // The first token of the session stays expired too.
        assert_error(server.anonymous.with_token(&first).user_info().await, 401, "TokenExpired");
    }

    async fn revoking_a_token_ends_its_session_at_once(server) {
        let first = server.admin.authenticate().await.unwrap().authorization;
        let refreshed = server.anonymous.with_token(&first).refresh().await.unwrap().authorization;
        let other = server.admin.authenticate().await.unwrap().authorization;
        server.admin.revoke_tokens(std::slice::from_ref(&first)).await.unwrap();
        // Every token of that session is dead, the other session lives.
        assert_error(server.anonymous.with_token(&first).user_info().await, 401, "SessionRevoked");
        assert_error(server.anonymous.with_token(&refreshed).user_info().await, 401, "SessionRevoked");
        assert_error(server.anonymous.with_token(&refreshed).refresh().await, 401, "SessionRevoked");
        server.anonymous.with_token(&other).user_info().await.unwrap();

        // Signing out ends one's own session.
        let me = server.anonymous.with_token(&other);
        me.logout().await.unwrap();
        assert_error(me.user_info().await, 401, "SessionRevoked");
        assert!(server.audit_actions().await.iter().any(|a| a == "session.revoke"));
    }

    async fn a_key_session_is_carried_by_its_token_and_audited(server) {
        // Trading a key writes no session row: the token names the key, the session's end and
        // its start, all under the signature, and every refresh carries them on.
        let token = server.admin.authenticate().await.unwrap().authorization;
        let c = claims(&token);
        assert_eq!(c["sst"].as_i64().unwrap(), test_epoch().timestamp_millis());
        assert_eq!(c["sxp"].as_i64().unwrap(), (test_epoch() + Duration::hours(24)).timestamp());
        let key_uid = c["key"].as_str().unwrap().to_owned();
        let keys = server.admin.list_api_keys(&Default::default()).await.unwrap();
        assert!(keys.items.iter().any(|k| k.metadata.uid == key_uid), "the key claim is the key's uid");
        server.clock.advance(Duration::minutes(5));
        let refreshed = server.anonymous.with_token(&token).refresh().await.unwrap().authorization;
        let r = claims(&refreshed);
        for carried in ["key", "sxp", "sst", "sid"] {
            assert_eq!(r[carried], c[carried], "{carried}");
        }
        // The exchange is in the audit trail with the session it opened.
        let actions = server.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "session.create").count(), 1, "{actions:?}");
        // A password sign-in's token has none of these: its session has a row.
        let signed_in = server.anonymous.sign_in(ADMIN_EMAIL, "", ADMIN_PASSWORD).await.unwrap();
        let p = claims(&signed_in.authorization);
        assert!(p.get("key").is_none() && p.get("sxp").is_none() && p.get("sst").is_none(), "{p}");
    }

    async fn revoking_or_deleting_the_key_ends_its_sessions(server) {
        let (alice_uid, _) = server.user_with_key("alice@acme.test").await;
        let key = server.admin_create_key_for(&alice_uid, "k").await;
        let holder = server.anonymous.with_api_key(&key.api_key);
        let token = holder.authenticate().await.unwrap().authorization;
        let session = server.anonymous.with_token(&token);
        session.user_info().await.unwrap();
        server.admin.set_api_key_active(&key.uid, false).await.unwrap();
        assert_error(session.user_info().await, 401, "SessionRevoked");
        server.admin.set_api_key_active(&key.uid, true).await.unwrap();
        let token = holder.authenticate().await.unwrap().authorization;
        let session = server.anonymous.with_token(&token);
        session.user_info().await.unwrap();
        server.admin.delete_api_key(&key.uid).await.unwrap();
        assert_error(session.user_info().await, 401, "SessionRevoked");

        // An expired key's sessions end with it.
        let short = server
            .admin
            .create_api_key(&key_entity("short", "", Some(test_epoch() + Duration::minutes(5))))
            .await
            .unwrap();
        let token = server.anonymous.with_api_key(&short.api_key).authenticate().await.unwrap();
        server.clock.advance(Duration::minutes(5));
        assert_error(
            server.anonymous.with_token(&token.authorization).user_info().await,
            401,
            "SessionRevoked",
        );
    }

    async fn deactivating_or_deleting_the_user_ends_their_sessions(server) {
        let (alice_uid, alice) = server.user_with_key("alice@acme.test").await;
        let token = alice.authenticate().await.unwrap().authorization;
        let session = server.anonymous.with_token(&token);
        session.user_info().await.unwrap();
        server.admin.set_user_active(&alice_uid, false).await.unwrap();
        assert!(session.user_info().await.unwrap_err().status().unwrap() == 401);
        server.admin.set_user_active(&alice_uid, true).await.unwrap();

        let key = server.admin_create_key_for(&alice_uid, "again").await;
        let token = server.anonymous.with_api_key(&key.api_key).authenticate().await.unwrap();
        let session = server.anonymous.with_token(&token.authorization);
        session.user_info().await.unwrap();
        server.admin.delete_user(&alice_uid).await.unwrap();
        assert_error(session.user_info().await, 401, "SessionRevoked");
    }

    async fn bad_tokens_are_refused(server) {
        let token = server.admin.authenticate().await.unwrap().authorization;
        let parts: Vec<&str> = token.split('.').collect();
        let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
        let mut forged_claims = claims(&token);
        forged_claims["sub"] = serde_json::json!("000000000000000000000001");
        let alg_none = format!("{}.{}.", b64(serde_json::json!({"alg": "none", "typ": "JWT"})), parts[1]);
        let hs256 = format!(
            "{}.{}.{}",
            b64(serde_json::json!({"alg": "HS256", "kid": header(&token)["kid"]})),
            parts[1],
            parts[2]
        );
        let unknown_kid = format!(
            "{}.{}.{}",
            b64(serde_json::json!({"alg": "EdDSA", "kid": "not-ours"})),
            parts[1],
            parts[2]
        );
        for bad in [
            "garbage".to_owned(),
            String::new() + "a.b.c",
            format!("{}.{}.{}", parts[0], b64(forged_claims), parts[2]),
            format!("{}.{}.{}x", parts[0], parts[1], parts[2]),
            alg_none,
            hs256,
            unknown_kid,
            "x".repeat(10_000),
        ] {
            let response = server.anonymous.with_token(&bad).user_info().await;
            let err = response.unwrap_err();
            assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{bad}");
            assert_eq!(err.code(), Some("TokenInvalid"), "{bad}");
        }
        // A token of another deployment (its own signing keys) is not ours.
        let other = start(server.backend).await;
        let foreign = other.admin.authenticate().await.unwrap().authorization;
        assert_error(server.anonymous.with_token(&foreign).user_info().await, 401, "TokenInvalid");
        assert_error(server.anonymous.with_token(&foreign).refresh().await, 401, "TokenInvalid");
        assert_error(
            server.admin.revoke_tokens(&[foreign]).await,
            400,
            "InvalidRequest",
        );
    }

    async fn a_cached_token_answers_only_itself_byte_for_byte(server) {
        // The verify cache finds a token by its signature's hash; the rest must match too.
        let token = server.admin.authenticate().await.unwrap().authorization;
        let session = server.anonymous.with_token(&token);
        session.user_info().await.unwrap();
        let hits = server.easel.cache_stats().hits;
        session.user_info().await.unwrap();
        assert_eq!(server.easel.cache_stats().hits, hits + 1, "the token is cached");
        let parts: Vec<&str> = token.split('.').collect();
        let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
        let mut longer = claims(&token);
        longer["exp"] = serde_json::json!(longer["exp"].as_i64().unwrap() + 3600);
        for bad in [
            format!("{}.{}.{}", parts[0], b64(longer), parts[2]),
            format!("{}.{}", parts[1], parts[2]),
            format!("{}..{}", parts[0], parts[2]),
            format!(".{}", parts[2]),
            parts[2].to_owned(),
            format!("x{token}"),
        ] {
            assert_error(server.anonymous.with_token(&bad).user_info().await, 401, "TokenInvalid");
        }
        assert_eq!(session.user_info().await.unwrap(), server.admin_info, "still good");
        // An API key is not a token: refused in the `Authorization` header, though its
        // caller is cached (this request's answer must not depend on the cache).
        server.admin.user_info().await.unwrap();
        assert_error(
            server.anonymous.with_token(&server.admin_key).user_info().await,
            401,
            "TokenInvalid",
        );
    }

    async fn revoking_another_users_token_needs_permission(server) {
        let (_, alice) = server.user_with_key("alice@acme.test").await;
        let (_, bob) = server.user_with_key("bob@acme.test").await;
        let alices = alice.authenticate().await.unwrap().authorization;
        assert_error(bob.revoke_tokens(std::slice::from_ref(&alices)).await, 403, "Forbidden");
        server.anonymous.with_token(&alices).user_info().await.unwrap();
        let other = server.other_tenant("globex").await;
        assert_error(other.revoke_tokens(std::slice::from_ref(&alices)).await, 404, "ResourceNotFound");
        server.anonymous.with_token(&alices).user_info().await.unwrap();
        server.admin.revoke_tokens(std::slice::from_ref(&alices)).await.unwrap();
        assert_error(server.anonymous.with_token(&alices).user_info().await, 401, "SessionRevoked");
    }

    async fn the_jwks_document_has_the_key_that_verifies_tokens(server) {
        let token = server.admin.authenticate().await.unwrap().authorization;
        let jwks = server.anonymous.jwks().await.unwrap();
        let kid = header(&token)["kid"].clone();
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .expect("the signing key is published");
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert!(key.get("d").is_none(), "no private part");
    }

    async fn signing_keys_rotate_and_old_tokens_stay_valid(server) {
        server.admin.set_token_settings(server.tenant_uid(), 1440).await.unwrap();
        let old = server.admin.authenticate().await.unwrap().authorization;
        // A week later a new key signs; the old token (issued just before) still verifies.
        server.clock.advance(Duration::days(7) - Duration::hours(1));
        let fresh_old = server.admin.authenticate().await.unwrap().authorization;
        server.clock.advance(Duration::hours(2));
        let new = server.admin.authenticate().await.unwrap().authorization;
        assert_ne!(header(&new)["kid"], header(&fresh_old)["kid"]);
        server.anonymous.with_token(&fresh_old).user_info().await.unwrap();
        server.anonymous.with_token(&new).user_info().await.unwrap();
        assert_error(server.anonymous.with_token(&old).user_info().await, 401, "TokenExpired");
        let jwks = server.anonymous.jwks().await.unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    }
}

impl TestServer {
    /// Sets a user's password as the tenant admin.
    pub async fn set_password(&self, uid: &str, password: &str) {
        self.admin
            .change_user_password(uid, "", password)
            .await
            .unwrap();
    }
}

on_both_stores! {
    async fn the_cookie_authorises_only_the_consoles_own_calls(server) {
        let raw = server
            .admin
            .raw(reqwest::Method::POST, "/v1/auth/authenticate", None)
            .await
            .unwrap();
        let cookie = raw.headers["set-cookie"].to_str().unwrap();
        let pair = cookie.split(';').next().unwrap().to_owned();
        let http = reqwest::Client::new();
        let url = format!("{}/v1/users/info", server.anonymous.base_url());
        // The cookie alone, as a cross-site page could make a browser send it: refused.
        let alone = http.get(&url).header("Cookie", &pair).send().await.unwrap();
        assert_eq!(alone.status(), 401);
        // With the header only the console's same-origin script can add: accepted.
        let console = http
            .get(&url)
            .header("Cookie", &pair)
            .header("X-Easel-Console", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(console.status(), 200);
        // Signing out clears it and ends the session.
        let out = http
            .post(format!("{}/v1/auth/logout", server.anonymous.base_url()))
            .header("Cookie", &pair)
            .header("X-Easel-Console", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        let after = http
            .get(&url)
            .header("Cookie", &pair)
            .header("X-Easel-Console", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401);
    }
}
