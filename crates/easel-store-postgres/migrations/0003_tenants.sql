-- Operators (system scope), tenant domains, and self-service sign-ups.

ALTER TABLE users ADD COLUMN is_operator BOOLEAN NOT NULL DEFAULT FALSE;

-- Host names and email domains that belong to a tenant; each to at most one.
CREATE TABLE tenant_domains (
    domain TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tenant_domains_by_tenant ON tenant_domains (tenant_uid);

-- Pending self-service sign-ups, by the SHA-256 of the mailed token.
CREATE TABLE signups (
    token_hash BYTEA PRIMARY KEY,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    org_name TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
