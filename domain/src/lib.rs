//! Pure business rules of ARouter Ledger: no IO, no clock, no randomness.
