-- Which key-hash secret the API key hashes in this database were made with, as a fingerprint
-- (an HMAC of a fixed label under the secret; the secret cannot be derived from it). Every
-- ledgerd on one database must hash with the same secret, or a key created through one
-- process is unknown to the others; `ledgerd serve` records the fingerprint on first start
-- and refuses to start with another secret.
CREATE TABLE key_hash_secret (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
