//! Fault injection (issue 7): `ledgerd` killed with SIGKILL under load, PostgreSQL restarted
//! under load, two `ledgerd` processes on one database with one of them killed. After each,
//! nothing acknowledged is lost or applied twice (see `checks.rs`). What each test injects and
//! what held is in docs/reliability.md.
//!
//! The CI variants take about a minute together. `LEDGER_SOAK=1` runs long variants (more
//! kills, restarts and load); `LEDGER_FAULT_SEED=<n>` replays the random moments of a run (every
//! run prints its seed).

pub(crate) mod checks;
pub(crate) mod load;

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_pgembed::EmbeddedPostgres;
use ledger_tests::client::{Api, World, id};
use ledger_tests::cluster::PrivateCluster;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions};

use checks::assert_nothing_lost;
use load::{Faults, Load, Target};

/// Whether the long soak variants were asked for.
fn soak() -> bool {
    std::env::var("LEDGER_SOAK").is_ok_and(|value| value == "1")
}

/// The CI count, or the soak count under `LEDGER_SOAK=1`.
fn times(ci: u32, soak_count: u32) -> u32 {
    if soak() { soak_count } else { ci }
}

/// SplitMix64: a small seeded generator, so that a failing run's random moments can be
/// replayed with `LEDGER_FAULT_SEED`.
struct Moments(u64);

impl Moments {
    /// Seeded from `LEDGER_FAULT_SEED`, else from the clock; prints the seed either way.
    fn seeded(test: &str) -> Moments {
        let seed = std::env::var("LEDGER_FAULT_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                now.as_secs() ^ u64::from(now.subsec_nanos())
            });
        eprintln!("{test}: fault seed {seed} (replay with LEDGER_FAULT_SEED={seed})");
        Moments(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration between `low_ms` and `high_ms` milliseconds.
    fn between(&mut self, low_ms: u64, high_ms: u64) -> Duration {
        Duration::from_millis(low_ms + self.next() % (high_ms - low_ms + 1))
    }
}

/// An organization account with 100 credits and a key, created through `ledgerd`.
pub(crate) async fn target(ledgerd: &Ledgerd) -> Target {
    let (admin, org, key) = ledgerd.funded_key().await;
    Target {
        admin,
        account: org.account,
        key,
    }
}

/// Waits until the load has had `more` commands acknowledged after `before`; returns how long
/// that took.
async fn until_acked(load: &Load, before: usize, more: usize, within: Duration) -> Duration {
    let started = Instant::now();
    while load.acked() < before + more {
        assert!(
            started.elapsed() < within,
            "no command was acknowledged within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_commands_survive_sigkill_of_ledgerd_exactly_once() {
    let mut moments = Moments::seeded("sigkill");
    let mut world = World::start().await;
    let target = target(&world.ledgerd).await;
    let load = Load::start(&[&world.ledgerd], &target, 6, Faults::ServerCrashes).await;
    let kills = times(10, 60);
    let mut restart_ms = Vec::new();
    for kill in 1..=kills {
        // Some commands between kills, then a kill at a random moment of the load.
        until_acked(&load, load.acked(), 5, Duration::from_secs(60)).await;
        tokio::time::sleep(moments.between(50, 1_500)).await;
        eprintln!(
            "sigkill: kill {kill} with {} commands acknowledged",
            load.acked()
        );
        world.ledgerd.kill();
        tokio::time::sleep(moments.between(0, 300)).await;
        let restarting = Instant::now();
        world.ledgerd.restart().await;
        restart_ms.push(restarting.elapsed().as_millis());
    }
    until_acked(&load, load.acked(), 20, Duration::from_secs(60)).await;
    let tally = load.finish().await;
    eprintln!(
        "sigkill: {kills} kills, {} commands acknowledged, {} balance reads, retries {:?}, \
         read errors {:?}, restarts took {restart_ms:?} ms",
        tally.acked.len(),
        tally.reads,
        tally.retries,
        tally.read_errors
    );
    assert_nothing_lost(&world.ledgerd, &world.pool, &target, &tally).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_rides_out_postgresql_restarts_with_unavailable_and_no_wrong_answer() {
    let mut moments = Moments::seeded("postgresql restart");
    let cluster = PrivateCluster::new();
    let config = cluster.config();
    let pg = EmbeddedPostgres::start(config.clone()).await.unwrap();
    pg.ensure_database("ledger").await.unwrap();
    let url = pg.database_url("ledger");
    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(url.clone()),
        data_dir: cluster.dir.join("ledgerd"),
        ..Default::default()
    })
    .await;
    let target = target(&ledgerd).await;
    let load = Load::start(&[&ledgerd], &target, 6, Faults::ServerStaysUp).await;
    let restarts = times(3, 30);
    let mut recovery_ms = Vec::new();
    for _ in 0..restarts {
        until_acked(&load, load.acked(), 5, Duration::from_secs(30)).await;
        tokio::time::sleep(moments.between(100, 1_500)).await;
        let before = projection_positions(&url).await;
        pg.restart().await.unwrap();
        // ledgerd must serve commands again by itself, within seconds.
        let recovered = until_acked(&load, load.acked(), 1, Duration::from_secs(15)).await;
        recovery_ms.push(recovered.as_millis());
        // Projections resume from their checkpoints: never back, and forward again.
        let resumed = Instant::now();
        loop {
            let after = projection_positions(&url).await;
            assert!(
                before.iter().zip(&after).all(|(b, a)| a >= b),
                "a projection went back: {before:?} → {after:?}"
            );
            if before.iter().zip(&after).all(|(b, a)| a > b) {
                break;
            }
            assert!(
                resumed.elapsed() < Duration::from_secs(15),
                "the projections did not resume: {before:?} → {after:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A longer outage: the server is gone for a few seconds, longer than a restart, so callers
    // meet refused connections and the pool's acquire timeout, not only cut sessions.
    let port = pg.port();
    pg.stop().await.unwrap();
    let outage = moments.between(2_000, 4_000);
    tokio::time::sleep(outage).await;
    let pg = EmbeddedPostgres::start(config.port(port)).await.unwrap();
    let recovered = until_acked(&load, load.acked(), 1, Duration::from_secs(15)).await;
    eprintln!(
        "postgresql restart: down for {outage:?}, first acknowledgement {} ms after the start",
        recovered.as_millis()
    );
    until_acked(&load, load.acked(), 20, Duration::from_secs(30)).await;
    let tally = load.finish().await;
    eprintln!(
        "postgresql restart: {restarts} restarts, {} commands acknowledged, {} balance reads, \
         retries {:?}, read errors {:?}, first acknowledgement after each restart in \
         {recovery_ms:?} ms",
        tally.acked.len(),
        tally.reads,
        tally.retries,
        tally.read_errors
    );
    // The background tasks came back too: the hold-expiry task expires a hold with a TTL of
    // one second, and the projections LISTEN again (not only poll).
    assert_a_short_hold_expires(&ledgerd, &target).await;
    assert_listening(&url).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert_nothing_lost(&ledgerd, &pool, &target, &tally).await;
    pool.close().await;
    ledgerd.terminate();
    pg.stop().await.unwrap();
}

/// Places a hold with a TTL of one second and waits until the hold-expiry task has expired it.
async fn assert_a_short_hold_expires(ledgerd: &Ledgerd, target: &Target) {
    ledgerd
        .gateway()
        .place_hold_for(&target.key, "0.01", 1)
        .await;
    ledgerd
        .dashboard(&target.admin)
        .balance_once(
            &target.account,
            |balance| balance.open_holds == 0,
            Duration::from_secs(20),
            "the hold-expiry task did not expire the hold after the restarts",
        )
        .await;
}

/// Waits until a session on the database LISTENs on the log's channel (the projections'
/// wake-up hint reconnected after the restarts).
async fn assert_listening(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN \"' || $1 || '\"%'",
        )
        .bind(ledger_eventstore::NOTIFY_CHANNEL)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if listening > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no session LISTENs on the log's channel after the restarts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.close().await;
}

/// Each projection's checkpoint, in name order, read on a connection of its own (the test's
/// connections are cut by the restarts too).
async fn projection_positions(url: &str) -> Vec<i64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let positions = sqlx::query_scalar("SELECT position FROM projection_checkpoints ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    positions
}

/// Which projections `ledgerd` says it runs (`ledger_projection_active ... 1`).
async fn active_projections(ledgerd: &Ledgerd) -> Vec<String> {
    ledgerd
        .scrape_metrics()
        .await
        .lines()
        .filter(|line| line.starts_with("ledger_projection_active{") && line.ends_with(" 1"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_ledgerd_processes_share_the_log_and_the_survivor_takes_over_the_projections() {
    let mut world = World::start().await;
    let mut second = world.ledgerd.start_beside().await;
    let target = target(&world.ledgerd).await;
    // Both processes write the same account at once: each decides on its own cached state,
    // and the log's expected versions and command ids must hold across them.
    let load = Load::start(
        &[&world.ledgerd, &second],
        &target,
        8,
        Faults::ServerStaysUp,
    )
    .await;
    let run = Duration::from_secs(if soak() { 120 } else { 6 });
    tokio::time::sleep(run).await;
    let tally = load.finish().await;
    eprintln!(
        "two processes: {} commands acknowledged in {run:?}, {} balance reads, retries {:?}, \
         read errors {:?}",
        tally.acked.len(),
        tally.reads,
        tally.retries,
        tally.read_errors
    );
    assert_nothing_lost(&second, &world.pool, &target, &tally).await;

    // Kill the process that runs the projections (the first one, which took their locks at
    // its start, unless a lock moved meanwhile).
    let (first_active, second_active) = (
        active_projections(&world.ledgerd).await,
        active_projections(&second).await,
    );
    let everything = first_active.len() + second_active.len();
    if second_active.len() > first_active.len() {
        std::mem::swap(&mut world.ledgerd, &mut second);
    }
    assert!(
        first_active.len().max(second_active.len()) > 0,
        "neither ledgerd runs a projection"
    );
    world.ledgerd.kill();
    let generation = id();
    let recorded = second
        .gateway()
        .record_usage(&target.key, &generation, "0.25")
        .await;
    // Read-your-writes on the survivor: its runners take the locks over and reach the
    // position (the read waits up to 5 s). The feed is newest first.
    let feed = second
        .dashboard(&target.admin)
        .rpc()
        .list_activity(pb::ListActivityRequest {
            account_id: target.account.to_string(),
            min_position: recorded.position,
            page_size: 1,
            ..Default::default()
        })
        .await;
    assert_eq!(
        feed.items
            .iter()
            .map(|item| (item.position, item.generation_id.as_str()))
            .collect::<Vec<_>>(),
        [(recorded.position, generation.as_str())]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while active_projections(&second).await.len() < everything {
        assert!(
            Instant::now() < deadline,
            "the survivor did not take every projection over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    checks::wait_until_projections_caught_up(&second).await;
    checks::assert_read_models_match_the_log(&second).await;
}
