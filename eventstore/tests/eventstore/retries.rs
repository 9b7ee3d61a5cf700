//! Idempotency by command id: a retry gets its first outcome and appends nothing.

use std::collections::HashSet;

use ledger_eventstore::{AppendOutcome, ExpectedVersion, StoreError, head, read_stream};
use serde_json::json;
use uuid::Uuid;

use crate::support::{appender, one_stream, store};

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
