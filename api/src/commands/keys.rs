//! `RotateKey`: a key gets a new secret, the previous one a grace period. Pipelined on the
//! account like every key command; its reply (the new generation and the end of the grace
//! period, never the secret) is stored for retries.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::account::{AccountCommand, AccountEvent, decide};
use ledger_domain::organization::OrganizationState;
use ledger_domain::text::{KeyPrefix, SecretHash};
use ledger_domain::{AccountId, Caller, Event, KeyId};
use serde::{Deserialize, Serialize};

use crate::app::{AccountView, Decided, LedgerCommand, Loader, Route};
use crate::error::AppError;

/// Rotate the secret of `key_id` in `account`.
pub struct RotateKey {
    /// The key's account.
    pub account: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// Keyed hash of the new secret.
    pub secret_hash: SecretHash,
    /// Display prefix of the new secret.
    pub prefix: KeyPrefix,
    /// How long the previous secret keeps working, in seconds.
    pub grace_s: u32,
    /// Now.
    pub at: DateTime<Utc>,
}

/// What a rotation answers (and a retry gets again): which secret the new one is, and until
/// when the one it replaces works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// The new secret's generation.
    pub generation: u32,
    /// The end of the previous secret's grace period.
    pub previous_valid_until: DateTime<Utc>,
}

impl LedgerCommand for RotateKey {
    type Reply = KeyRotation;
    /// The account, and its organization for a dashboard user (whose role decides).
    type State = (Arc<AccountView>, Option<Arc<OrganizationState>>);

    fn rpc(&self) -> &'static str {
        "RotateKey"
    }

    fn route(&self) -> Route {
        Route::Account(self.account)
    }

    async fn load(&self, from: &Loader<'_>, caller: &Caller) -> Result<Self::State, AppError> {
        from.account_for(self.account, caller).await
    }

    fn decide(
        &self,
        state: &Self::State,
        caller: &Caller,
    ) -> Result<Decided<KeyRotation>, AppError> {
        let (view, org) = state;
        let command = AccountCommand::RotateKey {
            key_id: self.key_id,
            secret_hash: self.secret_hash.clone(),
            prefix: self.prefix.clone(),
            grace_s: self.grace_s,
            at: self.at,
        };
        let decision = decide(&view.state, org.as_deref(), caller, &command)?;
        let reply = decision
            .events()
            .find_map(|event| match event {
                Event::Account(AccountEvent::KeyRotated(r)) => Some(KeyRotation {
                    generation: r.generation,
                    previous_valid_until: r.previous_valid_until,
                }),
                _ => None,
            })
            .ok_or_else(|| AppError::Internal("a rotation without its event".into()))?;
        Ok(Decided { decision, reply })
    }
}
