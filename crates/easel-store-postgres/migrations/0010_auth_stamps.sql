-- Every tenant's authentication stamp: a counter moved, in the very transaction that makes
-- it, by every change that can alter what an API key of the tenant authenticates as (the key
-- itself, its owner, the owner's roles, teams and custom roles, projects, the tenant). A node
-- keeps the stamp it read with each cached key; its background re-check asks one row per
-- tenant in use and keeps every key whose tenant's stamp has not moved, instead of reading
-- each key again (docs/performance.md, round 13). Inserts of keys, users, teams, roles and
-- projects do not move it: nothing cached can depend on a row that did not exist.
--
-- Statement-level triggers: a statement touching many rows (a tenant's deletion cascading
-- to a million keys, a disabled user's keys) moves the stamp once, not once per row.
ALTER TABLE tenants ADD COLUMN auth_stamp BIGINT NOT NULL DEFAULT 0;

-- The tenants of the rows a statement changed, from a transition table named changed_rows.
CREATE FUNCTION easel_move_auth_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenants SET auth_stamp = auth_stamp + 1
    WHERE uid IN (SELECT DISTINCT tenant_uid FROM changed_rows);
    RETURN NULL;
END
$$;

-- API keys: every update but a usage fold's (use counts and last use are not authentication).
CREATE FUNCTION easel_move_auth_stamp_for_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenants SET auth_stamp = auth_stamp + 1
    WHERE uid IN (
        SELECT DISTINCT n.tenant_uid FROM new_keys n JOIN old_keys o ON o.uid = n.uid
        WHERE (n.tenant_uid, n.owner_uid, n.name, n.description, n.hint, n.key_hash,
               n.expires_at, n.is_active, n.created_at, n.updated_at)
              IS DISTINCT FROM
              (o.tenant_uid, o.owner_uid, o.name, o.description, o.hint, o.key_hash,
               o.expires_at, o.is_active, o.created_at, o.updated_at));
    RETURN NULL;
END
$$;

-- The tenant's own row: any change but the stamp's own moves it.
CREATE FUNCTION easel_move_own_auth_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.auth_stamp := OLD.auth_stamp + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER auth_stamp_tenant BEFORE UPDATE ON tenants FOR EACH ROW
    WHEN (NEW.auth_stamp = OLD.auth_stamp) EXECUTE FUNCTION easel_move_own_auth_stamp();

CREATE TRIGGER auth_stamp_keys_update AFTER UPDATE ON api_keys
    REFERENCING OLD TABLE AS old_keys NEW TABLE AS new_keys
    FOR EACH STATEMENT EXECUTE FUNCTION easel_move_auth_stamp_for_keys();
CREATE TRIGGER auth_stamp_keys_delete AFTER DELETE ON api_keys
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_users_update AFTER UPDATE ON users
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_users_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_bindings_insert AFTER INSERT ON role_bindings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_bindings_update AFTER UPDATE ON role_bindings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_bindings_delete AFTER DELETE ON role_bindings
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_members_insert AFTER INSERT ON team_members
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_members_update AFTER UPDATE ON team_members
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_members_delete AFTER DELETE ON team_members
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_teams_update AFTER UPDATE ON teams
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_teams_delete AFTER DELETE ON teams
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_roles_update AFTER UPDATE ON roles
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_roles_delete AFTER DELETE ON roles
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();

CREATE TRIGGER auth_stamp_projects_update AFTER UPDATE ON projects
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
CREATE TRIGGER auth_stamp_projects_delete AFTER DELETE ON projects
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION easel_move_auth_stamp();
