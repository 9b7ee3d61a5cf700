//! Commands on one organization: creation, profile, invitations, settings.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::organization::{
    self, BillingSettingsInput, OrganizationCommand, OrganizationEvent, OrganizationState,
};
use ledger_domain::user::UserState;
use ledger_domain::{AccountId, Caller, Decision, Email, Event, InvitationId, OrganizationId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::app::{App, Decided, LedgerCommand, Loader, RetryCheck, Route};
use crate::error::AppError;
use crate::personal;

/// An organization command; `W` is what it keeps outside the log, which also decides how a
/// retry is recognised and what the reply is.
pub struct OnOrganization<W = LogOnly> {
    /// The organization the command changes.
    pub organization: OrganizationId,
    /// What to do.
    pub command: OrganizationCommand,
    /// What is written outside the log before the append.
    pub outside_log: W,
}

impl OnOrganization {
    /// `command` on `organization`, keeping nothing outside the log.
    pub fn new(organization: OrganizationId, command: OrganizationCommand) -> Self {
        Self {
            organization,
            command,
            outside_log: LogOnly,
        }
    }
}

/// What an organization command writes outside the log (erasable personal data), and the
/// reply it reads from its decision.
pub trait OutsideLog: Send + Sync {
    /// The command's reply.
    type Reply: Serialize + DeserializeOwned + Send;
    /// [`RetryCheck::BeforeDeciding`] for whatever writes, so a retry never writes twice.
    const RETRY: RetryCheck;

    /// The reply to `decision`.
    fn reply(decision: &Decision) -> Self::Reply;

    /// Writes it, for `organization`, before `decision` is appended.
    fn write(
        &self,
        app: &App,
        organization: OrganizationId,
        decision: &Decision,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
}

/// Nothing outside the log: the command only reads and decides, so the append recognises a
/// retry.
pub struct LogOnly;

impl OutsideLog for LogOnly {
    type Reply = ();
    const RETRY: RetryCheck = RetryCheck::AtAppend;

    fn reply(_: &Decision) {}

    async fn write(&self, _: &App, _: OrganizationId, _: &Decision) -> Result<(), AppError> {
        Ok(())
    }
}

impl<W: OutsideLog> LedgerCommand for OnOrganization<W> {
    type Reply = W::Reply;
    type State = Arc<OrganizationState>;
    const RETRY: RetryCheck = W::RETRY;

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

    fn decide(&self, state: &Self::State, caller: &Caller) -> Result<Decided<W::Reply>, AppError> {
        let decision = organization::decide(state, caller, &self.command)?;
        Ok(Decided {
            reply: W::reply(&decision),
            decision,
        })
    }

    fn write_outside_log(
        &self,
        app: &App,
        decided: &Decided<W::Reply>,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        self.outside_log
            .write(app, self.organization, &decided.decision)
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

/// The invitee of an invitation (the domain command carries the same id and address): the
/// address is kept in the erasable table, never in the log.
pub struct Invitee {
    /// The invitation's id.
    pub invitation_id: InvitationId,
    /// The invitee's address.
    pub email: Email,
}

/// What a retry of an invitation gets again.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberInvited {
    /// When the invitation expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl OutsideLog for Invitee {
    type Reply = MemberInvited;
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn reply(decision: &Decision) -> MemberInvited {
        let expires_at = decision.events().find_map(|event| match event {
            Event::Organization(OrganizationEvent::MemberInvited(invited)) => {
                Some(invited.expires_at)
            }
            _ => None,
        });
        MemberInvited { expires_at }
    }

    async fn write(
        &self,
        app: &App,
        organization: OrganizationId,
        _: &Decision,
    ) -> Result<(), AppError> {
        personal::store_invitation(&app.log, organization, self.invitation_id, &self.email).await
    }
}

/// An organization's billing settings as entered (the domain command carries the same): the
/// contact details go to the erasable table under the profile version the decision assigns.
pub struct BillingContacts(pub BillingSettingsInput);

impl OutsideLog for BillingContacts {
    type Reply = ();
    const RETRY: RetryCheck = RetryCheck::BeforeDeciding;

    fn reply(_: &Decision) {}

    async fn write(
        &self,
        app: &App,
        organization: OrganizationId,
        decision: &Decision,
    ) -> Result<(), AppError> {
        let version = decision.events().find_map(|event| match event {
            Event::Organization(OrganizationEvent::BillingSettingsSet(set)) => {
                Some(set.billing_profile_version)
            }
            _ => None,
        });
        match version {
            Some(version) => {
                personal::store_billing(&app.log, organization, version, &self.0).await
            }
            None => Ok(()),
        }
    }
}
