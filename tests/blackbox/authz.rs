//! The authorization matrix through gRPC: every RPC × every caller kind and role, allowed or
//! denied exactly as the rules say, and a denied call appends nothing.
//!
//! Columns are the personas: an organization admin (also the owner of a funded personal
//! account), a member, a verified user outside the organization, then the gateway, identity,
//! support and auditor credentials. Cells: `ok` the call succeeds; `P` PERMISSION_DENIED and the
//! log's head does not move; `a` the policy lets it through and the domain answers on the merits
//! (e.g. an admin accepting someone else's invitation gets FAILED_PRECONDITION).
//!
//! Rows run in order and, within a row, refusals first: rows that change membership (remove,
//! promote, leave, accept) come last so earlier rows see the roles of the fixture; the outsider
//! joins only in the very last row.

use ledger_api::pb;
use ledger_tests::ledgerd::Clients;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::common::{Env, id, register, register_verified, usage};

const PERSONAS: [&str; 7] = [
    "admin", "member", "outsider", "gateway", "identity", "support", "auditor",
];

const MATRIX: &str = "
RegisterUser               P  P  P  P  ok P  P
VerifyEmail                P  P  P  P  ok P  P
EraseUser                  P  P  P  P  ok ok P
GetUserAccount             ok P  P  P  P  ok ok
ListUserOrganizations      ok P  P  P  P  ok ok
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
AuthenticateKey            P  P  P  ok P  P  P
PlaceHold                  P  P  P  ok P  P  P
SettleHold                 P  P  P  ok P  P  P
VoidHold                   P  P  P  ok P  P  P
RecordUsage                P  P  P  ok P  P  P
SettleBatch                P  P  P  ok P  P  P
RecordUsageBatch           P  P  P  ok P  P  P
SetPrivacySettings         ok P  P  P  P  P  P
GetPrivacySettings         ok P  P  ok P  ok ok
SetBillingSettings         ok P  P  P  P  P  P
GetBillingSettings         ok P  P  P  P  ok ok
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
GetProjectionStatus        P  P  P  P  P  ok ok
RemoveMember               ok P  P  P  P  P  P
ChangeMemberRole           ok P  P  P  P  P  P
LeaveOrganization          a  ok P  P  P  P  P
AcceptInvitation           a  a  ok P  P  P  P
";

/// What the rows act on, created through the API before the matrix runs.
struct Fixture {
    admin: Uuid,
    admin_personal: String,
    organization: String,
    account: String,
    /// Created by the admin: members may neither view nor manage it.
    admin_key: String,
    /// Deleted by the DeleteKey row.
    doomed_key: String,
    /// Gateway clients, to place the holds the settle and void rows act on.
    gateway: Clients,
    /// The gateway's key and its secret.
    gateway_key: String,
    gateway_secret: String,
    /// Registered by identity, not yet verified.
    unverified: (Uuid, String),
    /// Members the RemoveMember and ChangeMemberRole rows act on.
    removable: Uuid,
    promotable: Uuid,
    /// Pending invitations: one to revoke, one addressed to the outsider.
    revocable_invitation: String,
    outsider_invitation: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_for_every_caller_kind_and_role_is_allowed_or_denied_as_the_rules_say() {
    let env = Env::start().await;
    let users: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let (admin, member, outsider, removable, promotable) =
        (users[0], users[1], users[2], users[3], users[4]);
    let fixture = fixture(&env, &users).await;
    let actors = [
        Some(admin),
        Some(member),
        Some(outsider),
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
        callers.push(env.ledgerd.clients(kind, actor).await);
    }
    assert_eq!(
        (fixture.removable, fixture.promotable),
        (removable, promotable)
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
                "SettleHold" | "VoidHold" | "SettleBatch" => hold_for(&fixture).await,
                _ => String::new(),
            };
            let before = env.head().await;
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
                    assert_eq!(env.head().await, before, "{rpc} by {persona} appended");
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

async fn fixture(env: &Env, users: &[Uuid]) -> Fixture {
    let identity = env.ledgerd.clients("identity", None).await;
    let mut personal = Vec::new();
    for user in users {
        let email = format!("{user}@example.test");
        personal.push(register_verified(&identity, *user, &email).await);
    }
    let unverified = Uuid::new_v4();
    let unverified_email = format!("{unverified}@example.test");
    register(&identity, unverified, &unverified_email).await;

    let admin = env.ledgerd.clients("dashboard", Some(users[0])).await;
    let organization = id();
    let account = admin
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: organization.clone(),
            account_id: String::new(),
            name: "Matrix Inc".into(),
            details: None,
        })
        .await
        .unwrap()
        .into_inner()
        .account_id;
    for user in [users[1], users[3], users[4]] {
        let invitation = invite(&admin, &organization, user).await;
        env.ledgerd
            .clients("dashboard", Some(user))
            .await
            .orgs
            .accept_invitation(pb::AcceptInvitationRequest {
                command_id: id(),
                organization_id: organization.clone(),
                invitation_id: invitation,
            })
            .await
            .unwrap();
    }
    let revocable_invitation = invite(&admin, &organization, Uuid::new_v4()).await;
    let outsider_invitation = invite(&admin, &organization, users[2]).await;
    for account in [&account, &personal[0]] {
        admin
            .credits
            .clone()
            .purchase_credits(pb::PurchaseCreditsRequest {
                command_id: id(),
                account_id: account.clone(),
                amount: "1000".into(),
                payment_reference: "pay_matrix".into(),
            })
            .await
            .unwrap();
    }
    let admin_key = create_key(&admin, &account).await.key_id;
    let doomed_key = create_key(&admin, &account).await.key_id;
    let gateway = create_key(&admin, &account).await;
    Fixture {
        gateway: env.ledgerd.clients("gateway", None).await,
        admin: users[0],
        admin_personal: personal[0].clone(),
        organization,
        account,
        admin_key,
        doomed_key,
        gateway_key: gateway.key_id,
        gateway_secret: gateway.secret,
        unverified: (unverified, unverified_email),
        removable: users[3],
        promotable: users[4],
        revocable_invitation,
        outsider_invitation,
    }
}

async fn invite(admin: &Clients, organization: &str, user: Uuid) -> String {
    let invitation = id();
    admin
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            command_id: id(),
            organization_id: organization.into(),
            invitation_id: invitation.clone(),
            email: format!("{user}@example.test"),
            role: pb::Role::Member.into(),
            expires_in_s: None,
        })
        .await
        .unwrap();
    invitation
}

async fn create_key(caller: &Clients, account: &str) -> pb::CreateKeyResponse {
    caller
        .keys
        .clone()
        .create_key(key_request(account))
        .await
        .unwrap()
        .into_inner()
}

fn key_request(account: &str) -> pb::CreateKeyRequest {
    pb::CreateKeyRequest {
        command_id: id(),
        account_id: account.into(),
        key_id: id(),
        name: "matrix key".into(),
        limit: None,
        expires_at: None,
    }
}

fn key_command(f: &Fixture, key: &str) -> pb::KeyCommandRequest {
    pb::KeyCommandRequest {
        command_id: id(),
        account_id: f.account.clone(),
        key_id: key.into(),
    }
}

/// A hold the gateway places before a settle or void row's call, so each call has an open hold
/// of its own whoever makes it.
async fn hold_for(f: &Fixture) -> String {
    let hold = id();
    f.gateway
        .gateway
        .clone()
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: f.account.clone(),
            key_id: f.gateway_key.clone(),
            hold_id: hold.clone(),
            estimate: "1".into(),
            ttl_s: 300,
        })
        .await
        .unwrap();
    hold
}

fn settle_request(f: &Fixture, hold: String) -> pb::SettleHoldRequest {
    pb::SettleHoldRequest {
        command_id: id(),
        account_id: f.account.clone(),
        hold_id: hold,
        usage: Some(usage(&id(), "0.5")),
    }
}

fn record_request(f: &Fixture) -> pb::RecordUsageRequest {
    pb::RecordUsageRequest {
        command_id: id(),
        account_id: f.account.clone(),
        key_id: f.gateway_key.clone(),
        usage: Some(usage(&id(), "0.25")),
    }
}

/// A batch answer is a success when every item is.
fn batch_outcome(reply: pb::BatchResponse) -> Result<(), Status> {
    match reply.results.iter().find(|item| item.code != 0) {
        None => Ok(()),
        Some(item) => Err(Status::new(Code::from(item.code), item.message.clone())),
    }
}

/// Reads a server stream to its end (or its first error).
async fn drain<T>(
    reply: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Result<(), Status> {
    let mut stream = reply?.into_inner();
    while let Some(item) = stream.next().await {
        item?;
    }
    Ok(())
}

/// Calls `rpc` as `c` with a valid request on the fixture's resources (`hold`: an open hold for
/// the rows that settle or void one).
async fn call(rpc: &str, c: &Clients, f: &Fixture, hold: String) -> Result<(), Status> {
    let org = || f.organization.clone();
    let account = || f.account.clone();
    match rpc {
        "RegisterUser" => c
            .users
            .clone()
            .register_user(pb::RegisterUserRequest {
                command_id: id(),
                user_id: id(),
                personal_account_id: String::new(),
                email: format!("{}@example.test", id()),
            })
            .await
            .map(drop),
        "VerifyEmail" => c
            .users
            .clone()
            .verify_email(pb::VerifyEmailRequest {
                command_id: id(),
                user_id: f.unverified.0.to_string(),
                email: f.unverified.1.clone(),
            })
            .await
            .map(drop),
        "EraseUser" => c
            .users
            .clone()
            .erase_user(pb::EraseUserRequest {
                user_id: f.unverified.0.to_string(),
            })
            .await
            .map(drop),
        "GetUserAccount" => c
            .users
            .clone()
            .get_user_account(pb::GetUserAccountRequest {
                user_id: f.admin.to_string(),
                min_position: 0,
            })
            .await
            .map(drop),
        "ListUserOrganizations" => c
            .users
            .clone()
            .list_user_organizations(pb::ListUserOrganizationsRequest {
                user_id: f.admin.to_string(),
                ..Default::default()
            })
            .await
            .map(drop),
        "CreateOrganization" => c
            .orgs
            .clone()
            .create_organization(pb::CreateOrganizationRequest {
                command_id: id(),
                organization_id: id(),
                account_id: String::new(),
                name: "Another".into(),
                details: None,
            })
            .await
            .map(drop),
        "RenameOrganization" => c
            .orgs
            .clone()
            .rename_organization(pb::RenameOrganizationRequest {
                command_id: id(),
                organization_id: org(),
                name: "Matrix Ltd".into(),
            })
            .await
            .map(drop),
        "UpdateOrganizationDetails" => c
            .orgs
            .clone()
            .update_organization_details(pb::UpdateOrganizationDetailsRequest {
                command_id: id(),
                organization_id: org(),
                details: Some("rows and columns".into()),
            })
            .await
            .map(drop),
        "InviteMember" => c
            .orgs
            .clone()
            .invite_member(pb::InviteMemberRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: id(),
                email: format!("{}@example.test", id()),
                role: pb::Role::Member.into(),
                expires_in_s: None,
            })
            .await
            .map(drop),
        "RevokeInvitation" => c
            .orgs
            .clone()
            .revoke_invitation(pb::RevokeInvitationRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: f.revocable_invitation.clone(),
            })
            .await
            .map(drop),
        "AcceptInvitation" => c
            .orgs
            .clone()
            .accept_invitation(pb::AcceptInvitationRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: f.outsider_invitation.clone(),
            })
            .await
            .map(drop),
        "RemoveMember" => c
            .orgs
            .clone()
            .remove_member(pb::RemoveMemberRequest {
                command_id: id(),
                organization_id: org(),
                user_id: f.removable.to_string(),
            })
            .await
            .map(drop),
        "ChangeMemberRole" => c
            .orgs
            .clone()
            .change_member_role(pb::ChangeMemberRoleRequest {
                command_id: id(),
                organization_id: org(),
                user_id: f.promotable.to_string(),
                role: pb::Role::Admin.into(),
            })
            .await
            .map(drop),
        "LeaveOrganization" => c
            .orgs
            .clone()
            .leave_organization(pb::LeaveOrganizationRequest {
                command_id: id(),
                organization_id: org(),
            })
            .await
            .map(drop),
        "GetOrganization" => c
            .orgs
            .clone()
            .get_organization(pb::GetOrganizationRequest {
                organization_id: org(),
                min_position: 0,
            })
            .await
            .map(drop),
        "ListMembers" => c
            .orgs
            .clone()
            .list_members(pb::ListMembersRequest {
                organization_id: org(),
                ..Default::default()
            })
            .await
            .map(drop),
        "ListInvitations" => c
            .orgs
            .clone()
            .list_invitations(pb::ListInvitationsRequest {
                organization_id: org(),
                ..Default::default()
            })
            .await
            .map(drop),
        "PurchaseCredits" => c
            .credits
            .clone()
            .purchase_credits(pb::PurchaseCreditsRequest {
                command_id: id(),
                account_id: account(),
                amount: "10".into(),
                payment_reference: "pay_row".into(),
            })
            .await
            .map(drop),
        "GetAccountBalance" => c
            .credits
            .clone()
            .get_account_balance(pb::GetAccountBalanceRequest {
                account_id: account(),
                min_position: 0,
            })
            .await
            .map(drop),
        "ListLedgerEntries" => c
            .credits
            .clone()
            .list_ledger_entries(pb::ListLedgerEntriesRequest {
                account_id: account(),
                ..Default::default()
            })
            .await
            .map(drop),
        "CreateKey" => c
            .keys
            .clone()
            .create_key(key_request(&f.account))
            .await
            .map(drop),
        "RenameKey" => c
            .keys
            .clone()
            .rename_key(pb::RenameKeyRequest {
                command_id: id(),
                account_id: account(),
                key_id: f.admin_key.clone(),
                name: "renamed".into(),
            })
            .await
            .map(drop),
        "ChangeKeyLimit" => c
            .keys
            .clone()
            .change_key_limit(pb::ChangeKeyLimitRequest {
                command_id: id(),
                account_id: account(),
                key_id: f.admin_key.clone(),
                limit: Some(pb::KeyLimit {
                    amount: "25".into(),
                    reset: pb::LimitPeriod::Monthly.into(),
                }),
            })
            .await
            .map(drop),
        "DisableKey" => c
            .keys
            .clone()
            .disable_key(key_command(f, &f.admin_key))
            .await
            .map(drop),
        "EnableKey" => c
            .keys
            .clone()
            .enable_key(key_command(f, &f.admin_key))
            .await
            .map(drop),
        "DeleteKey" => c
            .keys
            .clone()
            .delete_key(key_command(f, &f.doomed_key))
            .await
            .map(drop),
        "GetKey" => c
            .keys
            .clone()
            .get_key(pb::GetKeyRequest {
                account_id: account(),
                key_id: f.admin_key.clone(),
                min_position: 0,
            })
            .await
            .map(drop),
        "ListKeys" => c
            .keys
            .clone()
            .list_keys(pb::ListKeysRequest {
                account_id: account(),
                ..Default::default()
            })
            .await
            .map(drop),
        "AuthenticateKey" => c
            .gateway
            .clone()
            .authenticate_key(pb::AuthenticateKeyRequest {
                secret: f.gateway_secret.clone(),
                min_position: 0,
            })
            .await
            .map(drop),
        "PlaceHold" => c
            .gateway
            .clone()
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: account(),
                key_id: f.gateway_key.clone(),
                hold_id: id(),
                estimate: "1".into(),
                ttl_s: 300,
            })
            .await
            .map(drop),
        "SettleHold" => c
            .gateway
            .clone()
            .settle_hold(settle_request(f, hold))
            .await
            .map(drop),
        "VoidHold" => c
            .gateway
            .clone()
            .void_hold(pb::VoidHoldRequest {
                command_id: id(),
                account_id: account(),
                hold_id: hold,
            })
            .await
            .map(drop),
        "RecordUsage" => c
            .gateway
            .clone()
            .record_usage(record_request(f))
            .await
            .map(drop),
        "SettleBatch" => {
            let reply = c
                .gateway
                .clone()
                .settle_batch(pb::SettleBatchRequest {
                    items: vec![settle_request(f, hold)],
                })
                .await?;
            batch_outcome(reply.into_inner())
        }
        "RecordUsageBatch" => {
            let reply = c
                .gateway
                .clone()
                .record_usage_batch(pb::RecordUsageBatchRequest {
                    items: vec![record_request(f), record_request(f)],
                })
                .await?;
            batch_outcome(reply.into_inner())
        }
        "SetPrivacySettings" => c
            .settings
            .clone()
            .set_privacy_settings(pb::SetPrivacySettingsRequest {
                command_id: id(),
                organization_id: org(),
                retention_days: 30,
                prompt_logging: false,
            })
            .await
            .map(drop),
        "GetPrivacySettings" => c
            .settings
            .clone()
            .get_privacy_settings(pb::GetPrivacySettingsRequest {
                organization_id: org(),
                min_position: 0,
            })
            .await
            .map(drop),
        "SetBillingSettings" => c
            .settings
            .clone()
            .set_billing_settings(pb::SetBillingSettingsRequest {
                command_id: id(),
                organization_id: org(),
                settings: Some(pb::BillingSettings {
                    contacts: vec!["billing@example.test".into()],
                    company_name: Some("Matrix Inc".into()),
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        "GetBillingSettings" => c
            .settings
            .clone()
            .get_billing_settings(pb::GetBillingSettingsRequest {
                organization_id: org(),
                min_position: 0,
            })
            .await
            .map(drop),
        "TransferCredits" => c
            .support
            .clone()
            .transfer_credits(pb::TransferCreditsRequest {
                command_id: id(),
                transfer_id: id(),
                from_account_id: f.admin_personal.clone(),
                to_account_id: account(),
                amount: "5".into(),
                reason: "consolidating credits".into(),
                ticket: "SUP-1".into(),
            })
            .await
            .map(drop),
        "SetMemberLimit" => c
            .support
            .clone()
            .set_member_limit(pb::SetMemberLimitRequest {
                command_id: id(),
                organization_id: org(),
                member_limit: 20,
            })
            .await
            .map(drop),
        "ListActivity" => c
            .activity
            .clone()
            .list_activity(pb::ListActivityRequest {
                account_id: account(),
                ..Default::default()
            })
            .await
            .map(drop),
        "GetUsageAnalytics" => c
            .activity
            .clone()
            .get_usage_analytics(pb::GetUsageAnalyticsRequest {
                account_id: account(),
                granularity: pb::Granularity::Day.into(),
                group_by: pb::GroupBy::Model.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "ExportActivity" => {
            drain(
                c.activity
                    .clone()
                    .export_activity(pb::ExportActivityRequest {
                        account_id: account(),
                        format: pb::ExportFormat::Csv.into(),
                        ..Default::default()
                    })
                    .await,
            )
            .await
        }
        "ExportAnalytics" => {
            drain(
                c.activity
                    .clone()
                    .export_analytics(pb::ExportAnalyticsRequest {
                        account_id: account(),
                        format: pb::ExportFormat::Csv.into(),
                        granularity: pb::Granularity::Day.into(),
                        group_by: pb::GroupBy::Key.into(),
                        ..Default::default()
                    })
                    .await,
            )
            .await
        }
        "StreamEvents" => {
            drain(
                c.audit
                    .clone()
                    .stream_events(pb::StreamEventsRequest {
                        limit: 5,
                        ..Default::default()
                    })
                    .await,
            )
            .await
        }
        "VerifyChain" => c
            .audit
            .clone()
            .verify_chain(pb::VerifyChainRequest {
                from_position: 1,
                to_position: 0,
            })
            .await
            .map(drop),
        "GetHead" => c
            .audit
            .clone()
            .get_head(pb::GetHeadRequest {})
            .await
            .map(drop),
        "VerifyCheckpoint" => {
            // The checkpoint is read with the auditor's own rights when the caller has them.
            let head = c.audit.clone().get_head(pb::GetHeadRequest {}).await;
            let (position, hash) = match head {
                Ok(head) => {
                    let head = head.into_inner();
                    (head.position, head.hash)
                }
                Err(_) => (1, "00".repeat(32)),
            };
            c.audit
                .clone()
                .verify_checkpoint(pb::VerifyCheckpointRequest { position, hash })
                .await
                .map(drop)
        }
        "BalanceAsOf" => c
            .audit
            .clone()
            .balance_as_of(pb::BalanceAsOfRequest {
                account_id: account(),
                as_of: Some(pb::balance_as_of_request::AsOf::Time(
                    std::time::SystemTime::now().into(),
                )),
            })
            .await
            .map(drop),
        "ConsistencyCheck" => c
            .audit
            .clone()
            .consistency_check(pb::ConsistencyCheckRequest {})
            .await
            .map(drop),
        "GetProjectionStatus" => c
            .audit
            .clone()
            .get_projection_status(pb::GetProjectionStatusRequest {})
            .await
            .map(drop),
        other => panic!("no call written for {other}"),
    }
}
