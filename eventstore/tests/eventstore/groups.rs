//! Group appends: several commands judged and written together, all or none, each recorded
//! under its own command id.

use ledger_eventstore::{
    AppendOutcome, AppendRequest, Appender, ExpectedVersion, StoreError, UniqueClaim, find_command,
    find_commands, head, read_stream,
};
use serde_json::json;

use crate::support::{appender, assert_chain_intact, one_stream, store};

/// Commands on `account-a` expecting the versions one after the other from `from`, one event
/// each, with replies naming their index.
fn consecutive(from: i64, commands: usize) -> Vec<AppendRequest> {
    (0..commands)
        .map(|n| {
            let expected = match from + n as i64 {
                0 => ExpectedVersion::NoStream,
                version => ExpectedVersion::Exact(version),
            };
            let mut request = one_stream("account-a", expected, 1);
            request.reply = json!({ "n": n });
            request
        })
        .collect()
}

/// The outcomes of `group`, appended as one group.
async fn appended(appender: &Appender, group: &[AppendRequest]) -> Vec<AppendOutcome> {
    let queued = appender.enqueue_group(group.to_vec(), None).await.unwrap();
    queued.outcomes().await.unwrap()
}

#[tokio::test]
async fn a_group_appends_each_command_at_its_own_position_under_its_own_id() {
    let store = store().await;
    let appender = appender(&store.pool);
    appender
        .append(one_stream("account-b", ExpectedVersion::NoStream, 2))
        .await
        .unwrap();
    let mut group = consecutive(0, 3);
    group.push(one_stream("account-b", ExpectedVersion::Exact(2), 1));
    let outcomes = appended(&appender, &group).await;

    let positions: Vec<_> = outcomes
        .iter()
        .map(|o| (o.first_position, o.last_position))
        .collect();
    assert_eq!(positions, [(3, 3), (4, 4), (5, 5), (6, 6)]);
    assert_eq!(outcomes[2].reply, json!({ "n": 2 }));
    assert_eq!(outcomes[2].streams[0].version, 3);
    assert!(outcomes.iter().all(|o| !o.replayed));
    for (request, outcome) in group.iter().zip(&outcomes) {
        let (hash, stored) = find_command(&store.pool, request.command_id)
            .await
            .unwrap()
            .expect("each command has its own record");
        assert_eq!((hash, &stored), (request.request_hash, outcome));
    }
    let events = read_stream(&store.pool, "account-a", 0, 10).await.unwrap();
    let commands: Vec<_> = events
        .iter()
        .map(|e| e.metadata().unwrap().command_id)
        .collect();
    let sent: Vec<_> = group[..3].iter().map(|r| r.command_id).collect();
    assert_eq!(commands, sent, "each event names its own command");
    let stats = appender.stats();
    assert_eq!((stats.requests, stats.appends), (2, 5));
    assert_chain_intact(&store.pool).await;
}

#[tokio::test]
async fn a_retried_group_or_command_gets_its_first_outcome_and_appends_nothing() {
    let store = store().await;
    let appender = appender(&store.pool);
    let group = consecutive(0, 3);
    let first = appended(&appender, &group).await;
    let again = appended(&appender, &group).await;
    assert!(again.iter().all(|o| o.replayed));
    let positions =
        |outcomes: &[AppendOutcome]| outcomes.iter().map(|o| o.last_position).collect::<Vec<_>>();
    assert_eq!(positions(&again), positions(&first));
    let alone = appender.append(group[1].clone()).await.unwrap();
    assert!(alone.replayed);
    assert_eq!(alone.last_position, first[1].last_position);
    let found = find_commands(
        &store.pool,
        &[group[0].command_id, group[2].command_id, uuid::Uuid::nil()],
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[&group[2].command_id].1, first[2]);
    assert_eq!(head(&store.pool).await.unwrap().position, 3);
}

#[tokio::test]
async fn a_group_with_a_recorded_command_is_refused_whole() {
    let store = store().await;
    let appender = appender(&store.pool);
    let group = consecutive(0, 3);
    appender.append(group[0].clone()).await.unwrap();
    let mut rest = consecutive(1, 2);
    rest.insert(0, group[0].clone());

    // Recorded with the same request: the group is not a retry of itself as a whole.
    let answer = appender.enqueue_group(rest.clone(), None).await.unwrap();
    assert!(matches!(
        answer.outcomes().await,
        Err(StoreError::CommandRecorded { command_id }) if command_id == group[0].command_id
    ));
    // Recorded for another request.
    rest[0].request_hash = [9; 32];
    let answer = appender.enqueue_group(rest.clone(), None).await.unwrap();
    assert!(matches!(
        answer.outcomes().await,
        Err(StoreError::CommandIdReused { command_id }) if command_id == group[0].command_id
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
    // Without it, the others append.
    let others = appender
        .enqueue_group(rest.split_off(1), None)
        .await
        .unwrap();
    assert_eq!(others.outcomes().await.unwrap()[1].last_position, 3);
}

#[tokio::test]
async fn a_group_one_command_of_which_is_refused_appends_nothing() {
    let store = store().await;
    let appender = appender(&store.pool);
    // The third command expects a version the second does not leave.
    let mut group = consecutive(0, 3);
    group[2].streams[0].expected = ExpectedVersion::Exact(1);
    let answer = appender.enqueue_group(group, None).await.unwrap();
    let ticket = answer.ticket().clone();
    assert!(matches!(
        answer.outcomes().await,
        Err(StoreError::Conflict { actual: 2, .. })
    ));
    assert_eq!(
        ticket.settled(),
        Some(ledger_eventstore::Settled::Failed),
        "nothing to chain after"
    );

    // Two commands of a group making the same claim.
    let claim = UniqueClaim {
        scope: "generation".into(),
        value: "account-a/gen-1".into(),
    };
    let mut group = consecutive(0, 2);
    for request in &mut group {
        request.claims = vec![claim.clone()];
    }
    let answer = appender.enqueue_group(group, None).await.unwrap();
    assert!(matches!(answer.outcomes().await, Err(StoreError::ClaimTaken(ref c)) if *c == claim));
    assert_eq!(head(&store.pool).await.unwrap().position, 0);

    // A group chained after an append that failed.
    let failed = appender
        .enqueue(one_stream("account-a", ExpectedVersion::Exact(7), 1), None)
        .await
        .unwrap();
    let after = failed.ticket().clone();
    let chained = appender
        .enqueue_group(consecutive(0, 2), Some(after))
        .await
        .unwrap();
    assert!(failed.outcome().await.is_err());
    assert!(matches!(
        chained.outcomes().await,
        Err(StoreError::PredecessorFailed)
    ));
    assert_eq!(head(&store.pool).await.unwrap().position, 0);
    assert!(
        read_stream(&store.pool, "account-a", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_group_must_name_one_command_or_more_each_once() {
    let store = store().await;
    let appender = appender(&store.pool);
    assert!(matches!(
        appender.enqueue_group(Vec::new(), None).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let twice = vec![consecutive(0, 1)[0].clone(); 2];
    assert!(matches!(
        appender.enqueue_group(twice, None).await,
        Err(StoreError::InvalidRequest(_))
    ));
}
