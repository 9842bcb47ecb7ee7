//! Easel's store for deployments that outgrow one node: PostgreSQL, shared by every
//! `easel serve` process. The SQL is shared with SQLite (`easel-store-sql`).

use std::time::Duration;

use easel_core::Error;
use easel_store_sql::FOLD_ROWS;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The schema, embedded when the crate compiles. A landed migration's text never changes
/// (see `landed_migrations_are_unchanged`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct PostgresStore {
    reader: PgPool,
    writer: PgPool,
    /// Connections kept out of the pool for pages of keys (`read_key_page`).
    pages: easel_store_sql::kept::KeptConnections<sqlx::Postgres>,
}

/// Classifies a driver error. The text goes to the log, never to a client.
fn db_error(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Error::Unavailable(e.to_string()),
        // Class 08 (connection exception), 57P (operator intervention: shutdown, restart,
        // a killed connection), 53 (insufficient resources); and what a new connection meets
        // when the database is closed to connections (55000), gone (3D000) or its credentials
        // changed (class 28): the store is away, not the request at fault. Class 40 too
        // (a deadlock or serialization failure rolled the transaction back, nothing of it
        // was written): two writers of one tenant can meet on its authentication stamp's
        // row in opposite orders, and the one PostgreSQL picks to fail may simply retry.
        sqlx::Error::Database(d)
            if d.code().is_some_and(|c| {
                c.starts_with("08")
                    || c.starts_with("40")
                    || c.starts_with("57P")
                    || c.starts_with("53")
                    || c.starts_with("28")
                    || c == "55000"
                    || c == "3D000"
            }) =>
        {
            Error::Unavailable(e.to_string())
        }
        _ => Error::Internal(e.to_string()),
    }
}

/// At most how many connections are kept out of the pool for pages of keys: half as many as
/// the pool holds, beside it, so that each node's total (24) stays well under PostgreSQL's
/// default of 100 connections with several nodes.
const KEPT_FOR_PAGES: usize = 8;

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and applies pending migrations. Migrations take an
    /// advisory lock, so several nodes may start at once.
    pub async fn connect(url: &str) -> Result<PostgresStore, Error> {
        let pool = easel_store_sql::ping_when_idle(PgPoolOptions::new())
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| Error::Unavailable(format!("connecting to PostgreSQL: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("migrating the PostgreSQL database: {e}")))?;
        Ok(PostgresStore {
            pages: easel_store_sql::kept::KeptConnections::new(pool.clone(), KEPT_FOR_PAGES),
            reader: pool.clone(),
            writer: pool,
        })
    }

    pub async fn close(&self) {
        self.pages.close().await;
        self.writer.close().await;
    }
}

/// The channel every node listens on for changes that may make cached callers stale.
const CHANNEL: &str = "easel_changes";

/// `NOTIFY`: delivered to every listening node (including this one, which has already
/// applied the change itself).
async fn publish(store: &PostgresStore, change: &str) -> Result<(), Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(change)
        .execute(&store.writer)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// `VACUUM (ANALYZE)`: after a bulk load the planner still assumed a few dozen keys and
/// planned a list page as "fetch every key of the tenant, then sort" (15 ms instead of under
/// 1 ms at 10,000 keys) until autovacuum came round. The vacuum sets the new rows' hint bits
/// and the visibility map now, which the first reads and autovacuum would otherwise do later,
/// under load.
async fn refresh_statistics(store: &PostgresStore) -> Result<(), Error> {
    sqlx::query("VACUUM (ANALYZE)")
        .execute(&store.writer)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// `LISTEN`, on a connection of its own that is re-opened whenever it drops. A drop may have
/// lost notifications, so every reconnection is reported as `all` (drop every cached caller).
async fn subscribe(
    store: &PostgresStore,
) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, Error> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let pool = store.writer.clone();
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .map_err(db_error)?;
    listener.listen(CHANNEL).await.map_err(db_error)?;
    tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if tx.send(notification.payload().to_owned()).await.is_err() {
                        return;
                    }
                }
                // The connection dropped; sqlx reconnects on the next call.
                Ok(None) => {
                    tracing::warn!("change feed connection lost; dropping cached callers");
                    if tx.send("all".to_owned()).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change feed error; retrying");
                    if tx.send("all".to_owned()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(Some(rx))
}

/// Journals counted key uses: one row of three arrays (keys, counts, last uses) per call,
/// which `fold_key_usage` adds to the keys later. Updating the keys themselves at every
/// flush (5 s) was, under row 2 of the benchmark (10,000 keys in use), about 85 ms of the
/// database server's CPU per flush: one new version of each key's row, with its WAL. That CPU
/// is taken from the two cores that answer requests, and it set row 2's p99. This insert is
/// one row of a few hundred kilobytes, stored uncompressed (`STORAGE EXTERNAL`), and the
/// keys' rows are updated once per fold (a minute) instead of twelve times.
async fn record_key_usage(
    store: &PostgresStore,
    usage: &[(easel_core::Uid, i64, chrono::DateTime<chrono::Utc>)],
) -> Result<(), Error> {
    let uids: Vec<&str> = usage.iter().map(|(uid, _, _)| uid.as_str()).collect();
    let uses: Vec<i64> = usage.iter().map(|(_, uses, _)| *uses).collect();
    let last: Vec<i64> = usage
        .iter()
        .map(|(_, _, at)| easel_core::model::to_millis(*at))
        .collect();
    sqlx::query("INSERT INTO key_usage_journal (key_uids, uses, last_used_at) VALUES ($1, $2, $3)")
        .bind(&uids)
        .bind(&uses)
        .bind(&last)
        .execute(&store.writer)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The advisory lock a fold holds for its transaction: one node folds at a time. Two folds
/// at once would update the same keys' rows in orders of their own and could deadlock.
const FOLD_LOCK: i64 = 0x6561_7365_6c5f_7573; // "easel_us"
/// Adds the journalled uses to the keys, `FOLD_ROWS` journal rows per transaction: each
/// transaction deletes the rows it folds, sums their counts per key and updates each key
/// once, so a journal row is folded exactly once, or (the transaction failing) not at all
/// and by the next fold. A node that finds another folding leaves it to that one.
async fn fold_key_usage(store: &PostgresStore) -> Result<u64, Error> {
    use sqlx::Row as _;
    let sql = format!(
        "WITH taken AS (DELETE FROM key_usage_journal WHERE id IN \
         (SELECT id FROM key_usage_journal ORDER BY id LIMIT {FOLD_ROWS}) \
         RETURNING key_uids, uses, last_used_at), \
         used AS (SELECT u.uid, sum(u.uses)::int8 AS uses, max(u.at) AS at \
         FROM taken, unnest(taken.key_uids, taken.uses, taken.last_used_at) AS u (uid, uses, at) \
         GROUP BY u.uid), \
         updated AS ({} FROM used WHERE api_keys.uid = used.uid RETURNING 1) \
         SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM updated)",
        easel_store_sql::ADD_KEY_USAGE
    );
    let mut folded = 0;
    loop {
        let mut tx = store.writer.begin().await.map_err(db_error)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(FOLD_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if !locked {
            return Ok(folded);
        }
        let row = sqlx::query(&sql)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let taken: i64 = row.try_get(0).map_err(db_error)?;
        folded += taken as u64;
        if taken < FOLD_ROWS {
            return Ok(folded);
        }
    }
}

/// Reads a page of API keys: 51 rows of the page's columns, read by position. (Tried and
/// measured worse: the page as one row of arrays, `array_agg` per column, saved Easel a tenth
/// of its CPU per page but cost PostgreSQL more than that; as one JSON array, as on SQLite,
/// it cost PostgreSQL more still.)
async fn read_key_page(
    store: &PostgresStore,
    page: &easel_store_sql::KeyPage<'_>,
) -> Result<Vec<easel_core::model::ApiKey>, Error> {
    use easel_core::model::{from_millis, ApiKey};
    use easel_core::Uid;
    use sqlx::Row as _;
    let sql = page.select();
    let tenant = page.tenant;
    let mut query = sqlx::query(&sql);
    for p in &page.params {
        query = query.bind(*p);
    }
    // A connection kept out of the pool: given back, it is not pinged (`kept`).
    let mut connection = store.pages.take().await.map_err(db_error)?;
    let rows = query.fetch_all(&mut *connection).await.map_err(db_error)?;
    connection.give_back();
    rows.iter()
        .map(|row| {
            Ok(ApiKey {
                uid: Uid::from_stored(row.try_get(0).map_err(db_error)?),
                tenant_uid: tenant.clone(),
                owner_uid: Uid::from_stored(row.try_get(1).map_err(db_error)?),
                name: row.try_get(2).map_err(db_error)?,
                description: row.try_get(3).map_err(db_error)?,
                hint: row.try_get(4).map_err(db_error)?,
                expires_at: from_millis(row.try_get(5).map_err(db_error)?),
                is_active: row.try_get(6).map_err(db_error)?,
                created_at: from_millis(row.try_get(7).map_err(db_error)?),
                updated_at: from_millis(row.try_get(8).map_err(db_error)?),
                last_used_at: row
                    .try_get::<Option<i64>, _>(9)
                    .map_err(db_error)?
                    .map(from_millis),
                use_count: row.try_get(10).map_err(db_error)?,
            })
        })
        .collect()
}

easel_store_sql::sql_store! {
    store = PostgresStore,
    db = sqlx::Postgres,
    row = sqlx::postgres::PgRow,
    roles_agg = "string_agg(role_uid, ',')",
    random_uid = "substr(md5(random()::text || $1), 1, 24)",
    map_err = db_error,
    publish = publish,
    subscribe = subscribe,
    refresh_statistics = refresh_statistics,
    record_key_usage = record_key_usage,
    fold_key_usage = fold_key_usage,
    read_key_page = read_key_page,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, PgConnection};

    /// Every migration as it landed: sqlx refuses to start a PostgreSQL database whose applied
    /// migrations' text has changed since. A new migration's checksum is added here.
    #[test]
    fn landed_migrations_are_unchanged() {
        let landed = [
            (1, "237352bfa63d736c2d79b131095cdf3998f470b60e58e98a9fd9470d94379df54599482e66c2e7cae61a63ae5e397fc7"),
            (2, "23e86dbee30f1011e83b06fbbce602731d7e7814e3a7d64500e5b6742bc35d3de80042c967c35455c9f732dbd3879bb2"),
            (3, "b5f93104be15d9c1b70d4a6224b0d47b556d62d9f9315b653cc38221999efcc780c37b8f2bd68e3fd7d69b6b311a860f"),
            (4, "e25ffbfc17b2d54a51e09d97722bc04cda349951b8ebbdb1c80bc9ab9d5936f9143745390bbbfe5e5cc0b99f3d6256dd"),
            (5, "66d8186725224d574560b738404cd1f9e3b2ed9f5b479fb3a571ca823bcf9c61fffe387ea3d58b272dbfd5673acc723b"),
            (6, "677111b89adb1349abbd276a52253c12c305fd63c713a9465f1c25c7df4e1ce6fb569a81c6795f98a4b33afcfff3d013"),
            (7, "5fb100441cca58785442be2db2d5d853ba784ed6cc2f1e4db5f1c60d28b75369518cc8c325239031098f1e27858e930f"),
            (8, "f48b057ab1576a51469c87cc6907e813b2734032222a2064eaf7071c91e027c2b69ba862648480510945441afe736016"),
            (9, "40286bedd944ca37c3d059b43ba635b0cf146305c629c71edd6d3120e8d1d0639a487ab00b05cbba3d19bdce3f92daeb"),
            (10, "f85d7a08b7624d539689dcf6d916f125f0815452f671fbd1683e1274dd8a65b16cde5a8b972867ae8fa9c6a0d99b7e6a"),
        ];
        let differences = easel_store_sql::migrations_changed_since_landing(&MIGRATOR, &landed);
        assert!(differences.is_empty(), "{differences:#?}");
    }

    fn test_url() -> String {
        std::env::var("EASEL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    async fn backend(connection: &mut PgConnection) -> Result<i32, sqlx::Error> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(connection)
            .await
    }

    /// A connection kept for pages is given back without the pool (and its ping) and used
    /// again; one whose query did not finish is closed, never reused; past the bound, a
    /// query takes a pooled connection; a killed one fails its next query once, and the one
    /// after gets a new connection; a take cut short while pinging an idle one leaves it
    /// closed and uncounted; closing closes the idle ones.
    #[tokio::test]
    async fn connections_kept_for_pages_are_reused_bounded_and_never_reused_unfinished() {
        use easel_store_sql::kept::KeptConnections;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&test_url())
            .await
            .unwrap();
        let kept = KeptConnections::new(pool.clone(), 1);

        let mut first = kept.take().await.unwrap();
        let pid = backend(&mut first).await.unwrap();
        first.give_back();
        assert_eq!(kept.kept(), 1);
        let mut again = kept.take().await.unwrap();
        assert_eq!(
            backend(&mut again).await.unwrap(),
            pid,
            "given back and reused"
        );

        // The bound: with the one kept connection in use, a second query takes a pooled one.
        let mut second = kept.take().await.unwrap();
        assert_ne!(backend(&mut second).await.unwrap(), pid);
        assert_eq!(kept.kept(), 1);
        second.give_back();
        assert_eq!(kept.kept(), 1, "a pooled connection goes back to the pool");

        // Not given back (its query cut short): closed, and the next take opens another.
        drop(again);
        assert_eq!(kept.kept(), 0);
        let mut fresh = kept.take().await.unwrap();
        let fresh_pid = backend(&mut fresh).await.unwrap();
        assert_ne!(
            fresh_pid, pid,
            "an unfinished query's connection is never reused"
        );
        fresh.give_back();

        // Killed while idle: its next query fails (as a pooled one idle under a second
        // would), the store drops it, and the query after gets a new connection.
        let mut other = PgConnection::connect(&test_url()).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(fresh_pid)
            .execute(&mut other)
            .await
            .unwrap();
        let mut dead = kept.take().await.unwrap();
        let mut failed = false;
        for _ in 0..50 {
            if backend(&mut dead).await.is_err() {
                failed = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(failed, "a killed backend's connection fails");
        drop(dead);
        let mut replaced = kept.take().await.unwrap();
        assert_ne!(backend(&mut replaced).await.unwrap(), fresh_pid);
        replaced.give_back();
        assert_eq!(kept.kept(), 1);

        // Idle for over a second, a kept connection is pinged before use; a take cut short
        // during that ping (its request gone) closes it and no longer counts it as kept.
        assert_eq!(
            kept.cut_a_take_short_while_pinging().await.unwrap(),
            (0, 1),
            "a take cut short while pinging keeps nothing; the next take keeps one again"
        );

        kept.close().await;
        assert_eq!(kept.kept(), 0, "closing closes the idle ones");
        let mut after = kept.take().await.unwrap();
        backend(&mut after).await.unwrap();
        after.give_back();
        assert_eq!(kept.kept(), 0, "nothing is kept once closed");
    }

    /// Two transactions that each hold what the other waits for: PostgreSQL fails one of
    /// them (40P01), which the store reports as unavailable (503, retry), not as a fault.
    #[tokio::test]
    async fn a_deadlock_is_reported_as_unavailable_for_a_retry() {
        let url = std::env::var("EASEL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut first = PgConnection::connect(&url).await.unwrap();
        let mut second = PgConnection::connect(&url).await.unwrap();
        let mut first = first.begin().await.unwrap();
        let mut second = second.begin().await.unwrap();
        // Advisory locks of this test's own (they take part in deadlock detection).
        let lock = "SELECT pg_advisory_xact_lock($1)";
        let (a, b) = (0x0EA5_E140_0001_i64, 0x0EA5_E140_0002_i64);
        sqlx::query(lock)
            .bind(a)
            .execute(&mut *first)
            .await
            .unwrap();
        sqlx::query(lock)
            .bind(b)
            .execute(&mut *second)
            .await
            .unwrap();
        let (one, other) = tokio::join!(
            sqlx::query(lock).bind(b).execute(&mut *first),
            sqlx::query(lock).bind(a).execute(&mut *second),
        );
        let failed = match (one, other) {
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
            (one, other) => panic!("expected one deadlock victim: {one:?}, {other:?}"),
        };
        let code = failed
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("40P01"));
        assert!(matches!(db_error(failed), Error::Unavailable(_)));
    }
}
