//! Organization commands that read or write other streams: create (reads the creator,
//! opens the account), accept (reads the user), remove and leave (disable keys in the account).

use super::command::{AcceptInvitation, CreateOrganization, LeaveOrganization, RemoveMember};
use super::decide::authorized;
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
use chrono::{DateTime, Utc};

fn org_events(events: Vec<OrganizationEvent>) -> Vec<Event> {
    events.into_iter().map(Event::Organization).collect()
}

/// The acting user of `action`, once their state says their email is verified.
fn verified_actor(
    state: &UserState,
    caller: &Caller,
    action: Action,
) -> Result<UserId, DomainError> {
    let actor = caller.acting_user(action)?;
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
    let created_by = verified_actor(creator, caller, Action::CreateOrganization)?;
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
    let user_id = verified_actor(user, caller, Action::AcceptInvitation)?;
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

fn unless_last_admin(org: &Organization, user: UserId) -> Result<(), DomainError> {
    if org.members.get(&user) == Some(&Role::Admin) && org.admin_count() == 1 {
        return Err(DomainError::LastAdmin);
    }
    Ok(())
}

/// How a member goes.
enum Departure {
    /// An admin removes them.
    Removed { by: UserId },
    /// They leave.
    Left,
}

/// `member` goes (never the last admin): removed or left on the organization stream, and
/// every active key they created in the organization's account disabled. Streams: org and
/// account (both written).
fn depart(
    state: &OrganizationState,
    org: &Organization,
    account: &AccountState,
    member: UserId,
    departure: Departure,
    at: DateTime<Utc>,
) -> Result<Decision, DomainError> {
    unless_last_admin(org, member)?;
    let acc = account
        .account
        .as_ref()
        .filter(|acc| acc.id == org.account_id)
        .ok_or(DomainError::AccountStateRequired)?;
    let organization_id = org.id;
    let (departed, cause, by) = match departure {
        Departure::Removed { by } => {
            let removed = MemberRemoved {
                organization_id,
                user_id: member,
                by,
                at,
            };
            let removed = OrganizationEvent::MemberRemoved(removed);
            (removed, DisableCause::CreatorRemoved, by)
        }
        Departure::Left => {
            let left = MemberLeft {
                organization_id,
                user_id: member,
                at,
            };
            let left = OrganizationEvent::MemberLeft(left);
            (left, DisableCause::CreatorLeft, member)
        }
    };
    let disabled = disable_keys_created_by(acc, member, cause, by, at);
    Ok(Decision::one(
        org.id.stream(),
        ExpectedVersion::at(state.version),
        org_events(vec![departed]),
    )
    .with(
        acc.id.stream(),
        ExpectedVersion::at(account.version),
        disabled.into_iter().map(Event::Account).collect(),
    ))
}

/// Removes a member (admin; never the last admin) and disables every active key they created
/// in the organization's account. Streams: org and account (both written).
pub fn remove_member(
    state: &OrganizationState,
    account: &AccountState,
    caller: &Caller,
    cmd: &RemoveMember,
) -> Result<Decision, DomainError> {
    let org = authorized(state, caller, Action::RemoveMember)?;
    let by = caller.acting_user(Action::RemoveMember)?;
    if !org.members.contains_key(&cmd.user_id) {
        return Err(DomainError::MemberNotFound(cmd.user_id));
    }
    let departure = Departure::Removed { by };
    depart(state, org, account, cmd.user_id, departure, cmd.at)
}

/// The acting user leaves (never the last admin); every active key they created in the
/// organization's account is disabled. Streams: org and account (both written).
pub fn leave(
    state: &OrganizationState,
    account: &AccountState,
    caller: &Caller,
    cmd: &LeaveOrganization,
) -> Result<Decision, DomainError> {
    let org = authorized(state, caller, Action::LeaveOrganization)?;
    let user_id = caller.acting_user(Action::LeaveOrganization)?;
    depart(state, org, account, user_id, Departure::Left, cmd.at)
}
