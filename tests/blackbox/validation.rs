//! Every command RPC × every class of invalid input (empty, malformed id, too long, control
//! characters, negative, too many decimals, malformed decimal, unknown enum) → INVALID_ARGUMENT
//! naming the field in a `BadRequest`, and nothing appended.
//!
//! Each case starts from a request that would succeed (sent by a caller allowed to send it, on
//! resources that exist) and breaks one field, so the refusal can only come from that field.

use ledger_api::pb;
use ledger_tests::client::{Api, World, assert_bad_field, id, usage};

/// Breaks one field of a usage report.
type BreakUsage = fn(&mut pb::UsageReport);

/// Text longer than any text field accepts.
fn too_long() -> String {
    "x".repeat(5000)
}

/// Sends `$base` with one field replaced, for each `field = value`, and asserts the refusal
/// names `"field"` (the field's name as written, or the explicit name given).
macro_rules! refused {
    ($client:expr, $method:ident, $base:expr, [$($name:ident = $value:expr),* $(,)?]) => {
        $(
            let mut request = $base;
            request.$name = $value;
            let sent = format!("{:?}", request.$name);
            let status = $client
                .$method(request)
                .outcome()
                .await
                .expect_err(&format!("{} accepted {} = {sent}", stringify!($method), stringify!($name)));
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{} with {} = {sent}: {status:?}",
                stringify!($method),
                stringify!($name),
            );
            assert_bad_field(&status, stringify!($name));
        )*
    };
}

/// The id classes: empty and not a UUID.
macro_rules! bad_ids {
    ($client:expr, $method:ident, $base:expr, [$($name:ident),* $(,)?]) => {
        $(
            refused!($client, $method, $base, [$name = String::new()]);
            refused!($client, $method, $base, [$name = "not-a-uuid".into()]);
        )*
    };
}

/// The text classes: empty, blank, too long, control characters.
macro_rules! bad_texts {
    ($client:expr, $method:ident, $base:expr, [$($name:ident),* $(,)?]) => {
        $(
            refused!($client, $method, $base, [
                $name = String::new(),
                $name = "   ".into(),
                $name = too_long(),
                $name = "bell\u{7}".into(),
            ]);
        )*
    };
}

/// The money classes: empty, negative, too many decimals, malformed, exponent.
macro_rules! bad_amounts {
    ($client:expr, $method:ident, $base:expr, [$($name:ident),* $(,)?]) => {
        $(
            refused!($client, $method, $base, [
                $name = String::new(),
                $name = "-1".into(),
                $name = "1.00000000001".into(),
                $name = "one".into(),
                $name = "1e3".into(),
            ]);
        )*
    };
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_refuses_every_class_of_invalid_input_naming_the_field() {
    let world = World::start().await;
    let admin = world.some_user().await;
    let member = world.some_user().await;
    let dashboard = world.dashboard(&admin);
    let acme = dashboard.create_organization("Valid").await;
    let key = dashboard.create_key(&acme.account, "valid").await;
    let (personal, org) = (admin.personal.to_string(), acme.id.to_string());
    let (account, key) = (acme.account.to_string(), key.id.to_string());
    let head = world.head().await;

    // UsersService (identity).
    let identity = world.identity();
    let users = identity.rpc();
    let register = || pb::RegisterUserRequest {
        command_id: id(),
        user_id: id(),
        personal_account_id: String::new(),
        email: "new@example.test".into(),
    };
    bad_ids!(users, register_user, register(), [command_id, user_id]);
    refused!(
        users,
        register_user,
        register(),
        [
            personal_account_id = "not-a-uuid".into(),
            email = String::new(),
            email = "no at sign".into(),
            email = format!("{}@example.test", too_long()),
            email = "bell\u{7}@example.test".into(),
        ]
    );
    let verify = || pb::VerifyEmailRequest {
        command_id: id(),
        user_id: member.id.to_string(),
        email: member.email.clone(),
    };
    bad_ids!(users, verify_email, verify(), [command_id, user_id]);
    refused!(
        users,
        verify_email,
        verify(),
        [email = String::new(), email = "nope".into()]
    );
    let erase = || pb::EraseUserRequest {
        user_id: member.id.to_string(),
    };
    bad_ids!(users, erase_user, erase(), [user_id]);

    // OrganizationsService (the admin).
    let orgs = dashboard.rpc();
    let create = || pb::CreateOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        account_id: String::new(),
        name: "Another".into(),
        details: None,
    };
    bad_ids!(
        orgs,
        create_organization,
        create(),
        [command_id, organization_id]
    );
    refused!(
        orgs,
        create_organization,
        create(),
        [account_id = "not-a-uuid".into()]
    );
    bad_texts!(orgs, create_organization, create(), [name]);
    refused!(
        orgs,
        create_organization,
        create(),
        [
            details = Some(too_long()),
            details = Some("tab\there".into()),
        ]
    );
    let rename = || pb::RenameOrganizationRequest {
        command_id: id(),
        organization_id: org.clone(),
        name: "Renamed".into(),
    };
    bad_ids!(
        orgs,
        rename_organization,
        rename(),
        [command_id, organization_id]
    );
    bad_texts!(orgs, rename_organization, rename(), [name]);
    let details = || pb::UpdateOrganizationDetailsRequest {
        command_id: id(),
        organization_id: org.clone(),
        details: Some("about us".into()),
    };
    bad_ids!(
        orgs,
        update_organization_details,
        details(),
        [command_id, organization_id]
    );
    refused!(
        orgs,
        update_organization_details,
        details(),
        [
            details = Some(too_long()),
            details = Some("nul\u{0}".into()),
        ]
    );
    let invite = || pb::InviteMemberRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: id(),
        email: "invitee@example.test".into(),
        role: pb::Role::Member.into(),
        expires_in_s: None,
    };
    bad_ids!(
        orgs,
        invite_member,
        invite(),
        [command_id, organization_id, invitation_id]
    );
    refused!(
        orgs,
        invite_member,
        invite(),
        [
            email = String::new(),
            email = "not an email".into(),
            role = 0,
            role = 99,
            expires_in_s = Some(60),
        ]
    );
    let revoke = || pb::RevokeInvitationRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: id(),
    };
    bad_ids!(
        orgs,
        revoke_invitation,
        revoke(),
        [command_id, organization_id, invitation_id]
    );
    let accept = || pb::AcceptInvitationRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: id(),
    };
    bad_ids!(
        orgs,
        accept_invitation,
        accept(),
        [command_id, organization_id, invitation_id]
    );
    let remove = || pb::RemoveMemberRequest {
        command_id: id(),
        organization_id: org.clone(),
        user_id: member.id.to_string(),
    };
    bad_ids!(
        orgs,
        remove_member,
        remove(),
        [command_id, organization_id, user_id]
    );
    let change_role = || pb::ChangeMemberRoleRequest {
        command_id: id(),
        organization_id: org.clone(),
        user_id: member.id.to_string(),
        role: pb::Role::Admin.into(),
    };
    bad_ids!(
        orgs,
        change_member_role,
        change_role(),
        [command_id, organization_id, user_id]
    );
    refused!(
        orgs,
        change_member_role,
        change_role(),
        [role = 0, role = 7]
    );
    let leave = || pb::LeaveOrganizationRequest {
        command_id: id(),
        organization_id: org.clone(),
    };
    bad_ids!(
        orgs,
        leave_organization,
        leave(),
        [command_id, organization_id]
    );

    // CreditsService.
    let credits = dashboard.rpc();
    let purchase = || pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.clone(),
        amount: "10".into(),
        payment_reference: "pay_1".into(),
    };
    bad_ids!(
        credits,
        purchase_credits,
        purchase(),
        [command_id, account_id]
    );
    bad_amounts!(credits, purchase_credits, purchase(), [amount]);
    refused!(
        credits,
        purchase_credits,
        purchase(),
        [
            amount = "0".into(),
            amount = "1.001".into(),
            amount = "1000000.01".into(),
        ]
    );
    bad_texts!(credits, purchase_credits, purchase(), [payment_reference]);

    // KeysService.
    let keys = dashboard.rpc();
    let create_key = || pb::CreateKeyRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: id(),
        name: "k".into(),
        limit: Some(pb::KeyLimit {
            amount: "5".into(),
            reset: pb::LimitPeriod::Daily.into(),
        }),
        expires_at: None,
    };
    bad_ids!(
        keys,
        create_key,
        create_key(),
        [command_id, account_id, key_id]
    );
    bad_texts!(keys, create_key, create_key(), [name]);
    let limit_key = || pb::ChangeKeyLimitRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        limit: None,
    };
    let limits = |amount: &str, reset: i32| {
        Some(pb::KeyLimit {
            amount: amount.into(),
            reset,
        })
    };
    for (limit, field) in [
        (limits("-5", 1), "limit.amount"),
        (limits("5.001", 1), "limit.amount"),
        (limits("five", 1), "limit.amount"),
        (limits("", 1), "limit.amount"),
        (limits("5", 0), "limit.reset"),
        (limits("5", 42), "limit.reset"),
    ] {
        let create = pb::CreateKeyRequest {
            limit: limit.clone(),
            ..create_key()
        };
        keys.create_key(create).refused_field(field).await;
        let change = pb::ChangeKeyLimitRequest {
            limit,
            ..limit_key()
        };
        keys.change_key_limit(change).refused_field(field).await;
    }
    let rename_key = || pb::RenameKeyRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        name: "renamed".into(),
    };
    bad_ids!(
        keys,
        rename_key,
        rename_key(),
        [command_id, account_id, key_id]
    );
    bad_texts!(keys, rename_key, rename_key(), [name]);
    bad_ids!(
        keys,
        change_key_limit,
        limit_key(),
        [command_id, account_id, key_id]
    );
    let key_command = || pb::KeyCommandRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
    };
    bad_ids!(
        keys,
        disable_key,
        key_command(),
        [command_id, account_id, key_id]
    );
    bad_ids!(
        keys,
        enable_key,
        key_command(),
        [command_id, account_id, key_id]
    );
    bad_ids!(
        keys,
        delete_key,
        key_command(),
        [command_id, account_id, key_id]
    );

    // GatewayService.
    let gateway = world.gateway();
    let gateway = gateway.rpc();
    let hold = || pb::PlaceHoldRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        hold_id: id(),
        estimate: "1".into(),
        ttl_s: 60,
    };
    bad_ids!(
        gateway,
        place_hold,
        hold(),
        [command_id, account_id, key_id, hold_id]
    );
    bad_amounts!(gateway, place_hold, hold(), [estimate]);
    let settle = || pb::SettleHoldRequest {
        command_id: id(),
        account_id: account.clone(),
        hold_id: id(),
        usage: Some(usage(&id(), "0.5")),
    };
    bad_ids!(
        gateway,
        settle_hold,
        settle(),
        [command_id, account_id, hold_id]
    );
    let void = || pb::VoidHoldRequest {
        command_id: id(),
        account_id: account.clone(),
        hold_id: id(),
    };
    bad_ids!(
        gateway,
        void_hold,
        void(),
        [command_id, account_id, hold_id]
    );
    let record = || pb::RecordUsageRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        usage: Some(usage(&id(), "0.5")),
    };
    bad_ids!(
        gateway,
        record_usage,
        record(),
        [command_id, account_id, key_id]
    );
    refused!(gateway, record_usage, record(), [usage = None]);
    // The usage report, in both settle and record.
    let broken_usage: Vec<(&str, BreakUsage)> = vec![
        ("usage.generation_id", |u| u.generation_id = String::new()),
        ("usage.generation_id", |u| u.generation_id = "x".repeat(129)),
        ("usage.generation_id", |u| {
            u.generation_id = "gen\u{7}".into()
        }),
        ("usage.model", |u| u.model = String::new()),
        ("usage.model", |u| u.model = too_long()),
        ("usage.provider", |u| u.provider = "line\nbreak".into()),
        ("usage.cost", |u| u.cost = "-0.1".into()),
        ("usage.cost", |u| u.cost = "0.00000000001".into()),
        ("usage.cost", |u| u.cost = "cheap".into()),
        ("usage.cost", |u| u.cost = String::new()),
        ("usage.status", |u| u.status = 0),
        ("usage.status", |u| u.status = 77),
        ("usage.started_at", |u| u.started_at = None),
        ("usage.finished_at", |u| u.finished_at = None),
    ];
    for (field, breaks) in broken_usage {
        let mut report = usage(&id(), "0.5");
        breaks(&mut report);
        let recorded = pb::RecordUsageRequest {
            usage: Some(report.clone()),
            ..record()
        };
        gateway.record_usage(recorded).refused_field(field).await;
        let settled = pb::SettleHoldRequest {
            usage: Some(report),
            ..settle()
        };
        gateway.settle_hold(settled).refused_field(field).await;
    }
    gateway
        .settle_batch(pb::SettleBatchRequest { items: Vec::new() })
        .refused_field("items")
        .await;
    gateway
        .record_usage_batch(pb::RecordUsageBatchRequest {
            items: (0..101).map(|_| record()).collect(),
        })
        .refused_field("items")
        .await;

    // SettingsService.
    let settings = dashboard.rpc();
    let privacy = || pb::SetPrivacySettingsRequest {
        command_id: id(),
        organization_id: org.clone(),
        retention_days: 30,
        prompt_logging: true,
    };
    bad_ids!(
        settings,
        set_privacy_settings,
        privacy(),
        [command_id, organization_id]
    );
    let billing = || pb::SetBillingSettingsRequest {
        command_id: id(),
        organization_id: org.clone(),
        settings: Some(pb::BillingSettings {
            contacts: vec!["billing@example.test".into()],
            ..Default::default()
        }),
    };
    bad_ids!(
        settings,
        set_billing_settings,
        billing(),
        [command_id, organization_id]
    );

    // SupportService.
    let support = world.support();
    let support = support.rpc();
    let transfer = || pb::TransferCreditsRequest {
        command_id: id(),
        transfer_id: id(),
        from_account_id: personal.clone(),
        to_account_id: account.clone(),
        amount: "1".into(),
        reason: "moving credits".into(),
        ticket: "SUP-1".into(),
    };
    bad_ids!(
        support,
        transfer_credits,
        transfer(),
        [command_id, from_account_id, to_account_id]
    );
    // An empty transfer id is derived from the command id; a malformed one is refused.
    refused!(
        support,
        transfer_credits,
        transfer(),
        [transfer_id = "not-a-uuid".into()]
    );
    bad_amounts!(support, transfer_credits, transfer(), [amount]);
    bad_texts!(support, transfer_credits, transfer(), [reason, ticket]);
    let member_limit = || pb::SetMemberLimitRequest {
        command_id: id(),
        organization_id: org.clone(),
        member_limit: 20,
    };
    bad_ids!(
        support,
        set_member_limit,
        member_limit(),
        [command_id, organization_id]
    );
    refused!(
        support,
        set_member_limit,
        member_limit(),
        [member_limit = 0]
    );

    // Money corrections (support) and refunds (the admin).
    let adjust = || pb::AdjustCreditsRequest {
        command_id: id(),
        adjustment_id: id(),
        account_id: account.clone(),
        direction: pb::AdjustmentDirection::Credit.into(),
        amount: "1".into(),
        reason: "goodwill".into(),
        ticket: "SUP-2".into(),
        recovery: false,
    };
    bad_ids!(support, adjust_credits, adjust(), [command_id, account_id]);
    refused!(
        support,
        adjust_credits,
        adjust(),
        [
            adjustment_id = "not-a-uuid".into(),
            direction = 0,
            direction = 9
        ]
    );
    bad_amounts!(support, adjust_credits, adjust(), [amount]);
    bad_texts!(support, adjust_credits, adjust(), [reason, ticket]);
    let reverse = || pb::ReverseTransferRequest {
        command_id: id(),
        transfer_id: id(),
        account_id: account.clone(),
        reason: "by mistake".into(),
        ticket: "SUP-3".into(),
    };
    bad_ids!(
        support,
        reverse_transfer,
        reverse(),
        [command_id, transfer_id, account_id]
    );
    bad_texts!(support, reverse_transfer, reverse(), [reason, ticket]);
    let credits = dashboard.rpc();
    let refund = || pb::RefundPurchaseRequest {
        command_id: id(),
        account_id: account.clone(),
        payment_reference: "pay_1".into(),
    };
    bad_ids!(credits, refund_purchase, refund(), [command_id, account_id]);
    refused!(
        credits,
        refund_purchase,
        refund(),
        [payment_reference = String::new()]
    );

    assert_eq!(
        world.head().await,
        head,
        "no invalid request appended anything"
    );
}
