//! When a retried `CreateKey` may show the key's secret again.
//!
//! The secret is derived from the command id and the key id, never stored, so a retry can
//! answer with it. A retry is a replay of the first outcome, but the secret is not part of that
//! outcome: it is shown again only to a caller who may still manage the key, while the key is
//! active, and within [`SHOWN_AGAIN_FOR`] of its creation. A member removed from the
//! organization, or anyone replaying an old request, gets no secret back.

use chrono::{DateTime, Duration, Utc};
use ledger_domain::account::{Key, KeyStatus, key_auth_context};
use ledger_domain::{AccountId, Action, Caller, DomainError, KeyId};

use super::{App, allow};
use crate::error::AppError;

/// How long after a key's creation a retry of its `CreateKey` shows the secret again: long
/// enough for any client's retries, short enough that an old request is worth nothing.
pub const SHOWN_AGAIN_FOR: Duration = Duration::hours(24);

impl App {
    /// Whether the replayed `CreateKey` that created `key_id` at log position `position` may
    /// show its secret to `caller` at `now`.
    pub async fn may_show_key_secret_again(
        &self,
        caller: &Caller,
        account: AccountId,
        key_id: KeyId,
        position: i64,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let current = self
            .account_in_context(caller, account, Action::ManageKey)
            .await?;
        let key = current.view.key(key_id);
        let context = key_auth_context(current.context, key, caller);
        allow(caller, Action::ManageKey, &context)?;
        let key = key.ok_or(DomainError::KeyNotFound(key_id))?;
        still_shown(key, self.recorded_at(position).await?, now)
    }

    /// When the event at `position` was recorded.
    async fn recorded_at(&self, position: i64) -> Result<DateTime<Utc>, AppError> {
        let events = ledger_eventstore::read_all(&self.log, position - 1, 1).await?;
        events
            .first()
            .filter(|event| event.position == position)
            .map(|event| event.recorded_at)
            .ok_or_else(|| AppError::Internal(format!("no event at position {position}")))
    }
}

/// The rule on the key itself: active, not expired, created within [`SHOWN_AGAIN_FOR`].
fn still_shown(key: &Key, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), AppError> {
    if key.status != KeyStatus::Active || key.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::SecretNoLongerShown("the key is not active"));
    }
    if now - created_at > SHOWN_AGAIN_FOR {
        return Err(AppError::SecretNoLongerShown(
            "the key was created more than 24 hours ago",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_domain::UserId;

    fn key(status: KeyStatus, expires_at: Option<DateTime<Utc>>) -> Key {
        Key {
            created_by: UserId::from_uuid(uuid::Uuid::nil()),
            status,
            limit: None,
            expires_at,
            spend: Default::default(),
            held: Default::default(),
            secret_generation: 0,
            previous_secret_until: None,
        }
    }

    #[test]
    fn the_secret_is_shown_again_for_a_day_while_the_key_is_active() {
        let created = Utc::now();
        let active = key(KeyStatus::Active, None);
        assert!(still_shown(&active, created, created).is_ok());
        assert!(still_shown(&active, created, created + SHOWN_AGAIN_FOR).is_ok());
        let too_late = created + SHOWN_AGAIN_FOR + Duration::seconds(1);
        assert!(matches!(
            still_shown(&active, created, too_late),
            Err(AppError::SecretNoLongerShown(_))
        ));
        for status in [KeyStatus::Disabled, KeyStatus::Deleted] {
            assert!(still_shown(&key(status, None), created, created).is_err());
        }
        let expired = key(KeyStatus::Active, Some(created + Duration::minutes(1)));
        assert!(still_shown(&expired, created, created).is_ok());
        assert!(still_shown(&expired, created, created + Duration::minutes(1)).is_err());
    }
}
