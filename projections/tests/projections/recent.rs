//! The decoded events this process's runners share: served from memory where it has them, read
//! from the log only for what it lacks, bounded, and never holding a gap.

use ledger_projections::{Applied, RecentEvents};
use std::sync::Arc;

use crate::support::{World, db};

fn positions(events: &[Arc<Applied>]) -> Vec<i64> {
    events.iter().map(|e| e.position).collect()
}

#[tokio::test]
async fn runners_take_recent_events_from_memory_and_read_only_what_it_lacks() {
    let db = db().await;
    let mut world = World::new(db.appender.clone(), 3).await;
    world.run(40).await;
    assert!(world.last_position >= 40, "{}", world.last_position);
    let recent = RecentEvents::new(16);
    let good = &db.pool;
    // A closed pool answers every read with an error: what `after` reads through it fails,
    // what it takes from memory does not.
    let broken = sqlx::PgPool::connect_lazy_with((*db.pool.connect_options()).clone());
    broken.close().await;

    let read = recent.after(good, 0, 10).await.unwrap();
    assert_eq!(positions(&read), (1..=10).collect::<Vec<_>>());
    let remembered = recent.after(&broken, 4, 6).await.unwrap();
    assert_eq!(positions(&remembered), (5..=10).collect::<Vec<_>>());
    assert_eq!(remembered[0].event, read[4].event);
    assert!(
        recent.after(&broken, 4, 7).await.is_err(),
        "position 11 is not in memory: it is read"
    );

    // Reading on, the window keeps the newest 16: positions 15 to 30.
    let on = recent.after(good, 10, 20).await.unwrap();
    assert_eq!(positions(&on), (11..=30).collect::<Vec<_>>());
    let window = recent.after(&broken, 14, 16).await.unwrap();
    assert_eq!(positions(&window), (15..=30).collect::<Vec<_>>());
    assert!(recent.after(&broken, 13, 1).await.is_err(), "14 was let go");

    // A runner behind the window reads the log itself and leaves the window as it was.
    let behind = recent.after(good, 0, 5).await.unwrap();
    assert_eq!(positions(&behind), (1..=5).collect::<Vec<_>>());
    assert_eq!(recent.after(&broken, 14, 16).await.unwrap().len(), 16);

    // A runner ahead of it reads the log, and the window starts again from what it read: a
    // window never holds a gap.
    let ahead = recent.after(good, 35, 3).await.unwrap();
    assert_eq!(positions(&ahead), [36, 37, 38]);
    assert_eq!(
        positions(&recent.after(&broken, 35, 3).await.unwrap()),
        [36, 37, 38]
    );
    assert!(
        recent.after(&broken, 30, 1).await.is_err(),
        "31 was never kept"
    );
}
