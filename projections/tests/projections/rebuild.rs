//! Rebuild while writes continue: the swapped-in tables equal the fold, and queries during
//! the rebuild never see an empty or half-built table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ledger_domain::account::{self, AccountCommand};
use ledger_domain::text::PaymentReference;
use ledger_domain::{Caller, Credits};
use ledger_projections::{Projection, check, rebuild, rebuild_with_progress, wait_for_position};
use rust_decimal::Decimal;

use crate::support::{Running, World, caught_up_within, config, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_while_writes_continue_swaps_in_the_fold_and_queries_never_see_a_partial_table() {
    let db = db().await;
    let running = Running::spawn(&db.pool, config(500));
    let mut world = World::new(db.appender.clone(), 5).await;
    world.run(150).await;
    caught_up_within(&db.pool, world.last_position, Duration::from_secs(10)).await;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM account_balances")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let activity: i64 = sqlx::query_scalar("SELECT count(*) FROM activity")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    // Writers keep purchasing for the organization while the rebuild runs.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = Arc::clone(&done);
        let appender = db.appender.clone();
        let (account_id, mut state, org, admin, at) = (
            world.org_account,
            world.accounts[&world.org_account].clone(),
            world.org_state.clone(),
            Caller::Dashboard {
                user: world.users[0],
            },
            world.now,
        );
        tokio::spawn(async move {
            let mut last = 0;
            while !done.load(Ordering::Relaxed) {
                let cmd = AccountCommand::PurchaseCredits {
                    amount: Credits::purchase(Decimal::ONE).unwrap(),
                    payment_reference: PaymentReference::parse(&format!(
                        "pi_{}",
                        uuid::Uuid::new_v4()
                    ))
                    .unwrap(),
                    at,
                };
                let decision = account::decide(&state, Some(&org), &admin, &cmd).unwrap();
                last = appender
                    .append(crate::support::request(&decision))
                    .await
                    .unwrap()
                    .last_position;
                for event in decision.events() {
                    if let ledger_domain::Event::Account(e) = event {
                        state.evolve(e);
                    }
                }
                let _ = account_id;
            }
            last
        })
    };
    // Readers check every table they can see is whole.
    let reader = {
        let (done, pool) = (Arc::clone(&done), db.pool.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM account_balances")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(n, accounts, "a query saw a partial balances table");
                let a: i64 = sqlx::query_scalar("SELECT count(*) FROM activity")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert!(
                    a >= activity,
                    "a query saw a partial activity table: {a} < {activity}"
                );
                reads += 1;
            }
            reads
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let balances = rebuild(&db.pool, &db.read_models, Projection::Balances, 64)
        .await
        .unwrap();
    let feed = rebuild(&db.pool, &db.read_models, Projection::Activity, 64)
        .await
        .unwrap();
    assert!(balances.position >= balances.live_position_at_swap);
    assert!(feed.position >= feed.live_position_at_swap);
    // The swapped-in model equals the fold at its position.
    for projection in [Projection::Balances, Projection::Activity] {
        let report = check(&db.pool, &db.read_models, projection).await.unwrap();
        assert!(
            report.is_consistent(),
            "{projection}: {:#?}",
            report.differences
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    done.store(true, Ordering::Relaxed);
    let last = writer.await.unwrap();
    let reads = reader.await.unwrap();
    assert!(
        reads > 5,
        "the reader ran during the rebuild ({reads} reads)"
    );
    assert!(
        last > balances.live_position_at_swap,
        "writes continued during the rebuild"
    );
    wait_for_position(
        &db.read_models,
        Projection::Balances,
        last,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let report = check(&db.pool, &db.read_models, Projection::Balances)
        .await
        .unwrap();
    assert!(
        report.is_consistent(),
        "after more writes: {:#?}",
        report.differences
    );
    let leftovers: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%' OR nspname LIKE 'retired_%'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(leftovers, 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_reports_the_position_folded_after_each_batch_up_to_the_head() {
    let db = db().await;
    let mut world = World::new(db.appender.clone(), 3).await;
    world.run(40).await;
    let head = world.last_position;
    let mut seen = Vec::new();
    let report =
        rebuild_with_progress(&db.pool, &db.read_models, Projection::Keys, 7, |position| {
            seen.push(position);
        })
        .await
        .unwrap();
    // One report per batch of 7 events, each 7 further, the last at the head.
    let expected: Vec<i64> = (1..=(head + 6) / 7).map(|n| (n * 7).min(head)).collect();
    assert_eq!(seen, expected);
    assert_eq!(report.position, head);
    assert!(
        check(&db.pool, &db.read_models, Projection::Keys)
            .await
            .unwrap()
            .is_consistent()
    );
}
