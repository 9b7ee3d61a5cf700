//! Rebuilding a read model as an operator, through the real ledgerd: support's
//! `RebuildProjection` streams its progress and swaps the new tables in while the gateway keeps
//! billing and the dashboard keeps reading, and the result agrees with the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ledger_api::pb;
use ledger_tests::client::{Api, Key, World, id};
use tonic::Code;

/// Usage records billed before the rebuild starts.
const BEFORE: usize = 150;

/// What the load beside the rebuild did.
#[derive(Debug, Default)]
struct Load {
    writes: AtomicU64,
    reads: AtomicU64,
    stop: AtomicBool,
}

/// Bills 0.01 with `key` and reads the feed and balance, one after the other, until stopped;
/// any failure panics the task (and so fails the test when it is joined).
async fn keep_serving(
    world: Arc<World>,
    admin: ledger_tests::client::User,
    key: Key,
    load: Arc<Load>,
) {
    let (gateway, dashboard) = (world.gateway(), world.dashboard(&admin));
    while !load.stop.load(Ordering::SeqCst) {
        let written = gateway.record_usage(&key, &id(), "0.01").await.position;
        load.writes.fetch_add(1, Ordering::SeqCst);
        let feed = dashboard
            .rpc()
            .list_activity(pb::ListActivityRequest {
                account_id: key.account.to_string(),
                min_position: written,
                page_size: 1,
                ..Default::default()
            })
            .await;
        assert_eq!(
            feed.items[0].position, written,
            "the newest record is read back"
        );
        dashboard.after(written).balance(&key.account).await;
        load.reads.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn support_rebuilds_a_read_model_while_the_service_keeps_billing_and_reading() {
    let world = Arc::new(World::start().await);
    let (admin, org, key) = world.funded_key().await;
    let gateway = world.gateway();
    for _ in 0..BEFORE {
        gateway.record_usage(&key, &id(), "0.01").await;
    }
    let load = Arc::new(Load::default());
    let serving = tokio::spawn(keep_serving(
        Arc::clone(&world),
        admin.clone(),
        key.clone(),
        Arc::clone(&load),
    ));

    // Batches of one event: a message per event, and a rebuild that takes a while.
    let support = world.support();
    let mut progress = support
        .rpc()
        .rebuild_projection(pb::RebuildProjectionRequest {
            projection: "activity".into(),
            batch_size: 1,
        })
        .await;
    let first = progress.message().await.unwrap().expect("a first message");
    assert!(!first.done, "{first:?}");
    let at_first = load.writes.load(Ordering::SeqCst);
    // Meanwhile a second rebuild of the same read model is refused.
    support
        .rpc()
        .rebuild_projection(pb::RebuildProjectionRequest {
            projection: "activity".into(),
            batch_size: 10,
        })
        .all()
        .refused(Code::ResourceExhausted)
        .await;
    let mut messages = vec![first];
    while let Some(message) = progress.message().await.unwrap() {
        messages.push(message);
    }
    let during = (
        load.writes.load(Ordering::SeqCst),
        load.reads.load(Ordering::SeqCst),
    );
    let keys = support.rebuild("keys").all().await;
    load.stop.store(true, Ordering::SeqCst);
    serving.await.expect("billing and reading never failed");

    // Progress: positions never go back, every message but the last is under way, the last
    // says the new tables are live at a position at least the head when it started.
    let last = messages.last().unwrap().clone();
    assert!(last.done, "{last:?}");
    assert!(messages[..messages.len() - 1].iter().all(|m| !m.done));
    assert!(
        messages.len() > 10,
        "one message per batch: {}",
        messages.len()
    );
    assert!(messages.windows(2).all(|w| w[0].position <= w[1].position));
    assert!(
        messages
            .iter()
            .all(|m| m.projection == "activity" && m.target == last.target)
    );
    assert!(last.position >= last.target, "{last:?}");
    assert!(
        keys.last()
            .is_some_and(|m| m.done && m.projection == "keys"),
        "{keys:?}"
    );
    // Commands and reads went on while the rebuild ran.
    assert!(
        during.0 > at_first && during.1 > 0,
        "no load during the rebuild: {at_first} then {during:?}"
    );

    // The rebuilt feed holds every record, those billed during the rebuild included, and
    // every read model agrees with the log.
    let head = world.head().await;
    let expected = BEFORE as u64 + load.writes.load(Ordering::SeqCst);
    let mut seen = 0;
    let mut token = String::new();
    let dashboard = world.dashboard(&admin);
    loop {
        let page = dashboard
            .rpc()
            .list_activity(pb::ListActivityRequest {
                account_id: org.account.to_string(),
                min_position: head,
                page_size: 500,
                page_token: token,
                filter: None,
            })
            .await;
        seen += page.items.len() as u64;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, expected);
    let report = world.auditor().consistency_check().await;
    assert!(report.ok, "{report:?}");
    let status = world.auditor().projection_status().await;
    let activity = status
        .projections
        .iter()
        .find(|p| p.name == "activity")
        .unwrap();
    assert!(activity.position >= last.position);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_names_the_read_model_and_batch_size_it_cannot_use_and_leaves_the_others() {
    let world = World::start().await;
    let (admin, org, key) = world.funded_key().await;
    world.gateway().record_usage(&key, &id(), "2.5").await;
    let support = world.support();
    let request = |projection: &str, batch_size: i32| pb::RebuildProjectionRequest {
        projection: projection.into(),
        batch_size,
    };
    support
        .rpc()
        .rebuild_projection(request("ledger", 0))
        .all()
        .refused_field("projection")
        .await;
    support
        .rpc()
        .rebuild_projection(request("balances", 10_001))
        .all()
        .refused_field("batch_size")
        .await;
    support
        .rpc()
        .rebuild_projection(request("balances", -1))
        .all()
        .refused_field("batch_size")
        .await;

    // Every read model rebuilds; the balance and the feed read the same afterwards.
    let head = world.head().await;
    let dashboard = world.dashboard(&admin).after(head);
    let before = dashboard.balance(&org.account).await;
    for projection in ["balances", "keys", "directory", "activity"] {
        let messages = support.rebuild(projection).all().await;
        let last = messages.last().unwrap();
        assert!(last.done && last.position >= head, "{projection}: {last:?}");
    }
    assert_eq!(dashboard.balance(&org.account).await, before);
    assert_eq!(dashboard.get_key(&key).await.name, "gateway");
    let report = world.auditor().consistency_check().await;
    assert!(report.ok, "{report:?}");
}
