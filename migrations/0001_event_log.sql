-- The event log: append-only, gapless global positions in commit order, hash-chained.

-- One row holds the head of the log. Every append transaction takes this row's lock first and
-- keeps it until commit, so positions are handed out in commit order and no reader can ever see
-- position N+1 before N (a bare sequence would allow exactly that).
CREATE TABLE log_head (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position    bigint  NOT NULL CHECK (position >= 0),
    hash        bytea   NOT NULL CHECK (octet_length(hash) = 32)
);
-- The chain starts from 32 zero bytes.
INSERT INTO log_head (position, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TABLE events (
    position        bigint      PRIMARY KEY CHECK (position > 0),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         text        NOT NULL,
    metadata        text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (octet_length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_event_type_position ON events (event_type, position);

-- Current version of every stream, so expected-version checks read one row, not the events.
CREATE TABLE streams (
    stream_id   text    PRIMARY KEY,
    version     bigint  NOT NULL CHECK (version > 0),
    position    bigint  NOT NULL
);

-- Every command that appended, with what it asked for and what it got, so that a retry with the
-- same command id gets the first answer back and appends nothing.
CREATE TABLE commands (
    command_id      uuid        PRIMARY KEY,
    request_hash    bytea       NOT NULL CHECK (octet_length(request_hash) = 32),
    result          jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL
);

-- Uniqueness that no aggregate can hold in bounded memory (e.g. a generation id per account,
-- across the whole history). Claimed in the same transaction as the events that make them.
CREATE TABLE unique_claims (
    scope       text    NOT NULL,
    value       text    NOT NULL,
    position    bigint  NOT NULL,
    PRIMARY KEY (scope, value)
);

-- Snapshots of aggregate state, so long streams load in bounded time. Disposable: they can be
-- deleted at any time and are rebuilt from the log.
CREATE TABLE snapshots (
    stream_id       text        PRIMARY KEY,
    stream_version  bigint      NOT NULL,
    schema_version  integer     NOT NULL,
    state           jsonb       NOT NULL,
    taken_at        timestamptz NOT NULL
);

-- The log is immutable whatever the application does: even the owner cannot change history.
CREATE FUNCTION history_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % is forbidden', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION history_is_immutable();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION history_is_immutable();

-- The same protection for the record of commands and claims: rewriting them would let a
-- replayed command append twice.
CREATE TRIGGER commands_no_update_or_delete
    BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION history_is_immutable();
CREATE TRIGGER commands_no_truncate
    BEFORE TRUNCATE ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION history_is_immutable();
CREATE TRIGGER unique_claims_no_update_or_delete
    BEFORE UPDATE OR DELETE ON unique_claims
    FOR EACH ROW EXECUTE FUNCTION history_is_immutable();
CREATE TRIGGER unique_claims_no_truncate
    BEFORE TRUNCATE ON unique_claims
    FOR EACH STATEMENT EXECUTE FUNCTION history_is_immutable();
