//! Helpers of the API tests: a server on a fresh database, ids, usage reports, error details.

use ledger_api::pb;
use ledger_pgembed::testing::{TestDatabase, fresh_database};
use ledger_tests::ledgerd::{Clients, Ledgerd, LedgerdOptions};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

/// A running ledgerd on its own fresh database, and a pool on that database.
pub struct Env {
    pub ledgerd: Ledgerd,
    pub pool: sqlx::PgPool,
    _database: TestDatabase,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    /// Starts ledgerd with options adjusted by `configure` (the database is set already).
    pub async fn start_with(configure: impl FnOnce(&mut LedgerdOptions)) -> Env {
        let database = fresh_database().await.unwrap();
        let mut options = LedgerdOptions {
            database_url: Some(database.url().to_owned()),
            data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", Uuid::new_v4())),
            ..Default::default()
        };
        configure(&mut options);
        let ledgerd = Ledgerd::start(&options).await;
        let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
        Env {
            ledgerd,
            pool,
            _database: database,
        }
    }

    /// The log's head position, read straight from the event store.
    pub async fn head(&self) -> i64 {
        ledger_eventstore::head(&self.pool).await.unwrap().position
    }
}

/// Registers `user` with `email` and verifies the address, as the identity service does;
/// returns the personal account id.
pub async fn register_verified(identity: &Clients, user: Uuid, email: &str) -> String {
    let personal = register(identity, user, email).await;
    identity
        .users
        .clone()
        .verify_email(pb::VerifyEmailRequest {
            command_id: id(),
            user_id: user.to_string(),
            email: email.into(),
        })
        .await
        .unwrap();
    personal
}

/// Registers `user` with `email` (not verified); returns the personal account id.
pub async fn register(identity: &Clients, user: Uuid, email: &str) -> String {
    identity
        .users
        .clone()
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: user.to_string(),
            personal_account_id: String::new(),
            email: email.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .personal_account_id
}

/// A decimal string as an integer number of 10⁻¹⁰ units (enough for costs).
pub fn units(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let text = text.trim_start_matches('-');
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<10}");
    let value =
        whole.parse::<i128>().unwrap() * 10_i128.pow(10) + fraction.parse::<i128>().unwrap();
    if negative { -value } else { value }
}

/// A fresh id as a string.
pub fn id() -> String {
    Uuid::new_v4().to_string()
}

/// A usage report for a generation.
pub fn usage(generation: &str, cost: &str) -> pb::UsageReport {
    let started = prost_types::Timestamp {
        seconds: 1_780_000_000,
        nanos: 0,
    };
    let finished = prost_types::Timestamp {
        seconds: 1_780_000_001,
        nanos: 0,
    };
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
        started_at: Some(started),
        finished_at: Some(finished),
    }
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Asserts INVALID_ARGUMENT naming `field` in a `BadRequest` violation.
#[track_caller]
pub fn assert_bad_field(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec![field.to_owned()], "{status:?}");
}

/// Registers a user with `email` (verified) through the identity service; returns the user and
/// the personal account.
pub async fn registered_user(ledgerd: &Ledgerd, email: &str) -> (Uuid, String) {
    let user = Uuid::new_v4();
    let identity = ledgerd.clients("identity", None).await;
    let personal = register_verified(&identity, user, email).await;
    (user, personal)
}

/// `admin` creates an organization; returns (organization, its account).
pub async fn organization(ledgerd: &Ledgerd, admin: Uuid, name: &str) -> (String, String) {
    let org = id();
    let created = ledgerd
        .clients("dashboard", Some(admin))
        .await
        .orgs
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
            account_id: String::new(),
            name: name.into(),
            details: None,
        })
        .await
        .unwrap()
        .into_inner();
    (org, created.account_id)
}

/// `admin` invites `email` as a member of `org` and `user` accepts.
pub async fn join(ledgerd: &Ledgerd, admin: Uuid, org: &str, user: Uuid, email: &str) {
    let invitation = id();
    ledgerd
        .clients("dashboard", Some(admin))
        .await
        .orgs
        .invite_member(pb::InviteMemberRequest {
            command_id: id(),
            organization_id: org.to_owned(),
            invitation_id: invitation.clone(),
            email: email.into(),
            role: pb::Role::Member.into(),
            expires_in_s: None,
        })
        .await
        .unwrap();
    ledgerd
        .clients("dashboard", Some(user))
        .await
        .orgs
        .accept_invitation(pb::AcceptInvitationRequest {
            command_id: id(),
            organization_id: org.to_owned(),
            invitation_id: invitation,
        })
        .await
        .unwrap();
}

/// `buyer` purchases `amount` credits for `account`.
pub async fn purchase(ledgerd: &Ledgerd, buyer: Uuid, account: &str, amount: &str) {
    ledgerd
        .clients("dashboard", Some(buyer))
        .await
        .credits
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: account.to_owned(),
            amount: amount.into(),
            payment_reference: format!("pay_{}", id()),
        })
        .await
        .unwrap();
}

/// `reader`'s view of `account`'s balance, once the projection has reached `min_position`.
pub async fn balance(
    ledgerd: &Ledgerd,
    reader: Uuid,
    account: &str,
    min_position: i64,
) -> pb::GetAccountBalanceResponse {
    ledgerd
        .clients("dashboard", Some(reader))
        .await
        .credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account.to_owned(),
            min_position,
        })
        .await
        .unwrap()
        .into_inner()
}

/// `creator` creates a key under `account`, with an optional lifetime spend limit.
pub async fn key(
    ledgerd: &Ledgerd,
    creator: Uuid,
    account: &str,
    limit: Option<&str>,
) -> pb::CreateKeyResponse {
    ledgerd
        .clients("dashboard", Some(creator))
        .await
        .keys
        .create_key(pb::CreateKeyRequest {
            command_id: id(),
            account_id: account.to_owned(),
            key_id: id(),
            name: "key".into(),
            limit: limit.map(|amount| pb::KeyLimit {
                amount: amount.into(),
                reset: pb::LimitPeriod::Lifetime.into(),
            }),
            expires_at: None,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Asserts that the auditor's walk of the whole chain finds it intact.
pub async fn assert_chain_verifies(ledgerd: &Ledgerd) {
    let verified = ledgerd
        .clients("auditor", None)
        .await
        .audit
        .verify_chain(pb::VerifyChainRequest {
            from_position: 1,
            to_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.ok, "{verified:?}");
}
