//! Commands of the user stream and their decisions.

use super::{UserEvent, UserState};
use crate::account::{AccountEvent, AccountOpened, AccountOwner};
use crate::decision::{Decision, ExpectedVersion};
use crate::email::Email;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, UserId};
use crate::policy::{Action, AuthContext, Caller, authorize};
use chrono::{DateTime, Utc};

use super::event::{EmailVerified, Eraser, PersonalDataErased, UserRegistered};

/// Register a user (identity service). The email goes to the erasable table, not the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterUser {
    /// The new user.
    pub user_id: UserId,
    /// The personal account to open.
    pub personal_account_id: AccountId,
    /// The user's email (validated here, stored outside the log by the app).
    pub email: Email,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Mark a user's email verified (identity service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyEmail {
    /// The user.
    pub user_id: UserId,
    /// The verified address (the app updates the erasable table with it).
    pub email: Email,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Erase a user's personal data (identity service or support staff). The app erases the
/// tables outside the log once the decision is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseUser {
    /// The user.
    pub user_id: UserId,
    /// Now.
    pub at: DateTime<Utc>,
}

/// Records who erases a registered user's personal data: `user.personal_data_erased`, naming
/// the identity service or the support caller's staff member. Every erasure is recorded, a
/// repeated one too.
pub fn erase(state: &UserState, caller: &Caller, cmd: &EraseUser) -> Result<Decision, DomainError> {
    authorize(caller, Action::EraseUser, &AuthContext::GLOBAL)?;
    let user = state.user.as_ref().ok_or(DomainError::UserNotFound)?;
    assert_eq!(user.id, cmd.user_id, "state of another user");
    let erased_by = match caller {
        Caller::Identity => Eraser::Identity,
        other => Eraser::Support {
            staff_id: other.acting_staff(Action::EraseUser)?,
        },
    };
    let erased = UserEvent::PersonalDataErased(PersonalDataErased {
        user_id: cmd.user_id,
        erased_by,
        at: cmd.at,
    });
    Ok(Decision::one(
        user.id.stream(),
        ExpectedVersion::at(state.version),
        vec![Event::User(erased)],
    ))
}

/// Registers a user: `user.registered` on the user stream and `account.opened` on the new
/// personal account's stream, both expected not to exist.
pub fn register(
    state: &UserState,
    caller: &Caller,
    cmd: &RegisterUser,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::RegisterUser, &AuthContext::GLOBAL)?;
    if state.user.is_some() {
        return Err(DomainError::UserAlreadyRegistered);
    }
    let registered = UserEvent::Registered(UserRegistered {
        user_id: cmd.user_id,
        personal_account_id: cmd.personal_account_id,
        at: cmd.at,
    });
    let opened = AccountEvent::Opened(AccountOpened {
        account_id: cmd.personal_account_id,
        owner: AccountOwner::User {
            user_id: cmd.user_id,
        },
        at: cmd.at,
    });
    Ok(Decision::one(
        cmd.user_id.stream(),
        ExpectedVersion::NoStream,
        vec![Event::User(registered)],
    )
    .with(
        cmd.personal_account_id.stream(),
        ExpectedVersion::NoStream,
        vec![Event::Account(opened)],
    ))
}

/// Marks the email verified. Verifying a verified email changes nothing (empty decision).
pub fn verify_email(
    state: &UserState,
    caller: &Caller,
    cmd: &VerifyEmail,
) -> Result<Decision, DomainError> {
    authorize(caller, Action::VerifyEmail, &AuthContext::GLOBAL)?;
    let user = state.user.as_ref().ok_or(DomainError::UserNotFound)?;
    assert_eq!(user.id, cmd.user_id, "state of another user");
    let events = if user.email_verified {
        Vec::new()
    } else {
        vec![Event::User(UserEvent::EmailVerified(EmailVerified {
            user_id: cmd.user_id,
            at: cmd.at,
        }))]
    };
    Ok(Decision::one(
        user.id.stream(),
        ExpectedVersion::at(state.version),
        events,
    ))
}
