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
use easel_store_sql::FOLD_ROWS;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The schema, embedded when the crate compiles. A landed migration's text never changes
/// (see `landed_migrations_are_unchanged`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Reader connections kept out of the pool for pages of keys (`read_key_page`), as many
    /// as the pool holds beside it.
    pages: easel_store_sql::kept::KeptConnections<sqlx::Sqlite>,
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
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| Error::Internal(format!("migrating the SQLite database: {e}")))?;
        let reader = easel_store_sql::ping_when_idle(SqlitePoolOptions::new())
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await
            .map_err(db_error)?;
        Ok(SqliteStore {
            pages: easel_store_sql::kept::KeptConnections::new(reader.clone(), 4),
            reader,
            writer,
        })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pages.close().await;
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

/// Journals counted key uses: one row holding a JSON array of `[key, uses, last use]` per
/// call (about 100 kB per 2,048 keys), which `fold_key_usage` adds to the keys later, as on
/// PostgreSQL. Updating the keys themselves at every flush (5 s) rewrote each key's page
/// twelve times a minute; with the journal they are rewritten once per fold, and under the
/// benchmark's row 2 (10,000 keys) the node wrote about a quarter fewer bytes
/// (docs/performance.md, round 11).
async fn record_key_usage(
    store: &SqliteStore,
    usage: &[(easel_core::Uid, i64, chrono::DateTime<chrono::Utc>)],
) -> Result<(), Error> {
    let entries: Vec<(&str, i64, i64)> = usage
        .iter()
        .map(|(uid, uses, at)| (uid.as_str(), *uses, easel_core::model::to_millis(*at)))
        .collect();
    let entries = serde_json::to_string(&entries)
        .map_err(|e| Error::internal(format_args!("encoding key uses: {e}")))?;
    sqlx::query("INSERT INTO key_usage_journal (entries) VALUES (?)")
        .bind(entries)
        .execute(&store.writer)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Adds the journalled uses to the keys, the oldest `FOLD_ROWS` journal rows per transaction:
/// each transaction sums their counts per key, updates each key once and deletes the rows,
/// so a journal row is folded exactly once, or (the transaction failing) not at all and by
/// the next fold. SQLite's one writer lock makes folds on two connections take turns; the
/// update comes first so that the transaction holds that lock before it reads which rows to
/// take, and the delete sees the same rows.
async fn fold_key_usage(store: &SqliteStore) -> Result<u64, Error> {
    const TAKEN: &str = "id <= (SELECT max(id) FROM \
         (SELECT id FROM key_usage_journal ORDER BY id LIMIT ?1))";
    let add = format!(
        "WITH used (uid, uses, at) AS (SELECT e.value ->> 0, sum(e.value ->> 1), \
         max(e.value ->> 2) FROM key_usage_journal j, json_each(j.entries) e \
         WHERE j.{TAKEN} GROUP BY 1) \
         {} FROM used WHERE api_keys.uid = used.uid",
        easel_store_sql::ADD_KEY_USAGE
    );
    let delete = format!("DELETE FROM key_usage_journal WHERE {TAKEN}");
    let mut folded = 0;
    loop {
        let mut tx = store.writer.begin().await.map_err(db_error)?;
        sqlx::query(&add)
            .bind(FOLD_ROWS)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let taken = sqlx::query(&delete)
            .bind(FOLD_ROWS)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        tx.commit().await.map_err(db_error)?;
        folded += taken;
        if taken < FOLD_ROWS as u64 {
            return Ok(folded);
        }
    }
}

/// One API key of a list page as `read_key_page` encodes it: a JSON array of the key's
/// columns, in the order of `KEY_PAGE_COLUMNS`.
#[derive(serde::Deserialize)]
struct KeyPageRow(
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
);

/// Reads a page of API keys aggregated by SQLite into one JSON array: one value instead of 51
/// rows of 11 columns, each column copied out of the database by the driver.
async fn read_key_page(
    store: &SqliteStore,
    page: &easel_store_sql::KeyPage<'_>,
) -> Result<Vec<easel_core::model::ApiKey>, Error> {
    let sql = format!(
        "SELECT json_group_array(json_array({})) FROM ({}) p",
        easel_store_sql::KEY_PAGE_COLUMNS.replace("k.", "p."),
        page.select(),
    );
    let mut query = sqlx::query_scalar::<_, Option<String>>(&sql);
    for p in &page.params {
        query = query.bind(*p);
    }
    // A connection kept out of the pool: given back, it is not pinged (`kept`).
    let mut connection = store.pages.take().await.map_err(db_error)?;
    let json = query.fetch_one(&mut *connection).await.map_err(db_error)?;
    connection.give_back();
    decode_key_page(page.tenant, json.as_deref())
}

fn decode_key_page(
    tenant: &easel_core::Uid,
    json: Option<&str>,
) -> Result<Vec<easel_core::model::ApiKey>, Error> {
    use easel_core::model::{from_millis, ApiKey};
    use easel_core::Uid;
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let mut rows: Vec<KeyPageRow> = serde_json::from_str(json)
        .map_err(|e| Error::internal(format_args!("decoding a page of API keys: {e}")))?;
    // The page was selected in uid order, but an aggregate does not promise to keep it, and
    // asking it to (`ORDER BY` inside the aggregate) made SQLite sort the page once more.
    // Sorting here costs one pass over rows that are nearly always in order already.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(rows
        .into_iter()
        .map(|r| ApiKey {
            uid: Uid::from_stored(r.0),
            tenant_uid: tenant.clone(),
            owner_uid: Uid::from_stored(r.1),
            name: r.2,
            description: r.3,
            hint: r.4,
            expires_at: from_millis(r.5),
            is_active: r.6 != 0,
            created_at: from_millis(r.7),
            updated_at: from_millis(r.8),
            last_used_at: r.9.map(from_millis),
            use_count: r.10,
        })
        .collect())
}

easel_store_sql::sql_store! {
    store = SqliteStore,
    db = sqlx::Sqlite,
    row = sqlx::sqlite::SqliteRow,
    roles_agg = "group_concat(role_uid, ',')",
    random_uid = "lower(hex(randomblob(12)))",
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

    /// Whether this connection has made its temporary marker table (temporary tables belong
    /// to the connection that made them).
    async fn marked(connection: &mut sqlx::SqliteConnection) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM temp.sqlite_master WHERE name = 'mark'")
            .fetch_one(connection)
            .await
            .unwrap()
            == 1
    }

    /// A connection kept for pages is given back without the pool (and its ping) and used
    /// again; one whose query did not finish is closed, never reused; past the bound, a
    /// query takes a pooled connection; a take cut short while pinging an idle one leaves it
    /// closed and uncounted; closing closes the idle ones.
    #[tokio::test]
    async fn connections_kept_for_pages_are_reused_bounded_and_never_reused_unfinished() {
        use easel_store_sql::kept::KeptConnections;
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("kept.db"))
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap();
        let kept = KeptConnections::new(pool, 1);

        let mut first = kept.take().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mark (x)")
            .execute(&mut *first)
            .await
            .unwrap();
        first.give_back();
        assert_eq!(kept.kept(), 1);
        let mut again = kept.take().await.unwrap();
        assert!(marked(&mut again).await, "given back and reused");

        let mut second = kept.take().await.unwrap();
        assert!(
            !marked(&mut second).await,
            "past the bound, a pooled connection"
        );
        second.give_back();
        assert_eq!(kept.kept(), 1);

        drop(again);
        assert_eq!(kept.kept(), 0);
        let mut fresh = kept.take().await.unwrap();
        assert!(
            !marked(&mut fresh).await,
            "an unfinished query's connection is never reused"
        );
        fresh.give_back();
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
    }

    /// Every migration as it landed: sqlx refuses to start a SQLite database whose applied
    /// migrations' text has changed since. A new migration's checksum is added here.
    #[test]
    fn landed_migrations_are_unchanged() {
        let landed = [
            (1, "1cfb57869b3e16d7e56300b50f42b0b7ab8dad9c1035a28e3fba1e1dcea074d381d628e31759dcdbec3fff77a6bbba96"),
            (2, "9490535ffdfd2660b6359fc2a41675c210625a90158e0dd64b3836e0cf1af7f70b61f064374fa0038b3e3738201524d3"),
            (3, "87d25fce2efc76330068ac6cc803253c5b14cb639275a6fcd6b282badc1d6f570e678dd09fca51fd255b9972746d62b4"),
            (4, "bf6a666540dd1c0894ce6175ebfec31a6c9f093afb9bb3c39fb110a7188aa3cedde6be0b534c9f45c27f2984a3c44263"),
            (5, "05392c5a804b54d6f9e380fb8363f00d64d2eaafaf0a85f272b20e0127ed1befd64e3f5bed099094901ef5d6957019e7"),
            (6, "39f7035c2f14391f5e685ec516baea5c385f9af81f8f3f01c5af16ef3502ea5e50adf329e07fe0c0378ebeb61b933b7e"),
            (7, "5fb100441cca58785442be2db2d5d853ba784ed6cc2f1e4db5f1c60d28b75369518cc8c325239031098f1e27858e930f"),
            (8, "da269c36507e50cacc5461deed48e0e6dbd3b5e9127a07a62d85e865d1cb291b68605412f4ffdf19502da44636b02b40"),
            (9, "1f77cdabd62acf230a420edc06b026db0a3343991822debfd1256a17ffe6589599d8671820ecc3a38d3de691b7c36ef1"),
        ];
        let differences = easel_store_sql::migrations_changed_since_landing(&MIGRATOR, &landed);
        assert!(differences.is_empty(), "{differences:#?}");
    }
}
