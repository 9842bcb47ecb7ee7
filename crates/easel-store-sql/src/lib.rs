//! The SQL that Easel's two stores share.
//!
//! SQLite and PostgreSQL accept the same SQL for everything Easel does (`$n` parameters,
//! `ON CONFLICT DO NOTHING`, booleans, 64-bit integers, blobs), so the [`Store`] methods are
//! written once, here, as a macro that each store crate expands for its own `sqlx` database
//! type. What differs between backends stays in the backend's crate: connecting, pragmas
//! and pool layout, migrations, error classification, and the few dialect differences
//! passed in as macro arguments (the string aggregate, how a list page of keys is read, how
//! usage counts are written).
//!
//! The expanding type must have two fields, `reader` and `writer`, both `sqlx::Pool<DB>`
//! (PostgreSQL passes the same pool twice; SQLite has one writer connection so that write
//! transactions never fight over the database lock).
//!
//! [`Store`]: ../easel_core/store/trait.Store.html

pub mod kept;

/// Splits rows for multi-row inserts into chunks of a few fixed sizes (64, 8 and 1 rows),
/// so that a batch of any size runs through at most three distinct statements, each prepared
/// once per connection and then reused, instead of one more prepared statement for every batch
/// size met (which also crowded the driver's statement cache). 64 rows stay well under
/// SQLite's limit of bound parameters per statement.
pub fn fixed_size_chunks<T>(mut rows: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    for size in [64, 8, 1] {
        while rows.len() >= size {
            let (chunk, rest) = rows.split_at(size);
            chunks.push(chunk);
            rows = rest;
        }
    }
    chunks
}

/// Journal rows a usage fold takes per transaction (each holds up to 2,048 keys' counts).
pub const FOLD_ROWS: i64 = 64;

/// What a usage fold sets on each key's row, from a row source `used (uid, uses, at)` that
/// each store builds from its journal its own way: the uses are added, and the last-used time
/// only moves forward (journal rows written by two nodes may be folded in either order).
pub const ADD_KEY_USAGE: &str = "UPDATE api_keys SET use_count = use_count + used.uses, \
     last_used_at = CASE WHEN api_keys.last_used_at IS NULL \
     OR api_keys.last_used_at < used.at THEN used.at ELSE api_keys.last_used_at END";

/// Splits the values of an `IN (…)` list into statements of a few fixed sizes (1, 8 and 64
/// values), padding the last with repeats of its final value, so that reading any number of
/// rows by key runs one statement per 64 values through at most three prepared statements.
pub fn padded_chunks<T: Clone>(values: &[T]) -> Vec<Vec<T>> {
    values
        .chunks(64)
        .map(|chunk| {
            let size = match chunk.len() {
                1 => 1,
                2..=8 => 8,
                _ => 64,
            };
            let mut padded = chunk.to_vec();
            padded.resize(size, chunk[chunk.len() - 1].clone());
            padded
        })
        .collect()
}

/// `$first, $first+1, …`: `count` numbered parameters for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long a pooled connection may sit idle and still be handed out without a ping.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(1);

/// Pool options that check a connection before use only if it sat idle for over a second,
/// as HikariCP does, instead of on every acquire (sqlx's default). The driver also pings
/// every connection it takes back, so that default cost two extra round trips per query (a
/// page of keys on PostgreSQL went from about 6,800 to 7,200–7,500 a second without the
/// one before use). A connection in steady use
/// was just proven alive by the ping on its release; one that sat idle through a database
/// restart is still caught before use.
pub fn ping_when_idle<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    options
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_BEFORE_PING {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// How each landed migration of `migrator` differs from `landed`, its versions and the
/// SHA-384 of their text as it landed (hex), one line per difference; empty when none does.
///
/// sqlx records the checksum of every migration it applies and refuses to start on a
/// database whose migration text has changed since, even by a space ("migration N was
/// previously applied but has been modified"). Each store's tests hold its list, so an edit
/// to a landed migration fails a test instead of every upgraded deployment; a change to the
/// schema is always a new migration, whose checksum is then added to the list.
pub fn migrations_changed_since_landing(
    migrator: &sqlx::migrate::Migrator,
    landed: &[(i64, &str)],
) -> Vec<String> {
    let mut differences = Vec::new();
    let present: Vec<(i64, String)> = migrator
        .iter()
        .map(|m| {
            let hex = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            (m.version, hex)
        })
        .collect();
    for (version, checksum) in &present {
        match landed.iter().find(|(v, _)| v == version) {
            Some((_, was)) if was == checksum => {}
            Some(_) => differences.push(format!(
                "migration {version}'s text changed after it landed (now {checksum}); put it \
                 back and write a new migration"
            )),
            None => differences.push(format!(
                "migration {version} is new: add ({version}, \"{checksum}\") to the landed list"
            )),
        }
    }
    for (version, _) in landed {
        if !present.iter().any(|(v, _)| v == version) {
            differences.push(format!("landed migration {version} is gone"));
        }
    }
    differences
}

/// A value bound to a statement built at run time (list filters).
#[derive(Debug, Clone, Copy)]
pub enum SqlValue<'a> {
    Text(&'a str),
    /// A time, as stored: milliseconds since the epoch.
    Millis(i64),
}

/// The columns of a list page of API keys, in order, as [`KeyPage::select`] reads them. The
/// tenant's uid is not among them: every row of a page is the tenant's (the page's filter
/// starts with it), and the reader fills it in.
pub const KEY_PAGE_COLUMNS: &str = "k.uid, k.owner_uid, k.name, k.description, k.hint, \
     k.expires_at, k.is_active, k.created_at, k.updated_at, k.last_used_at, k.use_count";

/// One page of a tenant's API keys, as the shared `list_api_keys` hands it to each store's
/// `read_key_page`: the store binds `params` in order and runs [`select`](Self::select), or
/// wraps it (SQLite aggregates the page into one JSON value).
pub struct KeyPage<'a> {
    /// The tenant whose keys these are; `filter` starts with `k.tenant_uid = $1`.
    pub tenant: &'a easel_core::Uid,
    /// The `WHERE` clause over `api_keys k`, with `$n` parameters.
    pub filter: String,
    /// The parameters of `filter`, in order.
    pub params: Vec<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

impl KeyPage<'_> {
    /// The page's rows: [`KEY_PAGE_COLUMNS`] of the keys that pass the filter, in uid order.
    pub fn select(&self) -> String {
        format!(
            "SELECT {KEY_PAGE_COLUMNS} FROM api_keys k WHERE {} ORDER BY k.uid LIMIT {} OFFSET {}",
            self.filter, self.limit, self.offset
        )
    }
}

/// Implements `easel_core::Store` for a backend.
///
/// ```ignore
/// easel_store_sql::sql_store! {
///     store = SqliteStore,
///     db = sqlx::Sqlite,
///     row = sqlx::sqlite::SqliteRow,
///     roles_agg = "group_concat(role, ',')",
///     random_uid = "lower(hex(randomblob(12)))",
///     map_err = crate::db_error,
///     publish = crate::publish,
///     subscribe = crate::subscribe,
///     refresh_statistics = crate::refresh_statistics,
///     record_key_usage = crate::record_key_usage,
///     fold_key_usage = crate::fold_key_usage,
///     read_key_page = crate::read_key_page,
/// }
/// ```
#[macro_export]
macro_rules! sql_store {
    (
        store = $store:ty,
        db = $db:ty,
        row = $row:ty,
        roles_agg = $agg:literal,
        random_uid = $random_uid:literal,
        map_err = $map_err:path,
        publish = $publish:path,
        subscribe = $subscribe:path,
        refresh_statistics = $refresh_statistics:path,
        record_key_usage = $record_key_usage:path,
        fold_key_usage = $fold_key_usage:path,
        read_key_page = $read_key_page:path $(,)?
    ) => {
        const _: () = {
            use ::easel_core::access::{Permission, Scope, TENANT_ADMIN};
            use ::easel_core::apikey::KeyHash;
            use ::easel_core::model::{
                from_millis, to_millis, ApiKey, ApiKeyView, AuditEntry, AuditView, BootstrapSeed, KeyAuth,
                KeySessionAuth,
                Binding, CustomRole, Listed, Member, PasswordPurpose, PasswordToken, PersonNames, Project,
                Session, SessionAuth, SigningKeyRecord, SignIn, Signup, SubjectKind, Team, Tenant,
                TenantFilter, User, Window,
            };
            use ::easel_core::{Error, Result, Uid};
            use ::sqlx::Row as _;

            type Tx<'a> = ::sqlx::Transaction<'a, $db>;

            const TENANT_COLUMNS: &str = "t.uid AS t_uid, t.name AS t_name, \
                t.is_active AS t_is_active, t.max_key_lifetime_days AS t_max_key_lifetime_days, \
                t.token_lifetime_minutes AS t_token_lifetime_minutes, \
                t.password_min_length AS t_password_min_length, \
                t.created_at AS t_created_at, t.updated_at AS t_updated_at, \
                t.auth_stamp AS t_auth_stamp";
            const USER_COLUMNS: &str = concat!(
                "u.uid AS u_uid, u.tenant_uid AS u_tenant_uid, u.email AS u_email, ",
                "u.first_name AS u_first_name, u.last_name AS u_last_name, ",
                "u.is_active AS u_is_active, u.password_hash AS u_password_hash, ",
                "u.is_operator AS u_is_operator, ",
                "u.created_at AS u_created_at, u.updated_at AS u_updated_at, ",
                "(SELECT ", $agg, " FROM role_bindings r WHERE r.subject_kind = 'user' ",
                "AND r.subject_uid = u.uid AND r.project_uid = '') AS u_roles"
            );
            const KEY_COLUMNS: &str = "k.uid AS k_uid, k.tenant_uid AS k_tenant_uid, \
                k.owner_uid AS k_owner_uid, k.name AS k_name, k.description AS k_description, \
                k.hint AS k_hint, k.expires_at AS k_expires_at, k.is_active AS k_is_active, \
                k.created_at AS k_created_at, k.updated_at AS k_updated_at, \
                k.last_used_at AS k_last_used_at, k.use_count AS k_use_count";
            const KEY_VIEW_FROM: &str = "FROM api_keys k JOIN users u ON u.uid = k.owner_uid";
            /// The joins behind [`KeyAuth`]: a key with its owner and tenant, read with
            /// `KEY_COLUMNS, USER_COLUMNS, TENANT_COLUMNS` by [`key_auth_from`].
            const KEY_AUTH_FROM: &str = "FROM api_keys k JOIN users u ON u.uid = k.owner_uid \
                JOIN tenants t ON t.uid = k.tenant_uid";

            fn key_auth_from(row: &$row) -> Result<KeyAuth> {
                Ok(KeyAuth {
                    key: key_from(row)?,
                    user: user_from(row)?,
                    tenant: tenant_from(row)?,
                    auth_stamp: row.try_get("t_auth_stamp").map_err($map_err)?,
                })
            }

            fn unique_or(e: ::sqlx::Error, code: &'static str, message: &str) -> Error {
                if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
                    Error::conflict(code, message)
                } else {
                    $map_err(e)
                }
            }

            fn tenant_from(row: &$row) -> Result<Tenant> {
                Ok(Tenant {
                    uid: Uid::from_stored(row.try_get("t_uid").map_err($map_err)?),
                    name: row.try_get("t_name").map_err($map_err)?,
                    is_active: row.try_get("t_is_active").map_err($map_err)?,
                    max_key_lifetime_days: row
                        .try_get("t_max_key_lifetime_days")
                        .map_err($map_err)?,
                    token_lifetime_minutes: row
                        .try_get("t_token_lifetime_minutes")
                        .map_err($map_err)?,
                    password_min_length: row.try_get("t_password_min_length").map_err($map_err)?,
                    created_at: from_millis(row.try_get("t_created_at").map_err($map_err)?),
                    updated_at: from_millis(row.try_get("t_updated_at").map_err($map_err)?),
                })
            }

            fn user_from(row: &$row) -> Result<User> {
                let roles: Option<String> = row.try_get("u_roles").map_err($map_err)?;
                let mut roles: Vec<String> = roles
                    .unwrap_or_default()
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect();
                roles.sort();
                Ok(User {
                    uid: Uid::from_stored(row.try_get("u_uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("u_tenant_uid").map_err($map_err)?),
                    email: row.try_get("u_email").map_err($map_err)?,
                    first_name: row.try_get("u_first_name").map_err($map_err)?,
                    last_name: row.try_get("u_last_name").map_err($map_err)?,
                    is_active: row.try_get("u_is_active").map_err($map_err)?,
                    is_operator: row.try_get("u_is_operator").map_err($map_err)?,
                    password_hash: row.try_get("u_password_hash").map_err($map_err)?,
                    roles,
                    created_at: from_millis(row.try_get("u_created_at").map_err($map_err)?),
                    updated_at: from_millis(row.try_get("u_updated_at").map_err($map_err)?),
                })
            }

            fn key_from(row: &$row) -> Result<ApiKey> {
                Ok(ApiKey {
                    uid: Uid::from_stored(row.try_get("k_uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("k_tenant_uid").map_err($map_err)?),
                    owner_uid: Uid::from_stored(row.try_get("k_owner_uid").map_err($map_err)?),
                    name: row.try_get("k_name").map_err($map_err)?,
                    description: row.try_get("k_description").map_err($map_err)?,
                    hint: row.try_get("k_hint").map_err($map_err)?,
                    expires_at: from_millis(row.try_get("k_expires_at").map_err($map_err)?),
                    is_active: row.try_get("k_is_active").map_err($map_err)?,
                    created_at: from_millis(row.try_get("k_created_at").map_err($map_err)?),
                    updated_at: from_millis(row.try_get("k_updated_at").map_err($map_err)?),
                    last_used_at: row
                        .try_get::<Option<i64>, _>("k_last_used_at")
                        .map_err($map_err)?
                        .map(from_millis),
                    use_count: row.try_get("k_use_count").map_err($map_err)?,
                })
            }

            fn key_view_from(row: &$row) -> Result<ApiKeyView> {
                Ok(ApiKeyView {
                    key: key_from(row)?,
                    owner_first_name: row.try_get("u_first_name").map_err($map_err)?,
                    owner_last_name: row.try_get("u_last_name").map_err($map_err)?,
                })
            }

            fn audit_from(row: &$row) -> Result<AuditEntry> {
                let actor: Option<String> = row.try_get("actor_uid").map_err($map_err)?;
                Ok(AuditEntry {
                    uid: Uid::from_stored(row.try_get("uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("tenant_uid").map_err($map_err)?),
                    actor_uid: actor.map(Uid::from_stored),
                    action: row.try_get("action").map_err($map_err)?,
                    resource_kind: row.try_get("resource_kind").map_err($map_err)?,
                    resource_uid: Uid::from_stored(
                        row.try_get("resource_uid").map_err($map_err)?,
                    ),
                    detail: row.try_get("detail").map_err($map_err)?,
                    at: from_millis(row.try_get("created_at").map_err($map_err)?),
                    project_uid: row
                        .try_get::<Option<String>, _>("project_uid")
                        .map_err($map_err)?
                        .map(Uid::from_stored),
                })
            }

            fn audit_view_from(row: &$row) -> Result<AuditView> {
                Ok(AuditView {
                    entry: audit_from(row)?,
                    actor_email: row.try_get("actor_email").map_err($map_err)?,
                })
            }

            const AUDIT_VIEW_SELECT: &str = "SELECT a.uid, a.tenant_uid, a.actor_uid, a.action, \
                a.resource_kind, a.resource_uid, a.detail, a.created_at, a.project_uid, \
                u.email AS actor_email FROM audit_log a LEFT JOIN users u ON u.uid = a.actor_uid";

            async fn insert_audit(tx: &mut Tx<'_>, a: &AuditEntry) -> Result<()> {
                insert_audits(tx, &[a]).await
            }

            /// Audit rows in multi-row inserts of a few fixed sizes (see
            /// [`$crate::fixed_size_chunks`]).
            async fn insert_audits(tx: &mut Tx<'_>, rows: &[&AuditEntry]) -> Result<()> {
                for chunk in $crate::fixed_size_chunks(rows) {
                    let mut insert = ::sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO audit_log (uid, tenant_uid, actor_uid, action, \
                         resource_kind, resource_uid, detail, created_at, updated_at, \
                         action_type, project_uid) ",
                    );
                    insert.push_values(chunk, |mut row, a| {
                        row.push_bind(a.uid.as_str())
                            .push_bind(a.tenant_uid.as_str())
                            .push_bind(a.actor_uid.as_ref().map(|u| u.as_str()))
                            .push_bind(a.action.as_str())
                            .push_bind(a.resource_kind.as_str())
                            .push_bind(a.resource_uid.as_str())
                            .push_bind(a.detail.as_str())
                            .push_bind(to_millis(a.at))
                            .push_bind(to_millis(a.at))
                            .push_bind(AuditEntry::action_type(&a.action))
                            .push_bind(a.project_uid.as_ref().map(|u| u.as_str()));
                    });
                    insert.build().execute(&mut **tx).await.map_err($map_err)?;
                }
                Ok(())
            }

            async fn insert_tenant(tx: &mut Tx<'_>, t: &Tenant) -> Result<()> {
                ::sqlx::query(
                    "INSERT INTO tenants (uid, name, is_active, max_key_lifetime_days, \
                     token_lifetime_minutes, password_min_length, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $7, $8, $5, $6)",
                )
                .bind(t.uid.as_str())
                .bind(&t.name)
                .bind(t.is_active)
                .bind(t.max_key_lifetime_days)
                .bind(to_millis(t.created_at))
                .bind(to_millis(t.updated_at))
                .bind(t.token_lifetime_minutes)
                .bind(t.password_min_length)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    unique_or(e, "TenantExists", "an organisation with this name already exists")
                })?;
                // Every tenant has a Default project from its creation.
                ::sqlx::query(concat!(
                    "INSERT INTO projects (uid, tenant_uid, name, description, labels, \
                     created_at, updated_at) VALUES (",
                    $random_uid,
                    ", $1, 'Default', '', '{}', $2, $2)"
                ))
                .bind(t.uid.as_str())
                .bind(to_millis(t.created_at))
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn write_roles(tx: &mut Tx<'_>, user: &User) -> Result<()> {
                let bindings: Vec<Binding> = user
                    .roles
                    .iter()
                    .map(|r| Binding { role_uid: r.clone(), project_uid: None })
                    .collect();
                replace_bindings(
                    tx,
                    &user.tenant_uid,
                    SubjectKind::User,
                    &user.uid,
                    false,
                    &bindings,
                    to_millis(user.updated_at),
                )
                .await
            }

            /// Replaces a subject's tenant-scope (`projects` false) or project bindings.
            async fn replace_bindings(
                tx: &mut Tx<'_>,
                tenant: &Uid,
                kind: SubjectKind,
                subject: &Uid,
                projects: bool,
                bindings: &[Binding],
                now: i64,
            ) -> Result<()> {
                let scope = if projects { "project_uid <> ''" } else { "project_uid = ''" };
                ::sqlx::query(&format!(
                    "DELETE FROM role_bindings WHERE tenant_uid = $1 AND subject_kind = $2 \
                     AND subject_uid = $3 AND {scope}"
                ))
                .bind(tenant.as_str())
                .bind(kind.as_str())
                .bind(subject.as_str())
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                for b in bindings {
                    ::sqlx::query(
                        "INSERT INTO role_bindings (tenant_uid, subject_kind, subject_uid, \
                         role_uid, project_uid, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .bind(subject.as_str())
                    .bind(&b.role_uid)
                    .bind(b.project_uid.as_ref().map(|p| p.as_str()).unwrap_or(""))
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err($map_err)?;
                }
                Ok(())
            }

            async fn delete_subject_bindings(
                tx: &mut Tx<'_>,
                tenant: &Uid,
                kind: SubjectKind,
                subject: &Uid,
            ) -> Result<()> {
                ::sqlx::query(
                    "DELETE FROM role_bindings WHERE tenant_uid = $1 AND subject_kind = $2 \
                     AND subject_uid = $3",
                )
                .bind(tenant.as_str())
                .bind(kind.as_str())
                .bind(subject.as_str())
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn insert_user_row(tx: &mut Tx<'_>, u: &User) -> Result<()> {
                insert_user_only(tx, u).await?;
                write_roles(tx, u).await
            }

            /// The user's row alone, without role bindings.
            async fn insert_user_only(tx: &mut Tx<'_>, u: &User) -> Result<()> {
                insert_users(tx, &[u]).await
            }

            /// Users (without their roles) in multi-row inserts of a few fixed sizes.
            async fn insert_users(tx: &mut Tx<'_>, users: &[&User]) -> Result<()> {
                for chunk in $crate::fixed_size_chunks(users) {
                    let mut insert = ::sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO users (uid, tenant_uid, email, first_name, last_name, \
                         is_active, password_hash, created_at, updated_at, is_operator) ",
                    );
                    insert.push_values(chunk, |mut row, u| {
                        row.push_bind(u.uid.as_str())
                            .push_bind(u.tenant_uid.as_str())
                            .push_bind(u.email.as_str())
                            .push_bind(u.first_name.as_str())
                            .push_bind(u.last_name.as_str())
                            .push_bind(u.is_active)
                            .push_bind(u.password_hash.as_deref())
                            .push_bind(to_millis(u.created_at))
                            .push_bind(to_millis(u.updated_at))
                            .push_bind(u.is_operator);
                    });
                    insert.build().execute(&mut **tx).await.map_err(|e| {
                        unique_or(
                            e,
                            "UserExists",
                            "a user with this email address already exists in the tenant",
                        )
                    })?;
                }
                Ok(())
            }

            async fn insert_key_row(tx: &mut Tx<'_>, k: &ApiKey, hash: &KeyHash) -> Result<()> {
                insert_key_rows(tx, &[(k, hash)]).await
            }

            /// Keys with their hashes in multi-row inserts of a few fixed sizes.
            async fn insert_key_rows(tx: &mut Tx<'_>, keys: &[(&ApiKey, &KeyHash)]) -> Result<()> {
                for chunk in $crate::fixed_size_chunks(keys) {
                    let mut insert = ::sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO api_keys (uid, tenant_uid, owner_uid, name, description, \
                         hint, key_hash, expires_at, is_active, created_at, updated_at) ",
                    );
                    insert.push_values(chunk, |mut row, (k, hash)| {
                        row.push_bind(k.uid.as_str())
                            .push_bind(k.tenant_uid.as_str())
                            .push_bind(k.owner_uid.as_str())
                            .push_bind(k.name.as_str())
                            .push_bind(k.description.as_str())
                            .push_bind(k.hint.as_str())
                            .push_bind(&hash.0[..])
                            .push_bind(to_millis(k.expires_at))
                            .push_bind(k.is_active)
                            .push_bind(to_millis(k.created_at))
                            .push_bind(to_millis(k.updated_at));
                    });
                    insert.build().execute(&mut **tx).await.map_err($map_err)?;
                }
                Ok(())
            }

            async fn revoke_user_sessions(tx: &mut Tx<'_>, user: &User) -> Result<()> {
                ::sqlx::query(
                    "UPDATE sessions SET is_revoked = $3, updated_at = $4 \
                     WHERE user_uid = $1 AND tenant_uid = $2 AND is_revoked = $5",
                )
                .bind(user.uid.as_str())
                .bind(user.tenant_uid.as_str())
                .bind(true)
                .bind(to_millis(user.updated_at))
                .bind(false)
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                // Sessions opened with an API key have no rows: a cut-off ends them.
                ::sqlx::query(
                    "INSERT INTO user_session_cutoffs (user_uid, revoked_before) VALUES ($1, $2) \
                     ON CONFLICT (user_uid) DO UPDATE SET revoked_before = excluded.revoked_before",
                )
                .bind(user.uid.as_str())
                .bind(to_millis(user.updated_at))
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            async fn write_password(tx: &mut Tx<'_>, user: &User) -> Result<()> {
                let updated = ::sqlx::query(
                    "UPDATE users SET password_hash = $3, updated_at = $4 \
                     WHERE tenant_uid = $1 AND uid = $2",
                )
                .bind(user.tenant_uid.as_str())
                .bind(user.uid.as_str())
                .bind(user.password_hash.as_deref())
                .bind(to_millis(user.updated_at))
                .execute(&mut **tx)
                .await
                .map_err($map_err)?
                .rows_affected();
                if updated == 0 {
                    return Err(Error::NotFound { kind: "user" });
                }
                revoke_user_sessions(tx, user).await
            }

            fn session_from(row: &$row) -> Result<Session> {
                let key: Option<String> = row.try_get("s_api_key_uid").map_err($map_err)?;
                Ok(Session {
                    uid: Uid::from_stored(row.try_get("s_uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("s_tenant_uid").map_err($map_err)?),
                    user_uid: Uid::from_stored(row.try_get("s_user_uid").map_err($map_err)?),
                    api_key_uid: key.map(Uid::from_stored),
                    expires_at: from_millis(row.try_get("s_expires_at").map_err($map_err)?),
                    is_revoked: row.try_get("s_is_revoked").map_err($map_err)?,
                    created_at: from_millis(row.try_get("s_created_at").map_err($map_err)?),
                })
            }

            const PROJECT_COLUMNS: &str = "p.uid AS p_uid, p.tenant_uid AS p_tenant_uid, \
                p.name AS p_name, p.description AS p_description, p.labels AS p_labels, \
                p.created_at AS p_created_at, p.updated_at AS p_updated_at";

            fn project_from(row: &$row) -> Result<Project> {
                let labels: String = row.try_get("p_labels").map_err($map_err)?;
                Ok(Project {
                    uid: Uid::from_stored(row.try_get("p_uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("p_tenant_uid").map_err($map_err)?),
                    name: row.try_get("p_name").map_err($map_err)?,
                    description: row.try_get("p_description").map_err($map_err)?,
                    labels: ::serde_json::from_str(&labels).unwrap_or_default(),
                    created_at: from_millis(row.try_get("p_created_at").map_err($map_err)?),
                    updated_at: from_millis(row.try_get("p_updated_at").map_err($map_err)?),
                })
            }

            fn role_from(row: &$row) -> Result<CustomRole> {
                let scope: String = row.try_get("scope").map_err($map_err)?;
                let permissions: String = row.try_get("permissions").map_err($map_err)?;
                Ok(CustomRole {
                    uid: Uid::from_stored(row.try_get("uid").map_err($map_err)?),
                    tenant_uid: Uid::from_stored(row.try_get("tenant_uid").map_err($map_err)?),
                    name: row.try_get("name").map_err($map_err)?,
                    scope: Scope::parse(&scope).unwrap_or(Scope::Tenant),
                    permissions: permissions.split(',').filter_map(Permission::parse).collect(),
                    is_enabled: row.try_get("is_enabled").map_err($map_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err($map_err)?),
                    updated_at: from_millis(row.try_get("updated_at").map_err($map_err)?),
                })
            }

            fn binding_from(row: &$row) -> Result<Binding> {
                let project: String = row.try_get("project_uid").map_err($map_err)?;
                Ok(Binding {
                    role_uid: row.try_get("role_uid").map_err($map_err)?,
                    project_uid: (!project.is_empty()).then(|| Uid::from_stored(project)),
                })
            }

            async fn team_members_of(
                executor: impl ::sqlx::Executor<'_, Database = $db>,
                team: &Uid,
            ) -> Result<Vec<Uid>> {
                let members: Vec<String> = ::sqlx::query_scalar(
                    "SELECT user_uid FROM team_members WHERE team_uid = $1 ORDER BY user_uid",
                )
                .bind(team.as_str())
                .fetch_all(executor)
                .await
                .map_err($map_err)?;
                Ok(members.into_iter().map(Uid::from_stored).collect())
            }

            async fn write_team_members(tx: &mut Tx<'_>, team: &Team) -> Result<()> {
                ::sqlx::query("DELETE FROM team_members WHERE team_uid = $1")
                    .bind(team.uid.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err($map_err)?;
                for member in &team.members {
                    ::sqlx::query(
                        "INSERT INTO team_members (team_uid, user_uid, tenant_uid, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(team.uid.as_str())
                    .bind(member.as_str())
                    .bind(team.tenant_uid.as_str())
                    .bind(to_millis(team.updated_at))
                    .execute(&mut **tx)
                    .await
                    .map_err($map_err)?;
                }
                Ok(())
            }

            async fn write_project_members(
                tx: &mut Tx<'_>,
                tenant: &Uid,
                project: &Uid,
                kind: SubjectKind,
                members: &[Member],
                now: i64,
            ) -> Result<()> {
                ::sqlx::query(
                    "DELETE FROM role_bindings WHERE tenant_uid = $1 AND project_uid = $2 \
                     AND subject_kind = $3",
                )
                .bind(tenant.as_str())
                .bind(project.as_str())
                .bind(kind.as_str())
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                for member in members.iter().filter(|m| m.kind == kind) {
                    for role in &member.role_uids {
                        ::sqlx::query(
                            "INSERT INTO role_bindings (tenant_uid, subject_kind, subject_uid, \
                             role_uid, project_uid, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
                        )
                        .bind(tenant.as_str())
                        .bind(kind.as_str())
                        .bind(member.subject_uid.as_str())
                        .bind(role)
                        .bind(project.as_str())
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err($map_err)?;
                    }
                }
                Ok(())
            }

            /// Deletes one row of a tenant-scoped table by uid; `NotFound` if there is none.
            /// `table` is always one of this file's literals, never input.
            async fn delete_scoped(
                tx: &mut Tx<'_>,
                table: &'static str,
                tenant: &Uid,
                uid: &Uid,
                kind: &'static str,
            ) -> Result<()> {
                let deleted = ::sqlx::query(&format!(
                    "DELETE FROM {table} WHERE tenant_uid = $1 AND uid = $2"
                ))
                .bind(tenant.as_str())
                .bind(uid.as_str())
                .execute(&mut **tx)
                .await
                .map_err($map_err)?
                .rows_affected();
                if deleted == 0 {
                    return Err(Error::NotFound { kind });
                }
                Ok(())
            }

            /// The deployment keeps an active operator, whatever changes.
            async fn ensure_an_operator_remains(tx: &mut Tx<'_>) -> Result<()> {
                let operators: i64 = ::sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users u JOIN tenants t ON t.uid = u.tenant_uid \
                     WHERE u.is_operator = $1 AND u.is_active = $1 AND t.is_active = $1",
                )
                .bind(true)
                .fetch_one(&mut **tx)
                .await
                .map_err($map_err)?;
                if operators == 0 {
                    return Err(Error::conflict(
                        "LastOperator",
                        "this would leave the deployment without an active operator",
                    ));
                }
                Ok(())
            }

            async fn insert_password_token_row(tx: &mut Tx<'_>, token: &PasswordToken) -> Result<()> {
                ::sqlx::query("DELETE FROM password_tokens WHERE user_uid = $1 AND purpose = $2")
                    .bind(token.user_uid.as_str())
                    .bind(token.purpose.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err($map_err)?;
                ::sqlx::query(
                    "INSERT INTO password_tokens (token_hash, tenant_uid, user_uid, purpose, \
                     expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&token.hash[..])
                .bind(token.tenant_uid.as_str())
                .bind(token.user_uid.as_str())
                .bind(token.purpose.as_str())
                .bind(to_millis(token.expires_at))
                .bind(to_millis(token.created_at))
                .execute(&mut **tx)
                .await
                .map_err($map_err)?;
                Ok(())
            }

            /// The invariant that no change may break: a tenant keeps an active Tenant Admin.
            async fn ensure_an_admin_remains(tx: &mut Tx<'_>, tenant: &Uid) -> Result<()> {
                // Directly, or through a team, at tenant scope.
                let admins: i64 = ::sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users u WHERE u.tenant_uid = $1 AND u.is_active = $2 \
                     AND (EXISTS (SELECT 1 FROM role_bindings b WHERE b.subject_kind = 'user' \
                          AND b.subject_uid = u.uid AND b.role_uid = $3 AND b.project_uid = '') \
                       OR EXISTS (SELECT 1 FROM team_members m JOIN role_bindings b \
                          ON b.subject_kind = 'team' AND b.subject_uid = m.team_uid \
                          WHERE m.user_uid = u.uid AND b.role_uid = $3 AND b.project_uid = ''))",
                )
                .bind(tenant.as_str())
                .bind(true)
                .bind(TENANT_ADMIN)
                .fetch_one(&mut **tx)
                .await
                .map_err($map_err)?;
                if admins == 0 {
                    return Err(Error::conflict(
                        "LastTenantAdmin",
                        "this would leave the tenant without an active Tenant Admin",
                    ));
                }
                Ok(())
            }

            #[::async_trait::async_trait]
            impl ::easel_core::Store for $store {
                async fn ping(&self) -> Result<()> {
                    ::sqlx::query("SELECT 1")
                        .execute(&self.reader)
                        .await
                        .map_err($map_err)?;
                    Ok(())
                }

                async fn deployment_secret(&self, candidate: &[u8]) -> Result<Vec<u8>> {
                    ::sqlx::query(
                        "INSERT INTO deployment (id, secret, created_at, updated_at) \
                         VALUES (1, $1, 0, 0) ON CONFLICT DO NOTHING",
                    )
                    .bind(candidate)
                    .execute(&self.writer)
                    .await
                    .map_err($map_err)?;
                    ::sqlx::query_scalar("SELECT secret FROM deployment WHERE id = 1")
                        .fetch_one(&self.writer)
                        .await
                        .map_err($map_err)
                }

                async fn bootstrap(&self, seed: &BootstrapSeed) -> Result<bool> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let now = to_millis(seed.tenant.created_at);
                    let claimed = ::sqlx::query(
                        "INSERT INTO bootstrap (id, created_at, updated_at) VALUES (1, $1, $1) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if claimed == 0 {
                        return Ok(false);
                    }
                    insert_tenant(&mut tx, &seed.tenant).await?;
                    insert_user_row(&mut tx, &seed.admin).await?;
                    insert_key_row(&mut tx, &seed.key, &seed.key_hash).await?;
                    for entry in &seed.audit {
                        insert_audit(&mut tx, entry).await?;
                    }
                    tx.commit().await.map_err($map_err)?;
                    Ok(true)
                }

                async fn insert_tenant(
                    &self,
                    tenant: &Tenant,
                    admin: &User,
                    audit: &[AuditEntry],
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    insert_tenant(&mut tx, tenant).await?;
                    insert_user_row(&mut tx, admin).await?;
                    for entry in audit {
                        insert_audit(&mut tx, entry).await?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn tenants(&self) -> Result<Vec<Tenant>> {
                    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants t ORDER BY t.uid");
                    ::sqlx::query(&sql)
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(tenant_from)
                        .collect()
                }

                async fn tenant(&self, uid: &Uid) -> Result<Option<Tenant>> {
                    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.uid = $1");
                    ::sqlx::query(&sql)
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(tenant_from)
                        .transpose()
                }

                async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
                    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.name = $1");
                    ::sqlx::query(&sql)
                        .bind(name)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(tenant_from)
                        .transpose()
                }

                async fn update_tenant(&self, t: &Tenant, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE tenants SET is_active = $2, max_key_lifetime_days = $3, \
                         updated_at = $4, token_lifetime_minutes = $5, password_min_length = $6 \
                         WHERE uid = $1",
                    )
                    .bind(t.uid.as_str())
                    .bind(t.is_active)
                    .bind(t.max_key_lifetime_days)
                    .bind(to_millis(t.updated_at))
                    .bind(t.token_lifetime_minutes)
                    .bind(t.password_min_length)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "tenant" });
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_user(&self, user: &User, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    insert_user_row(&mut tx, user).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn user(&self, tenant: &Uid, uid: &Uid) -> Result<Option<User>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_uid = $1 AND u.uid = $2"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(user_from)
                        .transpose()
                }

                async fn user_by_email(&self, tenant: &Uid, email: &str) -> Result<Option<User>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users u \
                         WHERE u.tenant_uid = $1 AND u.email = $2"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .bind(email)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(user_from)
                        .transpose()
                }

                async fn list_users(&self, tenant: &Uid, window: &Window) -> Result<Listed<User>> {
                    let (keyset, offset) = match &window.after {
                        Some(_) => (" AND u.uid > $2", 0),
                        None => ("", window.offset),
                    };
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_uid = $1{keyset} \
                         ORDER BY u.uid LIMIT {} OFFSET {offset}",
                        window.limit + 1
                    );
                    let mut query = ::sqlx::query(&sql).bind(tenant.as_str());
                    if let Some(after) = &window.after {
                        query = query.bind(after.as_str());
                    }
                    let rows = query.fetch_all(&self.reader).await.map_err($map_err)?;
                    let total: i64 =
                        ::sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_uid = $1")
                            .bind(tenant.as_str())
                            .fetch_one(&self.reader)
                            .await
                            .map_err($map_err)?;
                    Ok(Listed {
                        rows: rows.iter().map(user_from).collect::<Result<_>>()?,
                        total,
                    })
                }

                async fn update_user(&self, u: &User, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE users SET email = $3, first_name = $4, last_name = $5, \
                         is_active = $6, updated_at = $7 WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(u.tenant_uid.as_str())
                    .bind(u.uid.as_str())
                    .bind(&u.email)
                    .bind(&u.first_name)
                    .bind(&u.last_name)
                    .bind(u.is_active)
                    .bind(to_millis(u.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        unique_or(
                            e,
                            "UserExists",
                            "a user with this email address already exists in the tenant",
                        )
                    })?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "user" });
                    }
                    write_roles(&mut tx, u).await?;
                    if !u.is_active {
                        ::sqlx::query(
                            "UPDATE api_keys SET is_active = $3, updated_at = $4 \
                             WHERE tenant_uid = $1 AND owner_uid = $2 AND is_active = $5",
                        )
                        .bind(u.tenant_uid.as_str())
                        .bind(u.uid.as_str())
                        .bind(false)
                        .bind(to_millis(u.updated_at))
                        .bind(true)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    }
                    ensure_an_admin_remains(&mut tx, &u.tenant_uid).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn delete_user(
                    &self,
                    tenant: &Uid,
                    uid: &Uid,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    delete_scoped(&mut tx, "users", tenant, uid, "user").await?;
                    delete_subject_bindings(&mut tx, tenant, SubjectKind::User, uid).await?;
                    ensure_an_admin_remains(&mut tx, tenant).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_api_key(
                    &self,
                    key: &ApiKey,
                    hash: &KeyHash,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    insert_key_row(&mut tx, key, hash).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn api_key(&self, tenant: &Uid, uid: &Uid) -> Result<Option<ApiKeyView>> {
                    let sql = format!(
                        "SELECT {KEY_COLUMNS}, u.first_name AS u_first_name, \
                         u.last_name AS u_last_name {KEY_VIEW_FROM} \
                         WHERE k.tenant_uid = $1 AND k.uid = $2"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(key_view_from)
                        .transpose()
                }

                async fn list_api_keys(
                    &self,
                    tenant: &Uid,
                    owner: Option<&Uid>,
                    window: &Window,
                    known_total: Option<i64>,
                ) -> Result<Listed<ApiKey>> {
                    let mut filter = String::from("k.tenant_uid = $1");
                    let mut params = vec![tenant.as_str()];
                    if let Some(owner) = owner {
                        params.push(owner.as_str());
                        filter.push_str(&format!(" AND k.owner_uid = ${}", params.len()));
                    }
                    let count_sql = format!("SELECT COUNT(*) FROM api_keys k WHERE {filter}");
                    let mut offset = window.offset;
                    if let Some(after) = &window.after {
                        params.push(after.as_str());
                        filter.push_str(&format!(" AND k.uid > ${}", params.len()));
                        offset = 0;
                    }
                    // `filter` starts with the tenant ($1): every row of the page is theirs.
                    let page = $crate::KeyPage {
                        tenant,
                        filter,
                        params,
                        limit: window.limit + 1,
                        offset,
                    };
                    let rows = $read_key_page(self, &page).await?;
                    let total = match known_total {
                        Some(total) => total,
                        None => {
                            let mut count =
                                ::sqlx::query_scalar::<_, i64>(&count_sql).bind(tenant.as_str());
                            if let Some(owner) = owner {
                                count = count.bind(owner.as_str());
                            }
                            count.fetch_one(&self.reader).await.map_err($map_err)?
                        }
                    };
                    Ok(Listed { rows, total })
                }

                async fn user_names(
                    &self,
                    tenant: &Uid,
                    users: &[Uid],
                ) -> Result<Vec<(Uid, PersonNames)>> {
                    let mut found = Vec::with_capacity(users.len());
                    for chunk in $crate::padded_chunks(users) {
                        let slots = $crate::placeholders(2, chunk.len());
                        let sql = format!(
                            "SELECT uid, first_name, last_name FROM users \
                             WHERE tenant_uid = $1 AND uid IN ({slots})"
                        );
                        let mut query =
                            ::sqlx::query_as::<_, (String, String, String)>(&sql).bind(tenant.as_str());
                        for uid in &chunk {
                            query = query.bind(uid.as_str());
                        }
                        for (uid, first_name, last_name) in
                            query.fetch_all(&self.reader).await.map_err($map_err)?
                        {
                            found.push((
                                Uid::from_stored(uid),
                                PersonNames {
                                    first_name,
                                    last_name,
                                },
                            ));
                        }
                    }
                    Ok(found)
                }

                async fn count_api_keys(&self, tenant: &Uid, owner: Option<&Uid>) -> Result<i64> {
                    let sql = match owner {
                        Some(_) => "SELECT COUNT(*) FROM api_keys WHERE tenant_uid = $1 AND owner_uid = $2",
                        None => "SELECT COUNT(*) FROM api_keys WHERE tenant_uid = $1",
                    };
                    let mut count = ::sqlx::query_scalar::<_, i64>(sql).bind(tenant.as_str());
                    if let Some(owner) = owner {
                        count = count.bind(owner.as_str());
                    }
                    count.fetch_one(&self.reader).await.map_err($map_err)
                }

                async fn update_api_key(&self, k: &ApiKey, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE api_keys SET name = $3, description = $4, expires_at = $5, \
                         is_active = $6, updated_at = $7 WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(k.tenant_uid.as_str())
                    .bind(k.uid.as_str())
                    .bind(&k.name)
                    .bind(&k.description)
                    .bind(to_millis(k.expires_at))
                    .bind(k.is_active)
                    .bind(to_millis(k.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "apiKey" });
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn delete_api_key(
                    &self,
                    tenant: &Uid,
                    uid: &Uid,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    delete_scoped(&mut tx, "api_keys", tenant, uid, "apiKey").await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn api_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyAuth>> {
                    let sql = format!(
                        "SELECT {KEY_COLUMNS}, {USER_COLUMNS}, {TENANT_COLUMNS} {KEY_AUTH_FROM} \
                         WHERE k.key_hash = $1"
                    );
                    let Some(row) = ::sqlx::query(&sql)
                        .bind(&hash.0[..])
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    key_auth_from(&row).map(Some)
                }

                async fn api_keys_by_hashes(
                    &self,
                    hashes: &[KeyHash],
                ) -> Result<Vec<(KeyHash, KeyAuth)>> {
                    let mut found = Vec::with_capacity(hashes.len());
                    for chunk in $crate::padded_chunks(hashes) {
                        let slots = $crate::placeholders(1, chunk.len());
                        let sql = format!(
                            "SELECT {KEY_COLUMNS}, {USER_COLUMNS}, {TENANT_COLUMNS}, \
                             k.key_hash AS k_key_hash {KEY_AUTH_FROM} WHERE k.key_hash IN ({slots})"
                        );
                        let mut query = ::sqlx::query(&sql);
                        for hash in &chunk {
                            query = query.bind(&hash.0[..]);
                        }
                        for row in query.fetch_all(&self.reader).await.map_err($map_err)? {
                            let stored: Vec<u8> = row.try_get("k_key_hash").map_err($map_err)?;
                            let Ok(hash) = <[u8; 32]>::try_from(stored.as_slice()) else {
                                return Err(Error::internal("a stored key hash is not 32 bytes"));
                            };
                            found.push((KeyHash(hash), key_auth_from(&row)?));
                        }
                    }
                    Ok(found)
                }

                async fn auth_stamps(&self, tenants: &[Uid]) -> Result<Vec<(Uid, i64)>> {
                    let mut stamps = Vec::with_capacity(tenants.len());
                    for chunk in $crate::padded_chunks(tenants) {
                        let slots = $crate::placeholders(1, chunk.len());
                        let sql =
                            format!("SELECT uid, auth_stamp FROM tenants WHERE uid IN ({slots})");
                        let mut query = ::sqlx::query(&sql);
                        for tenant in &chunk {
                            query = query.bind(tenant.as_str());
                        }
                        for row in query.fetch_all(&self.reader).await.map_err($map_err)? {
                            stamps.push((
                                Uid::from_stored(row.try_get("uid").map_err($map_err)?),
                                row.try_get("auth_stamp").map_err($map_err)?,
                            ));
                        }
                    }
                    Ok(stamps)
                }

                async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                    ::sqlx::query(
                        "SELECT kid, seed, public_key, created_at, retires_at FROM signing_keys \
                         ORDER BY created_at DESC, kid",
                    )
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?
                    .iter()
                    .map(|row| {
                        Ok(SigningKeyRecord {
                            kid: row.try_get("kid").map_err($map_err)?,
                            seed: row.try_get("seed").map_err($map_err)?,
                            public_key: row.try_get("public_key").map_err($map_err)?,
                            created_at: from_millis(row.try_get("created_at").map_err($map_err)?),
                            retires_at: from_millis(row.try_get("retires_at").map_err($map_err)?),
                        })
                    })
                    .collect()
                }

                async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO signing_keys (kid, seed, public_key, created_at, retires_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, $4)",
                    )
                    .bind(&key.kid)
                    .bind(&key.seed[..])
                    .bind(&key.public_key[..])
                    .bind(to_millis(key.created_at))
                    .bind(to_millis(key.retires_at))
                    .execute(&self.writer)
                    .await
                    .map_err($map_err)?;
                    Ok(())
                }

                async fn write_sign_ins(&self, batch: &[SignIn]) -> Result<()> {
                    let opened: Vec<&Session> =
                        batch.iter().filter_map(|s| s.session.as_ref()).collect();
                    let audits: Vec<&AuditEntry> = batch.iter().map(|s| &s.audit).collect();
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    for chunk in $crate::fixed_size_chunks(&opened) {
                        let mut sessions = ::sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO sessions (uid, tenant_uid, user_uid, api_key_uid, \
                             expires_at, is_revoked, created_at, updated_at) ",
                        );
                        sessions.push_values(chunk, |mut row, s| {
                            row.push_bind(s.uid.as_str())
                                .push_bind(s.tenant_uid.as_str())
                                .push_bind(s.user_uid.as_str())
                                .push_bind(s.api_key_uid.as_ref().map(|k| k.as_str()))
                                .push_bind(to_millis(s.expires_at))
                                .push_bind(s.is_revoked)
                                .push_bind(to_millis(s.created_at))
                                .push_bind(to_millis(s.created_at));
                        });
                        sessions.build().execute(&mut *tx).await.map_err($map_err)?;
                    }
                    insert_audits(&mut tx, &audits).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn session_auth(&self, uid: &Uid) -> Result<Option<SessionAuth>> {
                    let sql = format!(
                        "SELECT s.uid AS s_uid, s.tenant_uid AS s_tenant_uid, \
                         s.user_uid AS s_user_uid, s.api_key_uid AS s_api_key_uid, \
                         s.expires_at AS s_expires_at, s.is_revoked AS s_is_revoked, \
                         s.created_at AS s_created_at, \
                         {USER_COLUMNS}, {TENANT_COLUMNS}, {KEY_COLUMNS} \
                         FROM sessions s JOIN users u ON u.uid = s.user_uid \
                         JOIN tenants t ON t.uid = s.tenant_uid \
                         LEFT JOIN api_keys k ON k.uid = s.api_key_uid WHERE s.uid = $1"
                    );
                    let Some(row) = ::sqlx::query(&sql)
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    let key_uid: Option<String> = row.try_get("k_uid").map_err($map_err)?;
                    Ok(Some(SessionAuth {
                        session: session_from(&row)?,
                        user: user_from(&row)?,
                        tenant: tenant_from(&row)?,
                        key: match key_uid {
                            Some(_) => Some(key_from(&row)?),
                            None => None,
                        },
                    }))
                }

                async fn key_session_auth(
                    &self,
                    key: &Uid,
                    sid: &Uid,
                ) -> Result<Option<KeySessionAuth>> {
                    let sql = format!(
                        "SELECT {KEY_COLUMNS}, {USER_COLUMNS}, {TENANT_COLUMNS}, \
                         s.uid AS revoked_session, c.revoked_before AS revoked_before \
                         {KEY_AUTH_FROM} \
                         LEFT JOIN sessions s ON s.uid = $2 AND s.is_revoked = $3 \
                         LEFT JOIN user_session_cutoffs c ON c.user_uid = k.owner_uid \
                         WHERE k.uid = $1"
                    );
                    let Some(row) = ::sqlx::query(&sql)
                        .bind(key.as_str())
                        .bind(sid.as_str())
                        .bind(true)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    let revoked: Option<String> =
                        row.try_get("revoked_session").map_err($map_err)?;
                    let revoked_before: Option<i64> =
                        row.try_get("revoked_before").map_err($map_err)?;
                    Ok(Some(KeySessionAuth {
                        auth: key_auth_from(&row)?,
                        session_revoked: revoked.is_some(),
                        sessions_revoked_before: revoked_before.map(from_millis),
                    }))
                }

                async fn revoke_sessions(
                    &self,
                    sessions: &[Session],
                    audit: &[AuditEntry],
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    for (session, entry) in sessions.iter().zip(audit) {
                        // An upsert: a password session has a row to mark; one opened with
                        // an API key gets a revoked row, which its tokens are checked against.
                        // The SELECT skips a session whose user or key is already gone.
                        ::sqlx::query(
                            "INSERT INTO sessions (uid, tenant_uid, user_uid, api_key_uid, \
                             expires_at, is_revoked, created_at, updated_at) \
                             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                             WHERE EXISTS (SELECT 1 FROM users WHERE uid = $3 AND tenant_uid = $2) \
                             AND ($4 IS NULL OR EXISTS (SELECT 1 FROM api_keys WHERE uid = $4)) \
                             ON CONFLICT (uid) DO UPDATE SET is_revoked = excluded.is_revoked, \
                             updated_at = excluded.updated_at \
                             WHERE sessions.tenant_uid = excluded.tenant_uid",
                        )
                        .bind(session.uid.as_str())
                        .bind(session.tenant_uid.as_str())
                        .bind(session.user_uid.as_str())
                        .bind(session.api_key_uid.as_ref().map(|k| k.as_str()))
                        .bind(to_millis(session.expires_at))
                        .bind(true)
                        .bind(to_millis(entry.at))
                        .bind(to_millis(entry.at))
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                        insert_audit(&mut tx, entry).await?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn accounts_by_email(&self, email: &str) -> Result<Vec<(User, Tenant)>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS}, {TENANT_COLUMNS} FROM users u \
                         JOIN tenants t ON t.uid = u.tenant_uid WHERE u.email = $1 ORDER BY t.name"
                    );
                    ::sqlx::query(&sql)
                        .bind(email)
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(|row| Ok((user_from(row)?, tenant_from(row)?)))
                        .collect()
                }

                async fn set_password(&self, user: &User, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    write_password(&mut tx, user).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_password_token(&self, token: &PasswordToken) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    insert_password_token_row(&mut tx, token).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn password_token(
                    &self,
                    hash: &[u8; 32],
                ) -> Result<Option<(PasswordToken, User)>> {
                    let sql = format!(
                        "SELECT p.purpose AS p_purpose, p.expires_at AS p_expires_at, \
                         p.created_at AS p_created_at, {USER_COLUMNS} FROM password_tokens p \
                         JOIN users u ON u.uid = p.user_uid WHERE p.token_hash = $1"
                    );
                    let Some(row) = ::sqlx::query(&sql)
                        .bind(&hash[..])
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    let user = user_from(&row)?;
                    let purpose: String = row.try_get("p_purpose").map_err($map_err)?;
                    let purpose = match purpose.as_str() {
                        "reset" => PasswordPurpose::Reset,
                        "activate" => PasswordPurpose::Activate,
                        _ => return Ok(None),
                    };
                    Ok(Some((
                        PasswordToken {
                            hash: *hash,
                            tenant_uid: user.tenant_uid.clone(),
                            user_uid: user.uid.clone(),
                            purpose,
                            expires_at: from_millis(row.try_get("p_expires_at").map_err($map_err)?),
                            created_at: from_millis(row.try_get("p_created_at").map_err($map_err)?),
                        },
                        user,
                    )))
                }

                async fn redeem_password_token(
                    &self,
                    hash: &[u8; 32],
                    purpose: PasswordPurpose,
                    user: &User,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let used = ::sqlx::query(
                        "DELETE FROM password_tokens WHERE token_hash = $1 AND purpose = $2 \
                         AND user_uid = $3 AND expires_at > $4",
                    )
                    .bind(&hash[..])
                    .bind(purpose.as_str())
                    .bind(user.uid.as_str())
                    .bind(to_millis(user.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if used == 0 {
                        return Err(Error::NotFound { kind: "password token" });
                    }
                    write_password(&mut tx, user).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn list_tenants(
                    &self,
                    filter: &TenantFilter,
                    window: &Window,
                ) -> Result<Listed<Tenant>> {
                    enum Param<'a> {
                        Text(&'a str),
                        Flag(bool),
                    }
                    let mut conditions: Vec<String> = Vec::new();
                    let mut params: Vec<Param<'_>> = Vec::new();
                    if let Some(name) = &filter.name {
                        params.push(Param::Text(name));
                        conditions.push(format!("t.name = ${}", params.len()));
                    }
                    if let Some(active) = filter.is_active {
                        params.push(Param::Flag(active));
                        conditions.push(format!("t.is_active = ${}", params.len()));
                    }
                    let count_where = if conditions.is_empty() {
                        String::new()
                    } else {
                        format!("WHERE {}", conditions.join(" AND "))
                    };
                    let count_params = params.len();
                    let mut offset = window.offset;
                    if let Some(after) = &window.after {
                        params.push(Param::Text(after.as_str()));
                        conditions.push(format!("t.uid > ${}", params.len()));
                        offset = 0;
                    }
                    let page_where = if conditions.is_empty() {
                        String::new()
                    } else {
                        format!("WHERE {}", conditions.join(" AND "))
                    };
                    let sql = format!(
                        "SELECT {TENANT_COLUMNS} FROM tenants t {page_where} ORDER BY t.uid \
                         LIMIT {} OFFSET {offset}",
                        window.limit + 1
                    );
                    let mut query = ::sqlx::query(&sql);
                    for p in &params {
                        query = match p {
                            Param::Text(t) => query.bind(*t),
                            Param::Flag(f) => query.bind(*f),
                        };
                    }
                    let rows = query.fetch_all(&self.reader).await.map_err($map_err)?;
                    let count_sql = format!("SELECT COUNT(*) FROM tenants t {count_where}");
                    let mut count = ::sqlx::query_scalar::<_, i64>(&count_sql);
                    for p in &params[..count_params] {
                        count = match p {
                            Param::Text(t) => count.bind(*t),
                            Param::Flag(f) => count.bind(*f),
                        };
                    }
                    let total = count.fetch_one(&self.reader).await.map_err($map_err)?;
                    Ok(Listed {
                        rows: rows.iter().map(tenant_from).collect::<Result<_>>()?,
                        total,
                    })
                }

                async fn delete_tenant(&self, uid: &Uid, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let deleted = ::sqlx::query("DELETE FROM tenants WHERE uid = $1")
                        .bind(uid.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(Error::NotFound { kind: "tenant" });
                    }
                    ensure_an_operator_remains(&mut tx).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn user_anywhere(&self, uid: &Uid) -> Result<Option<(User, Tenant)>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS}, {TENANT_COLUMNS} FROM users u \
                         JOIN tenants t ON t.uid = u.tenant_uid WHERE u.uid = $1"
                    );
                    ::sqlx::query(&sql)
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .map(|row| Ok((user_from(&row)?, tenant_from(&row)?)))
                        .transpose()
                }

                async fn operators(&self) -> Result<Vec<(User, Tenant)>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS}, {TENANT_COLUMNS} FROM users u \
                         JOIN tenants t ON t.uid = u.tenant_uid WHERE u.is_operator = $1 \
                         ORDER BY u.uid"
                    );
                    ::sqlx::query(&sql)
                        .bind(true)
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(|row| Ok((user_from(row)?, tenant_from(row)?)))
                        .collect()
                }

                async fn set_operator(
                    &self,
                    user: &User,
                    is_operator: bool,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE users SET is_operator = $2, updated_at = $3 WHERE uid = $1",
                    )
                    .bind(user.uid.as_str())
                    .bind(is_operator)
                    .bind(to_millis(audit.at))
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "user" });
                    }
                    ensure_an_operator_remains(&mut tx).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn tenant_domains(&self, tenant: &Uid) -> Result<Vec<String>> {
                    ::sqlx::query_scalar(
                        "SELECT domain FROM tenant_domains WHERE tenant_uid = $1 ORDER BY domain",
                    )
                    .bind(tenant.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)
                }

                async fn set_tenant_domains(
                    &self,
                    tenant: &Uid,
                    domains: &[String],
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    ::sqlx::query("DELETE FROM tenant_domains WHERE tenant_uid = $1")
                        .bind(tenant.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    for domain in domains {
                        ::sqlx::query(
                            "INSERT INTO tenant_domains (domain, tenant_uid, created_at, \
                             updated_at) VALUES ($1, $2, $3, $3)",
                        )
                        .bind(domain)
                        .bind(tenant.as_str())
                        .bind(to_millis(audit.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| {
                            unique_or(
                                e,
                                "DomainTaken",
                                "one of these domains belongs to another organisation",
                            )
                        })?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>> {
                    let sql = format!(
                        "SELECT {TENANT_COLUMNS} FROM tenant_domains d \
                         JOIN tenants t ON t.uid = d.tenant_uid WHERE d.domain = $1"
                    );
                    ::sqlx::query(&sql)
                        .bind(domain)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(tenant_from)
                        .transpose()
                }

                async fn insert_signup(&self, s: &Signup) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO signups (token_hash, email, first_name, last_name, org_name, \
                         expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    )
                    .bind(&s.hash[..])
                    .bind(&s.email)
                    .bind(&s.first_name)
                    .bind(&s.last_name)
                    .bind(&s.org_name)
                    .bind(to_millis(s.expires_at))
                    .bind(to_millis(s.created_at))
                    .execute(&self.writer)
                    .await
                    .map_err($map_err)?;
                    Ok(())
                }

                async fn signup(&self, hash: &[u8; 32]) -> Result<Option<Signup>> {
                    let Some(row) = ::sqlx::query(
                        "SELECT email, first_name, last_name, org_name, expires_at, created_at \
                         FROM signups WHERE token_hash = $1",
                    )
                    .bind(&hash[..])
                    .fetch_optional(&self.reader)
                    .await
                    .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    Ok(Some(Signup {
                        hash: *hash,
                        email: row.try_get("email").map_err($map_err)?,
                        first_name: row.try_get("first_name").map_err($map_err)?,
                        last_name: row.try_get("last_name").map_err($map_err)?,
                        org_name: row.try_get("org_name").map_err($map_err)?,
                        expires_at: from_millis(row.try_get("expires_at").map_err($map_err)?),
                        created_at: from_millis(row.try_get("created_at").map_err($map_err)?),
                    }))
                }

                async fn complete_signup(
                    &self,
                    hash: &[u8; 32],
                    tenant: &Tenant,
                    admin: &User,
                    password_token: &PasswordToken,
                    audit: &[AuditEntry],
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let used = ::sqlx::query(
                        "DELETE FROM signups WHERE token_hash = $1 AND expires_at > $2",
                    )
                    .bind(&hash[..])
                    .bind(to_millis(tenant.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if used == 0 {
                        return Err(Error::NotFound { kind: "sign-up" });
                    }
                    insert_tenant(&mut tx, tenant).await?;
                    insert_user_row(&mut tx, admin).await?;
                    insert_password_token_row(&mut tx, password_token).await?;
                    for entry in audit {
                        insert_audit(&mut tx, entry).await?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_project(
                    &self,
                    project: &Project,
                    members: &[Member],
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    ::sqlx::query(
                        "INSERT INTO projects (uid, tenant_uid, name, description, labels, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(project.uid.as_str())
                    .bind(project.tenant_uid.as_str())
                    .bind(&project.name)
                    .bind(&project.description)
                    .bind(::serde_json::to_string(&project.labels).map_err(Error::internal)?)
                    .bind(to_millis(project.created_at))
                    .bind(to_millis(project.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        unique_or(e, "ProjectExists", "a project with this name already exists")
                    })?;
                    for kind in [SubjectKind::User, SubjectKind::Team] {
                        write_project_members(
                            &mut tx,
                            &project.tenant_uid,
                            &project.uid,
                            kind,
                            members,
                            to_millis(project.created_at),
                        )
                        .await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn project(&self, tenant: &Uid, uid: &Uid) -> Result<Option<Project>> {
                    let sql = format!(
                        "SELECT {PROJECT_COLUMNS} FROM projects p \
                         WHERE p.tenant_uid = $1 AND p.uid = $2"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .bind(uid.as_str())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(project_from)
                        .transpose()
                }

                async fn projects(&self, tenant: &Uid) -> Result<Vec<Project>> {
                    let sql = format!(
                        "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.tenant_uid = $1 \
                         ORDER BY p.name, p.uid"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(project_from)
                        .collect()
                }

                async fn update_project(&self, project: &Project, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE projects SET name = $3, description = $4, labels = $5, \
                         updated_at = $6 WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(project.tenant_uid.as_str())
                    .bind(project.uid.as_str())
                    .bind(&project.name)
                    .bind(&project.description)
                    .bind(::serde_json::to_string(&project.labels).map_err(Error::internal)?)
                    .bind(to_millis(project.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        unique_or(e, "ProjectExists", "a project with this name already exists")
                    })?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "project" });
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn delete_project(
                    &self,
                    tenant: &Uid,
                    uid: &Uid,
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    delete_scoped(&mut tx, "projects", tenant, uid, "project").await?;
                    ::sqlx::query(
                        "DELETE FROM role_bindings WHERE tenant_uid = $1 AND project_uid = $2",
                    )
                    .bind(tenant.as_str())
                    .bind(uid.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn project_members(&self, tenant: &Uid, project: &Uid) -> Result<Vec<Member>> {
                    let rows = ::sqlx::query(
                        "SELECT subject_kind, subject_uid, role_uid FROM role_bindings \
                         WHERE tenant_uid = $1 AND project_uid = $2 \
                         ORDER BY subject_kind, subject_uid, role_uid",
                    )
                    .bind(tenant.as_str())
                    .bind(project.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?;
                    let mut members: Vec<Member> = Vec::new();
                    for row in &rows {
                        let kind: String = row.try_get("subject_kind").map_err($map_err)?;
                        let kind = if kind == "team" { SubjectKind::Team } else { SubjectKind::User };
                        let subject = Uid::from_stored(row.try_get("subject_uid").map_err($map_err)?);
                        let role: String = row.try_get("role_uid").map_err($map_err)?;
                        match members.last_mut() {
                            Some(m) if m.kind == kind && m.subject_uid == subject => {
                                m.role_uids.push(role)
                            }
                            _ => members.push(Member {
                                kind,
                                subject_uid: subject,
                                role_uids: vec![role],
                            }),
                        }
                    }
                    Ok(members)
                }

                async fn set_project_members(
                    &self,
                    tenant: &Uid,
                    project: &Uid,
                    kind: SubjectKind,
                    members: &[Member],
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    write_project_members(&mut tx, tenant, project, kind, members, to_millis(audit.at))
                        .await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_team(&self, team: &Team, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    ::sqlx::query(
                        "INSERT INTO teams (uid, tenant_uid, name, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(team.uid.as_str())
                    .bind(team.tenant_uid.as_str())
                    .bind(&team.name)
                    .bind(to_millis(team.created_at))
                    .bind(to_millis(team.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_or(e, "TeamExists", "a team with this name already exists"))?;
                    write_team_members(&mut tx, team).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn team(&self, tenant: &Uid, uid: &Uid) -> Result<Option<Team>> {
                    let Some(row) = ::sqlx::query(
                        "SELECT uid, tenant_uid, name, created_at, updated_at FROM teams \
                         WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(tenant.as_str())
                    .bind(uid.as_str())
                    .fetch_optional(&self.reader)
                    .await
                    .map_err($map_err)?
                    else {
                        return Ok(None);
                    };
                    Ok(Some(Team {
                        uid: uid.clone(),
                        tenant_uid: tenant.clone(),
                        name: row.try_get("name").map_err($map_err)?,
                        members: team_members_of(&self.reader, uid).await?,
                        created_at: from_millis(row.try_get("created_at").map_err($map_err)?),
                        updated_at: from_millis(row.try_get("updated_at").map_err($map_err)?),
                    }))
                }

                async fn list_teams(&self, tenant: &Uid, window: &Window) -> Result<Listed<Team>> {
                    let (keyset, offset) = match &window.after {
                        Some(_) => (" AND uid > $2", 0),
                        None => ("", window.offset),
                    };
                    let sql = format!(
                        "SELECT uid FROM teams WHERE tenant_uid = $1{keyset} ORDER BY uid \
                         LIMIT {} OFFSET {offset}",
                        window.limit + 1
                    );
                    let mut query = ::sqlx::query_scalar::<_, String>(&sql).bind(tenant.as_str());
                    if let Some(after) = &window.after {
                        query = query.bind(after.as_str());
                    }
                    let uids = query.fetch_all(&self.reader).await.map_err($map_err)?;
                    let mut rows = Vec::with_capacity(uids.len());
                    for uid in uids {
                        if let Some(team) = self.team(tenant, &Uid::from_stored(uid)).await? {
                            rows.push(team);
                        }
                    }
                    let total: i64 =
                        ::sqlx::query_scalar("SELECT COUNT(*) FROM teams WHERE tenant_uid = $1")
                            .bind(tenant.as_str())
                            .fetch_one(&self.reader)
                            .await
                            .map_err($map_err)?;
                    Ok(Listed { rows, total })
                }

                async fn update_team(&self, team: &Team, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let updated = ::sqlx::query(
                        "UPDATE teams SET name = $3, updated_at = $4 \
                         WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(team.tenant_uid.as_str())
                    .bind(team.uid.as_str())
                    .bind(&team.name)
                    .bind(to_millis(team.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_or(e, "TeamExists", "a team with this name already exists"))?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "team" });
                    }
                    write_team_members(&mut tx, team).await?;
                    ensure_an_admin_remains(&mut tx, &team.tenant_uid).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn delete_team(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    delete_scoped(&mut tx, "teams", tenant, uid, "team").await?;
                    delete_subject_bindings(&mut tx, tenant, SubjectKind::Team, uid).await?;
                    ensure_an_admin_remains(&mut tx, tenant).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_role(&self, role: &CustomRole, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let permissions: Vec<&str> = role.permissions.iter().map(|p| p.as_str()).collect();
                    ::sqlx::query(
                        "INSERT INTO roles (uid, tenant_uid, name, scope, permissions, is_enabled, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(role.uid.as_str())
                    .bind(role.tenant_uid.as_str())
                    .bind(&role.name)
                    .bind(role.scope.as_str())
                    .bind(permissions.join(","))
                    .bind(role.is_enabled)
                    .bind(to_millis(role.created_at))
                    .bind(to_millis(role.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_or(e, "RoleExists", "a role with this name already exists"))?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn role(&self, tenant: &Uid, uid: &Uid) -> Result<Option<CustomRole>> {
                    ::sqlx::query(
                        "SELECT uid, tenant_uid, name, scope, permissions, is_enabled, created_at, \
                         updated_at FROM roles WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(tenant.as_str())
                    .bind(uid.as_str())
                    .fetch_optional(&self.reader)
                    .await
                    .map_err($map_err)?
                    .as_ref()
                    .map(role_from)
                    .transpose()
                }

                async fn roles(&self, tenant: &Uid) -> Result<Vec<CustomRole>> {
                    ::sqlx::query(
                        "SELECT uid, tenant_uid, name, scope, permissions, is_enabled, created_at, \
                         updated_at FROM roles WHERE tenant_uid = $1 ORDER BY name, uid",
                    )
                    .bind(tenant.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?
                    .iter()
                    .map(role_from)
                    .collect()
                }

                async fn update_role(&self, role: &CustomRole, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    let permissions: Vec<&str> = role.permissions.iter().map(|p| p.as_str()).collect();
                    let updated = ::sqlx::query(
                        "UPDATE roles SET name = $3, permissions = $4, is_enabled = $5, \
                         updated_at = $6 WHERE tenant_uid = $1 AND uid = $2",
                    )
                    .bind(role.tenant_uid.as_str())
                    .bind(role.uid.as_str())
                    .bind(&role.name)
                    .bind(permissions.join(","))
                    .bind(role.is_enabled)
                    .bind(to_millis(role.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_or(e, "RoleExists", "a role with this name already exists"))?
                    .rows_affected();
                    if updated == 0 {
                        return Err(Error::NotFound { kind: "role" });
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn delete_role(&self, tenant: &Uid, uid: &Uid, audit: &AuditEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    delete_scoped(&mut tx, "roles", tenant, uid, "role").await?;
                    ::sqlx::query("DELETE FROM role_bindings WHERE tenant_uid = $1 AND role_uid = $2")
                        .bind(tenant.as_str())
                        .bind(uid.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn bindings(
                    &self,
                    tenant: &Uid,
                    kind: SubjectKind,
                    subject: &Uid,
                ) -> Result<Vec<Binding>> {
                    ::sqlx::query(
                        "SELECT role_uid, project_uid FROM role_bindings WHERE tenant_uid = $1 \
                         AND subject_kind = $2 AND subject_uid = $3 ORDER BY project_uid, role_uid",
                    )
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .bind(subject.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?
                    .iter()
                    .map(binding_from)
                    .collect()
                }

                async fn set_bindings(
                    &self,
                    tenant: &Uid,
                    kind: SubjectKind,
                    subject: &Uid,
                    projects: bool,
                    bindings: &[Binding],
                    audit: &AuditEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    replace_bindings(&mut tx, tenant, kind, subject, projects, bindings, to_millis(audit.at))
                        .await?;
                    ensure_an_admin_remains(&mut tx, tenant).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn effective_bindings(&self, tenant: &Uid, user: &Uid) -> Result<Vec<Binding>> {
                    ::sqlx::query(
                        "SELECT role_uid, project_uid FROM role_bindings WHERE tenant_uid = $1 AND \
                         ((subject_kind = 'user' AND subject_uid = $2) OR (subject_kind = 'team' \
                           AND subject_uid IN (SELECT team_uid FROM team_members WHERE user_uid = $2)))",
                    )
                    .bind(tenant.as_str())
                    .bind(user.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?
                    .iter()
                    .map(binding_from)
                    .collect()
                }

                async fn effective_bindings_of(
                    &self,
                    tenant: &Uid,
                    users: &[Uid],
                ) -> Result<Vec<(Uid, Binding)>> {
                    let mut found = Vec::new();
                    for chunk in $crate::padded_chunks(users) {
                        let slots = $crate::placeholders(2, chunk.len());
                        // A binding a user holds both in person and through a team comes
                        // twice: permissions are a set, so that does no harm.
                        let sql = format!(
                            "SELECT b.subject_uid AS holder, b.role_uid, b.project_uid \
                             FROM role_bindings b WHERE b.tenant_uid = $1 \
                             AND b.subject_kind = 'user' AND b.subject_uid IN ({slots}) \
                             UNION ALL \
                             SELECT m.user_uid AS holder, b.role_uid, b.project_uid \
                             FROM role_bindings b JOIN team_members m ON m.team_uid = b.subject_uid \
                             WHERE b.tenant_uid = $1 AND b.subject_kind = 'team' \
                             AND m.user_uid IN ({slots})"
                        );
                        let mut query = ::sqlx::query(&sql).bind(tenant.as_str());
                        for uid in &chunk {
                            query = query.bind(uid.as_str());
                        }
                        for row in query.fetch_all(&self.reader).await.map_err($map_err)? {
                            let holder: String = row.try_get("holder").map_err($map_err)?;
                            found.push((Uid::from_stored(holder), binding_from(&row)?));
                        }
                    }
                    Ok(found)
                }

                async fn teams_of(&self, tenant: &Uid, user: &Uid) -> Result<Vec<Team>> {
                    let uids: Vec<String> = ::sqlx::query_scalar(
                        "SELECT team_uid FROM team_members WHERE tenant_uid = $1 AND user_uid = $2 \
                         ORDER BY team_uid",
                    )
                    .bind(tenant.as_str())
                    .bind(user.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?;
                    let mut teams = Vec::new();
                    for uid in uids {
                        if let Some(team) = self.team(tenant, &Uid::from_stored(uid)).await? {
                            teams.push(team);
                        }
                    }
                    Ok(teams)
                }

                async fn all_users(&self, tenant: &Uid) -> Result<Vec<User>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_uid = $1 ORDER BY u.uid"
                    );
                    ::sqlx::query(&sql)
                        .bind(tenant.as_str())
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(user_from)
                        .collect()
                }

                async fn bulk_insert(
                    &self,
                    users: &[User],
                    keys: &[(ApiKey, KeyHash)],
                ) -> Result<()> {
                    // Multi-row statements: seeding a million keys one statement each took
                    // minutes, nearly all of it per-statement overhead.
                    let users: Vec<&User> = users.iter().collect();
                    let keys: Vec<(&ApiKey, &KeyHash)> = keys.iter().map(|(k, h)| (k, h)).collect();
                    let mut tx = self.writer.begin().await.map_err($map_err)?;
                    insert_users(&mut tx, &users).await?;
                    insert_key_rows(&mut tx, &keys).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn refresh_statistics(&self) -> Result<()> {
                    $refresh_statistics(self).await
                }

                async fn record_key_usage(
                    &self,
                    usage: &[(Uid, i64, ::chrono::DateTime<::chrono::Utc>)],
                ) -> Result<()> {
                    $record_key_usage(self, usage).await
                }

                async fn fold_key_usage(&self) -> Result<u64> {
                    $fold_key_usage(self).await
                }

                async fn publish(&self, change: &str) -> Result<()> {
                    $publish(self, change).await
                }

                async fn subscribe(
                    &self,
                ) -> Result<Option<::tokio::sync::mpsc::Receiver<String>>> {
                    $subscribe(self).await
                }

                async fn audit_entries(&self, tenant: &Uid, limit: i64) -> Result<Vec<AuditEntry>> {
                    ::sqlx::query(
                        "SELECT uid, tenant_uid, actor_uid, action, resource_kind, resource_uid, \
                         detail, created_at, project_uid FROM audit_log WHERE tenant_uid = $1 \
                         ORDER BY created_at DESC, uid DESC LIMIT $2",
                    )
                    .bind(tenant.as_str())
                    .bind(limit)
                    .fetch_all(&self.reader)
                    .await
                    .map_err($map_err)?
                    .iter()
                    .map(audit_from)
                    .collect()
                }

                async fn list_audits(
                    &self,
                    filter: &::easel_core::model::AuditFilter,
                    window: &Window,
                    count: bool,
                ) -> Result<Listed<AuditView>> {
                    // Each condition's value, in the order of the `$n` the conditions name.
                    let mut binds: Vec<$crate::SqlValue<'_>> = Vec::new();
                    let mut conditions: Vec<String> = Vec::new();
                    let text = $crate::SqlValue::Text;
                    for (test, value) in [
                        ("a.tenant_uid =", filter.tenant.as_ref().map(|u| text(u.as_str()))),
                        ("a.actor_uid =", filter.actor.as_ref().map(|u| text(u.as_str()))),
                        ("a.project_uid =", filter.project.as_ref().map(|u| text(u.as_str()))),
                        ("a.resource_kind =", filter.resource_kind.as_deref().map(text)),
                        ("a.resource_uid =", filter.resource.as_ref().map(|u| text(u.as_str()))),
                        ("a.action_type =", filter.action_type.as_deref().map(text)),
                        ("a.created_at >=", filter.since.map(|t| $crate::SqlValue::Millis(to_millis(t)))),
                        ("a.created_at <=", filter.until.map(|t| $crate::SqlValue::Millis(to_millis(t)))),
                    ] {
                        if let Some(value) = value {
                            binds.push(value);
                            conditions.push(format!("{test} ${}", binds.len()));
                        }
                    }
                    let filtered = if conditions.is_empty() {
                        "TRUE".to_owned()
                    } else {
                        conditions.join(" AND ")
                    };
                    let mut offset = window.offset;
                    let mut page_conditions = filtered.clone();
                    if let Some(after) = &window.after {
                        // Keyset on (time, uid): the row after which the page starts is named
                        // by its uid, and its time is looked up.
                        page_conditions.push_str(&format!(
                            " AND (a.created_at, a.uid) < \
                             (SELECT b.created_at, b.uid FROM audit_log b WHERE b.uid = ${})",
                            binds.len() + 1
                        ));
                        offset = 0;
                    }
                    let sql = format!(
                        "{AUDIT_VIEW_SELECT} WHERE {page_conditions} \
                         ORDER BY a.created_at DESC, a.uid DESC \
                         LIMIT {} OFFSET {offset}",
                        window.limit + 1
                    );
                    macro_rules! bind_all {
                        ($query:expr) => {{
                            let mut query = $query;
                            for value in &binds {
                                query = match value {
                                    $crate::SqlValue::Text(text) => query.bind(*text),
                                    $crate::SqlValue::Millis(millis) => query.bind(*millis),
                                };
                            }
                            query
                        }};
                    }
                    let mut query = bind_all!(::sqlx::query(&sql));
                    if let Some(after) = &window.after {
                        query = query.bind(after.as_str());
                    }
                    let rows = query
                        .fetch_all(&self.reader)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(audit_view_from)
                        .collect::<Result<Vec<_>>>()?;
                    let total = if count {
                        let sql = format!("SELECT COUNT(*) FROM audit_log a WHERE {filtered}");
                        bind_all!(::sqlx::query_scalar::<_, i64>(&sql))
                            .fetch_one(&self.reader)
                            .await
                            .map_err($map_err)?
                    } else {
                        0
                    };
                    Ok(Listed { rows, total })
                }

                async fn audit_entry(&self, tenant: Option<&Uid>, uid: &Uid) -> Result<Option<AuditView>> {
                    let sql = match tenant {
                        Some(_) => format!("{AUDIT_VIEW_SELECT} WHERE a.uid = $1 AND a.tenant_uid = $2"),
                        None => format!("{AUDIT_VIEW_SELECT} WHERE a.uid = $1"),
                    };
                    let mut query = ::sqlx::query(&sql).bind(uid.as_str());
                    if let Some(tenant) = tenant {
                        query = query.bind(tenant.as_str());
                    }
                    query
                        .fetch_optional(&self.reader)
                        .await
                        .map_err($map_err)?
                        .as_ref()
                        .map(audit_view_from)
                        .transpose()
                }

                async fn delete_audits_before(&self, before: ::chrono::DateTime<::chrono::Utc>) -> Result<u64> {
                    // In slices, so that a first sweep of a large log never holds the
                    // writer (SQLite's one write lock) for long.
                    let mut deleted = 0;
                    loop {
                        let n = ::sqlx::query(
                            "DELETE FROM audit_log WHERE uid IN \
                             (SELECT uid FROM audit_log WHERE created_at < $1 LIMIT 5000)",
                        )
                        .bind(to_millis(before))
                        .execute(&self.writer)
                        .await
                        .map_err($map_err)?
                        .rows_affected();
                        deleted += n;
                        if n < 5000 {
                            return Ok(deleted);
                        }
                    }
                }
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::{fixed_size_chunks, padded_chunks};

    #[test]
    fn chunks_come_in_three_sizes_and_cover_every_row_once() {
        for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 200, 512] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks = fixed_size_chunks(&rows);
            assert!(chunks.iter().all(|c| [64, 8, 1].contains(&c.len())), "{n}");
            let flat: Vec<usize> = chunks.concat();
            assert_eq!(flat, rows, "{n}");
        }
        assert_eq!(fixed_size_chunks(&[0u8; 200]).len(), 3 + 1);
    }

    #[test]
    fn padded_chunks_come_in_three_sizes_and_hold_every_value_and_no_other() {
        for n in [1usize, 2, 8, 9, 51, 64, 65, 130] {
            let values: Vec<usize> = (0..n).collect();
            let chunks = padded_chunks(&values);
            assert!(chunks.iter().all(|c| [64, 8, 1].contains(&c.len())), "{n}");
            assert_eq!(
                chunks.len(),
                n.div_ceil(64),
                "one statement per 64 values: {n}"
            );
            let mut seen: Vec<usize> = chunks.concat();
            seen.sort();
            seen.dedup();
            assert_eq!(seen, values, "{n}");
        }
        assert!(padded_chunks::<u8>(&[]).is_empty());
    }
}
