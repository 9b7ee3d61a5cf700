//! Key limit periods (UTC) and a key's spend per period.
//!
//! A key's spend is tracked for every period kind at once (day, ISO week starting Monday,
//! calendar month, lifetime), so changing a key's reset period takes effect immediately and
//! exactly. A usage landing in a later period resets that period's counter; one landing in
//! an earlier period (clock skew between gateways) counts in the current one (never lost).

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// When a key's spend limit resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitPeriod {
    /// Every UTC day at 00:00.
    Daily,
    /// Every ISO week, Monday 00:00 UTC.
    Weekly,
    /// Every UTC calendar month, on the 1st at 00:00.
    Monthly,
    /// Never: a lifetime limit.
    Lifetime,
}

impl LimitPeriod {
    /// The first day of the period containing `at`; `None` for a lifetime limit.
    pub fn start_of(self, at: DateTime<Utc>) -> Option<NaiveDate> {
        let day = at.date_naive();
        match self {
            Self::Daily => Some(day),
            Self::Weekly => {
                day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            }
            Self::Monthly => day.with_day(1),
            Self::Lifetime => None,
        }
    }
}

/// Spend within one period kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodSpend {
    /// First day of the period the spend belongs to.
    pub start: Option<NaiveDate>,
    /// Credits spent in it.
    pub spent: Decimal,
}

impl PeriodSpend {
    fn add(&mut self, start: Option<NaiveDate>, cost: Decimal) {
        if start > self.start {
            self.start = start;
            self.spent = Decimal::ZERO;
        }
        self.spent += cost;
    }

    fn spent_at(&self, start: Option<NaiveDate>) -> Decimal {
        if start > self.start {
            Decimal::ZERO
        } else {
            self.spent
        }
    }
}

/// A key's spend in every period kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpend {
    /// Current UTC day.
    pub day: PeriodSpend,
    /// Current ISO week.
    pub week: PeriodSpend,
    /// Current calendar month.
    pub month: PeriodSpend,
    /// Since creation.
    pub lifetime: Decimal,
}

impl KeySpend {
    /// Adds a cost recorded at `at`.
    pub fn add(&mut self, at: DateTime<Utc>, cost: Decimal) {
        self.day.add(LimitPeriod::Daily.start_of(at), cost);
        self.week.add(LimitPeriod::Weekly.start_of(at), cost);
        self.month.add(LimitPeriod::Monthly.start_of(at), cost);
        self.lifetime += cost;
    }

    /// Spend in the `period` containing `now`.
    pub fn spent_in(&self, period: LimitPeriod, now: DateTime<Utc>) -> Decimal {
        let start = period.start_of(now);
        match period {
            LimitPeriod::Daily => self.day.spent_at(start),
            LimitPeriod::Weekly => self.week.spent_at(start),
            LimitPeriod::Monthly => self.month.spent_at(start),
            LimitPeriod::Lifetime => self.lifetime,
        }
    }
}

impl KeySpend {
    /// The first day of the `period` the spend in it at `now` belongs to: the later of the
    /// period containing `now` and the one the counter holds (a late usage counts in the
    /// current period, see the module doc); `None` for a lifetime.
    pub fn period_start(&self, period: LimitPeriod, now: DateTime<Utc>) -> Option<NaiveDate> {
        let held = match period {
            LimitPeriod::Daily => self.day.start,
            LimitPeriod::Weekly => self.week.start,
            LimitPeriod::Monthly => self.month.start,
            LimitPeriod::Lifetime => None,
        };
        period.start_of(now).max(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2026-01-04 is a Sunday; 2026-01-05 a Monday.
        let sunday = LimitPeriod::Weekly.start_of(at(2026, 1, 4, 23));
        assert_eq!(sunday, NaiveDate::from_ymd_opt(2025, 12, 29));
        assert_eq!(
            LimitPeriod::Weekly.start_of(at(2026, 1, 5, 0)),
            NaiveDate::from_ymd_opt(2026, 1, 5)
        );
        assert_eq!(
            LimitPeriod::Monthly.start_of(at(2026, 2, 28, 12)),
            NaiveDate::from_ymd_opt(2026, 2, 1)
        );
        assert_eq!(LimitPeriod::Lifetime.start_of(at(2026, 2, 28, 12)), None);
    }

    #[test]
    fn spend_resets_when_a_later_period_begins() {
        use LimitPeriod::{Daily, Lifetime, Monthly, Weekly};
        let mut spend = KeySpend::default();
        spend.add(at(2026, 1, 5, 10), Decimal::ONE);
        spend.add(at(2026, 1, 5, 23), Decimal::ONE);
        let two_on_monday = [
            (Daily, at(2026, 1, 5, 23), Decimal::TWO),
            (Daily, at(2026, 1, 6, 0), Decimal::ZERO),
            (Weekly, at(2026, 1, 11, 23), Decimal::TWO),
            (Weekly, at(2026, 1, 12, 0), Decimal::ZERO),
        ];
        for (period, now, spent) in two_on_monday {
            assert_eq!(spend.spent_in(period, now), spent, "{period:?} at {now}");
        }
        spend.add(at(2026, 1, 6, 1), Decimal::ONE);
        let one_more_on_tuesday = [
            (Daily, at(2026, 1, 6, 2), Decimal::ONE),
            (Monthly, at(2026, 1, 31, 2), Decimal::from(3)),
            (Monthly, at(2026, 2, 1, 0), Decimal::ZERO),
            (Lifetime, at(2030, 1, 1, 0), Decimal::from(3)),
        ];
        for (period, now, spent) in one_more_on_tuesday {
            assert_eq!(spend.spent_in(period, now), spent, "{period:?} at {now}");
        }
    }

    #[test]
    fn a_late_usage_counts_in_the_current_period() {
        let mut spend = KeySpend::default();
        spend.add(at(2026, 1, 6, 0), Decimal::ONE);
        spend.add(at(2026, 1, 5, 23), Decimal::ONE);
        assert_eq!(
            spend.spent_in(LimitPeriod::Daily, at(2026, 1, 6, 1)),
            Decimal::TWO
        );
    }
}
