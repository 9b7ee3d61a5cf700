//! Notices: what the services that email and page people are told, derived purely from what a
//! command decided and the state of the accounts it writes before the decision.
//!
//! The application writes a command's notices into the outbox in the same transaction as its
//! events, so a notice exists exactly when the events that caused it do. Notices carry ids and
//! amounts only, like events: the invitee's email is read from the erasable personal-data table
//! when the notice is sent, never stored with it.
//!
//! | notice | when |
//! | --- | --- |
//! | `low_balance` | the balance goes from at or above the account's threshold to below it (or a threshold is set above the balance) |
//! | `key_limit_reached` | a settlement or recorded usage takes a key's spend in its period from below its limit to at or above it |
//! | `budget_threshold_reached` | an `account.budget_threshold_reached` event (80 % and 100 % of the budget) |
//! | `invitation_created` | an `organization.member_invited` event |
//! | `member_removed` | an `organization.member_removed` event, with the keys the removal disabled |

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountEvent, AccountState, DisableCause, KeyLimit, KeyStatus};
use crate::decision::Decision;
use crate::event::Event;
use crate::ids::{AccountId, InvitationId, KeyId, OrganizationId, UserId};
use crate::money::Credits;
use crate::organization::OrganizationEvent;
use crate::period::{KeySpend, LimitPeriod};
use crate::role::Role;

/// Most notices one command may cause (a removal names its disabled keys in one notice).
pub const MAX_NOTICES_PER_COMMAND: usize = 100;

/// One notice for the notifier. Stored as JSON (`kind` plus the fields) in the outbox: the
/// names below are a stored format and never change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The account's balance fell below its low-balance threshold.
    LowBalance {
        /// The account.
        account_id: AccountId,
        /// The threshold it fell below.
        threshold: Credits,
        /// The balance after the command.
        balance: Decimal,
    },
    /// A key's settled spend in its limit's period reached the limit.
    KeyLimitReached {
        /// The account.
        account_id: AccountId,
        /// The key.
        key_id: KeyId,
        /// The member who created it.
        created_by: UserId,
        /// Its limit.
        limit: KeyLimit,
        /// Its spend in the period, the usage that reached the limit included.
        spent: Decimal,
    },
    /// An organization budget's 80 % or 100 % threshold was reached.
    BudgetThresholdReached {
        /// The organization account.
        account_id: AccountId,
        /// 80 or 100.
        threshold_percent: u8,
        /// The budget's period kind.
        period: LimitPeriod,
        /// The first day (UTC) of the period.
        period_start: NaiveDate,
        /// The budget.
        budget: Credits,
        /// Settled spend in the period.
        spent: Decimal,
    },
    /// An admin invited someone (the email is read from the personal-data table when sent).
    InvitationCreated {
        /// The organization.
        organization_id: OrganizationId,
        /// The invitation.
        invitation_id: InvitationId,
        /// The role it grants.
        role: Role,
        /// The admin.
        invited_by: UserId,
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
    /// An admin removed a member; the keys the member created were disabled with it.
    MemberRemoved {
        /// The organization.
        organization_id: OrganizationId,
        /// The removed member.
        user_id: UserId,
        /// The admin.
        removed_by: UserId,
        /// The organization's account, when the removal disabled keys in it.
        account_id: Option<AccountId>,
        /// The keys disabled.
        disabled_keys: Vec<KeyId>,
    },
}

impl Notice {
    /// The notice's kind as stored with it (stable).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LowBalance { .. } => "low_balance",
            Self::KeyLimitReached { .. } => "key_limit_reached",
            Self::BudgetThresholdReached { .. } => "budget_threshold_reached",
            Self::InvitationCreated { .. } => "invitation_created",
            Self::MemberRemoved { .. } => "member_removed",
        }
    }
}

/// The notices `decision` causes. `before` holds the state, as the decision saw it, of each
/// account the decision appends to (accounts not given are judged on their events alone: no
/// low-balance or key-limit notice for them).
pub fn notices(decision: &Decision, before: &[&AccountState]) -> Vec<Notice> {
    let mut found: Vec<Notice> = decision.events().filter_map(from_event).collect();
    for (index, event) in decision.events().enumerate() {
        if let Event::Organization(OrganizationEvent::MemberRemoved(removed)) = event {
            let disabled: Vec<(AccountId, KeyId)> = decision
                .events()
                .skip(index)
                .filter_map(|e| match e {
                    Event::Account(AccountEvent::KeyDisabled(d))
                        if d.cause == DisableCause::CreatorRemoved && d.by == removed.by =>
                    {
                        Some((d.account_id, d.key_id))
                    }
                    _ => None,
                })
                .collect();
            found.push(Notice::MemberRemoved {
                organization_id: removed.organization_id,
                user_id: removed.user_id,
                removed_by: removed.by,
                account_id: disabled.first().map(|(account, _)| *account),
                disabled_keys: disabled.into_iter().map(|(_, key)| key).collect(),
            });
        }
    }
    for state in before {
        let Some(account) = &state.account else {
            continue;
        };
        let events: Vec<&AccountEvent> = decision
            .events_for(&account.id.stream())
            .into_iter()
            .filter_map(|event| match event {
                Event::Account(e) => Some(e),
                _ => None,
            })
            .collect();
        found.extend(account_notices(state, account, &events));
    }
    found.truncate(MAX_NOTICES_PER_COMMAND);
    found
}

/// The notice an event is on its own.
fn from_event(event: &Event) -> Option<Notice> {
    match event {
        Event::Account(AccountEvent::BudgetThresholdReached(e)) => {
            Some(Notice::BudgetThresholdReached {
                account_id: e.account_id,
                threshold_percent: e.threshold_percent,
                period: e.period,
                period_start: e.period_start,
                budget: e.budget,
                spent: e.spent,
            })
        }
        Event::Organization(OrganizationEvent::MemberInvited(e)) => {
            Some(Notice::InvitationCreated {
                organization_id: e.organization_id,
                invitation_id: e.invitation_id,
                role: e.role,
                invited_by: e.invited_by,
                expires_at: e.expires_at,
            })
        }
        _ => None,
    }
}

/// The low-balance and key-limit notices of `events` on the account `state` holds. A key's
/// limit is checked on a copy of that key's spend counter only; the account is folded only
/// when a low-balance notice is possible (a threshold is or becomes set), so a command on an
/// account without one costs no copy of its state.
fn account_notices(
    state: &AccountState,
    before: &Account,
    events: &[&AccountEvent],
) -> Vec<Notice> {
    // Each limited key the events bill: its spend after them, and the last billing time.
    let mut billed: BTreeMap<KeyId, (KeySpend, DateTime<Utc>)> = BTreeMap::new();
    let mut threshold_set = false;
    for event in events {
        let (usage, at) = match event {
            AccountEvent::HoldSettled(e) => (&e.usage, e.at),
            AccountEvent::UsageRecorded(e) => (&e.usage, e.at),
            AccountEvent::LowBalanceThresholdSet(_) => {
                threshold_set = true;
                continue;
            }
            _ => continue,
        };
        let Some(key) = before
            .keys
            .get(&usage.key_id)
            .filter(|key| key.limit.is_some())
        else {
            continue;
        };
        let (spend, last) = billed
            .entry(usage.key_id)
            .or_insert_with(|| (key.spend.clone(), at));
        spend.add(at, usage.cost.amount());
        *last = at;
    }
    let mut found = Vec::new();
    if threshold_set || before.spending.low_balance_threshold.is_some() {
        let mut after = state.clone();
        for event in events {
            after.evolve(event);
        }
        if let Some(after) = &after.account
            && below_threshold(after)
            && !below_threshold(before)
            && let Some(threshold) = after.spending.low_balance_threshold
        {
            found.push(Notice::LowBalance {
                account_id: after.id,
                threshold,
                balance: after.balance,
            });
        }
    }
    for (key_id, (spend, at)) in billed {
        let Some(key) = before.keys.get(&key_id) else {
            continue;
        };
        let Some(limit) = key.limit else { continue };
        let amount = limit.amount.amount();
        let spent = spend.spent_in(limit.reset, at);
        if key.spend.spent_in(limit.reset, at) < amount
            && spent >= amount
            && key.status != KeyStatus::Deleted
        {
            found.push(Notice::KeyLimitReached {
                account_id: before.id,
                key_id,
                created_by: key.created_by,
                limit,
                spent,
            });
        }
    }
    found
}

/// Whether the account's balance is below its low-balance threshold.
fn below_threshold(account: &Account) -> bool {
    account
        .spending
        .low_balance_threshold
        .is_some_and(|threshold| account.balance < threshold.amount())
}
