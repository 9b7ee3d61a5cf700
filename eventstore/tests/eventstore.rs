//! The event log against a real PostgreSQL: each test gets its own database.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed step fails the test.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ledger_eventstore::{
    AppendOutcome, AppendRequest, Appender, AppenderConfig, BreakReason, CheckpointStatus,
    EventMetadata, ExpectedVersion, NewEvent, Settled, StoreError, StreamAppend, UniqueClaim, head,
    read_all, read_stream, read_stream_tails, verify_checkpoint, verify_range,
};
use ledger_pgembed::testing::{TestDatabase, fresh_database};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

struct Store {
    _database: TestDatabase,
    pool: PgPool,
}

async fn store() -> Store {
    let database = fresh_database().await.expect("a fresh test database");
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect(database.url())
        .await
        .expect("connect to the test database");
    ledger_eventstore::migrate(&pool)
        .await
        .expect("migrations apply");
    Store {
        _database: database,
        pool,
    }
}

fn appender(pool: &PgPool) -> Appender {
    Appender::spawn(pool.clone(), AppenderConfig::default()).0
}

/// The whole log verifies: every hash chains from the one before it.
async fn assert_chain_intact(pool: &PgPool) {
    let report = verify_range(pool, 1, None, |_| {}).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
}

fn event(n: usize) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "test.happened".into(),
        schema_version: 1,
        payload: json!({ "n": n, "amount": "12.50" }),
    }
}

fn request(streams: Vec<StreamAppend>) -> AppendRequest {
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
    }
}

fn one_stream(stream: &str, expected: ExpectedVersion, events: usize) -> AppendRequest {
    request(vec![StreamAppend {
        stream_id: stream.into(),
        expected,
        events: (0..events).map(event).collect(),
    }])
}

#[tokio::test]
async fn appends_get_contiguous_positions_and_versions_and_read_back() {
    let store = store().await;
    let appender = appender(&store.pool);
    let first = appender
        .append(one_stream("account-a", ExpectedVersion::NoStream, 3))
        .await
        .unwrap();
    assert_eq!((first.first_position, first.last_position), (1, 3));
    let second = appender
        .append(one_stream("account-a", ExpectedVersion::Exact(3), 2))
        .await
        .unwrap();
    assert_eq!((second.first_position, second.last_position), (4, 5));
    assert_eq!(second.streams[0].version, 5);

    let stream = read_stream(&store.pool, "account-a", 2, 100).await.unwrap();
    assert_eq!(
        stream.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    let all = read_all(&store.pool, 0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].payload_json().unwrap()["amount"], "12.50");
    assert_eq!(
        all[0].metadata().unwrap().actor_id.as_deref(),
        Some("tester")
    );
    let head = head(&store.pool).await.unwrap();
    assert_eq!((head.position, head.hash), (5, all[4].hash));
    assert_chain_intact(&store.pool).await;
}

#[tokio::test]
async fn the_tails_of_several_streams_come_back_in_one_read_each_from_its_own_version() {
    let store = store().await;
    let appender = appender(&store.pool);
    for (stream, events) in [("account-a", 4), ("org-a", 3), ("account-b", 2)] {
        appender
            .append(one_stream(stream, ExpectedVersion::NoStream, events))
            .await
            .unwrap();
    }
    let tails = read_stream_tails(
        &store.pool,
        &[("account-a", 3), ("org-a", 1), ("no-such-stream", 1)],
        2,
    )
    .await
    .unwrap();
    // Each stream from its own version, at most two of each, in position order; the stream
    // not asked for and the stream without events add nothing.
    assert_eq!(
        tails
            .iter()
            .map(|e| (e.stream_id.as_str(), e.stream_version, e.position))
            .collect::<Vec<_>>(),
        [
            ("account-a", 3, 3),
            ("account-a", 4, 4),
            ("org-a", 1, 5),
            ("org-a", 2, 6)
        ]
    );
    let one = read_stream(&store.pool, "org-a", 1, 2).await.unwrap();
    assert_eq!(tails[2..], one[..]);
}

#[tokio::test]
async fn of_fifty_appends_expecting_the_same_version_exactly_one_wins() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("org-hot", ExpectedVersion::NoStream, 1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let appender = appender.clone();
            tokio::spawn(async move {
                appender
                    .append(one_stream("org-hot", ExpectedVersion::Exact(1), 2))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) => {
                won += 1;
                assert_eq!(outcome.streams[0].version, 3);
            }
            Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, 3),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let versions: Vec<i64> = read_stream(&store.pool, "org-hot", 1, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}

#[tokio::test]
async fn conflicts_between_separate_writers_are_caught_by_the_database_too() {
    // Two appenders are two writers, as two ledgerd processes would be.
    let store = store().await;
    let (a, b) = (appender(&store.pool), appender(&store.pool));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let appender = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                appender
                    .append(one_stream("org-x", ExpectedVersion::NoStream, 1))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap().is_ok());
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn a_writer_whose_head_moved_under_its_memory_writes_after_the_other_writer() {
    // A writer that remembers where it left the head writes its next batch in one call, which
    // must write nothing when another writer has appended since: the batch then goes after it.
    let store = store().await;
    let (a, b) = (appender(&store.pool), appender(&store.pool));
    let exact = |stream, version| one_stream(stream, ExpectedVersion::Exact(version), 1);
    a.append(one_stream("account-a", ExpectedVersion::NoStream, 1))
        .await
        .unwrap();
    let on_memory = a.append(exact("account-a", 1)).await.unwrap();
    assert_eq!(on_memory.last_position, 2);
    let checked = a.watch().checks();
    assert!(a.watch().unmoved_since(checked).is_some());

    let other = b
        .append(one_stream("account-b", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    assert_eq!(other.last_position, 4);
    let after_other = a.append(exact("account-a", 2)).await.unwrap();
    assert_eq!(
        (after_other.first_position, after_other.last_position),
        (5, 5)
    );
    assert!(
        a.watch().unmoved_since(checked).is_none(),
        "the writer saw the other's appends"
    );
    // And the other way round: b's memory is stale now.
    let back = b.append(exact("account-b", 2)).await.unwrap();
    assert_eq!(back.first_position, 6);
    let stale = a.append(exact("account-a", 2)).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );

    assert_eq!(head(&store.pool).await.unwrap().position, 6);
    let positions: Vec<i64> = read_all(&store.pool, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6]);
    assert_chain_intact(&store.pool).await;
}

#[tokio::test]
async fn a_batch_written_alone_on_a_connection_left_inside_a_transaction_still_commits() {
    // sqlx can put a connection back in its pool inside a transaction (a task cancelled while
    // its BEGIN is answered). A batch written in one call must not join that transaction: it
    // would be answered as written and never commit.
    let store = store().await;
    let one = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*store.pool.connect_options()).clone())
        .await
        .unwrap();
    let appender = appender(&one);
    // `Any`, so that its retry passes the writer's memory and reaches the key.
    let first = one_stream("account-a", ExpectedVersion::Any, 1);
    appender.append(first.clone()).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&one)
        .await
        .unwrap();
    let idle = || async {
        let state: String = sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        state == "idle"
    };

    sqlx::query("BEGIN").execute(&one).await.unwrap();
    let written = appender
        .append(one_stream("account-a", ExpectedVersion::Exact(1), 1))
        .await
        .unwrap();
    assert_eq!(written.last_position, 2);
    assert_eq!(
        head(&store.pool).await.unwrap().position,
        2,
        "committed: another connection sees it"
    );
    assert!(idle().await, "the stray transaction is over");

    // A retry breaks a key inside such a transaction, which the error aborts: the connection
    // must still serve the full read that answers the retry.
    sqlx::query("BEGIN").execute(&one).await.unwrap();
    let again = appender.append(first).await.unwrap();
    assert!(again.replayed);
    assert_eq!(head(&store.pool).await.unwrap().position, 2);
    assert!(idle().await, "the aborted transaction is over");
}

#[tokio::test]
async fn a_reader_tailing_the_log_never_sees_a_position_filled_later() {
    const WRITERS: usize = 4;
    const APPENDERS: usize = 16;
    const EVENTS: usize = 20_000;
    const EVENTS_PER_APPEND: usize = 5;
    let store = store().await;
    let writers: Vec<Appender> = (0..WRITERS).map(|_| appender(&store.pool)).collect();
    let reader_pool = store.pool.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(EVENTS);
        let mut last = 0;
        while seen.len() < EVENTS {
            let page = read_all(&reader_pool, last, 1_000).await.unwrap();
            for event in &page {
                assert_eq!(event.position, last + 1, "a position was skipped");
                last = event.position;
                seen.push(event.event_id);
            }
            if page.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        seen
    });
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|i| {
            let appender = writers[i % WRITERS].clone();
            tokio::spawn(async move {
                let mut written = Vec::new();
                for n in 0..EVENTS / APPENDERS / EVENTS_PER_APPEND {
                    let request = one_stream(
                        &format!("account-{i}-{}", n % 7),
                        ExpectedVersion::Any,
                        EVENTS_PER_APPEND,
                    );
                    written.extend(request.streams[0].events.iter().map(|e| e.event_id));
                    appender.append(request).await.unwrap();
                }
                written
            })
        })
        .collect();
    let mut written = HashSet::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the reader catches up")
        .unwrap();
    assert_eq!(seen.len(), EVENTS);
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), written);
    assert_chain_intact(&store.pool).await;
}

#[tokio::test]
async fn an_append_to_two_streams_with_one_stale_version_appends_to_neither() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("account-source", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    let transfer = request(vec![
        StreamAppend {
            stream_id: "account-source".into(),
            expected: ExpectedVersion::Exact(1),
            events: vec![event(1)],
        },
        StreamAppend {
            stream_id: "account-target".into(),
            expected: ExpectedVersion::NoStream,
            events: vec![event(2)],
        },
    ]);
    let error = appender.append(transfer).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict { ref stream_id, actual: 2, .. } if stream_id == "account-source")
    );
    assert!(
        read_stream(&store.pool, "account-target", 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(head(&store.pool).await.unwrap().position, 2);
}

#[tokio::test]
async fn a_stream_without_events_is_a_precondition_only() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("org-a", ExpectedVersion::NoStream, 1))
        .await
        .unwrap();
    let guarded = |expected| {
        request(vec![
            StreamAppend {
                stream_id: "org-a".into(),
                expected,
                events: vec![],
            },
            StreamAppend {
                stream_id: "account-a".into(),
                expected: ExpectedVersion::Any,
                events: vec![event(1)],
            },
        ])
    };
    let outcome = appender
        .append(guarded(ExpectedVersion::Exact(1)))
        .await
        .unwrap();
    assert_eq!(outcome.streams[0].version, 1);
    assert!(matches!(
        appender.append(guarded(ExpectedVersion::NoStream)).await,
        Err(StoreError::Conflict { .. })
    ));
}

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate_even_from_its_owner() {
    let store = store().await;
    let mut command = one_stream("account-a", ExpectedVersion::Any, 1);
    command.claims = vec![UniqueClaim {
        scope: "generation".into(),
        value: "account-a/gen-1".into(),
    }];
    appender(&store.pool).append(command).await.unwrap();
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "TRUNCATE events CASCADE",
        "DELETE FROM commands",
        "UPDATE unique_claims SET value = 'x'",
        "TRUNCATE unique_claims",
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&store.pool)
            .await
            .expect_err(statement);
        let message = error.to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    assert_eq!(read_all(&store.pool, 0, 10).await.unwrap().len(), 1);
}

async fn tamper(pool: &PgPool, statement: &'static str) {
    // Only a superuser can switch triggers off for its session: the attack the chain catches.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(statement).execute(&mut *conn).await.unwrap();
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn log_of_ten(store: &Store) {
    let appender = appender(&store.pool);
    for n in 0..10 {
        appender
            .append(one_stream(
                &format!("account-{}", n % 3),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn verification_names_the_position_whose_payload_was_altered() {
    let store = store().await;
    log_of_ten(&store).await;
    tamper(
        &store.pool,
        "UPDATE events SET payload = replace(payload, '12.50', '92.50') WHERE position = 7",
    )
    .await;
    let verification = verify_range(&store.pool, 1, None, |_| {}).await.unwrap();
    let at = verification.first_break.expect("the alteration is found");
    assert_eq!((at.position, at.reason), (7, BreakReason::HashMismatch));
    assert_eq!(verification.checked, 6);
}

#[tokio::test]
async fn verification_names_the_position_whose_hash_was_altered() {
    let store = store().await;
    log_of_ten(&store).await;
    tamper(
        &store.pool,
        "UPDATE events SET hash = sha256(hash) WHERE position = 4",
    )
    .await;
    let at = verify_range(&store.pool, 1, None, |_| {})
        .await
        .unwrap()
        .first_break
        .expect("the alteration is found");
    assert_eq!((at.position, at.reason), (4, BreakReason::HashMismatch));
}

#[tokio::test]
async fn verification_names_a_deleted_position() {
    let store = store().await;
    log_of_ten(&store).await;
    tamper(&store.pool, "DELETE FROM events WHERE position = 5").await;
    let at = verify_range(&store.pool, 1, None, |_| {})
        .await
        .unwrap()
        .first_break
        .expect("the deletion is found");
    assert_eq!((at.position, at.reason), (5, BreakReason::Missing));
}

#[tokio::test]
async fn a_checkpoint_is_extended_by_an_intact_log_and_refuted_by_a_rewritten_one() {
    let store = store().await;
    log_of_ten(&store).await;
    let checkpoint = head(&store.pool).await.unwrap();
    log_of_ten(&store).await;
    assert_eq!(
        verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::Extends { head: 20 }
    );
    assert_eq!(
        verify_checkpoint(&store.pool, 99, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::Missing
    );
    tamper(
        &store.pool,
        "UPDATE events SET payload = replace(payload, '12.50', '0.50') WHERE position = 3",
    )
    .await;
    // Rewriting history before the checkpoint without recomputing hashes leaves the
    // checkpoint's own stored hash intact; the checkpoint check re-hashes and names it.
    let status = verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
        .await
        .unwrap();
    assert!(
        matches!(status, CheckpointStatus::ChainBroken(at) if at.position == 3),
        "{status:?}"
    );
    tamper(
        &store.pool,
        "UPDATE events SET hash = sha256(hash) WHERE position = 10",
    )
    .await;
    assert!(matches!(
        verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::HashDiffers { .. }
    ));
}

#[tokio::test]
async fn a_retried_command_gets_its_first_outcome_and_appends_once() {
    let store = store().await;
    let appender = appender(&store.pool);
    let mut command = one_stream("account-a", ExpectedVersion::NoStream, 2);
    command.reply = json!({ "hold_id": "h-1" });
    let first = appender.append(command.clone()).await.unwrap();
    // The retry carries new event ids, as a re-decided command would: still the first outcome.
    for event in &mut command.streams[0].events {
        event.event_id = Uuid::new_v4();
    }
    let again = appender.append(command.clone()).await.unwrap();
    assert!(
        !first.replayed && again.replayed,
        "only the retry is a replay"
    );
    assert_eq!(
        AppendOutcome {
            replayed: false,
            ..again.clone()
        },
        first
    );
    assert_eq!(again.reply["hold_id"], "h-1");
    assert_eq!(head(&store.pool).await.unwrap().position, 2);

    command.request_hash = [7; 32];
    assert!(matches!(
        appender.append(command).await,
        Err(StoreError::CommandIdReused { .. })
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 2);
}

#[tokio::test]
async fn retries_inside_one_batch_are_answered_alike() {
    let store = store().await;
    let appender = appender(&store.pool);
    let command = one_stream("account-a", ExpectedVersion::Any, 1);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (appender, command) = (appender.clone(), command.clone());
            tokio::spawn(async move { appender.append(command).await.unwrap() })
        })
        .collect();
    let mut outcomes = HashSet::new();
    for task in tasks {
        outcomes.insert(task.await.unwrap().last_position);
    }
    assert_eq!(outcomes, HashSet::from([1]));
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
}

#[tokio::test]
async fn a_unique_claim_can_be_made_once() {
    let store = store().await;
    let appender = appender(&store.pool);
    let claimed = || {
        let mut command = one_stream("account-a", ExpectedVersion::Any, 1);
        command.claims = vec![UniqueClaim {
            scope: "generation".into(),
            value: "account-a/gen-1".into(),
        }];
        command
    };
    appender.append(claimed()).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let appender = appender.clone();
            let command = claimed();
            tokio::spawn(async move { appender.append(command).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(StoreError::ClaimTaken(ref claim)) if claim.scope == "generation"
        ));
    }
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
}

#[tokio::test]
async fn sixty_four_concurrent_appenders_share_few_transactions() {
    const CALLERS: usize = 64;
    const APPENDS_EACH: usize = 20;
    let store = store().await;
    let appender = appender(&store.pool);
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (appender, barrier) = (appender.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                for _ in 0..APPENDS_EACH {
                    appender
                        .append(one_stream(
                            &format!("account-{caller}"),
                            ExpectedVersion::Any,
                            1,
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = appender.stats();
    assert_eq!(stats.appends, (CALLERS * APPENDS_EACH) as u64);
    assert_eq!(stats.events, (CALLERS * APPENDS_EACH) as u64);
    assert!(
        stats.transactions * 4 <= stats.appends,
        "group commit should batch: {stats:?}"
    );
}

#[tokio::test]
async fn requests_beyond_the_limits_are_refused_before_they_reach_the_log() {
    let store = store().await;
    let appender = appender(&store.pool);
    for bad in [
        request(vec![]),
        one_stream("", ExpectedVersion::Any, 1),
        one_stream(&"s".repeat(201), ExpectedVersion::Any, 1),
        one_stream("account-a", ExpectedVersion::Exact(0), 1),
        one_stream("account-a", ExpectedVersion::Any, 1_001),
    ] {
        assert!(matches!(
            appender.append(bad).await,
            Err(StoreError::InvalidRequest(_))
        ));
    }
    assert_eq!(head(&store.pool).await.unwrap().position, 0);
}

#[tokio::test]
async fn the_embedded_default_keeps_the_log_across_a_restart() {
    use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
    let data_dir = std::env::temp_dir().join(format!("ledger-log-{}", Uuid::new_v4()));
    let config = EmbeddedConfig::new(&data_dir).durable(false);

    let server = EmbeddedPostgres::start(config.clone()).await.unwrap();
    server.ensure_database("ledger").await.unwrap();
    let pool = PgPool::connect(&server.database_url("ledger"))
        .await
        .unwrap();
    ledger_eventstore::migrate(&pool).await.unwrap();
    let written = appender(&pool)
        .append(one_stream("account-a", ExpectedVersion::NoStream, 3))
        .await
        .unwrap();
    pool.close().await;
    server.stop().await.unwrap();

    let server = EmbeddedPostgres::start(config).await.unwrap();
    assert!(!server.was_running(), "the first server was really stopped");
    let pool = PgPool::connect(&server.database_url("ledger"))
        .await
        .unwrap();
    let events = read_all(&pool, 0, 100).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(head(&pool).await.unwrap().position, written.last_position);
    assert_chain_intact(&pool).await;
    pool.close().await;
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test]
async fn a_retry_that_no_version_check_would_catch_still_gets_its_first_outcome() {
    // The writer skips reading what it already knows; a retry appending "anywhere" must
    // still be recognized by its command id, not appended again.
    let store = store().await;
    let appender = appender(&store.pool);
    let command = one_stream("account-a", ExpectedVersion::Any, 1);
    let first = appender.append(command.clone()).await.unwrap();
    appender
        .append(one_stream("account-a", ExpectedVersion::Any, 1))
        .await
        .unwrap();
    let again = appender.append(command).await.unwrap();
    assert!(again.replayed);
    assert_eq!(
        AppendOutcome {
            replayed: false,
            ..again
        },
        first
    );
    assert_eq!(head(&store.pool).await.unwrap().position, 2);
    assert_eq!(
        read_stream(&store.pool, "account-a", 1, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_runtime_role_appends_but_cannot_rewrite_the_log_even_with_the_triggers_off() {
    use sqlx::postgres::PgConnectOptions;
    let store = store().await;
    let role = format!("ledger_runtime_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} NOLOGIN")))
        .execute(&store.pool)
        .await
        .unwrap();
    ledger_eventstore::grant_log_privileges(&store.pool, &role)
        .await
        .unwrap();

    // Connections that act as the run-time role (the `role` setting, given at start-up).
    let options: PgConnectOptions = store._database.url().parse().unwrap();
    let runtime = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("role", role.as_str())]))
        .await
        .unwrap();
    let appended = appender(&runtime)
        .append(one_stream("account-a", ExpectedVersion::NoStream, 2))
        .await
        .expect("the run-time role can append");
    assert_eq!(appended.last_position, 2);
    assert_eq!(read_all(&runtime, 0, 10).await.unwrap().len(), 2);

    // Even with the triggers off (only the owner or a superuser can do that), the role's
    // privileges refuse every rewrite.
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&store.pool)
        .await
        .unwrap();
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "DELETE FROM commands",
        "UPDATE unique_claims SET value = 'x'",
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&runtime)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
        .execute(&store.pool)
        .await
        .unwrap();
    runtime.close().await;
    assert_chain_intact(&store.pool).await;
    for cleanup in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(cleanup))
            .execute(&store.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn appends_chained_after_committed_ones_are_accepted_in_the_same_batch_and_later() {
    let store = store().await;
    let appender = appender(&store.pool);
    // Queued back to back: the second and third were decided on the states the earlier ones
    // leave, before those committed.
    let first = appender
        .enqueue(one_stream("account-a", ExpectedVersion::NoStream, 1), None)
        .await
        .unwrap();
    let second = appender
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(1), 2),
            Some(first.ticket().clone()),
        )
        .await
        .unwrap();
    let third = appender
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(3), 1),
            Some(second.ticket().clone()),
        )
        .await
        .unwrap();
    let third_ticket = third.ticket().clone();
    for (queued, last) in [(first, 1), (second, 3), (third, 4)] {
        assert_eq!(queued.outcome().await.unwrap().last_position, last);
    }
    assert_eq!(third_ticket.settled(), Some(Settled::Committed));
    // Chained after an append committed in an earlier batch.
    let fourth = appender
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(4), 1),
            Some(third_ticket),
        )
        .await
        .unwrap();
    assert_eq!(fourth.outcome().await.unwrap().last_position, 5);
}

#[tokio::test]
async fn an_append_chained_after_one_that_failed_is_refused_even_where_its_version_fits() {
    // Another process takes version 2 of the stream; ours decided a command at version 1 and
    // chained a second one on the state the first would leave, which expects version 2. The
    // version check alone would accept the second one, on events that never reached the log.
    let store = store().await;
    let (ours, theirs) = (appender(&store.pool), appender(&store.pool));
    ours.append(one_stream("account-a", ExpectedVersion::NoStream, 1))
        .await
        .unwrap();
    theirs
        .append(one_stream("account-a", ExpectedVersion::Exact(1), 1))
        .await
        .unwrap();

    // Queued together (one batch, or two: the answer is the same).
    let first = ours
        .enqueue(one_stream("account-a", ExpectedVersion::Exact(1), 1), None)
        .await
        .unwrap();
    let second = ours
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(2), 1),
            Some(first.ticket().clone()),
        )
        .await
        .unwrap();
    let first_ticket = first.ticket().clone();
    assert!(matches!(
        first.outcome().await,
        Err(StoreError::Conflict { actual: 2, .. })
    ));
    assert!(matches!(
        second.outcome().await,
        Err(StoreError::PredecessorFailed)
    ));
    // Queued after the first failed, in a later batch.
    assert_eq!(first_ticket.wait_settled().await, Settled::Failed);
    let late = ours
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(2), 1),
            Some(first_ticket),
        )
        .await
        .unwrap();
    assert!(matches!(
        late.outcome().await,
        Err(StoreError::PredecessorFailed)
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 2);
}

#[tokio::test]
async fn a_retry_answered_from_its_stored_outcome_is_no_predecessor() {
    // The retry appends nothing, so a command decided on the events it would have appended
    // must not land, although the stream is at the version it expects.
    let store = store().await;
    let appender = appender(&store.pool);
    let command = one_stream("account-a", ExpectedVersion::NoStream, 1);
    appender.append(command.clone()).await.unwrap();
    let retry = appender.enqueue(command, None).await.unwrap();
    let chained = appender
        .enqueue(
            one_stream("account-a", ExpectedVersion::Exact(1), 1),
            Some(retry.ticket().clone()),
        )
        .await
        .unwrap();
    assert!(retry.outcome().await.unwrap().replayed);
    assert!(matches!(
        chained.outcome().await,
        Err(StoreError::PredecessorFailed)
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
}
