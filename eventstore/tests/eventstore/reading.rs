//! Reading the log: stream tails, and a reader tailing the log while writers append.

use std::collections::HashSet;
use std::time::Duration;

use ledger_eventstore::{Appender, ExpectedVersion, read_all, read_stream, read_stream_tails};

use crate::support::{appender, assert_chain_intact, one_stream, store};

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
