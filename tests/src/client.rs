//! A typed client of `ledgerd` for the black-box tests, so that a test reads like the domain:
//!
//! ```ignore
//! let world = World::start().await;
//! let alice = world.user("alice@example.test").await;
//! let acme = world.dashboard(&alice).create_organization("Acme").await;
//! world.dashboard(&alice).buy(&acme.account, "100").await;
//! let key = world.dashboard(&alice).create_key(&acme.account, "gw").await;
//! world.gateway().place_hold(&key, "30").await;
//! world.gateway().place_hold(&key, "99").refused_because("INSUFFICIENT_CREDITS").await;
//! ```
//!
//! Each caller kind is a small handle ([`Dashboard`] acting for a user, [`Gateway`],
//! [`Identity`], [`Support`], [`Auditor`]) whose methods build valid requests from typed ids
//! and return a [`Call`]: awaited, the reply; or asserted refused. [`Rpc`] keeps every RPC
//! with its prost request as it is, for tests that send what the handles never would.

/// A caller handle over an [`Rpc`]: its struct, `From<Rpc>` (to call as another kind would)
/// and `rpc()` (its RPCs as they are); with `reading`, also `after` (reads that wait for a
/// position).
macro_rules! role {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            pub(in crate::client) rpc: $crate::client::Rpc,
        }

        impl From<$crate::client::Rpc> for $name {
            fn from(rpc: $crate::client::Rpc) -> $name {
                $name { rpc }
            }
        }

        role!(@rpc $name);
    };
    ($(#[$doc:meta])* $name:ident reading) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            pub(in crate::client) rpc: $crate::client::Rpc,
            /// What its reads ask the read models to have reached (`min_position`).
            pub(in crate::client) min_position: i64,
        }

        impl From<$crate::client::Rpc> for $name {
            fn from(rpc: $crate::client::Rpc) -> $name {
                $name { rpc, min_position: 0 }
            }
        }

        impl $name {
            /// The same caller, its reads answered once the read models have reached
            /// `position` (read-your-writes).
            pub fn after(&self, position: i64) -> $name {
                $name {
                    rpc: self.rpc.clone(),
                    min_position: position,
                }
            }
        }

        role!(@rpc $name);
    };
    (@rpc $name:ident) => {
        impl $name {
            /// Every RPC with its request as given, sent by this caller.
            pub fn rpc(&self) -> &$crate::client::Rpc {
                &self.rpc
            }
        }
    };
}

mod call;
mod corrections;
mod credits;
mod dashboard;
mod ids;
mod keys;
mod keys_lifecycle;
mod notifications;
mod roles;
mod rpc;
mod spending;
mod world;

pub use call::{BoxFuture, Call, assert_bad_field, reason};
pub use corrections::{adjust_request, reverse_request};
pub use dashboard::Dashboard;
pub use ids::{
    AccountId, Hold, HoldId, Invitation, InvitationId, Key, KeyId, Org, OrgId, User, id,
};
pub use keys_lifecycle::{Rotated, rotate_request};
pub use notifications::{Notifier, next_notices, stays_quiet};
pub use roles::{Auditor, Gateway, Identity, Support, authorize_and_hold_request, usage};
pub use rpc::Rpc;
pub use world::{Api, ReadsWorld, World};
