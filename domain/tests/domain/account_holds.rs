//! account_holds tests.
