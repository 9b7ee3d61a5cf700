//! Usage analytics from the daily and hourly rollups: spend, tokens and requests per bucket,
//! grouped by member, key or model. Members of an organization see only the usage of their own
//! keys: the policy refuses them other members' keys (`ViewKey`), so the query is filtered to
//! their user id.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use ledger_domain::Action;
use ledger_projections::Projection;
use ledger_projections::models::rollups::{
    RollupFilter, UsageBucket, UsageSums, usage_by_day, usage_by_hour,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::{AccountRequest, Query};
use crate::app::{AccountInContext, allow};
use crate::error::AppError;
use crate::input;
use crate::pb;

/// Rows one rollup query returns at most (the query functions' limit).
const QUERY_ROWS: usize = 500;
/// Rollup queries per request at most: a range with more rows must be narrowed.
const MAX_QUERIES: usize = 40;

/// What to compute.
#[derive(Debug, Clone)]
pub struct Analytics {
    /// Day or hour buckets.
    pub granularity: pb::Granularity,
    /// What rows are grouped by besides time (`Unspecified`: totals per bucket).
    pub group_by: pb::GroupBy,
    /// The first bucket starts at or before this instant (truncated to the bucket).
    pub from: DateTime<Utc>,
    /// Buckets start before this instant.
    pub to: DateTime<Utc>,
}

/// A request for analytics rows: `GetUsageAnalytics` and `ExportAnalytics` carry the same
/// fields.
pub trait AnalyticsRequest: AccountRequest {
    /// The `min_position` field.
    fn min_position(&self) -> i64;
    /// The period and grouping asked for, validated.
    fn analytics(&self) -> Result<Analytics, AppError>;
}

/// Implements [`AnalyticsRequest`] for request messages that have its fields (prost generates
/// plain structs, with nothing in common to be generic over).
macro_rules! analytics_requests {
    ($($request:ident),+ $(,)?) => {
        $(impl AnalyticsRequest for pb::$request {
            fn min_position(&self) -> i64 {
                self.min_position
            }

            fn analytics(&self) -> Result<Analytics, AppError> {
                Analytics::parse(self.granularity, self.group_by, self.from.as_ref(), self.to.as_ref())
            }
        })+
    };
}

analytics_requests!(GetUsageAnalyticsRequest, ExportAnalyticsRequest);

/// Every row of the period a request asks for, ordered by bucket then group: the fields are
/// validated, the caller authorised (`ReadAnalytics`) and `min_position` awaited first.
pub async fn analytics_rows<R: AnalyticsRequest>(
    q: &Query<R>,
) -> Result<Vec<pb::AnalyticsRow>, AppError> {
    let analytics = q.req.analytics()?;
    let (account, AccountInContext { context, .. }) = q.account(Action::ReadAnalytics).await?;
    let caller = &q.cx.caller;
    // Whoever may not view another member's key sees only their own keys' usage.
    let own_only = allow(caller, Action::ViewKey, &context.with_key_creator(false)).is_err();
    let user_id = match (own_only, caller.user()) {
        (false, _) => None,
        (true, Some(user)) => Some(user.as_uuid()),
        (true, None) => return Err(AppError::Forbidden("analytics need an acting user")),
    };
    q.caught_up(Projection::Activity, q.req.min_position())
        .await?;
    let filter = RollupFilter {
        user_id,
        ..RollupFilter::default()
    };
    let buckets = analytics
        .buckets(q.app.read_models.pool(), account.as_uuid(), &filter)
        .await?;
    Ok(analytics.group(&buckets))
}

impl Analytics {
    /// Validates the fields of an analytics request. `granularity` is required; `group_by`
    /// unspecified gives totals per bucket; `to` defaults to now, `from` to 30 days (day
    /// buckets) or 24 hours (hour buckets) before `to`.
    pub fn parse(
        granularity: i32,
        group_by: i32,
        from: Option<&prost_types::Timestamp>,
        to: Option<&prost_types::Timestamp>,
    ) -> Result<Analytics, AppError> {
        let granularity = match pb::Granularity::try_from(granularity) {
            Ok(g @ (pb::Granularity::Day | pb::Granularity::Hour)) => g,
            _ => return Err(AppError::invalid("granularity", "must be DAY or HOUR")),
        };
        let group_by = pb::GroupBy::try_from(group_by)
            .map_err(|_| AppError::invalid("group_by", "unknown value"))?;
        let to = match to {
            Some(ts) => input::time("to", ts)?,
            None => Utc::now(),
        };
        let span = match granularity {
            pb::Granularity::Hour => TimeDelta::hours(1),
            _ => TimeDelta::days(1),
        };
        let from = match from {
            Some(ts) => input::time("from", ts)?,
            None if span == TimeDelta::hours(1) => to - TimeDelta::hours(24),
            None => to - TimeDelta::days(30),
        };
        if to <= from {
            return Err(AppError::invalid("to", "must be after from"));
        }
        let from = bucket_start(from, granularity);
        Ok(Analytics {
            granularity,
            group_by,
            from,
            to,
        })
    }

    /// Every rollup row of the period (the query functions return at most 500 rows: the next
    /// query starts at the last, possibly incomplete, bucket of a full answer).
    async fn buckets(
        &self,
        pool: &PgPool,
        account: Uuid,
        filter: &RollupFilter,
    ) -> Result<Vec<UsageBucket>, AppError> {
        let mut all = Vec::new();
        let mut start = self.from;
        for _ in 0..MAX_QUERIES {
            let batch = match self.granularity {
                pb::Granularity::Hour => {
                    usage_by_hour(pool, account, filter, start, self.to).await?
                }
                _ => {
                    let last_day = (self.to - TimeDelta::microseconds(1)).date_naive();
                    usage_by_day(pool, account, filter, start.date_naive(), last_day).await?
                }
            };
            if batch.len() < QUERY_ROWS {
                all.extend(batch);
                return Ok(all);
            }
            let (first, last) = match (batch.first(), batch.last()) {
                (Some(first), Some(last)) => (first.key.bucket, last.key.bucket),
                _ => return Ok(all),
            };
            if first == last {
                break;
            }
            all.extend(batch.into_iter().filter(|b| b.key.bucket < last));
            start = last;
        }
        Err(AppError::invalid(
            "from",
            "the period has too many rows; narrow from/to or use day buckets",
        ))
    }

    /// Sums the rollup rows per (bucket, group).
    fn group(&self, buckets: &[UsageBucket]) -> Vec<pb::AnalyticsRow> {
        let mut grouped: BTreeMap<(DateTime<Utc>, String), UsageSums> = BTreeMap::new();
        for bucket in buckets {
            let group = match self.group_by {
                pb::GroupBy::Member => bucket.key.user_id.to_string(),
                pb::GroupBy::Key => bucket.key.key_id.to_string(),
                pb::GroupBy::Model => bucket.key.model.clone(),
                pb::GroupBy::Unspecified => String::new(),
            };
            let sums = grouped.entry((bucket.key.bucket, group)).or_default();
            sums.requests += bucket.sums.requests;
            sums.prompt_tokens += bucket.sums.prompt_tokens;
            sums.completion_tokens += bucket.sums.completion_tokens;
            sums.reasoning_tokens += bucket.sums.reasoning_tokens;
            sums.cached_tokens += bucket.sums.cached_tokens;
            sums.cost += bucket.sums.cost;
        }
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        grouped
            .into_iter()
            .map(|((bucket, group), sums)| pb::AnalyticsRow {
                bucket_start: Some(input::timestamp(bucket)),
                group,
                spend: sums.cost.normalize().to_string(),
                tokens: Some(pb::Tokens {
                    prompt: unsigned(sums.prompt_tokens),
                    completion: unsigned(sums.completion_tokens),
                    reasoning: unsigned(sums.reasoning_tokens),
                    cached: unsigned(sums.cached_tokens),
                }),
                requests: unsigned(sums.requests),
            })
            .collect()
    }
}

/// The start of the day or hour bucket holding `at` (by calendar fields, so every year the
/// API accepts is in range).
fn bucket_start(at: DateTime<Utc>, granularity: pb::Granularity) -> DateTime<Utc> {
    let hour = match granularity {
        pb::Granularity::Hour => at.hour(),
        _ => 0,
    };
    at.date_naive()
        .and_hms_opt(hour, 0, 0)
        .map_or(at, |start| start.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_at_the_edges_of_time_are_refused_not_a_panic() {
        let chrono_min = DateTime::<Utc>::MIN_UTC.timestamp();
        let chrono_max = DateTime::<Utc>::MAX_UTC.timestamp();
        for granularity in [pb::Granularity::Day, pb::Granularity::Hour] {
            for seconds in [
                chrono_min,
                chrono_min + 3600,
                -62_135_596_800 + 40 * 86_400,
                253_402_300_799,
                chrono_max,
            ] {
                let at = prost_types::Timestamp { seconds, nanos: 0 };
                // `to` alone: `from` defaults to a span before it.
                let only_to = Analytics::parse(granularity as i32, 0, None, Some(&at));
                let both = Analytics::parse(granularity as i32, 0, Some(&at), Some(&at));
                assert!(both.is_err(), "{seconds}");
                if (-62_135_596_800..253_402_300_800).contains(&seconds) {
                    assert!(only_to.is_ok(), "{seconds}: {only_to:?}");
                }
                if seconds < -62_135_596_800 || seconds == chrono_max {
                    assert!(
                        matches!(only_to, Err(AppError::Invalid { ref field, .. }) if field == "to"),
                        "{seconds}: {only_to:?}"
                    );
                }
            }
        }
    }
}
