//! Settings with personal data outside the log, racing retries, and a broken database.

use ledger_api::pb;
use ledger_tests::client::{Api, Dashboard, World, id};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn billing_contacts_live_outside_the_log_and_members_cannot_read_billing() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let billing = pb::BillingSettings {
        contacts: vec!["billing@acme.test".into()],
        company_name: Some("Acme Ltd".into()),
        tax_id: Some("GB123".into()),
        postal_address: Some("1 Road\nTown".into()),
        payment_method_reference: Some("pm_123".into()),
    };
    dashboard.set_billing(&acme, billing).await;
    let read = dashboard.billing(&acme).await;
    assert_eq!(read.contacts, ["billing@acme.test"]);
    assert_eq!(read.company_name.as_deref(), Some("Acme Ltd"));
    assert_eq!(read.payment_method_reference.as_deref(), Some("pm_123"));
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload LIKE '%acme.test%' OR payload LIKE '%Acme Ltd%'",
    )
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);

    dashboard.set_privacy(&acme, 90, true).await;
    let privacy = world.gateway().privacy(&acme).await;
    assert!(privacy.prompt_logging);

    let stranger = Dashboard::from(world.caller("dashboard", Some(Uuid::new_v4())));
    stranger
        .billing(&acme)
        .refused(Code::PermissionDenied)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_identical_retries_all_get_the_first_reply() {
    let world = World::start().await;
    let (_admin, _acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let request = pb::PlaceHoldRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        hold_id: id(),
        estimate: "1".into(),
        ttl_s: 600,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        tasks.spawn(gateway.rpc().place_hold(request.clone()).outcome());
    }
    let mut positions = Vec::new();
    while let Some(result) = tasks.join_next().await {
        positions.push(result.unwrap().unwrap().position);
    }
    positions.dedup();
    assert_eq!(positions.len(), 1, "{positions:?}");
    let placed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'account.hold_placed'")
            .fetch_one(&world.pool)
            .await
            .unwrap();
    assert_eq!(placed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_database_answers_unavailable_without_details() {
    let world = World::start().await;
    let (user, acme) = world.organization().await;
    sqlx::query("ALTER TABLE streams RENAME TO streams_sabotaged")
        .execute(&world.pool)
        .await
        .unwrap();
    let status = world
        .dashboard(&user)
        .buy(&acme.account, "1")
        .refused(Code::Unavailable)
        .await;
    assert!(!status.message().contains("streams"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_identical_purchases_are_billed_once_and_the_account_stays_usable() {
    let world = World::start().await;
    let (user, acme) = world.organization().await;
    let dashboard = world.dashboard(&user);
    let request = pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: acme.account.to_string(),
        amount: "10".into(),
        payment_reference: "pay".into(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        tasks.spawn(dashboard.rpc().purchase_credits(request.clone()).outcome());
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    // The next purchase decides on the cached state: it must not carry phantom events.
    dashboard
        .buy_with_reference(&acme.account, "10", "pay-2")
        .await;
    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(balance.balance, "20");
}
