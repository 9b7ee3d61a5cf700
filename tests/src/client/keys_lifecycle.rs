//! A key's secret rotated and its expiry changed after creation, and an invitee's own
//! pending invitations.

use ledger_api::pb;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{Key, KeyId, User, id};

/// A rotation as its reply answered it: the key with its new secret, and the reply.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key, its `secret` and `prefix` the new ones.
    pub key: Key,
    /// The reply (generation, end of the previous secret's grace period, position).
    pub reply: pb::RotateKeyResponse,
}

impl Dashboard {
    /// Rotates `key`'s secret; the current one keeps working for `grace_s` seconds.
    pub fn rotate_key(&self, key: &Key, grace_s: u32) -> Call<Rotated> {
        let key = key.clone();
        self.rpc
            .rotate_key(rotate_request(&key, grace_s))
            .map(move |reply| Rotated {
                key: Key {
                    id: KeyId::from(reply.key_id.clone()),
                    account: key.account.clone(),
                    secret: reply.secret.clone(),
                    prefix: reply.prefix.clone(),
                },
                reply,
            })
    }

    /// Sets `key`'s expiry to `expires_at` (`None`: never expires).
    pub fn change_key_expiry(
        &self,
        key: &Key,
        expires_at: Option<prost_types::Timestamp>,
    ) -> Call<pb::CommandResponse> {
        self.rpc.change_key_expiry(pb::ChangeKeyExpiryRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            expires_at,
        })
    }

    /// The first page of the pending invitations sent to `user`'s verified address.
    pub fn invitations_of(&self, user: &User) -> Call<pb::ListUserInvitationsResponse> {
        self.rpc
            .list_user_invitations(pb::ListUserInvitationsRequest {
                user_id: user.id.to_string(),
                min_position: self.min_position,
                ..Default::default()
            })
    }
}

/// The request rotating `key` with `grace_s` seconds of grace, under a fresh command id.
pub fn rotate_request(key: &Key, grace_s: u32) -> pb::RotateKeyRequest {
    pb::RotateKeyRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        grace_s,
    }
}
