//! Reads answered on behalf of a caller: the authorization context comes from the domain's
//! `auth_context` functions, the ones its decide functions use, and the domain's policy decides.
//! Every read handler goes through here before it looks at what it serves.

use std::sync::Arc;

use ledger_domain::account;
use ledger_domain::organization::{self, Organization, OrganizationState};
use ledger_domain::{
    AccountId, Action, AuthContext, Caller, DomainError, OrganizationId, authorize,
};

use super::{AccountView, App};
use crate::error::AppError;

/// An account as a caller sees it: its state, its organization's, and the caller's context.
pub struct AccountInContext {
    /// The account's state and key labels.
    pub view: Arc<AccountView>,
    /// The owning organization's state, when an organization owns the account.
    pub organization: Option<Arc<OrganizationState>>,
    /// Owner flag (personal) or role (organization) of the caller.
    pub context: AuthContext,
}

impl App {
    /// The account `id` with the caller's context on it, current as of now; the policy is not
    /// asked yet (for reads that decide per item, like the key listing).
    pub async fn account_in_context(
        &self,
        caller: &Caller,
        id: AccountId,
    ) -> Result<AccountInContext, AppError> {
        let (view, organization) = self.account_and_owner(id).await?;
        let context = account_context(&view, organization.as_deref(), caller)?;
        Ok(AccountInContext {
            view,
            organization,
            context,
        })
    }

    /// The account `id`, once the policy lets `caller` do `action` on it.
    pub async fn authorized_account(
        &self,
        caller: &Caller,
        id: AccountId,
        action: Action,
    ) -> Result<AccountInContext, AppError> {
        let account = self.account_in_context(caller, id).await?;
        allow(caller, action, &account.context)?;
        Ok(account)
    }

    /// The organization `id`, once the policy lets `caller` do `action` on it.
    pub async fn authorized_org(
        &self,
        caller: &Caller,
        id: OrganizationId,
        action: Action,
    ) -> Result<Arc<OrganizationState>, AppError> {
        let state = self.organization(id).await?;
        allow(caller, action, &organization_context(&state, caller)?)?;
        Ok(state)
    }
}

/// The organization of a state that exists (one [`App::authorized_org`] returned).
pub fn created(state: &OrganizationState) -> Result<&Organization, AppError> {
    state
        .organization
        .as_ref()
        .ok_or_else(|| DomainError::OrganizationNotFound.into())
}

/// The context of an account for `caller`: owner flag (personal) or role (organization), as
/// the domain's decide functions derive it.
pub fn account_context(
    view: &AccountView,
    org: Option<&OrganizationState>,
    caller: &Caller,
) -> Result<AuthContext, AppError> {
    let account = view
        .state
        .account
        .as_ref()
        .ok_or(DomainError::AccountNotFound)?;
    Ok(account::auth_context(account, org, caller)?)
}

/// The context of an organization for `caller`, as the domain's decide functions derive it.
pub fn organization_context(
    state: &OrganizationState,
    caller: &Caller,
) -> Result<AuthContext, AppError> {
    Ok(organization::auth_context(state, caller)?)
}

/// Asks the policy.
pub fn allow(caller: &Caller, action: Action, context: &AuthContext) -> Result<(), AppError> {
    authorize(caller, action, context).map_err(|denial| DomainError::Denied(denial).into())
}
