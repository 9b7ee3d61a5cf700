//! The writer task: group commit, its memory of the head, and the connection it writes on.

use std::sync::Arc;

use ledger_eventstore::{ExpectedVersion, StoreError, head, read_all};
use sqlx::postgres::PgPoolOptions;

use crate::support::{appender, assert_chain_intact, one_stream, store};

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
