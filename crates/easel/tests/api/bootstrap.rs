//! The first start, later starts, and the operator's recovery command.

use std::sync::Arc;

use easel_core::service::BootstrapRequest;
use easel_core::{Easel, EaselConfig, ManualClock, OsRandom};

use crate::harness::*;

on_both_stores! {
    async fn the_bootstrap_creates_exactly_one_admin_across_restarts(server) {
        let admin_key = server.admin_key.clone();
        let backend = server.backend;
        let db = server.stop().await;
        let clock = Arc::new(ManualClock::new(test_epoch()));
        let (again, key) = launch(backend, db, clock.clone()).await;
        assert!(key.is_none(), "a second start creates nothing");
        let again = again.with_admin_key(admin_key).await;
        let users = again.admin.list_users(&Default::default()).await.unwrap();
        assert_eq!(users.items.len(), 1);
        assert_eq!(again.easel.store().tenants().await.unwrap().len(), 1);
        let keys = again.admin.list_api_keys(&Default::default()).await.unwrap();
        assert_eq!(keys.items.len(), 1);
        // And a third time, for good measure.
        let db = again.stop().await;
        let (_third, key) = launch(backend, db, clock).await;
        assert!(key.is_none());
    }

    async fn concurrent_first_starts_bootstrap_once(server) {
        let backend = server.backend;
        drop(server);
        let db = TestDb::new(backend).await;
        let store = easel::open_store(&db.url).await.unwrap();
        let build = || {
            let store = store.clone();
            async move {
                let easel = Easel::new(
                    store,
                    Arc::new(ManualClock::new(test_epoch())),
                    Arc::new(OsRandom),
                    EaselConfig::default(),
                )
                .await
                .unwrap();
                easel.bootstrap(BootstrapRequest::default()).await.unwrap().is_some()
            }
        };
        let results = futures_join(build(), build(), build()).await;
        assert_eq!(results.iter().filter(|created| **created).count(), 1, "{results:?}");
        assert_eq!(store.tenants().await.unwrap().len(), 1);
    }

    async fn generated_bootstrap_values_are_usable(server) {
        let backend = server.backend;
        drop(server);
        let db = TestDb::new(backend).await;
        let store = easel::open_store(&db.url).await.unwrap();
        let easel = Easel::new(
            store.clone(),
            Arc::new(ManualClock::new(test_epoch())),
            Arc::new(OsRandom),
            EaselConfig::default(),
        )
        .await
        .unwrap();
        let outcome = easel.bootstrap(BootstrapRequest::default()).await.unwrap().unwrap();
        assert_eq!(outcome.tenant_name, "easel");
        assert_eq!(outcome.admin_email, "admin@easel.local");
        let password = outcome.generated_password.clone().expect("a generated password");
        assert!(password.len() >= 16);
        let caller = easel.authenticate_api_key(&outcome.api_key).await.unwrap();
        let hash = caller.user.password_hash.clone().expect("the admin has a password");
        assert!(hash.starts_with("$argon2id$"));
        assert!(easel_core::password::verify(&password, &hash));
        assert!(caller.can(easel_core::Permission::UserCreate));
        // A password the operator chose is not echoed back.
        let db2 = TestDb::new(backend).await;
        let easel2 = Easel::new(
            easel::open_store(&db2.url).await.unwrap(),
            Arc::new(ManualClock::new(test_epoch())),
            Arc::new(OsRandom),
            EaselConfig::default(),
        )
        .await
        .unwrap();
        let chosen = easel2
            .bootstrap(BootstrapRequest {
                admin_password: Some("a chosen passphrase".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        assert!(chosen.generated_password.is_none());
        assert!(easel2
            .bootstrap(BootstrapRequest { admin_password: Some("short".into()), ..Default::default() })
            .await
            .unwrap()
            .is_none(), "already bootstrapped: nothing is checked or created");
    }

    async fn admin_create_api_key_works_on_the_store_and_prints_only_the_key(server) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["admin", "create-api-key", "--user", "ADMIN@acme.test", "--expires-in", "7"])
            .env("EASEL_DATABASE_URL", &server.db.url)
            .env_remove("EASEL_LOG")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "only the key: {stdout:?}");
        let key = lines[0];
        assert!(key.starts_with("easel_"));
        // The server's clock is in 2030; the CLI's is the wall clock, so check by the store.
        let caller_key = easel_core::apikey::KeyFormat::parse(key).unwrap();
        let found = server.easel.store().api_key_by_hash(&caller_key).await.unwrap().unwrap();
        assert_eq!(found.user.email, ADMIN_EMAIL);
        assert_eq!(found.tenant.name, TENANT);
        let lifetime = found.key.expires_at - found.key.created_at;
        assert_eq!(lifetime, chrono::Duration::days(7));

        // Errors go to stderr with a non-zero exit, and nothing to stdout.
        for args in [
            vec!["--user", "nobody@acme.test"],
            vec!["--user", ADMIN_EMAIL, "--tenant", "no-such-org"],
            vec!["--user", ADMIN_EMAIL, "--expires-in", "0"],
            vec!["--user", ADMIN_EMAIL, "--expires-in", "400"],
        ] {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
                .args(["admin", "create-api-key"])
                .args(&args)
                .env("EASEL_DATABASE_URL", &server.db.url)
                .output()
                .unwrap();
            assert!(!output.status.success(), "{args:?}");
            assert!(output.stdout.is_empty(), "{args:?}");
            assert!(!output.stderr.is_empty(), "{args:?}");
        }
        // With two tenants the tenant must be named.
        server.other_tenant("globex").await;
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["admin", "create-api-key", "--user", ADMIN_EMAIL])
            .env("EASEL_DATABASE_URL", &server.db.url)
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("--tenant"));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["admin", "create-api-key", "--user", ADMIN_EMAIL, "--tenant", "ACME"])
            .env("EASEL_DATABASE_URL", &server.db.url)
            .output()
            .unwrap();
        assert!(output.status.success());
    }
}

async fn futures_join<A, B, C>(a: A, b: B, c: C) -> Vec<bool>
where
    A: std::future::Future<Output = bool> + Send + 'static,
    B: std::future::Future<Output = bool> + Send + 'static,
    C: std::future::Future<Output = bool> + Send + 'static,
{
    let (a, b, c) = tokio::join!(tokio::spawn(a), tokio::spawn(b), tokio::spawn(c));
    vec![a.unwrap(), b.unwrap(), c.unwrap()]
}
