//! Spending controls through gRPC: the organization budget, members' spend caps and the
//! default key limit, each refusal with its own reason, their read, and the budget's 80 % and
//! 100 % notices in the log.

use ledger_api::pb;
use ledger_tests::client::{AccountId, Api, World, id};
use tonic::Code;

const MONTHLY: pb::LimitPeriod = pb::LimitPeriod::Monthly;
const DAILY: pb::LimitPeriod = pb::LimitPeriod::Daily;

/// The types and payloads of `account`'s budget notices, in log order.
async fn notices(world: &World, account: &AccountId) -> Vec<serde_json::Value> {
    world
        .auditor()
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            stream_id: Some(format!("account-{account}")),
            event_types: vec!["account.budget_threshold_reached".into()],
            ..Default::default()
        })
        .all()
        .await
        .into_iter()
        .map(|event| serde_json::from_str(&event.payload).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_beyond_the_organization_budget_is_refused_with_its_own_reason() {
    let world = World::start().await;
    let (admin, org, key) = world.funded_key().await;
    let (dashboard, gateway) = (world.dashboard(&admin), world.gateway());
    dashboard.set_budget(&org.account, "10", MONTHLY).await;

    let first = gateway.place_hold(&key, "6").await;
    let refused = gateway
        .place_hold(&key, "5")
        .refused_with(Code::FailedPrecondition, "ORG_BUDGET_REACHED")
        .await;
    assert!(refused.message().contains("budget"), "{refused:?}");
    // The gateway's one-call path refuses it the same way.
    gateway
        .authorize_and_hold(&key, "5")
        .refused_with(Code::FailedPrecondition, "ORG_BUDGET_REACHED")
        .await;

    gateway.settle(&first, &id(), "6").await;
    let second = gateway.place_hold(&key, "4").await;
    gateway
        .place_hold(&key, "0.01")
        .refused_because("ORG_BUDGET_REACHED")
        .await;
    let controls = dashboard.spending_controls(&org.account).await;
    let budget = controls.budget.expect("a budget");
    assert_eq!(
        (
            budget.spent.as_str(),
            budget.held.as_str(),
            budget.remaining.as_str()
        ),
        ("6", "4", "0")
    );
    assert_eq!(
        budget.budget.map(|b| (b.amount, b.reset)),
        Some(("10".into(), MONTHLY.into()))
    );
    assert!(budget.period_start.is_some());

    // The credits cover more: clearing the budget lets the hold through.
    gateway.void(&second).await;
    dashboard.clear_budget(&org.account).await;
    assert!(
        dashboard
            .spending_controls(&org.account)
            .await
            .budget
            .is_none()
    );
    gateway.place_hold(&key, "50").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_members_spend_cap_covers_every_key_they_created_and_no_one_elses() {
    let world = World::start().await;
    let (admin, org, admins_key) = world.funded_key().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let (dashboard, gateway) = (world.dashboard(&admin), world.gateway());
    let first = world
        .dashboard(&member)
        .create_key(&org.account, "one")
        .await;
    let second = world
        .dashboard(&member)
        .create_key(&org.account, "two")
        .await;
    dashboard
        .cap_member(&org.account, &member, "5", DAILY)
        .await;

    let held = gateway.place_hold(&first, "3").await;
    gateway
        .place_hold(&second, "3")
        .refused_with(Code::FailedPrecondition, "MEMBER_SPEND_CAP_REACHED")
        .await;
    gateway.place_hold(&admins_key, "30").await;
    gateway.settle(&held, &id(), "2").await;
    gateway.place_hold(&second, "3").await;

    let controls = dashboard.spending_controls(&org.account).await;
    let [cap] = controls.member_caps.as_slice() else {
        panic!("one cap: {controls:?}");
    };
    assert_eq!(cap.user_id, member.id.to_string());
    assert_eq!(
        (
            cap.spent.as_str(),
            cap.held.as_str(),
            cap.remaining.as_str()
        ),
        ("2", "3", "0")
    );

    dashboard.uncap_member(&org.account, &member).await;
    gateway.place_hold(&first, "10").await;
    // Only members can be capped.
    let outsider = world.some_user().await;
    dashboard
        .cap_member(&org.account, &outsider, "5", DAILY)
        .refused_with(Code::NotFound, "MEMBER_NOT_FOUND")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_key_limit_binds_members_new_keys_and_not_admins() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let (dashboard, members) = (world.dashboard(&admin), world.dashboard(&member));
    dashboard
        .set_default_key_limit(&org.account, "20", MONTHLY)
        .await;

    let key = members.create_key(&org.account, "defaulted").await;
    let limit = members.get_key(&key).await.limit.expect("the default");
    assert_eq!((limit.amount.as_str(), limit.reset), ("20", MONTHLY.into()));
    members
        .create_key_with_limit(&org.account, "greedy", "21", MONTHLY)
        .refused_with(Code::FailedPrecondition, "KEY_LIMIT_ABOVE_DEFAULT")
        .await;
    members
        .change_key_limit(&key, "20", DAILY)
        .refused_with(Code::FailedPrecondition, "KEY_LIMIT_ABOVE_DEFAULT")
        .await;
    members.change_key_limit(&key, "15", MONTHLY).await;

    let admins = dashboard
        .create_key_with_limit(&org.account, "big", "500", DAILY)
        .await;
    assert_eq!(
        dashboard.get_key(&admins).await.limit.unwrap().amount,
        "500"
    );
    let unlimited = dashboard.create_key(&org.account, "unlimited").await;
    assert!(dashboard.get_key(&unlimited).await.limit.is_none());
    let controls = dashboard.spending_controls(&org.account).await;
    assert_eq!(
        controls.default_key_limit.map(|l| l.amount),
        Some("20".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_and_caps_reset_daily_weekly_or_monthly_and_bad_input_names_the_field() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let lifetime = pb::LimitPeriod::Lifetime;
    let before = world.head().await;
    dashboard
        .set_budget(&org.account, "10", lifetime)
        .refused_field("budget.reset")
        .await;
    dashboard
        .cap_member(&org.account, &admin, "10", lifetime)
        .refused_field("cap.reset")
        .await;
    dashboard
        .set_budget(&org.account, "10.001", MONTHLY)
        .refused_field("budget.amount")
        .await;
    assert_eq!(world.head().await, before, "refused input appends nothing");
    // A personal account has no spending controls.
    dashboard
        .set_budget(&admin.personal, "10", MONTHLY)
        .refused(Code::PermissionDenied)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_usage_reaching_80_and_100_percent_of_the_budget_is_noticed_once_each() {
    let world = World::start().await;
    let (admin, org, key) = world.funded_key().await;
    let gateway = world.gateway();
    world
        .dashboard(&admin)
        .set_budget(&org.account, "10", MONTHLY)
        .await;
    gateway.record_usage(&key, &id(), "7.99").await;
    assert!(notices(&world, &org.account).await.is_empty());
    gateway.record_usage(&key, &id(), "0.01").await;
    gateway.record_usage(&key, &id(), "1").await;
    let eighty = notices(&world, &org.account).await;
    assert_eq!(eighty.len(), 1, "{eighty:?}");
    assert_eq!(eighty[0]["threshold_percent"], 80);
    assert_eq!(eighty[0]["spent"], "8");
    assert_eq!(eighty[0]["period"], "monthly");
    let hold = gateway.place_hold(&key, "1").await;
    gateway.settle(&hold, &id(), "1.5").await;
    let all = notices(&world, &org.account).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["threshold_percent"], 100);
    assert_eq!(all[1]["spent"], "10.5");
    assert_eq!(all[0]["period_start"], all[1]["period_start"]);
    gateway.record_usage(&key, &id(), "1").await;
    assert_eq!(notices(&world, &org.account).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_sees_the_controls_that_bind_them_and_not_the_budget() {
    let world = World::start().await;
    let (admin, org, _key) = world.funded_key().await;
    let (member, other) = (world.some_user().await, world.some_user().await);
    for user in [&member, &other] {
        world.join(&admin, &org, user).await;
    }
    let dashboard = world.dashboard(&admin);
    dashboard.set_budget(&org.account, "100", MONTHLY).await;
    dashboard
        .cap_member(&org.account, &member, "5", DAILY)
        .await;
    dashboard.cap_member(&org.account, &other, "7", DAILY).await;
    dashboard
        .set_default_key_limit(&org.account, "3", DAILY)
        .await;

    let all = dashboard.spending_controls(&org.account).await;
    assert!(!all.billing_hidden);
    assert!(all.budget.is_some());
    assert_eq!(all.member_caps.len(), 2);

    let seen = world
        .dashboard(&member)
        .spending_controls(&org.account)
        .await;
    assert!(seen.billing_hidden);
    assert!(
        seen.budget.is_none(),
        "the budget is billing information: {seen:?}"
    );
    let caps: Vec<_> = seen.member_caps.iter().map(|c| c.user_id.clone()).collect();
    assert_eq!(caps, [member.id.to_string()], "only their own cap");
    assert_eq!(seen.default_key_limit.map(|l| l.amount), Some("3".into()));
}
