//! Unique claims: a value claimed once across all history.

use ledger_eventstore::{ExpectedVersion, StoreError, UniqueClaim, head};

use crate::support::{appender, one_stream, store};

#[tokio::test]
async fn a_unique_claim_can_be_made_once() {
    let store = store().await;
    let appender = appender(&store.pool);
    let claimed = || {
        let mut command = one_stream("account-a", ExpectedVersion::Any, 1);
        command.claims = vec![UniqueClaim {
            scope: "generation".into(),
            value: "account-a/gen-1".into(),
        }];
        command
    };
    appender.append(claimed()).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let appender = appender.clone();
            let command = claimed();
            tokio::spawn(async move { appender.append(command).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(StoreError::ClaimTaken(ref claim)) if claim.scope == "generation"
        ));
    }
    assert_eq!(head(&store.pool).await.unwrap().position, 1);
}
