//! Activity retention, run for real: a ledgerd pruning every second drops from the feed the
//! usage records that finished longer ago than the organization's retention, keeps the newer
//! ones, and the event log and the daily totals keep everything.

use std::time::{Duration, Instant, SystemTime};

use ledger_api::pb;
use ledger_tests::client::{Api, Key, World, id, usage};

/// Records usage with `key` that finished `days_ago` days before now; the position reached.
async fn record_finished(world: &World, key: &Key, generation: &str, days_ago: u64) -> i64 {
    let finished = SystemTime::now() - Duration::from_secs(days_ago * 86_400);
    let report = pb::UsageReport {
        started_at: Some((finished - Duration::from_secs(1)).into()),
        finished_at: Some(finished.into()),
        ..usage(generation, "1")
    };
    world
        .gateway()
        .rpc()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            usage: Some(report),
        })
        .await
        .position
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_older_than_the_retention_leaves_the_feed_and_stays_in_the_log() {
    let world = World::start_with(|options| {
        options
            .serve_args
            .extend(["--activity-prune-interval-s".to_owned(), "1".to_owned()]);
    })
    .await;
    let (admin, org, key) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    dashboard.set_privacy(&org, 7, false).await;
    record_finished(&world, &key, "ten-days-ago", 10).await;
    record_finished(&world, &key, "eight-days-ago", 8).await;
    record_finished(&world, &key, "six-days-ago", 6).await;
    let last = record_finished(&world, &key, "just-now", 0).await;

    let feed = || {
        dashboard
            .after(last)
            .rpc()
            .list_activity(pb::ListActivityRequest {
                account_id: org.account.to_string(),
                min_position: last,
                ..Default::default()
            })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let kept = loop {
        let generations: Vec<String> = feed()
            .await
            .items
            .into_iter()
            .map(|i| i.generation_id)
            .collect();
        if generations.len() == 2 {
            break generations;
        }
        assert!(
            Instant::now() < deadline,
            "the prune did not run within 30 s: {generations:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(kept, ["just-now", "six-days-ago"]);

    // The log keeps every usage record.
    let logged: Vec<String> = world
        .auditor()
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            stream_id: Some(format!("account-{}", org.account)),
            event_types: vec!["account.usage_recorded".into()],
            ..Default::default()
        })
        .all()
        .await
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(logged.len(), 4, "{logged:?}");
    for generation in ["ten-days-ago", "eight-days-ago", "six-days-ago", "just-now"] {
        assert!(
            logged.iter().any(|p| p.contains(generation)),
            "{generation} missing from the log"
        );
    }
    // The daily totals still count every request, and the balance every cost.
    let totals = dashboard
        .rpc()
        .get_usage_analytics(pb::GetUsageAnalyticsRequest {
            account_id: org.account.to_string(),
            min_position: last,
            granularity: pb::Granularity::Day.into(),
            ..Default::default()
        })
        .await;
    let requests: u64 = totals.rows.iter().map(|r| r.requests).sum();
    assert_eq!(requests, 4, "{totals:?}");
    assert_eq!(dashboard.balance(&org.account).await.balance, "96");
    // Pruned rows are not differences: the read models agree with the log.
    let report = world.auditor().consistency_check().await;
    assert!(report.ok, "{report:?}");

    // A longer retention keeps what it covers from now on: the next prune leaves it alone.
    // (Waited for in the read model the prune reads, so it sees 30 before the usage comes.)
    dashboard.set_privacy(&org, 30, false).await;
    let account = uuid::Uuid::parse_str(org.account.as_str()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let days: i32 =
            sqlx::query_scalar("SELECT retention_days FROM organizations WHERE account_id = $1")
                .bind(account)
                .fetch_one(&world.pool)
                .await
                .unwrap();
        if days == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "the setting was not projected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let later = record_finished(&world, &key, "twenty-days-ago", 20).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let request = pb::ListActivityRequest {
        account_id: org.account.to_string(),
        min_position: later,
        ..Default::default()
    };
    let generations: Vec<String> = dashboard
        .rpc()
        .list_activity(request)
        .await
        .items
        .into_iter()
        .map(|i| i.generation_id)
        .collect();
    assert_eq!(generations, ["just-now", "six-days-ago", "twenty-days-ago"]);
}
