-- Counted key uses, journalled at every usage flush and added to api_keys by the next fold
-- (about once a minute): one row per flush slice, its three arrays of up to 2,048 keys,
-- counts and last uses (milliseconds). An insert here costs the server a fraction of what
-- updating each key's row did at every flush (docs/performance.md, round 10). Stored
-- uncompressed: the uids do not compress, and trying costs CPU at every insert.
CREATE TABLE key_usage_journal (
    id BIGSERIAL PRIMARY KEY,
    key_uids TEXT[] NOT NULL,
    uses BIGINT[] NOT NULL,
    last_used_at BIGINT[] NOT NULL
);
ALTER TABLE key_usage_journal ALTER COLUMN key_uids SET STORAGE EXTERNAL;
ALTER TABLE key_usage_journal ALTER COLUMN uses SET STORAGE EXTERNAL;
ALTER TABLE key_usage_journal ALTER COLUMN last_used_at SET STORAGE EXTERNAL;
