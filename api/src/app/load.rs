//! Loading aggregate state: the cached fold of a stream, brought up to date by reading its
//! tail from the log (so another `ledgerd` writing the same stream is seen).

use std::collections::BTreeMap;
use std::sync::Arc;

use ledger_domain::account::{AccountOwner, AccountState};
use ledger_domain::organization::OrganizationState;
use ledger_domain::user::UserState;
use ledger_domain::{AccountId, Event, KeyId, OrganizationId, UserId};
use ledger_eventstore::limits::MAX_READ_LIMIT;
use ledger_eventstore::{RecordedEvent, read_stream, read_stream_tails};

use super::App;
use super::cache::{StateCache, Versioned};
use crate::error::AppError;

/// How stale the account state `AuthenticateKey` answers from may be.
pub const AUTH_STATE_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(250);

/// What the account aggregate does not keep but reads need: key names, prefixes and creation
/// times.
#[derive(Debug, Clone)]
pub struct KeyLabel {
    /// Current name.
    pub name: String,
    /// Display prefix of the current secret.
    pub prefix: String,
    /// When the key was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An account's state with the key labels folded beside it.
#[derive(Debug, Clone, Default)]
pub struct AccountView {
    /// The aggregate state.
    pub state: AccountState,
    /// Names and prefixes by key.
    pub labels: BTreeMap<KeyId, KeyLabel>,
}

impl AccountView {
    /// The key `id` of the account, if the account is open and has it.
    pub fn key(&self, id: KeyId) -> Option<&ledger_domain::account::Key> {
        self.state.account.as_ref().and_then(|a| a.keys.get(&id))
    }
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
                        created_at: k.at,
                    },
                );
            }
            A::KeyRotated(k) => {
                if let Some(label) = self.labels.get_mut(&k.key_id) {
                    label.prefix = k.prefix.as_str().to_owned();
                }
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

/// Decodes a stored event into a domain event (through the one codec).
pub fn decode(recorded: &RecordedEvent) -> Result<Event, AppError> {
    ledger_codec::decode(recorded).map_err(|e| AppError::Internal(e.to_string()))
}

/// Folds a stream's tail into `state`; false when the tail was a full page (more may follow).
fn fold_tail<S: Fold>(state: &mut Arc<S>, tail: &[&RecordedEvent]) -> Result<bool, AppError> {
    if !tail.is_empty() {
        let folded = Arc::make_mut(state);
        for recorded in tail {
            folded.fold(&decode(recorded)?)?;
        }
    }
    Ok(tail.len() < MAX_READ_LIMIT as usize)
}

/// The first version after what `state` has folded.
fn next_version<S: Versioned>(state: &S) -> i64 {
    ledger_codec::next_version(state.version())
}

/// Keeps a loaded state, unless its stream does not exist: random ids cannot evict live state.
fn keep<S: Versioned>(cache: &StateCache<S>, stream: &str, state: &Arc<S>, check: u64) {
    if state.version() > 0 {
        cache.put(stream, Arc::clone(state), check);
    }
}

impl App {
    async fn load<S: Fold>(&self, cache: &StateCache<S>, stream: &str) -> Result<Arc<S>, AppError> {
        let state = cache.get(stream).unwrap_or_default();
        // Before the read: the state is current as of this check (see `WriterWatch`).
        let check = self.appender.watch().checks();
        let state = self.read_on(state, stream).await?;
        keep(cache, stream, &state, check);
        Ok(state)
    }

    /// Folds the rest of `stream` into `state`, page by page.
    async fn read_on<S: Fold>(&self, mut state: Arc<S>, stream: &str) -> Result<Arc<S>, AppError> {
        loop {
            let events =
                read_stream(&self.log, stream, next_version(&*state), MAX_READ_LIMIT).await?;
            if fold_tail(&mut state, &events.iter().collect::<Vec<_>>())? {
                return Ok(state);
            }
        }
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

    /// The organization owning an account, for the advisory answers of the gateway (as
    /// [`App::account_for_auth`]): the cached state if known current less than
    /// [`AUTH_STATE_MAX_AGE`] ago, else loaded.
    pub async fn owner_organization_for_auth(
        &self,
        view: &AccountView,
    ) -> Result<Option<Arc<OrganizationState>>, AppError> {
        let Some(organization_id) = owner_of(view) else {
            return Ok(None);
        };
        let stream = organization_id.stream();
        let fresh =
            self.states
                .organizations
                .get_fresh(&stream, AUTH_STATE_MAX_AGE, self.appender.watch());
        match fresh {
            Some(state) => Ok(Some(state)),
            None => Ok(Some(self.organization(organization_id).await?)),
        }
    }

    /// The organization owning an account, loaded when the account belongs to one.
    pub async fn owner_organization(
        &self,
        view: &AccountView,
    ) -> Result<Option<Arc<OrganizationState>>, AppError> {
        match owner_of(view) {
            Some(organization_id) => Ok(Some(self.organization(organization_id).await?)),
            None => Ok(None),
        }
    }

    /// An account's state and its owning organization's, both current. Once the account is
    /// cached its owner is known (it never changes), so both tails are read in one round trip.
    pub async fn account_and_owner(
        &self,
        id: AccountId,
    ) -> Result<(Arc<AccountView>, Option<Arc<OrganizationState>>), AppError> {
        let account_stream = id.stream();
        let cached = self.states.accounts.get(&account_stream);
        let Some((mut view, organization_id)) =
            cached.and_then(|view| owner_of(&view).map(|org| (view, org)))
        else {
            let view = self.account(id).await?;
            let org = self.owner_organization(&view).await?;
            return Ok((view, org));
        };
        let org_stream = organization_id.stream();
        let mut org = self
            .states
            .organizations
            .get(&org_stream)
            .unwrap_or_default();
        let check = self.appender.watch().checks();
        let tails = read_stream_tails(
            &self.log,
            &[
                (&account_stream, next_version(&*view)),
                (&org_stream, next_version(&*org)),
            ],
            MAX_READ_LIMIT,
        )
        .await?;
        let (account_tail, org_tail): (Vec<&RecordedEvent>, Vec<&RecordedEvent>) = tails
            .iter()
            .partition(|recorded| recorded.stream_id == account_stream);
        if !fold_tail(&mut view, &account_tail)? {
            view = self.read_on(view, &account_stream).await?;
        }
        if !fold_tail(&mut org, &org_tail)? {
            org = self.read_on(org, &org_stream).await?;
        }
        keep(&self.states.accounts, &account_stream, &view, check);
        keep(&self.states.organizations, &org_stream, &org, check);
        Ok((view, Some(org)))
    }
}

/// The organization owning an account, if one does.
fn owner_of(view: &AccountView) -> Option<OrganizationId> {
    match view.state.account.as_ref().map(|a| a.owner) {
        Some(AccountOwner::Organization { organization_id }) => Some(organization_id),
        _ => None,
    }
}
