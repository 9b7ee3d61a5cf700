-- The hold-expiry task pages through expired holds by (expires_at, hold_id), so a hold it cannot
-- expire yet never hides the ones behind it; the index serves that order directly.
DROP INDEX open_holds_expires_at;
CREATE INDEX open_holds_expiry ON open_holds (expires_at, hold_id);
