//! What the tests hold on to between calls: typed ids, and the users, organizations, keys,
//! holds and invitations the calls created.

use std::fmt;

use uuid::Uuid;

/// A fresh id as a string, for requests written out by hand.
pub fn id() -> String {
    Uuid::new_v4().to_string()
}

/// A typed id: a UUID string that says what it names.
macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Eq, Hash)]
            pub struct $name(String);

            impl $name {
                /// A fresh id, for a resource the caller names.
                pub fn fresh() -> $name {
                    $name(id())
                }

                /// The id as it goes on the wire.
                pub fn as_str(&self) -> &str {
                    &self.0
                }
            }

            impl From<String> for $name {
                fn from(id: String) -> $name {
                    $name(id)
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(&self.0)
                }
            }
        )*
    };
}

typed_id! {
    /// A personal or organization account.
    AccountId;
    /// An organization.
    OrgId;
    /// An API key.
    KeyId;
    /// A hold on an account's credits.
    HoldId;
    /// An invitation to an organization.
    InvitationId;
}

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    /// The user id (`x-actor-id` when the user acts through the dashboard).
    pub id: Uuid,
    /// The address registered.
    pub email: String,
    /// The personal account opened at registration.
    pub personal: AccountId,
    /// The log position of the registration.
    pub registered_at: i64,
}

/// An organization and its account.
#[derive(Debug, Clone)]
pub struct Org {
    /// The organization.
    pub id: OrgId,
    /// Its account.
    pub account: AccountId,
}

/// An API key as its creation answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key.
    pub id: KeyId,
    /// The account it spends from.
    pub account: AccountId,
    /// The secret, shown once.
    pub secret: String,
    /// The display prefix kept in the log.
    pub prefix: String,
}

/// A hold the gateway placed.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The hold.
    pub id: HoldId,
    /// The account it holds credits on.
    pub account: AccountId,
    /// The log position of the placement.
    pub position: i64,
}

/// An invitation an admin sent.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// The invitation.
    pub id: InvitationId,
    /// The organization it invites to.
    pub org: OrgId,
    /// The log position of the invitation.
    pub position: i64,
}
