-- Fewer WAL records per billed request (`ledger-bench wal` measures them by relation).

-- No query reads the log by event type: readers page by position, streams by version. The
-- index cost an index record per event, two per billed request.
DROP INDEX events_event_type_position;

-- The feed's own order, (account, finished_at, position) newest first, is unique as it is:
-- an event is projected to one row, whose position is its own. Its index serves the feed and
-- keeps a second projection of an event out, so the primary key on (account, position) was a
-- second index record per row for nothing a query reads.
CREATE UNIQUE INDEX activity_account_time_position
    ON activity (account_id, finished_at DESC, position DESC);
ALTER TABLE activity DROP CONSTRAINT activity_pkey;
DROP INDEX activity_account_time;

-- A batch loads the holds it closes by their key (account, hold), and the expiry task pages by
-- (expires_at, hold_id): no query reads open holds by account alone.
DROP INDEX open_holds_account;

-- Each ledger entry names the account on the other side of its movement, so a page of a book
-- names its customer accounts from its own rows. The primary key (position, account) was there
-- to find that other side by position; (account, position), an account's entries newest first,
-- serves every query left, so it becomes the key and its second index goes: two index records
-- less per settlement. Entries projected before get theirs from the other entry of their
-- movement (every movement has two, on two accounts), as a rebuild would.
ALTER TABLE ledger_entries ADD COLUMN counterparty text;
UPDATE ledger_entries l SET counterparty = o.account
FROM ledger_entries o
WHERE o.position = l.position AND o.account <> l.account;
ALTER TABLE ledger_entries ALTER COLUMN counterparty SET NOT NULL;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_pkey;
DROP INDEX ledger_entries_account;
ALTER TABLE ledger_entries ADD PRIMARY KEY (account, position);

-- `append_batch` (0009) again, with one change: a stream's head that exists is updated, and
-- only a new stream's head inserted. `INSERT ... ON CONFLICT DO UPDATE` locked the existing
-- row before updating it, one more WAL record per command. Appends are serialised by the
-- head's lock, taken first, so no other append inserts a head between the two statements.
CREATE OR REPLACE PROCEDURE append_batch(
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
    WITH head AS (
        SELECT * FROM UNNEST(p_head_streams, p_head_versions, p_head_positions)
            AS h(stream_id, version, position)
    ), moved AS (
        UPDATE streams s SET version = head.version, position = head.position
        FROM head WHERE s.stream_id = head.stream_id
        RETURNING s.stream_id
    )
    INSERT INTO streams (stream_id, version, position)
    SELECT head.stream_id, head.version, head.position FROM head
    WHERE head.stream_id NOT IN (SELECT stream_id FROM moved);
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
