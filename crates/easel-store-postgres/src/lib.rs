//! Easel's store for deployments that outgrow one node: PostgreSQL, shared by every
//! `easel serve` process. The SQL is shared with SQLite (`easel-store-sql`).

use std::time::Duration;

use easel_core::Error;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub struct PostgresStore {
    reader: PgPool,
    writer: PgPool,
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
        // changed (class 28): the store is away, not the request at fault.
        sqlx::Error::Database(d)
            if d.code().is_some_and(|c| {
                c.starts_with("08")
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
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("migrating the PostgreSQL database: {e}")))?;
        Ok(PostgresStore {
            reader: pool.clone(),
            writer: pool,
        })
    }

    pub async fn close(&self) {
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

/// Adds counted key uses in one statement: the keys, counts and times go as three arrays,
/// which `unnest` turns back into rows. Sent as rows of a `VALUES` list (64 keys, 192
/// parameters per statement, as on SQLite), a flush of 10,000 keys was 157 statements, each
/// planned anew; timed in the server, that flush took 0.25–0.32 s that way and 0.19–0.25 s
/// this way (0.12–0.16 s with the table's fill factor of 80). The flush's work shares the
/// cores that answer requests, and it shows in their p99 (docs/performance.md, round 7).
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
    let sql = format!(
        "{} FROM unnest($1::text[], $2::int8[], $3::int8[]) AS used (uid, uses, at) \
         WHERE api_keys.uid = used.uid",
        easel_store_sql::ADD_KEY_USAGE
    );
    sqlx::query(&sql)
        .bind(&uids)
        .bind(&uses)
        .bind(&last)
        .execute(&store.writer)
        .await
        .map_err(db_error)?;
    Ok(())
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
    let rows = query.fetch_all(&store.reader).await.map_err(db_error)?;
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
    read_key_page = read_key_page,
}
