//! Catch-up benchmark: appends N usage events (1,000 per append, through the Appender) to one
//! account in a fresh database, then measures how fast each projection catches up from 0.
//!
//! `DATABASE_URL=postgres://… CATCHUP_EVENTS=100000 cargo run -p ledger-projections --example catchup`

#![allow(clippy::unwrap_used)] // A benchmark: any failure aborts the run.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use ledger_domain::account::{
    AccountEvent, AccountOpened, AccountOwner, KeyCreated, Tokens, Usage, UsageRecorded,
    UsageStatus,
};
use ledger_domain::text::{KeyName, KeyPrefix, ModelName, ProviderName, SecretHash};
use ledger_domain::{AccountId, Credits, Event, GenerationId, KeyId, UserId};
use ledger_eventstore::{
    AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent, StreamAppend,
};
use ledger_pgembed::testing::{MigratedPool, migrated_pool};
use ledger_projections::{Projection, ReadModelPool, step};
use rust_decimal::Decimal;
use uuid::Uuid;

fn request(stream: &str, events: Vec<Event>) -> AppendRequest {
    let command_id = Uuid::new_v4();
    let mut request_hash = [0; 32];
    request_hash[..16].copy_from_slice(command_id.as_bytes());
    AppendRequest {
        command_id,
        request_hash,
        metadata: EventMetadata {
            caller_kind: "bench".into(),
            actor_id: None,
            command_id,
            correlation_id: command_id,
            causation_id: None,
            credential: None,
        },
        streams: vec![StreamAppend {
            stream_id: stream.into(),
            expected: ExpectedVersion::Any,
            events: events
                .iter()
                .map(|e| NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type: e.event_type().into(),
                    schema_version: i32::from(e.schema_version()),
                    payload: e.to_payload(),
                })
                .collect(),
        }],
        claims: vec![],
        reply: serde_json::Value::Null,
        outbox: vec![],
    }
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("CATCHUP_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let MigratedPool {
        database: _database,
        pool,
    } = migrated_pool(&ledger_eventstore::MIGRATOR, 8)
        .await
        .unwrap();
    let appender = Appender::spawn(pool.clone(), AppenderConfig::default()).0;
    let (account, user, key) = (
        AccountId::from_u128(1),
        UserId::from_u128(2),
        KeyId::from_u128(3),
    );
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let stream = account.stream();
    let setup = vec![
        Event::Account(AccountEvent::Opened(AccountOpened {
            account_id: account,
            owner: AccountOwner::User { user_id: user },
            at,
        })),
        Event::Account(AccountEvent::KeyCreated(KeyCreated {
            account_id: account,
            key_id: key,
            created_by: user,
            name: KeyName::parse("bench").unwrap(),
            secret_hash: SecretHash::parse(&"ab".repeat(32)).unwrap(),
            prefix: KeyPrefix::parse("ar-1234").unwrap(),
            limit: None,
            expires_at: None,
            at,
        })),
    ];
    appender.append(request(&stream, setup)).await.unwrap();
    let started = Instant::now();
    let mut pending = Vec::new();
    for chunk in 0..total.div_ceil(1_000) {
        let events = (0..1_000.min(total - chunk * 1_000))
            .map(|i| {
                let n = chunk * 1_000 + i;
                let finished = at + Duration::seconds(n as i64);
                Event::Account(AccountEvent::UsageRecorded(UsageRecorded {
                    account_id: account,
                    usage: Usage {
                        key_id: key,
                        user_id: user,
                        generation_id: GenerationId::parse(&format!("gen-{n}")).unwrap(),
                        model: ModelName::parse(["gpt-x", "claude-y"][n % 2]).unwrap(),
                        provider: ProviderName::parse("openai").unwrap(),
                        tokens: Tokens {
                            prompt: 100,
                            completion: 50,
                            reasoning: 0,
                            cached: 10,
                        },
                        cost: Credits::usage_cost(Decimal::new(1_234, 6)).unwrap(),
                        latency_ms: 900,
                        time_to_first_token_ms: Some(120),
                        status: UsageStatus::Success,
                        started_at: finished - Duration::milliseconds(900),
                        finished_at: finished,
                    },
                    at: finished,
                }))
            })
            .collect();
        let appender = appender.clone();
        let req = request(&stream, events);
        pending.push(tokio::spawn(async move { appender.append(req).await }));
    }
    for task in pending {
        task.await.unwrap().unwrap();
    }
    println!("appended {total} usage events in {:?}", started.elapsed());
    let read_models = ReadModelPool::new(pool.clone());
    for projection in Projection::ALL {
        let started = Instant::now();
        let mut applied = 0;
        loop {
            let outcome = step(&pool, &read_models, projection, 5_000).await.unwrap();
            applied += outcome.events;
            if outcome.events == 0 {
                break;
            }
        }
        let took = started.elapsed();
        println!(
            "{projection:>10}: {applied} events in {took:.2?} = {:.0} events/s",
            applied as f64 / took.as_secs_f64()
        );
    }
}
