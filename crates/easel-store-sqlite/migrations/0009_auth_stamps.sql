-- Every tenant's authentication stamp: a counter moved, in the very transaction that makes
-- it, by every change that can alter what an API key of the tenant authenticates as (the key
-- itself, its owner, the owner's roles, teams and custom roles, projects, the tenant). A node
-- keeps the stamp it read with each cached key; its background re-check asks one row per
-- tenant in use and keeps every key whose tenant's stamp has not moved, instead of reading
-- each key again (docs/performance.md, round 13). Inserts of keys, users, teams, roles and
-- projects do not move it: nothing cached can depend on a row that did not exist.
ALTER TABLE tenants ADD COLUMN auth_stamp INTEGER NOT NULL DEFAULT 0;

-- The tenant's own row: any change but the stamp's own moves it.
CREATE TRIGGER auth_stamp_tenant AFTER UPDATE ON tenants FOR EACH ROW
WHEN NEW.auth_stamp = OLD.auth_stamp
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.uid; END;

-- API keys: every update but a usage fold's (use counts and last use are not authentication).
CREATE TRIGGER auth_stamp_keys_update AFTER UPDATE OF tenant_uid, owner_uid, name, description,
    hint, key_hash, expires_at, is_active, created_at, updated_at ON api_keys FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_keys_delete AFTER DELETE ON api_keys FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_users_update AFTER UPDATE ON users FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_users_delete AFTER DELETE ON users FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_bindings_insert AFTER INSERT ON role_bindings FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_bindings_update AFTER UPDATE ON role_bindings FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_bindings_delete AFTER DELETE ON role_bindings FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_members_insert AFTER INSERT ON team_members FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_members_update AFTER UPDATE ON team_members FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_members_delete AFTER DELETE ON team_members FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_teams_update AFTER UPDATE ON teams FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_teams_delete AFTER DELETE ON teams FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_roles_update AFTER UPDATE ON roles FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_roles_delete AFTER DELETE ON roles FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;

CREATE TRIGGER auth_stamp_projects_update AFTER UPDATE ON projects FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = NEW.tenant_uid; END;
CREATE TRIGGER auth_stamp_projects_delete AFTER DELETE ON projects FOR EACH ROW
BEGIN UPDATE tenants SET auth_stamp = auth_stamp + 1 WHERE uid = OLD.tenant_uid; END;
