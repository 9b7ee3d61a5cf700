//! Projection `directory`: users, organizations, their members and pending invitations, and
//! each user's accounts (the account switcher). Users are written in bulk per batch;
//! organization events are rare (administration), so each becomes one or two statements.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::organization::{
    DEFAULT_MEMBER_LIMIT, DEFAULT_RETENTION_DAYS, OrganizationEvent,
};
use ledger_domain::user::UserEvent;
use ledger_domain::{Event, Role, UserId};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgQuery, sql};
use crate::error::Result;
use crate::projection::{Applied, Schema};

pub mod queries;

pub(crate) fn role_text(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// Applies a batch: one insert for new users, one update for verifications, then each
/// organization event in order.
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    events: &[Arc<Applied>],
) -> Result<()> {
    let mut registered: Vec<(Uuid, Uuid, DateTime<Utc>, i64)> = Vec::new();
    let mut verified: Vec<(Uuid, i64)> = Vec::new();
    for e in events {
        match &e.event {
            Event::User(UserEvent::Registered(r)) => registered.push((
                r.user_id.as_uuid(),
                r.personal_account_id.as_uuid(),
                r.at,
                e.position,
            )),
            Event::User(UserEvent::EmailVerified(v)) => {
                verified.push((v.user_id.as_uuid(), e.position))
            }
            _ => {}
        }
    }
    if !registered.is_empty() {
        sqlx::query(sql(format!(
            "INSERT INTO {} (user_id, personal_account_id, email_verified, registered_at, \
             last_position) SELECT u, a, false, t, p FROM UNNEST($1::uuid[], $2::uuid[], \
             $3::timestamptz[], $4::bigint[]) AS x(u, a, t, p)",
            schema.table("users")
        )))
        .bind(registered.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(registered.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(registered.iter().map(|r| r.2).collect::<Vec<_>>())
        .bind(registered.iter().map(|r| r.3).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !verified.is_empty() {
        sqlx::query(sql(format!(
            "UPDATE {} SET email_verified = true, last_position = x.p \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS x(u, p) WHERE user_id = x.u",
            schema.table("users")
        )))
        .bind(verified.iter().map(|v| v.0).collect::<Vec<_>>())
        .bind(verified.iter().map(|v| v.1).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    for e in events {
        if let Event::Organization(event) = &e.event {
            apply_organization(tx, schema, event, e.position).await?;
        }
    }
    Ok(())
}

/// Where the statements of one organization event run: each binds the organization as `$1` and
/// the event's position as `$2`.
struct OrganizationStatements<'t, 'c> {
    tx: &'t mut Transaction<'c, Postgres>,
    /// The `organizations` table being written.
    orgs: String,
    organization: Uuid,
    position: i64,
}

impl OrganizationStatements<'_, '_> {
    /// Runs `statement`, with `bind` binding its parameters from `$3` on.
    async fn run(
        &mut self,
        statement: String,
        bind: impl FnOnce(PgQuery) -> PgQuery,
    ) -> Result<()> {
        let query = sqlx::query(sql(statement))
            .bind(self.organization)
            .bind(self.position);
        bind(query).execute(&mut **self.tx).await?;
        Ok(())
    }

    /// Updates the organization's row: `set` (may be empty), and always its position.
    async fn touch(&mut self, set: &str, bind: impl FnOnce(PgQuery) -> PgQuery) -> Result<()> {
        let set = if set.is_empty() {
            String::new()
        } else {
            format!("{set}, ")
        };
        let orgs = &self.orgs;
        let update =
            format!("UPDATE {orgs} SET {set}last_position = $2 WHERE organization_id = $1");
        self.run(update, bind).await
    }
}

async fn apply_organization(
    tx: &mut Transaction<'_, Postgres>,
    schema: &Schema,
    event: &OrganizationEvent,
    position: i64,
) -> Result<()> {
    use OrganizationEvent as E;
    let members = schema.table("organization_members");
    let invitations = schema.table("organization_invitations");
    let mut org = OrganizationStatements {
        tx,
        orgs: schema.table("organizations"),
        organization: event.organization_id().as_uuid(),
        position,
    };
    let forget_invitation = format!(
        "DELETE FROM {invitations} WHERE organization_id = $1 AND invitation_id = $3 AND $2 > 0"
    );
    let add_member = format!(
        "INSERT INTO {members} (organization_id, user_id, role, joined_at, joined_position) \
         VALUES ($1, $3, $4, $5, $2)"
    );
    match event {
        E::Created(c) => {
            let (name, details) = (
                c.name.as_str().to_owned(),
                c.details.as_ref().map(|d| d.as_str().to_owned()),
            );
            let (account, creator, at) = (c.account_id.as_uuid(), c.created_by.as_uuid(), c.at);
            let orgs = &org.orgs;
            let create = format!(
                "INSERT INTO {orgs} (organization_id, account_id, name, details, created_by, \
                 member_limit, member_count, retention_days, prompt_logging, \
                 billing_profile_version, payment_method_reference, created_at, last_position) \
                 VALUES ($1, $3, $4, $5, $6, {DEFAULT_MEMBER_LIMIT}, 1, {DEFAULT_RETENTION_DAYS}, \
                 false, 0, NULL, $7, $2)"
            );
            org.run(create, |q| {
                q.bind(account)
                    .bind(name)
                    .bind(details)
                    .bind(creator)
                    .bind(at)
            })
            .await?;
            let admin = role_text(Role::Admin);
            org.run(add_member, |q| q.bind(creator).bind(admin).bind(at))
                .await
        }
        E::Renamed(r) => {
            let name = r.name.as_str().to_owned();
            org.touch("name = $3", |q| q.bind(name)).await
        }
        E::DetailsUpdated(d) => {
            let details = d.details.as_ref().map(|d| d.as_str().to_owned());
            org.touch("details = $3", |q| q.bind(details)).await
        }
        E::MemberInvited(i) => {
            let (id, role, by, expires, at) = (
                i.invitation_id.as_uuid(),
                role_text(i.role),
                i.invited_by.as_uuid(),
                i.expires_at,
                i.at,
            );
            // Expired invitations are forgotten once a new one is sent, as in the domain.
            let forget_expired = format!(
                "DELETE FROM {invitations} WHERE organization_id = $1 AND expires_at <= $3 \
                 AND $2 > 0"
            );
            org.run(forget_expired, |q| q.bind(at)).await?;
            let invite = format!(
                "INSERT INTO {invitations} (organization_id, invitation_id, role, invited_by, \
                 expires_at, invited_at, position) VALUES ($1, $3, $4, $5, $6, $7, $2)"
            );
            org.run(invite, |q| {
                q.bind(id).bind(role).bind(by).bind(expires).bind(at)
            })
            .await?;
            org.touch("", |q| q).await
        }
        E::InvitationAccepted(a) => {
            let (id, user, role, at) = (
                a.invitation_id.as_uuid(),
                a.user_id.as_uuid(),
                role_text(a.role),
                a.at,
            );
            org.run(forget_invitation, |q| q.bind(id)).await?;
            org.run(add_member, |q| q.bind(user).bind(role).bind(at))
                .await?;
            org.touch("member_count = member_count + 1", |q| q).await
        }
        E::InvitationRevoked(r) => {
            let id = r.invitation_id.as_uuid();
            org.run(forget_invitation, |q| q.bind(id)).await?;
            org.touch("", |q| q).await
        }
        E::MemberRemoved(m) => remove_member(&mut org, &members, m.user_id).await,
        E::MemberLeft(m) => remove_member(&mut org, &members, m.user_id).await,
        E::MemberRoleChanged(m) => {
            let (user, role) = (m.user_id.as_uuid(), role_text(m.role));
            let change = format!(
                "UPDATE {members} SET role = $4 WHERE organization_id = $1 AND user_id = $3 \
                 AND $2 > 0"
            );
            org.run(change, |q| q.bind(user).bind(role)).await?;
            org.touch("", |q| q).await
        }
        E::MemberLimitSet(l) => {
            let limit = i32::try_from(l.member_limit).unwrap_or(i32::MAX);
            org.touch("member_limit = $3", |q| q.bind(limit)).await
        }
        E::PrivacySettingsSet(p) => {
            let days = i32::try_from(p.retention_days).unwrap_or(i32::MAX);
            let set = "retention_days = $3, prompt_logging = $4";
            org.touch(set, |q| q.bind(days).bind(p.prompt_logging))
                .await
        }
        E::BillingSettingsSet(b) => {
            let version = i32::try_from(b.billing_profile_version).unwrap_or(i32::MAX);
            let reference = b
                .payment_method_reference
                .as_ref()
                .map(|r| r.as_str().to_owned());
            let set = "billing_profile_version = $3, payment_method_reference = $4";
            org.touch(set, |q| q.bind(version).bind(reference)).await
        }
    }
}

/// A member removed or leaving: their membership goes, the member count drops.
async fn remove_member(
    org: &mut OrganizationStatements<'_, '_>,
    members: &str,
    user: UserId,
) -> Result<()> {
    let user = user.as_uuid();
    let remove =
        format!("DELETE FROM {members} WHERE organization_id = $1 AND user_id = $3 AND $2 > 0");
    org.run(remove, |q| q.bind(user)).await?;
    org.touch("member_count = member_count - 1", |q| q).await
}
