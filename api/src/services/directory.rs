//! Reads from the `directory` read model: a user's account and organizations (the account
//! switcher) and an organization's pending invitations.

use chrono::Utc;
use ledger_domain::{Action, AuthContext, DomainError, InvitationId, UserId};
use ledger_projections::Projection;
use ledger_projections::models::directory::queries::{
    UserAccount, accounts_of_user, pending_invitations, pending_invitations_to, user,
};

use super::Query;
use super::organizations::role_pb;
use super::projected::{page_size, token};
use crate::app::allow;
use crate::app::authorized::created;
use crate::error::AppError;
use crate::input;
use crate::pb;
use crate::personal;

impl<R> Query<R> {
    /// The user `text` names (the request's `user_id`), once the policy lets the caller read
    /// their accounts (`ReadUserAccounts`: the user themself, support, auditors) and the
    /// directory has caught up with `min_position`.
    async fn authorized_user(&self, text: &str, min_position: i64) -> Result<UserId, AppError> {
        let user_id = input::user_id(text)?;
        let caller = &self.cx.caller;
        let context = AuthContext::personal(caller.user() == Some(user_id));
        allow(caller, Action::ReadUserAccounts, &context)?;
        self.caught_up(Projection::Directory, min_position).await?;
        Ok(user_id)
    }
}

/// `GetUserAccount`: the user's personal account and registration.
pub async fn user_account(
    q: Query<pb::GetUserAccountRequest>,
) -> Result<pb::GetUserAccountResponse, AppError> {
    let user_id = q
        .authorized_user(&q.req.user_id, q.req.min_position)
        .await?;
    let row = user(q.app.read_models.pool(), user_id.as_uuid())
        .await?
        .ok_or(DomainError::UserNotFound)?;
    Ok(pb::GetUserAccountResponse {
        user_id: row.user_id.to_string(),
        personal_account_id: row.personal_account_id.to_string(),
        email_verified: row.email_verified,
        registered_at: Some(input::timestamp(row.registered_at)),
    })
}

/// `ListUserOrganizations`: the organizations the user belongs to, by name, with their role.
pub async fn user_organizations(
    q: Query<pb::ListUserOrganizationsRequest>,
) -> Result<pb::ListUserOrganizationsResponse, AppError> {
    let page = input::page(q.req.page_size, &q.req.page_token)?;
    let user_id = q
        .authorized_user(&q.req.user_id, q.req.min_position)
        .await?;
    let organizations: Vec<pb::UserOrganization> =
        accounts_of_user(q.app.read_models.pool(), user_id.as_uuid())
            .await?
            .into_iter()
            .filter_map(|account| match account {
                UserAccount::Personal { .. } => None,
                UserAccount::Organization {
                    account_id,
                    organization_id,
                    name,
                    role,
                } => Some(pb::UserOrganization {
                    organization_id: organization_id.to_string(),
                    account_id: account_id.to_string(),
                    name,
                    role: role_pb(role).into(),
                }),
            })
            .collect();
    let (organizations, next_page_token) =
        input::page_of(organizations.into_iter(), page, |organization| organization);
    Ok(pb::ListUserOrganizationsResponse {
        organizations,
        next_page_token,
    })
}

/// `ListInvitations`: pending, unexpired invitations, oldest first. Authorised as
/// `ReadInvitations` on the organization (admins, support, auditors); the invited address is shown
/// to dashboard admins only.
pub async fn invitations(
    q: Query<pb::ListInvitationsRequest>,
) -> Result<pb::ListInvitationsResponse, AppError> {
    let req = &q.req;
    let size = page_size(req.page_size)?;
    let state = q.organization(Action::ReadInvitations).await?;
    let org = created(&state)?.id;
    q.caught_up(Projection::Directory, req.min_position).await?;
    let page = pending_invitations(
        q.app.read_models.pool(),
        org.as_uuid(),
        Utc::now(),
        token(&req.page_token),
        size,
    )
    .await?;
    let mut invitations = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        let id = InvitationId::from_uuid(row.invitation_id);
        let email = match q.cx.caller.user() {
            Some(_) => personal::invitation_email(&q.app.log, org, id).await?,
            None => None,
        };
        invitations.push(pb::Invitation {
            invitation_id: row.invitation_id.to_string(),
            role: role_pb(row.role).into(),
            expires_at: Some(input::timestamp(row.expires_at)),
            email: email.map(|e| e.as_str().to_owned()).unwrap_or_default(),
        });
    }
    Ok(pb::ListInvitationsResponse {
        invitations,
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}

/// `ListUserInvitations`: the pending invitations sent to the user's verified address, so the
/// invitee can accept them. Authorised as `ReadUserAccounts` (the user themself, support,
/// auditors); the address is read from the erasable table, the invitations from the
/// directory once it has reached `min_position`.
pub async fn user_invitations(
    q: Query<pb::ListUserInvitationsRequest>,
) -> Result<pb::ListUserInvitationsResponse, AppError> {
    let req = &q.req;
    let size = page_size(req.page_size)?;
    let user_id = q.authorized_user(&req.user_id, req.min_position).await?;
    let email = personal::verified_email(&q.app.log, user_id)
        .await?
        .ok_or(DomainError::EmailNotVerified)?;
    let page = pending_invitations_to(
        q.app.read_models.pool(),
        email.as_str(),
        Utc::now(),
        token(&req.page_token),
        size,
    )
    .await?;
    let invitations = page
        .rows
        .into_iter()
        .map(|row| pb::UserInvitation {
            organization_id: row.organization_id.to_string(),
            organization_name: row.organization_name,
            invitation_id: row.invitation.invitation_id.to_string(),
            role: role_pb(row.invitation.role).into(),
            expires_at: Some(input::timestamp(row.invitation.expires_at)),
        })
        .collect();
    Ok(pb::ListUserInvitationsResponse {
        invitations,
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}
