//! Identifiers: UUID newtypes chosen by callers, the opaque generation id, and stream names.

use crate::error::{DomainError, Field, InputError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID chosen by the caller (the domain never generates ids).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Builds an id from a number; handy for tests and fixtures.
            pub const fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }

            /// The wrapped UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses a UUID string; the error names the field.
            pub fn parse(text: &str) -> Result<Self, DomainError> {
                Uuid::try_parse(text.trim())
                    .map(Self)
                    .map_err(|_| DomainError::invalid($field, InputError::Malformed("expected a UUID")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

uuid_id!(
    /// A user, registered by the identity service.
    UserId,
    Field::UserId
);
uuid_id!(
    /// An organization.
    OrganizationId,
    Field::OrganizationId
);
uuid_id!(
    /// An account: personal or organization; the credit pool and its API keys.
    AccountId,
    Field::AccountId
);
uuid_id!(
    /// An API key.
    KeyId,
    Field::KeyId
);
uuid_id!(
    /// An invitation to an organization.
    InvitationId,
    Field::InvitationId
);
uuid_id!(
    /// A hold on an account's credits for one request.
    HoldId,
    Field::HoldId
);
uuid_id!(
    /// A command; the event store deduplicates retries by it.
    CommandId,
    Field::CommandId
);
uuid_id!(
    /// A support staff member.
    StaffId,
    Field::StaffId
);
uuid_id!(
    /// A credit transfer; links its `transferred_out` and `transferred_in` events.
    TransferId,
    Field::TransferId
);

impl UserId {
    /// The user's stream: `user-{uuid}`.
    pub fn stream(&self) -> String {
        format!("user-{}", self.0)
    }
}

impl OrganizationId {
    /// The organization's stream: `org-{uuid}`.
    pub fn stream(&self) -> String {
        format!("org-{}", self.0)
    }
}

impl AccountId {
    /// The account's stream: `account-{uuid}`.
    pub fn stream(&self) -> String {
        format!("account-{}", self.0)
    }
}

/// A provider's generation id: 1..=128 visible ASCII characters (no spaces), opaque.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GenerationId(String);

impl GenerationId {
    /// Longest accepted generation id.
    pub const MAX_LEN: usize = 128;

    /// Validates a generation id (not trimmed: it is opaque).
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let fail = |reason| DomainError::invalid(Field::GenerationId, reason);
        if text.is_empty() {
            return Err(fail(InputError::Empty));
        }
        if text.len() > Self::MAX_LEN {
            return Err(fail(InputError::TooLong { max: Self::MAX_LEN }));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(fail(InputError::Malformed("visible ASCII only")));
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GenerationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GenerationId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<GenerationId> for String {
    fn from(value: GenerationId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_prefixed_uuids() {
        let id = AccountId::from_u128(1);
        assert_eq!(id.stream(), "account-00000000-0000-0000-0000-000000000001");
        assert_eq!(
            OrganizationId::from_u128(2).stream(),
            "org-00000000-0000-0000-0000-000000000002"
        );
        assert_eq!(
            UserId::from_u128(3).stream(),
            "user-00000000-0000-0000-0000-000000000003"
        );
    }

    #[test]
    fn ids_parse_with_field_named_errors() {
        assert!(KeyId::parse("00000000-0000-0000-0000-000000000001").is_ok());
        let err = KeyId::parse("nope").unwrap_err();
        assert_eq!(
            err.kind(),
            crate::ErrorKind::InvalidArgument {
                field: Field::KeyId
            }
        );
    }

    #[test]
    fn generation_ids_are_bounded_visible_ascii() {
        assert!(GenerationId::parse("gen-123_abc").is_ok());
        assert!(GenerationId::parse(&"x".repeat(128)).is_ok());
        assert!(GenerationId::parse(&"x".repeat(129)).is_err());
        assert!(GenerationId::parse("").is_err());
        assert!(GenerationId::parse("a b").is_err());
        assert!(GenerationId::parse("é").is_err());
    }
}
uuid_id!(
    /// A support adjustment of an account's credits.
    AdjustmentId,
    Field::AdjustmentId
);
