//! Easel's embedded default store: one SQLite file, no setup.
//!
//! - WAL journal, so readers never wait for the writer;
//! - `synchronous = FULL`, so a commit that was answered survives a crash or power loss;
//! - foreign keys on, so deleting a user takes the user's keys and roles with it;
//! - one writer connection and a small pool of readers: SQLite allows one writer at a
//!   time anyway, and a single writer connection means write transactions queue in the pool
//!   instead of failing with `SQLITE_BUSY`.
//!
//! The SQL itself is shared with PostgreSQL (`easel-store-sql`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use easel_core::Error;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

/// Classifies a driver error. The text goes to the log, never to a client.
fn db_error(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Error::Unavailable(e.to_string())
        }
        sqlx::Error::Database(d) if d.message().contains("database is locked") => {
            Error::Unavailable(e.to_string())
        }
        _ => Error::Internal(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or a plain path)
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> Result<SqliteStore, Error> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| Error::invalid(format!("invalid SQLite database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = easel_store_sql::ping_when_idle(SqlitePoolOptions::new())
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(|e| Error::Internal(format!("migrating the SQLite database: {e}")))?;
        let reader = easel_store_sql::ping_when_idle(SqlitePoolOptions::new())
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await
            .map_err(db_error)?;
        Ok(SqliteStore { reader, writer })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// One node: nobody else to tell.
async fn publish(_: &SqliteStore, _: &str) -> Result<(), Error> {
    Ok(())
}

async fn subscribe(_: &SqliteStore) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, Error> {
    Ok(None)
}

/// Nothing: without statistics SQLite's planner already takes the indexes Easel's queries
/// are written for, and statistics gathered right after a bulk load (every key of one tenant,
/// often of one owner) led it to costlier plans (a list page and an unknown-key lookup each
/// took twice the CPU in the benchmark).
async fn refresh_statistics(_: &SqliteStore) -> Result<(), Error> {
    Ok(())
}

/// Adds counted key uses, in one transaction, 64 keys per statement: one UPDATE per key
/// made a flush of 10,000 keys 10,000 statements, holding SQLite's writer all the while.
async fn record_key_usage(
    store: &SqliteStore,
    usage: &[(easel_core::Uid, i64, chrono::DateTime<chrono::Utc>)],
) -> Result<(), Error> {
    let mut tx = store.writer.begin().await.map_err(db_error)?;
    for chunk in easel_store_sql::fixed_size_chunks(usage) {
        let mut update = sqlx::QueryBuilder::<sqlx::Sqlite>::new("WITH used (uid, uses, at) AS (");
        update.push_values(chunk, |mut row, (uid, uses, last)| {
            row.push_bind(uid.as_str())
                .push_bind(*uses)
                .push_bind(easel_core::model::to_millis(*last));
        });
        update.push(") ");
        update.push(easel_store_sql::ADD_KEY_USAGE);
        update.push(" FROM used WHERE api_keys.uid = used.uid");
        update.build().execute(&mut *tx).await.map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}

easel_store_sql::sql_store! {
    store = SqliteStore,
    db = sqlx::Sqlite,
    row = sqlx::sqlite::SqliteRow,
    roles_agg = "group_concat(role_uid, ',')",
    json_agg = "json_group_array",
    json_array = "json_array",
    json_text = "",
    key_page_as_json = true,
    random_uid = "lower(hex(randomblob(12)))",
    map_err = db_error,
    publish = publish,
    subscribe = subscribe,
    refresh_statistics = refresh_statistics,
    record_key_usage = record_key_usage,
}
