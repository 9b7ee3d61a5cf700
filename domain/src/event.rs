//! All events: per-aggregate enums, the top-level [`Event`], stable type names, schema
//! versions, payload JSON without the type, reading stored events through the upcaster, and
//! the unique claims the store records with an append.

use crate::account::AccountEvent;
use crate::decision::UniqueClaim;
use crate::organization::OrganizationEvent;
use crate::upcast::{UpcastError, upcast};
use crate::user::UserEvent;

/// Declares a per-aggregate event enum over payload structs, with its type names and
/// schema versions, `to_payload` and `from_current_payload`.
macro_rules! event_enum {
    ($(#[$meta:meta])* $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $type_name:literal v $version:literal ),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )+
        }

        impl $name {
            /// Every event type of this enum with its current schema version.
            pub const TYPES: &'static [(&'static str, u16)] = &[ $( ($type_name, $version), )+ ];

            /// The stable type name, kept by the store in its type column.
            pub fn event_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $type_name, )+ }
            }

            /// The current schema version of this event's payload.
            pub fn schema_version(&self) -> u16 {
                match self { $( Self::$variant(_) => $version, )+ }
            }

            /// The payload JSON (the type and version are not repeated in it).
            pub fn to_payload(&self) -> serde_json::Value {
                let value = match self { $( Self::$variant(e) => serde_json::to_value(e), )+ };
                value.expect("event payloads are plain structs with string keys")
            }

            /// Reads a payload in the current schema; `None` if the type is not of this enum.
            pub fn from_current_payload(
                event_type: &str,
                payload: &serde_json::Value,
            ) -> Option<Result<Self, serde_json::Error>> {
                use serde::Deserialize as _;
                match event_type {
                    $( $type_name => Some(<$ty>::deserialize(payload).map(Self::$variant)), )+
                    _ => None,
                }
            }

            /// Reads a payload in the current schema straight from its JSON text; `None` if
            /// the type is not of this enum.
            pub fn from_current_json(
                event_type: &str,
                json: &str,
            ) -> Option<Result<Self, serde_json::Error>> {
                match event_type {
                    $( $type_name => Some(serde_json::from_str(json).map(Self::$variant)), )+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use event_enum;

/// Folds `events` into a fresh state with `evolve`.
pub(crate) fn fold<'a, S: Default, E: 'a>(
    events: impl IntoIterator<Item = &'a E>,
    evolve: impl Fn(&mut S, &E),
) -> S {
    let mut state = S::default();
    for event in events {
        evolve(&mut state, event);
    }
    state
}

/// Any event of any stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user stream event.
    User(UserEvent),
    /// An organization stream event.
    Organization(OrganizationEvent),
    /// An account stream event.
    Account(AccountEvent),
}

impl Event {
    /// Every event type with its current schema version.
    pub fn catalogue() -> impl Iterator<Item = (&'static str, u16)> {
        UserEvent::TYPES
            .iter()
            .chain(OrganizationEvent::TYPES)
            .chain(AccountEvent::TYPES)
            .copied()
    }

    /// The current schema version of `event_type`, if it is one of ours.
    pub fn current_version(event_type: &str) -> Option<u16> {
        Self::catalogue()
            .find(|(t, _)| *t == event_type)
            .map(|(_, v)| v)
    }

    /// The stable type name, e.g. `"account.hold_placed"`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::User(e) => e.event_type(),
            Self::Organization(e) => e.event_type(),
            Self::Account(e) => e.event_type(),
        }
    }

    /// The current schema version of this event.
    pub fn schema_version(&self) -> u16 {
        match self {
            Self::User(e) => e.schema_version(),
            Self::Organization(e) => e.schema_version(),
            Self::Account(e) => e.schema_version(),
        }
    }

    /// The payload JSON: decimals as strings, timestamps RFC 3339 UTC, ids UUID strings.
    pub fn to_payload(&self) -> serde_json::Value {
        match self {
            Self::User(e) => e.to_payload(),
            Self::Organization(e) => e.to_payload(),
            Self::Account(e) => e.to_payload(),
        }
    }

    /// Reads a stored event: upcasts an older schema version to the current one, then
    /// deserialises (validating every field again).
    pub fn from_stored(
        event_type: &str,
        schema_version: u16,
        payload: serde_json::Value,
    ) -> Result<Self, UpcastError> {
        let current = Self::check_version(event_type, schema_version)?;
        let payload = upcast(event_type, schema_version, current, payload)?;
        let decoded = UserEvent::from_current_payload(event_type, &payload)
            .map(|r| r.map(Self::User))
            .or_else(|| {
                OrganizationEvent::from_current_payload(event_type, &payload)
                    .map(|r| r.map(Self::Organization))
            })
            .or_else(|| {
                AccountEvent::from_current_payload(event_type, &payload)
                    .map(|r| r.map(Self::Account))
            });
        Self::decoded(event_type, decoded)
    }

    /// [`Event::from_stored`] from the payload's JSON text: an event in the current schema
    /// (nearly all of them) is deserialised straight from the text, without building a JSON
    /// tree first; an older one goes through the upcaster.
    pub fn from_stored_json(
        event_type: &str,
        schema_version: u16,
        json: &str,
    ) -> Result<Self, UpcastError> {
        let current = Self::check_version(event_type, schema_version)?;
        if schema_version < current {
            let payload = serde_json::from_str(json).map_err(|e| UpcastError::Malformed {
                event_type: event_type.to_owned(),
                reason: e.to_string(),
            })?;
            return Self::from_stored(event_type, schema_version, payload);
        }
        let decoded = UserEvent::from_current_json(event_type, json)
            .map(|r| r.map(Self::User))
            .or_else(|| {
                OrganizationEvent::from_current_json(event_type, json)
                    .map(|r| r.map(Self::Organization))
            })
            .or_else(|| {
                AccountEvent::from_current_json(event_type, json).map(|r| r.map(Self::Account))
            });
        Self::decoded(event_type, decoded)
    }

    /// The current version of `event_type`, if `schema_version` can be read as it.
    fn check_version(event_type: &str, schema_version: u16) -> Result<u16, UpcastError> {
        let current = Self::current_version(event_type)
            .ok_or_else(|| UpcastError::UnknownType(event_type.to_owned()))?;
        if schema_version == 0 || schema_version > current {
            return Err(UpcastError::UnsupportedVersion {
                event_type: event_type.to_owned(),
                version: schema_version,
                current,
            });
        }
        Ok(current)
    }

    fn decoded(
        event_type: &str,
        decoded: Option<Result<Self, serde_json::Error>>,
    ) -> Result<Self, UpcastError> {
        match decoded {
            Some(result) => result.map_err(|e| UpcastError::Malformed {
                event_type: event_type.to_owned(),
                reason: e.to_string(),
            }),
            None => Err(UpcastError::UnknownType(event_type.to_owned())),
        }
    }

    /// Values the store must record as unique with this event's append (generation ids per
    /// account, hold ids per account, key ids and key hashes, invitation ids).
    pub fn unique_claims(&self) -> Vec<UniqueClaim> {
        match self {
            Self::User(_) => Vec::new(),
            Self::Organization(e) => e.unique_claims(),
            Self::Account(e) => e.unique_claims(),
        }
    }
}

impl From<UserEvent> for Event {
    fn from(value: UserEvent) -> Self {
        Self::User(value)
    }
}

impl From<OrganizationEvent> for Event {
    fn from(value: OrganizationEvent) -> Self {
        Self::Organization(value)
    }
}

impl From<AccountEvent> for Event {
    fn from(value: AccountEvent) -> Self {
        Self::Account(value)
    }
}
