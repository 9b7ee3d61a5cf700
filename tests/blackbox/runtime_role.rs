//! `ledgerd serve --no-migrate` as a database role without DDL rights: the owner migrates and
//! grants, the service runs a journey, and the role can neither rewrite the log nor switch its
//! immutability triggers off.

use std::process::{Command, Stdio};

use ledger_pgembed::testing::fresh_database;
use ledger_tests::client::Api;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions, binary, migrate};
use uuid::Uuid;

/// `url` with its user and password replaced by `role`'s (`postgres://user:pw@host:port/db`).
fn as_role(url: &str, role: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}:{password}@{host}")
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_serves_as_a_role_that_cannot_migrate_rewrite_history_or_disable_triggers() {
    let database = fresh_database().await.unwrap();
    let owner = sqlx::PgPool::connect(database.url()).await.unwrap();

    // Without the schema, --no-migrate refuses to start instead of serving errors.
    // Its own data directory: the key-hash secret it creates stays out of the checkout.
    let data_dir = std::env::temp_dir().join(format!("ledgerd-refused-{}", Uuid::new_v4()));
    let refused = Command::new(binary())
        .args([
            "serve",
            "--no-migrate",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data_dir)
        .env("DATABASE_URL", database.url())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ledgerd migrate"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(migrate(database.url()).success());
    let role = format!("ledger_rt_{}", Uuid::new_v4().simple());
    // A password: the embedded server authenticates every role with SCRAM (a server with
    // `trust` ignores it).
    let password = Uuid::new_v4().simple().to_string();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}'"
    )))
    .execute(&owner)
    .await
    .unwrap();
    ledger_eventstore::grant_service_privileges(&owner, &role)
        .await
        .unwrap();
    // A table a migration adds without a grant would fail at run time only: catch it here.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    let granted: Vec<&str> = ledger_eventstore::LOG_GRANTS
        .iter()
        .chain(&ledger_eventstore::SERVICE_GRANTS)
        .map(|(table, _)| *table)
        .collect();
    for table in &tables {
        assert!(granted.contains(&table.as_str()), "{table} has no grant");
    }
    let role_url = as_role(database.url(), &role, &password);

    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(role_url.clone()),
        data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", Uuid::new_v4())),
        serve_args: vec!["--no-migrate".into()],
        ..Default::default()
    })
    .await;
    let head = journey(&ledgerd).await;

    let runtime = sqlx::PgPool::connect(&role_url).await.unwrap();
    // The read models kept up (projections run as the role) and erasure works as the role.
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(position) FROM projection_checkpoints")
            .fetch_one(&runtime)
            .await
            .unwrap();
    assert!(applied >= Some(head), "{applied:?} of {head}");

    // The role cannot rewrite history, with the triggers on or off, nor switch them off.
    let rewrites = [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "DELETE FROM commands",
        "UPDATE unique_claims SET value = 'x'",
    ];
    for statement in rewrites
        .iter()
        .chain(&["ALTER TABLE events DISABLE TRIGGER USER"])
    {
        let error = sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&runtime)
            .await
            .expect_err(statement);
        let text = error.to_string();
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{statement}: {text}"
        );
    }
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&owner)
        .await
        .unwrap();
    for statement in rewrites {
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&runtime)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement} with the triggers off: {error}"
        );
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
        .execute(&owner)
        .await
        .unwrap();
    // Nor can it create tables (it could not have migrated).
    let error = sqlx::query("CREATE TABLE intruder (x int)")
        .execute(&runtime)
        .await
        .expect_err("no CREATE on the schema");
    assert!(error.to_string().contains("permission denied"), "{error}");
    runtime.close().await;

    // Rebuilding a read model needs DDL rights the role lacks: refused as a deployment error,
    // and the live read models keep serving.
    ledgerd
        .support()
        .rebuild("keys")
        .all()
        .refused(tonic::Code::Internal)
        .await;
    journey(&ledgerd).await;

    ledgerd.auditor().assert_chain_verifies().await;
    assert!(ledgerd.terminate().success());
    for cleanup in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(cleanup))
            .execute(&owner)
            .await
            .unwrap();
    }
    owner.close().await;
}

/// Registration to settlement and erasure, with a read of the read models: returns the position
/// of the settlement.
async fn journey(ledgerd: &Ledgerd) -> i64 {
    let user = ledgerd.some_user().await;
    let dashboard = ledgerd.dashboard(&user);
    let runtime = dashboard.create_organization("Runtime").await;
    dashboard.buy(&runtime.account, "10").await;
    let key = dashboard.create_key(&runtime.account, "key").await;
    let gateway = ledgerd.gateway();
    gateway.authenticate(&key.secret).await;
    let hold = gateway.place_hold(&key, "1").await;
    let settled = gateway.settle(&hold, "gen-runtime", "0.5").await;
    // A read served from the read models once they reached the settlement.
    let entries = dashboard
        .after(settled.position)
        .ledger_entries(&runtime.account)
        .await;
    assert_eq!(entries.entries.len(), 2, "the purchase and the usage");
    let erased = ledgerd.identity().erase(&user).await;
    assert_eq!(erased.rows_erased, 1);
    settled.position
}
