//! Money: exact bounds, refusal instead of rounding, and no floats anywhere.

use ledger_domain::{Credits, ErrorKind, Field, InputError};
use rust_decimal::Decimal;
use std::str::FromStr;

fn reason(result: Result<Credits, ledger_domain::DomainError>) -> InputError {
    match result {
        Err(ledger_domain::DomainError::InvalidInput { reason, .. }) => reason,
        other => panic!("expected an invalid input, got {other:?}"),
    }
}

#[test]
fn purchases_accept_cents_up_to_one_million() {
    assert_eq!(
        Credits::purchase("0.01").unwrap().amount(),
        Decimal::from_str("0.01").unwrap()
    );
    assert!(Credits::purchase("1000000.00").is_ok());
    assert!(Credits::purchase("1000000").is_ok());
    assert!(Credits::purchase(Decimal::from_str("12.5").unwrap()).is_ok());
}

#[test]
fn purchases_refuse_rather_than_round() {
    assert_eq!(
        reason(Credits::purchase("0.001")),
        InputError::TooManyDecimalPlaces { max: 2 }
    );
    assert!(matches!(
        reason(Credits::purchase("1000000.01")),
        InputError::TooLarge { .. }
    ));
    assert_eq!(reason(Credits::purchase("-1")), InputError::Negative);
    assert_eq!(reason(Credits::purchase("0")), InputError::NotPositive);
    assert_eq!(reason(Credits::purchase("0.00")), InputError::NotPositive);
    for malformed in [
        "1e3", "", " ", "abc", "1.2.3", "+5", "0x10", "1,5", "NaN", "inf", "-",
    ] {
        assert!(
            matches!(
                reason(Credits::purchase(malformed)),
                InputError::Malformed(_)
            ),
            "{malformed}"
        );
    }
}

#[test]
fn trailing_zeros_are_not_precision() {
    assert_eq!(
        Credits::purchase("0.010").unwrap(),
        Credits::purchase("0.01").unwrap()
    );
    assert_eq!(Credits::purchase("10.00").unwrap().to_string(), "10");
}

#[test]
fn errors_name_the_field_concept() {
    let field = |r: Result<Credits, ledger_domain::DomainError>| match r.unwrap_err().kind() {
        ErrorKind::InvalidArgument { field } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(Credits::purchase("x")), Field::Amount);
    assert_eq!(field(Credits::transfer("x")), Field::Amount);
    assert_eq!(field(Credits::key_limit("x")), Field::KeyLimit);
    assert_eq!(field(Credits::usage_cost("x")), Field::Cost);
    assert_eq!(field(Credits::hold_estimate("x")), Field::Estimate);
}

#[test]
fn transfers_and_key_limits_follow_the_purchase_rules() {
    assert!(Credits::transfer("0.01").is_ok());
    assert!(Credits::transfer("0.001").is_err());
    assert!(Credits::transfer("1000000.01").is_err());
    assert!(Credits::key_limit("1000000.00").is_ok());
    assert!(Credits::key_limit("0").is_err());
}

#[test]
fn usage_costs_allow_zero_and_ten_decimal_places_up_to_one_hundred_thousand() {
    assert_eq!(Credits::usage_cost("0").unwrap(), Credits::ZERO);
    assert!(Credits::usage_cost("0.0000000001").is_ok());
    assert_eq!(
        reason(Credits::usage_cost("0.00000000001")),
        InputError::TooManyDecimalPlaces { max: 10 }
    );
    assert!(Credits::usage_cost("100000").is_ok());
    assert!(matches!(
        reason(Credits::usage_cost("100000.0000000001")),
        InputError::TooLarge { .. }
    ));
    assert_eq!(reason(Credits::usage_cost("-0.01")), InputError::Negative);
    assert!(Credits::hold_estimate("0").is_ok());
    assert!(Credits::hold_estimate("1e-3").is_err());
}

#[test]
fn credits_serialise_as_decimal_strings() {
    let json = serde_json::to_string(&Credits::usage_cost("0.0000000001").unwrap()).unwrap();
    assert_eq!(json, "\"0.0000000001\"");
    let back: Credits = serde_json::from_str(&json).unwrap();
    assert_eq!(back, Credits::usage_cost("0.0000000001").unwrap());
    assert!(serde_json::from_str::<Credits>("\"-1\"").is_err());
}

#[test]
fn no_float_type_appears_anywhere_in_the_crate() {
    // The runner's directory, not the one baked in at compile time: a test binary built in
    // another checkout sharing this target directory (CI's clones) points at a gone tree.
    let root = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    );
    let mut stack = vec![root.join("src"), root.join("tests")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in [["f", "32"].concat(), ["f", "64"].concat()] {
                    let hits = text.match_indices(&needle).any(|(i, _)| {
                        let before = text[..i].chars().next_back();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    });
                    assert!(!hits, "{} uses {needle}", path.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 20);
}
