//! The SQL of a batch: the head lock, one read of what the batch is judged against, and one
//! call of the procedure `append_batch` that writes every row.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

use crate::batch::BatchRows;
use crate::error::StoreError;
use crate::hash::stored_hash;
use crate::model::AppendOutcome;
use crate::prepare::PreparedGroup;

/// The PostgreSQL channel told the new head position after every committed batch.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

/// Takes the head row's lock, held until the transaction ends, and reads the head.
#[tracing::instrument(skip_all, err)]
pub(crate) async fn lock_head(conn: &mut PgConnection) -> Result<(i64, [u8; 32]), StoreError> {
    let row = sqlx::query("SELECT position, hash FROM log_head FOR UPDATE")
        .fetch_one(conn)
        .await?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok((row.try_get("position")?, stored_hash(&hash)?))
}

/// What the log already holds that the batch's requests are judged against.
pub(crate) struct Known {
    pub(crate) versions: HashMap<String, i64>,
    pub(crate) commands: HashMap<Uuid, ([u8; 32], AppendOutcome)>,
    pub(crate) claims: HashSet<(String, String)>,
}

/// Reads, in one statement, the versions of `streams` and, when `with_commands_and_claims`,
/// the batch's command ids already recorded and its claims already made. Reads nothing when
/// there is nothing to ask.
#[tracing::instrument(skip_all, err)]
pub(crate) async fn load_known(
    conn: &mut PgConnection,
    batch: &[PreparedGroup],
    streams: HashSet<&str>,
    with_commands_and_claims: bool,
) -> Result<Known, StoreError> {
    let mut known = Known {
        versions: HashMap::new(),
        commands: HashMap::new(),
        claims: HashSet::new(),
    };
    if streams.is_empty() && !with_commands_and_claims {
        return Ok(known);
    }
    let streams: Vec<&str> = streams.into_iter().collect();
    let (commands, scopes, values): (Vec<Uuid>, Vec<&str>, Vec<&str>) = if with_commands_and_claims
    {
        let appends = || batch.iter().flat_map(|group| group.members.iter());
        let (scopes, values) = appends()
            .flat_map(|append| append.claims.iter())
            .map(|claim| (claim.scope.as_str(), claim.value.as_str()))
            .unzip();
        (
            appends().map(|append| append.command_id).collect(),
            scopes,
            values,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let rows = sqlx::query(
        "SELECT 'stream' AS kind, stream_id AS key, version, \
                NULL::bytea AS request_hash, NULL::jsonb AS result, NULL::text AS value \
           FROM streams WHERE stream_id = ANY($1) \
         UNION ALL \
         SELECT 'command', command_id::text, NULL, request_hash, result, NULL \
           FROM commands WHERE command_id = ANY($2) \
         UNION ALL \
         SELECT 'claim', c.scope, NULL, NULL, NULL, c.value \
           FROM unique_claims c \
           JOIN UNNEST($3::text[], $4::text[]) AS wanted(scope, value) \
             ON c.scope = wanted.scope AND c.value = wanted.value",
    )
    .bind(&streams)
    .bind(&commands)
    .bind(&scopes)
    .bind(&values)
    .fetch_all(conn)
    .await?;
    for row in &rows {
        let kind: &str = row.try_get("kind")?;
        let key: String = row.try_get("key")?;
        match kind {
            "stream" => {
                known.versions.insert(key, row.try_get("version")?);
            }
            "command" => {
                let command_id = Uuid::parse_str(&key)
                    .map_err(|error| StoreError::Malformed(format!("a command id: {error}")))?;
                let hash: Vec<u8> = row.try_get("request_hash")?;
                let result: serde_json::Value = row.try_get("result")?;
                let outcome = serde_json::from_value(result)
                    .map_err(|error| StoreError::Malformed(format!("a command result: {error}")))?;
                known
                    .commands
                    .insert(command_id, (stored_hash(&hash)?, outcome));
            }
            _ => {
                known.claims.insert((key, row.try_get("value")?));
            }
        }
    }
    Ok(known)
}

/// How a batch's write stands to its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transaction {
    /// Inside a transaction that already holds the head's lock; the caller commits.
    Open,
    /// A transaction of its own: the call commits.
    Own,
}

/// Writes the batch's events, stream heads, claims, commands, outbox messages and the new log
/// head with one call of the procedure `append_batch` (migration 0009), which tells listeners the new head. Returns
/// `false`, having written nothing, when the head is not at `expected_head` (position and hash).
/// A violated key is how a writer learns its memory was stale (the batch is then judged again
/// after a read), so errors are traced at debug level: one that is not handled there reaches
/// the caller, which logs it.
#[tracing::instrument(skip_all, fields(events = rows.positions.len()), err(level = "debug"))]
pub(crate) async fn write_rows<'e>(
    executor: impl PgExecutor<'e>,
    transaction: Transaction,
    rows: &BatchRows,
    recorded_at: DateTime<Utc>,
    expected_head: (i64, &[u8; 32]),
    new_head: (i64, &[u8; 32]),
) -> Result<bool, StoreError> {
    let (new_position, new_hash) = new_head;
    let written = sqlx::query_scalar(
        "CALL append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                           $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, \
                           $31, NULL)",
    )
    .bind(transaction == Transaction::Own)
    .bind(expected_head.0)
    .bind(expected_head.1.as_slice())
    .bind(&rows.positions)
    .bind(&rows.event_ids)
    .bind(&rows.stream_ids)
    .bind(&rows.stream_versions)
    .bind(&rows.event_types)
    .bind(&rows.schema_versions)
    .bind(&rows.payloads)
    .bind(&rows.metadata)
    .bind(&rows.recorded_at)
    .bind(&rows.prev_hashes)
    .bind(&rows.hashes)
    .bind(&rows.stream_heads)
    .bind(&rows.stream_head_versions)
    .bind(&rows.stream_head_positions)
    .bind(&rows.claim_scopes)
    .bind(&rows.claim_values)
    .bind(&rows.claim_positions)
    .bind(&rows.command_ids)
    .bind(&rows.request_hashes)
    .bind(&rows.results)
    .bind(recorded_at)
    .bind(new_position)
    .bind(new_hash.as_slice())
    .bind(NOTIFY_CHANNEL)
    .bind(&rows.outbox_positions)
    .bind(&rows.outbox_indexes)
    .bind(&rows.outbox_kinds)
    .bind(&rows.outbox_payloads)
    .fetch_one(executor)
    .await?;
    Ok(written)
}

/// Whether `append_batch` could not commit because its connection was inside a transaction
/// block (`invalid_transaction_termination`).
pub(crate) fn inside_open_transaction(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| code == "2D000")
}
