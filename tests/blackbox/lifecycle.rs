//! Every other command RPC, wired end to end: key lifecycle, invitations, roles, member limits,
//! holds voided, organization profile.

use ledger_api::pb;
use ledger_tests::client::{Api, World};
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_renamed_limited_disabled_enabled_and_deleted_for_good() {
    let world = World::start().await;
    let (admin, _acme, key) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    dashboard.rename_key(&key, "renamed").await;
    dashboard
        .change_key_limit(&key, "5", pb::LimitPeriod::Monthly)
        .await;
    let read = dashboard.get_key(&key).await;
    assert_eq!(read.name, "renamed");
    assert_eq!(read.remaining_limit.as_deref(), Some("5"));
    assert_eq!(read.status, pb::KeyStatus::Active as i32);

    dashboard.disable_key(&key).await;
    dashboard
        .disable_key(&key)
        .refused_because("KEY_DISABLED")
        .await;
    dashboard.enable_key(&key).await;
    dashboard.delete_key(&key).await;
    dashboard
        .enable_key(&key)
        .refused_with(Code::FailedPrecondition, "KEY_DELETED")
        .await;
    let listed = dashboard.list_keys(&key.account).await;
    assert!(listed.keys.is_empty(), "deleted keys are hidden by default");
    let with_deleted = dashboard.list_keys_with_deleted(&key.account).await;
    assert_eq!(with_deleted.keys[0].status, pb::KeyStatus::Deleted as i32);

    world
        .gateway()
        .place_hold(&key, "1")
        .refused_because("KEY_DELETED")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_invitations_roles_and_members_and_support_raises_the_limit() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let identity = world.identity();
    let member = identity.register("m@example.test").await;
    let (as_admin, as_member) = (world.dashboard(&admin), world.dashboard(&member));
    let invite = || as_admin.invite_expiring_in(&acme, &member.email, pb::Role::Member, 3600);

    // Revoked invitations cannot be accepted; an unverified email cannot accept.
    let revoked = invite().await;
    as_admin.revoke(&revoked).await;
    let invitation = invite().await;
    as_member
        .accept(&invitation)
        .refused_because("EMAIL_NOT_VERIFIED")
        .await;
    identity.verify(&member).await;
    as_member
        .accept(&revoked)
        .refused_because("INVITATION_NOT_FOUND")
        .await;
    as_member.accept(&invitation).await;

    // Roles; the last admin stays. Members change no roles.
    as_member
        .change_role(&acme, &admin, pb::Role::Member)
        .refused(Code::PermissionDenied)
        .await;
    as_admin.leave(&acme).refused_because("LAST_ADMIN").await;
    as_admin.change_role(&acme, &member, pb::Role::Admin).await;
    as_admin.rename_organization(&acme, "Acme Two").await;
    as_admin.update_organization_details(&acme, None).await;

    // Support raises the member limit; the admin cannot.
    world.support().set_member_limit(&acme, 50).await;
    world
        .support()
        .set_member_limit(&acme, 0)
        .refused(Code::InvalidArgument)
        .await;
    let profile = as_admin.get_organization(&acme).await;
    assert_eq!(profile.name, "Acme Two");
    assert_eq!(profile.details, None);
    assert_eq!((profile.member_count, profile.member_limit), (2, 50));
    assert_eq!(profile.account_id, acme.account.as_str());
    assert_eq!(profile.your_role, pb::Role::Admin as i32);

    // The promoted admin removes the founder.
    as_member.remove_member(&acme, &admin).await;
    as_admin
        .list_members(&acme)
        .refused(Code::PermissionDenied)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voided_hold_releases_its_credits_and_cannot_be_settled() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    let hold = gateway.place_hold(&key, "60").await;
    gateway.void(&hold).await;
    gateway
        .settle(&hold, "gen-v", "1")
        .refused_because("HOLD_NOT_OPEN")
        .await;
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!(balance.available, "100");
}
