//! Tenant isolation: the admin of one organization calls every query and every command of the
//! dashboard on another organization's resources and gets nothing of it, and every query
//! answers an id that exists nowhere exactly as it answers the other organization's.

use std::fmt::Debug;

use ledger_api::pb;
use ledger_tests::client::{AccountId, Api, Call, Key, KeyId, Org, OrgId, User, World, id, reason};
use tonic::{Code, Status};

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
    let (csv, pdf, by_model) = (
        pb::ExportFormat::Csv,
        pb::ExportFormat::Pdf,
        pb::GroupBy::Model,
    );
    let unlimited = pb::ChangeKeyLimitRequest {
        command_id: id(),
        account_id: bravo.account.to_string(),
        key_id: bravo_key.id.to_string(),
        limit: None,
    };
    let billing = pb::BillingSettings {
        contacts: vec!["alice@alpha.test".into()],
        ..Default::default()
    };
    // Every read that names an account, organization, key or user: on Bravo's, and on ids
    // that exist nowhere. Both answer alike, so an id cannot be probed.
    let ghost = Org {
        id: OrgId::fresh(),
        account: AccountId::fresh(),
    };
    let ghost_key = Key {
        id: KeyId::fresh(),
        account: ghost.account.clone(),
        ..bravo_key.clone()
    };
    let ghost_user = User {
        id: uuid::Uuid::new_v4(),
        ..bob.clone()
    };
    let mut reads: Vec<(String, Call<String>)> = Vec::new();
    for (whose, org, key, user) in [
        ("Bravo's", &bravo, &bravo_key, &bob),
        ("a missing", &ghost, &ghost_key, &ghost_user),
    ] {
        let account = &org.account;
        let of = |rpc: &str| format!("{rpc} on {whose} id");
        reads.extend([
            (of("GetOrganization"), shown(a.get_organization(org))),
            (of("ListMembers"), shown(a.list_members(org))),
            (of("ListInvitations"), shown(a.list_invitations(org))),
            (of("GetAccountBalance"), shown(a.balance(account))),
            (of("ListLedgerEntries"), shown(a.ledger_entries(account))),
            (of("ListKeys"), shown(a.list_keys_with_deleted(account))),
            (of("GetKey"), shown(a.get_key(key))),
            (of("ListActivity"), shown(a.activity(account))),
            (
                of("GetUsageAnalytics"),
                shown(a.usage_analytics(account, by_model)),
            ),
            (
                of("ExportActivity CSV"),
                chunks(a.export_activity(account, csv)),
            ),
            (
                of("ExportAnalytics CSV"),
                chunks(a.export_analytics(account, csv, by_model)),
            ),
            (
                of("ExportActivity PDF"),
                chunks(a.export_activity(account, pdf)),
            ),
            (
                of("ExportAnalytics PDF"),
                chunks(a.export_analytics(account, pdf, by_model)),
            ),
            (of("GetPrivacySettings"), shown(a.privacy(org))),
            (of("GetBillingSettings"), shown(a.billing(org))),
            (of("GetUserAccount"), shown(a.user_account(user))),
            (
                of("ListUserOrganizations"),
                shown(a.user_organizations(user)),
            ),
            (of("ListUserInvitations"), shown(a.invitations_of(user))),
        ]);
    }
    assert_eq!(reads.len(), 36);
    // Spending controls are read like the balance: Bravo's and a missing account answer alike.
    for (whose, org) in [("Bravo's", &bravo), ("a missing", &ghost)] {
        let read = shown(a.spending_controls(&org.account));
        reads.push((format!("GetSpendingControls on {whose} id"), read));
    }

    // Every dashboard command on Bravo's resources, each with the one answer it must get.
    let denied = Code::PermissionDenied;
    let commands: Vec<(&str, Code, Call<String>)> = vec![
        (
            "RenameOrganization",
            denied,
            shown(a.rename_organization(&bravo, "Taken over")),
        ),
        (
            "UpdateOrganizationDetails",
            denied,
            shown(a.update_organization_details(&bravo, Some("mine now"))),
        ),
        (
            "InviteMember",
            denied,
            shown(a.invite(&bravo, "alice@alpha.test", pb::Role::Admin)),
        ),
        ("RevokeInvitation", denied, shown(a.revoke(&invitation))),
        // Addressed to her, so she may know it exists; revoked, it is gone.
        (
            "AcceptInvitation (revoked, addressed to her)",
            Code::NotFound,
            shown(a.accept(&invitation)),
        ),
        (
            "RemoveMember",
            denied,
            shown(a.remove_member(&bravo, &carol)),
        ),
        (
            "ChangeMemberRole",
            denied,
            shown(a.change_role(&bravo, &carol, pb::Role::Admin)),
        ),
        ("LeaveOrganization", denied, shown(a.leave(&bravo))),
        ("PurchaseCredits", denied, shown(a.buy(&bravo.account, "1"))),
        (
            "CreateKey",
            denied,
            shown(a.create_key(&bravo.account, "intruder")),
        ),
        (
            "RenameKey",
            denied,
            shown(a.rename_key(&bravo_key, "renamed")),
        ),
        (
            "ChangeKeyLimit",
            denied,
            shown(a.rpc().change_key_limit(unlimited)),
        ),
        ("DisableKey", denied, shown(a.disable_key(&bravo_key))),
        ("EnableKey", denied, shown(a.enable_key(&bravo_key))),
        ("DeleteKey", denied, shown(a.delete_key(&bravo_key))),
        ("RotateKey", denied, shown(a.rotate_key(&bravo_key, 0))),
        (
            "ChangeKeyExpiry",
            denied,
            shown(a.change_key_expiry(&bravo_key, None)),
        ),
        (
            "SetPrivacySettings",
            denied,
            shown(a.set_privacy(&bravo, 1, true)),
        ),
        (
            "SetBillingSettings",
            denied,
            shown(a.set_billing(&bravo, billing)),
        ),
    ];
    assert_eq!(commands.len(), 19);
    let monthly = pb::LimitPeriod::Monthly;
    let spending: Vec<(&str, Code, Call<String>)> = vec![
        (
            "SetOrganizationBudget",
            denied,
            shown(a.set_budget(&bravo.account, "1", monthly)),
        ),
        (
            "SetMemberSpendCap",
            denied,
            shown(a.cap_member(&bravo.account, &carol, "1", monthly)),
        ),
        (
            "SetDefaultKeyLimit",
            denied,
            shown(a.set_default_key_limit(&bravo.account, "1", monthly)),
        ),
    ];

    let mut leaks = Vec::new();
    // Reads: exactly one answer, code, reason and message alike, whether the id exists or not.
    let mut answers = std::collections::BTreeMap::new();
    for (rpc, call) in reads {
        match call.outcome().await {
            Err(status) if status.code() == denied => {
                leaks.extend(exposure(&rpc, &status, &bravo_key));
                let answer = (reason(&status), status.message().to_owned());
                answers.entry(answer).or_insert_with(Vec::new).push(rpc);
            }
            other => leaks.push(format!("{rpc}: {other:?}")),
        }
    }
    if answers.len() > 1 {
        leaks.push(format!("reads answer in more than one way: {answers:#?}"));
    }
    for (rpc, code, call) in commands.into_iter().chain(spending) {
        match call.outcome().await {
            Err(status) if status.code() == code => {
                leaks.extend(exposure(rpc, &status, &bravo_key));
            }
            other => leaks.push(format!("{rpc}: expected {code:?}, got {other:?}")),
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
    assert_eq!(world.head().await, head, "no command was appended");
}

/// A refusal that names anything of the victim's.
fn exposure(rpc: &str, status: &Status, key: &Key) -> Option<String> {
    let text = format!("{} {:?}", status.message(), status.details());
    [
        VICTIM_NAME,
        VICTIM_EMAILS[0],
        VICTIM_EMAILS[1],
        key.id.as_str(),
    ]
    .into_iter()
    .any(|secret| text.contains(secret))
    .then(|| format!("{rpc}: the refusal names the victim: {status:?}"))
}
