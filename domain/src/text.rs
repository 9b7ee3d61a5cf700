//! Bounded texts: trimmed, non-empty, length-limited in characters, no control characters.
//!
//! Only the multi-line kinds (organization details, postal address) accept a line feed
//! (`\n`); no kind accepts any other control character (`\r`, `\t`, NUL, ...).

use crate::error::{DomainError, Field, InputError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Checks a text against the common rules and returns it trimmed.
pub fn bounded(
    text: &str,
    field: Field,
    max: usize,
    multiline: bool,
) -> Result<String, DomainError> {
    let fail = |reason| DomainError::invalid(field, reason);
    let text = text.trim();
    if text.is_empty() {
        return Err(fail(InputError::Empty));
    }
    if text.chars().count() > max {
        return Err(fail(InputError::TooLong { max }));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(fail(InputError::ControlCharacter));
    }
    Ok(text.to_owned())
}

macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, $field:expr, $max:expr, $multiline:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Validates and trims the text; the error names the field.
            pub fn parse(text: &str) -> Result<Self, DomainError> {
                bounded(text, $field, $max, $multiline).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

bounded_text!(
    /// An organization's name: 1..=100 characters.
    OrganizationName,
    Field::OrganizationName,
    100,
    false
);
bounded_text!(
    /// An organization's details: 1..=1000 characters, line feeds allowed.
    OrganizationDetails,
    Field::OrganizationDetails,
    1000,
    true
);
bounded_text!(
    /// An API key's name: 1..=100 characters.
    KeyName,
    Field::KeyName,
    100,
    false
);
bounded_text!(
    /// Why support transferred credits: 1..=500 characters.
    TransferReason,
    Field::Reason,
    500,
    false
);
bounded_text!(
    /// The support ticket of a transfer: 1..=100 characters.
    TicketReference,
    Field::Ticket,
    100,
    false
);
bounded_text!(
    /// The payment provider's reference for a purchase: 1..=200 characters.
    PaymentReference,
    Field::PaymentReference,
    200,
    false
);
bounded_text!(
    /// The payment provider's reference for a payment method (never card data): 1..=200.
    PaymentMethodReference,
    Field::PaymentMethodReference,
    200,
    false
);
bounded_text!(
    /// A model name: 1..=200 characters.
    ModelName,
    Field::Model,
    200,
    false
);
bounded_text!(
    /// A provider name: 1..=100 characters.
    ProviderName,
    Field::Provider,
    100,
    false
);
bounded_text!(
    /// Invoicing company name (personal data: commands only): 1..=200 characters.
    CompanyName,
    Field::CompanyName,
    200,
    false
);
bounded_text!(
    /// Invoicing tax id (personal data: commands only): 1..=50 characters.
    TaxId,
    Field::TaxId,
    50,
    false
);
bounded_text!(
    /// Invoicing postal address (personal data: commands only): 1..=1000, line feeds allowed.
    PostalAddress,
    Field::PostalAddress,
    1000,
    true
);

/// A keyed hash of an API key secret, computed outside the domain: 32..=128 hex digits,
/// stored lowercase. The secret itself never reaches the domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash(String);

impl SecretHash {
    /// Validates and lowercases a hex digest.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let fail = |reason| DomainError::invalid(Field::SecretHash, reason);
        let text = text.trim();
        if text.len() < 32 || text.len() > 128 || !text.len().is_multiple_of(2) {
            return Err(fail(InputError::Malformed(
                "expected 32 to 128 hex digits, even",
            )));
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(InputError::Malformed("expected hex digits")));
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecretHash {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SecretHash> for String {
    fn from(value: SecretHash) -> Self {
        value.0
    }
}

/// The display prefix of an API key: 1..=32 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Longest accepted prefix.
    pub const MAX_LEN: usize = 32;

    /// Validates a prefix.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let fail = |reason| DomainError::invalid(Field::KeyPrefix, reason);
        if text.is_empty() {
            return Err(fail(InputError::Empty));
        }
        if text.len() > Self::MAX_LEN {
            return Err(fail(InputError::TooLong { max: Self::MAX_LEN }));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) || text.contains('@') {
            return Err(fail(InputError::Malformed("visible ASCII only, no '@'")));
        }
        Ok(Self(text.to_owned()))
    }

    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyPrefix {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<KeyPrefix> for String {
    fn from(value: KeyPrefix) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(KeyName::parse("  prod  ").unwrap().as_str(), "prod");
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        assert!(KeyName::parse(&"é".repeat(101)).is_err());
        assert!(KeyName::parse("   ").is_err());
    }

    #[test]
    fn control_characters_are_refused_except_line_feeds_in_multiline_texts() {
        for one_line in ["a\nb", "a\u{7}b"] {
            assert!(KeyName::parse(one_line).is_err(), "{one_line:?}");
        }
        assert!(OrganizationDetails::parse("line 1\nline 2").is_ok());
        for multiline in ["a\r\nb", "a\tb"] {
            assert!(
                OrganizationDetails::parse(multiline).is_err(),
                "{multiline:?}"
            );
        }
    }

    #[test]
    fn secret_hashes_are_even_length_hex_and_lowercased() {
        let hash = SecretHash::parse(&"AB".repeat(32)).unwrap();
        assert_eq!(hash.as_str(), "ab".repeat(32));
        assert!(SecretHash::parse(&"a".repeat(31)).is_err());
        assert!(SecretHash::parse(&"g".repeat(64)).is_err());
    }
}
