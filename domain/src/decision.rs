//! The result of deciding a command: events per stream, appended atomically by the app.
//!
//! Every stream whose state a decide function read appears in the decision with the version
//! the state was at. A change with no events is a precondition only: the app appends the
//! other changes only if that stream is still at `expected` (facts read from it still hold).

use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, GenerationId, HoldId, InvitationId, KeyId, OrganizationId};
use crate::text::{PaymentReference, SecretHash};

/// The version a stream must be at for the append to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// The stream must not exist yet (a new user, organization or account).
    NoStream,
    /// The stream must hold exactly this many events (its last version, counting from 1).
    Exact(u64),
}

impl ExpectedVersion {
    /// The expectation for a state that has folded `version` events.
    pub fn at(version: u64) -> Self {
        if version == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }
}

/// A unique claim the store records atomically with the append and refuses twice: a fact
/// that may be recorded once only, whatever the command id (a billed generation, a hold id, a
/// key, an invitation id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UniqueClaim {
    /// A generation id is billed once per account.
    Generation {
        /// The billed account.
        account_id: AccountId,
        /// The gateway's generation id.
        generation_id: GenerationId,
    },
    /// A hold id is placed once per account.
    Hold {
        /// The held account.
        account_id: AccountId,
        /// The hold.
        hold_id: HoldId,
    },
    /// A payment provider's reference is credited once per account, whatever the command id.
    Payment {
        /// The credited account.
        account_id: AccountId,
        /// The provider's reference.
        payment_reference: PaymentReference,
    },
    /// A key id is created once.
    Key(KeyId),
    /// A secret hash belongs to one key.
    KeySecretHash(SecretHash),
    /// An invitation id is used once per organization, even after the state forgot it.
    Invitation {
        /// The inviting organization.
        organization_id: OrganizationId,
        /// The invitation.
        invitation_id: InvitationId,
    },
}

impl UniqueClaim {
    /// The scope the store keeps the claim under (stable: stored with every claim).
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Generation { .. } => "generation",
            Self::Hold { .. } => "hold",
            Self::Payment { .. } => "payment",
            Self::Key(_) => "key",
            Self::KeySecretHash(_) => "key_secret_hash",
            Self::Invitation { .. } => "invitation",
        }
    }

    /// The claimed value as the store keeps it (stable: stored with every claim).
    pub fn value(&self) -> String {
        match self {
            Self::Generation {
                account_id,
                generation_id,
            } => format!("{account_id}/{generation_id}"),
            Self::Hold {
                account_id,
                hold_id,
            } => format!("{account_id}/{hold_id}"),
            Self::Payment {
                account_id,
                payment_reference,
            } => format!("{account_id}/{}", payment_reference.as_str()),
            Self::Key(key_id) => key_id.to_string(),
            Self::KeySecretHash(hash) => hash.as_str().to_owned(),
            Self::Invitation {
                organization_id,
                invitation_id,
            } => format!("{organization_id}/{invitation_id}"),
        }
    }

    /// The refusal a command meets when the claim was made before: the fact is recorded
    /// already. `None` for a secret hash, which only a broken secret derivation repeats.
    pub fn already_made(&self) -> Option<DomainError> {
        match self {
            Self::Generation { generation_id, .. } => Some(DomainError::GenerationAlreadyRecorded(
                generation_id.clone(),
            )),
            Self::Hold { hold_id, .. } => Some(DomainError::HoldAlreadyExists(*hold_id)),
            Self::Payment {
                payment_reference, ..
            } => Some(DomainError::PaymentReferenceReused(
                payment_reference.clone(),
            )),
            Self::Key(key_id) => Some(DomainError::KeyAlreadyExists(*key_id)),
            Self::Invitation { invitation_id, .. } => {
                Some(DomainError::InvitationAlreadyExists(*invitation_id))
            }
            Self::KeySecretHash(_) => None,
        }
    }
}

/// The events for one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChange {
    /// The stream name (`user-…`, `org-…`, `account-…`).
    pub stream: String,
    /// The version the stream must be at.
    pub expected: ExpectedVersion,
    /// The events to append; empty for a precondition only.
    pub events: Vec<Event>,
}

/// Everything a command decided: appended all together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// One entry per stream touched or read.
    pub changes: Vec<StreamChange>,
}

impl Decision {
    /// A decision with one stream change.
    pub fn one(stream: String, expected: ExpectedVersion, events: Vec<Event>) -> Self {
        Self::default().with(stream, expected, events)
    }

    /// Adds a stream change.
    pub fn with(mut self, stream: String, expected: ExpectedVersion, events: Vec<Event>) -> Self {
        debug_assert!(
            self.changes.iter().all(|c| c.stream != stream),
            "stream listed twice"
        );
        self.changes.push(StreamChange {
            stream,
            expected,
            events,
        });
        self
    }

    /// Adds a precondition on a stream that was read but is not written.
    pub fn reading(self, stream: String, expected: ExpectedVersion) -> Self {
        self.with(stream, expected, Vec::new())
    }

    /// All events, in stream order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.changes.iter().flat_map(|c| c.events.iter())
    }

    /// The events for one stream.
    pub fn events_for(&self, stream: &str) -> Vec<&Event> {
        self.changes
            .iter()
            .filter(|c| c.stream == stream)
            .flat_map(|c| c.events.iter())
            .collect()
    }

    /// Whether the command changed nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| c.events.is_empty())
    }

    /// The unique claims of all events; the store refuses the append if one was claimed before.
    pub fn unique_claims(&self) -> Vec<UniqueClaim> {
        self.events().flat_map(Event::unique_claims).collect()
    }
}
