-- One appender batch written by one call: the head lock, the rows, the new head and, when the
-- call is a transaction of its own, the commit.
--
-- The appender decides a batch's positions, versions and hashes before it writes, from the head
-- it expects. When it remembers where it left the head (no other writer since), it calls this
-- procedure on its own (`p_commit`), as one statement that commits: a single round trip instead
-- of BEGIN, the lock, the write and COMMIT, and the head row stays locked only while the server
-- writes. The procedure takes the head's lock first, so batches still commit in position order,
-- and writes nothing when the head (position and hash) is not where the caller expected
-- (another writer appended): the caller then locks the head, reads what it must, and calls it
-- again inside that transaction, which it commits itself (`p_commit` false).
--
-- Its own COMMIT is what makes the one-call write safe on a pooled connection that a cancelled
-- BEGIN left inside a transaction: PostgreSQL refuses a procedure's COMMIT inside a transaction
-- block (`invalid_transaction_termination`), so such a call never reports rows it did not
-- commit.
--
-- A key violated by the rows raises; the command ids go in first, so a retry of a command
-- already recorded fails on `commands_pkey`, and a claim already made on `unique_claims_pkey`,
-- before anything else.
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
