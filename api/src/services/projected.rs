//! Helpers of the queries served from the read models: the bounded read-your-writes wait on
//! `min_position`, page sizes and time conversions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_projections::{Projection, ReadModelPool, wait_for_position};
use sqlx::PgPool;
use tonic::metadata::MetadataMap;

use crate::error::AppError;
use crate::input;

/// Longest a query waits for its projection to reach `min_position`.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Kept free of the request's deadline so the answer (`UNAVAILABLE`) still reaches the caller.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// Default rows per page of a read-model listing.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// How long a query of this request may wait: [`MAX_WAIT`], or less when the caller's
/// `grpc-timeout` is shorter.
pub fn wait_budget(metadata: &MetadataMap) -> Duration {
    metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(grpc_timeout)
        .map_or(MAX_WAIT, |deadline| {
            deadline.saturating_sub(DEADLINE_MARGIN).min(MAX_WAIT)
        })
}

/// Parses a `grpc-timeout` header value (`<digits><unit>`, unit one of `HMSmun`).
fn grpc_timeout(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let amount: u64 = text.get(..text.len() - 1)?.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(amount.saturating_mul(3_600)),
        'M' => Duration::from_secs(amount.saturating_mul(60)),
        'S' => Duration::from_secs(amount),
        'm' => Duration::from_millis(amount),
        'u' => Duration::from_micros(amount),
        'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Waits until `projection` has applied `min_position` (no wait when it is 0), at most
/// `budget`; a projection still behind then is `UNAVAILABLE` (mapped in `status.rs`).
pub async fn caught_up(
    read_models: &ReadModelPool,
    projection: Projection,
    min_position: i64,
    budget: Duration,
) -> Result<(), AppError> {
    if min_position < 0 {
        return Err(AppError::invalid("min_position", "must not be negative"));
    }
    if min_position > 0 {
        wait_for_position(read_models, projection, min_position, budget).await?;
    }
    Ok(())
}

/// On a replica: waits until its log has reached `min_position` (no wait when it is 0), at
/// most `budget`, polling the head the standby replays; still behind then is `UNAVAILABLE`.
pub async fn log_caught_up(
    pool: &PgPool,
    min_position: i64,
    budget: Duration,
) -> Result<(), AppError> {
    if min_position < 0 {
        return Err(AppError::invalid("min_position", "must not be negative"));
    }
    if min_position == 0 {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let deadline = started + budget.min(MAX_WAIT);
    let mut pause = Duration::from_millis(2);
    loop {
        let reached = ledger_eventstore::head(pool).await?.position;
        if reached >= min_position {
            return Ok(());
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(ledger_projections::ProjectionError::NotYetAtPosition {
                projection: "log (on this replica)",
                reached,
                wanted: min_position,
                waited: started.elapsed(),
            }
            .into());
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The page size of a read-model listing: 0 → [`DEFAULT_PAGE_SIZE`], at most 500.
pub fn page_size(requested: i32) -> Result<u32, AppError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(AppError::invalid("page_size", "must not be negative")),
        n => Ok(u32::try_from(n)
            .unwrap_or(ledger_projections::MAX_PAGE_SIZE)
            .min(ledger_projections::MAX_PAGE_SIZE)),
    }
}

/// The page token to pass to a query: `None` for the first page.
pub fn token(page_token: &str) -> Option<&str> {
    (!page_token.is_empty()).then_some(page_token)
}

/// An optional time field.
pub fn optional_time(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    ts.map(|ts| input::time(field, ts)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3_600)));
        assert_eq!(grpc_timeout("x"), None);
        assert_eq!(grpc_timeout(""), None);
    }
}
