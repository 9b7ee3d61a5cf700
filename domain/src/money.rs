//! Exact money: `Credits`, built only through validating constructors; never a float.
//!
//! Rules (never rounding, always refusing):
//! - purchases, transfers and key limits: positive, at most 2 decimal places, at most 1,000,000;
//! - usage costs and hold estimates: zero or more, at most 10 decimal places, at most 100,000.
//!
//! Trailing zeros are not precision: `"0.010"` is the exact value 0.01 and is accepted as a
//! 2-place amount. Values are normalised (trailing zeros dropped) so events are canonical.
//! Balances are plain `Decimal`s in account state and may go negative.

use crate::error::{DomainError, Field, InputError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Decimal places allowed in purchases, transfers and key limits.
pub const MONEY_SCALE: u32 = 2;
/// Decimal places allowed in usage costs and hold estimates.
pub const USAGE_SCALE: u32 = 10;
/// Largest purchase, transfer or key limit: 1,000,000.00.
pub const MAX_PURCHASE: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 2);
/// Largest usage cost or hold estimate: 100,000.
pub const MAX_USAGE_COST: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);

/// A non-negative, bounded, exact amount of credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Credits(Decimal);

/// Something an amount can be parsed from: a decimal string or a `Decimal`.
pub trait AmountInput {
    /// The exact decimal value, or why the text is not one.
    fn to_decimal(&self) -> Result<Decimal, InputError>;
}

impl AmountInput for &str {
    fn to_decimal(&self) -> Result<Decimal, InputError> {
        let text = self.trim();
        let digits = text.strip_prefix('-').unwrap_or(text);
        let dots = digits.bytes().filter(|b| *b == b'.').count();
        let well_formed = !digits.is_empty()
            && dots <= 1
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().any(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(InputError::Malformed("expected a plain decimal like 12.34"));
        }
        Decimal::from_str_exact(text).map_err(|_| InputError::Malformed("too many digits"))
    }
}

impl AmountInput for String {
    fn to_decimal(&self) -> Result<Decimal, InputError> {
        self.as_str().to_decimal()
    }
}

impl AmountInput for Decimal {
    fn to_decimal(&self) -> Result<Decimal, InputError> {
        Ok(*self)
    }
}

/// What an amount must be: positive (or zero allowed), its most decimal places, its bound.
#[derive(Clone, Copy)]
struct Rules {
    positive: bool,
    scale: u32,
    max: Decimal,
}

/// Purchases, transfers and key limits.
const MONEY: Rules = Rules {
    positive: true,
    scale: MONEY_SCALE,
    max: MAX_PURCHASE,
};
/// Usage costs and hold estimates.
const USAGE: Rules = Rules {
    positive: false,
    scale: USAGE_SCALE,
    max: MAX_USAGE_COST,
};
/// A stored amount of any kind.
const STORED: Rules = Rules {
    positive: false,
    scale: USAGE_SCALE,
    max: MAX_PURCHASE,
};

impl Rules {
    fn check(self, value: Decimal) -> Result<Decimal, InputError> {
        let value = value.normalize();
        if value.is_sign_negative() && !value.is_zero() {
            return Err(InputError::Negative);
        }
        if self.positive && value.is_zero() {
            return Err(InputError::NotPositive);
        }
        if value.scale() > self.scale {
            return Err(InputError::TooManyDecimalPlaces { max: self.scale });
        }
        if value > self.max {
            return Err(InputError::TooLarge { max: self.max });
        }
        // `-0` normalises to a negative-signed zero; store a plain zero.
        Ok(if value.is_zero() {
            Decimal::ZERO
        } else {
            value
        })
    }
}

impl Credits {
    /// Zero credits.
    pub const ZERO: Credits = Credits(Decimal::ZERO);

    fn parse(input: impl AmountInput, rules: Rules, field: Field) -> Result<Self, DomainError> {
        input
            .to_decimal()
            .and_then(|d| rules.check(d))
            .map(Self)
            .map_err(|reason| DomainError::invalid(field, reason))
    }

    /// A purchase amount: positive, ≤ 2 decimal places, ≤ 1,000,000.
    pub fn purchase(input: impl AmountInput) -> Result<Self, DomainError> {
        Self::parse(input, MONEY, Field::Amount)
    }

    /// A transfer amount: the purchase rules.
    pub fn transfer(input: impl AmountInput) -> Result<Self, DomainError> {
        Self::parse(input, MONEY, Field::Amount)
    }

    /// A key's spend limit: the purchase rules.
    pub fn key_limit(input: impl AmountInput) -> Result<Self, DomainError> {
        Self::parse(input, MONEY, Field::KeyLimit)
    }

    /// A usage cost: ≥ 0, ≤ 10 decimal places, ≤ 100,000.
    pub fn usage_cost(input: impl AmountInput) -> Result<Self, DomainError> {
        Self::parse(input, USAGE, Field::Cost)
    }

    /// A hold estimate: the usage-cost rules (zero allowed: a free model still checks the key).
    pub fn hold_estimate(input: impl AmountInput) -> Result<Self, DomainError> {
        Self::parse(input, USAGE, Field::Estimate)
    }

    /// The exact value.
    pub const fn amount(&self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Stored events were validated when decided; on reading they only have to be a credit
/// amount of some kind (≥ 0, ≤ 10 places, ≤ the purchase bound).
impl TryFrom<Decimal> for Credits {
    type Error = InputError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        STORED.check(value).map(Self)
    }
}

impl From<Credits> for Decimal {
    fn from(value: Credits) -> Self {
        value.0
    }
}
