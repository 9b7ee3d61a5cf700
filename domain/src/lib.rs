//! Pure business rules of ARouter Ledger: no IO, no clock, no randomness.
//!
//! Commands carry their ids and times; `decide` functions check the rules (authorization
//! first, through [`policy::authorize`]) and return a [`Decision`]: the events to append,
//! per stream, with the expected version of every stream whose state was read. `evolve`
//! folds events into state. See `docs/domain.md` for the rules and the event catalogue.

pub mod account;
pub mod decision;
pub mod email;
pub mod error;
pub mod event;
pub mod ids;
pub mod money;
pub mod notice;
pub mod organization;
pub mod period;
pub mod policy;
pub mod role;
pub mod text;
pub mod upcast;
pub mod user;

pub use decision::{Decision, ExpectedVersion, StreamChange, UniqueClaim};
pub use email::Email;
pub use error::{DomainError, ErrorKind, Field, InputError};
pub use event::Event;
pub use ids::AdjustmentId;
pub use ids::{
    AccountId, CommandId, GenerationId, HoldId, InvitationId, KeyId, OrganizationId, StaffId,
    TransferId, UserId,
};
pub use money::Credits;
pub use period::LimitPeriod;
pub use policy::{Action, AuthContext, Caller, CallerKind, Denial, Scope, authorize};
pub use role::Role;
pub use upcast::UpcastError;
