//! Events of the account stream. Ids, amounts and metadata only: no personal data.

use super::{AccountOwner, KeyLimit, Usage};
use crate::decision::UniqueClaim;
use crate::ids::{AccountId, AdjustmentId, HoldId, KeyId, StaffId, TransferId, UserId};
use crate::money::Credits;
use crate::period::LimitPeriod;
use crate::text::{
    KeyName, KeyPrefix, PaymentReference, SecretHash, TicketReference, TransferReason,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `account.opened` v1: a personal account (at registration) or an organization account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    /// The account.
    pub account_id: AccountId,
    /// Its owner.
    pub owner: AccountOwner,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.credits_purchased` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsPurchased {
    /// The account.
    pub account_id: AccountId,
    /// Credits bought.
    pub amount: Credits,
    /// The payment provider's reference.
    pub payment_reference: PaymentReference,
    /// The owner or admin who bought them.
    pub purchased_by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.transferred_out` v1: credits left this (personal) account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredOut {
    /// The source account.
    pub account_id: AccountId,
    /// The transfer.
    pub transfer_id: TransferId,
    /// The target account.
    pub to_account_id: AccountId,
    /// Credits moved.
    pub amount: Credits,
    /// Why.
    pub reason: TransferReason,
    /// The support ticket.
    pub ticket: TicketReference,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.transferred_in` v1: credits arrived in this (organization) account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredIn {
    /// The target account.
    pub account_id: AccountId,
    /// The transfer.
    pub transfer_id: TransferId,
    /// The source account.
    pub from_account_id: AccountId,
    /// Credits moved.
    pub amount: Credits,
    /// Why.
    pub reason: TransferReason,
    /// The support ticket.
    pub ticket: TicketReference,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_created` v1. Holds the keyed hash and display prefix, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCreated {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// Its creator.
    pub created_by: UserId,
    /// Its name.
    pub name: KeyName,
    /// Keyed hash of the secret (hex).
    pub secret_hash: SecretHash,
    /// Display prefix.
    pub prefix: KeyPrefix,
    /// Spend limit.
    pub limit: Option<KeyLimit>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_renamed` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRenamed {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// The new name.
    pub name: KeyName,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_limit_changed` v1; takes effect immediately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimitChanged {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// The new limit (`null`: unlimited).
    pub limit: Option<KeyLimit>,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why a key was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisableCause {
    /// A user disabled it.
    Manual,
    /// Its creator left the organization.
    CreatorLeft,
    /// Its creator was removed from the organization.
    CreatorRemoved,
}

/// `account.key_disabled` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDisabled {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// Why.
    pub cause: DisableCause,
    /// Who (the leaving member, or the removing admin).
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_enabled` v1 and `account.key_deleted` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChanged {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_rotated` v1: the key has a new secret; the previous one keeps working until
/// `previous_valid_until` (an earlier secret, from before the previous one, stops at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotated {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// Keyed hash of the new secret (hex).
    pub secret_hash: SecretHash,
    /// Display prefix of the new secret.
    pub prefix: KeyPrefix,
    /// The new secret's generation: the creation's secret is 0, each rotation adds one.
    pub generation: u32,
    /// Until when the previous secret (generation − 1) still authenticates.
    pub previous_valid_until: DateTime<Utc>,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.key_expiry_changed` v1: the key's expiry set, moved or cleared after creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyExpiryChanged {
    /// The account.
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// The new expiry (`null`: never expires).
    pub expires_at: Option<DateTime<Utc>>,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.hold_placed` v2 (v1 had `ttl_s` instead of `expires_at`; see `upcast`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldPlaced {
    /// The account.
    pub account_id: AccountId,
    /// The hold.
    pub hold_id: HoldId,
    /// The key the request uses.
    pub key_id: KeyId,
    /// The estimate held.
    pub estimate: Credits,
    /// When the expiry task may release it.
    pub expires_at: DateTime<Utc>,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.hold_settled` v1: the actual cost is billed and the hold released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSettled {
    /// The account.
    pub account_id: AccountId,
    /// The hold.
    pub hold_id: HoldId,
    /// What the request did and cost.
    pub usage: Usage,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.hold_voided` v1 and `account.hold_expired` v1: released without billing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldClosed {
    /// The account.
    pub account_id: AccountId,
    /// The hold.
    pub hold_id: HoldId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.usage_recorded` v1: usage billed without a hold; always accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecorded {
    /// The account.
    pub account_id: AccountId,
    /// What the request did and cost.
    pub usage: Usage,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.budget_set` v1: an organization admin set (or, `null`, cleared) the account's spend
/// budget per period. Takes effect immediately, on the spend already in the period; the
/// period's threshold notices start over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSet {
    /// The organization account.
    pub account_id: AccountId,
    /// The budget (amount per daily, weekly or monthly period), `null`: none.
    pub budget: Option<KeyLimit>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.member_spend_cap_set` v1: an admin capped (or, `null`, uncapped) what one member's
/// keys may spend together per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpendCapSet {
    /// The organization account.
    pub account_id: AccountId,
    /// The member whose keys (those they created) the cap covers.
    pub member: UserId,
    /// The cap (amount per daily, weekly or monthly period), `null`: none.
    pub cap: Option<KeyLimit>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.default_key_limit_set` v1: an admin set (or, `null`, cleared) the limit members'
/// new keys get and may not exceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultKeyLimitSet {
    /// The organization account.
    pub account_id: AccountId,
    /// The default limit, `null`: none.
    pub limit: Option<KeyLimit>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.budget_threshold_reached` v1: the settled spend of the budget's current period
/// reached `threshold_percent` (80 or 100) of the budget. Decided with the settlement or usage
/// that reached it, once per threshold per period (and again after the budget is set anew).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetThresholdReached {
    /// The organization account.
    pub account_id: AccountId,
    /// 80 or 100.
    pub threshold_percent: u8,
    /// The budget's period kind.
    pub period: LimitPeriod,
    /// The first day (UTC) of the period.
    pub period_start: NaiveDate,
    /// The budget amount.
    pub budget: Credits,
    /// Settled spend in the period, this usage included.
    pub spent: Decimal,
    /// When.
    pub at: DateTime<Utc>,
}

/// Whether a support adjustment adds credits to an account or takes them away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentDirection {
    /// Credits added (booked against the `adjustments` system account).
    Credit,
    /// Credits taken away.
    Debit,
}

/// `account.credits_adjusted` v1: support credited or debited the account by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsAdjusted {
    /// The account.
    pub account_id: AccountId,
    /// The adjustment.
    pub adjustment_id: AdjustmentId,
    /// Credit or debit.
    pub direction: AdjustmentDirection,
    /// Credits added or taken (purchase rules).
    pub amount: Credits,
    /// Why.
    pub reason: TransferReason,
    /// The support ticket.
    pub ticket: TicketReference,
    /// A debit flagged as the recovery of credits owed, allowed below zero.
    pub recovery: bool,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.transfer_reversed_out` v1: a transfer's credits left the (organization) account it
/// went to, back to its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReversedOut {
    /// The organization account the transfer went to.
    pub account_id: AccountId,
    /// The transfer reversed.
    pub transfer_id: TransferId,
    /// The transfer's source, credited back.
    pub to_account_id: AccountId,
    /// The transfer's amount.
    pub amount: Credits,
    /// Why.
    pub reason: TransferReason,
    /// The support ticket.
    pub ticket: TicketReference,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.transfer_reversed_in` v1: a transfer's credits came back to its (personal) source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReversedIn {
    /// The transfer's source account.
    pub account_id: AccountId,
    /// The transfer reversed.
    pub transfer_id: TransferId,
    /// The organization account the credits come back from.
    pub from_account_id: AccountId,
    /// The transfer's amount.
    pub amount: Credits,
    /// Why.
    pub reason: TransferReason,
    /// The support ticket.
    pub ticket: TicketReference,
    /// The staff member.
    pub staff_id: StaffId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.purchase_refunded` v1: the payment provider refunded a purchase; its credits leave
/// the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRefunded {
    /// The account.
    pub account_id: AccountId,
    /// The refunded purchase's payment reference.
    pub payment_reference: PaymentReference,
    /// The purchase's amount.
    pub amount: Credits,
    /// The owner or admin who recorded the refund.
    pub refunded_by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `account.low_balance_threshold_set` v1: an organization admin set (or, `null`, cleared) the
/// balance below which the account's notifier is told (once each time the balance falls below
/// it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowBalanceThresholdSet {
    /// The organization account.
    pub account_id: AccountId,
    /// The threshold, `null`: none.
    pub threshold: Option<Credits>,
    /// The admin.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

crate::event::event_enum! {
    /// Events of the account stream.
    AccountEvent {
        /// See [`AccountOpened`].
        Opened(AccountOpened) = "account.opened" v 1,
        /// See [`CreditsPurchased`].
        CreditsPurchased(CreditsPurchased) = "account.credits_purchased" v 1,
        /// See [`TransferredOut`].
        TransferredOut(TransferredOut) = "account.transferred_out" v 1,
        /// See [`TransferredIn`].
        TransferredIn(TransferredIn) = "account.transferred_in" v 1,
        /// See [`KeyCreated`].
        KeyCreated(KeyCreated) = "account.key_created" v 1,
        /// See [`KeyRenamed`].
        KeyRenamed(KeyRenamed) = "account.key_renamed" v 1,
        /// See [`KeyLimitChanged`].
        KeyLimitChanged(KeyLimitChanged) = "account.key_limit_changed" v 1,
        /// See [`KeyDisabled`].
        KeyDisabled(KeyDisabled) = "account.key_disabled" v 1,
        /// A key was enabled again.
        KeyEnabled(KeyChanged) = "account.key_enabled" v 1,
        /// A key was deleted (final).
        KeyDeleted(KeyChanged) = "account.key_deleted" v 1,
        /// See [`HoldPlaced`].
        HoldPlaced(HoldPlaced) = "account.hold_placed" v 2,
        /// See [`HoldSettled`].
        HoldSettled(HoldSettled) = "account.hold_settled" v 1,
        /// The gateway voided a hold.
        HoldVoided(HoldClosed) = "account.hold_voided" v 1,
        /// The expiry task released a hold past its TTL.
        HoldExpired(HoldClosed) = "account.hold_expired" v 1,
        /// See [`UsageRecorded`].
        UsageRecorded(UsageRecorded) = "account.usage_recorded" v 1,
        /// See [`BudgetSet`].
        BudgetSet(BudgetSet) = "account.budget_set" v 1,
        /// See [`MemberSpendCapSet`].
        MemberSpendCapSet(MemberSpendCapSet) = "account.member_spend_cap_set" v 1,
        /// See [`DefaultKeyLimitSet`].
        DefaultKeyLimitSet(DefaultKeyLimitSet) = "account.default_key_limit_set" v 1,
        /// See [`BudgetThresholdReached`].
        BudgetThresholdReached(BudgetThresholdReached) = "account.budget_threshold_reached" v 1,
        /// See [`KeyRotated`].
        KeyRotated(KeyRotated) = "account.key_rotated" v 1,
        /// See [`KeyExpiryChanged`].
        KeyExpiryChanged(KeyExpiryChanged) = "account.key_expiry_changed" v 1,
        /// See [`CreditsAdjusted`].
        CreditsAdjusted(CreditsAdjusted) = "account.credits_adjusted" v 1,
        /// See [`TransferReversedOut`].
        TransferReversedOut(TransferReversedOut) = "account.transfer_reversed_out" v 1,
        /// See [`TransferReversedIn`].
        TransferReversedIn(TransferReversedIn) = "account.transfer_reversed_in" v 1,
        /// See [`PurchaseRefunded`].
        PurchaseRefunded(PurchaseRefunded) = "account.purchase_refunded" v 1,
        /// See [`LowBalanceThresholdSet`].
        LowBalanceThresholdSet(LowBalanceThresholdSet) = "account.low_balance_threshold_set" v 1,
    }
}

impl AccountEvent {
    /// The facts the event records once only: a provider's payment, a billed generation and a
    /// hold per account, a key and its secret hash.
    pub fn unique_claims(&self) -> Vec<UniqueClaim> {
        match self {
            Self::CreditsPurchased(e) => vec![UniqueClaim::Payment {
                account_id: e.account_id,
                payment_reference: e.payment_reference.clone(),
            }],
            Self::HoldSettled(e) => vec![UniqueClaim::Generation {
                account_id: e.account_id,
                generation_id: e.usage.generation_id.clone(),
            }],
            Self::UsageRecorded(e) => vec![UniqueClaim::Generation {
                account_id: e.account_id,
                generation_id: e.usage.generation_id.clone(),
            }],
            Self::HoldPlaced(e) => vec![UniqueClaim::Hold {
                account_id: e.account_id,
                hold_id: e.hold_id,
            }],
            Self::KeyCreated(e) => vec![
                UniqueClaim::Key(e.key_id),
                UniqueClaim::KeySecretHash(e.secret_hash.clone()),
            ],
            Self::KeyRotated(e) => vec![UniqueClaim::KeySecretHash(e.secret_hash.clone())],
            _ => Vec::new(),
        }
    }

    /// The account the event belongs to.
    pub fn account_id(&self) -> AccountId {
        match self {
            Self::Opened(e) => e.account_id,
            Self::CreditsPurchased(e) => e.account_id,
            Self::TransferredOut(e) => e.account_id,
            Self::TransferredIn(e) => e.account_id,
            Self::KeyCreated(e) => e.account_id,
            Self::KeyRenamed(e) => e.account_id,
            Self::KeyLimitChanged(e) => e.account_id,
            Self::KeyDisabled(e) => e.account_id,
            Self::KeyEnabled(e) | Self::KeyDeleted(e) => e.account_id,
            Self::HoldPlaced(e) => e.account_id,
            Self::HoldSettled(e) => e.account_id,
            Self::HoldVoided(e) | Self::HoldExpired(e) => e.account_id,
            Self::UsageRecorded(e) => e.account_id,
            Self::BudgetSet(e) => e.account_id,
            Self::MemberSpendCapSet(e) => e.account_id,
            Self::DefaultKeyLimitSet(e) => e.account_id,
            Self::BudgetThresholdReached(e) => e.account_id,
            Self::KeyRotated(e) => e.account_id,
            Self::KeyExpiryChanged(e) => e.account_id,
            Self::CreditsAdjusted(e) => e.account_id,
            Self::TransferReversedOut(e) => e.account_id,
            Self::TransferReversedIn(e) => e.account_id,
            Self::PurchaseRefunded(e) => e.account_id,
            Self::LowBalanceThresholdSet(e) => e.account_id,
        }
    }
}
