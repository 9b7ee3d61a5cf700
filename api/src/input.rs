//! Parsing request fields into validated domain values; every error names the proto field.

use chrono::{DateTime, Datelike, Utc};
use ledger_domain::account::{KeyLimit, Tokens, UsageReport, UsageStatus};
use ledger_domain::text::{ModelName, ProviderName};
use ledger_domain::{
    AccountId, Credits, DomainError, GenerationId, KeyId, LimitPeriod, OrganizationId, Role, UserId,
};
use uuid::Uuid;

use crate::error::{AppError, AtField};
use crate::pb;

/// Most items in a list page.
pub const MAX_PAGE_SIZE: usize = 500;
/// Items in a list page when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// A required UUID field.
pub fn uuid(field: &str, text: &str) -> Result<Uuid, AppError> {
    if text.trim().is_empty() {
        return Err(AppError::invalid(field, "is required"));
    }
    Uuid::parse_str(text.trim()).map_err(|_| AppError::invalid(field, "must be a UUID"))
}

/// An optional UUID field: empty means "derive it from the command id" (UUID v5, so a retry
/// derives the same id).
pub fn uuid_or_derived(field: &str, text: &str, command_id: Uuid) -> Result<Uuid, AppError> {
    if text.trim().is_empty() {
        Ok(Uuid::new_v5(&command_id, field.as_bytes()))
    } else {
        uuid(field, text)
    }
}

/// A required id of a domain type.
pub fn id<T>(field: &str, text: &str, make: fn(Uuid) -> T) -> Result<T, AppError> {
    uuid(field, text).map(make)
}

/// An account id; several fields name accounts (`account_id`, `from_account_id`, …).
pub fn account_id(field: &str, text: &str) -> Result<AccountId, AppError> {
    id(field, text, AccountId::from_uuid)
}

/// The `organization_id` field.
pub fn organization_id(text: &str) -> Result<OrganizationId, AppError> {
    id("organization_id", text, OrganizationId::from_uuid)
}

/// The `user_id` field.
pub fn user_id(text: &str) -> Result<UserId, AppError> {
    id("user_id", text, UserId::from_uuid)
}

/// The `key_id` field.
pub fn key_id(text: &str) -> Result<KeyId, AppError> {
    id("key_id", text, KeyId::from_uuid)
}

/// An optional text field, parsed by the domain's `parse` when present.
pub fn optional_text<T>(
    field: &str,
    text: Option<&str>,
    parse: fn(&str) -> Result<T, DomainError>,
) -> Result<Option<T>, AppError> {
    text.map(|text| parse(text).at(field)).transpose()
}

/// A required proto enum: a number the proto does not define is refused as not a known `what`,
/// and the value `known` maps to `None` (`*_UNSPECIFIED`) as missing.
fn required_enum<P: TryFrom<i32>, T>(
    field: &str,
    value: i32,
    what: &str,
    known: impl FnOnce(P) -> Option<T>,
) -> Result<T, AppError> {
    let value = P::try_from(value)
        .map_err(|_| AppError::invalid(field, format!("is not a known {what}")))?;
    known(value).ok_or_else(|| AppError::invalid(field, "is required"))
}

/// A required role.
pub fn role(field: &str, value: i32) -> Result<Role, AppError> {
    required_enum(field, value, "role", |role| match role {
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Member => Some(Role::Member),
        pb::Role::Unspecified => None,
    })
}

/// A required limit period.
pub fn period(field: &str, value: i32) -> Result<LimitPeriod, AppError> {
    required_enum(field, value, "limit period", |period| match period {
        pb::LimitPeriod::Daily => Some(LimitPeriod::Daily),
        pb::LimitPeriod::Weekly => Some(LimitPeriod::Weekly),
        pb::LimitPeriod::Monthly => Some(LimitPeriod::Monthly),
        pb::LimitPeriod::Lifetime => Some(LimitPeriod::Lifetime),
        pb::LimitPeriod::Unspecified => None,
    })
}

/// A required usage status.
pub fn usage_status(field: &str, value: i32) -> Result<UsageStatus, AppError> {
    required_enum(field, value, "usage status", |status| match status {
        pb::UsageStatus::Success => Some(UsageStatus::Success),
        pb::UsageStatus::Error => Some(UsageStatus::Error),
        pb::UsageStatus::Cancelled => Some(UsageStatus::Cancelled),
        pb::UsageStatus::Unspecified => None,
    })
}

/// A timestamp.
pub fn time(field: &str, ts: &prost_types::Timestamp) -> Result<DateTime<Utc>, AppError> {
    let nanos = u32::try_from(ts.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .ok_or_else(|| AppError::invalid(field, "nanos must be 0 to 999,999,999"))?;
    DateTime::from_timestamp(ts.seconds, nanos)
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or_else(|| AppError::invalid(field, "is out of range (years 1 to 9999)"))
}

/// A required timestamp.
pub fn required_time(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, AppError> {
    time(
        field,
        ts.ok_or_else(|| AppError::invalid(field, "is required"))?,
    )
}

/// A timestamp for a reply.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// An optional key limit.
pub fn key_limit(field: &str, limit: Option<&pb::KeyLimit>) -> Result<Option<KeyLimit>, AppError> {
    let Some(limit) = limit else { return Ok(None) };
    Ok(Some(KeyLimit {
        amount: Credits::key_limit(limit.amount.as_str()).at(&format!("{field}.amount"))?,
        reset: period(&format!("{field}.reset"), limit.reset)?,
    }))
}

/// The outbox cursor a subscriber resumes after; absent is before the first message.
pub fn outbox_cursor(
    field: &str,
    cursor: Option<&pb::NotificationCursor>,
) -> Result<ledger_eventstore::OutboxCursor, AppError> {
    let Some(cursor) = cursor else {
        return Ok(ledger_eventstore::OutboxCursor::default());
    };
    if cursor.position < 0 {
        return Err(AppError::invalid(
            format!("{field}.position"),
            "must not be negative",
        ));
    }
    if cursor.index < 0 {
        return Err(AppError::invalid(
            format!("{field}.index"),
            "must not be negative",
        ));
    }
    Ok(ledger_eventstore::OutboxCursor {
        position: cursor.position,
        index: cursor.index,
    })
}

/// A required usage report, fields named under `field`.
pub fn usage(field: &str, usage: Option<&pb::UsageReport>) -> Result<UsageReport, AppError> {
    let u = usage.ok_or_else(|| AppError::invalid(field, "is required"))?;
    let f = |name: &str| format!("{field}.{name}");
    let tokens = u.tokens.unwrap_or_default();
    let report = UsageReport {
        generation_id: GenerationId::parse(&u.generation_id).at(&f("generation_id"))?,
        model: ModelName::parse(&u.model).at(&f("model"))?,
        provider: ProviderName::parse(&u.provider).at(&f("provider"))?,
        tokens: Tokens {
            prompt: tokens.prompt,
            completion: tokens.completion,
            reasoning: tokens.reasoning,
            cached: tokens.cached,
        },
        cost: Credits::usage_cost(u.cost.as_str()).at(&f("cost"))?,
        latency_ms: u.latency_ms,
        time_to_first_token_ms: u.time_to_first_token_ms,
        status: usage_status(&f("status"), u.status)?,
        started_at: required_time(&f("started_at"), u.started_at.as_ref())?,
        finished_at: required_time(&f("finished_at"), u.finished_at.as_ref())?,
    };
    report.validate()?;
    Ok(report)
}

/// The largest offset a page token may carry: far past any listing held whole (they are
/// bounded to thousands of items), so a forged token cannot overflow the arithmetic on it.
pub const MAX_PAGE_OFFSET: usize = 1 << 32;

/// A page: (offset, size) from `page_size` and `page_token` (an offset, opaque to callers).
pub fn page(page_size: i32, page_token: &str) -> Result<(usize, usize), AppError> {
    let size = match page_size {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => return Err(AppError::invalid("page_size", "must not be negative")),
        n => usize::try_from(n)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE),
    };
    let offset = if page_token.is_empty() {
        0
    } else {
        page_token
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= MAX_PAGE_OFFSET)
            .ok_or_else(|| AppError::invalid("page_token", "is not a token this server issued"))?
    };
    Ok((offset, size))
}

/// The page `(offset, size)` (from [`page`]) of a listing held whole, each item made a reply
/// item by `to_pb`, and the token of the page after it.
pub fn page_of<T, P>(
    items: impl ExactSizeIterator<Item = T>,
    (offset, size): (usize, usize),
    to_pb: impl FnMut(T) -> P,
) -> (Vec<P>, String) {
    let total = items.len();
    let page = items.skip(offset).take(size).map(to_pb).collect();
    (page, next_token(offset, size, total))
}

/// The token of the page after `offset + size` of `total`, empty at the end.
pub fn next_token(offset: usize, size: usize, total: usize) -> String {
    match offset.checked_add(size) {
        Some(next) if next < total => next.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_page_token_is_refused_and_the_next_token_never_overflows() {
        let refused = page(10, &usize::MAX.to_string()).unwrap_err();
        assert!(matches!(refused, AppError::Invalid { ref field, .. } if field == "page_token"));
        assert!(page(10, &(MAX_PAGE_OFFSET + 1).to_string()).is_err());
        assert_eq!(
            page(10, &MAX_PAGE_OFFSET.to_string()).unwrap(),
            (MAX_PAGE_OFFSET, 10)
        );
        assert_eq!(next_token(usize::MAX, 10, usize::MAX), "");
        assert_eq!(next_token(0, 10, 25), "10");
    }

    #[test]
    fn timestamps_outside_years_1_to_9999_are_invalid_input_not_database_errors() {
        let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        for seconds in [i64::MIN, -62_135_596_801, 253_402_300_800, i64::MAX] {
            let refused = time("from", &at(seconds)).unwrap_err();
            assert!(
                matches!(refused, AppError::Invalid { ref field, .. } if field == "from"),
                "{seconds}: {refused:?}"
            );
        }
        for seconds in [-62_135_596_800, 0, 253_402_300_799] {
            assert!(time("from", &at(seconds)).is_ok(), "{seconds}");
        }
    }
}
