//! The authorization matrix through gRPC: every RPC × every caller kind and role, allowed or
//! denied exactly as the rules say, and a denied call appends nothing.
//!
//! Columns are the personas: an organization admin (also the owner of a funded personal
//! account), a member, a verified user outside the organization, then the gateway, identity,
//! support and auditor credentials (the notifier, refused everything but `Subscribe`, has a
//! test of its own). Cells: `ok` the call succeeds; `P` PERMISSION_DENIED and the
//! log's head does not move; `a` the policy lets it through and the domain answers on the merits
//! (e.g. an admin accepting someone else's invitation gets FAILED_PRECONDITION).
//!
//! Rows run in order and, within a row, refusals first: rows that change membership (remove,
//! promote, leave, accept) come last so earlier rows see the roles of the fixture; the outsider
//! joins only in the very last row.

use ledger_api::pb;
use ledger_tests::client::{
    Api, Auditor, Dashboard, Gateway, Hold, Identity, Invitation, Key, Notifier, Org, Rpc, Support,
    User, World, id, usage,
};
use prost::Message;
use tonic::{Code, Status};
use uuid::Uuid;

const PERSONAS: [&str; 7] = [
    "admin", "member", "outsider", "gateway", "identity", "support", "auditor",
];

const MATRIX: &str = "
RegisterUser               P  P  P  P  ok P  P
VerifyEmail                P  P  P  P  ok P  P
EraseUser                  P  P  P  P  ok ok P
GetUserAccount             ok P  P  P  P  ok ok
ListUserOrganizations      ok P  P  P  P  ok ok
ListUserInvitations        ok P  P  P  P  ok ok
CreateOrganization         ok ok ok P  P  P  P
RenameOrganization         ok P  P  P  P  P  P
UpdateOrganizationDetails  ok P  P  P  P  P  P
InviteMember               ok P  P  P  P  P  P
RevokeInvitation           ok P  P  P  P  P  P
GetOrganization            ok ok P  P  P  ok ok
ListMembers                ok ok P  P  P  ok ok
ListInvitations            ok P  P  P  P  ok ok
PurchaseCredits            ok P  P  P  P  P  P
GetAccountBalance          ok ok P  P  P  ok ok
ListLedgerEntries          ok P  P  P  P  ok ok
CreateKey                  ok ok P  P  P  P  P
RenameKey                  ok P  P  P  P  P  P
ChangeKeyLimit             ok P  P  P  P  P  P
DisableKey                 ok P  P  P  P  P  P
EnableKey                  ok P  P  P  P  P  P
DeleteKey                  ok P  P  P  P  P  P
GetKey                     ok P  P  P  P  ok ok
ListKeys                   ok ok P  P  P  ok ok
RotateKey                  ok P  P  P  P  P  P
ChangeKeyExpiry            ok P  P  P  P  P  P
AuthenticateKey            P  P  P  ok P  P  P
PlaceHold                  P  P  P  ok P  P  P
SettleHold                 P  P  P  ok P  P  P
VoidHold                   P  P  P  ok P  P  P
RecordUsage                P  P  P  ok P  P  P
SettleBatch                P  P  P  ok P  P  P
RecordUsageBatch           P  P  P  ok P  P  P
PlaceHoldBatch             P  P  P  ok P  P  P
VoidHoldBatch              P  P  P  ok P  P  P
AuthorizeAndHold           P  P  P  ok P  P  P
Bill                       P  P  P  ok P  P  P
SetPrivacySettings         ok P  P  P  P  P  P
GetPrivacySettings         ok P  P  ok P  ok ok
SetBillingSettings         ok P  P  P  P  P  P
GetBillingSettings         ok P  P  P  P  ok ok
SetOrganizationBudget      ok P  P  P  P  P  P
SetMemberSpendCap          ok P  P  P  P  P  P
SetDefaultKeyLimit         ok P  P  P  P  P  P
GetSpendingControls        ok ok P  P  P  ok ok
TransferCredits            P  P  P  P  P  ok P
SetMemberLimit             P  P  P  P  P  ok P
ListActivity               ok ok P  P  P  ok ok
GetUsageAnalytics          ok ok P  P  P  ok ok
ExportActivity             ok ok P  P  P  ok ok
ExportAnalytics            ok ok P  P  P  ok ok
StreamEvents               P  P  P  P  P  ok ok
VerifyChain                P  P  P  P  P  ok ok
GetHead                    P  P  P  P  P  ok ok
VerifyCheckpoint           P  P  P  P  P  ok ok
BalanceAsOf                P  P  P  P  P  ok ok
ConsistencyCheck           P  P  P  P  P  ok ok
StreamConsistencyCheck     P  P  P  P  P  ok ok
GetProjectionStatus        P  P  P  P  P  ok ok
RebuildProjection          P  P  P  P  P  ok P
AdjustCredits              P  P  P  P  P  ok P
ReverseTransfer            P  P  P  P  P  ok P
RefundPurchase             ok P  P  P  P  P  P
GetPurchaseReceipt         ok P  P  P  P  ok ok
ListBookEntries            P  P  P  P  P  ok ok
SetLowBalanceThreshold     ok P  P  P  P  P  P
Subscribe                  P  P  P  P  P  P  P
RemoveMember               ok P  P  P  P  P  P
ChangeMemberRole           ok P  P  P  P  P  P
LeaveOrganization          a  ok P  P  P  P  P
AcceptInvitation           a  a  ok P  P  P  P
";

/// What the rows act on, created through the API before the matrix runs.
struct Fixture {
    /// The admin, also the owner of a funded personal account.
    admin: User,
    organization: Org,
    /// Created by the admin: members may neither view nor manage it.
    admin_key: Key,
    /// Deleted by the DeleteKey row.
    doomed_key: Key,
    /// The gateway, to place the holds the settle and void rows act on, and its key.
    gateway: Gateway,
    gateway_key: Key,
    /// Registered by identity, not yet verified.
    unverified: User,
    /// Members the RemoveMember and ChangeMemberRole rows act on.
    removable: User,
    promotable: User,
    /// Pending invitations: one to revoke, one addressed to the outsider.
    revocable_invitation: Invitation,
    outsider_invitation: Invitation,
    /// A support transfer from the admin's personal account to the organization's, for the
    /// ReverseTransfer row.
    transfer: String,
}

/// The organization's purchase the RefundPurchase and GetPurchaseReceipt rows name.
const MATRIX_PAYMENT: &str = "pay_matrix";

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_for_every_caller_kind_and_role_is_allowed_or_denied_as_the_rules_say() {
    let world = World::start().await;
    let mut users = Vec::new();
    for _ in 0..5 {
        users.push(world.some_user().await);
    }
    let (admin, member, outsider, removable, promotable) =
        (&users[0], &users[1], &users[2], &users[3], &users[4]);
    let fixture = fixture(&world, &users).await;
    let actors = [
        Some(admin.id),
        Some(member.id),
        Some(outsider.id),
        None,
        None,
        None,
        None,
    ];
    let mut callers = Vec::new();
    for (persona, actor) in PERSONAS.iter().zip(actors) {
        let kind = if *persona == "support" || *persona == "identity" {
            *persona
        } else if actor.is_some() {
            "dashboard"
        } else {
            persona
        };
        let actor = if kind == "support" {
            Some(Uuid::new_v4())
        } else {
            actor
        };
        callers.push(world.caller(kind, actor));
    }
    assert_eq!(
        (fixture.removable.id, fixture.promotable.id),
        (removable.id, promotable.id)
    );

    let mut rows = Vec::new();
    for line in MATRIX.lines().filter(|line| !line.trim().is_empty()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), PERSONAS.len() + 1, "{line}");
        rows.push(cells[0].to_owned());
        let mut order: Vec<usize> = (0..PERSONAS.len()).collect();
        order.sort_by_key(|&i| cells[i + 1] != "P");
        for i in order {
            let (rpc, cell, persona) = (cells[0], cells[i + 1], PERSONAS[i]);
            let hold = match rpc {
                "SettleHold" | "VoidHold" | "SettleBatch" | "VoidHoldBatch" => {
                    Some(hold_for(&fixture).await)
                }
                _ => None,
            };
            let before = world.head().await;
            let outcome = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                call(rpc, &callers[i], &fixture, hold),
            )
            .await
            .unwrap_or_else(|_| panic!("{rpc} by {persona} did not answer in 30 s"));
            match cell {
                "ok" => {
                    if let Err(status) = outcome {
                        panic!("{rpc} by {persona}: expected success, got {status:?}");
                    }
                }
                "P" => {
                    let status = outcome.expect_err(&format!("{rpc} by {persona} was allowed"));
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{rpc} by {persona}: {status:?}"
                    );
                    assert_eq!(world.head().await, before, "{rpc} by {persona} appended");
                }
                "a" => {
                    if let Err(status) = outcome {
                        assert!(
                            !matches!(
                                status.code(),
                                Code::PermissionDenied
                                    | Code::Unauthenticated
                                    | Code::InvalidArgument
                                    | Code::Internal
                                    | Code::Unknown
                            ),
                            "{rpc} by {persona}: {status:?}"
                        );
                    }
                }
                other => panic!("unknown cell {other}"),
            }
        }
    }
    rows.sort();
    assert_eq!(
        rows,
        every_rpc(),
        "the matrix lists every RPC of the API once"
    );
}

/// Every RPC name of the API, from the descriptor the server's reflection serves.
fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut names: Vec<String> = set
        .file
        .iter()
        .filter(|file| file.package() == "arouter.ledger.v1")
        .flat_map(|file| &file.service)
        .flat_map(|service| &service.method)
        .map(|method| method.name().to_owned())
        .collect();
    names.sort();
    names
}

/// The organization of `users[0]` with `users[1]`, `users[3]` and `users[4]` as members and
/// `users[2]` invited.
async fn fixture(world: &World, users: &[User]) -> Fixture {
    let unverified = world
        .identity()
        .register(&format!("{}@example.test", Uuid::new_v4()))
        .await;
    let admin = world.dashboard(&users[0]);
    let organization = admin.create_organization("Matrix Inc").await;
    for member in [&users[1], &users[3], &users[4]] {
        world.join(&users[0], &organization, member).await;
    }
    let invite = |email: &str| admin.invite(&organization, email, pb::Role::Member);
    let revocable_invitation = invite(&format!("{}@example.test", Uuid::new_v4())).await;
    let outsider_invitation = invite(&users[2].email).await;
    for account in [&organization.account, &users[0].personal] {
        admin.buy(account, "1000").await;
    }
    admin
        .buy_with_reference(&organization.account, "20", MATRIX_PAYMENT)
        .await;
    let transfer = id();
    world
        .support()
        .transfer_as(&transfer, &users[0].personal, &organization.account, "5")
        .await;
    let key = || admin.create_key(&organization.account, "matrix key");
    Fixture {
        admin_key: key().await,
        doomed_key: key().await,
        gateway_key: key().await,
        gateway: world.gateway(),
        admin: users[0].clone(),
        organization,
        unverified,
        removable: users[3].clone(),
        promotable: users[4].clone(),
        revocable_invitation,
        outsider_invitation,
        transfer,
    }
}

/// A hold the gateway places before a settle or void row's call, so each call has an open hold
/// of its own whoever makes it.
async fn hold_for(f: &Fixture) -> Hold {
    f.gateway.place_hold_for(&f.gateway_key, "1", 300).await
}

fn settle_request(f: &Fixture, hold: &Hold) -> pb::SettleHoldRequest {
    pb::SettleHoldRequest {
        command_id: id(),
        account_id: f.organization.account.to_string(),
        hold_id: hold.id.to_string(),
        usage: Some(usage(&id(), "0.5")),
    }
}

fn record_request(f: &Fixture) -> pb::RecordUsageRequest {
    pb::RecordUsageRequest {
        command_id: id(),
        account_id: f.organization.account.to_string(),
        key_id: f.gateway_key.id.to_string(),
        usage: Some(usage(&id(), "0.25")),
    }
}

fn place_request(f: &Fixture) -> pb::PlaceHoldRequest {
    pb::PlaceHoldRequest {
        command_id: id(),
        account_id: f.organization.account.to_string(),
        key_id: f.gateway_key.id.to_string(),
        hold_id: Uuid::new_v4().to_string(),
        estimate: "1".into(),
        ttl_s: 300,
    }
}

/// A `Bill` stream carrying one hold: refused when it opens, or the item's own outcome.
async fn bill_outcome(caller: &Rpc, f: &Fixture) -> Result<(), Status> {
    let item = pb::BillRequest {
        sequence: 7,
        call: Some(pb::bill_request::Call::PlaceHold(place_request(f))),
    };
    let mut replies = caller.bill(tokio_stream::iter([item])).outcome().await?;
    let reply = replies.message().await?.expect("one reply");
    assert_eq!(reply.sequence, 7);
    match reply.reply {
        Some(pb::bill_reply::Reply::PlaceHold(_)) => Ok(()),
        Some(pb::bill_reply::Reply::Error(error)) => {
            Err(Status::new(Code::from(error.code), error.message))
        }
        other => panic!("unexpected reply {other:?}"),
    }
}

/// A batch answer is a success when every item is.
fn batch_outcome(reply: pb::BatchResponse) -> Result<(), Status> {
    match reply.results.iter().find(|item| item.code != 0) {
        None => Ok(()),
        Some(item) => Err(Status::new(Code::from(item.code), item.message.clone())),
    }
}

/// Calls `rpc` as `caller` with a valid request on the fixture's resources (`hold`: an open
/// hold for the rows that settle or void one).
async fn call(rpc: &str, caller: &Rpc, f: &Fixture, hold: Option<Hold>) -> Result<(), Status> {
    let dashboard = Dashboard::from(caller.clone());
    let gateway = Gateway::from(caller.clone());
    let identity = Identity::from(caller.clone());
    let support = Support::from(caller.clone());
    let auditor = Auditor::from(caller.clone());
    let (org, account) = (&f.organization, &f.organization.account);
    let hold = || hold.clone().expect("an open hold for this row");
    let (csv, by_model, by_key) = (pb::ExportFormat::Csv, pb::GroupBy::Model, pb::GroupBy::Key);
    let monthly = pb::LimitPeriod::Monthly;
    let billing = pb::BillingSettings {
        contacts: vec!["billing@example.test".into()],
        company_name: Some("Matrix Inc".into()),
        ..Default::default()
    };
    let call = match rpc {
        "RegisterUser" => identity
            .register(&format!("{}@example.test", id()))
            .map(drop),
        "VerifyEmail" => identity.verify(&f.unverified).map(drop),
        "EraseUser" => identity.erase(&f.unverified).map(drop),
        "GetUserAccount" => dashboard.user_account(&f.admin).map(drop),
        "ListUserOrganizations" => dashboard.user_organizations(&f.admin).map(drop),
        "CreateOrganization" => dashboard.create_organization("Another").map(drop),
        "RenameOrganization" => dashboard.rename_organization(org, "Matrix Ltd").map(drop),
        "UpdateOrganizationDetails" => dashboard
            .update_organization_details(org, Some("rows and columns"))
            .map(drop),
        "InviteMember" => dashboard
            .invite(org, &format!("{}@example.test", id()), pb::Role::Member)
            .map(drop),
        "RevokeInvitation" => dashboard.revoke(&f.revocable_invitation).map(drop),
        "AcceptInvitation" => dashboard.accept(&f.outsider_invitation).map(drop),
        "RemoveMember" => dashboard.remove_member(org, &f.removable).map(drop),
        "ChangeMemberRole" => dashboard
            .change_role(org, &f.promotable, pb::Role::Admin)
            .map(drop),
        "LeaveOrganization" => dashboard.leave(org).map(drop),
        "GetOrganization" => dashboard.get_organization(org).map(drop),
        "ListMembers" => dashboard.list_members(org).map(drop),
        "ListInvitations" => dashboard.list_invitations(org).map(drop),
        "PurchaseCredits" => dashboard.buy(account, "10").map(drop),
        "GetAccountBalance" => dashboard.balance(account).map(drop),
        "ListLedgerEntries" => dashboard.ledger_entries(account).map(drop),
        "CreateKey" => dashboard.create_key(account, "matrix key").map(drop),
        "RenameKey" => dashboard.rename_key(&f.admin_key, "renamed").map(drop),
        "ChangeKeyLimit" => dashboard
            .change_key_limit(&f.admin_key, "25", monthly)
            .map(drop),
        "DisableKey" => dashboard.disable_key(&f.admin_key).map(drop),
        "EnableKey" => dashboard.enable_key(&f.admin_key).map(drop),
        "DeleteKey" => dashboard.delete_key(&f.doomed_key).map(drop),
        "GetKey" => dashboard.get_key(&f.admin_key).map(drop),
        "ListKeys" => dashboard.list_keys(account).map(drop),
        "AuthenticateKey" => gateway.authenticate(&f.gateway_key.secret).map(drop),
        "PlaceHold" => gateway.place_hold_for(&f.gateway_key, "1", 300).map(drop),
        "SettleHold" => gateway.settle(&hold(), &id(), "0.5").map(drop),
        "VoidHold" => gateway.void(&hold()).map(drop),
        "RecordUsage" => gateway
            .record_usage(&f.gateway_key, &id(), "0.25")
            .map(drop),
        "SettleBatch" => {
            let items = vec![settle_request(f, &hold())];
            let batch = caller.settle_batch(pb::SettleBatchRequest { items });
            return batch.outcome().await.and_then(batch_outcome);
        }
        "RecordUsageBatch" => {
            let items = vec![record_request(f), record_request(f)];
            let batch = caller.record_usage_batch(pb::RecordUsageBatchRequest { items });
            return batch.outcome().await.and_then(batch_outcome);
        }
        "PlaceHoldBatch" => {
            let items = vec![place_request(f), place_request(f)];
            let batch = caller.place_hold_batch(pb::PlaceHoldBatchRequest { items });
            return batch.outcome().await.and_then(batch_outcome);
        }
        "VoidHoldBatch" => {
            let hold = hold();
            let items = vec![pb::VoidHoldRequest {
                command_id: id(),
                account_id: hold.account.to_string(),
                hold_id: hold.id.to_string(),
            }];
            let batch = caller.void_hold_batch(pb::VoidHoldBatchRequest { items });
            return batch.outcome().await.and_then(batch_outcome);
        }
        "AuthorizeAndHold" => gateway.authorize_and_hold(&f.gateway_key, "1").map(drop),
        "Bill" => return bill_outcome(caller, f).await,
        "SetPrivacySettings" => dashboard.set_privacy(org, 30, false).map(drop),
        "GetPrivacySettings" => dashboard.privacy(org).map(drop),
        "SetBillingSettings" => dashboard.set_billing(org, billing).map(drop),
        "GetBillingSettings" => dashboard.billing(org).map(drop),
        "SetOrganizationBudget" => dashboard.set_budget(account, "900", monthly).map(drop),
        "SetMemberSpendCap" => dashboard
            .cap_member(account, &f.promotable, "900", monthly)
            .map(drop),
        "SetDefaultKeyLimit" => dashboard
            .set_default_key_limit(account, "900", monthly)
            .map(drop),
        "GetSpendingControls" => dashboard.spending_controls(account).map(drop),
        "TransferCredits" => support.transfer(&f.admin.personal, account, "5").map(drop),
        "SetMemberLimit" => support.set_member_limit(org, 20).map(drop),
        "ListActivity" => dashboard.activity(account).map(drop),
        "GetUsageAnalytics" => dashboard.usage_analytics(account, by_model).map(drop),
        "ExportActivity" => dashboard.export_activity(account, csv).map(drop),
        "ExportAnalytics" => dashboard.export_analytics(account, csv, by_key).map(drop),
        "StreamEvents" => caller
            .stream_events(pb::StreamEventsRequest {
                limit: 5,
                ..Default::default()
            })
            .all()
            .map(drop),
        "VerifyChain" => auditor.verify_chain().map(drop),
        "GetHead" => auditor.head().map(drop),
        "VerifyCheckpoint" => {
            // The checkpoint is read with the auditor's own rights when the caller has them.
            let (position, hash) = match auditor.head().outcome().await {
                Ok(head) => (head.position, head.hash),
                Err(_) => (1, "00".repeat(32)),
            };
            auditor.verify_checkpoint(position, &hash).map(drop)
        }
        "BalanceAsOf" => caller
            .balance_as_of(pb::BalanceAsOfRequest {
                account_id: account.to_string(),
                as_of: Some(pb::balance_as_of_request::AsOf::Time(
                    std::time::SystemTime::now().into(),
                )),
            })
            .map(drop),
        "ConsistencyCheck" => auditor.consistency_check().map(drop),
        "StreamConsistencyCheck" => caller
            .stream_consistency_check(pb::ConsistencyCheckRequest {})
            .all()
            .map(drop),
        "GetProjectionStatus" => auditor.projection_status().map(drop),
        "RebuildProjection" => support.rebuild("keys").all().map(drop),
        "ListUserInvitations" => dashboard.invitations_of(&f.admin).map(drop),
        "RotateKey" => dashboard.rotate_key(&f.admin_key, 0).map(drop),
        "ChangeKeyExpiry" => dashboard
            .change_key_expiry(&f.admin_key, Some(in_a_day()))
            .map(drop),
        "AdjustCredits" => support.adjust(account, true, "1", false).map(drop),
        "ReverseTransfer" => support.reverse(account, &f.transfer).map(drop),
        "RefundPurchase" => dashboard.refund(account, MATRIX_PAYMENT).map(drop),
        "GetPurchaseReceipt" => dashboard.receipt(account, MATRIX_PAYMENT).map(drop),
        "ListBookEntries" => auditor.book("external", 0).map(drop),
        "SetLowBalanceThreshold" => dashboard
            .set_low_balance_threshold(account, Some("5"))
            .map(drop),
        "Subscribe" => Notifier::from(caller.clone()).subscribe(None).map(drop),
        other => panic!("no call written for {other}"),
    };
    call.outcome().await
}

/// The notifier credential (a column of its own would be all refusals): it subscribes to the
/// notifications and every other RPC refuses it, appending nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_notifier_subscribes_to_notifications_and_is_refused_every_other_rpc() {
    let world = World::start().await;
    let mut users = Vec::new();
    for _ in 0..5 {
        users.push(world.some_user().await);
    }
    let fixture = fixture(&world, &users).await;
    let notifier = world.caller("notifier", None);
    for line in MATRIX.lines().filter(|line| !line.trim().is_empty()) {
        let rpc = line.split_whitespace().next().expect("a row names its RPC");
        let hold = match rpc {
            "SettleHold" | "VoidHold" | "SettleBatch" | "VoidHoldBatch" => {
                Some(hold_for(&fixture).await)
            }
            _ => None,
        };
        let before = world.head().await;
        let outcome = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            call(rpc, &notifier, &fixture, hold),
        )
        .await
        .unwrap_or_else(|_| panic!("{rpc} by the notifier did not answer in 30 s"));
        if rpc == "Subscribe" {
            outcome.expect("the notifier subscribes");
            continue;
        }
        let status = outcome.expect_err(&format!("{rpc} by the notifier was allowed"));
        assert_eq!(status.code(), Code::PermissionDenied, "{rpc}: {status:?}");
        assert_eq!(world.head().await, before, "{rpc} by the notifier appended");
    }
}

/// Billing information is for admins and account owners: a member of the organization reads
/// the available balance (whether work can run) and nothing of the balance, holds or totals;
/// the ledger entries and billing settings refuse them outright (rows above), and the spending
/// controls show them only what binds them (`spending::a_member_sees_the_controls_that_bind_them_and_not_the_budget`).
#[tokio::test(flavor = "multi_thread")]
async fn a_member_reads_the_available_balance_and_no_billing_information() {
    let world = World::start().await;
    let (admin, org, key) = world.funded_key().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let hold = world.gateway().place_hold(&key, "30").await;
    world.gateway().settle(&hold, &id(), "10").await;
    world.gateway().place_hold(&key, "5").await;

    let full = world.dashboard(&admin).balance(&org.account).await;
    assert!(!full.billing_hidden);
    assert_eq!(
        (
            full.balance.as_str(),
            full.held.as_str(),
            full.available.as_str()
        ),
        ("90", "5", "85")
    );
    assert_eq!(
        (full.total_purchased.as_str(), full.total_used.as_str()),
        ("100", "10")
    );

    let seen = world.dashboard(&member).balance(&org.account).await;
    assert!(seen.billing_hidden);
    assert_eq!(seen.available, "85");
    assert_eq!(
        (&seen.account_id, &seen.owner_id),
        (&full.account_id, &full.owner_id)
    );
    assert_eq!((seen.kind, seen.version), (full.kind, full.version));
    for hidden in [
        &seen.balance,
        &seen.held,
        &seen.total_purchased,
        &seen.total_transferred_in,
        &seen.total_transferred_out,
        &seen.total_used,
    ] {
        assert!(
            hidden.is_empty(),
            "a member sees billing information: {seen:?}"
        );
    }
    assert_eq!(seen.open_holds, 0);
    for reader in [world.support(), world.auditor().rpc().clone().into()] {
        assert!(
            !reader
                .rpc()
                .get_account_balance(pb::GetAccountBalanceRequest {
                    account_id: org.account.to_string(),
                    min_position: 0,
                })
                .await
                .billing_hidden
        );
    }
    let personal = world.dashboard(&admin).balance(&admin.personal).await;
    assert!(
        !personal.billing_hidden,
        "the owner of a personal account sees it all"
    );
}

/// A day from now, as a key expiry.
fn in_a_day() -> prost_types::Timestamp {
    (std::time::SystemTime::now() + std::time::Duration::from_secs(86_400)).into()
}
