//! Tenant isolation: the admin of one organization calls every query and every command of the
//! dashboard on another organization's resources and gets nothing of it.

use std::fmt::Debug;

use ledger_api::pb;
use ledger_tests::client::{Api, Call, World, id};
use tonic::Code;

/// What the other organization is called and what its people's emails are: none of it may
/// reach the intruder.
const VICTIM_NAME: &str = "Bravo Confidential";
const VICTIM_EMAILS: [&str; 2] = ["bob@bravo.test", "carol@bravo.test"];

/// A reply shown in a failure message.
fn shown<T: Debug + Send + 'static>(call: Call<T>) -> Call<String> {
    call.map(|reply| format!("{reply:?}"))
}

/// An export shown as its count of chunks.
fn chunks(call: Call<Vec<pb::ExportChunk>>) -> Call<String> {
    call.map(|chunks| format!("{} chunks", chunks.len()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_of_one_organization_reaches_nothing_of_another() {
    let world = World::start().await;
    let alice = world.user("alice@alpha.test").await;
    let bob = world.user(VICTIM_EMAILS[0]).await;
    let carol = world.user(VICTIM_EMAILS[1]).await;
    let _alpha = world.dashboard(&alice).create_organization("Alpha").await;
    let as_bob = world.dashboard(&bob);
    let bravo = as_bob.create_organization(VICTIM_NAME).await;
    world.join(&bob, &bravo, &carol).await;
    as_bob.buy(&bravo.account, "50").await;
    let bravo_key = world
        .dashboard(&carol)
        .create_key_with_limit(&bravo.account, "key", "10", pb::LimitPeriod::Lifetime)
        .await;
    let invitation = as_bob
        .invite(&bravo, "alice@alpha.test", pb::Role::Member)
        .await;
    as_bob.revoke(&invitation).await;
    let reached = world
        .gateway()
        .record_usage(&bravo_key, "gen-bravo", "1")
        .await
        .position;
    let head = world.head().await;

    // Alice's reads wait until the read models hold everything of Bravo's.
    let a = world.dashboard(&alice).after(reached);
    let account = &bravo.account;
    let (csv, pdf, by_model) = (
        pb::ExportFormat::Csv,
        pb::ExportFormat::Pdf,
        pb::GroupBy::Model,
    );
    let unlimited = pb::ChangeKeyLimitRequest {
        command_id: id(),
        account_id: account.to_string(),
        key_id: bravo_key.id.to_string(),
        limit: None,
    };
    let billing = pb::BillingSettings {
        contacts: vec!["alice@alpha.test".into()],
        ..Default::default()
    };
    let calls: Vec<(&str, Call<String>)> = vec![
        // Every query on the other organization's resources.
        ("GetOrganization", shown(a.get_organization(&bravo))),
        ("ListMembers", shown(a.list_members(&bravo))),
        ("ListInvitations", shown(a.list_invitations(&bravo))),
        ("GetAccountBalance", shown(a.balance(account))),
        ("ListLedgerEntries", shown(a.ledger_entries(account))),
        ("ListKeys", shown(a.list_keys_with_deleted(account))),
        ("GetKey", shown(a.get_key(&bravo_key))),
        ("ListActivity", shown(a.activity(account))),
        (
            "GetUsageAnalytics",
            shown(a.usage_analytics(account, by_model)),
        ),
        ("ExportActivity", chunks(a.export_activity(account, csv))),
        (
            "ExportAnalytics",
            chunks(a.export_analytics(account, csv, by_model)),
        ),
        ("ExportActivity", chunks(a.export_activity(account, pdf))),
        (
            "ExportAnalytics",
            chunks(a.export_analytics(account, pdf, by_model)),
        ),
        ("GetPrivacySettings", shown(a.privacy(&bravo))),
        ("GetBillingSettings", shown(a.billing(&bravo))),
        ("GetUserAccount", shown(a.user_account(&bob))),
        ("ListUserOrganizations", shown(a.user_organizations(&bob))),
        // Every dashboard command on them.
        (
            "RenameOrganization",
            shown(a.rename_organization(&bravo, "Taken over")),
        ),
        (
            "UpdateOrganizationDetails",
            shown(a.update_organization_details(&bravo, Some("mine now"))),
        ),
        (
            "InviteMember",
            shown(a.invite(&bravo, "alice@alpha.test", pb::Role::Admin)),
        ),
        ("RevokeInvitation", shown(a.revoke(&invitation))),
        (
            "AcceptInvitation (revoked, addressed to her)",
            shown(a.accept(&invitation)),
        ),
        ("RemoveMember", shown(a.remove_member(&bravo, &carol))),
        (
            "ChangeMemberRole",
            shown(a.change_role(&bravo, &carol, pb::Role::Admin)),
        ),
        ("LeaveOrganization", shown(a.leave(&bravo))),
        ("PurchaseCredits", shown(a.buy(account, "1"))),
        ("CreateKey", shown(a.create_key(account, "intruder"))),
        ("RenameKey", shown(a.rename_key(&bravo_key, "renamed"))),
        ("ChangeKeyLimit", shown(a.rpc().change_key_limit(unlimited))),
        ("DisableKey", shown(a.disable_key(&bravo_key))),
        ("EnableKey", shown(a.enable_key(&bravo_key))),
        ("DeleteKey", shown(a.delete_key(&bravo_key))),
        ("SetPrivacySettings", shown(a.set_privacy(&bravo, 1, true))),
        ("SetBillingSettings", shown(a.set_billing(&bravo, billing))),
    ];
    assert_eq!(calls.len(), 34);

    let mut leaks = Vec::new();
    for (rpc, call) in calls {
        match call.outcome().await {
            Err(status) if matches!(status.code(), Code::PermissionDenied | Code::NotFound) => {
                let text = format!("{} {:?}", status.message(), status.details());
                let exposed = [
                    VICTIM_NAME,
                    VICTIM_EMAILS[0],
                    VICTIM_EMAILS[1],
                    bravo_key.id.as_str(),
                ]
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
    assert_eq!(world.head().await, head, "no command was appended");
}
