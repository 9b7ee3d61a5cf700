//! Events of the user stream.

use crate::ids::{AccountId, StaffId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `user.registered` v1: the identity service registered a user; the personal account opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    /// The user.
    pub user_id: UserId,
    /// The personal account opened with it.
    pub personal_account_id: AccountId,
    /// When.
    pub at: DateTime<Utc>,
}

/// `user.email_verified` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerified {
    /// The user.
    pub user_id: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// Who erased a user's personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Eraser {
    /// The identity service (the user closed their account).
    Identity,
    /// A support staff member, by the staff id their credential is bound to.
    Support {
        /// The staff member.
        staff_id: StaffId,
    },
}

/// `user.personal_data_erased` v1: the user's personal data (email, invitations to it, billing
/// contacts) was erased from the tables outside the log; recorded before the erasure, so the
/// log names who asked even if the erasure must be repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    /// The user.
    pub user_id: UserId,
    /// Who erased.
    pub erased_by: Eraser,
    /// When.
    pub at: DateTime<Utc>,
}

crate::event::event_enum! {
    /// Events of the user stream.
    UserEvent {
        /// See [`UserRegistered`].
        Registered(UserRegistered) = "user.registered" v 1,
        /// See [`EmailVerified`].
        EmailVerified(EmailVerified) = "user.email_verified" v 1,
        /// See [`PersonalDataErased`].
        PersonalDataErased(PersonalDataErased) = "user.personal_data_erased" v 1,
    }
}

impl UserEvent {
    /// The user whose stream the event is on.
    pub fn user_id(&self) -> UserId {
        match self {
            UserEvent::Registered(e) => e.user_id,
            UserEvent::EmailVerified(e) => e.user_id,
            UserEvent::PersonalDataErased(e) => e.user_id,
        }
    }
}
