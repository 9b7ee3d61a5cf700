//! Reads from the `directory` read model: a user's account and organizations (the account
//! switcher) and an organization's pending invitations.

use std::time::Duration;

use chrono::Utc;
use ledger_domain::{Action, AuthContext, Caller, DomainError, InvitationId, UserId};
use ledger_projections::Projection;
use ledger_projections::models::directory::queries::{
    UserAccount, accounts_of_user, pending_invitations, user,
};

use super::organizations::role_pb;
use super::projected::{caught_up, page_size, token};
use crate::app::{App, allow};
use crate::error::AppError;
use crate::input;
use crate::pb;
use crate::personal;

/// Authorises reading `user_id`'s accounts (`ReadUserAccounts`: the user themself, support,
/// auditors).
fn allow_user(caller: &Caller, user_id: UserId) -> Result<(), AppError> {
    let context = AuthContext::personal(caller.user() == Some(user_id));
    allow(caller, Action::ReadUserAccounts, &context)
}

/// `GetUserAccount`: the user's personal account and registration.
pub async fn user_account(
    app: &App,
    caller: &Caller,
    req: &pb::GetUserAccountRequest,
    budget: Duration,
) -> Result<pb::GetUserAccountResponse, AppError> {
    let user_id = input::id("user_id", &req.user_id, UserId::from_uuid)?;
    allow_user(caller, user_id)?;
    caught_up(&app.pool, Projection::Directory, req.min_position, budget).await?;
    let row = user(&app.pool, user_id.as_uuid())
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
    app: &App,
    caller: &Caller,
    req: &pb::ListUserOrganizationsRequest,
    budget: Duration,
) -> Result<pb::ListUserOrganizationsResponse, AppError> {
    let (offset, size) = input::page(req.page_size, &req.page_token)?;
    let user_id = input::id("user_id", &req.user_id, UserId::from_uuid)?;
    allow_user(caller, user_id)?;
    caught_up(&app.pool, Projection::Directory, req.min_position, budget).await?;
    let organizations: Vec<pb::UserOrganization> = accounts_of_user(&app.pool, user_id.as_uuid())
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
    let total = organizations.len();
    Ok(pb::ListUserOrganizationsResponse {
        organizations: organizations.into_iter().skip(offset).take(size).collect(),
        next_page_token: input::next_token(offset, size, total),
    })
}

/// `ListInvitations`: pending, unexpired invitations, oldest first. Authorised as
/// `ReadInvitations` on the organization (admins, support, auditors); the invited address is shown
/// to dashboard admins only.
pub async fn invitations(
    app: &App,
    caller: &Caller,
    req: &pb::ListInvitationsRequest,
    budget: Duration,
) -> Result<pb::ListInvitationsResponse, AppError> {
    let size = page_size(req.page_size)?;
    let org = input::id(
        "organization_id",
        &req.organization_id,
        ledger_domain::OrganizationId::from_uuid,
    )?;
    app.authorized_org(caller, org, Action::ReadInvitations)
        .await?;
    caught_up(&app.pool, Projection::Directory, req.min_position, budget).await?;
    let page = pending_invitations(
        &app.pool,
        org.as_uuid(),
        Utc::now(),
        token(&req.page_token),
        size,
    )
    .await?;
    let mut invitations = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        let email = match caller.user() {
            Some(_) => {
                personal::invitation_email(
                    &app.pool,
                    org,
                    InvitationId::from_uuid(row.invitation_id),
                )
                .await?
            }
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
