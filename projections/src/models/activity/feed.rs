//! The activity feed query: newest first per account, filtered by key, member, model and time
//! range, keyset-paginated on (finished_at, position) so a deep page costs what the first does.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use super::{ActivityRow, COLUMNS};
use crate::cursor::Cursor;
use crate::error::Result;
use crate::models::{PgQuery, fetch_page, from_row, page_size as page_size_of, sql};

/// Filters of the activity feed; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// Only this key.
    pub key_id: Option<Uuid>,
    /// Only this member (the key's creator).
    pub user_id: Option<Uuid>,
    /// Only this model.
    pub model: Option<String>,
    /// Finished at or after.
    pub from: Option<DateTime<Utc>>,
    /// Finished before.
    pub until: Option<DateTime<Utc>>,
}

/// A page of the feed and the cursor of the next (older) page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPage {
    /// The rows, newest first.
    pub rows: Vec<ActivityRow>,
    /// Pass back to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// A cursor that starts a page just older than (`finished_at`, `position`): lets a client jump
/// to a point in time (pass `i64::MAX` as the position to include everything at that time).
pub fn activity_cursor(finished_at: DateTime<Utc>, position: i64) -> String {
    Cursor::at(finished_at, position).encode()
}

/// The SQL of a feed query for the filters present (each combination is its own prepared
/// statement, so the planner always sees which index fits: `activity_account_key_time`,
/// `_user_time`, `_model_time` or `activity_account_time_position`).
pub fn feed_sql(filter: &ActivityFilter, with_cursor: bool) -> String {
    let mut conditions = vec!["account_id = $1".to_owned()];
    let mut n = 1;
    let mut param = || {
        n += 1;
        format!("${n}")
    };
    if filter.key_id.is_some() {
        conditions.push(format!("key_id = {}", param()));
    }
    if filter.user_id.is_some() {
        conditions.push(format!("user_id = {}", param()));
    }
    if filter.model.is_some() {
        conditions.push(format!("model = {}", param()));
    }
    if filter.from.is_some() {
        conditions.push(format!("finished_at >= {}", param()));
    }
    if filter.until.is_some() {
        conditions.push(format!("finished_at < {}", param()));
    }
    if with_cursor {
        let (t, p) = (param(), param());
        conditions.push(format!("(finished_at, position) < ({t}, {p})"));
    }
    let limit = param();
    format!(
        "SELECT {COLUMNS} FROM activity WHERE {} ORDER BY finished_at DESC, position DESC LIMIT {limit}",
        conditions.join(" AND ")
    )
}

/// One page of an account's activity feed, newest first, `page_size` at most (≤ 500).
#[tracing::instrument(skip_all, fields(account = %account_id), err)]
pub async fn activity<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    filter: &ActivityFilter,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<ActivityPage> {
    let query = feed_query("", account_id, filter, cursor)?;
    let (rows, next_cursor) =
        fetch_page(executor, query, page_size, from_row, |r: &ActivityRow| {
            Cursor::at(r.finished_at, r.position)
        })
        .await?;
    Ok(ActivityPage { rows, next_cursor })
}

/// The plan PostgreSQL makes for the page [`activity`] would read with these arguments
/// (`EXPLAIN`, one line per row): which index serves each filter is asserted on it.
pub async fn activity_plan<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
    filter: &ActivityFilter,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<String> {
    let query = feed_query("EXPLAIN ", account_id, filter, cursor)?;
    let rows = query
        .bind(page_size_of(page_size))
        .fetch_all(executor)
        .await?;
    let lines = rows
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(lines.join("\n"))
}

/// The feed's statement (after `prefix`) with every parameter but the page size bound.
fn feed_query(
    prefix: &str,
    account_id: Uuid,
    filter: &ActivityFilter,
    cursor: Option<&str>,
) -> Result<PgQuery> {
    let cursor = cursor.map(Cursor::decode).transpose()?;
    let text = format!("{prefix}{}", feed_sql(filter, cursor.is_some()));
    let mut query = sqlx::query(sql(text)).bind(account_id);
    if let Some(key) = filter.key_id {
        query = query.bind(key);
    }
    if let Some(user) = filter.user_id {
        query = query.bind(user);
    }
    if let Some(model) = &filter.model {
        query = query.bind(model.clone());
    }
    if let Some(from) = filter.from {
        query = query.bind(from);
    }
    if let Some(until) = filter.until {
        query = query.bind(until);
    }
    if let Some(cursor) = cursor {
        query = query.bind(cursor.time()?).bind(cursor.position);
    }
    Ok(query)
}
