//! End-to-end tests of the embedded server and the test-database helpers, against the
//! PostgreSQL binaries installed on this machine.

use std::path::PathBuf;

use ledger_pgembed::{EmbeddedConfig, EmbeddedError, EmbeddedPostgres};
use sqlx::{Connection, PgConnection};

/// A directory under the system temp dir that is removed when dropped.
///
/// If a test fails before stopping its server, the server notices within a minute that its
/// `postmaster.pid` is gone and shuts itself down.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_row_survives_a_stop_and_a_start() {
    let tmp = TempDir::new("pgembed-test");
    let config = EmbeddedConfig::new(tmp.0.join("data"));

    let pg = EmbeddedPostgres::start(config.clone())
        .await
        .expect("first start");
    assert!(pg.ensure_database("ledger").await.expect("create"));
    assert!(!pg.ensure_database("ledger").await.expect("exists"));
    let mut conn = PgConnection::connect(&pg.database_url("ledger"))
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO notes VALUES (1, 'kept')")
        .execute(&mut conn)
        .await
        .expect("insert");
    conn.close().await.expect("close");
    pg.stop().await.expect("stop");

    let pg = EmbeddedPostgres::start(config).await.expect("second start");
    assert!(!pg.was_running());
    let mut conn = PgConnection::connect(&pg.database_url("ledger"))
        .await
        .expect("reconnect");
    let body: String = sqlx::query_scalar("SELECT body FROM notes WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .expect("select");
    assert_eq!(body, "kept");
    conn.close().await.expect("close");
    pg.stop().await.expect("stop again");
}

#[tokio::test]
async fn a_second_start_reuses_the_running_server() {
    let tmp = TempDir::new("pgembed-test");
    let config = EmbeddedConfig::new(tmp.0.join("data")).durable(false);
    let first = EmbeddedPostgres::start(config.clone())
        .await
        .expect("start");
    let second = EmbeddedPostgres::start(config).await.expect("reuse");
    assert!(second.was_running());
    assert_eq!(first.port(), second.port());
    second.stop().await.expect("stop");
}

/// Whether this process runs as root (and so starts the server as `postgres`).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0
}

/// `postgres://ledger@127.0.0.1:<port>/postgres`: the embedded server without its password.
fn url_without_password(pg: &EmbeddedPostgres) -> String {
    format!("postgres://ledger@127.0.0.1:{}/postgres", pg.port())
}

#[tokio::test]
async fn as_root_a_data_directory_postgres_cannot_reach_is_relocated_and_found_again() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if !running_as_root() {
        eprintln!("skipped: only root runs the server as another user, which needs relocation");
        return;
    }
    let tmp = TempDir::new("pgembed-closed");
    std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let config = EmbeddedConfig::new(tmp.0.join("data")).durable(false);
    let pg = EmbeddedPostgres::start(config.clone())
        .await
        .expect("root starts the cluster somewhere postgres can reach");
    let actual = pg.data_dir().to_owned();
    assert!(
        !actual.starts_with(&tmp.0),
        "relocated: {}",
        actual.display()
    );
    let meta = std::fs::metadata(&actual).expect("the relocated directory exists");
    assert_eq!(meta.mode() & 0o777, 0o700);
    let mut conn = PgConnection::connect(&pg.database_url("postgres"))
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE kept (id INT)")
        .execute(&mut conn)
        .await
        .expect("create table");
    conn.close().await.expect("close");
    pg.stop().await.expect("stop");

    let again = EmbeddedPostgres::start(config).await.expect("second start");
    assert_eq!(
        again.data_dir(),
        actual,
        "the same request finds the same cluster"
    );
    let mut conn = PgConnection::connect(&again.database_url("postgres"))
        .await
        .expect("reconnect");
    sqlx::query("SELECT count(*) FROM kept")
        .execute(&mut conn)
        .await
        .expect("the table is still there");
    conn.close().await.expect("close");
    again.stop().await.expect("stop again");
    let _ = std::fs::remove_dir_all(&actual);
}

#[tokio::test]
async fn as_root_a_cluster_whose_parent_was_closed_is_reported_by_name_not_replaced() {
    use std::os::unix::fs::PermissionsExt;

    if !running_as_root() {
        eprintln!("skipped: an ordinary user runs the server as itself and reaches its own paths");
        return;
    }
    let tmp = TempDir::new("pgembed-closed-later");
    let config = EmbeddedConfig::new(tmp.0.join("data")).durable(false);
    let pg = EmbeddedPostgres::start(config.clone())
        .await
        .expect("start");
    assert_eq!(pg.data_dir(), tmp.0.join("data"));
    pg.stop().await.expect("stop");
    std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    match EmbeddedPostgres::start(config).await {
        Err(EmbeddedError::DirectoryNotReachable { blocked, user, .. }) => {
            assert_eq!(blocked, tmp.0);
            assert_eq!(user, "postgres");
        }
        Ok(pg) => panic!(
            "an empty cluster replaced the closed one at {}",
            pg.data_dir().display()
        ),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn a_connection_without_the_password_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = TempDir::new("pgembed-scram");
    let pg = EmbeddedPostgres::start(EmbeddedConfig::new(tmp.0.join("data")).durable(false))
        .await
        .expect("start");
    let refused = PgConnection::connect(&url_without_password(&pg)).await;
    assert!(refused.is_err(), "no password, yet connected");
    let wrong = format!("postgres://ledger:wrong@127.0.0.1:{}/postgres", pg.port());
    assert!(
        PgConnection::connect(&wrong).await.is_err(),
        "a wrong password connected"
    );
    let method: String = {
        let mut conn = PgConnection::connect(&pg.database_url("postgres"))
            .await
            .expect("the URL with the password connects");
        let method = sqlx::query_scalar(
            "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1",
        )
        .fetch_one(&mut conn)
        .await
        .expect("hba rules");
        conn.close().await.expect("close");
        method
    };
    assert_eq!(method, "scram-sha-256");
    let password_file = pg.data_dir().join("ledger.password");
    let mode = std::fs::metadata(&password_file)
        .expect("the password is kept in the data directory")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !tmp.0.join("data.initdb-password").exists(),
        "the file initdb read the password from is gone"
    );
    pg.stop().await.expect("stop");
}

#[tokio::test]
async fn a_cluster_made_with_trust_is_moved_to_scram_on_its_next_start() {
    let tmp = TempDir::new("pgembed-trust");
    let config = EmbeddedConfig::new(tmp.0.join("data")).durable(false);
    let pg = EmbeddedPostgres::start(config.clone())
        .await
        .expect("start");
    let data_dir = pg.data_dir().to_owned();
    pg.stop().await.expect("stop");
    // What an earlier version left: trust for loopback and no password file.
    std::fs::write(
        data_dir.join("pg_hba.conf"),
        "host all all 127.0.0.1/32 trust\n",
    )
    .expect("write the old rules");
    std::fs::remove_file(data_dir.join("ledger.password")).expect("remove the password");

    let pg = EmbeddedPostgres::start(config)
        .await
        .expect("start the old cluster");
    assert!(
        PgConnection::connect(&url_without_password(&pg))
            .await
            .is_err(),
        "the upgraded cluster still trusts"
    );
    let conn = PgConnection::connect(&pg.database_url("postgres"))
        .await
        .expect("the new password connects");
    conn.close().await.expect("close");
    pg.stop().await.expect("stop");
}

#[tokio::test]
async fn missing_binaries_say_how_to_fix_it_in_one_paragraph() {
    let tmp = TempDir::new("pgembed-empty-bin");
    let config = EmbeddedConfig::new(tmp.0.join("data")).bin_dir(&tmp.0);
    let err = EmbeddedPostgres::start(config)
        .await
        .expect_err("no binaries");
    assert!(
        matches!(err, EmbeddedError::BinariesNotFound { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    for needle in ["install", "postgresql", "PATH", "DATABASE_URL"] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from: {message}"
        );
    }
}

/// Whether database `name` exists on the server `conn` is connected to.
async fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .expect("query pg_database")
}

#[tokio::test]
async fn fresh_databases_are_distinct_empty_and_dropped_afterwards() {
    use ledger_pgembed::testing::fresh_database;

    let first = fresh_database().await.expect("first database");
    let second = fresh_database().await.expect("second database");
    assert_ne!(first.name(), second.name());
    assert_ne!(first.url(), second.url());

    let mut conn = PgConnection::connect(first.url())
        .await
        .expect("connect first");
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .expect("current_database");
    assert_eq!(current, first.name());
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count tables");
    assert_eq!(tables, 0);
    sqlx::query("CREATE TABLE only_in_first (id INT)")
        .execute(&mut conn)
        .await
        .expect("create table");

    let mut other = PgConnection::connect(second.url())
        .await
        .expect("connect second");
    let seen: Option<String> = sqlx::query_scalar("SELECT to_regclass('only_in_first')::text")
        .fetch_one(&mut other)
        .await
        .expect("to_regclass");
    assert_eq!(seen, None);
    other.close().await.expect("close second");

    // `conn` is still open: the drop must disconnect it.
    let name = first.name().to_owned();
    drop(first);
    let mut admin = PgConnection::connect(second.url())
        .await
        .expect("connect again");
    assert!(!database_exists(&mut admin, &name).await);
    assert!(database_exists(&mut admin, second.name()).await);
    admin.close().await.expect("close admin");
    drop(conn);
}

#[tokio::test]
async fn a_migrated_pool_has_the_schema_and_a_refused_migration_is_an_error() {
    use ledger_pgembed::testing::{TestDbError, migrated_pool};
    use sqlx::migrate::Migrator;

    let tmp = TempDir::new("pgembed-migrations");
    std::fs::write(
        tmp.0.join("1_notes.sql"),
        "CREATE TABLE notes (id INT PRIMARY KEY)",
    )
    .expect("write the migration");
    let migrator = Migrator::new(tmp.0.as_path())
        .await
        .expect("read migrations");
    let migrated = migrated_pool(&migrator, 2).await.expect("a migrated pool");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
        .fetch_one(&migrated.pool)
        .await
        .expect("the migration created the table");
    assert_eq!(rows, 0);
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&migrated.pool)
        .await
        .expect("current_database");
    assert_eq!(current, migrated.database.name());

    std::fs::write(tmp.0.join("2_broken.sql"), "CREATE TABLE notes ()").expect("write");
    let broken = Migrator::new(tmp.0.as_path())
        .await
        .expect("read migrations");
    let refused = migrated_pool(&broken, 2).await;
    assert!(
        matches!(refused, Err(TestDbError::Migrate(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_restart_cuts_open_sessions_and_keeps_the_port_and_the_data() {
    let tmp = TempDir::new("pgembed-test");
    let pg = EmbeddedPostgres::start(EmbeddedConfig::new(tmp.0.join("data")).durable(false))
        .await
        .expect("start");
    let port = pg.port();
    let mut conn = PgConnection::connect(&pg.database_url("postgres"))
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE kept (id INT PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .expect("create table");

    pg.restart().await.expect("restart");

    let cut = sqlx::query("SELECT 1").execute(&mut conn).await;
    assert!(
        cut.is_err(),
        "a session from before the restart still works"
    );
    let mut conn = PgConnection::connect(&pg.database_url("postgres"))
        .await
        .expect("the same URL (port) accepts connections again");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM kept")
        .fetch_one(&mut conn)
        .await
        .expect("the table survived");
    assert_eq!((rows, pg.port()), (0, port));
    conn.close().await.expect("close");
    pg.stop().await.expect("stop");
}

#[tokio::test]
async fn a_standby_replays_the_primary_refuses_writes_and_resumes_after_a_restart() {
    let tmp = TempDir::new("pgembed-standby");
    let primary =
        EmbeddedPostgres::start(EmbeddedConfig::new(tmp.0.join("primary")).durable(false))
            .await
            .expect("the primary starts");
    assert!(primary.ensure_database("ledger").await.expect("create"));
    let started = std::time::Instant::now();
    let standby_config = EmbeddedConfig::new(tmp.0.join("standby")).durable(false);
    let standby = primary
        .start_standby(standby_config.clone())
        .await
        .expect("the standby is made and starts");
    eprintln!("standby made and started in {:?}", started.elapsed());
    assert_ne!(standby.port(), primary.port());

    let mut writer = PgConnection::connect(&primary.database_url("ledger"))
        .await
        .expect("connect to the primary");
    sqlx::query("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut writer)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO notes VALUES (1, 'replicated')")
        .execute(&mut writer)
        .await
        .expect("insert");
    let read = |port: u16| {
        let url = standby.database_url("ledger");
        async move {
            assert!(url.contains(&format!(":{port}/")));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                if let Ok(mut conn) = PgConnection::connect(&url).await
                    && let Ok(Some(body)) =
                        sqlx::query_scalar::<_, String>("SELECT body FROM notes WHERE id = 1")
                            .fetch_optional(&mut conn)
                            .await
                {
                    return (conn, body);
                }
                assert!(std::time::Instant::now() < deadline, "the standby replays");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let (mut reader, body) = read(standby.port()).await;
    assert_eq!(body, "replicated");
    let refused = sqlx::query("INSERT INTO notes VALUES (2, 'on the standby')")
        .execute(&mut reader)
        .await
        .expect_err("a standby is read-only");
    assert!(refused.to_string().contains("read-only"), "{refused}");
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut reader)
        .await
        .expect("ask");
    assert!(in_recovery);
    drop(reader);

    // Stopped and started again on its port, it catches up with what it missed.
    let port = standby.port();
    standby.stop().await.expect("the standby stops");
    sqlx::query("UPDATE notes SET body = 'while the standby was down' WHERE id = 1")
        .execute(&mut writer)
        .await
        .expect("update");
    let standby = primary
        .start_standby(standby_config.port(port))
        .await
        .expect("the standby starts again");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut conn = PgConnection::connect(&standby.database_url("ledger"))
            .await
            .expect("connect to the standby");
        let body: String = sqlx::query_scalar("SELECT body FROM notes WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .expect("read");
        if body == "while the standby was down" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the standby caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(writer);
    standby.stop().await.expect("stop the standby");
    primary.stop().await.expect("stop the primary");
}
