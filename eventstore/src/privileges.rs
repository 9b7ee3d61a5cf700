//! The privileges a run-time database role needs on the event log, and no more: it can append
//! and read, but never rewrite history, even with the immutability triggers switched off.
//!
//! The tables belong to the role that runs the migrations; `ledgerd` can then connect as a
//! role granted only these (see `docs/operations.md`).

use sqlx::PgExecutor;

use crate::error::StoreError;

/// Each event-log table and what the run-time role may do to it, and the procedure that writes a
/// batch (revoked from `PUBLIC` by its migration).
pub const LOG_GRANTS: [(&str, &str); 8] = [
    ("events", "SELECT, INSERT"),
    ("commands", "SELECT, INSERT"),
    ("unique_claims", "SELECT, INSERT"),
    ("log_head", "SELECT, UPDATE"),
    ("streams", "SELECT, INSERT, UPDATE"),
    ("snapshots", "SELECT, INSERT, UPDATE, DELETE"),
    ("PROCEDURE append_batch", "EXECUTE"),
    ("outbox", "SELECT, INSERT"),
];

/// The other tables `ledgerd serve` uses, and what it does to them: the read models and their
/// checkpoints (`migrations/0002_read_models.sql`), the erasable personal data
/// (`0003_personal_data.sql`), the key-hash secret's fingerprint (`0004_key_hash_secret.sql`),
/// and the migration history, read to refuse a schema that `ledgerd migrate` has not brought
/// up to date.
pub const SERVICE_GRANTS: [(&str, &str); 17] = [
    ("projection_checkpoints", READ_WRITE),
    ("account_balances", READ_WRITE),
    ("open_holds", READ_WRITE),
    ("ledger_entries", READ_WRITE),
    ("api_keys", READ_WRITE),
    ("users", READ_WRITE),
    ("organizations", READ_WRITE),
    ("organization_members", READ_WRITE),
    ("organization_invitations", READ_WRITE),
    ("activity", READ_WRITE),
    ("usage_daily", READ_WRITE),
    ("usage_hourly", READ_WRITE),
    ("user_emails", READ_WRITE),
    ("invitation_emails", READ_WRITE),
    ("billing_profiles", READ_WRITE),
    ("key_hash_secret", "SELECT, INSERT"),
    ("_sqlx_migrations", "SELECT"),
];

/// Read models and personal data are rewritten freely: they are derived from the log, or
/// erasable by design.
const READ_WRITE: &str = "SELECT, INSERT, UPDATE, DELETE";

/// Grants `role` exactly [`LOG_GRANTS`] (run as the tables' owner). `role` must be a plain
/// lowercase identifier.
pub async fn grant_log_privileges<'e>(
    executor: impl PgExecutor<'e> + Copy,
    role: &str,
) -> Result<(), StoreError> {
    grant(executor, role, &LOG_GRANTS).await
}

/// Grants `role` what `ledgerd serve --no-migrate` needs and no more: [`LOG_GRANTS`] and
/// [`SERVICE_GRANTS`] (run as the tables' owner). No DDL, no rewriting of history.
pub async fn grant_service_privileges<'e>(
    executor: impl PgExecutor<'e> + Copy,
    role: &str,
) -> Result<(), StoreError> {
    grant(executor, role, &LOG_GRANTS).await?;
    grant(executor, role, &SERVICE_GRANTS).await
}

async fn grant<'e>(
    executor: impl PgExecutor<'e> + Copy,
    role: &str,
    grants: &[(&str, &str)],
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
    for (table, privileges) in grants {
        // Identifiers cannot be bound as parameters; both are checked constants or validated.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "GRANT {privileges} ON {table} TO \"{role}\""
        )))
        .execute(executor)
        .await?;
    }
    Ok(())
}
