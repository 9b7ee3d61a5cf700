//! `ledgerd` starts, migrates, serves health and stops cleanly, with or without DATABASE_URL.

use ledger_pgembed::testing::fresh_database;
use ledger_tests::client::Api;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions, binary, migrate};
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
        ..Default::default()
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
        ..Default::default()
    };
    let mut ledgerd = Ledgerd::start(&options).await;
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    assert!(ledgerd.stop().success());
    let pid_file = data_dir.join("pgdata").join("postmaster.pid");
    assert!(
        !pid_file.exists(),
        "the embedded PostgreSQL was stopped on shutdown"
    );

    // The second start (same secrets, as a restart in production) finds the cluster
    // initialised and the schema in place.
    ledgerd.restart().await;
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    assert!(ledgerd.terminate().success());
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The data directory ledgerd's embedded PostgreSQL really uses, from its JSON log line
/// "embedded PostgreSQL started" in `log`.
fn embedded_data_dir(log: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "embedded PostgreSQL started")
        .find_map(|line| line["fields"]["data_dir"].as_str().map(Into::into))
        .unwrap_or_else(|| panic!("no start line in {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn as_root_ledgerd_keeps_its_data_where_postgres_can_reach_it_and_asks_for_a_password() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!(
            "skipped: not running as root, so PostgreSQL runs as this user and reaches any \
             directory it can; the relocation this test shows does not apply"
        );
        return;
    }
    // A home-directory checkout as root: a parent that only root may traverse.
    let closed = std::env::temp_dir().join(format!("ledgerd-closed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = closed.join("ledgerd.log");
    let options = LedgerdOptions {
        database_url: None,
        data_dir: closed.join("checkout").join(".ledgerd"),
        output_file: Some(log.clone()),
        env: vec![("LEDGER_LOG_FORMAT".into(), "json".into())],
        ..Default::default()
    };
    let mut ledgerd = Ledgerd::start(&options).await;
    let pgdata = embedded_data_dir(&log);
    assert!(
        !pgdata.starts_with(&closed),
        "the cluster is somewhere postgres can reach: {}",
        pgdata.display()
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("cannot reach the requested data directory"),
        "the move is logged"
    );
    let identity = ledgerd.identity();
    let user = identity.register("newcomer@example.test").await;
    let verified = identity.verify(&user).await.position;

    // Without the password kept in the data directory, PostgreSQL lets nobody in.
    let pid_file = std::fs::read_to_string(pgdata.join("postmaster.pid")).unwrap();
    let port = pid_file.lines().nth(3).unwrap().trim();
    let no_password = format!("postgres://ledger@127.0.0.1:{port}/ledger");
    assert!(sqlx::PgPool::connect(&no_password).await.is_err());

    assert!(ledgerd.stop().success());
    ledgerd.restart().await;
    assert_eq!(
        embedded_data_dir(&log),
        pgdata,
        "the same directory after a restart"
    );
    // The directory projection may still be catching up after the restart: read at the
    // verification's position, as a dashboard that just verified would.
    let account = ledgerd
        .dashboard(&user)
        .after(verified)
        .user_account(&user)
        .await;
    assert!(account.email_verified, "the user is still there");
    assert!(ledgerd.terminate().success());
    let _ = std::fs::remove_dir_all(&pgdata);
    let _ = std::fs::remove_dir_all(&closed);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_rpcs_and_report_the_appender_and_projection_lag() {
    let database = fresh_database().await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4()));
    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(database.url().to_owned()),
        data_dir,
        ..Default::default()
    })
    .await;
    let auditor = ledgerd.auditor();
    for _ in 0..3 {
        auditor.head().await;
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

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ledgerd_with_another_key_hash_secret_refuses_to_start() {
    // Replicas must hash API keys with one secret; a replica with its own would answer
    // UNKNOWN_KEY for every key created through the others.
    let database = fresh_database().await.unwrap();
    let first = Ledgerd::start(&LedgerdOptions {
        database_url: Some(database.url().to_owned()),
        data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4())),
        ..Default::default()
    })
    .await;
    let beside = first.start_beside().await;
    assert_eq!(
        beside.health().await,
        ServingStatus::Serving,
        "same secret: serves"
    );

    let elsewhere = std::env::temp_dir().join(format!("ledgerd-other-{}", uuid::Uuid::new_v4()));
    let refused = std::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&elsewhere)
        .arg("--key-hash-secret-file")
        .arg(elsewhere.join("another.secret"))
        .env("DATABASE_URL", database.url())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&elsewhere);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("--key-hash-secret-file"), "{stderr}");
    assert_eq!(first.health().await, ServingStatus::Serving);
}
