//! account_credits tests.
