//! Reads answered on behalf of a caller: the authorization context comes from the domain's
//! `auth_context` functions, the ones its decide functions use, and the domain's policy decides.
//! Every read handler goes through here before it looks at what it serves.
//!
//! Permission comes before existence: a caller with no part in an account or organization
//! (not its owner, not a member) gets [`AppError::NoAccess`] whether the id exists or not, so
//! ids cannot be probed. Callers the policy lets read everything (support, auditors) are told
//! `NOT_FOUND` for an id that does not exist.

use std::sync::Arc;

use ledger_domain::account;
use ledger_domain::organization::{self, Organization, OrganizationState};
use ledger_domain::{
    AccountId, Action, AuthContext, Caller, Denial, DomainError, OrganizationId, authorize,
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
    /// asked for `action` yet (for reads that decide per item, like the key listing). An
    /// account that does not exist is answered as [`missing`] says for `action`.
    pub async fn account_in_context(
        &self,
        caller: &Caller,
        id: AccountId,
        action: Action,
    ) -> Result<AccountInContext, AppError> {
        let (view, organization) = self.account_and_owner(id).await?;
        if view.state.account.is_none() {
            return Err(missing(caller, action, DomainError::AccountNotFound));
        }
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
        let account = self.account_in_context(caller, id, action).await?;
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
        if state.organization.is_none() {
            return Err(missing(caller, action, DomainError::OrganizationNotFound));
        }
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

/// Asks the policy. A caller with no part in the resource (not a member, not the owner) is
/// refused with [`AppError::NoAccess`], the answer an id that does not exist gets too.
pub fn allow(caller: &Caller, action: Action, context: &AuthContext) -> Result<(), AppError> {
    authorize(caller, action, context).map_err(|denial| match denial {
        Denial::NotAMember | Denial::NotAccountOwner => AppError::NoAccess,
        other => DomainError::Denied(other).into(),
    })
}

/// The answer for a resource that does not exist: what a caller with no part in it would get
/// were it there (the policy asked with a stranger's context), and `not_found` only for a
/// caller the policy lets do `action` on any resource (support, auditors, the gateway).
pub fn missing(caller: &Caller, action: Action, not_found: DomainError) -> AppError {
    match authorize(caller, action, &AuthContext::organization(None)) {
        Ok(()) => not_found.into(),
        Err(denial @ Denial::CallerKindNotAllowed { .. }) => DomainError::Denied(denial).into(),
        Err(_) => AppError::NoAccess,
    }
}
