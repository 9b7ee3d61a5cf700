//! The hash chain: verification names the first altered or missing position, and a
//! checkpoint is extended or refuted.

use ledger_eventstore::{
    BreakReason, CheckpointStatus, ExpectedVersion, Verification, head, verify_checkpoint,
    verify_range,
};
use ledger_pgembed::testing::MigratedPool;
use sqlx::PgPool;

use crate::support::{appender, one_stream, store};

async fn tamper(pool: &PgPool, statement: &'static str) {
    // Only a superuser can switch triggers off for its session: the attack the chain catches.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(statement).execute(&mut *conn).await.unwrap();
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn log_of_ten(store: &MigratedPool) {
    let appender = appender(&store.pool);
    for n in 0..10 {
        appender
            .append(one_stream(
                &format!("account-{}", n % 3),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .unwrap();
    }
}

/// Verifies the whole of a log of ten events after `statement` tampered with it.
async fn verify_ten_tampered_by(statement: &'static str) -> Verification {
    let store = store().await;
    log_of_ten(&store).await;
    tamper(&store.pool, statement).await;
    verify_range(&store.pool, 1, None, |_| {}).await.unwrap()
}

#[tokio::test]
async fn verification_names_the_position_whose_payload_was_altered() {
    let verification = verify_ten_tampered_by(
        "UPDATE events SET payload = replace(payload, '12.50', '92.50') WHERE position = 7",
    )
    .await;
    let at = verification.first_break.expect("the alteration is found");
    assert_eq!((at.position, at.reason), (7, BreakReason::HashMismatch));
    assert_eq!(verification.checked, 6);
}

#[tokio::test]
async fn verification_names_the_position_whose_hash_was_altered() {
    let verification =
        verify_ten_tampered_by("UPDATE events SET hash = sha256(hash) WHERE position = 4").await;
    let at = verification.first_break.expect("the alteration is found");
    assert_eq!((at.position, at.reason), (4, BreakReason::HashMismatch));
}

#[tokio::test]
async fn verification_names_a_deleted_position() {
    let verification = verify_ten_tampered_by("DELETE FROM events WHERE position = 5").await;
    let at = verification.first_break.expect("the deletion is found");
    assert_eq!((at.position, at.reason), (5, BreakReason::Missing));
}

#[tokio::test]
async fn a_checkpoint_is_extended_by_an_intact_log_and_refuted_by_a_rewritten_one() {
    let store = store().await;
    log_of_ten(&store).await;
    let checkpoint = head(&store.pool).await.unwrap();
    log_of_ten(&store).await;
    assert_eq!(
        verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::Extends { head: 20 }
    );
    assert_eq!(
        verify_checkpoint(&store.pool, 99, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::Missing
    );
    tamper(
        &store.pool,
        "UPDATE events SET payload = replace(payload, '12.50', '0.50') WHERE position = 3",
    )
    .await;
    // Rewriting history before the checkpoint without recomputing hashes leaves the
    // checkpoint's own stored hash intact; the checkpoint check re-hashes and names it.
    let status = verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
        .await
        .unwrap();
    assert!(
        matches!(status, CheckpointStatus::ChainBroken(at) if at.position == 3),
        "{status:?}"
    );
    tamper(
        &store.pool,
        "UPDATE events SET hash = sha256(hash) WHERE position = 10",
    )
    .await;
    assert!(matches!(
        verify_checkpoint(&store.pool, checkpoint.position, checkpoint.hash, |_| {})
            .await
            .unwrap(),
        CheckpointStatus::HashDiffers { .. }
    ));
}
