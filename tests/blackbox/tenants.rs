//! Tenant isolation: the admin of one organization calls every query and every command of the
//! dashboard on another organization's resources and gets nothing of it.

use ledger_api::pb;
use tokio_stream::StreamExt;
use tonic::{Code, Status};

use crate::common::{Env, id, join, key, organization, purchase, registered_user, usage};

/// What the other organization is called and what its people's emails are: none of it may
/// reach the intruder.
const VICTIM_NAME: &str = "Bravo Confidential";
const VICTIM_EMAILS: [&str; 2] = ["bob@bravo.test", "carol@bravo.test"];

/// Drains an export stream into an error or a count of chunks.
async fn drain(
    stream: Result<tonic::Response<tonic::Streaming<pb::ExportChunk>>, Status>,
) -> Result<String, Status> {
    let mut stream = stream?.into_inner();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk?;
        chunks += 1;
    }
    Ok(format!("{chunks} chunks"))
}

/// A reply shown in a failure message.
fn shown<T: std::fmt::Debug>(reply: Result<tonic::Response<T>, Status>) -> Result<String, Status> {
    reply.map(|reply| format!("{:?}", reply.into_inner()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_of_one_organization_reaches_nothing_of_another() {
    let env = Env::start().await;
    let (alice, _) = registered_user(&env.ledgerd, "alice@alpha.test").await;
    let (bob, _) = registered_user(&env.ledgerd, VICTIM_EMAILS[0]).await;
    let (carol, _) = registered_user(&env.ledgerd, VICTIM_EMAILS[1]).await;
    let (_alpha, _alpha_account) = organization(&env.ledgerd, alice, "Alpha").await;
    let (bravo, bravo_account) = organization(&env.ledgerd, bob, VICTIM_NAME).await;
    join(&env.ledgerd, bob, &bravo, carol, VICTIM_EMAILS[1]).await;
    purchase(&env.ledgerd, bob, &bravo_account, "50").await;
    let bravo_key = key(&env.ledgerd, carol, &bravo_account, Some("10"))
        .await
        .key_id;
    let bob_client = env.ledgerd.clients("dashboard", Some(bob)).await;
    let invitation = id();
    bob_client
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            command_id: id(),
            organization_id: bravo.clone(),
            invitation_id: invitation.clone(),
            email: "alice@alpha.test".into(),
            role: pb::Role::Member.into(),
            expires_in_s: None,
        })
        .await
        .unwrap();
    bob_client
        .orgs
        .clone()
        .revoke_invitation(pb::RevokeInvitationRequest {
            command_id: id(),
            organization_id: bravo.clone(),
            invitation_id: invitation.clone(),
        })
        .await
        .unwrap();
    let reached = env
        .ledgerd
        .clients("gateway", None)
        .await
        .gateway
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: bravo_account.clone(),
            key_id: bravo_key.clone(),
            usage: Some(usage("gen-bravo", "1")),
        })
        .await
        .unwrap()
        .into_inner()
        .position;
    let head = env.head().await;

    let a = env.ledgerd.clients("dashboard", Some(alice)).await;
    let org = || bravo.clone();
    let account = || bravo_account.clone();
    let key_id = || bravo_key.clone();
    let key_command = || pb::KeyCommandRequest {
        command_id: id(),
        account_id: account(),
        key_id: key_id(),
    };
    let mut calls: Vec<(&str, Result<String, Status>)> = Vec::new();

    // Every query on the other organization's resources.
    let (mut orgs, mut credits, mut keys) = (a.orgs.clone(), a.credits.clone(), a.keys.clone());
    let (mut activity, mut settings, mut users) =
        (a.activity.clone(), a.settings.clone(), a.users.clone());
    calls.push((
        "GetOrganization",
        shown(
            orgs.get_organization(pb::GetOrganizationRequest {
                organization_id: org(),
                min_position: reached,
            })
            .await,
        ),
    ));
    calls.push((
        "ListMembers",
        shown(
            orgs.list_members(pb::ListMembersRequest {
                organization_id: org(),
                min_position: reached,
                ..Default::default()
            })
            .await,
        ),
    ));
    calls.push((
        "ListInvitations",
        shown(
            orgs.list_invitations(pb::ListInvitationsRequest {
                organization_id: org(),
                min_position: reached,
                ..Default::default()
            })
            .await,
        ),
    ));
    calls.push((
        "GetAccountBalance",
        shown(
            credits
                .get_account_balance(pb::GetAccountBalanceRequest {
                    account_id: account(),
                    min_position: reached,
                })
                .await,
        ),
    ));
    calls.push((
        "ListLedgerEntries",
        shown(
            credits
                .list_ledger_entries(pb::ListLedgerEntriesRequest {
                    account_id: account(),
                    min_position: reached,
                    ..Default::default()
                })
                .await,
        ),
    ));
    calls.push((
        "ListKeys",
        shown(
            keys.list_keys(pb::ListKeysRequest {
                account_id: account(),
                min_position: reached,
                include_deleted: true,
                ..Default::default()
            })
            .await,
        ),
    ));
    calls.push((
        "GetKey",
        shown(
            keys.get_key(pb::GetKeyRequest {
                account_id: account(),
                key_id: key_id(),
                min_position: reached,
            })
            .await,
        ),
    ));
    calls.push((
        "ListActivity",
        shown(
            activity
                .list_activity(pb::ListActivityRequest {
                    account_id: account(),
                    min_position: reached,
                    ..Default::default()
                })
                .await,
        ),
    ));
    calls.push((
        "GetUsageAnalytics",
        shown(
            activity
                .get_usage_analytics(pb::GetUsageAnalyticsRequest {
                    account_id: account(),
                    min_position: reached,
                    granularity: pb::Granularity::Day.into(),
                    group_by: pb::GroupBy::Model.into(),
                    ..Default::default()
                })
                .await,
        ),
    ));
    for format in [pb::ExportFormat::Csv, pb::ExportFormat::Pdf] {
        calls.push((
            "ExportActivity",
            drain(
                activity
                    .export_activity(pb::ExportActivityRequest {
                        account_id: account(),
                        min_position: reached,
                        format: format.into(),
                        filter: None,
                    })
                    .await,
            )
            .await,
        ));
        calls.push((
            "ExportAnalytics",
            drain(
                activity
                    .export_analytics(pb::ExportAnalyticsRequest {
                        account_id: account(),
                        min_position: reached,
                        format: format.into(),
                        granularity: pb::Granularity::Day.into(),
                        group_by: pb::GroupBy::Model.into(),
                        ..Default::default()
                    })
                    .await,
            )
            .await,
        ));
    }
    calls.push((
        "GetPrivacySettings",
        shown(
            settings
                .get_privacy_settings(pb::GetPrivacySettingsRequest {
                    organization_id: org(),
                    min_position: reached,
                })
                .await,
        ),
    ));
    calls.push((
        "GetBillingSettings",
        shown(
            settings
                .get_billing_settings(pb::GetBillingSettingsRequest {
                    organization_id: org(),
                    min_position: reached,
                })
                .await,
        ),
    ));
    calls.push((
        "GetUserAccount",
        shown(
            users
                .get_user_account(pb::GetUserAccountRequest {
                    user_id: bob.to_string(),
                    min_position: reached,
                })
                .await,
        ),
    ));
    calls.push((
        "ListUserOrganizations",
        shown(
            users
                .list_user_organizations(pb::ListUserOrganizationsRequest {
                    user_id: bob.to_string(),
                    min_position: reached,
                    ..Default::default()
                })
                .await,
        ),
    ));

    // Every dashboard command on them.
    calls.push((
        "RenameOrganization",
        shown(
            orgs.rename_organization(pb::RenameOrganizationRequest {
                command_id: id(),
                organization_id: org(),
                name: "Taken over".into(),
            })
            .await,
        ),
    ));
    calls.push((
        "UpdateOrganizationDetails",
        shown(
            orgs.update_organization_details(pb::UpdateOrganizationDetailsRequest {
                command_id: id(),
                organization_id: org(),
                details: Some("mine now".into()),
            })
            .await,
        ),
    ));
    calls.push((
        "InviteMember",
        shown(
            orgs.invite_member(pb::InviteMemberRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: id(),
                email: "alice@alpha.test".into(),
                role: pb::Role::Admin.into(),
                expires_in_s: None,
            })
            .await,
        ),
    ));
    calls.push((
        "RevokeInvitation",
        shown(
            orgs.revoke_invitation(pb::RevokeInvitationRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: invitation.clone(),
            })
            .await,
        ),
    ));
    calls.push((
        "AcceptInvitation (revoked, addressed to her)",
        shown(
            orgs.accept_invitation(pb::AcceptInvitationRequest {
                command_id: id(),
                organization_id: org(),
                invitation_id: invitation.clone(),
            })
            .await,
        ),
    ));
    calls.push((
        "RemoveMember",
        shown(
            orgs.remove_member(pb::RemoveMemberRequest {
                command_id: id(),
                organization_id: org(),
                user_id: carol.to_string(),
            })
            .await,
        ),
    ));
    calls.push((
        "ChangeMemberRole",
        shown(
            orgs.change_member_role(pb::ChangeMemberRoleRequest {
                command_id: id(),
                organization_id: org(),
                user_id: carol.to_string(),
                role: pb::Role::Admin.into(),
            })
            .await,
        ),
    ));
    calls.push((
        "LeaveOrganization",
        shown(
            orgs.leave_organization(pb::LeaveOrganizationRequest {
                command_id: id(),
                organization_id: org(),
            })
            .await,
        ),
    ));
    calls.push((
        "PurchaseCredits",
        shown(
            credits
                .purchase_credits(pb::PurchaseCreditsRequest {
                    command_id: id(),
                    account_id: account(),
                    amount: "1".into(),
                    payment_reference: "pay".into(),
                })
                .await,
        ),
    ));
    calls.push((
        "CreateKey",
        shown(
            keys.create_key(pb::CreateKeyRequest {
                command_id: id(),
                account_id: account(),
                key_id: id(),
                name: "intruder".into(),
                limit: None,
                expires_at: None,
            })
            .await,
        ),
    ));
    calls.push((
        "RenameKey",
        shown(
            keys.rename_key(pb::RenameKeyRequest {
                command_id: id(),
                account_id: account(),
                key_id: key_id(),
                name: "renamed".into(),
            })
            .await,
        ),
    ));
    calls.push((
        "ChangeKeyLimit",
        shown(
            keys.change_key_limit(pb::ChangeKeyLimitRequest {
                command_id: id(),
                account_id: account(),
                key_id: key_id(),
                limit: None,
            })
            .await,
        ),
    ));
    calls.push(("DisableKey", shown(keys.disable_key(key_command()).await)));
    calls.push(("EnableKey", shown(keys.enable_key(key_command()).await)));
    calls.push(("DeleteKey", shown(keys.delete_key(key_command()).await)));
    calls.push((
        "SetPrivacySettings",
        shown(
            settings
                .set_privacy_settings(pb::SetPrivacySettingsRequest {
                    command_id: id(),
                    organization_id: org(),
                    retention_days: 1,
                    prompt_logging: true,
                })
                .await,
        ),
    ));
    calls.push((
        "SetBillingSettings",
        shown(
            settings
                .set_billing_settings(pb::SetBillingSettingsRequest {
                    command_id: id(),
                    organization_id: org(),
                    settings: Some(pb::BillingSettings {
                        contacts: vec!["alice@alpha.test".into()],
                        ..Default::default()
                    }),
                })
                .await,
        ),
    ));

    let mut leaks = Vec::new();
    for (rpc, outcome) in &calls {
        match outcome {
            Err(status) if matches!(status.code(), Code::PermissionDenied | Code::NotFound) => {
                let text = format!("{} {:?}", status.message(), status.details());
                let exposed = [VICTIM_NAME, VICTIM_EMAILS[0], VICTIM_EMAILS[1], &bravo_key]
                    .into_iter()
                    .any(|secret| text.contains(secret));
                if exposed {
                    leaks.push(format!("{rpc}: the refusal names the victim: {status:?}"));
                }
            }
            other => leaks.push(format!("{rpc}: {other:?}")),
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
    assert_eq!(calls.len(), 34);
    assert_eq!(env.head().await, head, "no command was appended");
}
