//! Appends chained after a predecessor's ticket: accepted only after it commits.

use ledger_eventstore::{Appender, ExpectedVersion, Queued, Settled, StoreError, Ticket, head};

use crate::support::{appender, one_stream, store};

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
    let second = enqueue_after(&appender, first.ticket(), 1, 2).await;
    let third = enqueue_after(&appender, second.ticket(), 3, 1).await;
    let third_ticket = third.ticket().clone();
    for (queued, last) in [(first, 1), (second, 3), (third, 4)] {
        assert_eq!(queued.outcome().await.unwrap().last_position, last);
    }
    assert_eq!(third_ticket.settled(), Some(Settled::Committed));
    // Chained after an append committed in an earlier batch.
    let fourth = enqueue_after(&appender, &third_ticket, 4, 1).await;
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
    let second = enqueue_after(&ours, first.ticket(), 2, 1).await;
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
    let late = enqueue_after(&ours, &first_ticket, 2, 1).await;
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
    let chained = enqueue_after(&appender, retry.ticket(), 1, 1).await;
    assert!(retry.outcome().await.unwrap().replayed);
    assert!(matches!(
        chained.outcome().await,
        Err(StoreError::PredecessorFailed)
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
}

/// Queues `events` on `account-a` expecting it at `version`, chained after `predecessor`.
async fn enqueue_after(
    appender: &Appender,
    predecessor: &Ticket,
    version: i64,
    events: usize,
) -> Queued {
    let request = one_stream("account-a", ExpectedVersion::Exact(version), events);
    appender
        .enqueue(request, Some(predecessor.clone()))
        .await
        .unwrap()
}
