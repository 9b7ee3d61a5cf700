//! account_keys tests.
