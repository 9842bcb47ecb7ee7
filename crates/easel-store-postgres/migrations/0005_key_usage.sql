-- How often and when each key was last used. Counted in each node's memory and added here
-- in batches, never on the request path.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ADD COLUMN use_count BIGINT NOT NULL DEFAULT 0;
