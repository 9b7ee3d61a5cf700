//! A batch interrupted before its commit leaves nothing behind: after restart every event is
//! applied exactly once.

use ledger_projections::{Projection, apply_next_batch_in, check_all, checkpoint, step};
use sqlx::Acquire;

use crate::support::{World, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_interrupted_before_commit_is_applied_exactly_once_after_restart() {
    let db = db().await;
    let mut world = World::new(db.appender.clone(), 42).await;
    world.run(80).await;
    let head = world.last_position;

    for projection in Projection::ALL {
        // 1. The transaction is dropped (the process died before COMMIT).
        let mut tx = db.pool.begin().await.unwrap();
        let outcome = apply_next_batch_in(&mut tx, projection, 25).await.unwrap();
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
        apply_next_batch_in(&mut tx, projection, 40).await.unwrap();
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
        while step(&db.pool, projection, 30).await.unwrap().events > 0 {}
        assert_eq!(checkpoint(&db.pool, projection).await.unwrap(), head);
    }
    for report in check_all(&db.pool).await.unwrap() {
        assert!(
            report.is_consistent(),
            "{}: {:#?}",
            report.projection,
            report.differences
        );
        assert_eq!(report.position, head);
    }
}
