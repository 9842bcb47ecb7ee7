-- Counted key uses, journalled at every usage flush and added to api_keys by the next fold
-- (about once a minute): one row per flush slice, a JSON array of up to 2,048
-- `[key uid, uses, last use in milliseconds]`. Appending one row costs the node a fraction of
-- what updating each key's row did at every flush (docs/performance.md, round 11).
CREATE TABLE key_usage_journal (
    id INTEGER PRIMARY KEY,
    entries TEXT NOT NULL
);
