//! What the log refuses: rewrites by its owner (triggers), and by the run-time role even
//! with the triggers off (privileges).

use ledger_eventstore::{ExpectedVersion, UniqueClaim, read_all};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::support::{appender, assert_chain_intact, one_stream, store};

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate_even_from_its_owner() {
    let store = store().await;
    let mut command = one_stream("account-a", ExpectedVersion::Any, 1);
    command.claims = vec![UniqueClaim {
        scope: "generation".into(),
        value: "account-a/gen-1".into(),
    }];
    appender(&store.pool).append(command).await.unwrap();
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "TRUNCATE events CASCADE",
        "DELETE FROM commands",
        "UPDATE unique_claims SET value = 'x'",
        "TRUNCATE unique_claims",
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&store.pool)
            .await
            .expect_err(statement);
        let message = error.to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    assert_eq!(read_all(&store.pool, 0, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_runtime_role_appends_but_cannot_rewrite_the_log_even_with_the_triggers_off() {
    use sqlx::postgres::PgConnectOptions;
    let store = store().await;
    let role = format!("ledger_runtime_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} NOLOGIN")))
        .execute(&store.pool)
        .await
        .unwrap();
    ledger_eventstore::grant_log_privileges(&store.pool, &role)
        .await
        .unwrap();

    // Connections that act as the run-time role (the `role` setting, given at start-up).
    let options: PgConnectOptions = store.database.url().parse().unwrap();
    let runtime = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("role", role.as_str())]))
        .await
        .unwrap();
    let appended = appender(&runtime)
        .append(one_stream("account-a", ExpectedVersion::NoStream, 2))
        .await
        .expect("the run-time role can append");
    assert_eq!(appended.last_position, 2);
    assert_eq!(read_all(&runtime, 0, 10).await.unwrap().len(), 2);

    // Even with the triggers off (only the owner or a superuser can do that), the role's
    // privileges refuse every rewrite.
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&store.pool)
        .await
        .unwrap();
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "DELETE FROM commands",
        "UPDATE unique_claims SET value = 'x'",
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&runtime)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    sqlx::query("ALTER TABLE events ENABLE TRIGGER USER")
        .execute(&store.pool)
        .await
        .unwrap();
    runtime.close().await;
    assert_chain_intact(&store.pool).await;
    for cleanup in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(cleanup))
            .execute(&store.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_runtime_role_granted_before_the_outbox_migration_still_appends_after_it() {
    use ledger_eventstore::{MIGRATOR, OutboxMessage};
    use sqlx::postgres::PgConnectOptions;
    let database = ledger_pgembed::testing::fresh_database().await.unwrap();
    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect(database.url())
        .await
        .unwrap();
    // A database at 0008 with its run-time role, as an operator had it before upgrading.
    MIGRATOR.run_to(8, &owner).await.unwrap();
    let role = format!("ledger_runtime_{}", Uuid::new_v4().simple());
    for statement in [
        format!("CREATE ROLE {role} NOLOGIN"),
        format!("GRANT SELECT, INSERT ON events, commands, unique_claims TO {role}"),
        format!("GRANT SELECT, UPDATE ON log_head TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE ON streams TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON snapshots TO {role}"),
        format!("GRANT EXECUTE ON PROCEDURE append_batch TO {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&owner)
            .await
            .unwrap();
    }
    MIGRATOR.run(&owner).await.unwrap();

    let options: PgConnectOptions = database.url().parse().unwrap();
    let runtime = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("role", role.as_str())]))
        .await
        .unwrap();
    let mut command = one_stream("account-a", ExpectedVersion::NoStream, 1);
    command.outbox = vec![OutboxMessage {
        kind: "test.noticed".into(),
        payload: serde_json::json!({ "account": "account-a" }),
    }];
    let appended = appender(&runtime)
        .append(command)
        .await
        .expect("the role granted before the migration appends, notices included");
    assert_eq!(appended.last_position, 1);
    runtime.close().await;
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(outbox, 1);
    for cleanup in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(cleanup))
            .execute(&owner)
            .await
            .unwrap();
    }
    owner.close().await;
}
