//! Deciding single-stream organization commands: profile, invitations, roles, limits, settings.

use super::event::{
    BillingSettingsSet, InvitationRevoked, MemberInvited, MemberLimitSet, MemberRoleChanged,
    OrganizationDetailsUpdated, OrganizationRenamed, PrivacySettingsSet,
};
use super::{
    DEFAULT_INVITATION_TTL_S, MAX_BILLING_CONTACTS, MAX_INVITATION_TTL_S, MAX_MEMBER_LIMIT,
    MAX_PENDING_INVITATIONS, MAX_RETENTION_DAYS, MIN_INVITATION_TTL_S, Organization,
    OrganizationCommand, OrganizationEvent, OrganizationState,
};
use crate::decision::{Decision, ExpectedVersion};
use crate::error::{DomainError, Field, InputError};
use crate::event::Event;
use crate::ids::{StaffId, UserId};
use crate::policy::{Action, AuthContext, Caller, CallerKind, Denial, authorize};
use crate::role::Role;
use chrono::{DateTime, Duration, Utc};

/// The policy context of `caller` on the organization: the acting user's role, `None` for
/// non-members and callers that are not users. Decide functions and the API's reads derive
/// it here alike.
pub fn auth_context(
    state: &OrganizationState,
    caller: &Caller,
) -> Result<AuthContext, DomainError> {
    created_and_context(state, caller).map(|(_, context)| context)
}

fn created_and_context<'s>(
    state: &'s OrganizationState,
    caller: &Caller,
) -> Result<(&'s Organization, AuthContext), DomainError> {
    let org = state
        .organization
        .as_ref()
        .ok_or(DomainError::OrganizationNotFound)?;
    let role = caller.user().and_then(|u| org.members.get(&u).copied());
    Ok((org, AuthContext::organization(role)))
}

/// The organization, once the policy lets `caller` do `action` on it.
pub(super) fn authorized<'s>(
    state: &'s OrganizationState,
    caller: &Caller,
    action: Action,
) -> Result<&'s Organization, DomainError> {
    let (org, context) = created_and_context(state, caller)?;
    authorize(caller, action, &context)?;
    Ok(org)
}

/// Decides a command on one organization stream.
pub fn decide(
    state: &OrganizationState,
    caller: &Caller,
    command: &OrganizationCommand,
) -> Result<Decision, DomainError> {
    let action = command.action();
    let org = authorized(state, caller, action)?;
    let events = match command {
        OrganizationCommand::SetMemberLimit { member_limit, at } => {
            set_member_limit(org, caller.acting_staff(action)?, *member_limit, *at)?
        }
        _ => admin(org, caller.acting_user(action)?, command)?,
    };
    let events = events.into_iter().map(Event::Organization).collect();
    Ok(Decision::one(
        org.id.stream(),
        ExpectedVersion::at(state.version),
        events,
    ))
}

fn set_member_limit(
    org: &Organization,
    staff_id: StaffId,
    member_limit: u32,
    at: DateTime<Utc>,
) -> Result<Vec<OrganizationEvent>, DomainError> {
    if member_limit == 0 || member_limit > MAX_MEMBER_LIMIT {
        let range = InputError::OutOfRange {
            min: 1,
            max: u64::from(MAX_MEMBER_LIMIT),
        };
        return Err(DomainError::invalid(Field::MemberLimit, range));
    }
    if member_limit < org.member_count() {
        return Err(DomainError::MemberLimitBelowMemberCount {
            members: org.member_count(),
        });
    }
    Ok(vec![OrganizationEvent::MemberLimitSet(MemberLimitSet {
        organization_id: org.id,
        member_limit,
        staff_id,
        at,
    })])
}

fn admin(
    org: &Organization,
    by: UserId,
    command: &OrganizationCommand,
) -> Result<Vec<OrganizationEvent>, DomainError> {
    use OrganizationCommand as C;
    let organization_id = org.id;
    let event = match command {
        C::Rename { name, at } => OrganizationEvent::Renamed(OrganizationRenamed {
            organization_id,
            name: name.clone(),
            by,
            at: *at,
        }),
        C::UpdateDetails { details, at } => {
            OrganizationEvent::DetailsUpdated(OrganizationDetailsUpdated {
                organization_id,
                details: details.clone(),
                by,
                at: *at,
            })
        }
        C::InviteMember {
            invitation_id,
            email: _,
            role,
            expires_in_s,
            at,
        } => {
            let ttl_s = expires_in_s.unwrap_or(DEFAULT_INVITATION_TTL_S);
            if !(MIN_INVITATION_TTL_S..=MAX_INVITATION_TTL_S).contains(&ttl_s) {
                let range = InputError::OutOfRange {
                    min: u64::from(MIN_INVITATION_TTL_S),
                    max: u64::from(MAX_INVITATION_TTL_S),
                };
                return Err(DomainError::invalid(Field::InvitationExpiry, range));
            }
            if org.invitations.contains_key(invitation_id) {
                return Err(DomainError::InvitationAlreadyExists(*invitation_id));
            }
            let pending = org
                .invitations
                .values()
                .filter(|i| i.expires_at > *at)
                .count();
            if pending >= MAX_PENDING_INVITATIONS {
                return Err(DomainError::TooManyPendingInvitations {
                    max: MAX_PENDING_INVITATIONS,
                });
            }
            OrganizationEvent::MemberInvited(MemberInvited {
                organization_id,
                invitation_id: *invitation_id,
                role: *role,
                invited_by: by,
                expires_at: *at + Duration::seconds(i64::from(ttl_s)),
                at: *at,
            })
        }
        C::RevokeInvitation { invitation_id, at } => {
            if !org.invitations.contains_key(invitation_id) {
                return Err(DomainError::InvitationNotFound(*invitation_id));
            }
            OrganizationEvent::InvitationRevoked(InvitationRevoked {
                organization_id,
                invitation_id: *invitation_id,
                by,
                at: *at,
            })
        }
        C::ChangeRole { user_id, role, at } => {
            let current = *org
                .members
                .get(user_id)
                .ok_or(DomainError::MemberNotFound(*user_id))?;
            if current == *role {
                return Ok(Vec::new());
            }
            if current == Role::Admin && org.admin_count() == 1 {
                return Err(DomainError::LastAdmin);
            }
            OrganizationEvent::MemberRoleChanged(MemberRoleChanged {
                organization_id,
                user_id: *user_id,
                role: *role,
                by,
                at: *at,
            })
        }
        C::SetPrivacySettings {
            retention_days,
            prompt_logging,
            at,
        } => {
            if *retention_days == 0 || *retention_days > MAX_RETENTION_DAYS {
                let range = InputError::OutOfRange {
                    min: 1,
                    max: u64::from(MAX_RETENTION_DAYS),
                };
                return Err(DomainError::invalid(Field::RetentionDays, range));
            }
            OrganizationEvent::PrivacySettingsSet(PrivacySettingsSet {
                organization_id,
                retention_days: *retention_days,
                prompt_logging: *prompt_logging,
                by,
                at: *at,
            })
        }
        C::SetBillingSettings { input, at } => {
            if input.contacts.len() > MAX_BILLING_CONTACTS {
                let too_many = InputError::TooMany {
                    max: MAX_BILLING_CONTACTS,
                };
                return Err(DomainError::invalid(Field::BillingContacts, too_many));
            }
            OrganizationEvent::BillingSettingsSet(BillingSettingsSet {
                organization_id,
                billing_profile_version: org.billing.profile_version + 1,
                payment_method_reference: input.payment_method_reference.clone(),
                by,
                at: *at,
            })
        }
        // `decide` sends it to `set_member_limit`: support's, never a user's.
        C::SetMemberLimit { .. } => {
            let denial = Denial::CallerKindNotAllowed {
                caller: CallerKind::Dashboard,
                action: Action::SetMemberLimit,
            };
            return Err(denial.into());
        }
    };
    Ok(vec![event])
}
