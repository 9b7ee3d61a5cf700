//! Two runtimes on one database: one applies each projection; when it dies, the other takes
//! over within seconds.

use std::time::{Duration, Instant};

use ledger_projections::{Projection, ProjectionRuntime};
use tokio::sync::watch;

use crate::support::{World, assert_consistent, caught_up_within, config, db};

async fn until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_runtime_applies_and_the_other_takes_over_when_it_dies() {
    let db = db().await;
    let (_stop_a, shutdown_a) = watch::channel(false);
    let first = ProjectionRuntime::spawn(
        db.pool.clone(),
        db.read_models.clone(),
        config(100),
        shutdown_a,
    );
    until(
        "the first runtime to hold every lock",
        Duration::from_secs(10),
        || first.metrics().iter().all(|m| m.active),
    )
    .await;
    let (stop_b, shutdown_b) = watch::channel(false);
    let second = ProjectionRuntime::spawn(
        db.pool.clone(),
        db.read_models.clone(),
        config(100),
        shutdown_b,
    );

    let mut world = World::new(db.appender.clone(), 11).await;
    world.run(60).await;
    caught_up_within(&db.pool, world.last_position, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        second
            .metrics()
            .iter()
            .all(|m| !m.active && m.events_applied == 0),
        "{:?}",
        second.metrics()
    );
    assert!(
        first
            .metrics()
            .iter()
            .all(|m| m.events_applied > 0 || m.projection == Projection::Directory)
    );

    // The first process dies: its lock connections drop with its tasks.
    first.abort();
    first.join().await;
    let died = Instant::now();
    world.run(40).await;
    caught_up_within(&db.pool, world.last_position, Duration::from_secs(10)).await;
    let took = died.elapsed();
    assert!(took < Duration::from_secs(10), "take-over took {took:?}");
    assert!(
        second.metrics().iter().all(|m| m.active),
        "{:?}",
        second.metrics()
    );
    assert!(second.metrics().iter().any(|m| m.events_applied > 0));
    assert_consistent(&db.pool).await;
    stop_b.send_replace(true);
    second.join().await;
}
