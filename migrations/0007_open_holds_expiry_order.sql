-- The hold-expiry task pages through expired holds by (expires_at, hold_id), so a hold it cannot
-- expire yet never hides the ones behind it; the index serves that order directly. The old
-- index is dropped by either name it can have (a rebuild's LIKE ... INCLUDING ALL names copies
-- itself).
DROP INDEX IF EXISTS open_holds_expires_at;
DROP INDEX IF EXISTS open_holds_expires_at_idx;
CREATE INDEX IF NOT EXISTS open_holds_expiry ON open_holds (expires_at, hold_id);
