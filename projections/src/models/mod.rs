//! The read models: how each projection applies a batch, and the queries it serves.

pub mod activity;
pub mod balances;
pub mod directory;
pub mod keys;
pub mod ledger;
pub mod rollups;
pub(crate) mod table;
mod write;

pub(crate) use table::{Table, from_row};
pub(crate) use write::update_else_insert;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, PgExecutor, Postgres};

use crate::cursor::Cursor;
use crate::error::Result;

/// A statement with the parameters bound so far, to bind more to.
pub(crate) type PgQuery = Query<'static, Postgres, PgArguments>;

/// Wraps SQL built from internal constants (schema and table names), never user input.
pub(crate) fn sql(text: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(text)
}

/// Most rows one page of any listing returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Clamps a requested page size to 1..=[`MAX_PAGE_SIZE`] (0 means the maximum).
pub(crate) fn page_size(requested: u32) -> i64 {
    let size = if requested == 0 {
        MAX_PAGE_SIZE
    } else {
        requested.min(MAX_PAGE_SIZE)
    };
    i64::from(size)
}

/// One page of a listing: runs `query` with the page size (`requested`, clamped by
/// [`page_size`]) bound as its last parameter, and returns the rows with the token of the
/// next page, the cursor of the last row (`None` after a short page: the last one).
pub(crate) async fn fetch_page<'e, T>(
    executor: impl PgExecutor<'e>,
    query: PgQuery,
    requested: u32,
    decode: fn(&PgRow) -> Result<T>,
    cursor: impl Fn(&T) -> Cursor,
) -> Result<(Vec<T>, Option<String>)> {
    let limit = page_size(requested);
    let rows = query.bind(limit).fetch_all(executor).await?;
    let rows: Vec<T> = rows.iter().map(decode).collect::<Result<_>>()?;
    let next = match rows.last() {
        Some(last) if rows.len() as i64 == limit => Some(cursor(last).encode()),
        _ => None,
    };
    Ok((rows, next))
}
