//! Appends: positions and versions, optimistic concurrency, atomic multi-stream appends,
//! and the request limits.

use ledger_eventstore::{ExpectedVersion, StoreError, StreamAppend, head, read_all, read_stream};

use crate::support::{appender, assert_chain_intact, event, one_stream, request, store};

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
