//! Events of the user stream.

use crate::ids::{AccountId, UserId};
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

crate::event::event_enum! {
    /// Events of the user stream.
    UserEvent {
        /// See [`UserRegistered`].
        Registered(UserRegistered) = "user.registered" v 1,
        /// See [`EmailVerified`].
        EmailVerified(EmailVerified) = "user.email_verified" v 1,
    }
}
