//! The user aggregate (stream `user-{uuid}`): registration, email verification, and the
//! record of each erasure of the user's personal data.

mod decide;
mod event;

pub use decide::{EraseUser, RegisterUser, VerifyEmail, erase, register, verify_email};
pub use event::{EmailVerified, Eraser, PersonalDataErased, UserEvent, UserRegistered};

use crate::ids::{AccountId, UserId};
use serde::{Deserialize, Serialize};

/// A registered user's facts. No personal data: the email lives in the erasable table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user.
    pub id: UserId,
    /// The personal account opened at registration.
    pub personal_account: AccountId,
    /// Whether the identity service verified the user's email.
    pub email_verified: bool,
}

/// The state of a user stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Events folded so far.
    pub version: u64,
    /// `None` until registered.
    pub user: Option<User>,
}

impl UserState {
    /// Folds one event.
    pub fn evolve(&mut self, event: &UserEvent) {
        match event {
            UserEvent::Registered(e) => {
                assert!(self.user.is_none(), "user registered twice");
                self.user = Some(User {
                    id: e.user_id,
                    personal_account: e.personal_account_id,
                    email_verified: false,
                });
            }
            UserEvent::EmailVerified(e) => {
                let user = self
                    .user
                    .as_mut()
                    .expect("email verified before registration");
                assert_eq!(user.id, e.user_id, "event for another user");
                user.email_verified = true;
            }
            // The personal data lives outside the log; the state keeps only ids.
            UserEvent::PersonalDataErased(e) => {
                let user = self.user.as_ref().expect("data erased before registration");
                assert_eq!(user.id, e.user_id, "event for another user");
            }
        }
        self.version += 1;
    }

    /// Folds events into a fresh state.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a UserEvent>) -> Self {
        crate::event::fold(events, Self::evolve)
    }
}
