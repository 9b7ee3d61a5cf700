//! The read models: how each projection applies a batch, and the queries it serves.

pub mod activity;
pub mod balances;
pub mod directory;
pub mod keys;
pub mod ledger;
pub mod rollups;

use sqlx::AssertSqlSafe;

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
