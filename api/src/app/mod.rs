//! The application layer: load aggregate state, decide with the domain, append through the
//! group-commit appender, retry on conflicts, answer retries idempotently.

pub mod authorized;
mod cache;
pub mod command;
pub mod execute;
pub mod expiry;
pub mod follow;
mod group;
pub mod key_secret;
pub mod keyindex;
pub mod load;
pub mod locks;
mod notices;
mod pipeline;

use std::sync::Arc;

use ledger_domain::organization::OrganizationState;
use ledger_domain::user::UserState;
use ledger_eventstore::Appender;
use sqlx::PgPool;

pub use authorized::{AccountInContext, allow};
pub use cache::StateCache;
pub use command::{Decided, Done, LedgerCommand, Loader, RetryCheck, Route};
pub use group::GroupItem;
pub use load::{AccountView, KeyLabel};

use crate::auth::rate::{Rate, RateLimiter};
use crate::secrets::KeyHasher;

/// Streams cached per aggregate kind.
pub const CACHE_CAPACITY: usize = 10_000;

/// Everything a request handler needs; shared by all services.
pub struct App {
    /// The log's database: the event log, command idempotency, personal data; the reads
    /// served from the log (audit streams, VerifyChain, balances as of an event).
    pub log: PgPool,
    /// The read models' database (`--read-models-database-url`, else the log's): every query of
    /// a read model and every read-your-writes wait on a checkpoint.
    pub read_models: ledger_projections::ReadModelPool,
    /// The group-commit writer.
    pub appender: Appender,
    /// The server's key-hash secret.
    pub hasher: KeyHasher,
    /// Secret hash → (account, key).
    pub keys: Arc<keyindex::KeyIndex>,
    /// Per-stream locks of this process.
    pub locks: locks::StreamLocks,
    /// The consistency checks: one at a time, each under its own statement timeout.
    pub checks: Arc<ConsistencyChecks>,
    /// `AuthenticateKey` calls per API key (`--key-rate-per-s`).
    pub key_rate: RateLimiter<ledger_domain::KeyId>,
    /// Serving reads from a replica (`--read-only`): every command is refused in [`App::run`].
    pub read_only: bool,
    states: Arc<States>,
}

/// How consistency checks run: each folds the whole log and reads every read model, so one at a
/// time, under a statement timeout of their own (longer than the pool's).
pub struct ConsistencyChecks {
    /// The one permit: held by the running check.
    turn: Arc<tokio::sync::Semaphore>,
    /// The statement timeout of a check's queries (the sort of the activity feed by position
    /// is one statement).
    pub statement_timeout: std::time::Duration,
}

impl ConsistencyChecks {
    /// The turn to run a check, if no other check holds it. Owned, since a streamed check
    /// runs in a task of its own.
    pub fn try_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.turn).try_acquire_owned().ok()
    }
}

/// The cached aggregate states; shared with the append tasks, which outlive their callers.
struct States {
    users: StateCache<UserState>,
    organizations: StateCache<OrganizationState>,
    accounts: StateCache<AccountView>,
}

impl States {
    /// Brings the cached states of the streams a command appended to (queued after the
    /// writer's check `check`) up to the committed version, or marks them stale when the cache
    /// was elsewhere.
    fn advance(&self, decision: &ledger_domain::Decision, check: u64) {
        use ledger_domain::ExpectedVersion;
        use load::Fold;
        for change in decision.changes.iter().filter(|c| !c.events.is_empty()) {
            let expected = match change.expected {
                ExpectedVersion::NoStream => 0,
                ExpectedVersion::Exact(n) => n,
            };
            let (stream, events) = (&change.stream, &change.events);
            self.users
                .advance(stream, expected, events, check, |s, e| s.fold(e).is_ok());
            self.organizations
                .advance(stream, expected, events, check, |s, e| s.fold(e).is_ok());
            self.accounts
                .advance(stream, expected, events, check, |s, e| s.fold(e).is_ok());
        }
    }

    /// Drops cached state of `stream` that is ahead of its version in the log.
    fn forget_if_ahead(&self, stream: &str, version: i64) {
        self.users.forget_if_ahead(stream, version);
        self.organizations.forget_if_ahead(stream, version);
        self.accounts.forget_if_ahead(stream, version);
    }
}

impl App {
    /// Builds the application state and the key index. `read_only`: a process on a replica,
    /// whose `appender` is [`Appender::read_only`] and which refuses every command.
    pub async fn start(
        log: PgPool,
        read_models: ledger_projections::ReadModelPool,
        appender: Appender,
        hasher: KeyHasher,
        statement_timeout: std::time::Duration,
        key_rate: Rate,
        read_only: bool,
    ) -> anyhow::Result<Arc<App>> {
        let keys = keyindex::KeyIndex::build(&log).await?;
        Ok(Arc::new(App {
            log,
            read_models,
            appender,
            hasher,
            keys: Arc::new(keys),
            locks: locks::StreamLocks::default(),
            checks: Arc::new(ConsistencyChecks {
                turn: Arc::new(tokio::sync::Semaphore::new(1)),
                statement_timeout,
            }),
            key_rate: RateLimiter::new(key_rate),
            read_only,
            states: Arc::new(States {
                users: StateCache::new(CACHE_CAPACITY),
                organizations: StateCache::new(CACHE_CAPACITY),
                accounts: StateCache::new(CACHE_CAPACITY),
            }),
        }))
    }

    /// An account's cached state as it is, without reading the log (the first attempt of a
    /// command: a stale state only costs a version conflict and a reload), else loaded.
    pub async fn account_cached(
        &self,
        id: ledger_domain::AccountId,
    ) -> Result<Arc<AccountView>, crate::error::AppError> {
        match self.states.accounts.get(&id.stream()) {
            Some(view) => Ok(view),
            None => self.account(id).await,
        }
    }
}
