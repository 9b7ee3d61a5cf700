//! The privileges a run-time database role needs on the event log, and no more: it can append
//! and read, but never rewrite history, even with the immutability triggers switched off.
//!
//! The tables belong to the role that runs the migrations; `ledgerd` can then connect as a
//! role granted only these (see `docs/operations.md`).

use sqlx::PgExecutor;

use crate::error::StoreError;

/// Each event-log table and what the run-time role may do to it.
pub const LOG_GRANTS: [(&str, &str); 6] = [
    ("events", "SELECT, INSERT"),
    ("commands", "SELECT, INSERT"),
    ("unique_claims", "SELECT, INSERT"),
    ("log_head", "SELECT, UPDATE"),
    ("streams", "SELECT, INSERT, UPDATE"),
    ("snapshots", "SELECT, INSERT, UPDATE, DELETE"),
];

/// Grants `role` exactly [`LOG_GRANTS`] (run as the tables' owner). `role` must be a plain
/// lowercase identifier.
pub async fn grant_log_privileges<'e>(
    executor: impl PgExecutor<'e> + Copy,
    role: &str,
) -> Result<(), StoreError> {
    let plain = !role.is_empty()
        && role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return Err(StoreError::InvalidRequest(
            "a role name is a lowercase identifier of at most 63 characters".into(),
        ));
    }
    for (table, privileges) in LOG_GRANTS {
        // Identifiers cannot be bound as parameters; both are checked constants or validated.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "GRANT {privileges} ON {table} TO \"{role}\""
        )))
        .execute(executor)
        .await?;
    }
    Ok(())
}
