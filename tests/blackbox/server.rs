//! `ledgerd` starts, migrates, serves health and stops cleanly, with or without DATABASE_URL.

use ledger_pgembed::testing::fresh_database;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions, migrate};
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_migrate_applies_the_schema_to_database_url() {
    let database = fresh_database().await.unwrap();
    assert!(migrate(database.url()).success());
    let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
    let head = ledger_eventstore::head(&pool).await.unwrap();
    assert_eq!(head.position, 0);
    // Migrating again is a no-op.
    assert!(migrate(database.url()).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_serves_health_on_database_url_and_stops_on_sigterm() {
    let database = fresh_database().await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4()));
    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(database.url().to_owned()),
        data_dir: data_dir.clone(),
        key_hash_secret_file: None,
    })
    .await;
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    assert!(ledgerd.terminate().success());
    assert!(
        !data_dir.exists(),
        "no embedded server is started with DATABASE_URL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_database_url_ledgerd_runs_its_own_postgres_and_keeps_its_data() {
    let data_dir = std::env::temp_dir().join(format!("ledgerd-embedded-{}", uuid::Uuid::new_v4()));
    let options = LedgerdOptions {
        database_url: None,
        data_dir: data_dir.clone(),
        key_hash_secret_file: None,
    };
    let ledgerd = Ledgerd::start(&options).await;
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    assert!(ledgerd.terminate().success());
    let pid_file = data_dir.join("pgdata").join("postmaster.pid");
    assert!(
        !pid_file.exists(),
        "the embedded PostgreSQL was stopped on shutdown"
    );

    // The second start finds the cluster initialised and the schema in place.
    let ledgerd = Ledgerd::start(&options).await;
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    assert!(ledgerd.terminate().success());
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_rpcs_and_report_the_appender_and_projection_lag() {
    let database = fresh_database().await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4()));
    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(database.url().to_owned()),
        data_dir,
        key_hash_secret_file: None,
    })
    .await;
    let auditor = ledgerd.clients("auditor", None).await;
    for _ in 0..3 {
        auditor
            .audit
            .clone()
            .get_head(ledger_api::pb::GetHeadRequest {})
            .await
            .unwrap();
    }
    let text = ledgerd.scrape_metrics().await;
    assert!(
        text.contains(
            "ledger_rpc_calls_total{method=\"/arouter.ledger.v1.AuditService/GetHead\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains(
        "ledger_rpc_latency_seconds_count{method=\"/arouter.ledger.v1.AuditService/GetHead\"} 3"
    ));
    assert!(text.contains("# TYPE ledger_appends_total counter"));
    for projection in ["balances", "keys", "directory", "activity"] {
        assert!(
            text.contains(&format!(
                "ledger_projection_lag_events{{projection=\"{projection}\"}} 0"
            )),
            "{text}"
        );
    }
    assert!(ledgerd.terminate().success());
}
