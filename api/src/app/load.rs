//! Loading aggregate state: the cached fold of a stream, brought up to date by reading its
//! tail from the log (so another `ledgerd` writing the same stream is seen).

use std::collections::BTreeMap;
use std::sync::Arc;

use ledger_domain::account::AccountState;
use ledger_domain::organization::OrganizationState;
use ledger_domain::user::UserState;
use ledger_domain::{AccountId, Event, KeyId, OrganizationId, UserId};
use ledger_eventstore::limits::MAX_READ_LIMIT;
use ledger_eventstore::{RecordedEvent, read_stream};

use super::App;
use super::cache::Versioned;
use crate::error::AppError;

/// How stale the account state `AuthenticateKey` answers from may be.
pub const AUTH_STATE_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(250);

/// What the account aggregate does not keep but reads need: key names and prefixes.
#[derive(Debug, Clone)]
pub struct KeyLabel {
    /// Current name.
    pub name: String,
    /// Display prefix of the secret.
    pub prefix: String,
}

/// An account's state with the key labels folded beside it.
#[derive(Debug, Clone, Default)]
pub struct AccountView {
    /// The aggregate state.
    pub state: AccountState,
    /// Names and prefixes by key.
    pub labels: BTreeMap<KeyId, KeyLabel>,
}

impl Versioned for UserState {
    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for OrganizationState {
    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for AccountView {
    fn version(&self) -> u64 {
        self.state.version
    }
}

/// A state that folds domain events of its stream.
pub trait Fold: Versioned + Clone + Default {
    /// Folds one event; an event of another aggregate is corrupt data.
    fn fold(&mut self, event: &Event) -> Result<(), AppError>;
}

fn wrong(event: &Event) -> AppError {
    AppError::Internal(format!("event {} in the wrong stream", event.event_type()))
}

impl Fold for UserState {
    fn fold(&mut self, event: &Event) -> Result<(), AppError> {
        match event {
            Event::User(e) => {
                self.evolve(e);
                Ok(())
            }
            other => Err(wrong(other)),
        }
    }
}

impl Fold for OrganizationState {
    fn fold(&mut self, event: &Event) -> Result<(), AppError> {
        match event {
            Event::Organization(e) => {
                self.evolve(e);
                Ok(())
            }
            other => Err(wrong(other)),
        }
    }
}

impl Fold for AccountView {
    fn fold(&mut self, event: &Event) -> Result<(), AppError> {
        use ledger_domain::account::AccountEvent as A;
        let Event::Account(e) = event else {
            return Err(wrong(event));
        };
        match e {
            A::KeyCreated(k) => {
                self.labels.insert(
                    k.key_id,
                    KeyLabel {
                        name: k.name.to_string(),
                        prefix: k.prefix.as_str().to_owned(),
                    },
                );
            }
            A::KeyRenamed(k) => {
                if let Some(label) = self.labels.get_mut(&k.key_id) {
                    label.name = k.name.to_string();
                }
            }
            _ => {}
        }
        self.state.evolve(e);
        Ok(())
    }
}

/// Decodes a stored event into a domain event (upcasting older versions).
pub fn decode(recorded: &RecordedEvent) -> Result<Event, AppError> {
    let version = u16::try_from(recorded.schema_version)
        .map_err(|_| AppError::Internal(format!("position {}: bad version", recorded.position)))?;
    Event::from_stored_json(&recorded.event_type, version, &recorded.payload)
        .map_err(|e| AppError::Internal(format!("position {}: {e}", recorded.position)))
}

impl App {
    async fn load<S: Fold>(
        &self,
        cache: &super::cache::StateCache<S>,
        stream: &str,
    ) -> Result<Arc<S>, AppError> {
        let mut state = cache.get(stream).unwrap_or_default();
        // Before the read: the state is current as of this check (see `WriterWatch`).
        let check = self.appender.watch().checks();
        loop {
            let from = i64::try_from(state.version()).unwrap_or(i64::MAX) + 1;
            let events = read_stream(&self.pool, stream, from, MAX_READ_LIMIT).await?;
            let full = i64::try_from(events.len()).unwrap_or(0) == MAX_READ_LIMIT;
            if !events.is_empty() {
                let folded = Arc::make_mut(&mut state);
                for recorded in &events {
                    folded.fold(&decode(recorded)?)?;
                }
            }
            if !full {
                break;
            }
        }
        // Streams that do not exist are not cached: random ids cannot evict live state.
        if state.version() > 0 {
            cache.put(stream, Arc::clone(&state), check);
        }
        Ok(state)
    }

    /// A user's state (empty if not registered).
    pub async fn user(&self, id: UserId) -> Result<Arc<UserState>, AppError> {
        self.load(&self.states.users, &id.stream()).await
    }

    /// An organization's state (empty if not created).
    pub async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Arc<OrganizationState>, AppError> {
        self.load(&self.states.organizations, &id.stream()).await
    }

    /// An account's state and key labels (empty if not opened).
    pub async fn account(&self, id: AccountId) -> Result<Arc<AccountView>, AppError> {
        self.load(&self.states.accounts, &id.stream()).await
    }

    /// An account's state for `AuthenticateKey`: the cached state if it was known current less
    /// than [`AUTH_STATE_MAX_AGE`] ago (brought up to date then, or vouched for by this
    /// process's writer having seen no other writer append since), else loaded. The answer is
    /// advisory; holds are always decided on the stream's current state.
    pub async fn account_for_auth(&self, id: AccountId) -> Result<Arc<AccountView>, AppError> {
        let fresh =
            self.states
                .accounts
                .get_fresh(&id.stream(), AUTH_STATE_MAX_AGE, self.appender.watch());
        match fresh {
            Some(view) => Ok(view),
            None => self.account(id).await,
        }
    }

    /// The organization owning an account, loaded when the account belongs to one.
    pub async fn owner_organization(
        &self,
        view: &AccountView,
    ) -> Result<Option<Arc<OrganizationState>>, AppError> {
        use ledger_domain::account::AccountOwner;
        match view.state.account.as_ref().map(|a| a.owner) {
            Some(AccountOwner::Organization { organization_id }) => {
                Ok(Some(self.organization(organization_id).await?))
            }
            _ => Ok(None),
        }
    }
}
