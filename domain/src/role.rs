//! Roles in an organization.

use serde::{Deserialize, Serialize};

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Members, billing, privacy, all keys.
    Admin,
    /// Create keys, use organization resources, manage own keys.
    Member,
}
