-- What /v1/audits filters on: Palette's action type (derived from the action, as
-- AuditEntry::action_type does for new rows) and the project a change was made in or to.
ALTER TABLE audit_log ADD COLUMN action_type TEXT NOT NULL DEFAULT 'update';
ALTER TABLE audit_log ADD COLUMN project_uid TEXT;

UPDATE audit_log SET action_type = CASE
    WHEN action LIKE '%.create' THEN 'create'
    WHEN action LIKE '%.delete' THEN 'delete'
    WHEN action LIKE 'session.%' OR action LIKE 'access.%' THEN 'activity'
    WHEN action LIKE '%.passwordReset' THEN 'action'
    ELSE 'update'
END;
UPDATE audit_log SET project_uid = resource_uid WHERE resource_kind = 'project';

-- Newest first within a tenant, paged by (time, uid); and the retention sweep.
CREATE INDEX audit_log_by_tenant_time_uid ON audit_log (tenant_uid, created_at, uid);
CREATE INDEX audit_log_by_time ON audit_log (created_at);
