//! The commands the services run, each a type the application's executor runs
//! ([`crate::app::App::run`]): what it reads, how it decides, and what a retry gets back.

pub mod account;
pub mod expiry;
pub mod gateway;
pub mod keys;
pub mod membership;
pub mod organization;
pub mod transfer;
pub mod user;

pub use account::OnAccount;
pub use expiry::ExpireHold;
pub use gateway::{AuthorizeAndHold, HeldForKey};
pub use keys::{KeyRotation, RotateKey};
pub use membership::{AcceptInvitation, ChangeMembership, Departure};
pub use organization::{
    BillingContacts, CreateOrganization, Invitee, MemberInvited, OnOrganization,
    OrganizationCreated,
};
pub use transfer::{ReverseTransfer, TransferCredits};
pub use user::{EraseUser, RegisterUser, VerifyEmail};
