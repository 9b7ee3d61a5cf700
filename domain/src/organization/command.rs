//! Commands on organizations. Emails and invoicing details appear here, never in events.

use crate::email::Email;
use crate::ids::{AccountId, InvitationId, OrganizationId, UserId};
use crate::policy::Action;
use crate::role::Role;
use crate::text::{
    CompanyName, OrganizationDetails, OrganizationName, PaymentMethodReference, PostalAddress,
    TaxId,
};
use chrono::{DateTime, Utc};

/// Create an organization (dashboard user with a verified email); opens its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOrganization {
    /// The new organization.
    pub organization_id: OrganizationId,
    /// Its new account.
    pub account_id: AccountId,
    /// Its name.
    pub name: OrganizationName,
    /// Its details.
    pub details: Option<OrganizationDetails>,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Accept an invitation as the acting user. Both emails are read by the app from the
/// erasable table; the domain compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptInvitation {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The address the invitation was sent to.
    pub invitation_email: Email,
    /// The accepting user's verified address.
    pub user_verified_email: Email,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Remove a member (admin); their keys in the organization's account are disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveMember {
    /// The member.
    pub user_id: UserId,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Leave the organization (the acting user); their keys in its account are disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveOrganization {
    /// Now.
    pub at: DateTime<Utc>,
}

/// Billing settings as the dashboard sends them. Contacts and invoicing details are
/// personal data: the app stores them in the erasable table under the new profile version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingSettingsInput {
    /// Billing contacts, at most 10.
    pub contacts: Vec<Email>,
    /// Invoicing company name.
    pub company_name: Option<CompanyName>,
    /// Invoicing tax id.
    pub tax_id: Option<TaxId>,
    /// Invoicing postal address.
    pub address: Option<PostalAddress>,
    /// The payment provider's payment-method reference (never card data).
    pub payment_method_reference: Option<PaymentMethodReference>,
}

/// A command on one organization stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationCommand {
    /// Rename (admin).
    Rename {
        /// The new name.
        name: OrganizationName,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Update or clear details (admin).
    UpdateDetails {
        /// The new details.
        details: Option<OrganizationDetails>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Invite by email with a role (admin).
    InviteMember {
        /// The new invitation.
        invitation_id: InvitationId,
        /// The invitee's address (stored by the app outside the log).
        email: Email,
        /// The role granted.
        role: Role,
        /// Lifetime, 1 h ..= 30 days; default 7 days.
        expires_in_s: Option<u32>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Revoke a pending invitation (admin).
    RevokeInvitation {
        /// The invitation.
        invitation_id: InvitationId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Change a member's role (admin).
    ChangeRole {
        /// The member.
        user_id: UserId,
        /// The new role.
        role: Role,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set the member limit (support).
    SetMemberLimit {
        /// The new limit, ≥ current members, ≤ 10,000.
        member_limit: u32,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set privacy settings (admin).
    SetPrivacySettings {
        /// Days the activity feed keeps rows, 1..=3650.
        retention_days: u32,
        /// Prompt-logging opt-in.
        prompt_logging: bool,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set billing settings (admin).
    SetBillingSettings {
        /// The settings.
        input: BillingSettingsInput,
        /// Now.
        at: DateTime<Utc>,
    },
}

impl OrganizationCommand {
    /// The policy action the command asks for.
    pub fn action(&self) -> Action {
        use OrganizationCommand as C;
        match self {
            C::Rename { .. } | C::UpdateDetails { .. } => Action::UpdateOrganization,
            C::InviteMember { .. } => Action::InviteMember,
            C::RevokeInvitation { .. } => Action::RevokeInvitation,
            C::ChangeRole { .. } => Action::ChangeRole,
            C::SetMemberLimit { .. } => Action::SetMemberLimit,
            C::SetPrivacySettings { .. } => Action::SetPrivacySettings,
            C::SetBillingSettings { .. } => Action::SetBillingSettings,
        }
    }
}
