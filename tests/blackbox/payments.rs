//! A provider's payment is credited once per account, whatever the command id: the same
//! payment again gets the first purchase's answer, another amount under its reference is
//! refused, and concurrent duplicates are credited once.

use ledger_tests::client::{Api, World};
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn one_payment_is_credited_once_whatever_the_command_id() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let first = dashboard
        .buy_with_reference(&acme.account, "10", "pay_1")
        .await;
    let head = world.head().await;

    // The same payment under another command id: the first purchase's answer, nothing new.
    let again = dashboard
        .buy_with_reference(&acme.account, "10.00", "pay_1")
        .await;
    assert_eq!(again.position, first.position);
    assert_eq!(
        world.head().await,
        head,
        "a repeated payment appends nothing"
    );

    // The reference with another amount is another purchase: refused with its own reason.
    dashboard
        .buy_with_reference(&acme.account, "25", "pay_1")
        .refused_with(Code::AlreadyExists, "PAYMENT_REFERENCE_REUSED")
        .await;
    assert_eq!(world.head().await, head);

    // Concurrent duplicates of a new payment, each under its own command id: credited once.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let duplicate = dashboard.buy_with_reference(&acme.account, "5", "pay_2");
        tasks.spawn(duplicate.outcome());
    }
    let mut positions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        positions.push(joined.unwrap().unwrap().position);
    }
    positions.dedup();
    assert_eq!(
        positions.len(),
        1,
        "every duplicate gets the one purchase's answer"
    );

    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(balance.balance, "15");
    assert_eq!(balance.total_purchased, "15");
}
