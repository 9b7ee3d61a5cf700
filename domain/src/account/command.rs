//! Commands on an account stream. Every command carries its ids and its time (`at` = now).

use super::AdjustmentDirection;
use super::{KeyLimit, UsageReport};
use crate::ids::{AccountId, AdjustmentId, HoldId, KeyId, TransferId, UserId};
use crate::money::Credits;
use crate::policy::Action;
use crate::text::{
    KeyName, KeyPrefix, PaymentReference, SecretHash, TicketReference, TransferReason,
};
use chrono::{DateTime, Utc};

/// A command on one account stream (transfers, touching two, are [`TransferCredits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Buy credits (personal owner, or organization admin).
    PurchaseCredits {
        /// Credits bought (purchase rules).
        amount: Credits,
        /// The payment provider's reference.
        payment_reference: PaymentReference,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Create an API key (personal owner, or organization member/admin).
    CreateKey {
        /// The new key.
        key_id: KeyId,
        /// Its name.
        name: KeyName,
        /// Keyed hash of the secret, computed outside the domain.
        secret_hash: SecretHash,
        /// Display prefix.
        prefix: KeyPrefix,
        /// Spend limit.
        limit: Option<KeyLimit>,
        /// Expiry; must be after `at`.
        expires_at: Option<DateTime<Utc>>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Rename a key.
    RenameKey {
        /// The key.
        key_id: KeyId,
        /// The new name.
        name: KeyName,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Change (or remove) a key's limit; takes effect immediately.
    ChangeKeyLimit {
        /// The key.
        key_id: KeyId,
        /// The new limit.
        limit: Option<KeyLimit>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Disable a key.
    DisableKey {
        /// The key.
        key_id: KeyId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Enable a disabled key.
    EnableKey {
        /// The key.
        key_id: KeyId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Delete a key (final).
    DeleteKey {
        /// The key.
        key_id: KeyId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Give a key a new secret; the previous one keeps working for `grace_s` seconds.
    RotateKey {
        /// The key.
        key_id: KeyId,
        /// Keyed hash of the new secret, computed outside the domain.
        secret_hash: SecretHash,
        /// Display prefix of the new secret.
        prefix: KeyPrefix,
        /// How long the previous secret keeps working, 0..=[`super::MAX_ROTATION_GRACE_S`].
        grace_s: u32,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set, move or clear a key's expiry; a new expiry must be after `at`.
    ChangeKeyExpiry {
        /// The key.
        key_id: KeyId,
        /// The new expiry (`None`: never).
        expires_at: Option<DateTime<Utc>>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Hold a request's estimated cost (gateway).
    PlaceHold {
        /// The new hold.
        hold_id: HoldId,
        /// The key used.
        key_id: KeyId,
        /// The estimate (usage rules).
        estimate: Credits,
        /// Time to live, 1..=86,400 s.
        ttl_s: u32,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Bill the actual cost and release the hold (gateway).
    SettleHold {
        /// The hold.
        hold_id: HoldId,
        /// What happened.
        usage: UsageReport,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Release a hold without billing (gateway).
    VoidHold {
        /// The hold.
        hold_id: HoldId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Release a hold past its TTL (system expiry task).
    ExpireHold {
        /// The hold.
        hold_id: HoldId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Bill usage without a hold (gateway); always accepted for a key of this account.
    RecordUsage {
        /// The key used.
        key_id: KeyId,
        /// What happened.
        usage: UsageReport,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set (or clear) the organization account's spend budget per period (admins).
    SetBudget {
        /// Amount per daily, weekly or monthly period; `None` clears it.
        budget: Option<KeyLimit>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Cap (or uncap) what the keys a member created may spend together per period (admins).
    SetMemberSpendCap {
        /// The member (must be one to be capped; anyone may be uncapped).
        member: UserId,
        /// Amount per daily, weekly or monthly period; `None` removes the cap.
        cap: Option<KeyLimit>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set (or clear) the limit members' new keys get and may not exceed (admins).
    SetDefaultKeyLimit {
        /// The default; `None` clears it.
        limit: Option<KeyLimit>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Credit or debit the account by hand (support). A debit never takes the available
    /// balance below zero unless flagged as a recovery.
    AdjustCredits {
        /// The adjustment.
        adjustment_id: AdjustmentId,
        /// Credit or debit.
        direction: AdjustmentDirection,
        /// Credits (purchase rules).
        amount: Credits,
        /// Why, 1..=500 characters.
        reason: TransferReason,
        /// The support ticket, 1..=100 characters.
        ticket: TicketReference,
        /// A debit that recovers credits owed: allowed below zero.
        recovery: bool,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Record the payment provider's refund of a purchase, by its payment reference.
    RefundPurchase {
        /// The purchase's payment reference.
        payment_reference: PaymentReference,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set (or clear) the balance below which the notifier is told (admins).
    SetLowBalanceThreshold {
        /// The threshold (purchase-amount rules); `None` clears it.
        threshold: Option<Credits>,
        /// Now.
        at: DateTime<Utc>,
    },
}

impl AccountCommand {
    /// The policy action the command asks for.
    pub fn action(&self) -> Action {
        use AccountCommand as C;
        match self {
            C::PurchaseCredits { .. } => Action::PurchaseCredits,
            C::CreateKey { .. } => Action::CreateKey,
            C::RenameKey { .. }
            | C::ChangeKeyLimit { .. }
            | C::DisableKey { .. }
            | C::EnableKey { .. }
            | C::DeleteKey { .. }
            | C::RotateKey { .. }
            | C::ChangeKeyExpiry { .. } => Action::ManageKey,
            C::PlaceHold { .. } => Action::PlaceHold,
            C::SettleHold { .. } => Action::SettleHold,
            C::VoidHold { .. } => Action::VoidHold,
            C::ExpireHold { .. } => Action::ExpireHold,
            C::RecordUsage { .. } => Action::RecordUsage,
            C::SetBudget { .. }
            | C::SetMemberSpendCap { .. }
            | C::SetDefaultKeyLimit { .. }
            | C::SetLowBalanceThreshold { .. } => Action::SetBillingSettings,
            C::AdjustCredits { .. } => Action::AdjustCredits,
            C::RefundPurchase { .. } => Action::RefundPurchase,
        }
    }
}

/// Move credits from a personal account to an organization account (support only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferCredits {
    /// The transfer.
    pub transfer_id: TransferId,
    /// The personal source account.
    pub from: AccountId,
    /// The organization target account.
    pub to: AccountId,
    /// Credits (purchase rules).
    pub amount: Credits,
    /// Why, 1..=500 characters.
    pub reason: TransferReason,
    /// The support ticket, 1..=100 characters.
    pub ticket: TicketReference,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Reverse a transfer personal → organization (support only): the organization account gives
/// the transfer's credits back to its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseTransfer {
    /// The transfer.
    pub transfer_id: TransferId,
    /// The organization account the transfer went to.
    pub account: AccountId,
    /// Why, 1..=500 characters.
    pub reason: TransferReason,
    /// The support ticket, 1..=100 characters.
    pub ticket: TicketReference,
    /// Now.
    pub at: DateTime<Utc>,
}
