-- Easel schema, version 1. Migrations are append-only: never edit a released file.
-- Times are INTEGER milliseconds since the Unix epoch, UTC; uids are 24 hex characters.

-- One row: the deployment's shared secret (continue tokens).
CREATE TABLE deployment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row once the first start has seeded the database; its primary key makes the
-- bootstrap happen exactly once, even when several nodes start together.
CREATE TABLE bootstrap (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE tenants (
    uid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_active INTEGER NOT NULL,
    max_key_lifetime_days INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE users (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_uid, email)
);
CREATE INDEX users_by_tenant ON users (tenant_uid, uid);

CREATE TABLE user_roles (
    user_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_uid, role)
);
CREATE INDEX user_roles_by_tenant ON user_roles (tenant_uid, role);

CREATE TABLE api_keys (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    owner_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    hint TEXT NOT NULL,
    key_hash BLOB NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_uid, uid);
CREATE INDEX api_keys_by_owner ON api_keys (tenant_uid, owner_uid, uid);

-- Audit rows outlive what they describe, so they reference nothing.
CREATE TABLE audit_log (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL,
    actor_uid TEXT,
    action TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_uid TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_uid, created_at);
