//! What must hold after every fault: each acknowledged command is in the log exactly once with
//! the position its reply named, the hash chain verifies, every read model equals a fresh fold
//! of the log, and the balance is exactly the sum of the acknowledged commands.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledger_tests::client::Api;
use ledger_tests::ledgerd::Ledgerd;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::load::{Effect, FUNDED_CENTS, Tally, Target, units};

/// How long the projections may take to catch up once the faults are over.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(30);

/// Runs every check against `ledgerd` and the log in `pool`.
pub async fn assert_nothing_lost(ledgerd: &Ledgerd, pool: &PgPool, target: &Target, tally: &Tally) {
    assert_each_command_once(pool, tally).await;
    assert_chain_verifies(ledgerd).await;
    wait_until_projections_caught_up(ledgerd).await;
    assert_read_models_match_the_log(ledgerd).await;
    assert_balance_is_the_sum(ledgerd, target, tally).await;
    assert_keys_authenticate(ledgerd, tally).await;
}

/// Every event belongs to a recorded command and every command's events are exactly those it
/// recorded (none twice); every acknowledged command is recorded with the position its reply
/// named.
pub async fn assert_each_command_once(pool: &PgPool, tally: &Tally) {
    let mut events: HashMap<Uuid, (i64, i64, i64)> = HashMap::new();
    let rows = sqlx::query(
        "SELECT (metadata::jsonb->>'command_id')::uuid AS command_id, count(*) AS events, \
         min(position) AS first, max(position) AS last FROM events GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for row in rows {
        events.insert(
            row.get("command_id"),
            (row.get("events"), row.get("first"), row.get("last")),
        );
    }
    let rows = sqlx::query("SELECT command_id, result FROM commands")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut commands: HashMap<Uuid, (i64, i64, i64)> = HashMap::new();
    for row in rows {
        let result: serde_json::Value = row.get("result");
        let field = |name: &str| result[name].as_i64().unwrap();
        commands.insert(
            row.get("command_id"),
            (
                field("event_count"),
                field("first_position"),
                field("last_position"),
            ),
        );
    }
    for (command_id, found) in &events {
        assert_eq!(
            commands.get(command_id),
            Some(found),
            "command {command_id}: events (count, first, last) in the log differ from its record"
        );
    }
    for acked in &tally.acked {
        let recorded = commands.get(&acked.command_id).unwrap_or_else(|| {
            panic!(
                "acknowledged command {} is not in the log",
                acked.command_id
            )
        });
        assert!(
            recorded.0 >= 1,
            "command {} appended nothing",
            acked.command_id
        );
        assert_eq!(
            recorded.2, acked.position,
            "command {} was acknowledged with another position than recorded",
            acked.command_id
        );
    }
}

/// The auditor's VerifyChain walks the whole chain without a break.
pub async fn assert_chain_verifies(ledgerd: &Ledgerd) {
    let auditor = ledgerd.auditor();
    let head = auditor.head().await.position;
    let verified = auditor.verify_chain().await;
    assert!(verified.ok, "the chain breaks: {verified:?}");
    assert!(
        verified.verified_through >= head,
        "{verified:?} (head {head})"
    );
}

/// Waits until every projection has applied the whole log.
pub async fn wait_until_projections_caught_up(ledgerd: &Ledgerd) {
    let auditor = ledgerd.auditor();
    let deadline = Instant::now() + CATCH_UP_WITHIN;
    loop {
        let status = auditor.projection_status().await;
        if status.projections.iter().all(|p| p.lag_events == 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the projections did not catch up: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// AuditService.ConsistencyCheck: every read model equals a fresh fold of the log.
pub async fn assert_read_models_match_the_log(ledgerd: &Ledgerd) {
    let check = ledgerd.auditor().consistency_check().await;
    assert!(
        check.ok,
        "read models differ from the log: {:?}",
        check.differences
    );
}

/// The balance is the funding plus every acknowledged purchase, minus every acknowledged
/// settled cost, with no hold left open.
async fn assert_balance_is_the_sum(ledgerd: &Ledgerd, target: &Target, tally: &Tally) {
    let balance = ledgerd
        .dashboard(&target.admin)
        .balance(&target.account)
        .await;
    assert_eq!(
        units(&balance.total_purchased, 2),
        FUNDED_CENTS + tally.purchased_cents(),
        "{balance:?}"
    );
    assert_eq!(
        units(&balance.total_used, 6),
        tally.used_micros(),
        "{balance:?}"
    );
    assert_eq!(
        units(&balance.balance, 6),
        (FUNDED_CENTS + tally.purchased_cents()) * 10_000 - tally.used_micros(),
        "{balance:?}"
    );
    assert_eq!(
        (balance.open_holds, units(&balance.held, 6)),
        (0, 0),
        "{balance:?}"
    );
}

/// The secret each acknowledged key creation returned (maybe from a retry, maybe from another
/// process) authenticates as that key.
async fn assert_keys_authenticate(ledgerd: &Ledgerd, tally: &Tally) {
    let gateway = ledgerd.gateway();
    for acked in &tally.acked {
        if let Effect::Key { key_id, secret } = &acked.effect {
            let found = gateway.authenticate(secret).await;
            assert_eq!(&found.key_id, key_id);
        }
    }
}
