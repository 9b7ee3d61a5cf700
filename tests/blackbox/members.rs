//! Members and invitations as people see them, over gRPC: an invitee finds the invitations
//! sent to their verified address, the member list names each member's address and when they
//! joined, and an invitation whose address was erased says so.

use ledger_api::pb;
use ledger_tests::client::{Api, World};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn an_invitee_lists_the_invitations_sent_to_their_verified_address_until_accepted() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let invitee = world.some_user().await;
    let stranger = world.some_user().await;
    let admins = world.dashboard(&admin);
    let invitation = admins
        .invite(&acme, &invitee.email.to_uppercase(), pb::Role::Admin)
        .await;
    admins
        .invite(
            &acme,
            &format!("{}@example.test", Uuid::new_v4()),
            pb::Role::Member,
        )
        .await;

    let theirs = world.dashboard(&invitee).after(invitation.position);
    let listed = theirs.invitations_of(&invitee).await;
    assert_eq!(listed.invitations.len(), 1, "{listed:?}");
    let shown = &listed.invitations[0];
    assert_eq!(shown.invitation_id, invitation.id.to_string());
    assert_eq!(shown.organization_id, acme.id.to_string());
    assert_eq!(shown.organization_name, "Acme");
    assert_eq!(shown.role, pb::Role::Admin as i32);
    assert!(shown.expires_at.is_some());

    // Nobody else reads them; a stranger has none of their own.
    world
        .dashboard(&stranger)
        .invitations_of(&invitee)
        .refused(Code::PermissionDenied)
        .await;
    let none = world.dashboard(&stranger).after(invitation.position);
    assert!(none.invitations_of(&stranger).await.invitations.is_empty());

    // Accepted, it is no longer pending.
    let accepted = world.dashboard(&invitee).accept(&invitation).await;
    let after = world.dashboard(&invitee).after(accepted.position);
    assert!(after.invitations_of(&invitee).await.invitations.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_a_verified_address_has_no_invitations_to_list() {
    let world = World::start().await;
    let unverified = world
        .identity()
        .register(&format!("{}@example.test", Uuid::new_v4()))
        .await;
    world
        .dashboard(&unverified)
        .invitations_of(&unverified)
        .refused_because("EMAIL_NOT_VERIFIED")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_listed_with_their_address_role_and_joining_time_and_no_address_once_erased() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &acme, &member).await;
    let head = world.head().await;
    let admins = world.dashboard(&admin).after(head);
    let listed = admins.list_members(&acme).await;
    assert_eq!(listed.members.len(), 2);
    for (user, role) in [(&admin, pb::Role::Admin), (&member, pb::Role::Member)] {
        let row = listed
            .members
            .iter()
            .find(|m| m.user_id == user.id.to_string())
            .unwrap();
        assert_eq!(row.email, user.email);
        assert_eq!(row.role, role as i32);
        assert!(row.joined_at.is_some(), "{row:?}");
    }

    // Support sees ids and roles, never addresses.
    let support = world.caller("support", Some(Uuid::new_v4()));
    let seen_by_support = support
        .list_members(pb::ListMembersRequest {
            organization_id: acme.id.to_string(),
            ..Default::default()
        })
        .await;
    assert_eq!(seen_by_support.members.len(), 2);
    assert!(seen_by_support.members.iter().all(|m| m.email.is_empty()));

    world.identity().erase(&member).await;
    let listed = admins.list_members(&acme).await;
    let erased = listed
        .members
        .iter()
        .find(|m| m.user_id == member.id.to_string())
        .unwrap();
    assert_eq!(erased.email, "", "an erased address is not shown");
    assert_eq!(erased.role, pb::Role::Member as i32);
    assert!(erased.joined_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_whose_address_was_erased_is_refused_with_its_own_reason() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let invitee = world.some_user().await;
    let admins = world.dashboard(&admin);
    let invitation = admins.invite(&acme, &invitee.email, pb::Role::Member).await;
    world.identity().erase(&invitee).await;
    let status = world
        .dashboard(&invitee)
        .accept(&invitation)
        .refused_because("INVITATION_EMAIL_ERASED")
        .await;
    assert_eq!(status.code(), Code::FailedPrecondition);

    // An invitation that is not pending is still INVITATION_NOT_FOUND.
    let revoked = admins
        .invite(
            &acme,
            &format!("{}@example.test", Uuid::new_v4()),
            pb::Role::Member,
        )
        .await;
    admins.revoke(&revoked).await;
    let other = world.some_user().await;
    world
        .dashboard(&other)
        .accept(&revoked)
        .refused_because("INVITATION_NOT_FOUND")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organization_holds_ten_members_until_support_raises_its_limit() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    for _ in 0..9 {
        let member = world.some_user().await;
        world.join(&admin, &acme, &member).await;
    }
    let admins = world.dashboard(&admin);
    let eleventh = world.some_user().await;
    // Inviting is allowed; joining a full organization is not.
    let invitation = admins
        .invite(&acme, &eleventh.email, pb::Role::Member)
        .await;
    let head = world.head().await;
    let status = world
        .dashboard(&eleventh)
        .accept(&invitation)
        .refused_because("MEMBER_LIMIT_REACHED")
        .await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(world.head().await, head, "the refusal appended nothing");
    let profile = admins.after(head).get_organization(&acme).await;
    assert_eq!((profile.member_count, profile.member_limit), (10, 10));

    // Support cannot set the limit below the members there are, and can raise it.
    world
        .support()
        .set_member_limit(&acme, 9)
        .refused_because("MEMBER_LIMIT_BELOW_MEMBER_COUNT")
        .await;
    world.support().set_member_limit(&acme, 11).await;
    let joined = world.dashboard(&eleventh).accept(&invitation).await;
    let profile = admins.after(joined.position).get_organization(&acme).await;
    assert_eq!((profile.member_count, profile.member_limit), (11, 11));
    let listed = admins.after(joined.position).list_members(&acme).await;
    assert_eq!(listed.members.len(), 11);
}
