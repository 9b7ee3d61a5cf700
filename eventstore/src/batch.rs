//! One batch of appends in one transaction: the heart of group commit.
//!
//! The transaction first locks the head row, so batches from every process are serialized and
//! positions are handed out in commit order. Each request of the batch is then judged in order
//! against the state the earlier requests left (stream versions, command ids, claims): a request
//! that fails is answered with its own error and the others go on.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::batch_sql::{
    Known, Transaction, inside_open_transaction, load_known, lock_head, write_rows,
};
use crate::error::StoreError;
use crate::judge::{BatchState, judge_batch};
use crate::model::AppendOutcome;
use crate::prepare::PreparedGroup;
use crate::watch::WriterWatch;

/// The writer's answer to each request of a batch: the outcome of each of its commands.
pub(crate) type Answers = Vec<Result<Vec<AppendOutcome>, StoreError>>;

/// Rows accumulated for the batch's multi-row inserts.
#[derive(Default)]
pub(crate) struct BatchRows {
    pub(crate) positions: Vec<i64>,
    pub(crate) event_ids: Vec<Uuid>,
    pub(crate) stream_ids: Vec<String>,
    pub(crate) stream_versions: Vec<i64>,
    pub(crate) event_types: Vec<String>,
    pub(crate) schema_versions: Vec<i32>,
    pub(crate) payloads: Vec<String>,
    pub(crate) metadata: Vec<String>,
    pub(crate) recorded_at: Vec<DateTime<Utc>>,
    pub(crate) prev_hashes: Vec<Vec<u8>>,
    pub(crate) hashes: Vec<Vec<u8>>,
    pub(crate) command_ids: Vec<Uuid>,
    pub(crate) request_hashes: Vec<Vec<u8>>,
    pub(crate) results: Vec<serde_json::Value>,
    pub(crate) claim_scopes: Vec<String>,
    pub(crate) claim_values: Vec<String>,
    pub(crate) claim_positions: Vec<i64>,
    pub(crate) stream_heads: Vec<String>,
    pub(crate) stream_head_versions: Vec<i64>,
    pub(crate) stream_head_positions: Vec<i64>,
    pub(crate) outbox_positions: Vec<i64>,
    pub(crate) outbox_indexes: Vec<i32>,
    pub(crate) outbox_kinds: Vec<String>,
    pub(crate) outbox_payloads: Vec<String>,
}

impl BatchRows {
    /// Each stream the batch wrote once, with its final version and position.
    fn set_streams(&mut self, state: &BatchState) {
        for (stream_id, position) in &state.stream_positions {
            self.stream_heads.push(stream_id.clone());
            self.stream_head_versions.push(state.versions[stream_id]);
            self.stream_head_positions.push(*position);
        }
    }
}

/// What a writer remembers of the log between its own batches.
///
/// While the head is where this writer left it, no other writer (another `ledgerd`) has
/// appended since, so the remembered stream versions are exact and the batch need not read
/// them again. Command ids and claims are not remembered (there are too many): such a batch
/// relies on their primary keys, and is judged again against a full read when a key is
/// violated or when it refuses any request (a refused request may be a retry whose stored
/// outcome is the right answer).
#[derive(Debug, Default)]
pub(crate) struct WriterMemory {
    /// Position and hash of the head where this writer left it.
    head: Option<(i64, [u8; 32])>,
    versions: HashMap<String, i64>,
}

/// Most stream versions a writer remembers; past it the memory starts afresh.
const MAX_REMEMBERED_STREAMS: usize = 100_000;

impl WriterMemory {
    /// Where this writer left the head, if it remembers.
    pub(crate) fn head(&self) -> Option<i64> {
        self.head.map(|(position, _)| position)
    }

    fn forget(&mut self) {
        self.head = None;
        self.versions.clear();
    }

    fn remember(&mut self, state: &BatchState) {
        if self.versions.len() + state.stream_positions.len() > MAX_REMEMBERED_STREAMS {
            self.versions.clear();
        }
        for stream_id in state.stream_positions.keys() {
            self.versions
                .insert(stream_id.clone(), state.versions[stream_id]);
        }
        self.head = Some((state.position, state.hash));
    }
}

/// Why an attempt at a batch did not commit.
enum Failure {
    /// Judging on the writer's memory alone may have given a wrong answer (a key was violated,
    /// or a request was refused); nothing was written, and the batch must be judged again
    /// against everything read from the log.
    StaleMemory,
    /// The transaction failed.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Store(error.into())
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// Writes a batch in one transaction and answers each request. An `Err` means the transaction
/// failed: nothing of the batch was written, unless the connection was lost while the
/// transaction committed (a retry then gets the stored outcome).
///
/// One round trip when the writer's memory covers every stream of the batch and no other writer
/// appended since its previous batch (see [`on_memory`]). Otherwise at most five, whatever the
/// batch size: `BEGIN`, the head lock, one read of what the batch's requests are judged against
/// (skipped when the writer's memory covers it), one call writing all rows, and `COMMIT`. The
/// read must follow the lock in its own statement: a statement's snapshot is taken when it
/// starts, so reads sharing a statement with the lock wait would miss the batch that held it.
pub(crate) async fn write_batch(
    pool: &PgPool,
    batch: &[PreparedGroup],
    recorded_at: DateTime<Utc>,
    memory: &mut WriterMemory,
    watch: &WriterWatch,
) -> Result<Answers, StoreError> {
    let first = match on_memory(pool, batch, recorded_at, memory, watch).await {
        Ok(None) => attempt(pool, batch, recorded_at, memory, watch, true).await,
        Ok(Some(answers)) => Ok(answers),
        Err(failure) => Err(failure),
    };
    let outcome = match first {
        Err(Failure::StaleMemory) => attempt(pool, batch, recorded_at, memory, watch, false).await,
        other => other,
    };
    outcome.map_err(|failure| {
        memory.forget();
        match failure {
            Failure::Store(error) => error,
            Failure::StaleMemory => {
                StoreError::Malformed("a batch judged on a full read broke a key".into())
            }
        }
    })
}

/// Judges the batch on the writer's memory alone and writes it with one call of `append_batch`
/// that commits, which takes the head's lock and writes only if the head is
/// where this writer left it. `None`, having written nothing, when the memory does not cover
/// every stream of the batch, or when another writer has appended since (the memory is then
/// forgotten).
async fn on_memory(
    pool: &PgPool,
    batch: &[PreparedGroup],
    recorded_at: DateTime<Utc>,
    memory: &mut WriterMemory,
    watch: &WriterWatch,
) -> Result<Option<Answers>, Failure> {
    let Some((position, hash)) = memory.head else {
        return Ok(None);
    };
    let mut versions = HashMap::new();
    for stream in batch.iter().flat_map(PreparedGroup::streams) {
        let Some(version) = memory.versions.get(&stream.stream_id) else {
            return Ok(None);
        };
        versions.insert(stream.stream_id.clone(), *version);
    }
    let remembered = Known {
        versions,
        commands: HashMap::new(),
        claims: HashSet::new(),
    };
    let (state, mut rows, answers) = judge_batch(batch, (position, hash), remembered, recorded_at);
    if answers.iter().any(Result::is_err) {
        // As in `attempt`: only a full read can tell a refusal from a retry.
        return Err(Failure::StaleMemory);
    }
    if rows.command_ids.is_empty() {
        return Ok(Some(answers));
    }
    rows.set_streams(&state);
    let mut conn = pool.acquire().await?;
    // The call takes the head's lock after this instant: the head is known unmoved as of it.
    let checked_at = Instant::now();
    let (expected, new_head) = ((position, &hash), (state.position, &state.hash));
    let own = Transaction::Own;
    let written = write_rows(&mut *conn, own, &rows, recorded_at, expected, new_head).await;
    if written.is_err() {
        // sqlx returns a connection to the pool inside a transaction when a task is cancelled
        // while its BEGIN is answered; an error there leaves that transaction aborted, and the
        // connection useless to its next user. End it. (In a transaction of its own the call
        // has already rolled back, and this only draws a warning from the server.)
        if let Err(error) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(%error, "rollback after a failed batch call failed");
        }
    }
    match written {
        Ok(true) => {}
        Ok(false) => {
            memory.forget();
            return Ok(None);
        }
        Err(StoreError::Database(error)) if breaks_remembered_key(&error) => {
            return Err(Failure::StaleMemory);
        }
        Err(StoreError::Database(error)) if inside_open_transaction(&error) => {
            // The procedure could not commit inside such a transaction: write the batch the
            // other way.
            tracing::warn!("a pooled connection was left inside a transaction; rolled back");
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    }
    watch.observe_at(false, checked_at);
    memory.remember(&state);
    Ok(Some(answers))
}

async fn attempt(
    pool: &PgPool,
    batch: &[PreparedGroup],
    recorded_at: DateTime<Utc>,
    memory: &mut WriterMemory,
    watch: &WriterWatch,
    trust_memory: bool,
) -> Result<Answers, Failure> {
    let mut tx = pool.begin().await?;
    let (position, hash) = lock_head(&mut tx).await?;
    let unmoved = memory.head == Some((position, hash));
    watch.observe(!unmoved);
    let trusted = trust_memory && unmoved;
    if !trusted {
        memory.forget();
    }
    let batch_streams: HashSet<&str> = batch
        .iter()
        .flat_map(PreparedGroup::streams)
        .map(|stream| stream.stream_id.as_str())
        .collect();
    let unknown = batch_streams
        .iter()
        .copied()
        .filter(|stream| !memory.versions.contains_key(*stream))
        .collect();
    let mut known = load_known(&mut tx, batch, unknown, !trusted).await?;
    for stream in batch_streams {
        if let Some(version) = memory.versions.get(stream) {
            known.versions.insert(stream.to_owned(), *version);
        }
    }
    let (state, mut rows, answers) = judge_batch(batch, (position, hash), known, recorded_at);
    if trusted && answers.iter().any(Result::is_err) {
        // A refused request may be the retry of a command already in the log, whose stored
        // outcome is the right answer: only a full read can tell.
        tx.rollback().await?;
        return Err(Failure::StaleMemory);
    }
    if rows.command_ids.is_empty() {
        // Only retries and refusals: nothing to write.
        tx.rollback().await?;
        return Ok(answers);
    }
    rows.set_streams(&state);
    let (expected, new_head) = ((position, &hash), (state.position, &state.hash));
    let open = Transaction::Open;
    match write_rows(&mut *tx, open, &rows, recorded_at, expected, new_head).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Failure::Store(StoreError::Malformed(
                "the head moved while this transaction held its lock".into(),
            )));
        }
        Err(StoreError::Database(error)) if trusted && breaks_remembered_key(&error) => {
            return Err(Failure::StaleMemory);
        }
        Err(error) => return Err(error.into()),
    }
    tx.commit().await?;
    memory.remember(&state);
    Ok(answers)
}

/// Whether the write failed on a key the writer does not remember: a command id or a claim.
fn breaks_remembered_key(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    database.code().as_deref() == Some("23505")
        && matches!(
            database.constraint(),
            Some("commands_pkey" | "unique_claims_pkey")
        )
}
