//! Hold expiry from durable state: holds placed before `ledgerd` stops (SIGTERM or SIGKILL)
//! expire after it starts again, with nothing touching their account; and a second instance
//! expires them when the first is gone.

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::client::{AccountId, Api, Gateway, HoldId, Key, User, World, id};
use ledger_tests::ledgerd::Ledgerd;

/// Long enough that the holds are still open when the first process stops, short enough for a
/// test: the expiry task runs every second.
const TTL_S: u32 = 5;

/// Places `count` holds of 10 credits with `key`.
async fn place_holds(gateway: &Gateway, key: &Key, count: usize) {
    for _ in 0..count {
        gateway.place_hold_for(key, "10", TTL_S).await;
    }
}

/// Expiry events in the log and their callers, read from the database, not through `ledgerd`,
/// so that watching does not load the account into the server's memory.
async fn expiries(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT metadata FROM events WHERE event_type = 'account.hold_expired'")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Waits until `count` holds have expired, and checks the expiries were the system's and that
/// the account's credits are all available again.
async fn assert_holds_expire(
    world: &World,
    ledgerd: &Ledgerd,
    user: &User,
    account: &AccountId,
    count: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let expired = loop {
        let expired = expiries(&world.pool).await;
        if expired.len() >= count {
            break expired;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} holds expired in time",
            expired.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(expired.len(), count, "each hold expired once");
    for metadata in &expired {
        assert!(
            metadata.contains("\"caller_kind\":\"system\""),
            "{metadata}"
        );
    }
    let head = world.head().await;
    let balance = ledgerd.dashboard(user).after(head).balance(account).await;
    assert_eq!(balance.open_holds, 0);
    assert_eq!(balance.held, "0");
    assert_eq!(balance.available, "100");
}

async fn holds_expire_after(stop: impl FnOnce(&mut Ledgerd)) {
    let mut world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    place_holds(&world.gateway(), &key, 3).await;
    stop(&mut world.ledgerd);
    assert!(
        expiries(&world.pool).await.is_empty(),
        "the holds expired before the process stopped: the test proves nothing"
    );
    world.ledgerd.restart().await;
    assert_holds_expire(&world, &world.ledgerd, &admin, &acme.account, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn holds_placed_before_a_sigterm_expire_after_the_restart_untouched() {
    holds_expire_after(|ledgerd| {
        assert!(ledgerd.stop().success());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn holds_placed_before_a_sigkill_expire_after_the_restart_untouched() {
    holds_expire_after(|ledgerd| {
        ledgerd.kill();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ledgerd_expires_the_holds_of_one_that_died() {
    let mut world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let standby = world.ledgerd.start_beside().await;
    place_holds(&world.gateway(), &key, 3).await;
    world.ledgerd.kill();
    assert_holds_expire(&world, &standby, &admin, &acme.account, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_hold_id_on_two_accounts_is_projected_and_expired_apart() {
    let world = World::start().await;
    let (first_admin, first, first_key) = world.funded_key().await;
    let (second_admin, second, second_key) = world.funded_key().await;
    let gateway = world.gateway();
    // A hold id is unique only within its account: the gateway may reuse one elsewhere.
    let hold_id = HoldId::fresh();
    for key in [&first_key, &second_key] {
        gateway
            .rpc()
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: key.account.to_string(),
                key_id: key.id.to_string(),
                hold_id: hold_id.to_string(),
                estimate: "10".into(),
                ttl_s: 2,
            })
            .await;
    }
    // Both expire, each once, and the read model keeps up with both accounts.
    assert_holds_expire(&world, &world.ledgerd, &first_admin, &first.account, 2).await;
    let head = world.head().await;
    let second_balance = world
        .ledgerd
        .dashboard(&second_admin)
        .after(head)
        .balance(&second.account)
        .await;
    assert_eq!(second_balance.open_holds, 0);
    assert_eq!(second_balance.available, "100");
    let report = world.auditor().consistency_check().await;
    assert!(report.ok, "{report:?}");
}
