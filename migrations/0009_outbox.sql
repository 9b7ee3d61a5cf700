-- The transactional outbox: notices for the services that email and page people, written by
-- `append_batch` in the same transaction as the events that cause them.
--
-- A notice's cursor is the position of the last event of the command that caused it and its
-- index among that command's notices. Rows are inserted while the batch holds the head's lock,
-- so they commit in cursor order, like the events: a reader that has seen cursor (p, i) never
-- later finds a row below it, and reading `WHERE (position, index) > cursor` skips nothing.
-- (A bigserial would commit out of order.) Append-only, like the log.
CREATE TABLE outbox (
    position    bigint      NOT NULL CHECK (position > 0),
    index       integer     NOT NULL CHECK (index >= 0),
    kind        text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload     text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (position, index)
);

CREATE TRIGGER outbox_no_update_or_delete
    BEFORE UPDATE OR DELETE ON outbox
    FOR EACH ROW EXECUTE FUNCTION history_is_immutable();

CREATE TRIGGER outbox_no_truncate
    BEFORE TRUNCATE ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION history_is_immutable();

-- `append_batch` (0005) again, with the batch's outbox rows as four more arrays. The old one is
-- dropped: the appender calls only this one, and one procedure of the name keeps the run-time
-- role's grant (`grant_log_privileges`) unambiguous. Dropping it drops its grants, so the roles
-- that could run it are noted first and granted the new one, and the outbox it writes, below: a
-- run-time role granted before this migration keeps appending after it.
CREATE TEMPORARY TABLE append_batch_grantees ON COMMIT DROP AS
    SELECT DISTINCT a.grantee::regrole::text AS grantee
    FROM pg_proc p, aclexplode(p.proacl) a
    WHERE p.proname = 'append_batch'
      AND p.pronamespace = current_schema()::regnamespace
      AND a.privilege_type = 'EXECUTE'
      AND a.grantee <> 0
      AND a.grantee <> p.proowner;

DROP PROCEDURE append_batch(boolean, bigint, bytea, bigint[], uuid[], text[], bigint[], text[],
    integer[], text[], text[], timestamptz[], bytea[], bytea[], text[], bigint[], bigint[],
    text[], text[], bigint[], uuid[], bytea[], jsonb[], timestamptz, bigint, bytea, text,
    boolean);

CREATE PROCEDURE append_batch(
    p_commit boolean,
    p_expected_head bigint,
    p_expected_hash bytea,
    p_positions bigint[],
    p_event_ids uuid[],
    p_stream_ids text[],
    p_stream_versions bigint[],
    p_event_types text[],
    p_schema_versions integer[],
    p_payloads text[],
    p_metadata text[],
    p_recorded_ats timestamptz[],
    p_prev_hashes bytea[],
    p_hashes bytea[],
    p_head_streams text[],
    p_head_versions bigint[],
    p_head_positions bigint[],
    p_claim_scopes text[],
    p_claim_values text[],
    p_claim_positions bigint[],
    p_command_ids uuid[],
    p_request_hashes bytea[],
    p_results jsonb[],
    p_recorded_at timestamptz,
    p_new_head bigint,
    p_new_hash bytea,
    p_channel text,
    p_outbox_positions bigint[],
    p_outbox_indexes integer[],
    p_outbox_kinds text[],
    p_outbox_payloads text[],
    INOUT p_written boolean DEFAULT NULL
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM log_head
        WHERE position = p_expected_head AND hash = p_expected_hash
        FOR UPDATE;
    IF NOT FOUND THEN
        p_written := false;
        RETURN;
    END IF;
    INSERT INTO commands (command_id, request_hash, result, recorded_at)
    SELECT c.id, c.request_hash, c.result, p_recorded_at
    FROM UNNEST(p_command_ids, p_request_hashes, p_results) AS c(id, request_hash, result);
    INSERT INTO unique_claims (scope, value, position)
    SELECT * FROM UNNEST(p_claim_scopes, p_claim_values, p_claim_positions);
    INSERT INTO events (position, event_id, stream_id, stream_version, event_type,
                        schema_version, payload, metadata, recorded_at, prev_hash, hash)
    SELECT * FROM UNNEST(p_positions, p_event_ids, p_stream_ids, p_stream_versions,
                         p_event_types, p_schema_versions, p_payloads, p_metadata,
                         p_recorded_ats, p_prev_hashes, p_hashes);
    INSERT INTO streams (stream_id, version, position)
    SELECT * FROM UNNEST(p_head_streams, p_head_versions, p_head_positions)
    ON CONFLICT (stream_id) DO UPDATE
        SET version = EXCLUDED.version, position = EXCLUDED.position;
    -- Most appends carry no notice: they pay for nothing more than this test.
    IF cardinality(p_outbox_positions) > 0 THEN
        INSERT INTO outbox (position, index, kind, payload, recorded_at)
        SELECT o.position, o.index, o.kind, o.payload, p_recorded_at
        FROM UNNEST(p_outbox_positions, p_outbox_indexes, p_outbox_kinds, p_outbox_payloads)
            AS o(position, index, kind, payload);
    END IF;
    UPDATE log_head SET position = p_new_head, hash = p_new_hash;
    PERFORM pg_notify(p_channel, p_new_head::text);
    p_written := true;
    IF p_commit THEN
        COMMIT;
    END IF;
END;
$$;

-- Only the roles granted it may append (`ledger_eventstore::LOG_GRANTS`).
REVOKE EXECUTE ON PROCEDURE append_batch FROM PUBLIC;

DO $$
DECLARE
    role_name text;
BEGIN
    FOR role_name IN SELECT grantee FROM append_batch_grantees LOOP
        EXECUTE format('GRANT EXECUTE ON PROCEDURE append_batch TO %s', role_name);
        -- The procedure runs with its caller's rights, and writes the outbox.
        EXECUTE format('GRANT SELECT, INSERT ON outbox TO %s', role_name);
    END LOOP;
END;
$$;
