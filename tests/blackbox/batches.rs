//! Batches decided per account: each account's items in one pass and one append request, each
//! item answered exactly as its unary call would be.

use ledger_api::pb;
use ledger_tests::client::{Api, Call, HoldId, Key, Rpc, World, id, reason, usage};
use tonic::{Code, Status};

use crate::billing::{place, void};
use crate::gateway::counter;

/// What a call answered, as a batch item carries it: code, reason and message (0 and empty
/// strings for success).
type Answer = (i32, String, String);

fn accepted() -> Answer {
    (0, String::new(), String::new())
}

fn refused(status: &Status) -> Answer {
    // An invalid field's status names it in a `BadRequest`, without an `ErrorInfo`; a batch
    // item gives that refusal the reason INVALID_INPUT.
    let reason = match reason(status) {
        none if none.is_empty() && status.code() == Code::InvalidArgument => "INVALID_INPUT".into(),
        reason => reason,
    };
    (status.code() as i32, reason, status.message().to_owned())
}

fn answers(reply: &pb::BatchResponse) -> Vec<Answer> {
    reply
        .results
        .iter()
        .map(|r| (r.code, r.reason.clone(), r.message.clone()))
        .collect()
}

fn settle(key: &Key, hold: &HoldId, generation: &str, cost: &str) -> pb::SettleHoldRequest {
    pb::SettleHoldRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        hold_id: hold.to_string(),
        usage: Some(usage(generation, cost)),
    }
}

fn record(key: &Key, generation: &str, cost: &str) -> pb::RecordUsageRequest {
    pb::RecordUsageRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        usage: Some(usage(generation, cost)),
    }
}

/// The items of each kind, in order, on `key`'s account: refusals among them (insufficient
/// credits, a hold placed twice, an invalid estimate, holds not open, a generation billed
/// twice, an invalid cost) between accepted ones. Hold and generation ids are the same for
/// every account (claims are per account), so refusals read alike.
struct Script {
    places: Vec<pb::PlaceHoldRequest>,
    settles: Vec<pb::SettleHoldRequest>,
    records: Vec<pb::RecordUsageRequest>,
    voids: Vec<pb::VoidHoldRequest>,
}

fn script(key: &Key, holds: &[HoldId]) -> Script {
    Script {
        places: vec![
            place(key, &holds[0], "60"),
            place(key, &holds[1], "50"),
            place(key, &holds[2], "30"),
            place(key, &holds[0], "5"),
            place(key, &holds[3], "-1"),
            place(key, &holds[4], "10"),
        ],
        settles: vec![
            settle(key, &holds[0], "gen-s0", "70"),
            settle(key, &holds[1], "gen-s1", "1"),
            settle(key, &holds[2], "gen-s2", "5"),
            settle(key, &holds[0], "gen-s3", "1"),
        ],
        records: vec![
            record(key, "gen-1", "1"),
            record(key, "gen-1", "1"),
            record(key, "gen-2", "-1"),
            record(key, "gen-3", "2.5"),
        ],
        voids: vec![
            void(key, &holds[4]),
            void(key, &holds[1]),
            void(key, &holds[4]),
        ],
    }
}

/// Each item of the script sent alone, in order.
async fn unary(rpc: &Rpc, script: &Script) -> Vec<Vec<Answer>> {
    let position = |r: pb::CommandResponse| r.position;
    let kinds: Vec<Vec<Call<i64>>> = vec![
        (script.places.iter())
            .map(|item| rpc.place_hold(item.clone()).map(|r| r.position))
            .collect(),
        (script.settles.iter())
            .map(|item| rpc.settle_hold(item.clone()).map(position))
            .collect(),
        (script.records.iter())
            .map(|item| rpc.record_usage(item.clone()).map(position))
            .collect(),
        (script.voids.iter())
            .map(|item| rpc.void_hold(item.clone()).map(position))
            .collect(),
    ];
    let mut answered = Vec::new();
    for calls in kinds {
        let mut kind = Vec::new();
        // One after the other: each is decided on what the ones before it left.
        for call in calls {
            kind.push(match call.outcome().await {
                Ok(_) => accepted(),
                Err(status) => refused(&status),
            });
        }
        answered.push(kind);
    }
    answered
}

/// The script as four batches, one per kind.
async fn batched(rpc: &Rpc, script: &Script) -> Vec<pb::BatchResponse> {
    vec![
        rpc.place_hold_batch(pb::PlaceHoldBatchRequest {
            items: script.places.clone(),
        })
        .await,
        rpc.settle_batch(pb::SettleBatchRequest {
            items: script.settles.clone(),
        })
        .await,
        rpc.record_usage_batch(pb::RecordUsageBatchRequest {
            items: script.records.clone(),
        })
        .await,
        rpc.void_hold_batch(pb::VoidHoldBatchRequest {
            items: script.voids.clone(),
        })
        .await,
    ]
}

/// Each item's command id, code, reason and position.
fn verdicts(reply: &pb::BatchResponse) -> Vec<(String, i32, String, i64)> {
    reply
        .results
        .iter()
        .map(|r| (r.command_id.clone(), r.code, r.reason.clone(), r.position))
        .collect()
}

/// The positions of a batch's accepted items, in order.
fn positions(reply: &pb::BatchResponse) -> Vec<i64> {
    reply
        .results
        .iter()
        .filter(|r| r.code == 0)
        .map(|r| r.position)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_each_item_as_its_unary_call_with_one_append_request_per_account() {
    let world = World::start().await;
    let (alone_admin, alone, alone_key) = world.funded_key().await;
    let (admin, grouped, key) = world.funded_key().await;
    let gateway = world.gateway();
    let rpc = gateway.rpc();
    let holds: Vec<HoldId> = (0..5).map(|_| HoldId::fresh()).collect();

    let expected = unary(rpc, &script(&alone_key, &holds)).await;
    let script = script(&key, &holds);
    let requests_before = counter(&world.ledgerd, "ledger_append_requests_total").await;
    let replies = batched(rpc, &script).await;
    let requests = counter(&world.ledgerd, "ledger_append_requests_total").await - requests_before;
    let got: Vec<Vec<Answer>> = replies.iter().map(answers).collect();
    assert_eq!(got, expected, "each item answered as alone");
    assert_eq!(
        requests, 4,
        "one append request per batch: all its items are on one account"
    );

    // Each accepted item has its own event's position, in the batch's order, and the last
    // one is the head.
    let head = world.head().await;
    for reply in &replies {
        let positions = positions(reply);
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
    assert_eq!(*positions(&replies[3]).last().unwrap(), head);
    for (result, item) in replies[0].results.iter().zip(&script.places) {
        if result.code != 0 {
            continue;
        }
        let events = ledger_eventstore::read_all(&world.pool, result.position - 1, 1);
        let event = &events.await.unwrap()[0];
        assert_eq!(event.position, result.position);
        assert_eq!(event.event_type, "account.hold_placed");
        let metadata = event.metadata().unwrap();
        assert_eq!(
            metadata.command_id.to_string(),
            item.command_id,
            "its own event"
        );
        assert!(event.payload.contains(&item.hold_id));
    }

    // The same balances as the account billed one call at a time.
    let (one, other) = (
        world
            .dashboard(&admin)
            .after(head)
            .balance(&grouped.account)
            .await,
        world
            .dashboard(&alone_admin)
            .after(head)
            .balance(&alone.account)
            .await,
    );
    assert_eq!(
        (&one.balance, &one.held, &one.available, one.open_holds),
        (
            &other.balance,
            &other.held,
            &other.available,
            other.open_holds
        )
    );

    // Resent, each batch gets its first answers and appends nothing (a refusal records
    // nothing, so it is decided again: the same refusal, its message on today's balance).
    let resent = batched(rpc, &script).await;
    assert_eq!(
        resent.iter().map(verdicts).collect::<Vec<_>>(),
        replies.iter().map(verdicts).collect::<Vec<_>>()
    );
    assert_eq!(
        world.head().await,
        head,
        "the resent batches appended nothing"
    );

    // An item of one batch resent in another, beside a new item and a reused command id.
    let reused = pb::RecordUsageRequest {
        usage: Some(usage("gen-9", "3")),
        ..script.records[3].clone()
    };
    let fresh = record(&key, "gen-4", "0.5");
    let mixed = rpc
        .record_usage_batch(pb::RecordUsageBatchRequest {
            items: vec![script.records[0].clone(), fresh, reused.clone()],
        })
        .await;
    assert_eq!(mixed.results[0], replies[2].results[0]);
    assert_eq!(mixed.results[1].code, 0);
    assert_eq!(mixed.results[1].position, head + 1);
    let alone_reused = rpc.record_usage(reused).refusal().await;
    assert_eq!(answers(&mixed)[2], refused(&alone_reused));
    assert_eq!(mixed.results[2].reason, "COMMAND_ID_REUSED");
    // And sent alone, an item of a batch gets the batch's answer.
    let alone_retry = rpc.settle_hold(script.settles[2].clone()).await;
    assert_eq!(alone_retry.position, replies[1].results[2].position);
    assert_eq!(world.head().await, head + 1);

    let check = world.auditor().consistency_check().await;
    assert!(check.ok, "{:?}", check.differences);
    world.auditor().assert_chain_verifies().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_over_several_accounts_appends_once_per_account_and_answers_in_order() {
    let world = World::start().await;
    let (admin, first, first_key) = world.funded_key().await;
    let (second_admin, second, second_key) = world.funded_key().await;
    let gateway = world.gateway();
    let rpc = gateway.rpc();
    let nowhere = Key {
        account: ledger_tests::client::AccountId::fresh(),
        ..first_key.clone()
    };
    let same = record(&first_key, "gen-same", "1");
    let items = vec![
        record(&first_key, "gen-1", "1"),
        record(&second_key, "gen-1", "2"),
        record(&nowhere, "gen-1", "1"),
        record(&first_key, "gen-2", "1"),
        same.clone(),
        same.clone(),
        pb::RecordUsageRequest {
            usage: Some(usage("gen-other", "1")),
            ..same.clone()
        },
        record(&second_key, "gen-1", "2"),
        record(&second_key, "gen-2", "2"),
    ];
    let unknown = rpc.record_usage(items[2].clone()).refusal().await;
    let requests_before = counter(&world.ledgerd, "ledger_append_requests_total").await;
    let reply = rpc
        .record_usage_batch(pb::RecordUsageBatchRequest {
            items: items.clone(),
        })
        .await;
    let requests = counter(&world.ledgerd, "ledger_append_requests_total").await - requests_before;
    assert_eq!(
        requests, 2,
        "one append request per account with accepted items"
    );
    for (result, item) in reply.results.iter().zip(&items) {
        assert_eq!(result.command_id, item.command_id);
    }
    let codes: Vec<_> = reply.results.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        codes,
        [
            "",
            "",
            reason(&unknown).as_str(),
            "",
            "",
            "",
            "COMMAND_ID_REUSED",
            "GENERATION_ALREADY_RECORDED",
            ""
        ]
    );
    assert_eq!(answers(&reply)[2], refused(&unknown));
    // A repeated item (same id, same request) shares the first one's position.
    assert_eq!(reply.results[4].position, reply.results[5].position);
    let positions: std::collections::BTreeSet<i64> = [0, 1, 3, 4, 8]
        .iter()
        .map(|i| reply.results[*i].position)
        .collect();
    assert_eq!(positions.len(), 5, "each accepted item at its own position");
    // An account's items are appended in the batch's order.
    assert!(reply.results[0].position < reply.results[3].position);
    assert!(reply.results[3].position < reply.results[4].position);
    assert!(reply.results[1].position < reply.results[8].position);

    let head = world.head().await;
    assert_eq!(*positions.last().unwrap(), head);
    let first_balance = world.dashboard(&admin).after(head).balance(&first.account);
    assert_eq!(first_balance.await.total_used, "3");
    let second_balance = world
        .dashboard(&second_admin)
        .after(head)
        .balance(&second.account);
    assert_eq!(second_balance.await.total_used, "4");

    let resent = rpc
        .record_usage_batch(pb::RecordUsageBatchRequest { items })
        .await;
    assert_eq!(resent, reply);
    assert_eq!(
        world.head().await,
        head,
        "the resent batch appended nothing"
    );
    let check = world.auditor().consistency_check().await;
    assert!(check.ok, "{:?}", check.differences);
}
