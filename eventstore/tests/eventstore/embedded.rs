//! The log on the embedded server: migrated once, kept across a restart.

use ledger_eventstore::{ExpectedVersion, head, read_all};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{appender, assert_chain_intact, one_stream};

#[tokio::test]
async fn the_embedded_default_keeps_the_log_across_a_restart() {
    use ledger_pgembed::{EmbeddedConfig, EmbeddedPostgres};
    let data_dir = std::env::temp_dir().join(format!("ledger-log-{}", Uuid::new_v4()));
    let config = EmbeddedConfig::new(&data_dir).durable(false);

    let server = EmbeddedPostgres::start(config.clone()).await.unwrap();
    server.ensure_database("ledger").await.unwrap();
    let pool = PgPool::connect(&server.database_url("ledger"))
        .await
        .unwrap();
    ledger_eventstore::migrate(&pool).await.unwrap();
    let written = appender(&pool)
        .append(one_stream("account-a", ExpectedVersion::NoStream, 3))
        .await
        .unwrap();
    pool.close().await;
    server.stop().await.unwrap();

    let server = EmbeddedPostgres::start(config).await.unwrap();
    assert!(!server.was_running(), "the first server was really stopped");
    let pool = PgPool::connect(&server.database_url("ledger"))
        .await
        .unwrap();
    let events = read_all(&pool, 0, 100).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(head(&pool).await.unwrap().position, written.last_position);
    assert_chain_intact(&pool).await;
    pool.close().await;
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
}
