//! Read-your-writes: a query that waits for the position an append returned sees the append.

use std::time::Duration;

use ledger_domain::account::{self, AccountCommand};
use ledger_domain::text::PaymentReference;
use ledger_domain::{Caller, Credits};
use ledger_projections::models::balances;
use ledger_projections::{Projection, ProjectionError, status, wait_for_position};
use rust_decimal::Decimal;

use crate::support::{Running, World, config, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_the_position_of_an_append_sees_that_append() {
    let db = db().await;
    let running = Running::spawn(&db.pool, config(5_000));
    let mut world = World::new(db.appender.clone(), 7).await;
    let account_id = world.org_account;
    let admin = Caller::Dashboard {
        user: world.users[0],
    };
    let mut expected = Decimal::ZERO;
    for n in 1..=20_i64 {
        let state = world.accounts[&account_id].clone();
        let amount = Credits::purchase(Decimal::new(n * 100, 2)).unwrap();
        let cmd = AccountCommand::PurchaseCredits {
            amount,
            payment_reference: PaymentReference::parse(&format!("pi_{n}")).unwrap(),
            at: world.now,
        };
        let decision = account::decide(&state, Some(&world.org_state), &admin, &cmd).unwrap();
        let outcome = world.commit(decision).await;
        expected += amount.amount();
        let reached = wait_for_position(
            &db.read_models,
            Projection::Balances,
            outcome.last_position,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(reached >= outcome.last_position);
        let row = balances::balance(&db.pool, account_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.balance, expected, "the read sees its own write");
        assert!(row.last_position <= reached);
    }
    let state = status(&db.pool, &db.read_models, Projection::Balances)
        .await
        .unwrap();
    assert_eq!(state.head, world.last_position);
    assert!(state.lag_events >= 0);

    // A position the log has not reached: a distinct, bounded error.
    let error = wait_for_position(
        &db.read_models,
        Projection::Balances,
        world.last_position + 1_000,
        Duration::from_millis(200),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ProjectionError::NotYetAtPosition { wanted, .. } if wanted == world.last_position + 1_000),
        "{error}"
    );

    let metrics = running.runtime.metrics();
    assert!(metrics.iter().all(|m| m.active), "{metrics:?}");
    assert!(metrics.iter().any(|m| m.events_applied > 0));
    running.stop().await;
}
