//! The expected read models, folded in memory from the log, and their comparison with the
//! rows the tables hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::Event;
use ledger_domain::account::{AccountEvent, AccountState};
use ledger_domain::organization::OrganizationState;
use ledger_domain::user::UserState;
use ledger_domain::{LimitPeriod, Role};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Difference, Differences, compare, micros};
use crate::error::Result;
use crate::models::activity::{self, ActivityRow};
use crate::models::balances::{Balance, OpenHoldRow};
use crate::models::directory::queries::DirectoryRows;
use crate::models::keys::{ApiKey, KeyFold};
use crate::models::ledger::{Entry, Money};
use crate::models::rollups::{self, Buckets};
use crate::projection::Applied;

fn invariant(key: String, expected: String, actual: String, out: &mut Differences) {
    out.push(Difference {
        table: "invariant",
        key,
        expected: Some(expected),
        actual: Some(actual),
    });
}

/// The domain's state of every account, folded event by event.
#[derive(Default)]
struct AccountStates(BTreeMap<Uuid, AccountState>);

impl AccountStates {
    fn apply(&mut self, e: &Applied) {
        if let Event::Account(a) = &e.event {
            self.0
                .entry(a.account_id().as_uuid())
                .or_default()
                .evolve(a);
        }
    }
}

/// Balances (from the domain's `AccountState`), open holds and ledger entries.
#[derive(Default)]
pub(crate) struct Balances {
    states: AccountStates,
    opened_at: BTreeMap<Uuid, DateTime<Utc>>,
    last_position: BTreeMap<Uuid, i64>,
    /// The sum of the stored entries of each ledger account.
    entry_sums: BTreeMap<String, Decimal>,
}

impl Balances {
    /// Folds a chunk of events and compares the ledger entries they booked with `stored`, the
    /// entries the table holds for the same positions.
    pub(crate) fn chunk(
        &mut self,
        events: &[Arc<Applied>],
        stored: Vec<Entry>,
        out: &mut Differences,
    ) {
        let mut want_entries = Vec::new();
        for e in events {
            self.states.apply(e);
            let Event::Account(a) = &e.event else {
                continue;
            };
            let id = a.account_id().as_uuid();
            if let AccountEvent::Opened(o) = a {
                self.opened_at.insert(id, micros(o.at));
            }
            let money = Money::moved_by(a);
            if let Some(money) = &money {
                let at = micros(money.at);
                want_entries.extend(
                    Money {
                        at,
                        ..money.clone()
                    }
                    .entries(e.position),
                );
            }
            // The events that change an account's row: its opening, money and holds.
            let changes_row = money.is_some()
                || matches!(
                    a,
                    AccountEvent::Opened(_)
                        | AccountEvent::HoldPlaced(_)
                        | AccountEvent::HoldVoided(_)
                        | AccountEvent::HoldExpired(_)
                );
            if changes_row {
                self.last_position.insert(id, e.position);
            }
        }
        // Invariants of the double-entry view, on the rows as stored.
        let mut per_movement: BTreeMap<i64, Decimal> = BTreeMap::new();
        for entry in &stored {
            *per_movement.entry(entry.position).or_default() += entry.amount;
            *self.entry_sums.entry(entry.account.clone()).or_default() += entry.amount;
        }
        for (position, sum) in per_movement.iter().filter(|(_, s)| !s.is_zero()) {
            invariant(
                format!("movement {position} sums to zero"),
                "0".into(),
                sum.to_string(),
                out,
            );
        }
        let key = |e: Entry| {
            (
                (e.position, e.account.clone()),
                (e.amount, e.kind, e.at, e.payment_reference, e.ticket),
            )
        };
        let want: BTreeMap<_, _> = want_entries.into_iter().map(key).collect();
        let got: BTreeMap<_, _> = stored.into_iter().map(key).collect();
        compare("ledger_entries", want, got, |_, _| false, out);
    }

    /// Compares the balances and the open holds with the tables' rows.
    pub(crate) fn finish(
        self,
        actual: Vec<Balance>,
        holds: Vec<OpenHoldRow>,
        out: &mut Differences,
    ) {
        let mut want = BTreeMap::new();
        let mut want_holds = BTreeMap::new();
        for (id, state) in &self.states.0 {
            let Some(account) = &state.account else {
                continue;
            };
            want.insert(
                *id,
                Balance {
                    account_id: account.id,
                    owner: account.owner,
                    balance: account.balance,
                    held: account.held,
                    open_holds: account.holds.len() as i64,
                    purchased: account.totals.purchased,
                    transferred_in: account.totals.transferred_in,
                    transferred_out: account.totals.transferred_out,
                    used: account.totals.used,
                    adjusted: account.totals.adjusted,
                    opened_at: self
                        .opened_at
                        .get(id)
                        .copied()
                        .unwrap_or(DateTime::<Utc>::MIN_UTC),
                    last_position: self.last_position.get(id).copied().unwrap_or(0),
                },
            );
            for (hold_id, hold) in &account.holds {
                want_holds.insert(
                    (*id, hold_id.as_uuid()),
                    (hold.key_id.as_uuid(), hold.amount, micros(hold.expires_at)),
                );
            }
        }
        for (id, balance) in &want {
            let sum = self
                .entry_sums
                .get(&id.to_string())
                .copied()
                .unwrap_or_default();
            if sum != balance.balance {
                invariant(
                    format!("entries of {id} sum to its balance"),
                    balance.balance.to_string(),
                    sum.to_string(),
                    out,
                );
            }
        }
        let got: BTreeMap<_, _> = actual
            .into_iter()
            .map(|b| (b.account_id.as_uuid(), b))
            .collect();
        let got_holds: BTreeMap<_, _> = holds
            .into_iter()
            .map(|h| {
                (
                    (h.account_id, h.hold_id),
                    (h.key_id, h.amount, h.expires_at),
                )
            })
            .collect();
        compare("account_balances", want, got, |_, _| false, out);
        compare("open_holds", want_holds, got_holds, |_, _| false, out);
    }
}

type DomainKey = (
    Uuid,
    &'static str,
    Option<Decimal>,
    Option<LimitPeriod>,
    Option<DateTime<Utc>>,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
);

/// Keys: the projection's own fold for every column, and the domain's `Key` for the facts it
/// keeps (creator, status, limit, expiry, spend per period).
#[derive(Default)]
pub(crate) struct Keys {
    fold: KeyFold,
    states: AccountStates,
}

impl Keys {
    /// Folds a chunk of events.
    pub(crate) fn chunk(&mut self, events: &[Arc<Applied>]) -> Result<()> {
        for e in events {
            self.fold.apply(e)?;
            self.states.apply(e);
        }
        Ok(())
    }

    /// Compares the keys with the table's rows.
    pub(crate) fn finish(self, actual: Vec<ApiKey>, out: &mut Differences) {
        let want: BTreeMap<_, _> = self
            .fold
            .keys
            .into_iter()
            .map(|(id, mut k)| {
                k.created_at = micros(k.created_at);
                k.last_used_at = k.last_used_at.map(micros);
                k.expires_at = k.expires_at.map(micros);
                (id, k)
            })
            .collect();
        let got: BTreeMap<_, _> = actual.into_iter().map(|k| (k.key_id, k)).collect();
        let summary = |k: &ApiKey| -> DomainKey {
            (
                k.created_by,
                crate::models::keys::status_text(k.status),
                k.limit_amount,
                k.limit_period,
                k.expires_at,
                k.spend.day.spent,
                k.spend.week.spent,
                k.spend.month.spent,
                k.spend.lifetime,
            )
        };
        let mut domain_want = BTreeMap::new();
        for state in self.states.0.values() {
            let Some(account) = &state.account else {
                continue;
            };
            for (id, key) in &account.keys {
                domain_want.insert(
                    id.as_uuid(),
                    (
                        key.created_by.as_uuid(),
                        crate::models::keys::status_text(key.status),
                        key.limit.map(|l| l.amount.amount()),
                        key.limit.map(|l| l.reset),
                        key.expires_at.map(micros),
                        key.spend.day.spent,
                        key.spend.week.spent,
                        key.spend.month.spent,
                        key.spend.lifetime,
                    ),
                );
            }
        }
        let domain_got: BTreeMap<_, _> = got.iter().map(|(id, k)| (*id, summary(k))).collect();
        compare(
            "api_keys (domain facts)",
            domain_want,
            domain_got,
            |_, _| false,
            out,
        );
        compare("api_keys", want, got, |_, _| false, out);
    }
}

/// Users, organizations, members and invitations, from the domain's states.
#[derive(Default)]
pub(crate) struct Directory {
    users: BTreeMap<Uuid, UserState>,
    orgs: BTreeMap<Uuid, OrganizationState>,
}

impl Directory {
    /// Folds a chunk of events.
    pub(crate) fn chunk(&mut self, events: &[Arc<Applied>]) {
        for e in events {
            match &e.event {
                Event::User(u) => {
                    let id = u.user_id().as_uuid();
                    self.users.entry(id).or_default().evolve(u);
                }
                Event::Organization(o) => self
                    .orgs
                    .entry(o.organization_id().as_uuid())
                    .or_default()
                    .evolve(o),
                Event::Account(_) => {}
            }
        }
    }

    /// Compares the directory with the tables' rows.
    pub(crate) fn finish(self, actual: DirectoryRows, out: &mut Differences) {
        let Self { users, orgs } = self;
        let want_users: BTreeMap<_, _> = users
            .iter()
            .filter_map(|(id, s)| {
                s.user
                    .as_ref()
                    .map(|u| (*id, (u.personal_account.as_uuid(), u.email_verified)))
            })
            .collect();
        let got_users: BTreeMap<_, _> = actual
            .users
            .iter()
            .map(|u| (u.user_id, (u.personal_account_id, u.email_verified)))
            .collect();
        compare("users", want_users, got_users, |_, _| false, out);
        let (mut want_orgs, mut want_members, mut want_invitations) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for (id, state) in &orgs {
            let Some(o) = &state.organization else {
                continue;
            };
            want_orgs.insert(
                *id,
                (
                    o.account_id.as_uuid(),
                    o.name.as_str().to_owned(),
                    o.details.as_ref().map(|d| d.as_str().to_owned()),
                    i64::from(o.member_limit),
                    i64::from(o.member_count()),
                    i64::from(o.privacy.retention_days),
                    o.privacy.prompt_logging,
                    i64::from(o.billing.profile_version),
                    o.billing
                        .payment_method_reference
                        .as_ref()
                        .map(|r| r.as_str().to_owned()),
                ),
            );
            for (user, role) in &o.members {
                want_members.insert((*id, user.as_uuid()), *role);
            }
            for (inv, pending) in &o.invitations {
                want_invitations.insert(
                    (*id, inv.as_uuid()),
                    (pending.role, micros(pending.expires_at)),
                );
            }
        }
        let got_orgs: BTreeMap<_, _> = actual
            .organizations
            .iter()
            .map(|o| {
                (
                    o.organization_id,
                    (
                        o.account_id,
                        o.name.clone(),
                        o.details.clone(),
                        i64::from(o.member_limit),
                        i64::from(o.member_count),
                        i64::from(o.retention_days),
                        o.prompt_logging,
                        i64::from(o.billing_profile_version),
                        o.payment_method_reference.clone(),
                    ),
                )
            })
            .collect();
        compare("organizations", want_orgs, got_orgs, |_, _| false, out);
        let got_members: BTreeMap<(Uuid, Uuid), Role> = actual
            .members
            .iter()
            .map(|(org, m)| ((*org, m.user_id), m.role))
            .collect();
        compare(
            "organization_members",
            want_members,
            got_members,
            |_, _| false,
            out,
        );
        let got_invitations: BTreeMap<_, _> = actual
            .invitations
            .iter()
            .map(|(org, i)| ((*org, i.invitation_id), (i.role, i.expires_at)))
            .collect();
        compare(
            "organization_invitations",
            want_invitations,
            got_invitations,
            |_, _| false,
            out,
        );
    }
}

/// The activity feed and both rollups. Feed rows the retention may have pruned, and hourly
/// buckets older than the hourly retention, may be missing.
pub(crate) struct Activity {
    daily: Buckets,
    hourly: Buckets,
    /// Hourly buckets before this are pruned: neither kept in the fold nor compared.
    hourly_cutoff: DateTime<Utc>,
}

impl Activity {
    pub(crate) fn new(hourly_cutoff: DateTime<Utc>) -> Self {
        Self {
            daily: Buckets::new(),
            hourly: Buckets::new(),
            hourly_cutoff,
        }
    }

    /// Folds a chunk of events into the rollups and compares the feed rows they make with
    /// `stored`, the rows the feed holds for the same positions.
    pub(crate) fn chunk(
        &mut self,
        events: &[Arc<Applied>],
        stored: Vec<ActivityRow>,
        pruned: &dyn Fn(&ActivityRow) -> bool,
        out: &mut Differences,
    ) {
        let mut want = BTreeMap::new();
        for mut row in events.iter().filter_map(|e| activity::row_of(e)) {
            row.started_at = micros(row.started_at);
            row.finished_at = micros(row.finished_at);
            row.recorded_at = micros(row.recorded_at);
            rollups::add_to(&mut self.daily, &mut self.hourly, &row);
            want.insert((row.account_id, row.position), row);
        }
        let cutoff = self.hourly_cutoff;
        self.hourly.retain(|k, _| k.bucket >= cutoff);
        let got: BTreeMap<_, _> = stored
            .into_iter()
            .map(|r| ((r.account_id, r.position), r))
            .collect();
        compare("activity", want, got, |_, row| pruned(row), out);
    }

    /// Compares the rollups with the tables' rows.
    pub(crate) fn finish(self, daily: Buckets, mut hourly: Buckets, out: &mut Differences) {
        hourly.retain(|k, _| k.bucket >= self.hourly_cutoff);
        compare("usage_daily", self.daily, daily, |_, _| false, out);
        compare("usage_hourly", self.hourly, hourly, |_, _| false, out);
    }
}
