//! A fresh migrated database per test, an appender on it, and requests of numbered events.

use ledger_eventstore::{
    AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent,
    StreamAppend, verify_range,
};
use ledger_pgembed::testing::{MigratedPool, migrated_pool};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// A fresh database with the log's schema, for one test; dropped with it.
pub async fn store() -> MigratedPool {
    migrated_pool(&ledger_eventstore::MIGRATOR, 20)
        .await
        .expect("a fresh migrated test database")
}

pub fn appender(pool: &PgPool) -> Appender {
    Appender::spawn(pool.clone(), AppenderConfig::default()).0
}

/// The whole log verifies: every hash chains from the one before it.
pub async fn assert_chain_intact(pool: &PgPool) {
    let report = verify_range(pool, 1, None, |_| {}).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
}

pub fn event(n: usize) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "test.happened".into(),
        schema_version: 1,
        payload: json!({ "n": n, "amount": "12.50" }),
    }
}

pub fn request(streams: Vec<StreamAppend>) -> AppendRequest {
    let command_id = Uuid::new_v4();
    let mut request_hash = [0; 32];
    request_hash[..16].copy_from_slice(command_id.as_bytes());
    AppendRequest {
        command_id,
        request_hash,
        metadata: EventMetadata {
            caller_kind: "test".into(),
            actor_id: Some("tester".into()),
            command_id,
            correlation_id: command_id,
            causation_id: None,
            credential: None,
        },
        streams,
        claims: vec![],
        reply: json!(null),
        outbox: vec![],
    }
}

pub fn one_stream(stream: &str, expected: ExpectedVersion, events: usize) -> AppendRequest {
    request(vec![StreamAppend {
        stream_id: stream.into(),
        expected,
        events: (0..events).map(event).collect(),
    }])
}
