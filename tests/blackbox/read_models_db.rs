//! Read models in a database of their own (`--read-models-database-url`), in a second,
//! independent PostgreSQL cluster the test starts: the projectors read the log from the log's
//! database and write rows and checkpoints together in the other, so after SIGKILLs under load
//! every read model still equals a fresh fold of the log; reads wait for `min_position` there;
//! the log's database holds no read-model row; a read-only `ledgerd` on a standby reads them
//! there too; `ledgerd migrate` migrates both; an unreachable or malformed URL, or read models
//! folded from another log, fail start-up naming the flag.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ledger_pgembed::testing::fresh_database;
use ledger_tests::client::{Api, ReadsWorld, World, reason};
use ledger_tests::cluster::OutageDatabase;
use ledger_tests::ledgerd::{binary, free_port};
use ledger_tests::replica::ReplicaWorld;
use sqlx::PgPool;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::faults::checks::assert_nothing_lost;
use crate::faults::load::{Faults, Load, units};
use crate::faults::target;

/// The flag under test.
const FLAG: &str = "--read-models-database-url";

/// Every table of a read model.
const READ_MODEL_TABLES: [&str; 11] = [
    "account_balances",
    "open_holds",
    "ledger_entries",
    "api_keys",
    "users",
    "organizations",
    "organization_members",
    "organization_invitations",
    "activity",
    "usage_daily",
    "usage_hourly",
];

/// A `ledgerd` whose log is a fresh database on the test server and whose read models are in
/// `ledger` on a private cluster of the test's own.
async fn split_world(read_models: &OutageDatabase) -> World {
    World::start_with(|options| {
        options
            .serve_args
            .extend([FLAG.to_owned(), read_models.url().to_owned()]);
    })
    .await
}

/// The rows of `table` in the database of `pool`.
async fn rows(pool: &PgPool, table: &str) -> i64 {
    // `table` is one of the constant names above.
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The read-model tables of `pool` that hold rows, with their counts.
async fn filled_read_model_tables(pool: &PgPool) -> Vec<(&'static str, i64)> {
    let mut filled = Vec::new();
    for table in READ_MODEL_TABLES {
        let count = rows(pool, table).await;
        if count > 0 {
            filled.push((table, count));
        }
    }
    filled
}

/// The projections' checkpoints in the database of `pool`, by name (the migrations create them
/// at 0).
async fn checkpoints(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT position FROM projection_checkpoints ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn read_models_in_their_own_cluster_equal_a_fresh_fold_of_the_log_across_sigkills() {
    let read_models = OutageDatabase::start().await;
    let mut world = split_world(&read_models).await;

    // A world of commands: two users, an organization they share, credits, a key each, a
    // settled hold, usage, and a support transfer from a personal account.
    let ReadsWorld { alice: a, org, .. } = world.reads_world().await;
    world.dashboard(&a).buy(&a.personal, "50").await;
    let transferred = world
        .support()
        .transfer(&a.personal, &org.account, "20")
        .await;

    // Load on another organization (purchases, holds, settles, new keys), with SIGKILLs of
    // the projecting process in the middle of it.
    let target = target(&world.ledgerd).await;
    let load = Load::start(&[&world.ledgerd], &target, 4, Faults::ServerCrashes).await;
    for pause_ms in [300, 700] {
        let before = load.acked();
        let started = Instant::now();
        while load.acked() < before + 10 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the load stalls"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        world.ledgerd.kill();
        world.ledgerd.restart().await;
    }
    let before = load.acked();
    while load.acked() < before + 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tally = load.finish().await;
    // Each command once in the log, the chain verifies, every projection catches up and
    // equals a fresh fold (ConsistencyCheck), the balance is exactly the acknowledged sum.
    assert_nothing_lost(&world.ledgerd, &world.pool, &target, &tally).await;

    // The world's reads, served from the read models' cluster.
    let reader = world.dashboard(&a).after(transferred.position);
    let balance = reader.balance(&org.account).await;
    assert_eq!(
        (
            balance.balance.as_str(),
            balance.total_transferred_in.as_str()
        ),
        ("117.5", "20")
    );
    assert_eq!(reader.balance(&a.personal).await.balance, "30");
    assert_eq!(reader.list_keys(&org.account).await.keys.len(), 2);
    assert_eq!(reader.activity(&org.account).await.items.len(), 3);
    assert!(!reader.ledger_entries(&org.account).await.entries.is_empty());
    assert_eq!(reader.list_members(&org).await.members.len(), 2);

    // The rows went to the other cluster: the log's database has none and its checkpoints
    // never moved; the other's log tables stay empty, and its checkpoints reached the head.
    assert_eq!(filled_read_model_tables(&world.pool).await, []);
    assert_eq!(checkpoints(&world.pool).await, [0; 4]);
    let elsewhere = PgPool::connect(read_models.url()).await.unwrap();
    let filled = filled_read_model_tables(&elsewhere).await;
    assert!(filled.len() > 8, "{filled:?}");
    assert_eq!(rows(&elsewhere, "events").await, 0);
    let head = world.head().await;
    assert_eq!(checkpoints(&elsewhere).await, [head; 4]);
    let status = world.auditor().projection_status().await;
    assert!(
        status
            .projections
            .iter()
            .all(|p| (p.position, p.head) == (head, head)),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_with_min_position_waits_for_the_read_models_in_their_own_database() {
    let read_models = OutageDatabase::start().await;
    let world = split_world(&read_models).await;
    let (admin, org, key) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    let gateway = world.gateway();
    let mut cents: i64 = 10_000;
    for n in 1..=10 {
        let bought = dashboard.buy(&org.account, "1.01").await;
        cents += 101;
        let seen = dashboard.after(bought.position).balance(&org.account).await;
        assert_eq!(
            units(&seen.balance, 2),
            cents,
            "the balance shows its own write"
        );
        let used = gateway
            .record_usage(&key, &format!("gen-{n}"), "0.01")
            .await;
        cents -= 1;
        let reader = dashboard.after(used.position);
        let feed = reader.activity(&org.account).await;
        assert_eq!(feed.items.len(), n, "the feed shows its own write");
        let keys = reader.list_keys(&org.account).await;
        assert_eq!(units(&keys.keys[0].lifetime_spend, 2), n as i64);
    }
    // A position the read models have not reached is refused after the wait, not answered
    // stale.
    let head = world.head().await;
    dashboard
        .after(head + 1_000)
        .activity(&org.account)
        .refused(tonic::Code::Unavailable)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_goes_on_while_the_read_models_database_is_down_and_its_reads_catch_up_after() {
    let mut read_models = OutageDatabase::start().await;
    let world = split_world(&read_models).await;
    let (admin, org, key) = world.funded_key().await;
    let (dashboard, gateway) = (world.dashboard(&admin), world.gateway());

    read_models.stop().await;
    // Reads of the read models are refused, not answered stale or empty...
    dashboard
        .activity(&org.account)
        .refused(tonic::Code::Unavailable)
        .await;
    // ...while the money path goes on from the log, and health stays SERVING so that a
    // balancer keeps sending it billing (health follows the log's database only).
    gateway.authenticate(&key.secret).await;
    let hold = gateway.place_hold(&key, "2").await;
    let settled = gateway.settle(&hold, "gen-outage", "1.25").await;
    assert_eq!(world.ledgerd.health().await, ServingStatus::Serving);

    // Back, the projectors fold what was billed meanwhile.
    read_models.start_again().await;
    let reader = dashboard.after(settled.position);
    let started = Instant::now();
    let seen = loop {
        match reader.balance(&org.account).outcome().await {
            Ok(seen) => break seen,
            Err(status) if started.elapsed() < Duration::from_secs(30) => {
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("the read models did not come back: {status:?}"),
        }
    };
    assert_eq!(units(&seen.balance, 2), 9_875);
    let feed = reader.activity(&org.account).await;
    assert_eq!(feed.items.len(), 1, "{feed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_models_database_unreachable_or_of_another_log_fails_start_up_naming_the_flag() {
    // Read models folded from another ledger's log: past the head of a fresh log.
    let theirs = OutageDatabase::start().await;
    let other = split_world(&theirs).await;
    let (admin, org) = other.organization().await;
    let bought = other.dashboard(&admin).buy(&org.account, "5").await;
    other
        .dashboard(&admin)
        .after(bought.position)
        .balance(&org.account)
        .await;

    // `ledgerd migrate` migrates both databases.
    let (log, models) = (
        fresh_database().await.unwrap(),
        fresh_database().await.unwrap(),
    );
    let migrated = Command::new(binary())
        .args(["migrate", FLAG, models.url()])
        .env("DATABASE_URL", log.url())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    for url in [log.url(), models.url()] {
        let pool = PgPool::connect(url).await.unwrap();
        let pending = ledger_eventstore::pending_migrations(&pool).await.unwrap();
        assert_eq!(pending, Vec::<i64>::new(), "{url}");
    }

    let nobody = format!("postgres://postgres@127.0.0.1:{}/ledger", free_port());
    for (url, says, within) in [
        (nobody.as_str(), "unreachable", Duration::from_secs(30)),
        ("not a url", "not a valid URL", Duration::from_secs(10)),
        (theirs.url(), "past the log's head", Duration::from_secs(30)),
    ] {
        let dir = std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4()));
        let started = Instant::now();
        let refused = Command::new(binary())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--startup-timeout-s",
                "2",
            ])
            .arg("--data-dir")
            .arg(&dir)
            .args([FLAG, url])
            .env("DATABASE_URL", log.url())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{url}: {stderr}");
        assert!(stderr.contains(FLAG), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(
            started.elapsed() < within,
            "{url}: took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_ledgerd_on_a_standby_serves_the_read_models_of_their_own_database() {
    let read_models = OutageDatabase::start().await;
    let world = ReplicaWorld::start_with(&[FLAG, read_models.url()], &[]).await;
    let ReadsWorld {
        alice, org, last, ..
    } = world.reads_world().await;
    let on_primary = world.primary.dashboard(&alice).after(last);
    let on_replica = world.replica.dashboard(&alice).after(last);
    let balance = on_replica.balance(&org.account).await;
    assert_eq!(balance.balance, "97.5");
    assert_eq!(balance, on_primary.balance(&org.account).await);
    assert_eq!(
        on_replica.activity(&org.account).await,
        on_primary.activity(&org.account).await
    );
    assert_eq!(
        on_replica.list_keys(&org.account).await,
        on_primary.list_keys(&org.account).await
    );
    let auditor = world.replica.auditor();
    let check = auditor.consistency_check().await;
    assert!(check.ok, "{check:?}");
    let status = auditor.projection_status().await;
    assert!(
        status.projections.iter().all(|p| p.position >= last),
        "{status:?}"
    );
    // The standby's copy of the log's database has no read-model row: they live elsewhere.
    let standby = PgPool::connect(world.database.standby_url()).await.unwrap();
    assert_eq!(filled_read_model_tables(&standby).await, []);
    assert_eq!(checkpoints(&standby).await, [0; 4]);
    // A standby replays; the replica still refuses what would write the log.
    let status = world
        .replica
        .dashboard(&alice)
        .buy(&org.account, "1")
        .refused(tonic::Code::Unavailable)
        .await;
    assert_eq!(reason(&status), "READ_ONLY_REPLICA");
}
