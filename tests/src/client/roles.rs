//! The callers beside the dashboard: identity, the gateway, support staff and auditors.

use ledger_api::pb;

use super::call::Call;
use super::dashboard::privacy_request;
use super::ids::{AccountId, Hold, HoldId, Key, Org, User, id};

role! {
    /// The identity service: registers users and verifies and erases their addresses.
    Identity
}

impl Identity {
    /// Registers a new user with `email` (not verified).
    pub fn register(&self, email: &str) -> Call<User> {
        let (user, email) = (uuid::Uuid::new_v4(), email.to_owned());
        self.rpc
            .register_user(pb::RegisterUserRequest {
                command_id: id(),
                user_id: user.to_string(),
                personal_account_id: String::new(),
                email: email.clone(),
            })
            .map(move |registered| User {
                id: user,
                email,
                personal: registered.personal_account_id.into(),
                registered_at: registered.position,
            })
    }

    /// Verifies `user`'s registered address.
    pub fn verify(&self, user: &User) -> Call<pb::VerifyEmailResponse> {
        self.rpc.verify_email(pb::VerifyEmailRequest {
            command_id: id(),
            user_id: user.id.to_string(),
            email: user.email.clone(),
        })
    }

    /// Erases `user`'s personal data.
    pub fn erase(&self, user: &User) -> Call<pb::EraseUserResponse> {
        self.rpc.erase_user(pb::EraseUserRequest {
            user_id: user.id.to_string(),
        })
    }
}

role! {
    /// The gateway: authenticates keys, holds credits for requests and bills them.
    Gateway reading
}

/// How long a hold lives unless a test says otherwise.
const HOLD_TTL_S: u32 = 60;

impl Gateway {
    /// Authenticates a key by its secret.
    pub fn authenticate(&self, secret: &str) -> Call<pb::AuthenticateKeyResponse> {
        self.rpc.authenticate_key(pb::AuthenticateKeyRequest {
            min_position: self.min_position,
            secret: secret.into(),
        })
    }

    /// Holds `estimate` credits for a request made with `key`, for a minute.
    pub fn place_hold(&self, key: &Key, estimate: &str) -> Call<Hold> {
        self.place_hold_for(key, estimate, HOLD_TTL_S)
    }

    /// Holds `estimate` credits for a request made with `key`, for `ttl_s` seconds.
    pub fn place_hold_for(&self, key: &Key, estimate: &str, ttl_s: u32) -> Call<Hold> {
        let (hold, account) = (HoldId::fresh(), key.account.clone());
        self.rpc
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: account.to_string(),
                key_id: key.id.to_string(),
                hold_id: hold.to_string(),
                estimate: estimate.into(),
                ttl_s,
            })
            .map(|placed| Hold {
                id: hold,
                account,
                position: placed.position,
            })
    }

    /// Authenticates `key` by its secret and holds `estimate` on its account, for a minute.
    pub fn authorize_and_hold(
        &self,
        key: &Key,
        estimate: &str,
    ) -> Call<pb::AuthorizeAndHoldResponse> {
        self.rpc
            .authorize_and_hold(authorize_and_hold_request(&key.secret, estimate))
    }

    /// Settles `hold` at `cost` for `generation`.
    pub fn settle(&self, hold: &Hold, generation: &str, cost: &str) -> Call<pb::CommandResponse> {
        self.rpc.settle_hold(pb::SettleHoldRequest {
            command_id: id(),
            account_id: hold.account.to_string(),
            hold_id: hold.id.to_string(),
            usage: Some(usage(generation, cost)),
        })
    }

    /// Releases `hold` without billing.
    pub fn void(&self, hold: &Hold) -> Call<pb::CommandResponse> {
        self.rpc.void_hold(pb::VoidHoldRequest {
            command_id: id(),
            account_id: hold.account.to_string(),
            hold_id: hold.id.to_string(),
        })
    }

    /// Bills `cost` for `generation`, made with `key`, without a hold.
    pub fn record_usage(
        &self,
        key: &Key,
        generation: &str,
        cost: &str,
    ) -> Call<pb::CommandResponse> {
        self.rpc.record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            usage: Some(usage(generation, cost)),
        })
    }

    /// `org`'s privacy settings (whether prompts may be logged).
    pub fn privacy(&self, org: &Org) -> Call<pb::PrivacySettings> {
        self.rpc
            .get_privacy_settings(privacy_request(org, self.min_position))
    }
}

/// An `AuthorizeAndHold` request for `secret`, holding `estimate` for a minute under a fresh
/// command id and hold id.
pub fn authorize_and_hold_request(secret: &str, estimate: &str) -> pb::AuthorizeAndHoldRequest {
    pb::AuthorizeAndHoldRequest {
        command_id: id(),
        secret: secret.into(),
        hold_id: HoldId::fresh().to_string(),
        estimate: estimate.into(),
        ttl_s: HOLD_TTL_S,
    }
}

/// A successful generation's usage report: `gpt-x` at OpenAI, 100 prompt and 50 completion
/// tokens, costing `cost`.
pub fn usage(generation: &str, cost: &str) -> pb::UsageReport {
    let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
    pb::UsageReport {
        generation_id: generation.into(),
        model: "gpt-x".into(),
        provider: "openai".into(),
        tokens: Some(pb::Tokens {
            prompt: 100,
            completion: 50,
            reasoning: 0,
            cached: 10,
        }),
        cost: cost.into(),
        latency_ms: 900,
        time_to_first_token_ms: Some(120),
        status: pb::UsageStatus::Success.into(),
        started_at: Some(at(1_780_000_000)),
        finished_at: Some(at(1_780_000_001)),
    }
}

role! {
    /// A support staff member: moves credits between accounts and raises member limits.
    Support
}

impl Support {
    /// Moves `amount` credits from `from` to `to`, for a ticket.
    pub fn transfer(
        &self,
        from: &AccountId,
        to: &AccountId,
        amount: &str,
    ) -> Call<pb::CommandResponse> {
        self.rpc.transfer_credits(pb::TransferCreditsRequest {
            command_id: id(),
            transfer_id: String::new(),
            from_account_id: from.to_string(),
            to_account_id: to.to_string(),
            amount: amount.into(),
            reason: "consolidate credits".into(),
            ticket: "SUP-1".into(),
        })
    }

    /// Rebuilds the read model `projection` (its default batch size); the call answers with
    /// the stream of progress messages.
    pub fn rebuild(&self, projection: &str) -> Call<tonic::Streaming<pb::RebuildProgress>> {
        self.rpc.rebuild_projection(pb::RebuildProjectionRequest {
            projection: projection.into(),
            batch_size: 0,
        })
    }

    /// Lets `org` have `member_limit` members.
    pub fn set_member_limit(&self, org: &Org, member_limit: u32) -> Call<pb::CommandResponse> {
        self.rpc.set_member_limit(pb::SetMemberLimitRequest {
            command_id: id(),
            organization_id: org.id.to_string(),
            member_limit,
        })
    }
}

role! {
    /// An auditor: reads and verifies the log.
    Auditor
}

impl Auditor {
    /// The log's head.
    pub fn head(&self) -> Call<pb::GetHeadResponse> {
        self.rpc.get_head(pb::GetHeadRequest {})
    }

    /// The walk of the whole hash chain.
    pub fn verify_chain(&self) -> Call<pb::VerifyChainResponse> {
        self.rpc.verify_chain(pb::VerifyChainRequest {
            from_position: 1,
            to_position: 0,
        })
    }

    /// Asserts that the walk of the whole chain finds it intact.
    pub async fn assert_chain_verifies(&self) {
        let verified = self.verify_chain().await;
        assert!(verified.ok, "{verified:?}");
    }

    /// Whether the log extends the checkpoint (`position`, `hash`).
    pub fn verify_checkpoint(
        &self,
        position: i64,
        hash: &str,
    ) -> Call<pb::VerifyCheckpointResponse> {
        self.rpc.verify_checkpoint(pb::VerifyCheckpointRequest {
            position,
            hash: hash.into(),
        })
    }

    /// `account`'s balance replayed up to `position`.
    pub fn balance_at_position(
        &self,
        account: &AccountId,
        position: i64,
    ) -> Call<pb::BalanceAsOfResponse> {
        self.rpc.balance_as_of(pb::BalanceAsOfRequest {
            account_id: account.to_string(),
            as_of: Some(pb::balance_as_of_request::AsOf::Position(position)),
        })
    }

    /// Every read model compared with a fresh fold of the log.
    pub fn consistency_check(&self) -> Call<pb::ConsistencyCheckResponse> {
        self.rpc.consistency_check(pb::ConsistencyCheckRequest {})
    }

    /// Each projection's position and lag.
    pub fn projection_status(&self) -> Call<pb::GetProjectionStatusResponse> {
        self.rpc
            .get_projection_status(pb::GetProjectionStatusRequest {})
    }
}
