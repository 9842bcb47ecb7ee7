-- Roles, teams, projects and role bindings: the access model replaces the single
-- tenant-admin flag of user_roles.

-- Custom roles of a tenant. Built-in roles live in code, with fixed uids.
CREATE TABLE roles (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    permissions TEXT NOT NULL,
    is_enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_uid, name)
);

CREATE TABLE teams (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_uid, name)
);

CREATE TABLE team_members (
    team_uid TEXT NOT NULL REFERENCES teams (uid) ON DELETE CASCADE,
    user_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_uid, user_uid)
);
CREATE INDEX team_members_by_user ON team_members (user_uid);

CREATE TABLE projects (
    uid TEXT PRIMARY KEY,
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_uid, name)
);

-- Who holds which role where: a user or a team, at tenant scope (project_uid '') or in one
-- project. Rows go with their user, team, role or project (deleted explicitly: the subject
-- is one of two tables) and with their tenant.
CREATE TABLE role_bindings (
    tenant_uid TEXT NOT NULL REFERENCES tenants (uid) ON DELETE CASCADE,
    subject_kind TEXT NOT NULL,
    subject_uid TEXT NOT NULL,
    role_uid TEXT NOT NULL,
    project_uid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (subject_kind, subject_uid, project_uid, role_uid)
);
CREATE INDEX role_bindings_by_role ON role_bindings (tenant_uid, role_uid);
CREATE INDEX role_bindings_by_project ON role_bindings (tenant_uid, project_uid);

INSERT INTO role_bindings (tenant_uid, subject_kind, subject_uid, role_uid, project_uid,
                           created_at, updated_at)
SELECT tenant_uid, 'user', user_uid, '000000000000000000000001', '', created_at, updated_at
FROM user_roles WHERE role = 'tenant-admin';

DROP TABLE user_roles;

-- Every tenant has a Default project (Palette clients look it up by that name).
INSERT INTO projects (uid, tenant_uid, name, description, labels, created_at, updated_at)
SELECT lower(hex(randomblob(12))), uid, 'Default', '', '{}', created_at, created_at FROM tenants;
