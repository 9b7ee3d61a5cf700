//! Queries of the directory read model: users, organizations, members, invitations, and the
//! accounts a user can switch between.

use chrono::{DateTime, Utc};
use ledger_domain::Role;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::cursor::{Cursor, position_after};
use crate::error::{ProjectionError, Result};
use crate::models::{Table, fetch_page, from_row};
use crate::projection::Schema;

/// A registered user (no personal data: the email lives in the erasable table).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

/// The `users` table.
const USERS: Table<UserRow> = Table {
    name: "users",
    columns: "user_id, personal_account_id, email_verified, registered_at",
    decode: from_row,
};

/// The `organizations` table.
const ORGANIZATIONS: Table<OrganizationRow> = Table {
    name: "organizations",
    columns: "organization_id, account_id, name, details, created_by, member_limit, \
        member_count, retention_days, prompt_logging, billing_profile_version, \
        payment_method_reference, created_at",
    decode: from_row,
};

/// The `organization_members` table, each member with its organization.
const ORGANIZATION_MEMBERS: Table<(Uuid, MemberRow)> = Table {
    name: "organization_members",
    columns: "organization_id, user_id, role, joined_at, joined_position",
    decode: |row| Ok((row.try_get("organization_id")?, decode_member(row)?)),
};

/// The `organization_invitations` table, each invitation with its organization.
const ORGANIZATION_INVITATIONS: Table<(Uuid, InvitationRow)> = Table {
    name: "organization_invitations",
    columns: "organization_id, invitation_id, role, invited_by, expires_at, invited_at, position",
    decode: |row| Ok((row.try_get("organization_id")?, decode_invitation(row)?)),
};

/// One user.
pub async fn user<'e>(executor: impl PgExecutor<'e>, user_id: Uuid) -> Result<Option<UserRow>> {
    USERS.find(executor, "user_id", user_id).await
}

/// One organization.
pub async fn organization<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
) -> Result<Option<OrganizationRow>> {
    ORGANIZATIONS
        .find(executor, "organization_id", organization_id)
        .await
}

/// The organization owning an account, if it is an organization account.
pub async fn organization_by_account<'e>(
    executor: impl PgExecutor<'e>,
    account_id: Uuid,
) -> Result<Option<OrganizationRow>> {
    ORGANIZATIONS.find(executor, "account_id", account_id).await
}

/// Members of an organization in joining order, `page_size` at most (≤ 500), after `cursor`.
pub async fn members<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<Page<MemberRow>> {
    let query = sqlx::query(
        "SELECT user_id, role, joined_at, joined_position FROM organization_members \
         WHERE organization_id = $1 AND joined_position > $2 ORDER BY joined_position LIMIT $3",
    )
    .bind(organization_id)
    .bind(position_after(cursor)?);
    let (rows, next_cursor) = fetch_page(executor, query, page_size, decode_member, |r| {
        Cursor::at_position(r.joined_position)
    })
    .await?;
    Ok(Page { rows, next_cursor })
}

/// Pending invitations of an organization not expired at `now`, oldest first.
pub async fn pending_invitations<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
    now: DateTime<Utc>,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<Page<InvitationRow>> {
    let query = sqlx::query(
        "SELECT invitation_id, role, invited_by, expires_at, invited_at, position \
         FROM organization_invitations WHERE organization_id = $1 AND position > $2 \
         AND expires_at > $3 ORDER BY position LIMIT $4",
    )
    .bind(organization_id)
    .bind(position_after(cursor)?)
    .bind(now);
    let (rows, next_cursor) = fetch_page(executor, query, page_size, decode_invitation, |r| {
        Cursor::at_position(r.position)
    })
    .await?;
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
    Ok(DirectoryRows {
        users: USERS.all(&mut *conn, schema).await?,
        organizations: ORGANIZATIONS.all(&mut *conn, schema).await?,
        members: ORGANIZATION_MEMBERS.all(&mut *conn, schema).await?,
        invitations: ORGANIZATION_INVITATIONS.all(&mut *conn, schema).await?,
    })
}

/// When each of `users` joined `organization_id`, for those the read model lists as members,
/// in one query (a member listing served from the log adds the time of joining).
pub async fn joined_at<'e>(
    executor: impl PgExecutor<'e>,
    organization_id: Uuid,
    users: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, DateTime<Utc>>> {
    let rows = sqlx::query(
        "SELECT user_id, joined_at FROM organization_members \
         WHERE organization_id = $1 AND user_id = ANY($2)",
    )
    .bind(organization_id)
    .bind(users)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("user_id")?, row.try_get("joined_at")?)))
        .collect()
}

/// A pending invitation sent to one address, with the organization it invites to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressedInvitation {
    /// The inviting organization.
    pub organization_id: Uuid,
    /// Its name.
    pub organization_name: String,
    /// The invitation.
    pub invitation: InvitationRow,
}

/// The pending invitations sent to `email` and not expired at `now`, oldest first,
/// `page_size` at most (≤ 500), after `cursor`. The address is matched in the erasable
/// `invitation_emails` table (so an erased address has none) and the invitations are the
/// directory's pending ones; served by `invitation_emails_by_email`.
pub async fn pending_invitations_to<'e>(
    executor: impl PgExecutor<'e>,
    email: &str,
    now: DateTime<Utc>,
    cursor: Option<&str>,
    page_size: u32,
) -> Result<Page<AddressedInvitation>> {
    let query = sqlx::query(
        "SELECT i.organization_id, o.name, i.invitation_id, i.role, i.invited_by, i.expires_at, \
           i.invited_at, i.position \
         FROM invitation_emails e \
         JOIN organization_invitations i \
           ON i.organization_id = e.organization_id AND i.invitation_id = e.invitation_id \
         JOIN organizations o ON o.organization_id = i.organization_id \
         WHERE e.email = $1 AND i.position > $2 AND i.expires_at > $3 \
         ORDER BY i.position LIMIT $4",
    )
    .bind(email)
    .bind(position_after(cursor)?)
    .bind(now);
    let decode = |row: &PgRow| -> Result<AddressedInvitation> {
        Ok(AddressedInvitation {
            organization_id: row.try_get("organization_id")?,
            organization_name: row.try_get("name")?,
            invitation: decode_invitation(row)?,
        })
    };
    let (rows, next_cursor) = fetch_page(executor, query, page_size, decode, |r| {
        Cursor::at_position(r.invitation.position)
    })
    .await?;
    Ok(Page { rows, next_cursor })
}
