//! The one error type of the domain: business rules only, each with how to handle it.

use crate::ids::{GenerationId, HoldId, InvitationId, KeyId, TransferId, UserId};
use crate::policy::Denial;
use crate::text::PaymentReference;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::fmt;

/// The input field an [`InputError`] is about; the API puts it in `google.rpc.BadRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// A purchase or transfer amount.
    Amount,
    /// A key's spend limit.
    KeyLimit,
    /// A usage cost.
    Cost,
    /// A hold's estimated cost.
    Estimate,
    /// An organization's name.
    OrganizationName,
    /// An organization's details.
    OrganizationDetails,
    /// An API key's name.
    KeyName,
    /// An API key's keyed hash.
    SecretHash,
    /// An API key's display prefix.
    KeyPrefix,
    /// An expiry timestamp (key).
    ExpiresAt,
    /// An invitation's lifetime.
    InvitationExpiry,
    /// A hold's time to live.
    TtlS,
    /// An email address.
    Email,
    /// A transfer's reason.
    Reason,
    /// A transfer's ticket reference.
    Ticket,
    /// The target account of a transfer.
    TransferTarget,
    /// A payment reference from the payment provider.
    PaymentReference,
    /// A payment-method reference from the payment provider.
    PaymentMethodReference,
    /// Billing contacts.
    BillingContacts,
    /// Invoicing company name.
    CompanyName,
    /// Invoicing tax id.
    TaxId,
    /// Invoicing postal address.
    PostalAddress,
    /// A model name.
    Model,
    /// A provider name.
    Provider,
    /// A token count.
    Tokens,
    /// A latency in milliseconds.
    LatencyMs,
    /// A time to first token in milliseconds.
    TimeToFirstTokenMs,
    /// A usage's finish time.
    FinishedAt,
    /// An organization's member limit.
    MemberLimit,
    /// Activity retention in days.
    RetentionDays,
    /// A generation id.
    GenerationId,
    /// A user id.
    UserId,
    /// An organization id.
    OrganizationId,
    /// An account id.
    AccountId,
    /// A key id.
    KeyId,
    /// An invitation id.
    InvitationId,
    /// A hold id.
    HoldId,
    /// A command id.
    CommandId,
    /// A staff id.
    StaffId,
    /// A transfer id.
    TransferId,
    /// An organization's spend budget.
    Budget,
    /// A member's spend cap.
    SpendCap,
    /// A key rotation's grace period in seconds.
    GraceS,
    /// An adjustment id.
    AdjustmentId,
    /// Whether an adjustment credits or debits.
    Direction,
}

impl Field {
    /// The field's wire name (snake_case), as the API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amount => "amount",
            Self::KeyLimit => "key_limit",
            Self::Cost => "cost",
            Self::Estimate => "estimate",
            Self::OrganizationName => "organization_name",
            Self::OrganizationDetails => "organization_details",
            Self::KeyName => "key_name",
            Self::SecretHash => "secret_hash",
            Self::KeyPrefix => "key_prefix",
            Self::ExpiresAt => "expires_at",
            Self::InvitationExpiry => "invitation_expiry",
            Self::TtlS => "ttl_s",
            Self::Email => "email",
            Self::Reason => "reason",
            Self::Ticket => "ticket",
            Self::TransferTarget => "transfer_target",
            Self::PaymentReference => "payment_reference",
            Self::PaymentMethodReference => "payment_method_reference",
            Self::BillingContacts => "billing_contacts",
            Self::CompanyName => "company_name",
            Self::TaxId => "tax_id",
            Self::PostalAddress => "postal_address",
            Self::Model => "model",
            Self::Provider => "provider",
            Self::Tokens => "tokens",
            Self::LatencyMs => "latency_ms",
            Self::TimeToFirstTokenMs => "time_to_first_token_ms",
            Self::FinishedAt => "finished_at",
            Self::MemberLimit => "member_limit",
            Self::RetentionDays => "retention_days",
            Self::GenerationId => "generation_id",
            Self::UserId => "user_id",
            Self::OrganizationId => "organization_id",
            Self::AccountId => "account_id",
            Self::KeyId => "key_id",
            Self::InvitationId => "invitation_id",
            Self::HoldId => "hold_id",
            Self::CommandId => "command_id",
            Self::StaffId => "staff_id",
            Self::TransferId => "transfer_id",
            Self::Budget => "budget",
            Self::SpendCap => "cap",
            Self::GraceS => "grace_s",
            Self::AdjustmentId => "adjustment_id",
            Self::Direction => "direction",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input value was refused (the field is carried beside it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The bound.
        max: usize,
    },
    /// Contains a control character.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Not in the expected syntax.
    #[error("is malformed: {0}")]
    Malformed(&'static str),
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Zero or below where a positive value is needed.
    #[error("must be greater than zero")]
    NotPositive,
    /// More decimal places than allowed (never rounded).
    #[error("must have at most {max} decimal places")]
    TooManyDecimalPlaces {
        /// The bound.
        max: u32,
    },
    /// Above the upper bound.
    #[error("must be at most {max}")]
    TooLarge {
        /// The bound.
        max: Decimal,
    },
    /// Outside an integer range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// Lower bound, inclusive.
        min: u64,
        /// Upper bound, inclusive.
        max: u64,
    },
    /// A time that must lie after the command's time does not.
    #[error("must be in the future")]
    NotInFuture,
    /// An end time before its start time.
    #[error("must not be before the start")]
    BeforeStart,
    /// A transfer whose target is its source.
    #[error("must differ from the source account")]
    SameAccount,
    /// Too many entries in a list.
    #[error("must have at most {max} entries")]
    TooMany {
        /// The bound.
        max: usize,
    },
}

/// The classification of a [`DomainError`] the API chooses its status code from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `INVALID_ARGUMENT`, with the field for `BadRequest`.
    InvalidArgument {
        /// The offending field.
        field: Field,
    },
    /// `PERMISSION_DENIED`.
    PermissionDenied,
    /// `NOT_FOUND`.
    NotFound,
    /// `ALREADY_EXISTS`.
    AlreadyExists,
    /// `FAILED_PRECONDITION`: the state does not allow it now.
    FailedPrecondition,
    /// `RESOURCE_EXHAUSTED`: a bounded resource is full; retry later with backoff.
    ResourceExhausted,
    /// `INTERNAL`: the application did not give a decision the state it needs (a bug, not the
    /// request's fault); logged where converted, never detailed to the client.
    Internal,
}

/// Every business rule violation. No technical errors live here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// An input value is invalid. Caller: fix the named field; never retry unchanged.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field.
        field: Field,
        /// Why.
        reason: InputError,
    },
    /// The policy refused the caller. Caller: show "not allowed"; never retry.
    #[error("permission denied: {0}")]
    Denied(#[from] Denial),
    /// The user is already registered. Caller (identity): treat as done.
    #[error("user already registered")]
    UserAlreadyRegistered,
    /// No such user. Caller: register the user first.
    #[error("user not found")]
    UserNotFound,
    /// The acting user's email is not verified. Caller: ask the user to verify it, then retry.
    #[error("email not verified")]
    EmailNotVerified,
    /// The organization id is taken. Caller: use a fresh id.
    #[error("organization already exists")]
    OrganizationAlreadyExists,
    /// No such organization. Caller: show "not found".
    #[error("organization not found")]
    OrganizationNotFound,
    /// No pending invitation with this id (never sent, accepted, revoked, or pruned after expiry).
    /// Caller: show "invitation not found"; an admin may invite again.
    #[error("invitation {0} not found")]
    InvitationNotFound(InvitationId),
    /// A pending invitation already has this id. Caller: use a fresh id.
    #[error("invitation {0} already exists")]
    InvitationAlreadyExists(InvitationId),
    /// The invitation expired. Caller: show it; an admin may invite again.
    #[error("invitation expired at {expires_at}")]
    InvitationExpired {
        /// When it expired.
        expires_at: DateTime<Utc>,
    },
    /// The accepting user's verified email is not the invited one. Caller: show it; sign in
    /// with the invited address.
    #[error("invitation was sent to another email")]
    InvitationEmailMismatch,
    /// Too many pending invitations. Caller: revoke some or wait for them to expire.
    #[error("at most {max} pending invitations")]
    TooManyPendingInvitations {
        /// The bound.
        max: usize,
    },
    /// The user is already a member. Caller: treat as done or show it.
    #[error("user {0} is already a member")]
    AlreadyMember(UserId),
    /// The user is not a member. Caller: refresh the member list.
    #[error("user {0} is not a member")]
    MemberNotFound(UserId),
    /// The organization is full. Caller: show it; support can raise the limit.
    #[error("member limit {limit} reached")]
    MemberLimitReached {
        /// The organization's limit.
        limit: u32,
    },
    /// The change would leave the organization without an admin. Caller: show it; promote
    /// another admin first.
    #[error("an organization must keep at least one admin")]
    LastAdmin,
    /// A member limit below the current member count. Caller (support): choose a larger limit.
    #[error("member limit below the {members} current members")]
    MemberLimitBelowMemberCount {
        /// Current member count.
        members: u32,
    },
    /// No such account. Caller: show "not found".
    #[error("account not found")]
    AccountNotFound,
    /// The decision needs the state of the organization that owns the account (the acting
    /// user's role on an organization account, a transfer's target organization), and the
    /// state given is missing or another organization's. A bug in the application's loading,
    /// never the request's fault. Caller (the application): log it and answer `INTERNAL`; the
    /// client may retry with the same command id once the application is fixed.
    #[error("the state of the account's organization is required")]
    OrganizationStateRequired,
    /// The decision needs the state of an account it was not given: the organization's account
    /// (removing a member or leaving disables their keys there), or either account of a transfer
    /// reversal; the state given is missing or another account's.
    /// Caller (the application): as for [`DomainError::OrganizationStateRequired`].
    #[error("the state of the organization's account is required")]
    AccountStateRequired,
    /// Transfers go from a personal account to an organization account only. Caller (support):
    /// check the accounts.
    #[error("transfers go from a personal account to an organization account")]
    TransferDirection,
    /// The source account's owner is not a member of the target organization. Caller
    /// (support): have the owner join first.
    #[error("the source account's owner is not a member of the target organization")]
    OwnerNotMemberOfTarget,
    /// Available balance (balance − open holds) does not cover the amount. Caller: show
    /// "insufficient credits"; buy credits, then retry.
    #[error("available balance {available} does not cover {requested}")]
    InsufficientAvailableBalance {
        /// Balance minus open holds.
        available: Decimal,
        /// The amount asked for.
        requested: Decimal,
    },
    /// The key's remaining limit in its period does not cover the estimate. Caller (gateway):
    /// refuse the request with "key limit reached"; retry after the period resets.
    #[error("key {key_id} limit: remaining {remaining} does not cover {requested}")]
    KeyLimitExceeded {
        /// The key.
        key_id: KeyId,
        /// Limit − spend in the current period − open holds on the key.
        remaining: Decimal,
        /// The estimate asked for.
        requested: Decimal,
    },
    /// No such key in this account. Caller: show "not found"; the gateway refuses the request.
    #[error("key {0} not found")]
    KeyNotFound(KeyId),
    /// A key already has this id. Caller: use a fresh id.
    #[error("key {0} already exists")]
    KeyAlreadyExists(KeyId),
    /// The key is disabled. Caller: show it; an allowed user may enable it.
    #[error("key {0} is disabled")]
    KeyDisabled(KeyId),
    /// The key is enabled already. Caller: treat as done.
    #[error("key {0} is already enabled")]
    KeyAlreadyEnabled(KeyId),
    /// The key was deleted; deletion is final. Caller: show it; create a new key.
    #[error("key {0} is deleted")]
    KeyDeleted(KeyId),
    /// The key expired. Caller: show it; create a new key.
    #[error("key {key_id} expired at {expires_at}")]
    KeyExpired {
        /// The key.
        key_id: KeyId,
        /// When it expired.
        expires_at: DateTime<Utc>,
    },
    /// The account holds the maximum number of keys. Caller: delete unused keys.
    #[error("at most {max} keys per account")]
    TooManyKeys {
        /// The bound.
        max: usize,
    },
    /// An open hold already has this id. Caller (gateway): use a fresh id.
    #[error("hold {0} already exists")]
    HoldAlreadyExists(HoldId),
    /// No open hold with this id (unknown, settled, voided or expired). Caller (gateway):
    /// record the usage without a hold instead.
    #[error("hold {0} is not open")]
    HoldNotOpen(HoldId),
    /// The hold's TTL has not passed. Caller (expiry task): try again after `expires_at`.
    #[error("hold expires at {expires_at}")]
    HoldNotExpired {
        /// When it may be expired.
        expires_at: DateTime<Utc>,
    },
    /// The account has the maximum number of open holds. Caller (gateway): retry with
    /// backoff; holds close as requests finish.
    #[error("at most {max} open holds per account")]
    TooManyOpenHolds {
        /// The bound.
        max: usize,
    },
    /// This generation was billed already (reported by the store's unique claim). Caller
    /// (gateway): treat as done; never bill it twice.
    #[error("generation {0} already recorded")]
    GenerationAlreadyRecorded(GenerationId),
    /// This payment reference was credited to the account already, by a purchase with other
    /// content (reported by the store's unique claim; a purchase with the same content gets
    /// the first one's answer instead). Caller (dashboard): the provider's payment is booked;
    /// never credit it again, check the reference.
    #[error("payment {} was already credited to this account", .0.as_str())]
    PaymentReferenceReused(PaymentReference),
    /// The organization's budget for the period, less its settled spend and open holds, does
    /// not cover the estimate. Caller (gateway): refuse the request with "organization budget
    /// reached"; retry after the period resets or an admin raises the budget.
    #[error("organization budget: remaining {remaining} does not cover {requested}")]
    OrgBudgetReached {
        /// Budget − settled spend in the period − open holds.
        remaining: Decimal,
        /// The estimate asked for.
        requested: Decimal,
    },
    /// The spend cap of the member who created the key, less what that member's keys spent in
    /// the period and hold, does not cover the estimate. Caller (gateway): refuse the request
    /// with "member spend cap reached"; retry after the period resets or an admin raises it.
    #[error("member {member} spend cap: remaining {remaining} does not cover {requested}")]
    MemberSpendCapReached {
        /// The member the cap belongs to (the key's creator).
        member: UserId,
        /// Cap − the member's keys' spend in the period − their open holds.
        remaining: Decimal,
        /// The estimate asked for.
        requested: Decimal,
    },
    /// A member asked for a key limit above the organization's default key limit (or for no
    /// limit where a default is set). Caller (dashboard): show the default; ask for a limit
    /// within it, or ask an admin.
    #[error("key limit above the organization's default of {amount} per {period:?}")]
    KeyLimitAboveDefault {
        /// The default amount.
        amount: Decimal,
        /// The default's period.
        period: crate::period::LimitPeriod,
    },
    /// The secret presented was rotated out and its grace period is over (or a later rotation
    /// ended it). Caller (gateway): refuse the request; the key's owner has its new secret.
    #[error("this secret of key {key_id} was rotated out")]
    KeySecretRotated {
        /// The key.
        key_id: KeyId,
    },
    /// The key was rotated as often as a secret generation can count (2^32 − 1). Caller:
    /// create a new key.
    #[error("key {key_id} cannot be rotated again")]
    TooManyRotations {
        /// The key.
        key_id: KeyId,
    },
    /// The invitation is pending but the address it was sent to was erased (the invitee's
    /// personal data was erased), so no one can prove it is theirs. Caller: show it; an admin
    /// may invite again.
    #[error("the address invitation {0} was sent to was erased")]
    InvitationEmailErased(InvitationId),
    /// A support debit would take the account's available balance (balance − open holds)
    /// below zero and is not flagged as a recovery. Caller (support): debit less, or flag it
    /// as the recovery of credits owed.
    #[error("debit of {requested} would take the available balance {available} below zero")]
    AdjustmentBelowZero {
        /// Balance minus open holds.
        available: Decimal,
        /// The debit asked for.
        requested: Decimal,
    },
    /// The account never received a transfer with this id. Caller (support): check the
    /// transfer id and the account (the organization account the transfer went to).
    #[error("transfer {0} not found on this account")]
    TransferNotFound(TransferId),
    /// The transfer was reversed already; a transfer is reversed once. Caller (support): treat
    /// as done.
    #[error("transfer {0} was already reversed")]
    TransferAlreadyReversed(TransferId),
    /// No purchase with this payment reference was credited to the account. Caller: check the
    /// reference and the account.
    #[error("no purchase with payment {} on this account", .0.as_str())]
    PurchaseNotFound(PaymentReference),
    /// The purchase was refunded already; a purchase is refunded once. Caller: treat as done.
    #[error("purchase {} was already refunded", .0.as_str())]
    PurchaseAlreadyRefunded(PaymentReference),
}

impl DomainError {
    /// Shorthand for an [`DomainError::InvalidInput`].
    pub fn invalid(field: Field, reason: InputError) -> Self {
        Self::InvalidInput { field, reason }
    }

    /// The classification the API maps to a gRPC code.
    pub fn kind(&self) -> ErrorKind {
        use DomainError as E;
        match self {
            E::InvalidInput { field, .. } => ErrorKind::InvalidArgument { field: *field },
            E::Denied(_) => ErrorKind::PermissionDenied,
            E::UserNotFound
            | E::OrganizationNotFound
            | E::InvitationNotFound(_)
            | E::MemberNotFound(_)
            | E::AccountNotFound
            | E::KeyNotFound(_) => ErrorKind::NotFound,
            E::UserAlreadyRegistered
            | E::OrganizationAlreadyExists
            | E::InvitationAlreadyExists(_)
            | E::AlreadyMember(_)
            | E::KeyAlreadyExists(_)
            | E::HoldAlreadyExists(_)
            | E::GenerationAlreadyRecorded(_)
            | E::PaymentReferenceReused(_) => ErrorKind::AlreadyExists,
            E::TooManyOpenHolds { .. } => ErrorKind::ResourceExhausted,
            E::EmailNotVerified
            | E::InvitationExpired { .. }
            | E::InvitationEmailMismatch
            | E::TooManyPendingInvitations { .. }
            | E::MemberLimitReached { .. }
            | E::LastAdmin
            | E::MemberLimitBelowMemberCount { .. }
            | E::TransferDirection
            | E::OwnerNotMemberOfTarget
            | E::InsufficientAvailableBalance { .. }
            | E::KeyLimitExceeded { .. }
            | E::KeyDisabled(_)
            | E::KeyAlreadyEnabled(_)
            | E::KeyDeleted(_)
            | E::KeyExpired { .. }
            | E::TooManyKeys { .. }
            | E::HoldNotOpen(_)
            | E::HoldNotExpired { .. }
            | E::OrgBudgetReached { .. }
            | E::MemberSpendCapReached { .. }
            | E::KeyLimitAboveDefault { .. } => ErrorKind::FailedPrecondition,
            E::KeySecretRotated { .. }
            | E::TooManyRotations { .. }
            | E::InvitationEmailErased(_) => ErrorKind::FailedPrecondition,
            E::OrganizationStateRequired | E::AccountStateRequired => ErrorKind::Internal,
            E::TransferNotFound(_) | E::PurchaseNotFound(_) => ErrorKind::NotFound,
            E::AdjustmentBelowZero { .. }
            | E::TransferAlreadyReversed(_)
            | E::PurchaseAlreadyRefunded(_) => ErrorKind::FailedPrecondition,
        }
    }
}
