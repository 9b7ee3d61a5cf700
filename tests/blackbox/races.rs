//! A bank-style race through the real gRPC server: 200 concurrent support transfers and gateway
//! holds against balances and key limits that can afford only some of them.
//!
//! What is conserved: purchases bring money in from the `external` book and usage takes it out
//! to the `revenue` book; transfers only move it between customer accounts. So after the race
//! and the settlements, the customer balances sum to purchases − usage, the double-entry read
//! model has `external` = −purchases, `revenue` = usage, `transfers` = 0, and every book
//! together sums to zero.

use std::collections::HashMap;

use ledger_api::pb;
use ledger_tests::client::{Api, Hold, Key, World, reason};
use tonic::Status;

use crate::common::units;

/// Users with a personal account each, all members of the transfer target.
const USERS: usize = 5;
/// Credits bought for each personal account.
const PERSONAL_FUNDS: &str = "10";
/// Each personal account faces this many transfers and this many holds, of 2.50 each: 4 of the
/// 16 fit into 10 credits, whichever arrive first.
const PER_PERSONAL_ACCOUNT_EACH: usize = 8;
const PERSONAL_AMOUNT: &str = "2.50";
/// The hold account: 100 credits, 100 holds of 4 on an unlimited key: 25 fit.
const HOLD_ACCOUNT_FUNDS: &str = "100";
const HOLD_ACCOUNT_HOLDS: usize = 100;
/// The transfer target also has 1000 credits and a key limited to 12 for its lifetime: of 20
/// holds of 4, 3 fit the limit while the balance covers them all.
const TARGET_FUNDS: &str = "1000";
const LIMITED_KEY_HOLDS: usize = 20;
const LIMITED_KEY_LIMIT: &str = "12";
const HOLD_AMOUNT: &str = "4";
/// What each successful hold is settled for afterwards.
const SETTLED_COST: &str = "1.5";

/// Which balance a racing command contends for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Contended {
    Personal(usize),
    HoldAccount,
    LimitedKey,
}

/// One racing command's outcome, and the hold it placed.
struct Outcome {
    contended: Contended,
    result: Result<(), Status>,
    hold: Option<Hold>,
}

#[tokio::test(flavor = "multi_thread")]
async fn of_200_concurrent_transfers_and_holds_exactly_the_affordable_succeed_and_money_is_conserved()
 {
    let world = World::start().await;
    let mut users = Vec::new();
    for n in 0..USERS {
        users.push(world.user(&format!("racer{n}@example.test")).await);
    }
    let admin = &users[0];
    let as_admin = world.dashboard(admin);
    let target = as_admin.create_organization("Target").await;
    for user in &users[1..] {
        world.join(admin, &target, user).await;
    }
    let hold_org = as_admin.create_organization("Holds").await;
    let mut personal_keys = Vec::new();
    for user in &users {
        let dashboard = world.dashboard(user);
        dashboard.buy(&user.personal, PERSONAL_FUNDS).await;
        personal_keys.push(dashboard.create_key(&user.personal, "key").await);
    }
    as_admin.buy(&hold_org.account, HOLD_ACCOUNT_FUNDS).await;
    as_admin.buy(&target.account, TARGET_FUNDS).await;
    let unlimited_key = as_admin.create_key(&hold_org.account, "key").await;
    let limited_key = as_admin
        .create_key_with_limit(
            &target.account,
            "key",
            LIMITED_KEY_LIMIT,
            pb::LimitPeriod::Lifetime,
        )
        .await;

    let support = world.support();
    let gateway = world.gateway();
    let mut racers = tokio::task::JoinSet::new();
    let mut hold = |contended: Contended, key: &Key, estimate: &str| {
        let placing = gateway.place_hold_for(key, estimate, 600);
        racers.spawn(async move {
            let placed = placing.outcome().await;
            Outcome {
                contended,
                hold: placed.as_ref().ok().cloned(),
                result: placed.map(drop),
            }
        });
    };
    for (n, key) in personal_keys.iter().enumerate() {
        for _ in 0..PER_PERSONAL_ACCOUNT_EACH {
            hold(Contended::Personal(n), key, PERSONAL_AMOUNT);
        }
    }
    for _ in 0..HOLD_ACCOUNT_HOLDS {
        hold(Contended::HoldAccount, &unlimited_key, HOLD_AMOUNT);
    }
    for _ in 0..LIMITED_KEY_HOLDS {
        hold(Contended::LimitedKey, &limited_key, HOLD_AMOUNT);
    }
    for (n, user) in users.iter().enumerate() {
        for _ in 0..PER_PERSONAL_ACCOUNT_EACH {
            let transfer = support.transfer(&user.personal, &target.account, PERSONAL_AMOUNT);
            racers.spawn(async move {
                Outcome {
                    contended: Contended::Personal(n),
                    result: transfer.outcome().await.map(drop),
                    hold: None,
                }
            });
        }
    }
    assert_eq!(racers.len(), 200);

    // Tally: successes per contended balance, refusal reasons per contended balance.
    let mut succeeded: HashMap<Contended, usize> = HashMap::new();
    let mut refusals: HashMap<Contended, Vec<String>> = HashMap::new();
    let mut transfers_out = [0_i128; USERS];
    let mut holds = Vec::new();
    while let Some(outcome) = racers.join_next().await {
        let outcome = outcome.unwrap();
        match outcome.result {
            Ok(()) => {
                *succeeded.entry(outcome.contended.clone()).or_default() += 1;
                match (outcome.hold, outcome.contended) {
                    (Some(hold), _) => holds.push(hold),
                    (None, Contended::Personal(n)) => transfers_out[n] += units(PERSONAL_AMOUNT),
                    (None, other) => panic!("a transfer contended for {other:?}"),
                }
            }
            Err(status) => refusals.entry(outcome.contended).or_default().push(format!(
                "{:?}/{}",
                status.code(),
                reason(&status)
            )),
        }
    }
    let insufficient = "FailedPrecondition/INSUFFICIENT_CREDITS";
    for n in 0..USERS {
        let who = Contended::Personal(n);
        assert_eq!(succeeded.get(&who), Some(&4), "personal account {n}");
        assert_eq!(
            refusals[&who],
            vec![insufficient; 12],
            "personal account {n}"
        );
    }
    assert_eq!(succeeded.get(&Contended::HoldAccount), Some(&25));
    assert_eq!(refusals[&Contended::HoldAccount], vec![insufficient; 75]);
    assert_eq!(succeeded.get(&Contended::LimitedKey), Some(&3));
    assert_eq!(
        refusals[&Contended::LimitedKey],
        vec!["FailedPrecondition/KEY_LIMIT_REACHED"; 17]
    );

    // Balances: nothing below zero, holds and transfers exactly as counted.
    let mut transferred_in = 0;
    for (n, user) in users.iter().enumerate() {
        let b = world.dashboard(user).balance(&user.personal).await;
        let held = units(PERSONAL_AMOUNT) * i128::from(b.open_holds);
        assert_eq!(units(&b.balance), units(PERSONAL_FUNDS) - transfers_out[n]);
        assert_eq!(units(&b.total_transferred_out), transfers_out[n]);
        assert_eq!(units(&b.held), held);
        assert_eq!(units(&b.available), 0, "10 credits, all spoken for");
        transferred_in += transfers_out[n];
    }
    let holds_account = as_admin.balance(&hold_org.account).await;
    assert_eq!(
        (holds_account.balance.as_str(), holds_account.held.as_str()),
        ("100", "100")
    );
    assert_eq!(units(&holds_account.available), 0);
    let target_balance = as_admin.balance(&target.account).await;
    assert_eq!(
        units(&target_balance.balance),
        units(TARGET_FUNDS) + transferred_in
    );
    assert_eq!(units(&target_balance.total_transferred_in), transferred_in);
    assert_eq!(units(&target_balance.held), units(LIMITED_KEY_LIMIT));

    // Settle every hold at once; then check conservation against the double-entry read model.
    let mut settlements = tokio::task::JoinSet::new();
    for (n, hold) in holds.iter().enumerate() {
        let settling = gateway.settle(hold, &format!("race-{n}"), SETTLED_COST);
        settlements.spawn(settling.outcome());
    }
    let mut head = 0;
    while let Some(settled) = settlements.join_next().await {
        head = head.max(settled.unwrap().unwrap().position);
    }
    let purchased =
        units(PERSONAL_FUNDS) * USERS as i128 + units(HOLD_ACCOUNT_FUNDS) + units(TARGET_FUNDS);
    let used = units(SETTLED_COST) * holds.len() as i128;
    let mut customer_total = 0;
    let mut accounts: Vec<_> = users.iter().map(|u| (u, u.personal.clone())).collect();
    accounts.push((admin, hold_org.account.clone()));
    accounts.push((admin, target.account.clone()));
    for (owner, account) in &accounts {
        let b = world.dashboard(owner).balance(account).await;
        assert_eq!((b.held.as_str(), b.open_holds), ("0", 0));
        assert!(units(&b.balance) >= 0, "{account}: {}", b.balance);
        customer_total += units(&b.balance);
    }
    assert_eq!(customer_total, purchased - used);

    // Wait until the balances projection has applied the last settlement, then read its books.
    as_admin
        .rpc()
        .list_ledger_entries(pb::ListLedgerEntriesRequest {
            account_id: hold_org.account.to_string(),
            min_position: head,
            page_size: 1,
            ..Default::default()
        })
        .await;
    let books: Vec<(String, String)> = sqlx::query_as(
        "SELECT account, sum(amount)::text FROM ledger_entries GROUP BY account ORDER BY account",
    )
    .fetch_all(&world.pool)
    .await
    .unwrap();
    let books: HashMap<String, i128> = books
        .into_iter()
        .map(|(book, sum)| (book, units(&sum)))
        .collect();
    assert_eq!(books["external"], -purchased);
    assert_eq!(books["revenue"], used);
    assert_eq!(books.get("transfers").copied().unwrap_or(0), 0);
    let customer_books: i128 = accounts
        .iter()
        .map(|(_, account)| books[account.as_str()])
        .sum();
    assert_eq!(customer_books, customer_total);
    assert_eq!(books.values().sum::<i128>(), 0, "every book together");
}
