//! Spending controls of an organization account, set by its admins: a budget per period, a
//! spend cap per member (over the keys the member created), and the default limit of members'
//! new keys; the spend they are checked against; and the budget's 80 % / 100 % notices.
//!
//! Everything lives in the account aggregate, so a hold is decided on the account stream alone
//! (pipelined like every hold) and a budget or cap never overshoots under concurrent holds.

use std::collections::BTreeMap;

use super::decide::Ctx;
use super::event::{
    BudgetSet, BudgetThresholdReached, DefaultKeyLimitSet, LowBalanceThresholdSet,
    MemberSpendCapSet,
};
use super::{Account, AccountEvent, Key, KeyLimit};
use crate::error::{DomainError, Field, InputError};
use crate::ids::UserId;
use crate::money::Credits;
use crate::period::{KeySpend, LimitPeriod};
use crate::policy::{Action, Scope, authorize};
use crate::role::Role;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The budget thresholds, in percent, each noticed once per period.
pub const BUDGET_THRESHOLDS_PERCENT: [u8; 2] = [80, 100];

/// Which budget thresholds were noticed in which period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetNotices {
    /// The period the notices belong to.
    pub period_start: Option<NaiveDate>,
    /// The highest threshold noticed in it (0: none).
    pub reached_percent: u8,
}

impl BudgetNotices {
    /// The highest threshold noticed in the period starting on `start`.
    fn reached_in(&self, start: NaiveDate) -> u8 {
        if self.period_start == Some(start) {
            self.reached_percent
        } else {
            0
        }
    }
}

/// The spending controls of an account and the spend they are checked against. Every field
/// defaults, so an account state serialised before they existed reads as "no controls, no
/// spend tracked".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Spending {
    /// The organization's budget per period.
    pub budget: Option<KeyLimit>,
    /// The limit members' new keys get and may not exceed.
    pub default_key_limit: Option<KeyLimit>,
    /// Caps per member, over the keys each created.
    pub member_caps: BTreeMap<UserId, KeyLimit>,
    /// The account's settled and recorded usage per period.
    pub spend: KeySpend,
    /// Usage per period of the keys each member created.
    pub member_spend: BTreeMap<UserId, KeySpend>,
    /// Open holds on the keys each member created (members with none are absent).
    pub member_held: BTreeMap<UserId, Decimal>,
    /// The budget thresholds noticed so far.
    pub budget_notices: BudgetNotices,
    /// The balance below which the notifier is told.
    pub low_balance_threshold: Option<Credits>,
}

impl Spending {
    /// What the keys `member` created spent in the `period` containing `now`.
    pub fn member_spent(&self, member: UserId, period: LimitPeriod, now: DateTime<Utc>) -> Decimal {
        self.member_spend
            .get(&member)
            .map_or(Decimal::ZERO, |s| s.spent_in(period, now))
    }

    /// What the open holds on the keys `member` created hold.
    pub fn member_holds(&self, member: UserId) -> Decimal {
        self.member_held.get(&member).copied().unwrap_or_default()
    }

    /// Counts an open hold (a free one counts nothing, so members with none stay absent).
    pub(super) fn hold(&mut self, member: UserId, amount: Decimal) {
        if !amount.is_zero() {
            *self.member_held.entry(member).or_default() += amount;
        }
    }

    pub(super) fn release(&mut self, member: UserId, amount: Decimal) {
        if amount.is_zero() {
            return;
        }
        let held = self
            .member_held
            .get_mut(&member)
            .expect("releasing a hold of a member who holds nothing");
        *held -= amount;
        assert!(*held >= Decimal::ZERO, "negative held total of a member");
        if held.is_zero() {
            self.member_held.remove(&member);
        }
    }

    pub(super) fn bill(&mut self, member: UserId, at: DateTime<Utc>, cost: Decimal) {
        self.spend.add(at, cost);
        self.member_spend.entry(member).or_default().add(at, cost);
    }

    /// Folds a spending-control event.
    pub(super) fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::BudgetSet(e) => {
                self.budget = e.budget;
                self.budget_notices = BudgetNotices::default();
            }
            AccountEvent::MemberSpendCapSet(e) => match e.cap {
                Some(cap) => {
                    self.member_caps.insert(e.member, cap);
                }
                None => {
                    self.member_caps.remove(&e.member);
                }
            },
            AccountEvent::DefaultKeyLimitSet(e) => self.default_key_limit = e.limit,
            AccountEvent::LowBalanceThresholdSet(e) => self.low_balance_threshold = e.threshold,
            AccountEvent::BudgetThresholdReached(e) => {
                assert!(
                    e.threshold_percent > self.budget_notices.reached_in(e.period_start),
                    "budget threshold noticed twice in a period"
                );
                self.budget_notices = BudgetNotices {
                    period_start: Some(e.period_start),
                    reached_percent: e.threshold_percent,
                };
            }
            _ => unreachable!("not a spending-control event"),
        }
    }

    /// Programmer-error checks: the members' holds add up to the account's.
    pub(super) fn check_invariants(&self, held: Decimal) {
        debug_assert_eq!(
            held,
            self.member_held.values().copied().sum::<Decimal>(),
            "members' held totals differ from the account's"
        );
    }
}

/// Budgets and caps reset every day, week or month: a lifetime one is refused.
fn periodic(limit: Option<KeyLimit>, field: Field) -> Result<Option<KeyLimit>, DomainError> {
    match limit {
        Some(l) if l.reset == LimitPeriod::Lifetime => Err(DomainError::invalid(
            field,
            InputError::Malformed("resets daily, weekly or monthly"),
        )),
        other => Ok(other),
    }
}

/// The acting admin, once the policy lets the caller set spending controls (organization
/// admins only: the billing-settings action).
fn admin(ctx: &Ctx<'_>) -> Result<UserId, DomainError> {
    authorize(ctx.caller, Action::SetBillingSettings, &ctx.auth)?;
    Ok(ctx.caller.acting_user(Action::SetBillingSettings)?)
}

/// Sets (or clears) the budget. Reaching a threshold the new budget puts behind the period's
/// spend is noticed now, in the same decision.
pub(super) fn set_budget(
    ctx: &Ctx<'_>,
    budget: Option<KeyLimit>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let by = admin(ctx)?;
    let budget = periodic(budget, Field::Budget)?;
    let account = ctx.account;
    let mut events = vec![AccountEvent::BudgetSet(BudgetSet {
        account_id: account.id,
        budget,
        by,
        at,
    })];
    if let Some(budget) = budget {
        let fresh = BudgetNotices::default();
        events.extend(notices(
            account,
            budget,
            &account.spending.spend,
            &fresh,
            at,
        ));
    }
    Ok(events)
}

/// Caps (or uncaps) a member's spend; only a member can be capped.
pub(super) fn set_member_cap(
    ctx: &Ctx<'_>,
    member: UserId,
    cap: Option<KeyLimit>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let by = admin(ctx)?;
    let cap = periodic(cap, Field::SpendCap)?;
    let is_member = ctx.org.is_some_and(|o| o.role_of(member).is_some());
    if cap.is_some() && !is_member {
        return Err(DomainError::MemberNotFound(member));
    }
    Ok(vec![AccountEvent::MemberSpendCapSet(MemberSpendCapSet {
        account_id: ctx.account.id,
        member,
        cap,
        by,
        at,
    })])
}

/// Sets (or clears) the default limit of members' new keys (any period, lifetime included).
pub(super) fn set_default_key_limit(
    ctx: &Ctx<'_>,
    limit: Option<KeyLimit>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let by = admin(ctx)?;
    Ok(vec![AccountEvent::DefaultKeyLimitSet(DefaultKeyLimitSet {
        account_id: ctx.account.id,
        limit,
        by,
        at,
    })])
}

/// Sets (or clears) the low-balance threshold. A balance already below the new threshold is
/// noticed with this decision (see `crate::notice`).
pub(super) fn set_low_balance_threshold(
    ctx: &Ctx<'_>,
    threshold: Option<Credits>,
    at: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, DomainError> {
    let by = admin(ctx)?;
    Ok(vec![AccountEvent::LowBalanceThresholdSet(
        LowBalanceThresholdSet {
            account_id: ctx.account.id,
            threshold,
            by,
            at,
        },
    )])
}

/// The default a member's key limit is bound by: set, and the caller a member (admins and
/// personal owners are bound by nothing).
fn members_default(ctx: &Ctx<'_>) -> Option<KeyLimit> {
    let member = matches!(
        ctx.auth.scope,
        Scope::Organization {
            role: Some(Role::Member)
        }
    );
    ctx.account.spending.default_key_limit.filter(|_| member)
}

/// Whether `limit` lets a key spend no more than `default` allows: an amount at most the
/// default's, over a period in which each of the default's periods lies whole (the same one,
/// a lifetime, or any period when the default is daily).
fn within(limit: KeyLimit, default: KeyLimit) -> bool {
    let contains = limit.reset == default.reset
        || limit.reset == LimitPeriod::Lifetime
        || default.reset == LimitPeriod::Daily;
    contains && limit.amount.amount() <= default.amount.amount()
}

fn above(default: KeyLimit) -> DomainError {
    DomainError::KeyLimitAboveDefault {
        amount: default.amount.amount(),
        period: default.reset,
    }
}

/// The limit a new key gets: for a member under a default, the default when none is asked and
/// a refusal above it; otherwise what is asked.
pub(super) fn new_key_limit(
    ctx: &Ctx<'_>,
    asked: Option<KeyLimit>,
) -> Result<Option<KeyLimit>, DomainError> {
    match (members_default(ctx), asked) {
        (None, asked) => Ok(asked),
        (Some(default), None) => Ok(Some(default)),
        (Some(default), Some(limit)) if within(limit, default) => Ok(Some(limit)),
        (Some(default), Some(_)) => Err(above(default)),
    }
}

/// A member under a default may change a key's limit only to one within it (removing the
/// limit is above any default).
pub(super) fn check_changed_limit(
    ctx: &Ctx<'_>,
    limit: Option<KeyLimit>,
) -> Result<(), DomainError> {
    match (members_default(ctx), limit) {
        (Some(default), Some(limit)) if !within(limit, default) => Err(above(default)),
        (Some(default), None) => Err(above(default)),
        _ => Ok(()),
    }
}

/// Refuses a hold of `requested` on `key` that the key's creator's cap, then the organization's
/// budget, cannot cover (spend in the period + open holds + the new hold).
pub(super) fn check_hold(
    account: &Account,
    key: &Key,
    requested: Decimal,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let spending = &account.spending;
    let member = key.created_by;
    if let Some(cap) = spending.member_caps.get(&member) {
        let remaining = cap.amount.amount()
            - spending.member_spent(member, cap.reset, at)
            - spending.member_holds(member);
        if remaining < requested {
            return Err(DomainError::MemberSpendCapReached {
                member,
                remaining,
                requested,
            });
        }
    }
    if let Some(budget) = spending.budget {
        let remaining =
            budget.amount.amount() - spending.spend.spent_in(budget.reset, at) - account.held;
        if remaining < requested {
            return Err(DomainError::OrgBudgetReached {
                remaining,
                requested,
            });
        }
    }
    Ok(())
}

/// The budget thresholds a usage of `cost` at `at` reaches, each once per period.
pub(super) fn usage_notices(
    account: &Account,
    cost: Decimal,
    at: DateTime<Utc>,
) -> Vec<AccountEvent> {
    let spending = &account.spending;
    let Some(budget) = spending.budget else {
        return Vec::new();
    };
    let mut spend = spending.spend.clone();
    spend.add(at, cost);
    notices(account, budget, &spend, &spending.budget_notices, at)
}

/// `budget_threshold_reached` for each threshold `spend` reaches in its current period that
/// `noticed` does not have yet.
fn notices(
    account: &Account,
    budget: KeyLimit,
    spend: &KeySpend,
    noticed: &BudgetNotices,
    at: DateTime<Utc>,
) -> Vec<AccountEvent> {
    let Some(period_start) = spend.period_start(budget.reset, at) else {
        return Vec::new();
    };
    let spent = spend.spent_in(budget.reset, at);
    let already = noticed.reached_in(period_start);
    BUDGET_THRESHOLDS_PERCENT
        .into_iter()
        .filter(|t| {
            *t > already
                && spent * Decimal::ONE_HUNDRED >= budget.amount.amount() * Decimal::from(*t)
        })
        .map(|threshold_percent| {
            AccountEvent::BudgetThresholdReached(BudgetThresholdReached {
                account_id: account.id,
                threshold_percent,
                period: budget.reset,
                period_start,
                budget: budget.amount,
                spent: spent.normalize(),
                at,
            })
        })
        .collect()
}
