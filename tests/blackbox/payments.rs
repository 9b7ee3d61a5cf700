//! A provider's payment is credited once per account, whatever the command id: the same
//! payment again gets the first purchase's answer, another amount under its reference is
//! refused, and concurrent duplicates are credited once.

use ledger_api::pb;
use tonic::Code;

use crate::api_rules::user_with_organization;
use crate::common::{Env, id, reason};

fn purchase(account: &str, amount: &str, reference: &str) -> pb::PurchaseCreditsRequest {
    pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.to_owned(),
        amount: amount.into(),
        payment_reference: reference.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_payment_is_credited_once_whatever_the_command_id() {
    let env = Env::start().await;
    let (admin, _org, account) = user_with_organization(&env.ledgerd).await;
    let mut credits = env.ledgerd.clients("dashboard", Some(admin)).await.credits;
    let first = credits
        .purchase_credits(purchase(&account, "10", "pay_1"))
        .await
        .unwrap()
        .into_inner();
    let head = env.head().await;

    // The same payment under another command id: the first purchase's answer, nothing new.
    let again = credits
        .purchase_credits(purchase(&account, "10.00", "pay_1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.position, first.position);
    assert_eq!(env.head().await, head, "a repeated payment appends nothing");

    // The reference with another amount is another purchase: refused with its own reason.
    let reused = credits
        .purchase_credits(purchase(&account, "25", "pay_1"))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(reason(&reused), "PAYMENT_REFERENCE_REUSED");
    assert_eq!(env.head().await, head);

    // Concurrent duplicates of a new payment, each under its own command id: credited once.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut credits, request) = (credits.clone(), purchase(&account, "5", "pay_2"));
        tasks.spawn(async move { credits.purchase_credits(request).await });
    }
    let mut positions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        positions.push(joined.unwrap().unwrap().into_inner().position);
    }
    positions.dedup();
    assert_eq!(
        positions.len(),
        1,
        "every duplicate gets the one purchase's answer"
    );

    let balance = credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account,
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balance.balance, "15");
    assert_eq!(balance.total_purchased, "15");
}
