//! Hold expiry from durable state: holds placed before `ledgerd` stops (SIGTERM or SIGKILL)
//! expire after it starts again, with nothing touching their account; and a second instance
//! expires them when the first is gone.

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::ledgerd::Ledgerd;
use uuid::Uuid;

use crate::common::{Env, balance, id};
use crate::gateway::funded_key;

/// Long enough that the holds are still open when the first process stops, short enough for a
/// test: the expiry task runs every second.
const TTL_S: u32 = 5;

/// Places `count` holds of 10 credits on the funded key's account.
async fn place_holds(ledgerd: &Ledgerd, account: &str, key: &str, count: usize) {
    let gateway = ledgerd.clients("gateway", None).await.gateway;
    for _ in 0..count {
        gateway
            .clone()
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: account.to_owned(),
                key_id: key.to_owned(),
                hold_id: id(),
                estimate: "10".into(),
                ttl_s: TTL_S,
            })
            .await
            .unwrap();
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
    env: &Env,
    ledgerd: &Ledgerd,
    user: Uuid,
    account: &str,
    count: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let expired = loop {
        let expired = expiries(&env.pool).await;
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
    let balance = balance(ledgerd, user, account, env.head().await).await;
    assert_eq!(balance.open_holds, 0);
    assert_eq!(balance.held, "0");
    assert_eq!(balance.available, "100");
}

async fn holds_expire_after(stop: impl FnOnce(&mut Ledgerd)) {
    let mut env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    place_holds(&env.ledgerd, &account, &key, 3).await;
    stop(&mut env.ledgerd);
    assert!(
        expiries(&env.pool).await.is_empty(),
        "the holds expired before the process stopped: the test proves nothing"
    );
    env.ledgerd.restart().await;
    let ledgerd = &env.ledgerd;
    assert_holds_expire(&env, ledgerd, user, &account, 3).await;
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
    let mut env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    let standby = env.ledgerd.start_beside().await;
    place_holds(&env.ledgerd, &account, &key, 3).await;
    env.ledgerd.kill();
    assert_holds_expire(&env, &standby, user, &account, 3).await;
}
