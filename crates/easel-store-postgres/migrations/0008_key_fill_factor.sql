-- Room on every page of api_keys for a new version of each of its rows. Each usage flush
-- updates every key used since the last one (use_count, last_used_at); with free room on the
-- row's own page, and no indexed column changed, PostgreSQL writes a heap-only (HOT) update:
-- no new entries in the table's four indexes, and the old version is pruned from the page
-- as it fills, without waiting for VACUUM. On full pages (the default fill factor, 100) 99 %
-- of those updates were not HOT and the table and its indexes grew with every flush
-- (docs/performance.md, round 7). Applies to pages written from now on; `VACUUM FULL
-- api_keys` rewrites the existing ones (it locks the table while it runs).
ALTER TABLE api_keys SET (fillfactor = 80);
