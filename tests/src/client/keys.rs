//! The dashboard's keys: creation, limits, the lifecycle, and reads.

use ledger_api::pb;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{AccountId, Key, KeyId, id};

impl Dashboard {
    /// Creates a key named `name` under `account`, without a spend limit.
    pub fn create_key(&self, account: &AccountId, name: &str) -> Call<Key> {
        self.create_key_request(account, name, None)
    }

    /// Creates a key named `name` under `account` that may spend `amount` per `period`.
    pub fn create_key_with_limit(
        &self,
        account: &AccountId,
        name: &str,
        amount: &str,
        period: pb::LimitPeriod,
    ) -> Call<Key> {
        self.create_key_request(account, name, Some(limit(amount, period)))
    }

    fn create_key_request(
        &self,
        account: &AccountId,
        name: &str,
        limit: Option<pb::KeyLimit>,
    ) -> Call<Key> {
        let account = account.clone();
        self.rpc
            .create_key(pb::CreateKeyRequest {
                command_id: id(),
                account_id: account.to_string(),
                key_id: id(),
                name: name.into(),
                limit,
                expires_at: None,
            })
            .map(|created| Key {
                id: KeyId::from(created.key_id),
                account,
                secret: created.secret,
                prefix: created.prefix,
            })
    }

    /// Renames `key`.
    pub fn rename_key(&self, key: &Key, name: &str) -> Call<pb::CommandResponse> {
        self.rpc.rename_key(pb::RenameKeyRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            name: name.into(),
        })
    }

    /// Lets `key` spend `amount` per `period`.
    pub fn change_key_limit(
        &self,
        key: &Key,
        amount: &str,
        period: pb::LimitPeriod,
    ) -> Call<pb::CommandResponse> {
        self.rpc.change_key_limit(pb::ChangeKeyLimitRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            limit: Some(limit(amount, period)),
        })
    }

    /// Disables `key`.
    pub fn disable_key(&self, key: &Key) -> Call<pb::CommandResponse> {
        self.rpc.disable_key(key_command(key))
    }

    /// Enables `key` again.
    pub fn enable_key(&self, key: &Key) -> Call<pb::CommandResponse> {
        self.rpc.enable_key(key_command(key))
    }

    /// Deletes `key` for good.
    pub fn delete_key(&self, key: &Key) -> Call<pb::CommandResponse> {
        self.rpc.delete_key(key_command(key))
    }

    /// `key` as the keys read model has it.
    pub fn get_key(&self, key: &Key) -> Call<pb::ApiKey> {
        self.rpc.get_key(pb::GetKeyRequest {
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            min_position: self.min_position,
        })
    }

    /// The first page of `account`'s keys this user may see, deleted ones hidden.
    pub fn list_keys(&self, account: &AccountId) -> Call<pb::ListKeysResponse> {
        self.list_keys_request(account, false)
    }

    /// The first page of `account`'s keys this user may see, deleted ones included.
    pub fn list_keys_with_deleted(&self, account: &AccountId) -> Call<pb::ListKeysResponse> {
        self.list_keys_request(account, true)
    }

    fn list_keys_request(
        &self,
        account: &AccountId,
        include_deleted: bool,
    ) -> Call<pb::ListKeysResponse> {
        self.rpc.list_keys(pb::ListKeysRequest {
            account_id: account.to_string(),
            min_position: self.min_position,
            include_deleted,
            ..Default::default()
        })
    }
}

fn limit(amount: &str, period: pb::LimitPeriod) -> pb::KeyLimit {
    pb::KeyLimit {
        amount: amount.into(),
        reset: period.into(),
    }
}

fn key_command(key: &Key) -> pb::KeyCommandRequest {
    pb::KeyCommandRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
    }
}
