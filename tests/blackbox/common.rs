//! Helpers of the API tests: a server on a fresh database, ids, usage reports, error details.

use ledger_api::pb;
use ledger_pgembed::testing::{TestDatabase, fresh_database};
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

/// A running ledgerd on its own fresh database, and a pool on that database.
pub struct Env {
    pub ledgerd: Ledgerd,
    pub pool: sqlx::PgPool,
    _database: TestDatabase,
}

impl Env {
    pub async fn start() -> Env {
        let database = fresh_database().await.unwrap();
        let ledgerd = Ledgerd::start(&LedgerdOptions {
            database_url: Some(database.url().to_owned()),
            data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", Uuid::new_v4())),
            key_hash_secret_file: None,
        })
        .await;
        let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
        Env {
            ledgerd,
            pool,
            _database: database,
        }
    }

    /// The log's head position, read straight from the event store.
    pub async fn head(&self) -> i64 {
        ledger_eventstore::head(&self.pool).await.unwrap().position
    }
}

/// A fresh id as a string.
pub fn id() -> String {
    Uuid::new_v4().to_string()
}

/// A usage report for a generation.
pub fn usage(generation: &str, cost: &str) -> pb::UsageReport {
    let started = prost_types::Timestamp {
        seconds: 1_780_000_000,
        nanos: 0,
    };
    let finished = prost_types::Timestamp {
        seconds: 1_780_000_001,
        nanos: 0,
    };
    pb::UsageReport {
        generation_id: generation.into(),
        model: "gpt-x".into(),
        provider: "openai".into(),
        tokens: Some(pb::Tokens {
            prompt: 100,
            completion: 50,
            reasoning: 0,
            cached: 10,
        }),
        cost: cost.into(),
        latency_ms: 900,
        time_to_first_token_ms: Some(120),
        status: pb::UsageStatus::Success.into(),
        started_at: Some(started),
        finished_at: Some(finished),
    }
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Asserts INVALID_ARGUMENT naming `field` in a `BadRequest` violation.
#[track_caller]
pub fn assert_bad_field(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec![field.to_owned()], "{status:?}");
}
