//! Email addresses: validated, normalised, and deliberately not serialisable.
//!
//! `Email` appears in commands only. It implements neither `Serialize` nor `Deserialize`,
//! so no event or state can carry one (the compiler enforces the personal-data split), and
//! its `Debug` output is redacted so it does not leak into logs.

use crate::error::{DomainError, Field, InputError};
use std::fmt;

/// A validated email address: trimmed, lowercased, ≤ 254 bytes, exactly one `@`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Longest accepted address, in bytes (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates and normalises an address.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let fail = |reason| DomainError::invalid(Field::Email, reason);
        let text = text.trim().to_lowercase();
        if text.is_empty() {
            return Err(fail(InputError::Empty));
        }
        if text.len() > Self::MAX_LEN {
            return Err(fail(InputError::TooLong { max: Self::MAX_LEN }));
        }
        if text.chars().any(char::is_control) {
            return Err(fail(InputError::ControlCharacter));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(fail(InputError::Malformed("no spaces allowed")));
        }
        let mut parts = text.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(fail(InputError::Malformed("expected exactly one '@'")));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(fail(InputError::Malformed(
                "local part must be 1 to 64 bytes",
            )));
        }
        if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') {
            return Err(fail(InputError::Malformed("invalid domain")));
        }
        Ok(Self(text))
    }

    /// The normalised address (for the app to store in the erasable table).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_field() {
        for bad in ["", "a", "a@b@c", "@b", "a@", "a b@c", "a@b\u{0}", "a@.b"] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::ErrorKind::InvalidArgument {
                    field: Field::Email
                },
                "{bad}"
            );
        }
        let long = format!("{}@{}", "a".repeat(64), "b".repeat(190));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn debug_output_is_redacted() {
        let email = Email::parse("a@b.c").unwrap();
        assert!(!format!("{email:?}").contains('@'));
    }
}
