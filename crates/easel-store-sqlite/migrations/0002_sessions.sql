-- Sign-in for people and authorisation tokens: per-tenant settings, signing keys shared by
-- every node, sessions, and single-use password tokens.

ALTER TABLE tenants ADD COLUMN token_lifetime_minutes INTEGER NOT NULL DEFAULT 15;
ALTER TABLE tenants ADD COLUMN password_min_length INTEGER NOT NULL DEFAULT 8;

-- Ed25519 keys that sign tokens. The newest signs; every unretired one verifies.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    seed BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One per sign-in; every token of a session carries its uid, and refreshes keep it.
CREATE TABLE sessions (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    user_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    api_key_uid TEXT REFERENCES api_keys (uid) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    is_revoked INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (tenant_uid, user_uid);
CREATE INDEX sessions_by_key ON sessions (api_key_uid);

-- Password reset and activation tokens, by the SHA-256 of the token; deleted when used.
CREATE TABLE password_tokens (
    token_hash BLOB PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    user_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX password_tokens_by_user ON password_tokens (user_uid, purpose);

CREATE INDEX users_by_email ON users (email);
