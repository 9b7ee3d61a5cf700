//! Every other command RPC, wired end to end: key lifecycle, invitations, roles, member limits,
//! holds voided, organization profile.

use ledger_api::pb;
use tonic::Code;
use uuid::Uuid;

use crate::api_rules::user_with_organization;
use crate::common::{Env, id, reason};
use crate::gateway::funded_key;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_renamed_limited_disabled_enabled_and_deleted_for_good() {
    let env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    let mut keys = env.ledgerd.clients("dashboard", Some(user)).await.keys;
    let cmd = |key: &str| pb::KeyCommandRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.to_owned(),
    };
    keys.rename_key(pb::RenameKeyRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        name: "renamed".into(),
    })
    .await
    .unwrap();
    keys.change_key_limit(pb::ChangeKeyLimitRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        limit: Some(pb::KeyLimit {
            amount: "5".into(),
            reset: pb::LimitPeriod::Monthly.into(),
        }),
    })
    .await
    .unwrap();
    let read = keys
        .get_key(pb::GetKeyRequest {
            account_id: account.clone(),
            key_id: key.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.name, "renamed");
    assert_eq!(read.remaining_limit.as_deref(), Some("5"));
    assert_eq!(read.status, pb::KeyStatus::Active as i32);

    keys.disable_key(cmd(&key)).await.unwrap();
    let again = keys.disable_key(cmd(&key)).await.unwrap_err();
    assert_eq!(reason(&again), "KEY_DISABLED");
    keys.enable_key(cmd(&key)).await.unwrap();
    keys.delete_key(cmd(&key)).await.unwrap();
    let after = keys.enable_key(cmd(&key)).await.unwrap_err();
    assert_eq!(
        (after.code(), reason(&after).as_str()),
        (Code::FailedPrecondition, "KEY_DELETED")
    );
    let listed = keys
        .list_keys(pb::ListKeysRequest {
            account_id: account.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.keys.is_empty(), "deleted keys are hidden by default");
    let with_deleted = keys
        .list_keys(pb::ListKeysRequest {
            account_id: account.clone(),
            include_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_deleted.keys[0].status, pb::KeyStatus::Deleted as i32);

    let hold = env
        .ledgerd
        .clients("gateway", None)
        .await
        .gateway
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: account,
            key_id: key,
            hold_id: id(),
            estimate: "1".into(),
            ttl_s: 60,
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&hold), "KEY_DELETED");
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_invitations_roles_and_members_and_support_raises_the_limit() {
    let env = Env::start().await;
    let (admin, org, account) = user_with_organization(&env.ledgerd).await;
    let identity = env.ledgerd.clients("identity", None).await;
    let member = Uuid::new_v4();
    identity
        .users
        .clone()
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: member.to_string(),
            personal_account_id: String::new(),
            email: "m@example.test".into(),
        })
        .await
        .unwrap();
    let mut orgs = env.ledgerd.clients("dashboard", Some(admin)).await.orgs;
    let mut member_orgs = env.ledgerd.clients("dashboard", Some(member)).await.orgs;
    let invite = |invitation: &str| pb::InviteMemberRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: invitation.to_owned(),
        email: "m@example.test".into(),
        role: pb::Role::Member.into(),
        expires_in_s: Some(3600),
    };
    let accept = |invitation: &str| pb::AcceptInvitationRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: invitation.to_owned(),
    };

    // Revoked invitations cannot be accepted; an unverified email cannot accept.
    let revoked = id();
    orgs.invite_member(invite(&revoked)).await.unwrap();
    orgs.revoke_invitation(pb::RevokeInvitationRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: revoked.clone(),
    })
    .await
    .unwrap();
    let invitation = id();
    orgs.invite_member(invite(&invitation)).await.unwrap();
    let unverified = member_orgs
        .accept_invitation(accept(&invitation))
        .await
        .unwrap_err();
    assert_eq!(reason(&unverified), "EMAIL_NOT_VERIFIED");
    identity
        .users
        .clone()
        .verify_email(pb::VerifyEmailRequest {
            command_id: id(),
            user_id: member.to_string(),
            email: "m@example.test".into(),
        })
        .await
        .unwrap();
    let gone = member_orgs
        .accept_invitation(accept(&revoked))
        .await
        .unwrap_err();
    assert_eq!(reason(&gone), "INVITATION_NOT_FOUND");
    member_orgs
        .accept_invitation(accept(&invitation))
        .await
        .unwrap();

    // Roles; the last admin stays.
    let last = member_orgs
        .change_member_role(pb::ChangeMemberRoleRequest {
            command_id: id(),
            organization_id: org.clone(),
            user_id: admin.to_string(),
            role: pb::Role::Member.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        last.code(),
        Code::PermissionDenied,
        "members change no roles"
    );
    let leave = orgs
        .leave_organization(pb::LeaveOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&leave), "LAST_ADMIN");
    orgs.change_member_role(pb::ChangeMemberRoleRequest {
        command_id: id(),
        organization_id: org.clone(),
        user_id: member.to_string(),
        role: pb::Role::Admin.into(),
    })
    .await
    .unwrap();
    orgs.rename_organization(pb::RenameOrganizationRequest {
        command_id: id(),
        organization_id: org.clone(),
        name: "Acme Two".into(),
    })
    .await
    .unwrap();
    orgs.update_organization_details(pb::UpdateOrganizationDetailsRequest {
        command_id: id(),
        organization_id: org.clone(),
        details: None,
    })
    .await
    .unwrap();

    // Support raises the member limit; the admin cannot.
    let limit = |n: u32| pb::SetMemberLimitRequest {
        command_id: id(),
        organization_id: org.clone(),
        member_limit: n,
    };
    let support = env.ledgerd.clients("support", Some(Uuid::new_v4())).await;
    support
        .support
        .clone()
        .set_member_limit(limit(50))
        .await
        .unwrap();
    let denied = env
        .ledgerd
        .clients("support", Some(Uuid::new_v4()))
        .await
        .support
        .set_member_limit(limit(0))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::InvalidArgument);
    let profile = orgs
        .get_organization(pb::GetOrganizationRequest {
            organization_id: org.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile.name, "Acme Two");
    assert_eq!(profile.details, None);
    assert_eq!((profile.member_count, profile.member_limit), (2, 50));
    assert_eq!(profile.account_id, account);
    assert_eq!(profile.your_role, pb::Role::Admin as i32);

    // The promoted admin removes the founder.
    member_orgs
        .remove_member(pb::RemoveMemberRequest {
            command_id: id(),
            organization_id: org.clone(),
            user_id: admin.to_string(),
        })
        .await
        .unwrap();
    let outside = orgs
        .list_members(pb::ListMembersRequest {
            organization_id: org,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voided_hold_releases_its_credits_and_cannot_be_settled() {
    let env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let hold = id();
    gateway
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: key,
            hold_id: hold.clone(),
            estimate: "60".into(),
            ttl_s: 60,
        })
        .await
        .unwrap();
    gateway
        .void_hold(pb::VoidHoldRequest {
            command_id: id(),
            account_id: account.clone(),
            hold_id: hold.clone(),
        })
        .await
        .unwrap();
    let settle = gateway
        .settle_hold(pb::SettleHoldRequest {
            command_id: id(),
            account_id: account.clone(),
            hold_id: hold,
            usage: Some(crate::common::usage("gen-v", "1")),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&settle), "HOLD_NOT_OPEN");
    let balance = env
        .ledgerd
        .clients("dashboard", Some(user))
        .await
        .credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account,
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balance.available, "100");
}
