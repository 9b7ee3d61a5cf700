//! The consistency check through the API: what it finds, streamed a read model at a time, and
//! one check at a time.

use ledger_api::pb;
use ledger_tests::client::{Api, World};
use tokio::task::JoinSet;
use tonic::Code;

/// A world whose every read model holds something: an organization, a key and its usage, all
/// projected.
async fn world_with_usage() -> World {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    for n in 0..5 {
        gateway
            .record_usage(&key, &format!("gen-{n}"), "0.25")
            .await;
    }
    let head = world.head().await;
    let feed = world
        .dashboard(&admin)
        .after(head)
        .activity(&acme.account)
        .await;
    assert_eq!(feed.items.len(), 5);
    world
}

#[tokio::test(flavor = "multi_thread")]
async fn the_check_reports_each_read_model_and_counts_the_rows_changed_behind_its_back() {
    let world = world_with_usage().await;
    let auditor = world.auditor();
    let streamed = auditor
        .rpc()
        .stream_consistency_check(pb::ConsistencyCheckRequest {})
        .all()
        .await;
    let names: Vec<_> = streamed.iter().map(|c| c.projection.as_str()).collect();
    assert_eq!(names, ["balances", "keys", "directory", "activity"]);
    assert!(
        streamed
            .iter()
            .all(|c| c.ok && c.differences_found == 0 && c.position > 0)
    );

    sqlx::query("UPDATE activity SET cost = cost + 1 WHERE position IN (SELECT position FROM activity ORDER BY position LIMIT 2)")
        .execute(&world.pool)
        .await
        .unwrap();
    let check = auditor.consistency_check().await;
    assert!(!check.ok);
    assert_eq!(check.differences_found, 2, "{:?}", check.differences);
    assert!(
        check
            .differences
            .iter()
            .all(|d| d.starts_with("activity activity ")),
        "{:?}",
        check.differences
    );
    let streamed = auditor
        .rpc()
        .stream_consistency_check(pb::ConsistencyCheckRequest {})
        .all()
        .await;
    let found: Vec<_> = streamed
        .iter()
        .map(|c| (c.projection.as_str(), c.ok, c.differences_found))
        .collect();
    assert_eq!(
        found,
        [
            ("balances", true, 0),
            ("keys", true, 0),
            ("directory", true, 0),
            ("activity", false, 2)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_check_runs_at_a_time_and_the_others_are_told_to_come_back_later() {
    let world = world_with_usage().await;
    let mut calls = JoinSet::new();
    for n in 0..6 {
        let auditor = world.auditor();
        calls.spawn(async move {
            if n % 2 == 0 {
                auditor.consistency_check().outcome().await.map(|c| c.ok)
            } else {
                auditor
                    .rpc()
                    .stream_consistency_check(pb::ConsistencyCheckRequest {})
                    .all()
                    .outcome()
                    .await
                    .map(|checks| checks.iter().all(|c| c.ok))
            }
        });
    }
    let (mut passed, mut busy) = (0, 0);
    while let Some(outcome) = calls.join_next().await {
        match outcome.unwrap() {
            Ok(ok) => {
                assert!(ok);
                passed += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("running already"), "{status:?}");
                busy += 1;
            }
        }
    }
    assert!(passed >= 1 && busy >= 1, "passed {passed}, refused {busy}");
    // The turn is free again once they are done.
    assert!(world.auditor().consistency_check().await.ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_check_gives_up_its_turn_at_once() {
    let world = world_with_usage().await;
    // A table the check reads, locked behind its back: a check holds its turn while it waits.
    let mut blocker = world.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE account_balances IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let auditor = world.auditor();
    let mut streamed = auditor
        .rpc()
        .clients()
        .audit
        .clone()
        .stream_consistency_check(pb::ConsistencyCheckRequest {})
        .await
        .unwrap()
        .into_inner();
    let turn_taken = || async {
        // Refused: another check holds the turn. Still waiting after a second: this one has it.
        match tokio::time::timeout(
            std::time::Duration::from_secs(1),
            auditor.consistency_check().outcome(),
        )
        .await
        {
            Ok(Err(status)) if status.code() == Code::ResourceExhausted => true,
            Ok(outcome) => panic!("the check could not have run: {outcome:?}"),
            Err(_) => false,
        }
    };
    assert!(
        turn_taken().await,
        "the streamed check holds the turn while it waits"
    );
    // The streamed check's caller goes away; so does the unary one each probe cancels.
    let nothing = tokio::time::timeout(std::time::Duration::from_millis(100), streamed.message());
    assert!(nothing.await.is_err(), "no read model could be checked yet");
    drop(streamed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while turn_taken().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the cancelled check kept its turn"
        );
    }
    blocker.rollback().await.unwrap();
    // Once nothing blocks, a check runs to the end (after the last probe's turn is given up).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match auditor.consistency_check().outcome().await {
            Ok(check) => break assert!(check.ok, "{check:?}"),
            Err(status) if status.code() == Code::ResourceExhausted => assert!(
                std::time::Instant::now() < deadline,
                "a cancelled unary check kept its turn"
            ),
            Err(status) => panic!("{status:?}"),
        }
    }
}
