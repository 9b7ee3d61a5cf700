//! The account aggregate (stream `account-{uuid}`): the credit pool, its API keys, each
//! key's spend per limit period, and open holds. Keys live here so the gateway's hot path
//! (place hold, settle, record usage) decides on this one stream and never overshoots.

mod command;
mod corrections;
mod credits;
mod decide;
mod event;
mod evolve;
mod holds;
mod keys;
mod spending;
mod usage;

pub use command::{AccountCommand, ReverseTransfer, TransferCredits};
pub use corrections::reverse_transfer;
pub use credits::transfer;
pub use decide::{auth_context, decide, key_auth_context};
pub use event::DisableCause;
pub use event::{
    AccountEvent, AccountOpened, CreditsPurchased, HoldClosed, HoldPlaced, HoldSettled, KeyChanged,
    KeyCreated, KeyDisabled, KeyLimitChanged, KeyRenamed, TransferredIn, TransferredOut,
    UsageRecorded,
};
pub use event::{
    AdjustmentDirection, CreditsAdjusted, PurchaseRefunded, TransferReversedIn, TransferReversedOut,
};
pub use event::{BudgetSet, BudgetThresholdReached, DefaultKeyLimitSet, MemberSpendCapSet};
pub use event::{KeyExpiryChanged, KeyRotated, LowBalanceThresholdSet};
pub(crate) use keys::disable_keys_created_by;
pub use spending::{BUDGET_THRESHOLDS_PERCENT, BudgetNotices, Spending};
pub use usage::{Tokens, Usage, UsageReport, UsageStatus};

use crate::error::DomainError;
use crate::ids::{AccountId, HoldId, KeyId, OrganizationId, TransferId, UserId};
use crate::money::Credits;
use crate::period::{KeySpend, LimitPeriod};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most keys an account may hold that are not deleted.
pub const MAX_KEYS_PER_ACCOUNT: usize = 1_000;
/// Most keys an account may ever create (deleted keys stay as tombstones, so deletion is final).
pub const MAX_KEYS_EVER: usize = 10_000;
/// Most open holds on one account.
pub const MAX_OPEN_HOLDS: usize = 100_000;
/// Longest hold TTL: one day.
pub const MAX_HOLD_TTL_S: u32 = 86_400;
/// Longest grace period of a key rotation, during which the previous secret still works: seven
/// days, enough to roll a new secret out to every deployment, short enough that a leaked
/// secret does not stay usable for long.
pub const MAX_ROTATION_GRACE_S: u32 = 7 * 86_400;

/// Who owns an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountOwner {
    /// A personal account.
    User {
        /// Its owner.
        user_id: UserId,
    },
    /// An organization account.
    Organization {
        /// Its organization.
        organization_id: OrganizationId,
    },
}

/// A key's spend limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyLimit {
    /// The most the key may spend per period (purchase rules: positive, 2 places).
    pub amount: Credits,
    /// When the spend resets.
    pub reset: LimitPeriod,
}

/// A key's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Authenticates and may place holds.
    Active,
    /// Refused until enabled.
    Disabled,
    /// Final.
    Deleted,
}

/// The decision-relevant facts of an API key (names and hashes live in read models).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// The member (or personal owner) who created it.
    pub created_by: UserId,
    /// Its lifecycle.
    pub status: KeyStatus,
    /// Its spend limit.
    pub limit: Option<KeyLimit>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its spend per period.
    pub spend: KeySpend,
    /// Sum of its open holds.
    pub held: Decimal,
    /// Generation of the current secret: 0 for the creation's, one more per rotation.
    #[serde(default)]
    pub secret_generation: u32,
    /// Until when the previous secret (generation `secret_generation - 1`) still works; `None`
    /// before the first rotation.
    #[serde(default)]
    pub previous_secret_until: Option<DateTime<Utc>>,
}

impl Key {
    /// Whether the secret of `generation` authenticates at `now`: the current one, or the
    /// previous one until its grace period ends. Older secrets never do.
    pub fn accepts_secret(&self, generation: u32, now: DateTime<Utc>) -> bool {
        generation == self.secret_generation
            || (generation.checked_add(1) == Some(self.secret_generation)
                && self.previous_secret_until.is_some_and(|until| now < until))
    }
}

/// An open hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenHold {
    /// The key it was placed for.
    pub key_id: KeyId,
    /// The estimate held.
    pub amount: Decimal,
    /// When the expiry task may expire it.
    pub expires_at: DateTime<Utc>,
}

/// Running totals; `balance = purchased + transferred_in − transferred_out − used + adjusted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// All purchases, less those refunded.
    pub purchased: Decimal,
    /// All transfers in, less those reversed.
    pub transferred_in: Decimal,
    /// All transfers out, less those reversed.
    pub transferred_out: Decimal,
    /// All settled and recorded usage.
    pub used: Decimal,
    /// Support adjustments: credits less debits (may be negative).
    #[serde(default)]
    pub adjusted: Decimal,
}

/// A purchase as the account remembers it, to refund it once by its payment reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// Credits bought.
    pub amount: Credits,
    /// Whether the provider refunded it.
    pub refunded: bool,
}

/// A transfer an (organization) account received, to reverse it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedTransfer {
    /// The personal account it came from.
    pub from: AccountId,
    /// Credits moved.
    pub amount: Credits,
    /// Whether it was reversed.
    pub reversed: bool,
}

/// An opened account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account.
    pub id: AccountId,
    /// Its owner.
    pub owner: AccountOwner,
    /// Credits; negative only through usage recorded without a hold.
    pub balance: Decimal,
    /// Running totals.
    pub totals: Totals,
    /// Sum of open holds.
    pub held: Decimal,
    /// Open holds.
    pub holds: BTreeMap<HoldId, OpenHold>,
    /// Every key ever created (deleted ones as tombstones).
    pub keys: BTreeMap<KeyId, Key>,
    /// Keys not deleted.
    pub live_keys: usize,
    /// Spending controls (organization accounts) and the spend they are checked against.
    #[serde(default)]
    pub spending: Spending,
    /// Purchases by payment reference (the first purchase of a reference, as the store's
    /// payment claim keeps it).
    #[serde(default)]
    pub purchases: BTreeMap<String, Purchase>,
    /// Transfers received, by transfer id (the first, should support reuse an id).
    #[serde(default)]
    pub transfers_in: BTreeMap<TransferId, ReceivedTransfer>,
}

impl Account {
    /// Balance minus open holds.
    pub fn available(&self) -> Decimal {
        self.balance - self.held
    }

    /// A key of this account.
    pub fn key(&self, key_id: KeyId) -> Result<&Key, DomainError> {
        self.keys
            .get(&key_id)
            .ok_or(DomainError::KeyNotFound(key_id))
    }

    /// The key `key_id` as the secret of `generation` presents it at `now`: refused when the
    /// key is deleted, disabled or expired, or when that secret was rotated out and its grace
    /// period is over (`KeySecretRotated`). `AuthenticateKey` and `AuthorizeAndHold` both ask
    /// this before anything else.
    pub fn authenticate(
        &self,
        key_id: KeyId,
        generation: u32,
        now: DateTime<Utc>,
    ) -> Result<&Key, DomainError> {
        let key = self.key(key_id)?;
        match key.status {
            KeyStatus::Deleted => return Err(DomainError::KeyDeleted(key_id)),
            KeyStatus::Disabled => return Err(DomainError::KeyDisabled(key_id)),
            KeyStatus::Active => {}
        }
        if let Some(expires_at) = key.expires_at.filter(|e| now >= *e) {
            return Err(DomainError::KeyExpired { key_id, expires_at });
        }
        if !key.accepts_secret(generation, now) {
            return Err(DomainError::KeySecretRotated { key_id });
        }
        Ok(key)
    }

    /// The key's remaining limit at `now` (limit − spend in period − open holds), if limited.
    pub fn remaining_limit(&self, key: &Key, now: DateTime<Utc>) -> Option<Decimal> {
        key.limit
            .map(|l| l.amount.amount() - key.spend.spent_in(l.reset, now) - key.held)
    }
}

/// The state of an account stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// Events folded so far.
    pub version: u64,
    /// `None` until opened.
    pub account: Option<Account>,
}
