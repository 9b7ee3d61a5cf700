//! The gateway's throughput calls: `AuthorizeAndHold`, the hold and void batches, and the
//! `Bill` stream (replies by sequence number, refusals per item, a broken stream resent, the
//! in-flight bound, a client that does not read its replies).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_api::pb::bill_reply::Reply;
use ledger_api::pb::bill_request::Call;
use ledger_tests::client::{
    Api, Gateway, HoldId, Key, World, authorize_and_hold_request, id, usage,
};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

fn item(sequence: u64, call: Call) -> pb::BillRequest {
    pb::BillRequest {
        sequence,
        call: Some(call),
    }
}

pub(crate) fn place(key: &Key, hold: &HoldId, estimate: &str) -> pb::PlaceHoldRequest {
    pb::PlaceHoldRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        hold_id: hold.to_string(),
        estimate: estimate.into(),
        ttl_s: 60,
    }
}

pub(crate) fn void(key: &Key, hold: &HoldId) -> pb::VoidHoldRequest {
    pb::VoidHoldRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        hold_id: hold.to_string(),
    }
}

fn settle(key: &Key, hold: &HoldId, cost: &str) -> pb::SettleHoldRequest {
    pb::SettleHoldRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        hold_id: hold.to_string(),
        usage: Some(usage(&id(), cost)),
    }
}

fn record(key: &Key, cost: &str) -> pb::RecordUsageRequest {
    pb::RecordUsageRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        usage: Some(usage(&id(), cost)),
    }
}

fn authenticate(secret: &str) -> Call {
    Call::AuthenticateKey(pb::AuthenticateKeyRequest {
        secret: secret.into(),
        min_position: 0,
    })
}

/// Sends `items` on one `Bill` stream, closes it, and collects the replies by sequence number
/// (each answered exactly once).
async fn bill_all(gateway: &Gateway, items: Vec<pb::BillRequest>) -> BTreeMap<u64, Reply> {
    let sent = items.len();
    let mut replies = gateway.rpc().bill(tokio_stream::iter(items)).await;
    let mut by_sequence = BTreeMap::new();
    while let Some(reply) = replies.message().await.unwrap() {
        let answer = reply.reply.expect("every reply answers");
        let earlier = by_sequence.insert(reply.sequence, answer);
        assert!(
            earlier.is_none(),
            "sequence {} answered twice",
            reply.sequence
        );
    }
    assert_eq!(by_sequence.len(), sent, "one reply per item");
    by_sequence
}

/// The refusal of an item, asserted to be one.
fn refusal(reply: &Reply) -> &pb::ItemError {
    match reply {
        Reply::Error(error) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The position an item reached, asserted to be a success.
fn position(reply: &Reply) -> i64 {
    match reply {
        Reply::PlaceHold(placed) => placed.position,
        Reply::SettleHold(done) | Reply::VoidHold(done) | Reply::RecordUsage(done) => done.position,
        Reply::AuthorizeAndHold(held) => held.position,
        other => panic!("expected a command's success, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_and_hold_holds_on_the_key_account_and_answers_what_the_gateway_routes_by() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    dashboard
        .change_key_limit(&key, "50", pb::LimitPeriod::Monthly)
        .await;
    dashboard.set_privacy(&acme, 30, true).await;
    let gateway = world.gateway();

    let request = authorize_and_hold_request(&key.secret, "30");
    let held = gateway.rpc().authorize_and_hold(request.clone()).await;
    assert_eq!(held.account_id, key.account.to_string());
    assert_eq!(held.key_id, key.id.to_string());
    assert_eq!(held.created_by, admin.id.to_string());
    assert_eq!(held.remaining_limit.as_deref(), Some("20"));
    assert_eq!(held.available_balance, "70");
    assert!(held.prompt_logging);

    // A retry is answered from the first outcome, even after the flag changed.
    dashboard.set_privacy(&acme, 30, false).await;
    let again = gateway.rpc().authorize_and_hold(request.clone()).await;
    assert_eq!(again, held);
    let other = pb::AuthorizeAndHoldRequest {
        estimate: "31".into(),
        ..request.clone()
    };
    gateway
        .rpc()
        .authorize_and_hold(other)
        .refused_because("COMMAND_ID_REUSED")
        .await;
    let balance = dashboard.balance(&acme.account).await;
    assert_eq!((balance.available.as_str(), balance.open_holds), ("70", 1));

    // The hold is the gateway's to settle like any other.
    let settled = gateway
        .rpc()
        .settle_hold(pb::SettleHoldRequest {
            command_id: id(),
            account_id: held.account_id.clone(),
            hold_id: request.hold_id.clone(),
            usage: Some(usage(&id(), "12")),
        })
        .await;
    assert!(settled.position > held.position);
    let next = gateway.authorize_and_hold(&key, "1").await;
    assert!(!next.prompt_logging);
    assert_eq!(next.remaining_limit.as_deref(), Some("37"));
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_and_hold_refuses_as_authenticate_key_and_place_hold_refuse() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let unknown = authorize_and_hold_request(&format!("ark_{}", "N".repeat(43)), "1");
    gateway
        .rpc()
        .authorize_and_hold(unknown)
        .refused_with(Code::NotFound, "UNKNOWN_KEY")
        .await;
    gateway
        .authorize_and_hold(&key, "100.01")
        .refused_because("INSUFFICIENT_CREDITS")
        .await;
    gateway
        .authorize_and_hold(&key, "-1")
        .refused_field("estimate")
        .await;
    let no_hold_id = pb::AuthorizeAndHoldRequest {
        hold_id: String::new(),
        ..authorize_and_hold_request(&key.secret, "1")
    };
    gateway
        .rpc()
        .authorize_and_hold(no_hold_id)
        .refused_field("hold_id")
        .await;
    let before = world.head().await;
    world.dashboard(&admin).disable_key(&key).await;
    gateway
        .authorize_and_hold(&key, "1")
        .refused_because("KEY_DISABLED")
        .await;
    assert_eq!(world.head().await, before + 1, "only the disable appended");
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!(balance.open_holds, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_and_void_batches_answer_each_item_and_a_resent_batch_gets_its_first_outcomes() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let holds: Vec<HoldId> = (0..4).map(|_| HoldId::fresh()).collect();
    let mut items: Vec<_> = holds.iter().map(|hold| place(&key, hold, "20")).collect();
    items.push(place(&key, &HoldId::fresh(), "500"));
    let batch = pb::PlaceHoldBatchRequest {
        items: items.clone(),
    };
    let placed = gateway.rpc().place_hold_batch(batch.clone()).await;
    assert_eq!(placed.results.len(), 5);
    assert!(
        placed.results[..4].iter().all(|r| r.code == 0),
        "{placed:?}"
    );
    assert_eq!(placed.results[4].reason, "INSUFFICIENT_CREDITS");
    // A refusal records nothing, so only the holds placed are answered from the first outcome.
    let resent = gateway.rpc().place_hold_batch(batch).await;
    assert_eq!(resent.results[..4], placed.results[..4]);
    assert_eq!(resent.results[4].reason, "INSUFFICIENT_CREDITS");
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!((balance.available.as_str(), balance.open_holds), ("20", 4));

    let mut voids: Vec<_> = holds.iter().map(|hold| void(&key, hold)).collect();
    voids.push(void(&key, &HoldId::fresh()));
    let voided = gateway
        .rpc()
        .void_hold_batch(pb::VoidHoldBatchRequest { items: voids })
        .await;
    assert!(
        voided.results[..4].iter().all(|r| r.code == 0),
        "{voided:?}"
    );
    assert_eq!(voided.results[4].reason, "HOLD_NOT_OPEN");
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!((balance.available.as_str(), balance.open_holds), ("100", 0));

    let too_many = (0..101).map(|_| void(&key, &HoldId::fresh())).collect();
    gateway
        .rpc()
        .void_hold_batch(pb::VoidHoldBatchRequest { items: too_many })
        .refused_field("items")
        .await;
    gateway
        .rpc()
        .place_hold_batch(pb::PlaceHoldBatchRequest { items: Vec::new() })
        .refused_field("items")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bill_stream_answers_each_item_under_its_sequence_number_as_its_unary_call_would() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let (settled, voided) = (HoldId::fresh(), HoldId::fresh());
    let first_hold = place(&key, &settled, "30");
    let held = authorize_and_hold_request(&key.secret, "10");
    let items = vec![
        item(10, authenticate(&key.secret)),
        item(11, Call::PlaceHold(first_hold.clone())),
        item(12, Call::PlaceHold(place(&key, &voided, "20"))),
        item(13, Call::RecordUsage(record(&key, "5"))),
        item(14, Call::AuthorizeAndHold(held.clone())),
        item(15, authenticate(&format!("ark_{}", "N".repeat(43)))),
        item(16, Call::PlaceHold(place(&key, &HoldId::fresh(), "1000"))),
        item(17, Call::PlaceHold(place(&key, &HoldId::fresh(), "-1"))),
        pb::BillRequest {
            sequence: 18,
            call: None,
        },
        item(19, Call::SettleHold(settle(&key, &HoldId::fresh(), "1"))),
    ];
    let replies = bill_all(&gateway, items).await;
    match &replies[&10] {
        Reply::AuthenticateKey(found) => assert_eq!(found.key_id, key.id.to_string()),
        other => panic!("{other:?}"),
    }
    for sequence in 11..=14 {
        assert!(position(&replies[&sequence]) > 0);
    }
    let expected = [
        (15, Code::NotFound, "UNKNOWN_KEY", ""),
        (16, Code::FailedPrecondition, "INSUFFICIENT_CREDITS", ""),
        (17, Code::InvalidArgument, "INVALID_INPUT", "estimate"),
        (18, Code::InvalidArgument, "INVALID_INPUT", "call"),
        (19, Code::FailedPrecondition, "HOLD_NOT_OPEN", ""),
    ];
    for (sequence, code, reason, field) in expected {
        let error = refusal(&replies[&sequence]);
        assert_eq!(
            (
                Code::from(error.code),
                error.reason.as_str(),
                error.field.as_str()
            ),
            (code, reason, field),
            "item {sequence}: {error:?}"
        );
    }

    // An item is the unary call: the same command id sent alone gets the stream's outcome.
    let alone = gateway.rpc().place_hold(first_hold).await;
    assert_eq!(alone.position, position(&replies[&11]));

    let held_id = HoldId::from(held.hold_id.clone());
    let closing = vec![
        item(1, Call::SettleHold(settle(&key, &settled, "25"))),
        item(2, Call::VoidHold(void(&key, &voided))),
        item(3, Call::VoidHold(void(&key, &held_id))),
    ];
    for reply in bill_all(&gateway, closing).await.values() {
        position(reply);
    }
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!(
        (balance.balance.as_str(), balance.available.as_str()),
        ("70", "70"),
        "30 billed: the settlement at 25 and the usage at 5"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_bill_stream_loses_nothing_acknowledged_and_resent_items_get_their_first_outcomes()
{
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let items: Vec<_> = (0..40)
        .map(|n| item(n, Call::RecordUsage(record(&key, "1"))))
        .collect();

    let (sender, outbox) = mpsc::channel(64);
    for request in &items {
        sender.send(request.clone()).await.unwrap();
    }
    let mut replies = gateway.rpc().bill(ReceiverStream::new(outbox)).await;
    let mut acknowledged = BTreeMap::new();
    while acknowledged.len() < 10 {
        let reply = replies.message().await.unwrap().expect("a reply");
        acknowledged.insert(reply.sequence, position(&reply.reply.unwrap()));
    }
    // The client goes away mid-flight, its stream still open and 30 items unanswered.
    drop((replies, sender));

    let again = bill_all(&gateway, items).await;
    for (sequence, first) in &acknowledged {
        assert_eq!(position(&again[sequence]), *first, "item {sequence}");
    }
    assert!(again.values().all(|reply| position(reply) > 0));
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!(
        (balance.balance.as_str(), balance.total_used.as_str()),
        ("60", "40"),
        "each of the 40 usages billed once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bill_stream_takes_no_more_items_than_its_in_flight_bound() {
    let world = World::start_with(|options| {
        options
            .serve_args
            .extend(["--bill-in-flight".into(), "4".into()]);
    })
    .await;
    let (_, _, key) = world.funded_key().await;
    let gateway = world.gateway();
    // Every append waits behind this transaction's lock of the log's head.
    let mut lock = world.pool.begin().await.unwrap();
    sqlx::query("SELECT position FROM log_head FOR UPDATE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let (sender, outbox) = mpsc::channel(64);
    let mut replies = gateway.rpc().bill(ReceiverStream::new(outbox)).await;
    let send = |request| {
        let sender = sender.clone();
        async move { sender.send(request).await.unwrap() }
    };
    for n in 0..3 {
        send(item(n, Call::RecordUsage(record(&key, "1")))).await;
    }
    // Three writes wait; a fourth item is still taken and answered.
    send(item(100, authenticate(&key.secret))).await;
    let reply = tokio::time::timeout(Duration::from_secs(20), replies.message())
        .await
        .expect("the fourth item is answered while three wait")
        .unwrap()
        .unwrap();
    assert_eq!(reply.sequence, 100);

    // Four writes wait: the fifth item is not taken, however long the client waits.
    send(item(3, Call::RecordUsage(record(&key, "1")))).await;
    send(item(101, authenticate(&key.secret))).await;
    let waited = tokio::time::timeout(Duration::from_secs(3), replies.message()).await;
    assert!(
        waited.is_err(),
        "an item past the bound was answered: {waited:?}"
    );

    lock.rollback().await.unwrap();
    drop(sender);
    let mut rest = Vec::new();
    while let Some(reply) = replies.message().await.unwrap() {
        rest.push(reply.sequence);
    }
    rest.sort_unstable();
    assert_eq!(rest, [0, 1, 2, 3, 101]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_its_replies_is_stopped_and_resumes_when_it_reads() {
    let world = World::start().await;
    let (_, _, key) = world.funded_key().await;
    let gateway = world.gateway();
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&pulled);
    let items = tokio_stream::iter(0..).map(move |n| {
        counter.fetch_add(1, Ordering::Relaxed);
        item(n, authenticate(&key.secret))
    });
    let mut replies = gateway.rpc().bill(items).await;

    // The client offers an endless stream and reads nothing: what it manages to send levels off
    // (the in-flight bound, then HTTP/2 flow control), far below what it offers.
    let stalled = level_off(&pulled).await;
    assert!(
        stalled < 100_000,
        "{stalled} items taken from a client that reads nothing"
    );

    // Reading replies lets it send again.
    for _ in 0..5_000 {
        replies.message().await.unwrap().expect("a reply");
    }
    let resumed = level_off(&pulled).await;
    assert!(
        resumed > stalled,
        "reading replies did not let the client send more"
    );
}

/// The value of `count` once it has not moved for two seconds (at most a minute).
async fn level_off(count: &AtomicU64) -> u64 {
    let started = Instant::now();
    let mut last = count.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = count.load(Ordering::Relaxed);
        if now == last {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still taking items after a minute: {now}"
        );
        last = now;
    }
}
