//! A batch interrupted before its commit leaves nothing behind: after restart every event is
//! applied exactly once.

use ledger_projections::{
    Projection, ReadModelPool, apply_next_batch_in, begin_batch, checkpoint, step,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Acquire, PgPool};

use crate::support::{World, assert_consistent, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_interrupted_before_commit_is_applied_exactly_once_after_restart() {
    let db = db().await;
    let mut world = World::new(db.appender.clone(), 42).await;
    world.run(80).await;
    let head = world.last_position;

    for projection in Projection::ALL {
        // 1. The transaction is dropped (the process died before COMMIT).
        let mut tx = db.pool.begin().await.unwrap();
        let outcome = apply_next_batch_in(&mut tx, &db.pool, projection, 25)
            .await
            .unwrap();
        assert!(outcome.events > 0);
        drop(tx);
        assert_eq!(checkpoint(&db.pool, projection).await.unwrap(), 0);

        // 2. The connection is killed in the middle of the transaction.
        let mut conn = db.pool.acquire().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        apply_next_batch_in(&mut tx, &db.pool, projection, 40)
            .await
            .unwrap();
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(killed);
        assert!(
            tx.commit().await.is_err(),
            "the commit of a killed session fails"
        );
        drop(conn);
        assert_eq!(checkpoint(&db.pool, projection).await.unwrap(), 0);

        // 3. Restart: steps from the checkpoint until caught up.
        while step(&db.pool, &db.read_models, projection, 30)
            .await
            .unwrap()
            .events
            > 0
        {}
        assert_eq!(checkpoint(&db.pool, projection).await.unwrap(), head);
    }
    for report in assert_consistent(&db.pool).await {
        assert_eq!(report.position, head);
    }
}

/// A projection's commit need not wait for its WAL flush (a lost batch is applied again from
/// the log), but the setting must not outlive the batch: the pool is the appender's too, and a
/// money commit answered before its flush could be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_batch_commits_unflushed_and_leaves_its_pooled_connection_durable() {
    let db = db().await;
    let mut world = World::new(db.appender.clone(), 7).await;
    world.run(20).await;
    let one = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*db.pool.connect_options()).clone())
        .await
        .unwrap();
    let setting = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>("SHOW synchronous_commit")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    // The appender's setting (the shared embedded test server runs with it off).
    sqlx::query("SET synchronous_commit = on")
        .execute(&one)
        .await
        .unwrap();

    // The read models on the one connection; the log read through the test's pool.
    let read_models = ReadModelPool::new(one.clone());
    let mut tx = begin_batch(&read_models).await.unwrap();
    let inside: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inside, "off");
    tx.commit().await.unwrap();
    assert_eq!(setting(one.clone()).await, "on", "after a batch's commit");

    for projection in Projection::ALL {
        assert!(
            step(&db.pool, &read_models, projection, 1_000)
                .await
                .unwrap()
                .events
                > 0
        );
        assert_eq!(
            setting(one.clone()).await,
            "on",
            "after a {projection} step"
        );
    }
}
