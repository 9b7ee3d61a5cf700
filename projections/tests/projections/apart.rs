//! The read models in another database than the log (`ledgerd --read-models-database-url`):
//! the runtime folds the log of one database into the other, the check and a rebuild read the
//! log there and the rows here, and the log's own database keeps no read-model row.

use std::time::Duration;

use ledger_projections::{
    Projection, ProjectionRuntime, ReadModelPool, check, checkpoint, rebuild, wait_for_position,
};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::support::{World, config, db};

/// The rows of `table` in the database of `pool`.
async fn rows(pool: &PgPool, table: &str) -> i64 {
    // `table` is one of the projections' own table names.
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_in_another_database_are_folded_checked_and_rebuilt_from_the_log() {
    let log = db().await;
    let other = db().await;
    let read_models = ReadModelPool::new(other.pool.clone());
    let mut world = World::new(log.appender.clone(), 11).await;
    world.run(60).await;
    let head = world.last_position;

    let (stop, shutdown) = watch::channel(false);
    let runtime =
        ProjectionRuntime::spawn(log.pool.clone(), read_models.clone(), config(16), shutdown);
    for projection in Projection::ALL {
        wait_for_position(&read_models, projection, head, Duration::from_secs(20))
            .await
            .unwrap();
    }
    stop.send_replace(true);
    runtime.join().await;

    for projection in Projection::ALL {
        let report = check(&log.pool, &read_models, projection).await.unwrap();
        assert!(report.is_consistent(), "{report:#?}");
        assert_eq!(report.position, head);
        let rebuilt = rebuild(&log.pool, &read_models, projection, 7)
            .await
            .unwrap();
        assert_eq!(rebuilt.position, head);
        let report = check(&log.pool, &read_models, projection).await.unwrap();
        assert!(report.is_consistent(), "after the rebuild: {report:#?}");
        assert_eq!(checkpoint(&log.pool, projection).await.unwrap(), 0);
        for table in projection.tables() {
            assert_eq!(
                rows(&log.pool, table).await,
                0,
                "{table} in the log's database"
            );
        }
    }
    assert!(rows(&other.pool, "ledger_entries").await > 0);
    assert_eq!(rows(&other.pool, "events").await, 0);
}
