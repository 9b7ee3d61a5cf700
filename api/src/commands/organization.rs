//! Commands on one organization: creation, profile, invitations, settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::organization::{
    self, BillingSettingsInput, OrganizationCommand, OrganizationEvent, OrganizationState,
};
use ledger_domain::user::UserState;
use ledger_domain::{AccountId, Caller, Email, Event, InvitationId, OrganizationId};
use serde::{Deserialize, Serialize};

use crate::app::{App, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;
use crate::personal;

/// An organization command that only reads and decides.
pub struct OnOrganization {
    /// The organization the command changes.
    pub organization: OrganizationId,
    /// What to do.
    pub command: OrganizationCommand,
}

impl LedgerCommand for OnOrganization {
    type Reply = ();
    type State = Arc<OrganizationState>;

    fn rpc(&self) -> &'static str {
        match self.command {
            OrganizationCommand::Rename { .. } => "RenameOrganization",
            OrganizationCommand::UpdateDetails { .. } => "UpdateOrganizationDetails",
            OrganizationCommand::InviteMember { .. } => "InviteMember",
            OrganizationCommand::RevokeInvitation { .. } => "RevokeInvitation",
            OrganizationCommand::ChangeRole { .. } => "ChangeMemberRole",
            OrganizationCommand::SetMemberLimit { .. } => "SetMemberLimit",
            OrganizationCommand::SetPrivacySettings { .. } => "SetPrivacySettings",
            OrganizationCommand::SetBillingSettings { .. } => "SetBillingSettings",
        }
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.organization.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.organization(self.organization).await
    }

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        let decision = organization::decide(state, caller, &self.command)?;
        Ok(Decided::events(decision))
    }
}

/// Creates an organization with its account; the creator becomes its first admin.
pub struct CreateOrganization(pub organization::CreateOrganization);

/// What a retry of [`CreateOrganization`] gets again.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrganizationCreated {
    /// The organization's new account.
    pub account_id: AccountId,
}

impl LedgerCommand for CreateOrganization {
    type Reply = OrganizationCreated;
    /// The organization (empty unless the id is taken) and the creator.
    type State = (Arc<OrganizationState>, Arc<UserState>);
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "CreateOrganization"
    }

    fn route(&self) -> Route {
        Route::Streams(Vec::new())
    }

    async fn load(&self, from: &Loader<'_>, caller: &Caller) -> Result<Self::State, AppError> {
        let state = from.organization(self.0.organization_id).await?;
        let creator = match caller.user() {
            Some(user) => from.user(user).await?,
            None => Arc::default(),
        };
        Ok((state, creator))
    }

    fn decide(
        &self,
        (state, creator): &Self::State,
        caller: &Caller,
    ) -> Result<Decided<OrganizationCreated>, AppError> {
        Ok(Decided {
            decision: organization::create(state, creator, caller, &self.0)?,
            reply: OrganizationCreated {
                account_id: self.0.account_id,
            },
        })
    }
}

/// Invites an email address to an organization; the address is kept in the erasable table,
/// never in the log.
pub struct InviteMember {
    /// The inviting organization.
    pub organization: OrganizationId,
    /// The invitation's id.
    pub invitation_id: InvitationId,
    /// The invitee's address.
    pub email: Email,
    /// The domain command (carrying the same id and address).
    pub command: OrganizationCommand,
}

/// What a retry of [`InviteMember`] gets again.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberInvited {
    /// When the invitation expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl LedgerCommand for InviteMember {
    type Reply = MemberInvited;
    type State = Arc<OrganizationState>;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "InviteMember"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.organization.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.organization(self.organization).await
    }

    fn decide(
        &self,
        state: &Self::State,
        caller: &Caller,
    ) -> Result<Decided<MemberInvited>, AppError> {
        let decision = organization::decide(state, caller, &self.command)?;
        let expires_at = decision.events().find_map(|event| match event {
            Event::Organization(OrganizationEvent::MemberInvited(invited)) => {
                Some(invited.expires_at)
            }
            _ => None,
        });
        Ok(Decided {
            decision,
            reply: MemberInvited { expires_at },
        })
    }

    async fn write_outside_log(
        &self,
        app: &App,
        _decided: &Decided<MemberInvited>,
    ) -> Result<(), AppError> {
        personal::store_invitation(
            &app.pool,
            self.organization,
            self.invitation_id,
            &self.email,
        )
        .await
    }
}

/// Sets an organization's billing settings; the contact details go to the erasable table.
pub struct SetBillingSettings {
    /// The organization.
    pub organization: OrganizationId,
    /// The settings as entered.
    pub input: BillingSettingsInput,
    /// The domain command (carrying the same settings).
    pub command: OrganizationCommand,
}

impl LedgerCommand for SetBillingSettings {
    type Reply = ();
    type State = Arc<OrganizationState>;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn rpc(&self) -> &'static str {
        "SetBillingSettings"
    }

    fn route(&self) -> Route {
        Route::Streams(vec![self.organization.stream()])
    }

    async fn load(&self, from: &Loader<'_>, _caller: &Caller) -> Result<Self::State, AppError> {
        from.organization(self.organization).await
    }

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<()>, AppError> {
        let decision = organization::decide(state, caller, &self.command)?;
        Ok(Decided::events(decision))
    }

    async fn write_outside_log(&self, app: &App, decided: &Decided<()>) -> Result<(), AppError> {
        let version = decided.decision.events().find_map(|event| match event {
            Event::Organization(OrganizationEvent::BillingSettingsSet(set)) => {
                Some(set.billing_profile_version)
            }
            _ => None,
        });
        match version {
            Some(version) => {
                personal::store_billing(&app.pool, self.organization, version, &self.input).await
            }
            None => Ok(()),
        }
    }
}
