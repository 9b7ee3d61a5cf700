//! Commands that change who belongs to an organization: accepting an invitation, a member
//! removed or leaving. Removing and leaving also disable the member's keys in the organization's
//! account.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::organization::{self, OrganizationState};
use ledger_domain::user::UserState;
use ledger_domain::{
    Action, AuthContext, Caller, DomainError, InvitationId, OrganizationId, authorize,
};

use crate::app::{AccountView, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;
use crate::personal;

/// The acting user accepts an invitation sent to their verified address.
pub struct AcceptInvitation {
    /// The inviting organization.
    pub organization: OrganizationId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// Now.
    pub at: DateTime<Utc>,
}

/// What accepting decides on: the organization, the user, and both addresses from the
/// erasable table.
pub struct Acceptance {
    organization: Arc<OrganizationState>,
    user: Arc<UserState>,
    command: organization::AcceptInvitation,
}

impl LedgerCommand for AcceptInvitation {
    type Reply = ();
    type State = Acceptance;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "AcceptInvitation"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.organization.stream()])
    }

    async fn load(&self, from: &Loader<'_>, caller: &Caller) -> Result<Acceptance, AppError> {
        let Some(user_id) = caller.user() else {
            authorize(caller, Action::AcceptInvitation, &AuthContext::GLOBAL)
                .map_err(DomainError::from)?;
            return Err(AppError::Internal(
                "the policy let a non-user accept".into(),
            ));
        };
        let pool = &from.app().log;
        let organization = from.organization(self.organization).await?;
        let Some(invitation_email) =
            personal::invitation_email(pool, self.organization, self.invitation_id).await?
        else {
            return Err(no_address(&organization, self.invitation_id).into());
        };
        let user_verified_email = personal::verified_email(pool, user_id)
            .await?
            .ok_or(DomainError::EmailNotVerified)?;
        Ok(Acceptance {
            organization,
            user: from.user(user_id).await?,
            command: organization::AcceptInvitation {
                invitation_id: self.invitation_id,
                invitation_email,
                user_verified_email,
                at: self.at,
            },
        })
    }

    fn decide(&self, state: &Acceptance, caller: &Caller) -> Result<Decided<()>, AppError> {
        let decision = organization::accept_invitation(
            &state.organization,
            &state.user,
            caller,
            &state.command,
        )?;
        Ok(Decided::events(decision))
    }
}

/// Why an invitation has no stored address: the organization still has it pending, so its
/// address was erased (`INVITATION_EMAIL_ERASED`); or there is no such pending invitation.
fn no_address(organization: &OrganizationState, invitation_id: InvitationId) -> DomainError {
    let pending = organization
        .organization
        .as_ref()
        .is_some_and(|o| o.invitations.contains_key(&invitation_id));
    if pending {
        DomainError::InvitationEmailErased(invitation_id)
    } else {
        DomainError::InvitationNotFound(invitation_id)
    }
}

/// A member goes: removed by an admin, or leaving by themself.
pub enum Departure {
    /// An admin removes the member.
    Removed(organization::RemoveMember),
    /// The acting user leaves.
    Left(organization::LeaveOrganization),
}

/// A member leaves an organization or is removed from it.
pub struct ChangeMembership {
    /// The organization.
    pub organization: OrganizationId,
    /// Who goes, and how.
    pub departure: Departure,
}

impl LedgerCommand for ChangeMembership {
    type Reply = ();
    type State = (Arc<OrganizationState>, Arc<AccountView>);
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        match self.departure {
            Departure::Removed(_) => "RemoveMember",
            Departure::Left(_) => "LeaveOrganization",
        }
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.organization.stream()])
    }

    /// The organization and its account (empty when the organization does not exist: the
    /// decide function then refuses with `OrganizationNotFound` before looking at it).
    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        let state = from.organization(self.organization).await?;
        let account = match state.organization.as_ref() {
            Some(org) => from.account(org.account_id).await?,
            None => Arc::default(),
        };
        Ok((state, account))
    }

    fn decide(
        &self,
        (org, account): &Self::State,
        caller: &Caller,
    ) -> Result<Decided<()>, AppError> {
        let decision = match &self.departure {
            Departure::Removed(cmd) => {
                organization::remove_member(org, &account.state, caller, cmd)
            }
            Departure::Left(cmd) => organization::leave(org, &account.state, caller, cmd),
        }?;
        Ok(Decided::events(decision))
    }
}
