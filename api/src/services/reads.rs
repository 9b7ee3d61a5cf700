//! Reads answered from aggregate state: the authorization context is derived from the state
//! exactly as the decide functions derive it, and the domain's policy decides.

use ledger_domain::account::AccountOwner;
use ledger_domain::organization::OrganizationState;
use ledger_domain::{Action, AuthContext, Caller, DomainError, authorize};

use super::super::app::AccountView;
use crate::error::AppError;

/// The context of an account for `caller`: owner flag (personal) or role (organization).
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
    Ok(match account.owner {
        AccountOwner::User { user_id } => AuthContext::personal(caller.user() == Some(user_id)),
        AccountOwner::Organization { .. } => {
            AuthContext::organization(caller.user().and_then(|u| org.and_then(|o| o.role_of(u))))
        }
    })
}

/// The context of an organization for `caller`.
pub fn organization_context(
    state: &OrganizationState,
    caller: &Caller,
) -> Result<AuthContext, AppError> {
    if state.organization.is_none() {
        return Err(DomainError::OrganizationNotFound.into());
    }
    Ok(AuthContext::organization(
        caller.user().and_then(|u| state.role_of(u)),
    ))
}

/// Asks the policy.
pub fn allow(caller: &Caller, action: Action, context: &AuthContext) -> Result<(), AppError> {
    authorize(caller, action, context).map_err(|denial| DomainError::Denied(denial).into())
}
