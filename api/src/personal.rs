//! The erasable personal-data tables (`migrations/0003_personal_data.sql`): emails of users
//! and invitations, and the personal part of billing profiles. Never in the event log.

use std::collections::HashMap;

use ledger_domain::organization::BillingSettingsInput;
use ledger_domain::{Email, InvitationId, OrganizationId, UserId};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::AppError;

/// Stores a new user's email; a second registration of the same id changes nothing.
pub async fn register_email(pool: &PgPool, user: UserId, email: &Email) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO user_emails (user_id, email) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user.as_uuid())
    .bind(email.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the verified address of a user.
pub async fn verify_email(pool: &PgPool, user: UserId, email: &Email) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO user_emails (user_id, email, verified) VALUES ($1, $2, true) \
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, verified = true, updated_at = now()",
    )
    .bind(user.as_uuid())
    .bind(email.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// A user's verified address, if known.
pub async fn verified_email(pool: &PgPool, user: UserId) -> Result<Option<Email>, AppError> {
    let row = sqlx::query("SELECT email FROM user_emails WHERE user_id = $1 AND verified")
        .bind(user.as_uuid())
        .fetch_optional(pool)
        .await?;
    parse_email(row.map(|r| r.try_get::<String, _>("email")).transpose()?)
}

/// The addresses of the users among `users` whose email is still stored (an erased user has
/// none), by user id, in one query.
pub async fn emails(pool: &PgPool, users: &[Uuid]) -> Result<HashMap<Uuid, String>, AppError> {
    let rows = sqlx::query("SELECT user_id, email FROM user_emails WHERE user_id = ANY($1)")
        .bind(users)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get("user_id")?, row.try_get("email")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

fn parse_email(text: Option<String>) -> Result<Option<Email>, AppError> {
    text.map(|t| Email::parse(&t))
        .transpose()
        .map_err(|e| AppError::Internal(format!("stored email: {e}")))
}

/// Stores the address an invitation goes to.
pub async fn store_invitation(
    pool: &PgPool,
    org: OrganizationId,
    invitation: InvitationId,
    email: &Email,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO invitation_emails (organization_id, invitation_id, email) VALUES ($1, $2, $3) \
         ON CONFLICT (organization_id, invitation_id) DO UPDATE SET email = EXCLUDED.email",
    )
    .bind(org.as_uuid())
    .bind(invitation.as_uuid())
    .bind(email.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// The address an invitation was sent to.
pub async fn invitation_email(
    pool: &PgPool,
    org: OrganizationId,
    invitation: InvitationId,
) -> Result<Option<Email>, AppError> {
    let row = sqlx::query(
        "SELECT email FROM invitation_emails WHERE organization_id = $1 AND invitation_id = $2",
    )
    .bind(org.as_uuid())
    .bind(invitation.as_uuid())
    .fetch_optional(pool)
    .await?;
    parse_email(row.map(|r| r.try_get::<String, _>("email")).transpose()?)
}

/// Stores the personal part of a billing profile version.
pub async fn store_billing(
    pool: &PgPool,
    org: OrganizationId,
    version: u32,
    input: &BillingSettingsInput,
) -> Result<(), AppError> {
    let contacts: Vec<String> = input
        .contacts
        .iter()
        .map(|e| e.as_str().to_owned())
        .collect();
    sqlx::query(
        "INSERT INTO billing_profiles (organization_id, profile_version, contacts, company_name, tax_id, postal_address) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (organization_id, profile_version) DO UPDATE SET contacts = EXCLUDED.contacts, \
           company_name = EXCLUDED.company_name, tax_id = EXCLUDED.tax_id, postal_address = EXCLUDED.postal_address",
    )
    .bind(org.as_uuid())
    .bind(i32::try_from(version).unwrap_or(i32::MAX))
    .bind(&contacts)
    .bind(input.company_name.as_ref().map(ToString::to_string))
    .bind(input.tax_id.as_ref().map(ToString::to_string))
    .bind(input.address.as_ref().map(ToString::to_string))
    .execute(pool)
    .await?;
    Ok(())
}

/// The personal part of a billing profile: contacts, company name, tax id, postal address.
pub type BillingProfile = (Vec<String>, Option<String>, Option<String>, Option<String>);

/// Reads a billing profile version.
pub async fn billing(
    pool: &PgPool,
    org: OrganizationId,
    version: u32,
) -> Result<Option<BillingProfile>, AppError> {
    let row = sqlx::query(
        "SELECT contacts, company_name, tax_id, postal_address FROM billing_profiles \
         WHERE organization_id = $1 AND profile_version = $2",
    )
    .bind(org.as_uuid())
    .bind(i32::try_from(version).unwrap_or(i32::MAX))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((
        row.try_get("contacts")?,
        row.try_get("company_name")?,
        row.try_get("tax_id")?,
        row.try_get("postal_address")?,
    )))
}

/// Erases a user's personal data: the email row, invitations sent to that address, and the
/// address among billing contacts. Returns the rows touched. The log is not touched.
pub async fn erase_user(pool: &PgPool, user: UserId) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let email: Option<String> =
        sqlx::query_scalar("DELETE FROM user_emails WHERE user_id = $1 RETURNING email")
            .bind(user.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
    let mut rows = i64::from(email.is_some());
    if let Some(email) = email {
        let invitations = sqlx::query("DELETE FROM invitation_emails WHERE email = $1")
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        let billing = sqlx::query(
            "UPDATE billing_profiles SET contacts = array_remove(contacts, $1) WHERE $1 = ANY(contacts)",
        )
        .bind(&email)
        .execute(&mut *tx)
        .await?;
        rows += i64::try_from(invitations.rows_affected() + billing.rows_affected()).unwrap_or(0);
    }
    tx.commit().await?;
    Ok(rows)
}
