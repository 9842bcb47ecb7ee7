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

/// A list page of API keys as one row of arrays, one per column.
type KeyPageArrays = (
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<i64>>,
    Option<Vec<bool>>,
    Option<Vec<i64>>,
    Option<Vec<i64>>,
    Option<Vec<Option<i64>>>,
    Option<Vec<i64>>,
);

/// One column of a page read by `read_key_page`: NULL when the page has no rows (an aggregate
/// of nothing), otherwise one element per row, all columns filled by the same pass over the
/// rows, so that the i-th elements of the columns are one key.
fn page_column<T>(values: Option<Vec<T>>, rows: usize) -> Result<std::vec::IntoIter<T>, Error> {
    let values = values.unwrap_or_default();
    if values.len() != rows {
        return Err(Error::internal(
            "a page of API keys came back with columns of different lengths",
        ));
    }
    Ok(values.into_iter())
}

/// Reads a page of API keys as one row of arrays, one per column (`array_agg`). As 51 rows,
/// the driver's work per row and per column (a message, a stream item and a checked lookup
/// for each of 11 columns) was a tenth of Easel's CPU for a page; building JSON in the
/// server instead, as on SQLite, cost PostgreSQL more than the rows cost Easel.
async fn read_key_page(
    store: &PostgresStore,
    tenant: &easel_core::Uid,
    filter: &str,
    params: &[&str],
    limit: i64,
    offset: i64,
) -> Result<Vec<easel_core::model::ApiKey>, Error> {
    use easel_core::model::{from_millis, ApiKey};
    use easel_core::Uid;
    let aggregates = easel_store_sql::KEY_PAGE_COLUMNS
        .split(", ")
        .map(|column| format!("array_agg({})", column.replace("k.", "p.")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {aggregates} FROM (SELECT {} FROM api_keys k WHERE {filter} \
         ORDER BY k.uid LIMIT {limit} OFFSET {offset}) p",
        easel_store_sql::KEY_PAGE_COLUMNS,
    );
    let mut query = sqlx::query_as::<_, KeyPageArrays>(&sql);
    for p in params {
        query = query.bind(*p);
    }
    let (
        uids,
        owners,
        names,
        descriptions,
        hints,
        expiries,
        active,
        created,
        updated,
        used,
        counts,
    ) = query.fetch_one(&store.reader).await.map_err(db_error)?;
    let uids = uids.unwrap_or_default();
    let n = uids.len();
    let mut owners = page_column(owners, n)?;
    let mut names = page_column(names, n)?;
    let mut descriptions = page_column(descriptions, n)?;
    let mut hints = page_column(hints, n)?;
    let mut expiries = page_column(expiries, n)?;
    let mut active = page_column(active, n)?;
    let mut created = page_column(created, n)?;
    let mut updated = page_column(updated, n)?;
    let mut used = page_column(used, n)?;
    let mut counts = page_column(counts, n)?;
    let mut keys = Vec::with_capacity(n);
    for uid in uids {
        // Each column has `n` elements (`page_column`); `unwrap_or_default` is never reached.
        keys.push(ApiKey {
            uid: Uid::from_stored(uid),
            tenant_uid: tenant.clone(),
            owner_uid: Uid::from_stored(owners.next().unwrap_or_default()),
            name: names.next().unwrap_or_default(),
            description: descriptions.next().unwrap_or_default(),
            hint: hints.next().unwrap_or_default(),
            expires_at: from_millis(expiries.next().unwrap_or_default()),
            is_active: active.next().unwrap_or_default(),
            created_at: from_millis(created.next().unwrap_or_default()),
            updated_at: from_millis(updated.next().unwrap_or_default()),
            last_used_at: used.next().flatten().map(from_millis),
            use_count: counts.next().unwrap_or_default(),
        });
    }
    // The rows were selected in uid order, and an aggregate over a sorted subquery keeps it
    // in practice, but SQL does not promise it.
    if !keys.is_sorted_by(|a, b| a.uid <= b.uid) {
        keys.sort_by(|a, b| a.uid.cmp(&b.uid));
    }
    Ok(keys)
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
