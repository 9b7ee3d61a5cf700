//! The application error: domain rules, invalid input, authentication and the store, each
//! with how a caller should handle it. Converted to `tonic::Status` in `status.rs` only.

use ledger_domain::DomainError;
use ledger_eventstore::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A business rule refused the command. Caller: as documented per `DomainError` variant.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A request field is invalid (named as in the proto). Caller: fix it; never retry as is.
    #[error("invalid {field}: {description}")]
    Invalid {
        /// The proto field path, e.g. `amount` or `usage.cost`.
        field: String,
        /// Why.
        description: String,
    },
    /// No valid credential. Caller: send `authorization: Bearer <token>` (and `x-actor-id`).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The caller kind may not use this RPC (for RPCs the domain's policy has no action for
    /// yet). Caller: never retry.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The caller has no part in the account, organization or user the request names (not its
    /// owner, not a member), or no such one exists: the two are answered alike so ids cannot
    /// be probed. Caller: never retry; check the id and the acting user.
    #[error("permission denied: it does not exist or this caller may not see it")]
    NoAccess,
    /// The caller's credential, or the API key, is over its rate limit
    /// (`--credential-rate-per-s`, `--key-rate-per-s`). Caller: retry after `wait`
    /// (`google.rpc.RetryInfo`).
    #[error("rate limit of {what} exceeded; retry after {} ms", wait.as_millis())]
    RateLimited {
        /// Whose limit: "this credential" or "this API key".
        what: &'static str,
        /// How long until a call would be within the rate.
        wait: std::time::Duration,
    },
    /// A new id the command names (its stream) exists already. Caller: choose another id.
    #[error("the id of {0} is already in use")]
    IdTaken(String),
    /// No key has this secret. Caller (gateway): refuse the request (reason `UNKNOWN_KEY`).
    #[error("unknown key")]
    UnknownKey,
    /// The command id was used before for another request. Caller: use a new command id.
    #[error("command id reused for a different request")]
    CommandIdReused,
    /// A retried `CreateKey` whose secret is no longer shown: the key is no longer active, or
    /// the key was created more than [`crate::app::key_secret::SHOWN_AGAIN_FOR`] ago. Caller:
    /// create a new key (the old one is unaffected).
    #[error("the key's secret is no longer shown: {0}")]
    SecretNoLongerShown(&'static str),
    /// The streams kept moving under the command (bounded retries exhausted). Caller: retry
    /// with the same command id.
    #[error("too much contention; retry with the same command id")]
    Contended,
    /// The log or the database is unreachable. Caller: retry with the same command id.
    #[error("the ledger is temporarily unavailable; retry with the same command id")]
    Unavailable,
    /// A heavy read of which one runs at a time is running already. Caller: retry later.
    #[error("{0}")]
    Busy(&'static str),
    /// Not available yet. Caller: do not retry.
    #[error("{0}")]
    Unimplemented(&'static str),
    /// A read model failed or is behind (`min_position` not reached in time), or a page token
    /// is not one this listing issued. Mapped per variant in `status.rs`.
    #[error(transparent)]
    Projection(#[from] ledger_projections::ProjectionError),
    /// A command sent to a `ledgerd` serving reads from a replica (`--read-only`). Caller: send
    /// it to a `ledgerd` on the primary (reason `READ_ONLY_REPLICA`).
    #[error("this ledgerd serves reads from a replica; send commands to a ledgerd on the primary")]
    ReadOnlyReplica,
    /// A bug or corrupt data. Logged once where converted; the caller sees "internal error".
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// An invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(_) | StoreError::Unavailable | StoreError::AppenderStopped => {
                tracing::warn!(%error, "event log unavailable");
                Self::Unavailable
            }
            StoreError::CommandIdReused { .. } => Self::CommandIdReused,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::warn!(%error, "database unavailable");
        Self::Unavailable
    }
}

/// Turns a domain parse error into a field error named as in the proto.
pub trait AtField<T> {
    /// Names the proto field an invalid-input error is about.
    fn at(self, field: &str) -> Result<T, AppError>;
}

impl<T> AtField<T> for Result<T, DomainError> {
    fn at(self, field: &str) -> Result<T, AppError> {
        self.map_err(|error| match error {
            DomainError::InvalidInput { reason, .. } => {
                AppError::invalid(field, reason.to_string())
            }
            other => AppError::Domain(other),
        })
    }
}
