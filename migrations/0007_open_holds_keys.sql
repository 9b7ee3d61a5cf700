-- The hold-expiry task pages through expired holds by (expires_at, hold_id), so a hold it cannot
-- expire yet never hides the ones behind it; the index serves that order directly. The old
-- index is dropped by either name it can have (a rebuild's LIKE ... INCLUDING ALL names copies
-- itself).
DROP INDEX IF EXISTS open_holds_expires_at;
DROP INDEX IF EXISTS open_holds_expires_at_idx;
CREATE INDEX IF NOT EXISTS open_holds_expiry ON open_holds (expires_at, hold_id);

-- A hold id is unique only within its account (the domain's claim is per account), so the
-- read model keys open holds by (account, hold): two accounts holding the same id must not
-- collide and stall the projection.
ALTER TABLE open_holds DROP CONSTRAINT open_holds_pkey;
ALTER TABLE open_holds ADD PRIMARY KEY (account_id, hold_id);
