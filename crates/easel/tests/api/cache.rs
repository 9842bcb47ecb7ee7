//! The verify cache and usage counters: what stays off the store, what never enters the
//! cache, and how a change on one node reaches another.

use std::sync::Arc;
use std::time::Duration;

use easel_core::ManualClock;
use easel_proto as proto;

use crate::harness::*;

fn lookups(server: &TestServer) -> u64 {
    server.easel.cache_stats().store_lookups
}

/// The owner's names that `server`'s admin sees beside the key `key_uid` in the key list.
async fn listed_owner(server: &TestServer, key_uid: &str) -> (String, String) {
    let list = server
        .admin
        .list_api_keys(&Default::default())
        .await
        .unwrap();
    let key = list
        .items
        .iter()
        .find(|k| k.metadata.uid == key_uid)
        .expect("the key is listed");
    (
        key.spec.user.first_name.clone(),
        key.spec.user.last_name.clone(),
    )
}

/// Creates the team `readers`, with `member` in it and the role Tenant Viewer; returns the
/// created response's body (the team's uid).
async fn readers_team(server: &TestServer, member: &str) -> String {
    let spec = format!(r#"{{"users":["{member}"],"roles":["Tenant Viewer"]}}"#);
    let body = format!(r#"{{"metadata":{{"name":"readers"}},"spec":{spec}}}"#);
    let team = server
        .admin
        .raw(reqwest::Method::POST, "/v1/teams", Some(&body))
        .await
        .unwrap();
    assert_eq!(team.status, 201, "{}", team.body);
    team.body
}

fn rename(email: &str, first: &str, last: &str) -> proto::UserUpdateEntity {
    let mut update = proto::UserUpdateEntity::default();
    update.spec.email_id = email.into();
    update.spec.first_name = first.into();
    update.spec.last_name = last.into();
    update
}

on_both_stores! {
    async fn a_renamed_owner_shows_beside_their_keys_at_once(server) {
        let alice = server.create_user("alice@acme.test", &[]).await;
        let key = server.admin_create_key_for(&alice, "named").await;
        let before = listed_owner(&server, &key.uid).await;
        // Listed twice: the second list reads the names this node kept.
        assert_eq!(listed_owner(&server, &key.uid).await, before);
        server.admin.update_user(&alice, &rename("alice@acme.test", "Alicia", "Keys")).await.unwrap();
        assert_eq!(listed_owner(&server, &key.uid).await, ("Alicia".to_owned(), "Keys".to_owned()));
        assert_eq!(server.admin.get_api_key(&key.uid).await.unwrap().spec.user.first_name, "Alicia");
        // A deleted owner's keys leave the list with them.
        server.admin.delete_user(&alice).await.unwrap();
        let list = server.admin.list_api_keys(&Default::default()).await.unwrap();
        assert!(list.items.iter().all(|k| k.metadata.uid != key.uid));
    }

    async fn malformed_keys_never_reach_the_store_and_unknown_ones_are_never_cached(server) {
        server.admin.user_info().await.unwrap();
        let before = lookups(&server);
        let entries = server.easel.cache_len();
        // The admin's key, cached now, with its last character changed: a key's length, so
        // the verify cache is asked (and misses) before its checksum is.
        let mut near_miss = server.admin_key.clone();
        let last = near_miss.pop().unwrap();
        near_miss.push(if last == 'a' { 'b' } else { 'a' });
        for bad in ["garbage", "easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "easel_", &near_miss] {
            assert_error(server.anonymous.with_api_key(bad).user_info().await, 401, "ApiKeyMalformed");
        }
        assert_eq!(lookups(&server), before, "a bad checksum is refused before the store");
        for _ in 0..3 {
            let unknown = easel_core::apikey::KeyFormat::new("easel").unwrap().generate(&easel_core::OsRandom).value;
            assert_error(server.anonymous.with_api_key(unknown).user_info().await, 401, "ApiKeyInvalid");
        }
        assert_eq!(lookups(&server), before + 3, "unknown keys are looked up");
        assert_eq!(server.easel.cache_len(), entries, "and never cached");
    }

    async fn a_key_in_use_is_answered_from_memory(server) {
        let key = server.admin.create_api_key(&key_entity("hot", "", None)).await.unwrap();
        let hot = server.anonymous.with_api_key(&key.api_key);
        hot.user_info().await.unwrap();
        let before = lookups(&server);
        let hits = server.easel.cache_stats().hits;
        for _ in 0..20 {
            hot.user_info().await.unwrap();
        }
        assert_eq!(lookups(&server), before, "no store lookup while cached");
        assert!(server.easel.cache_stats().hits >= hits + 20);
        // Past the re-check interval the store is asked again (a change this node missed
        // cannot live longer than that: 60 s by default). Each entry is re-checked somewhere
        // in the last quarter of it, so that entries loaded together are not re-read together.
        server.clock.advance(chrono::Duration::seconds(44));
        hot.user_info().await.unwrap();
        assert_eq!(lookups(&server), before, "trusted for three quarters of the interval");
        server.clock.advance(chrono::Duration::seconds(16));
        hot.user_info().await.unwrap();
        assert_eq!(lookups(&server), before + 1);
        // Tokens too: the signature is verified once.
        let token = hot.authenticate().await.unwrap().authorization;
        let session = server.anonymous.with_token(&token);
        session.user_info().await.unwrap();
        let before = lookups(&server);
        for _ in 0..20 {
            session.user_info().await.unwrap();
        }
        assert_eq!(lookups(&server), before);
    }

    async fn keys_in_use_are_read_again_in_the_background_before_their_recheck(server) {
        let steady = server.admin.create_api_key(&key_entity("steady", "", None)).await.unwrap();
        let idle = server.admin.create_api_key(&key_entity("idle", "", None)).await.unwrap();
        let steady_client = server.anonymous.with_api_key(&steady.api_key);
        steady_client.user_info().await.unwrap();
        server.anonymous.with_api_key(&idle.api_key).user_info().await.unwrap();
        let before = lookups(&server);
        assert_eq!(server.easel.refresh_cached_keys().await.unwrap(), 0, "nothing is near its re-check");
        server.clock.advance(chrono::Duration::seconds(44));
        steady_client.user_info().await.unwrap();
        // 53 s: every entry's re-check (45-60 s) is within the lead of 7.5 s. Only the key
        // used in the last half interval is read again; the idle one is left to lapse.
        server.clock.advance(chrono::Duration::seconds(9));
        assert_eq!(server.easel.refresh_cached_keys().await.unwrap(), 1);
        assert_eq!(server.easel.cache_stats().refreshes, 1);
        // Trusted for a whole interval from the refresh: no request of it waits for the store.
        server.clock.advance(chrono::Duration::seconds(40));
        steady_client.user_info().await.unwrap();
        assert_eq!(lookups(&server), before, "the key in use was never read on a request");
        // Its uses carried over the refresh, which counted none of its own.
        server.easel.flush_usage().await.unwrap();
        let status = server.admin.get_api_key(&steady.uid).await.unwrap().status;
        assert_eq!(status.use_count, 3);
        assert_eq!(status.last_used, Some(test_epoch() + chrono::Duration::seconds(93)));
    }

    async fn a_refresh_drops_a_key_revoked_where_this_node_was_not_told(server) {
        // Revoked where this node is not told ([`revoke_elsewhere`]).
        let key = server.admin.create_api_key(&key_entity("revoked-elsewhere", "", None)).await.unwrap();
        let client = server.anonymous.with_api_key(&key.api_key);
        client.user_info().await.unwrap();
        revoke_elsewhere(&server, &key.api_key).await;
        // Still trusted (this node was not told), and in use at 44 s; read again at 53 s.
        server.clock.advance(chrono::Duration::seconds(44));
        client.user_info().await.unwrap();
        server.clock.advance(chrono::Duration::seconds(9));
        let held = server.easel.cache_len();
        assert_eq!(server.easel.refresh_cached_keys().await.unwrap(), 0);
        assert_eq!(server.easel.cache_len(), held - 1, "the revoked key left the cache");
        let refused = client.user_info().await.unwrap_err();
        assert_eq!(refused.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    }

    async fn a_refresh_reads_the_owners_roles_again_their_own_and_their_teams(server) {
        // Alice reads users through a team's role, Bob through his own; both roles are taken
        // away through a store of its own (this node is not told).
        let alice = server.create_user("alice@acme.test", &[]).await;
        let bob = server.create_user("bob@acme.test", &["Tenant Viewer"]).await;
        let team = readers_team(&server, &alice).await;
        let alice_key = server.admin_create_key_for(&alice, "alice").await;
        let bob_key = server.admin_create_key_for(&bob, "bob").await;
        let alice_client = server.anonymous.with_api_key(&alice_key.api_key);
        let bob_client = server.anonymous.with_api_key(&bob_key.api_key);
        alice_client.list_users(&Default::default()).await.unwrap();
        bob_client.list_users(&Default::default()).await.unwrap();
        // Used at 44 s (before any re-check), read again at 53 s with their roles in place:
        // both keep them.
        server.clock.advance(chrono::Duration::seconds(44));
        alice_client.list_users(&Default::default()).await.unwrap();
        bob_client.list_users(&Default::default()).await.unwrap();
        server.clock.advance(chrono::Duration::seconds(9));
        assert_eq!(server.easel.refresh_cached_keys().await.unwrap(), 2);
        alice_client.list_users(&Default::default()).await.unwrap();
        bob_client.list_users(&Default::default()).await.unwrap();

        let elsewhere = easel::open_store(&server.db.url).await.unwrap();
        let tenant = elsewhere.api_key_by_hash(&easel_core::apikey::KeyFormat::parse(&bob_key.api_key).unwrap())
            .await.unwrap().unwrap().tenant.uid;
        let team_uid = easel_core::Uid::parse(serde_json::from_str::<serde_json::Value>(&team).unwrap()["uid"].as_str().unwrap()).unwrap();
        for (n, kind, subject) in [
            (1, easel_core::model::SubjectKind::Team, team_uid),
            (2, easel_core::model::SubjectKind::User, easel_core::Uid::parse(&bob).unwrap()),
        ] {
            let audit = easel_core::model::AuditEntry {
                uid: easel_core::Uid::from_stored(format!("{n:024x}")),
                tenant_uid: tenant.clone(),
                actor_uid: None,
                action: "roles.set".into(),
                resource_kind: "subject".into(),
                resource_uid: subject.clone(),
                detail: String::new(),
                at: test_epoch(),
                project_uid: None,
            };
            elsewhere.set_bindings(&tenant, kind, &subject, false, &[], &audit).await.unwrap();
        }
        // Refreshed at 53 s, so re-checked at 98-113 s: still trusted at 97 s.
        server.clock.advance(chrono::Duration::seconds(44));
        alice_client.list_users(&Default::default()).await.unwrap();
        bob_client.list_users(&Default::default()).await.unwrap();
        server.clock.advance(chrono::Duration::seconds(9));
        assert_eq!(server.easel.refresh_cached_keys().await.unwrap(), 2);
        for client in [&alice_client, &bob_client] {
            let refused = client.list_users(&Default::default()).await.unwrap_err();
            assert_eq!(refused.status(), Some(reqwest::StatusCode::FORBIDDEN));
        }
    }

    async fn every_change_that_can_alter_a_key_moves_its_tenants_stamp_and_nothing_else_does(server) {
        let store = easel::open_store(&server.db.url).await.unwrap();
        let tenant = easel_core::Uid::parse(server.tenant_uid()).unwrap();
        let other = server.other_tenant("globex").await;
        let other_tenant = easel_core::Uid::parse(&other.user_info().await.unwrap().tenant_uid).unwrap();
        let other_before = auth_stamp(&store, &other_tenant).await;
        let before = auth_stamp(&store, &tenant).await;
        // Creating a key, and counting, writing and folding its uses, cannot alter any cached
        // caller: the stamp stays, so a busy tenant's keys are not all read again.
        let alice = server.create_user("alice@acme.test", &[]).await;
        let key = server.admin_create_key_for(&alice, "stamped").await;
        let client = server.anonymous.with_api_key(&key.api_key);
        client.user_info().await.unwrap();
        client.user_info().await.unwrap();
        server.easel.flush_usage().await.unwrap();
        assert_eq!(server.admin.get_api_key(&key.uid).await.unwrap().status.use_count, 2);
        assert_eq!(auth_stamp(&store, &tenant).await, before, "a key's creation or its usage moved the stamp");

        let mut last = before;
        let mut moved = |now: i64, what: &str| {
            assert!(now > last, "{what} did not move the stamp ({last} → {now})");
            last = now;
        };

        let mut edit = proto::ApiKeyUpdate::default();
        edit.metadata.name = Some("renamed".into());
        server.admin.update_api_key(&key.uid, &edit).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "a key's edit");
        server.admin.set_api_key_active(&key.uid, false).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "a key's revocation");
        server.admin.update_user(&alice, &rename("alice@acme.test", "Alicia", "Keys")).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "a user's edit");
        readers_team(&server, &alice).await;
        moved(auth_stamp(&store, &tenant).await, "a team with a member and a role");
        let settings = server.admin.api_key_settings(server.tenant_uid()).await.unwrap();
        server.admin.set_api_key_settings(server.tenant_uid(), &settings).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "the tenant's own update");
        server.admin.delete_api_key(&key.uid).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "a key's deletion");
        server.admin.delete_user(&alice).await.unwrap();
        moved(auth_stamp(&store, &tenant).await, "a user's deletion");

        assert_eq!(auth_stamp(&store, &other_tenant).await, other_before, "another tenant's stamp moved");
    }

    async fn a_key_of_an_unchanged_tenant_is_kept_unread_and_read_in_full_within_ten_intervals(server) {
        // The key is revoked behind the store's back (its trigger removed first), so that its
        // tenant's stamp does not move: the refresh keeps it on the stamp without reading it,
        // which shows that it does not read it, until its full read is due.
        let key = server.admin.create_api_key(&key_entity("unread", "", None)).await.unwrap();
        let client = server.anonymous.with_api_key(&key.api_key);
        client.user_info().await.unwrap();
        revoke_unstamped(&server, &key.api_key).await;
        let before = lookups(&server);
        let held = server.easel.cache_len();
        let mut extended = 0;
        let mut dropped_at = None;
        for step in 1..=130 {
            server.clock.advance(chrono::Duration::seconds(5));
            client.user_info().await.unwrap();
            assert_eq!(lookups(&server), before, "the key was read on a request at {} s", step * 5);
            extended += server.easel.refresh_cached_keys().await.unwrap();
            if server.easel.cache_len() < held {
                dropped_at = Some(step * 5);
                break;
            }
        }
        let dropped_at = dropped_at.expect("never read in full within 650 s");
        assert!((300..=610).contains(&dropped_at), "read in full at {dropped_at} s");
        assert!(extended >= 4, "kept on its stamp only {extended} times");
        let refused = client.user_info().await.unwrap_err();
        assert_eq!(refused.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    }

    async fn key_uses_are_counted_in_memory_and_written_in_batches(server) {
        let key = server.admin.create_api_key(&key_entity("counted", "", None)).await.unwrap();
        let counted = server.anonymous.with_api_key(&key.api_key);
        for _ in 0..7 {
            counted.user_info().await.unwrap();
        }
        server.clock.advance(chrono::Duration::minutes(1));
        counted.user_info().await.unwrap();
        server.easel.flush_usage().await.unwrap();
        let read = server.admin.get_api_key(&key.uid).await.unwrap();
        assert_eq!(read.status.use_count, 8);
        assert_eq!(read.status.last_used, Some(test_epoch() + chrono::Duration::minutes(1)));
        // Counting goes on from there.
        counted.user_info().await.unwrap();
        server.easel.flush_usage().await.unwrap();
        assert_eq!(server.admin.get_api_key(&key.uid).await.unwrap().status.use_count, 9);
    }

    async fn a_later_flush_with_an_older_last_use_keeps_the_newer_time(server) {
        // Nodes flush in either order, and one node's clock may be behind another's: the
        // uses always add up, and the last-used time only ever moves forward. The other
        // node's flushes are written (and folded) through a store of its own on the same
        // database.
        let key = server.admin.create_api_key(&key_entity("two-nodes", "", None)).await.unwrap();
        let at = |minutes| test_epoch() + chrono::Duration::minutes(minutes);
        server.clock.set(at(2));
        server.anonymous.with_api_key(&key.api_key).user_info().await.unwrap();
        server.easel.flush_usage().await.unwrap();
        let other_node = easel::open_store(&server.db.url).await.unwrap();
        let uid = easel_core::Uid::parse(&key.uid).unwrap();
        other_node.record_key_usage(&[(uid.clone(), 2, at(1))]).await.unwrap();
        other_node.fold_key_usage().await.unwrap();
        let status = server.admin.get_api_key(&key.uid).await.unwrap().status;
        assert_eq!((status.use_count, status.last_used), (3, Some(at(2))));
        other_node.record_key_usage(&[(uid, 1, at(3))]).await.unwrap();
        other_node.fold_key_usage().await.unwrap();
        let status = server.admin.get_api_key(&key.uid).await.unwrap().status;
        assert_eq!((status.use_count, status.last_used), (4, Some(at(3))));
    }

    async fn written_uses_are_added_to_the_keys_once_whichever_nodes_fold(server) {
        // Uses written by this node and by another (a store of its own on the same
        // database), then folded by both at once and by both again: each write counts once.
        // Folded by the other node alone, the uses this node wrote before it stopped are
        // kept as well.
        let key = server.admin.create_api_key(&key_entity("journalled", "", None)).await.unwrap();
        let client = server.anonymous.with_api_key(&key.api_key);
        for _ in 0..3 {
            client.user_info().await.unwrap();
        }
        server.easel.write_usage().await.unwrap();
        let other_node = easel::open_store(&server.db.url).await.unwrap();
        let uid = easel_core::Uid::parse(&key.uid).unwrap();
        let at = |minutes| test_epoch() + chrono::Duration::minutes(minutes);
        // 70 writes: more than one fold transaction takes (64).
        for minute in 1..=70 {
            other_node.record_key_usage(&[(uid.clone(), 1, at(minute))]).await.unwrap();
        }
        let (here, there) = tokio::join!(server.easel.fold_usage(), other_node.fold_key_usage());
        let (again_here, again_there) = tokio::join!(server.easel.fold_usage(), other_node.fold_key_usage());
        let folded = here.unwrap() + there.unwrap() + again_here.unwrap() + again_there.unwrap();
        let status = server.admin.get_api_key(&key.uid).await.unwrap().status;
        assert_eq!((status.use_count, status.last_used), (73, Some(at(70))));
        // Each write is one journal row here (71), each folded by one node.
        assert_eq!(folded, 71);
        assert_eq!(server.easel.fold_usage().await.unwrap(), 0, "nothing is folded twice");
        // Written here, then folded only by the other node, as if this one had crashed.
        client.user_info().await.unwrap();
        server.easel.write_usage().await.unwrap();
        other_node.fold_key_usage().await.unwrap();
        assert_eq!(server.admin.get_api_key(&key.uid).await.unwrap().status.use_count, 74);
    }

    async fn one_flush_writes_the_counts_of_many_keys(server) {
        // 73 keys in one flush, one journal row: once folded, each key must have its own
        // count and time, not a neighbour's.
        let mut keys = Vec::new();
        for n in 0..73 {
            keys.push(server.admin.create_api_key(&key_entity(&format!("many-{n}"), "", None)).await.unwrap());
        }
        for (n, key) in keys.iter().enumerate() {
            server.clock.advance(chrono::Duration::seconds(1));
            let client = server.anonymous.with_api_key(&key.api_key);
            for _ in 0..(n % 5 + 1) {
                client.user_info().await.unwrap();
            }
        }
        server.easel.flush_usage().await.unwrap();
        for (n, key) in keys.iter().enumerate() {
            let status = server.admin.get_api_key(&key.uid).await.unwrap().status;
            assert_eq!(status.use_count, (n % 5 + 1) as i64, "key {n}");
            assert_eq!(status.last_used, Some(test_epoch() + chrono::Duration::seconds(n as i64 + 1)), "key {n}");
        }
    }
}

/// An audit row for a change written straight to the store, as another node would.
async fn auth_stamp(store: &Arc<dyn easel_core::Store>, tenant: &easel_core::Uid) -> i64 {
    let stamps = store
        .auth_stamps(std::slice::from_ref(tenant))
        .await
        .unwrap();
    assert_eq!(stamps.len(), 1, "one stamp per tenant");
    stamps[0].1
}

/// Revokes the key `presented` through a store of its own on the test's database: no change
/// is announced to the test's node, as when a notification is lost.
async fn revoke_elsewhere(server: &TestServer, presented: &str) {
    let elsewhere = easel::open_store(&server.db.url).await.unwrap();
    let hash = easel_core::apikey::KeyFormat::parse(presented).unwrap();
    let mut stored = elsewhere.api_key_by_hash(&hash).await.unwrap().unwrap().key;
    stored.is_active = false;
    elsewhere
        .update_api_key(&stored, &audit_of(&stored, "apiKey.revoke"))
        .await
        .unwrap();
}

/// [`revoke_elsewhere`], with the trigger that would move the tenant's stamp taken away
/// first: a change the stamp cannot see (as after a restore from an older backup).
async fn revoke_unstamped(server: &TestServer, presented: &str) {
    use sqlx::{Connection, Executor};
    match server.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&server.db.url)
                .await
                .unwrap();
            conn.execute("DROP TRIGGER auth_stamp_keys_update")
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
            conn.execute("ALTER TABLE api_keys DISABLE TRIGGER auth_stamp_keys_update")
                .await
                .unwrap();
        }
    }
    revoke_elsewhere(server, presented).await;
}

fn audit_of(key: &easel_core::model::ApiKey, action: &str) -> easel_core::model::AuditEntry {
    easel_core::model::AuditEntry {
        uid: easel_core::Uid::from_stored("f".repeat(24)),
        tenant_uid: key.tenant_uid.clone(),
        actor_uid: None,
        action: action.into(),
        resource_kind: "apiKey".into(),
        resource_uid: key.uid.clone(),
        detail: String::new(),
        at: test_epoch(),
        project_uid: None,
    }
}

async fn start_flushing_often(backend: Backend) -> TestServer {
    start_configured(backend, |options| {
        options.usage_flush = Duration::from_millis(100);
        options.usage_fold = Duration::from_millis(100);
    })
    .await
}

on_both_stores! {
    @with start_flushing_often;

    async fn the_node_writes_counted_uses_at_its_flush_interval(server) {
        let key = server.admin.create_api_key(&key_entity("flushed", "", None)).await.unwrap();
        let counted = server.anonymous.with_api_key(&key.api_key);
        for _ in 0..3 {
            counted.user_info().await.unwrap();
        }
        // Nothing calls `flush_usage` here: the node's own tasks write the counts and fold
        // them into the key. With the default intervals (5 s, 60 s) they would not be there
        // within the 3 s waited below.
        let (admin, uid) = (&server.admin, &key.uid);
        let written = eventually(60, Duration::from_millis(50), || async move {
            admin.get_api_key(uid).await.unwrap().status.use_count == 3
        })
        .await;
        assert!(written, "uses not written within 3 s at a 100 ms interval");
    }
}

/// A node that reads its cached keys again on its own, with a re-check of 8 s (a lead of 1 s,
/// looked at every 250 ms).
async fn start_refreshing(backend: Backend) -> TestServer {
    start_configured(backend, |options| {
        options.refresh_cached_keys = true;
        options.easel.cache_recheck = chrono::Duration::seconds(8);
    })
    .await
}

on_both_stores! {
    @with start_refreshing;

    async fn the_node_reads_keys_in_use_again_on_its_own(server) {
        let key = server.admin.create_api_key(&key_entity("refreshed", "", None)).await.unwrap();
        let client = server.anonymous.with_api_key(&key.api_key);
        client.user_info().await.unwrap();
        server.clock.advance(chrono::Duration::seconds(5));
        client.user_info().await.unwrap();
        // 7 s: every re-check (6-8 s) is within the lead. Nothing calls the refresh here.
        server.clock.advance(chrono::Duration::seconds(2));
        let easel = &server.easel;
        let refreshed = eventually(60, Duration::from_millis(50), || async move {
            easel.cache_stats().refreshes >= 1
        })
        .await;
        assert!(refreshed, "no refresh within 3 s at a 250 ms interval");
    }
}

/// Two nodes on one PostgreSQL: a key revoked on one, and a role taken away on one, are
/// refused by the other as soon as the notification arrives — the clocks do not move, so the
/// periodic re-check cannot be what does it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other() {
    let first = start(Backend::Postgres).await;
    let second = second_node(&first, Arc::new(ManualClock::new(test_epoch()))).await;

    let (alice, _) = first.user_with_key("alice@acme.test").await;
    let key = first.admin_create_key_for(&alice, "roaming").await;
    let on_second = second.anonymous.with_api_key(&key.api_key);
    on_second.user_info().await.unwrap();
    on_second.user_info().await.unwrap();
    first
        .admin
        .set_api_key_active(&key.uid, false)
        .await
        .unwrap();
    let on_second = &on_second;
    let refused = eventually(200, Duration::from_millis(50), || async move {
        on_second.user_info().await.is_err()
    })
    .await;
    assert!(
        refused,
        "the second node still accepts a key revoked on the first"
    );

    // A role taken away.
    first
        .admin
        .raw(
            reqwest::Method::PUT,
            &format!("/v1/users/{alice}/roles"),
            Some(r#"{"roles":["Tenant Viewer"]}"#),
        )
        .await
        .unwrap();
    let key = first.admin_create_key_for(&alice, "viewer").await;
    let viewer_on_second = second.anonymous.with_api_key(&key.api_key);
    viewer_on_second
        .list_users(&Default::default())
        .await
        .unwrap();
    first
        .admin
        .raw(
            reqwest::Method::PUT,
            &format!("/v1/users/{alice}/roles"),
            Some(r#"{"roles":[]}"#),
        )
        .await
        .unwrap();
    let viewer_on_second = &viewer_on_second;
    let refused = eventually(200, Duration::from_millis(50), || async move {
        viewer_on_second
            .list_users(&Default::default())
            .await
            .is_err()
    })
    .await;
    assert!(
        refused,
        "the second node still grants a role taken away on the first"
    );
    drop(second);
}

/// Two nodes on one PostgreSQL: an owner renamed on one shows beside their keys on the other
/// once the notification arrives. The clocks do not move, so the re-check of kept names is
/// not what does it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_renamed_on_one_node_shows_on_the_other() {
    let first = start(Backend::Postgres).await;
    let second = second_node(&first, Arc::new(ManualClock::new(test_epoch()))).await;
    let alice = first.create_user("alice@acme.test", &[]).await;
    let key = first.admin_create_key_for(&alice, "named").await;
    let before = listed_owner(&second, &key.uid).await;
    first
        .admin
        .update_user(&alice, &rename("alice@acme.test", "Alicia", "Keys"))
        .await
        .unwrap();
    let renamed = ("Alicia".to_owned(), "Keys".to_owned());
    assert_ne!(before, renamed);
    let (second, key, renamed) = (&second, &key, &renamed);
    let seen = eventually(200, Duration::from_millis(50), || async move {
        &listed_owner(second, &key.uid).await == renamed
    })
    .await;
    assert!(seen, "the second node still shows the owner's old name");
}

/// `listmeta.count` of the tenant's API keys, as `server`'s admin sees it.
async fn key_count(server: &TestServer) -> i64 {
    let list = server.admin.list_api_keys(&Default::default()).await;
    list.unwrap().listmeta.count
}

/// Two nodes on one PostgreSQL: a key created on one shows in the other's `listmeta.count`
/// after that count goes stale. The stale total is served once more while one background
/// recount runs, so no request waits for the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_list_count_is_recounted_in_the_background() {
    let first = start(Backend::Postgres).await;
    let second_clock = Arc::new(ManualClock::new(test_epoch()));
    let second = second_node(&first, second_clock.clone()).await;

    let before = key_count(&second).await;
    let elsewhere = key_entity("elsewhere", "", None);
    first.admin.create_api_key(&elsewhere).await.unwrap();
    // Fresh on the second node: its count does not know of the first node's key yet.
    assert_eq!(key_count(&second).await, before);

    second_clock.advance(chrono::Duration::seconds(5));
    let stale = key_count(&second).await;
    assert_eq!(
        stale, before,
        "a stale count is served while it is recounted"
    );
    let second = &second;
    let recounted = eventually(200, Duration::from_millis(20), || async move {
        key_count(second).await == before + 1
    })
    .await;
    assert!(recounted, "the background recount never landed");
}

/// Every usage flush updates the row of each key used since the last one. On PostgreSQL the
/// keys' table leaves a fifth of each page free (migration 0008), so those updates can stay
/// on their rows' pages (heap-only) instead of adding to every index of the table. Also
/// fails if the binary was built without its newest migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_table_leaves_room_on_each_page_for_counter_updates() {
    use sqlx::Connection;
    let server = start(Backend::Postgres).await;
    let mut conn = sqlx::PgConnection::connect(&server.db.url).await.unwrap();
    let options: Option<Vec<String>> =
        sqlx::query_scalar("SELECT reloptions FROM pg_class WHERE relname = 'api_keys'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(options, Some(vec!["fillfactor=80".to_owned()]));
}
