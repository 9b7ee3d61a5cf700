//! Settings with personal data outside the log, racing retries, and a broken database.

use ledger_api::pb;
use tonic::Code;
use uuid::Uuid;

use crate::api_rules::user_with_organization;
use crate::common::{Env, id};
use crate::gateway::funded_key;

#[tokio::test(flavor = "multi_thread")]
async fn billing_contacts_live_outside_the_log_and_members_cannot_read_billing() {
    let env = Env::start().await;
    let (admin, org, _account) = user_with_organization(&env.ledgerd).await;
    let mut settings = env.ledgerd.clients("dashboard", Some(admin)).await.settings;
    settings
        .set_billing_settings(pb::SetBillingSettingsRequest {
            command_id: id(),
            organization_id: org.clone(),
            settings: Some(pb::BillingSettings {
                contacts: vec!["billing@acme.test".into()],
                company_name: Some("Acme Ltd".into()),
                tax_id: Some("GB123".into()),
                postal_address: Some("1 Road\nTown".into()),
                payment_method_reference: Some("pm_123".into()),
            }),
        })
        .await
        .unwrap();
    let read = settings
        .get_billing_settings(pb::GetBillingSettingsRequest {
            organization_id: org.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.contacts, ["billing@acme.test"]);
    assert_eq!(read.company_name.as_deref(), Some("Acme Ltd"));
    assert_eq!(read.payment_method_reference.as_deref(), Some("pm_123"));
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload LIKE '%acme.test%' OR payload LIKE '%Acme Ltd%'",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);

    settings
        .set_privacy_settings(pb::SetPrivacySettingsRequest {
            command_id: id(),
            organization_id: org.clone(),
            retention_days: 90,
            prompt_logging: true,
        })
        .await
        .unwrap();
    let privacy = env
        .ledgerd
        .clients("gateway", None)
        .await
        .settings
        .get_privacy_settings(pb::GetPrivacySettingsRequest {
            organization_id: org.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(privacy.prompt_logging);

    let stranger = env.ledgerd.clients("dashboard", Some(Uuid::new_v4())).await;
    let denied = stranger
        .settings
        .clone()
        .get_billing_settings(pb::GetBillingSettingsRequest {
            organization_id: org,
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_identical_retries_all_get_the_first_reply() {
    let env = Env::start().await;
    let (_user, _org, account, key) = funded_key(&env.ledgerd).await;
    let gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let request = pb::PlaceHoldRequest {
        command_id: id(),
        account_id: account,
        key_id: key,
        hold_id: id(),
        estimate: "1".into(),
        ttl_s: 600,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut gateway, request) = (gateway.clone(), request.clone());
        tasks.spawn(async move { gateway.place_hold(request).await.map(|r| r.into_inner()) });
    }
    let mut positions = Vec::new();
    while let Some(result) = tasks.join_next().await {
        positions.push(result.unwrap().unwrap().position);
    }
    positions.dedup();
    assert_eq!(positions.len(), 1, "{positions:?}");
    let placed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'account.hold_placed'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(placed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_database_answers_unavailable_without_details() {
    let env = Env::start().await;
    let (user, _org, account) = user_with_organization(&env.ledgerd).await;
    sqlx::query("ALTER TABLE streams RENAME TO streams_sabotaged")
        .execute(&env.pool)
        .await
        .unwrap();
    let status = env
        .ledgerd
        .clients("dashboard", Some(user))
        .await
        .credits
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: account,
            amount: "1".into(),
            payment_reference: "pay".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(!status.message().contains("streams"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_identical_purchases_are_billed_once_and_the_account_stays_usable() {
    let env = Env::start().await;
    let (user, _org, account) = user_with_organization(&env.ledgerd).await;
    let credits = env.ledgerd.clients("dashboard", Some(user)).await.credits;
    let request = pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.clone(),
        amount: "10".into(),
        payment_reference: "pay".into(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (mut credits, request) = (credits.clone(), request.clone());
        tasks.spawn(async move {
            credits
                .purchase_credits(request)
                .await
                .map(|r| r.into_inner())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    // The next purchase decides on the cached state: it must not carry phantom events.
    let mut credits = credits;
    credits
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            payment_reference: "pay-2".into(),
            ..request
        })
        .await
        .unwrap();
    let balance = credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account,
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balance.balance, "20");
}
