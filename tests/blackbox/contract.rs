//! What the proto promises, checked through the server: the ledger newest first with full
//! pages and a time range applied before paging, and money strings normalised.

use std::time::{Duration, SystemTime};

use ledger_api::pb;
use ledger_tests::client::{Api, World};

#[tokio::test(flavor = "multi_thread")]
async fn ledger_entries_come_newest_first_page_by_page_within_a_time_range() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let mut positions = Vec::new();
    for amount in ["10.50", "20", "30.25", "40", "50"] {
        positions.push(dashboard.buy(&acme.account, amount).await.position);
    }
    let rpc = dashboard.rpc();
    let request = |page_size: i32, page_token: String| pb::ListLedgerEntriesRequest {
        account_id: acme.account.to_string(),
        min_position: *positions.last().unwrap(),
        page_size,
        page_token,
        ..Default::default()
    };

    // Two full pages and a last one, newest first, with nothing repeated or skipped.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = rpc.list_ledger_entries(request(2, token)).await;
        pages += 1;
        seen.extend(page.entries.iter().map(|e| (e.position, e.amount.clone())));
        if page.next_page_token.is_empty() {
            break;
        }
        assert_eq!(page.entries.len(), 2, "every page but the last is full");
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<i64> = positions.iter().rev().copied().collect();
    assert_eq!(
        seen.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        newest_first
    );
    // Money strings are normalised: "10.50" is "10.5", "20" stays "20".
    let amounts: Vec<&str> = seen.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(amounts, ["50", "40", "30.25", "20", "10.5"]);
    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(balance.balance, "150.75");

    // A time range is applied before paging: a page holds only entries in range, and full.
    let all = rpc.list_ledger_entries(request(10, String::new())).await;
    let at = |i: usize| all.entries[i].at.unwrap();
    let ranged = pb::ListLedgerEntriesRequest {
        from: Some(at(3)),
        to: Some(at(0)),
        ..request(2, String::new())
    };
    let page = rpc.list_ledger_entries(ranged.clone()).await;
    let in_range: Vec<i64> = all.entries[1..4]
        .iter()
        .filter(|e| e.at.unwrap() != at(0))
        .map(|e| e.position)
        .collect();
    let mut got: Vec<i64> = page.entries.iter().map(|e| e.position).collect();
    if !page.next_page_token.is_empty() {
        let rest = rpc
            .list_ledger_entries(pb::ListLedgerEntriesRequest {
                page_token: page.next_page_token.clone(),
                ..ranged
            })
            .await;
        got.extend(rest.entries.iter().map(|e| e.position));
    }
    assert_eq!(got, in_range);

    // A range in the future holds nothing.
    let future = SystemTime::now() + Duration::from_secs(3_600);
    let empty = rpc
        .list_ledger_entries(pb::ListLedgerEntriesRequest {
            from: Some(future.into()),
            ..request(10, String::new())
        })
        .await;
    assert!(empty.entries.is_empty() && empty.next_page_token.is_empty());
}
