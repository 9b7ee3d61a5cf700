//! Organization commands that read or write other streams: create (reads the creator,
//! opens the account), accept (reads the user), remove and leave (disable keys in the account).

use super::command::{AcceptInvitation, CreateOrganization, LeaveOrganization, RemoveMember};
use super::event::{InvitationAccepted, MemberLeft, MemberRemoved, OrganizationCreated};
use super::{Organization, OrganizationEvent, OrganizationState};
use crate::account::{
    AccountEvent, AccountOpened, AccountOwner, AccountState, DisableCause, disable_keys_created_by,
};
use crate::decision::{Decision, ExpectedVersion};
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::UserId;
use crate::policy::{Action, AuthContext, Caller, authorize};
use crate::role::Role;
use crate::user::UserState;

fn org_events(events: Vec<OrganizationEvent>) -> Vec<Event> {
    events.into_iter().map(Event::Organization).collect()
}

fn acting_user(state: &UserState, caller: &Caller) -> Result<UserId, DomainError> {
    let actor = caller
        .user()
        .expect("the policy lets only dashboard users do this");
    let user = state.user.as_ref().ok_or(DomainError::UserNotFound)?;
    assert_eq!(user.id, actor, "state of another user");
    if !user.email_verified {
        return Err(DomainError::EmailNotVerified);
    }
    Ok(actor)
}

/// Creates an organization: the acting user (email verified) becomes its first admin, and
/// a new organization account opens. Streams: org (new), account (new), user (read).
pub fn create(
    state: &OrganizationState,
    creator: &UserState,
    caller: &Caller,
    cmd: &CreateOrganization,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::CreateOrganization, &AuthContext::GLOBAL)?;
    if state.organization.is_some() {
        return Err(DomainError::OrganizationAlreadyExists);
    }
    let created_by = acting_user(creator, caller)?;
    let created = OrganizationEvent::Created(OrganizationCreated {
        organization_id: cmd.organization_id,
        account_id: cmd.account_id,
        created_by,
        name: cmd.name.clone(),
        details: cmd.details.clone(),
        at: cmd.at,
    });
    let opened = AccountEvent::Opened(AccountOpened {
        account_id: cmd.account_id,
        owner: AccountOwner::Organization {
            organization_id: cmd.organization_id,
        },
        at: cmd.at,
    });
    Ok(Decision::one(
        cmd.organization_id.stream(),
        ExpectedVersion::NoStream,
        org_events(vec![created]),
    )
    .with(
        cmd.account_id.stream(),
        ExpectedVersion::NoStream,
        vec![Event::Account(opened)],
    )
    .reading(created_by.stream(), ExpectedVersion::at(creator.version)))
}

/// Accepts an invitation as the acting user. Streams: org (written), user (read).
pub fn accept_invitation(
    state: &OrganizationState,
    user: &UserState,
    caller: &Caller,
    cmd: &AcceptInvitation,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::AcceptInvitation, &AuthContext::GLOBAL)?;
    let org = state
        .organization
        .as_ref()
        .ok_or(DomainError::OrganizationNotFound)?;
    let invitation = org
        .invitations
        .get(&cmd.invitation_id)
        .ok_or(DomainError::InvitationNotFound(cmd.invitation_id))?;
    if cmd.at >= invitation.expires_at {
        return Err(DomainError::InvitationExpired {
            expires_at: invitation.expires_at,
        });
    }
    let user_id = acting_user(user, caller)?;
    if cmd.invitation_email != cmd.user_verified_email {
        return Err(DomainError::InvitationEmailMismatch);
    }
    if org.members.contains_key(&user_id) {
        return Err(DomainError::AlreadyMember(user_id));
    }
    if org.member_count() >= org.member_limit {
        return Err(DomainError::MemberLimitReached {
            limit: org.member_limit,
        });
    }
    let accepted = OrganizationEvent::InvitationAccepted(InvitationAccepted {
        organization_id: org.id,
        invitation_id: cmd.invitation_id,
        user_id,
        role: invitation.role,
        at: cmd.at,
    });
    Ok(Decision::one(
        org.id.stream(),
        ExpectedVersion::at(state.version),
        org_events(vec![accepted]),
    )
    .reading(user_id.stream(), ExpectedVersion::at(user.version)))
}

fn check_account<'a>(org: &Organization, account: &'a AccountState) -> &'a crate::account::Account {
    let acc = account
        .account
        .as_ref()
        .expect("the organization's account is open");
    assert_eq!(acc.id, org.account_id, "account of another organization");
    acc
}

fn unless_last_admin(org: &Organization, user: UserId) -> Result<(), DomainError> {
    if org.members.get(&user) == Some(&Role::Admin) && org.admin_count() == 1 {
        return Err(DomainError::LastAdmin);
    }
    Ok(())
}

/// Removes a member (admin; never the last admin) and disables every active key they created
/// in the organization's account. Streams: org and account (both written).
pub fn remove_member(
    state: &OrganizationState,
    account: &AccountState,
    caller: &Caller,
    cmd: &RemoveMember,
) -> Result<Decision, DomainError> {
    let org = state
        .organization
        .as_ref()
        .ok_or(DomainError::OrganizationNotFound)?;
    let role = caller.user().and_then(|u| state.role_of(u));
    authorize(
        caller,
        Action::RemoveMember,
        &AuthContext::organization(role),
    )?;
    let by = caller
        .user()
        .expect("the policy lets only admins remove members");
    if !org.members.contains_key(&cmd.user_id) {
        return Err(DomainError::MemberNotFound(cmd.user_id));
    }
    unless_last_admin(org, cmd.user_id)?;
    let acc = check_account(org, account);
    let removed = OrganizationEvent::MemberRemoved(MemberRemoved {
        organization_id: org.id,
        user_id: cmd.user_id,
        by,
        at: cmd.at,
    });
    let disabled =
        disable_keys_created_by(acc, cmd.user_id, DisableCause::CreatorRemoved, by, cmd.at);
    Ok(Decision::one(
        org.id.stream(),
        ExpectedVersion::at(state.version),
        org_events(vec![removed]),
    )
    .with(
        acc.id.stream(),
        ExpectedVersion::at(account.version),
        disabled.into_iter().map(Event::Account).collect(),
    ))
}

/// The acting user leaves (never the last admin); every active key they created in the
/// organization's account is disabled. Streams: org and account (both written).
pub fn leave(
    state: &OrganizationState,
    account: &AccountState,
    caller: &Caller,
    cmd: &LeaveOrganization,
) -> Result<Decision, DomainError> {
    let org = state
        .organization
        .as_ref()
        .ok_or(DomainError::OrganizationNotFound)?;
    let role = caller.user().and_then(|u| state.role_of(u));
    authorize(
        caller,
        Action::LeaveOrganization,
        &AuthContext::organization(role),
    )?;
    let user_id = caller.user().expect("the policy lets only members leave");
    unless_last_admin(org, user_id)?;
    let acc = check_account(org, account);
    let left = OrganizationEvent::MemberLeft(MemberLeft {
        organization_id: org.id,
        user_id,
        at: cmd.at,
    });
    let disabled =
        disable_keys_created_by(acc, user_id, DisableCause::CreatorLeft, user_id, cmd.at);
    Ok(Decision::one(
        org.id.stream(),
        ExpectedVersion::at(state.version),
        org_events(vec![left]),
    )
    .with(
        acc.id.stream(),
        ExpectedVersion::at(account.version),
        disabled.into_iter().map(Event::Account).collect(),
    ))
}
