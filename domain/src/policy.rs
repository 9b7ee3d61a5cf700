//! The authorization policy: one pure function deciding every action of every caller.
//!
//! Decide functions call [`authorize`] themselves with a context they derive from state, so
//! no command can skip it. The API calls it directly for reads.

use crate::ids::{StaffId, UserId};
use crate::role::Role;
use serde::{Deserialize, Serialize};

/// Who is calling, as authenticated by the API (credential per caller kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Caller {
    /// The dashboard backend acting for a signed-in user.
    Dashboard {
        /// The acting user.
        user: UserId,
    },
    /// The inference gateway (hot path).
    Gateway,
    /// The identity service.
    Identity,
    /// Support staff through `ledgerctl`.
    Support {
        /// The acting staff member.
        staff: StaffId,
    },
    /// An auditor: reads only.
    Auditor,
    /// `ledgerd`'s own background tasks (the hold-expiry task).
    System,
    /// The service that emails and pages people: reads the notifications outbox only.
    Notifier,
}

/// The kind of a [`Caller`], without its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    /// See [`Caller::Dashboard`].
    Dashboard,
    /// See [`Caller::Gateway`].
    Gateway,
    /// See [`Caller::Identity`].
    Identity,
    /// See [`Caller::Support`].
    Support,
    /// See [`Caller::Auditor`].
    Auditor,
    /// See [`Caller::System`].
    System,
    /// See [`Caller::Notifier`].
    Notifier,
}

impl Caller {
    /// The caller's kind.
    pub fn kind(&self) -> CallerKind {
        match self {
            Self::Dashboard { .. } => CallerKind::Dashboard,
            Self::Gateway => CallerKind::Gateway,
            Self::Identity => CallerKind::Identity,
            Self::Support { .. } => CallerKind::Support,
            Self::Auditor => CallerKind::Auditor,
            Self::System => CallerKind::System,
            Self::Notifier => CallerKind::Notifier,
        }
    }

    /// The acting user, for dashboard callers.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Self::Dashboard { user } => Some(*user),
            _ => None,
        }
    }

    /// The user `action` is done for: a dashboard caller's user. Any other caller kind is
    /// refused as the policy refuses it, so a decide function that records the acting user
    /// stays total whatever the policy table says.
    pub fn acting_user(&self, action: Action) -> Result<UserId, Denial> {
        self.user().ok_or_else(|| self.kind_not_allowed(action))
    }

    /// The staff member `action` is done by: a support caller's staff id; any other caller
    /// kind is refused as in [`Caller::acting_user`].
    pub fn acting_staff(&self, action: Action) -> Result<StaffId, Denial> {
        match self {
            Self::Support { staff } => Ok(*staff),
            _ => Err(self.kind_not_allowed(action)),
        }
    }

    fn kind_not_allowed(&self, action: Action) -> Denial {
        Denial::CallerKindNotAllowed {
            caller: self.kind(),
            action,
        }
    }
}

/// Everything a caller can ask for: every command, and the reads the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Register a user (and open the personal account).
    RegisterUser,
    /// Mark a user's email verified.
    VerifyEmail,
    /// Create an organization.
    CreateOrganization,
    /// Rename / update details of an organization.
    UpdateOrganization,
    /// Invite by email.
    InviteMember,
    /// Accept an invitation (as the invitee).
    AcceptInvitation,
    /// Revoke an invitation.
    RevokeInvitation,
    /// Remove a member.
    RemoveMember,
    /// Change a member's role.
    ChangeRole,
    /// Leave an organization.
    LeaveOrganization,
    /// Set an organization's member limit.
    SetMemberLimit,
    /// Set privacy settings.
    SetPrivacySettings,
    /// Set billing settings, and the spending controls of the organization's account (budget,
    /// member spend caps, default key limit).
    SetBillingSettings,
    /// Purchase credits for an account.
    PurchaseCredits,
    /// Transfer credits personal → organization.
    TransferCredits,
    /// Create an API key.
    CreateKey,
    /// Rename, change limit, disable, enable or delete an API key.
    ManageKey,
    /// Place a hold.
    PlaceHold,
    /// Settle a hold.
    SettleHold,
    /// Void a hold.
    VoidHold,
    /// Expire a hold past its TTL.
    ExpireHold,
    /// Record usage without a hold.
    RecordUsage,
    /// Authenticate an API key secret by its hash.
    AuthenticateKey,
    /// Read an account's balance.
    ReadBalance,
    /// Read the activity feed.
    ReadActivity,
    /// Read usage analytics (members: filtered to their own keys by the query).
    ReadAnalytics,
    /// List keys (members: filtered to their own keys by the query).
    ListKeys,
    /// View one key.
    ViewKey,
    /// Read members and invitations.
    ReadMembers,
    /// Read billing settings.
    ReadBilling,
    /// Read privacy settings.
    ReadPrivacy,
    /// Stream, export and verify the event log.
    ReadEventLog,
    /// Erase a user's personal data (email, contacts); the log keeps only ids.
    EraseUser,
    /// Read an account's ledger postings (money in and out, with counterparts).
    ReadLedgerEntries,
    /// Read an organization's pending invitations.
    ReadInvitations,
    /// Read a user's personal account and organizations (the account switcher).
    ReadUserAccounts,
    /// Rebuild a read model from the log and swap it in (operators: support staff). Not a
    /// read: auditors, who only read, may not.
    RebuildProjection,
    /// Credit or debit an account by hand, with a reason and a ticket (support).
    AdjustCredits,
    /// Reverse a transfer personal → organization (support).
    ReverseTransfer,
    /// Record the payment provider's refund of a purchase (who records purchases).
    RefundPurchase,
    /// Read the system books of the double-entry ledger (external, revenue, transfers,
    /// adjustments).
    ReadSystemBooks,
    /// Stream the notifications outbox (the notifier only).
    ReadNotifications,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Action; 42] = [
        Self::RegisterUser,
        Self::VerifyEmail,
        Self::CreateOrganization,
        Self::UpdateOrganization,
        Self::InviteMember,
        Self::AcceptInvitation,
        Self::RevokeInvitation,
        Self::RemoveMember,
        Self::ChangeRole,
        Self::LeaveOrganization,
        Self::SetMemberLimit,
        Self::SetPrivacySettings,
        Self::SetBillingSettings,
        Self::PurchaseCredits,
        Self::TransferCredits,
        Self::CreateKey,
        Self::ManageKey,
        Self::PlaceHold,
        Self::SettleHold,
        Self::VoidHold,
        Self::ExpireHold,
        Self::RecordUsage,
        Self::AuthenticateKey,
        Self::ReadBalance,
        Self::ReadActivity,
        Self::ReadAnalytics,
        Self::ListKeys,
        Self::ViewKey,
        Self::ReadMembers,
        Self::ReadBilling,
        Self::ReadPrivacy,
        Self::ReadEventLog,
        Self::EraseUser,
        Self::ReadLedgerEntries,
        Self::ReadInvitations,
        Self::ReadUserAccounts,
        Self::RebuildProjection,
        Self::AdjustCredits,
        Self::ReverseTransfer,
        Self::RefundPurchase,
        Self::ReadSystemBooks,
        Self::ReadNotifications,
    ];
}

/// The resource an action is about, as seen from the acting user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// No particular resource (create organization, accept an invitation, register).
    Global,
    /// An organization or its account; `role` is the acting user's role, `None` if not a member.
    Organization {
        /// The acting user's role.
        role: Option<Role>,
    },
    /// A personal account.
    PersonalAccount {
        /// Whether the acting user owns it.
        is_owner: bool,
    },
}

/// The facts the policy needs, derived by decide functions from state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthContext {
    /// The resource.
    pub scope: Scope,
    /// For key actions: whether the acting user created the key.
    pub key_created_by_actor: bool,
}

impl AuthContext {
    /// No resource.
    pub const GLOBAL: AuthContext = AuthContext {
        scope: Scope::Global,
        key_created_by_actor: false,
    };

    /// An organization (or its account) with the acting user's role.
    pub fn organization(role: Option<Role>) -> Self {
        Self {
            scope: Scope::Organization { role },
            key_created_by_actor: false,
        }
    }

    /// A personal account.
    pub fn personal(is_owner: bool) -> Self {
        Self {
            scope: Scope::PersonalAccount { is_owner },
            key_created_by_actor: false,
        }
    }

    /// Marks whether the acting user created the key concerned.
    pub fn with_key_creator(mut self, created_by_actor: bool) -> Self {
        self.key_created_by_actor = created_by_actor;
        self
    }
}

/// Why the policy refused. Each is a distinct, user-presentable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "denial", rename_all = "snake_case")]
pub enum Denial {
    /// This kind of caller may never do this action.
    #[error("{caller:?} callers may not {action:?}")]
    CallerKindNotAllowed {
        /// The caller kind.
        caller: CallerKind,
        /// The action.
        action: Action,
    },
    /// The acting user is not a member of the organization.
    #[error("not a member of the organization")]
    NotAMember,
    /// Only admins of the organization may do this.
    #[error("admins only")]
    AdminsOnly,
    /// Members manage only keys they created.
    #[error("not the key's creator")]
    NotKeyCreator,
    /// Only the owner of the personal account may do this.
    #[error("not the account's owner")]
    NotAccountOwner,
    /// The action needs a resource of another kind (e.g. privacy settings of a personal account).
    #[error("no such resource for this action")]
    WrongResource,
}

/// What a dashboard user needs for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Anyone,
    OrgAdmin,
    OrgMember,
    OwnerOrAdmin,
    OwnerOrMember,
    OwnerOrAdminOrKeyCreator,
    /// The user whose personal account it is; organizations are the wrong resource.
    PersonalOwner,
}

fn dashboard_need(action: Action) -> Option<Need> {
    use Action as A;
    Some(match action {
        A::CreateOrganization | A::AcceptInvitation => Need::Anyone,
        A::UpdateOrganization
        | A::InviteMember
        | A::RevokeInvitation
        | A::RemoveMember
        | A::ChangeRole
        | A::SetPrivacySettings
        | A::SetBillingSettings
        | A::ReadInvitations => Need::OrgAdmin,
        A::LeaveOrganization | A::ReadMembers => Need::OrgMember,
        A::PurchaseCredits
        | A::ReadBilling
        | A::ReadPrivacy
        | A::ReadLedgerEntries
        | A::RefundPurchase => Need::OwnerOrAdmin,
        A::ReadUserAccounts => Need::PersonalOwner,
        A::CreateKey | A::ReadBalance | A::ReadActivity | A::ReadAnalytics | A::ListKeys => {
            Need::OwnerOrMember
        }
        A::ManageKey | A::ViewKey => Need::OwnerOrAdminOrKeyCreator,
        _ => return None,
    })
}

fn kind_allowed(kind: CallerKind, action: Action) -> bool {
    use Action as A;
    let read = matches!(
        action,
        A::ReadBalance
            | A::ReadActivity
            | A::ReadAnalytics
            | A::ListKeys
            | A::ViewKey
            | A::ReadMembers
            | A::ReadBilling
            | A::ReadPrivacy
            | A::ReadEventLog
            | A::ReadLedgerEntries
            | A::ReadInvitations
            | A::ReadUserAccounts
            | A::ReadSystemBooks
    );
    match kind {
        CallerKind::Dashboard => dashboard_need(action).is_some(),
        CallerKind::Identity => matches!(action, A::RegisterUser | A::VerifyEmail | A::EraseUser),
        CallerKind::Gateway => matches!(
            action,
            A::PlaceHold
                | A::SettleHold
                | A::VoidHold
                | A::RecordUsage
                | A::AuthenticateKey
                | A::ReadPrivacy
        ),
        CallerKind::Support => {
            read || matches!(
                action,
                A::TransferCredits
                    | A::SetMemberLimit
                    | A::EraseUser
                    | A::RebuildProjection
                    | A::AdjustCredits
                    | A::ReverseTransfer
            )
        }
        CallerKind::Auditor => read,
        CallerKind::System => matches!(action, A::ExpireHold),
        CallerKind::Notifier => matches!(action, A::ReadNotifications),
    }
}

fn check_need(need: Need, ctx: &AuthContext) -> Result<(), Denial> {
    match (need, ctx.scope) {
        (Need::Anyone, _) => Ok(()),
        (_, Scope::Global) => Err(Denial::WrongResource),
        (Need::OrgAdmin | Need::OrgMember, Scope::PersonalAccount { .. }) => {
            Err(Denial::WrongResource)
        }
        (Need::PersonalOwner, Scope::Organization { .. }) => Err(Denial::WrongResource),
        (_, Scope::PersonalAccount { is_owner: true }) => Ok(()),
        (_, Scope::PersonalAccount { is_owner: false }) => Err(Denial::NotAccountOwner),
        (_, Scope::Organization { role: None }) => Err(Denial::NotAMember),
        (
            _,
            Scope::Organization {
                role: Some(Role::Admin),
            },
        ) => Ok(()),
        (
            Need::OrgMember | Need::OwnerOrMember,
            Scope::Organization {
                role: Some(Role::Member),
            },
        ) => Ok(()),
        (
            Need::OwnerOrAdminOrKeyCreator,
            Scope::Organization {
                role: Some(Role::Member),
            },
        ) => {
            if ctx.key_created_by_actor {
                Ok(())
            } else {
                Err(Denial::NotKeyCreator)
            }
        }
        (
            Need::OrgAdmin | Need::OwnerOrAdmin,
            Scope::Organization {
                role: Some(Role::Member),
            },
        ) => Err(Denial::AdminsOnly),
    }
}

/// Allows or denies `action` by `caller` on the resource described by `ctx`.
///
/// Caller kinds first (identity registers and verifies; the gateway holds, settles, voids,
/// records usage and authenticates keys; support transfers, sets member limits and reads;
/// auditors only read; the system expires holds; the notifier reads the notifications outbox),
/// then, for dashboard users, the role in the organization, ownership of the personal account,
/// and authorship of the key.
pub fn authorize(caller: &Caller, action: Action, ctx: &AuthContext) -> Result<(), Denial> {
    let kind = caller.kind();
    if !kind_allowed(kind, action) {
        return Err(caller.kind_not_allowed(action));
    }
    match dashboard_need(action) {
        Some(need) if kind == CallerKind::Dashboard => check_need(need, ctx),
        _ => Ok(()),
    }
}
