//! Queries of the directory read model: users, organizations, members, invitations, and the
//! accounts a user can switch between.

use chrono::{DateTime, Utc};
use ledger_domain::Role;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::cursor::Cursor;
use crate::error::{ProjectionError, Result};
use crate::models::{page_size, sql};
use crate::projection::Schema;

/// A registered user (no personal data: the email lives in the erasable table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user.
    pub user_id: Uuid,
    /// Their personal account.
    pub personal_account_id: Uuid,
    /// Whether the identity service verified their email.
    pub email_verified: bool,
    /// When they registered.
    pub registered_at: DateTime<Utc>,
}

/// An organization's profile and settings (the non-personal part of billing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRow {
    /// The organization.
    pub organization_id: Uuid,
    /// Its account (shared credit pool).
    pub account_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its details.
    pub details: Option<String>,
    /// Its creator.
    pub created_by: Uuid,
    /// Most members allowed.
    pub member_limit: i32,
    /// Current members.
    pub member_count: i32,
    /// Days the activity feed keeps rows.
    pub retention_days: i32,
    /// Prompt-logging opt-in (read by the gateway).
    pub prompt_logging: bool,
    /// Version of the billing profile in the erasable table (0 = none).
    pub billing_profile_version: i32,
    /// The payment provider's payment-method reference.
    pub payment_method_reference: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A member and their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The member.
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Position of the join (listing order).
    pub joined_position: i64,
}

/// A pending invitation (the invited email is in the erasable table under its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// The invitation.
    pub invitation_id: Uuid,
    /// The role it grants.
    pub role: Role,
    /// The admin who invited.
    pub invited_by: Uuid,
    /// When it stops being acceptable.
    pub expires_at: DateTime<Utc>,
    /// When it was sent.
    pub invited_at: DateTime<Utc>,
    /// Position of its event (listing order).
    pub position: i64,
}

/// One entry of the account switcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAccount {
    /// The user's personal account.
    Personal {
        /// The account.
        account_id: Uuid,
    },
    /// An organization the user belongs to.
    Organization {
        /// The organization's account.
        account_id: Uuid,
        /// The organization.
        organization_id: Uuid,
        /// Its name.
        name: String,
        /// The user's role in it.
        role: Role,
    },
}

/// A page of rows and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// Pass back to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

pub(crate) fn parse_role(text: &str) -> Result<Role> {
    match text {
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(ProjectionError::Malformed(format!("role {other}"))),
    }
}

const USER_COLUMNS: &str = "user_id, personal_account_id, email_verified, registered_at";
const ORG_COLUMNS: &str = "organization_id, account_id, name, details, created_by, member_limit, \
    member_count, retention_days, prompt_logging, billing_profile_version, \
    payment_method_reference, created_at";

fn decode_user(row: &PgRow) -> Result<UserRow> {
    Ok(UserRow {
        user_id: row.try_get("user_id")?,
        personal_account_id: row.try_get("personal_account_id")?,
        email_verified: row.try_get("email_verified")?,
        registered_at: row.try_get("registered_at")?,
    })
}

fn decode_org(row: &PgRow) -> Result<OrganizationRow> {
    Ok(OrganizationRow {
        organization_id: row.try_get("organization_id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        details: row.try_get("details")?,
        created_by: row.try_get("created_by")?,
        member_limit: row.try_get("member_limit")?,
        member_count: row.try_get("member_count")?,
        retention_days: row.try_get("retention_days")?,
        prompt_logging: row.try_get("prompt_logging")?,
        billing_profile_version: row.try_get("billing_profile_version")?,
        payment_method_reference: row.try_get("payment_method_reference")?,
        created_at: row.try_get("created_at")?,
    })
}

fn decode_member(row: &PgRow) -> Result<MemberRow> {
    Ok(MemberRow {
        user_id: row.try_get("user_id")?,
        role: parse_role(row.try_get("role")?)?,
        joined_at: row.try_get("joined_at")?,
        joined_position: row.try_get("joined_position")?,
    })
}

fn decode_invitation(row: &PgRow) -> Result<InvitationRow> {
    Ok(InvitationRow {
        invitation_id: row.try_get("invitation_id")?,
        role: parse_role(row.try_get("role")?)?,
        invited_by: row.try_get("invited_by")?,
        expires_at: row.try_get("expires_at")?,
        invited_at: row.try_get("invited_at")?,
        position: row.try_get("position")?,
    })
}

/// One user.
pub async fn user<'e>(executor: impl PgExecutor<'e>, user_id: Uuid) -> Result<Option<UserRow>> {
    let row = sqlx::query(sql(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"
    )))
    .bind(user_id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(decode_user).transpose()
}

/// One organization.
pub async fn organization<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
) -> Result<Option<OrganizationRow>> {
    let row = sqlx::query(sql(format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE organization_id = $1"
    )))
    .bind(organization_id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(decode_org).transpose()
}

/// The organization owning an account, if it is an organization account.
pub async fn organization_by_account<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
) -> Result<Option<OrganizationRow>> {
    let row = sqlx::query(sql(format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE account_id = $1"
    )))
    .bind(account_id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(decode_org).transpose()
}

fn next<T>(rows: &[T], limit: i64, position: impl Fn(&T) -> i64) -> Option<String> {
    (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|r| Cursor::at_position(position(r)).encode())
        })
        .flatten()
}

fn after(cursor: Option<&str>) -> Result<i64> {
    cursor.map_or(Ok(0), |c| Cursor::decode(c).map(|c| c.position))
}

/// Members of an organization in joining order, `page_size` at most (≤ 500), after `cursor`.
pub async fn members<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
    cursor: Option<&str>,
    page_size_requested: u32,
) -> Result<Page<MemberRow>> {
    let limit = page_size(page_size_requested);
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at, joined_position FROM organization_members \
         WHERE organization_id = $1 AND joined_position > $2 ORDER BY joined_position LIMIT $3",
    )
    .bind(organization_id)
    .bind(after(cursor)?)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    let rows: Vec<MemberRow> = rows.iter().map(decode_member).collect::<Result<_>>()?;
    let next_cursor = next(&rows, limit, |r| r.joined_position);
    Ok(Page { rows, next_cursor })
}

/// Pending invitations of an organization not expired at `now`, oldest first.
pub async fn pending_invitations<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
    now: DateTime<Utc>,
    cursor: Option<&str>,
    page_size_requested: u32,
) -> Result<Page<InvitationRow>> {
    let limit = page_size(page_size_requested);
    let rows = sqlx::query(
        "SELECT invitation_id, role, invited_by, expires_at, invited_at, position \
         FROM organization_invitations WHERE organization_id = $1 AND position > $2 \
         AND expires_at > $3 ORDER BY position LIMIT $4",
    )
    .bind(organization_id)
    .bind(after(cursor)?)
    .bind(now)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    let rows: Vec<InvitationRow> = rows.iter().map(decode_invitation).collect::<Result<_>>()?;
    let next_cursor = next(&rows, limit, |r| r.position);
    Ok(Page { rows, next_cursor })
}

/// The accounts a user can act in: the personal account first, then up to 499 organizations
/// by name. Served by `users` (primary key) and `organization_members_user`.
pub async fn accounts_of_user<'e>(
    executor: impl PgExecutor<'e>,
    user_id: Uuid,
) -> Result<Vec<UserAccount>> {
    let rows = sqlx::query(
        "(SELECT 0 AS k, personal_account_id AS account_id, NULL::uuid AS organization_id, \
                 NULL::text AS name, NULL::text AS role FROM users WHERE user_id = $1) \
         UNION ALL \
         (SELECT 1, o.account_id, o.organization_id, o.name, m.role \
            FROM organization_members m JOIN organizations o USING (organization_id) \
           WHERE m.user_id = $1 ORDER BY o.name, o.organization_id LIMIT 499) \
         ORDER BY k, name",
    )
    .bind(user_id)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            let account_id: Uuid = row.try_get("account_id")?;
            let organization_id: Option<Uuid> = row.try_get("organization_id")?;
            Ok(match organization_id {
                None => UserAccount::Personal { account_id },
                Some(organization_id) => UserAccount::Organization {
                    account_id,
                    organization_id,
                    name: row.try_get("name")?,
                    role: parse_role(row.try_get("role")?)?,
                },
            })
        })
        .collect()
}

/// Every row of the directory tables of `schema` (consistency check).
pub(crate) struct DirectoryRows {
    pub(crate) users: Vec<UserRow>,
    pub(crate) organizations: Vec<OrganizationRow>,
    pub(crate) members: Vec<(Uuid, MemberRow)>,
    pub(crate) invitations: Vec<(Uuid, InvitationRow)>,
}

pub(crate) async fn all(conn: &mut sqlx::PgConnection, schema: &Schema) -> Result<DirectoryRows> {
    let users = sqlx::query(sql(format!(
        "SELECT {USER_COLUMNS} FROM {}",
        schema.table("users")
    )))
    .fetch_all(&mut *conn)
    .await?;
    let orgs = sqlx::query(sql(format!(
        "SELECT {ORG_COLUMNS} FROM {}",
        schema.table("organizations")
    )))
    .fetch_all(&mut *conn)
    .await?;
    let members = sqlx::query(sql(format!(
        "SELECT organization_id, user_id, role, joined_at, joined_position FROM {}",
        schema.table("organization_members")
    )))
    .fetch_all(&mut *conn)
    .await?;
    let invitations = sqlx::query(sql(format!(
        "SELECT organization_id, invitation_id, role, invited_by, expires_at, invited_at, \
         position FROM {}",
        schema.table("organization_invitations")
    )))
    .fetch_all(&mut *conn)
    .await?;
    Ok(DirectoryRows {
        users: users.iter().map(decode_user).collect::<Result<_>>()?,
        organizations: orgs.iter().map(decode_org).collect::<Result<_>>()?,
        members: members
            .iter()
            .map(|r| Ok((r.try_get("organization_id")?, decode_member(r)?)))
            .collect::<Result<_>>()?,
        invitations: invitations
            .iter()
            .map(|r| Ok((r.try_get("organization_id")?, decode_invitation(r)?)))
            .collect::<Result<_>>()?,
    })
}
