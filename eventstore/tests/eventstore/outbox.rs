//! The transactional outbox: messages commit with the events of their append, or not at all,
//! in cursor order.

use ledger_eventstore::{ExpectedVersion, OutboxCursor, OutboxMessage, StoreError, read_outbox};
use serde_json::json;

use crate::support::{appender, one_stream, store};

fn message(kind: &str, n: usize) -> OutboxMessage {
    OutboxMessage {
        kind: kind.into(),
        payload: json!({ "n": n }),
    }
}

#[tokio::test]
async fn messages_are_written_with_the_events_of_their_append_at_its_last_position() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("account-a", ExpectedVersion::Any, 1))
        .await
        .unwrap();
    let mut command = one_stream("account-a", ExpectedVersion::Exact(1), 2);
    command.outbox = vec![message("low_balance", 1), message("key_limit_reached", 2)];
    let outcome = appender.append(command).await.unwrap();
    assert_eq!(outcome.last_position, 3);

    let read = read_outbox(&store.pool, OutboxCursor::default(), 100)
        .await
        .unwrap();
    let cursors: Vec<_> = read
        .iter()
        .map(|r| (r.cursor.position, r.cursor.index))
        .collect();
    assert_eq!(cursors, vec![(3, 0), (3, 1)]);
    assert_eq!(read[0].kind, "low_balance");
    assert_eq!(read[1].kind, "key_limit_reached");
    let payload: serde_json::Value = serde_json::from_str(&read[1].payload).unwrap();
    assert_eq!(payload, json!({ "n": 2 }));
    let after_first = read_outbox(&store.pool, read[0].cursor, 100).await.unwrap();
    assert_eq!(
        after_first.len(),
        1,
        "reading after a cursor starts past it"
    );
    assert_eq!(after_first[0].cursor, read[1].cursor);
}

#[tokio::test]
async fn a_refused_append_writes_none_of_its_messages() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("account-a", ExpectedVersion::Any, 1))
        .await
        .unwrap();
    let mut conflicting = one_stream("account-a", ExpectedVersion::NoStream, 1);
    conflicting.outbox = vec![message("low_balance", 1)];
    assert!(matches!(
        appender.append(conflicting).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut no_events = one_stream("account-a", ExpectedVersion::Exact(1), 0);
    no_events.outbox = vec![message("low_balance", 2)];
    assert!(matches!(
        appender.append(no_events).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let read = read_outbox(&store.pool, OutboxCursor::default(), 100)
        .await
        .unwrap();
    assert!(read.is_empty(), "{read:?}");
}

#[tokio::test]
async fn concurrent_appends_write_their_messages_in_cursor_order_and_a_retry_writes_none_again() {
    let store = store().await;
    let appender = appender(&store.pool);
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let appender = appender.clone();
            let mut command = one_stream(
                &format!("account-{}", n % 7),
                ExpectedVersion::Any,
                1 + n % 3,
            );
            // Every other append carries messages; the others cost nothing extra.
            if n % 2 == 0 {
                command.outbox = vec![message("a", n), message("b", n)];
            }
            tokio::spawn(async move {
                let outcome = appender.append(command.clone()).await.unwrap();
                let retried = appender.append(command).await.unwrap();
                assert!(retried.replayed);
                (n, outcome.last_position)
            })
        })
        .collect();
    let mut expected = Vec::new();
    for task in tasks {
        let (n, position) = task.await.unwrap();
        if n % 2 == 0 {
            expected.push((position, 0, n));
            expected.push((position, 1, n));
        }
    }
    expected.sort();
    // Paged two at a time from each page's last cursor, as a consumer resumes: nothing skipped,
    // nothing twice.
    let mut read = Vec::new();
    let mut cursor = OutboxCursor::default();
    loop {
        let page = read_outbox(&store.pool, cursor, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = last.cursor;
        for record in page {
            let payload: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
            let n = usize::try_from(payload["n"].as_u64().unwrap()).unwrap();
            read.push((record.cursor.position, record.cursor.index, n));
        }
    }
    assert_eq!(read, expected);
}

#[tokio::test]
async fn the_outbox_is_append_only() {
    let store = store().await;
    let appender = appender(&store.pool);
    let mut command = one_stream("account-a", ExpectedVersion::Any, 1);
    command.outbox = vec![message("low_balance", 1)];
    appender.append(command).await.unwrap();
    for statement in [
        "UPDATE outbox SET kind = 'x'",
        "DELETE FROM outbox",
        "TRUNCATE outbox",
    ] {
        let refused = sqlx::query(statement).execute(&store.pool).await;
        assert!(refused.is_err(), "{statement} was allowed");
    }
}
