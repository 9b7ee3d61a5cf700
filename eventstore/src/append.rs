//! One batch of appends in one transaction: the heart of group commit.
//!
//! The transaction first locks the head row, so batches from every process are serialized and
//! positions are handed out in commit order. Each request of the batch is then judged in order
//! against the state the earlier requests left (stream versions, command ids, claims): a request
//! that fails is answered with its own error and the others go on.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{canonical_bytes, chain_hash};
use crate::model::{
    AppendOutcome, AppendRequest, ExpectedVersion, StreamVersion, UniqueClaim, limits,
};

/// The PostgreSQL channel told the new head position after every committed batch.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

/// An append checked against the limits, with its JSON already rendered, ready for a batch.
#[derive(Debug)]
pub(crate) struct PreparedAppend {
    command_id: Uuid,
    request_hash: [u8; 32],
    metadata: String,
    streams: Vec<PreparedStream>,
    claims: Vec<UniqueClaim>,
    reply: serde_json::Value,
    event_count: usize,
}

#[derive(Debug)]
struct PreparedStream {
    stream_id: String,
    expected: ExpectedVersion,
    events: Vec<PreparedEvent>,
}

#[derive(Debug)]
struct PreparedEvent {
    event_id: Uuid,
    event_type: String,
    schema_version: i32,
    payload: String,
}

impl PreparedAppend {
    /// Checks the request against the log's limits and renders its JSON, outside the writer so
    /// that the one serialized transaction does as little as possible.
    pub(crate) fn new(request: AppendRequest) -> Result<Self, StoreError> {
        let invalid = |what: String| Err(StoreError::InvalidRequest(what));
        if request.streams.is_empty() {
            return invalid("an append names at least one stream".into());
        }
        if request.streams.len() > limits::MAX_STREAMS_PER_APPEND {
            return invalid(format!(
                "an append touches at most {} streams",
                limits::MAX_STREAMS_PER_APPEND
            ));
        }
        let event_count = request.event_count();
        if event_count > limits::MAX_EVENTS_PER_APPEND {
            return invalid(format!(
                "an append carries at most {} events",
                limits::MAX_EVENTS_PER_APPEND
            ));
        }
        if request.claims.len() > limits::MAX_CLAIMS_PER_APPEND {
            return invalid(format!(
                "an append makes at most {} claims",
                limits::MAX_CLAIMS_PER_APPEND
            ));
        }
        let mut seen_streams = HashSet::new();
        for stream in &request.streams {
            if stream.stream_id.is_empty() || stream.stream_id.len() > limits::MAX_STREAM_ID_BYTES {
                return invalid(format!(
                    "stream ids are 1 to {} bytes",
                    limits::MAX_STREAM_ID_BYTES
                ));
            }
            if !seen_streams.insert(stream.stream_id.as_str()) {
                return invalid(format!("stream {} is named twice", stream.stream_id));
            }
            if let ExpectedVersion::Exact(version) = stream.expected
                && version < 1
            {
                return invalid("an exact expected version is 1 or more".into());
            }
        }
        let metadata = render(&request.metadata)?;
        let mut bytes = metadata.len() * event_count;
        let mut streams = Vec::with_capacity(request.streams.len());
        for stream in request.streams {
            let mut events = Vec::with_capacity(stream.events.len());
            for event in stream.events {
                if event.event_type.is_empty()
                    || event.event_type.len() > limits::MAX_EVENT_TYPE_BYTES
                {
                    return invalid(format!(
                        "event types are 1 to {} bytes",
                        limits::MAX_EVENT_TYPE_BYTES
                    ));
                }
                if event.schema_version < 1 {
                    return invalid("schema versions start at 1".into());
                }
                let payload = render(&event.payload)?;
                bytes += payload.len();
                events.push(PreparedEvent {
                    event_id: event.event_id,
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    payload,
                });
            }
            streams.push(PreparedStream {
                stream_id: stream.stream_id,
                expected: stream.expected,
                events,
            });
        }
        if bytes > limits::MAX_BYTES_PER_APPEND {
            return invalid(format!(
                "an append carries at most {} bytes of payload and metadata",
                limits::MAX_BYTES_PER_APPEND
            ));
        }
        let mut seen_claims = HashSet::new();
        for claim in &request.claims {
            if !seen_claims.insert(claim) {
                return invalid(format!(
                    "claim {} {} is made twice",
                    claim.scope, claim.value
                ));
            }
        }
        Ok(PreparedAppend {
            command_id: request.command_id,
            request_hash: request.request_hash,
            metadata,
            streams,
            claims: request.claims,
            reply: request.reply,
            event_count,
        })
    }

    /// How many events this append writes.
    pub(crate) fn event_count(&self) -> usize {
        self.event_count
    }
}

fn render<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::InvalidRequest(error.to_string()))
}

/// Rows accumulated for the batch's multi-row inserts.
#[derive(Default)]
struct BatchRows {
    positions: Vec<i64>,
    event_ids: Vec<Uuid>,
    stream_ids: Vec<String>,
    stream_versions: Vec<i64>,
    event_types: Vec<String>,
    schema_versions: Vec<i32>,
    payloads: Vec<String>,
    metadata: Vec<String>,
    recorded_at: Vec<DateTime<Utc>>,
    prev_hashes: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
    command_ids: Vec<Uuid>,
    request_hashes: Vec<Vec<u8>>,
    results: Vec<serde_json::Value>,
    claim_scopes: Vec<String>,
    claim_values: Vec<String>,
    claim_positions: Vec<i64>,
}

/// Where the batch stands while its requests are judged one after the other.
struct BatchState {
    position: i64,
    hash: [u8; 32],
    versions: HashMap<String, i64>,
    stream_positions: HashMap<String, i64>,
    commands: HashMap<Uuid, ([u8; 32], AppendOutcome)>,
    claims: HashSet<(String, String)>,
}

/// Writes a batch in one transaction and answers each request. An `Err` means the transaction
/// itself failed and nothing of the batch was written.
pub(crate) async fn write_batch(
    pool: &PgPool,
    batch: &[PreparedAppend],
    recorded_at: DateTime<Utc>,
) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
    let mut tx = pool.begin().await?;
    let (position, hash) = lock_head(&mut tx).await?;
    let mut state = BatchState {
        position,
        hash,
        versions: load_versions(&mut tx, batch).await?,
        stream_positions: HashMap::new(),
        commands: load_commands(&mut tx, batch).await?,
        claims: load_taken_claims(&mut tx, batch).await?,
    };
    let mut rows = BatchRows::default();
    let answers: Vec<_> = batch
        .iter()
        .map(|append| judge(append, &mut state, &mut rows, recorded_at))
        .collect();
    if rows.command_ids.is_empty() {
        // Only retries and refusals: nothing to write.
        tx.rollback().await?;
        return Ok(answers);
    }
    insert_events(&mut tx, &rows).await?;
    upsert_streams(&mut tx, &state).await?;
    insert_claims(&mut tx, &rows).await?;
    insert_commands(&mut tx, &rows, recorded_at).await?;
    if state.position != position {
        move_head(&mut tx, state.position, &state.hash).await?;
    }
    tx.commit().await?;
    Ok(answers)
}

/// Judges one request against the batch so far and, if it is accepted, adds its rows.
fn judge(
    append: &PreparedAppend,
    state: &mut BatchState,
    rows: &mut BatchRows,
    recorded_at: DateTime<Utc>,
) -> Result<AppendOutcome, StoreError> {
    if let Some((request_hash, outcome)) = state.commands.get(&append.command_id) {
        return if *request_hash == append.request_hash {
            Ok(outcome.clone())
        } else {
            Err(StoreError::CommandIdReused {
                command_id: append.command_id,
            })
        };
    }
    for stream in &append.streams {
        let current = state.versions.get(&stream.stream_id).copied().unwrap_or(0);
        if !stream.expected.admits(current) {
            return Err(StoreError::Conflict {
                stream_id: stream.stream_id.clone(),
                expected: format!("{:?}", stream.expected),
                actual: current,
            });
        }
    }
    for claim in &append.claims {
        if state
            .claims
            .contains(&(claim.scope.clone(), claim.value.clone()))
        {
            return Err(StoreError::ClaimTaken {
                scope: claim.scope.clone(),
                value: claim.value.clone(),
            });
        }
    }

    let first_position = state.position + 1;
    let mut streams = Vec::with_capacity(append.streams.len());
    for stream in &append.streams {
        let mut version = state.versions.get(&stream.stream_id).copied().unwrap_or(0);
        for event in &stream.events {
            state.position += 1;
            version += 1;
            let bytes = canonical_bytes(
                state.position,
                event.event_id,
                &stream.stream_id,
                version,
                &event.event_type,
                event.schema_version,
                recorded_at,
                &event.payload,
                &append.metadata,
            );
            let hash = chain_hash(&state.hash, &bytes);
            rows.positions.push(state.position);
            rows.event_ids.push(event.event_id);
            rows.stream_ids.push(stream.stream_id.clone());
            rows.stream_versions.push(version);
            rows.event_types.push(event.event_type.clone());
            rows.schema_versions.push(event.schema_version);
            rows.payloads.push(event.payload.clone());
            rows.metadata.push(append.metadata.clone());
            rows.recorded_at.push(recorded_at);
            rows.prev_hashes.push(state.hash.to_vec());
            rows.hashes.push(hash.to_vec());
            state.hash = hash;
        }
        if !stream.events.is_empty() {
            state.versions.insert(stream.stream_id.clone(), version);
            state
                .stream_positions
                .insert(stream.stream_id.clone(), state.position);
        }
        streams.push(StreamVersion {
            stream_id: stream.stream_id.clone(),
            version,
        });
    }
    let outcome = AppendOutcome {
        first_position: if append.event_count() == 0 {
            state.position
        } else {
            first_position
        },
        last_position: state.position,
        event_count: append.event_count() as i64,
        streams,
        reply: append.reply.clone(),
    };
    for claim in &append.claims {
        state
            .claims
            .insert((claim.scope.clone(), claim.value.clone()));
        rows.claim_scopes.push(claim.scope.clone());
        rows.claim_values.push(claim.value.clone());
        rows.claim_positions.push(state.position);
    }
    rows.command_ids.push(append.command_id);
    rows.request_hashes.push(append.request_hash.to_vec());
    rows.results.push(
        serde_json::to_value(&outcome).expect("an outcome is plain data and always serializes"),
    );
    state
        .commands
        .insert(append.command_id, (append.request_hash, outcome.clone()));
    Ok(outcome)
}

#[tracing::instrument(skip_all, err)]
async fn lock_head(conn: &mut PgConnection) -> Result<(i64, [u8; 32]), StoreError> {
    let row = sqlx::query("SELECT position, hash FROM log_head FOR UPDATE")
        .fetch_one(conn)
        .await?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok((row.try_get("position")?, to_hash(&hash)?))
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Malformed(format!("a hash of {} bytes", bytes.len())))
}

async fn load_versions(
    conn: &mut PgConnection,
    batch: &[PreparedAppend],
) -> Result<HashMap<String, i64>, StoreError> {
    let ids: Vec<&str> = batch
        .iter()
        .flat_map(|append| append.streams.iter().map(|s| s.stream_id.as_str()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let rows = sqlx::query("SELECT stream_id, version FROM streams WHERE stream_id = ANY($1)")
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("stream_id")?, row.try_get("version")?)))
        .collect()
}

async fn load_commands(
    conn: &mut PgConnection,
    batch: &[PreparedAppend],
) -> Result<HashMap<Uuid, ([u8; 32], AppendOutcome)>, StoreError> {
    let ids: Vec<Uuid> = batch.iter().map(|append| append.command_id).collect();
    let rows = sqlx::query(
        "SELECT command_id, request_hash, result FROM commands WHERE command_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("request_hash")?;
            let result: serde_json::Value = row.try_get("result")?;
            let outcome = serde_json::from_value(result)
                .map_err(|error| StoreError::Malformed(format!("a command result: {error}")))?;
            Ok((row.try_get("command_id")?, (to_hash(&hash)?, outcome)))
        })
        .collect()
}

async fn load_taken_claims(
    conn: &mut PgConnection,
    batch: &[PreparedAppend],
) -> Result<HashSet<(String, String)>, StoreError> {
    let (scopes, values): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .flat_map(|append| append.claims.iter())
        .map(|claim| (claim.scope.as_str(), claim.value.as_str()))
        .unzip();
    if scopes.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query(
        "SELECT c.scope, c.value FROM unique_claims c \
         JOIN UNNEST($1::text[], $2::text[]) AS wanted(scope, value) \
           ON c.scope = wanted.scope AND c.value = wanted.value",
    )
    .bind(&scopes)
    .bind(&values)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("scope")?, row.try_get("value")?)))
        .collect()
}

#[tracing::instrument(skip_all, fields(events = rows.positions.len()), err)]
async fn insert_events(conn: &mut PgConnection, rows: &BatchRows) -> Result<(), StoreError> {
    if rows.positions.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, \
                             schema_version, payload, metadata, recorded_at, prev_hash, hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
                              $6::integer[], $7::text[], $8::text[], $9::timestamptz[], \
                              $10::bytea[], $11::bytea[])",
    )
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
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_streams(conn: &mut PgConnection, state: &BatchState) -> Result<(), StoreError> {
    if state.stream_positions.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(state.stream_positions.len());
    let mut versions = Vec::with_capacity(ids.capacity());
    let mut positions = Vec::with_capacity(ids.capacity());
    for (stream_id, position) in &state.stream_positions {
        ids.push(stream_id.as_str());
        versions.push(state.versions[stream_id]);
        positions.push(*position);
    }
    sqlx::query(
        "INSERT INTO streams (stream_id, version, position) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) \
         ON CONFLICT (stream_id) DO UPDATE \
           SET version = EXCLUDED.version, position = EXCLUDED.position",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&positions)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_claims(conn: &mut PgConnection, rows: &BatchRows) -> Result<(), StoreError> {
    if rows.claim_scopes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO unique_claims (scope, value, position) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])",
    )
    .bind(&rows.claim_scopes)
    .bind(&rows.claim_values)
    .bind(&rows.claim_positions)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_commands(
    conn: &mut PgConnection,
    rows: &BatchRows,
    recorded_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO commands (command_id, request_hash, result, recorded_at) \
         SELECT id, request_hash, result, $4 \
         FROM UNNEST($1::uuid[], $2::bytea[], $3::jsonb[]) AS c(id, request_hash, result)",
    )
    .bind(&rows.command_ids)
    .bind(&rows.request_hashes)
    .bind(&rows.results)
    .bind(recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn move_head(
    conn: &mut PgConnection,
    position: i64,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE log_head SET position = $1, hash = $2")
        .bind(position)
        .bind(hash.as_slice())
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(NOTIFY_CHANNEL)
        .bind(position.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
