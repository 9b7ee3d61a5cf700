//! Test databases, the appender, and a seeded generator of valid histories: commands decided
//! by the domain and appended through the Appender exactly as the API does.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use ledger_domain::account::{
    self, AccountCommand, AccountState, KeyLimit, Tokens, TransferCredits, UsageReport, UsageStatus,
};
use ledger_domain::organization::{self, AcceptInvitation, OrganizationCommand, OrganizationState};
use ledger_domain::text::{
    KeyName, KeyPrefix, ModelName, OrganizationName, PaymentReference, ProviderName, SecretHash,
    TicketReference, TransferReason,
};
use ledger_domain::user::{self, RegisterUser, UserState, VerifyEmail};
use ledger_domain::{
    AccountId, Caller, Credits, Decision, Email, Event, GenerationId, HoldId, InvitationId, KeyId,
    LimitPeriod, OrganizationId, Role, StaffId, TransferId, UserId,
};
use ledger_eventstore::{AppendOutcome, AppendRequest, Appender, AppenderConfig, EventMetadata};
use ledger_pgembed::testing::{MigratedPool, TestDatabase, migrated_pool};
use ledger_projections::{
    CheckLimits, CheckReport, Projection, ProjectionRuntime, ReadModelPool, RuntimeConfig,
    check_all, check_within, wait_for_position,
};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

pub struct Db {
    _database: TestDatabase,
    pub pool: PgPool,
    /// The same database, as the read models' (they share it in these tests).
    pub read_models: ReadModelPool,
    pub appender: Appender,
}

pub async fn db() -> Db {
    let MigratedPool { database, pool } = migrated_pool(&ledger_eventstore::MIGRATOR, 16)
        .await
        .expect("a fresh migrated test database");
    let appender = Appender::spawn(pool.clone(), AppenderConfig::default()).0;
    Db {
        _database: database,
        read_models: ReadModelPool::new(pool.clone()),
        pool,
        appender,
    }
}

/// The read models in the log's own database `pool`.
pub fn shared(pool: &PgPool) -> ReadModelPool {
    ReadModelPool::new(pool.clone())
}

/// Every projection running in this process until [`Running::stop`].
pub struct Running {
    pub runtime: ProjectionRuntime,
    stop: watch::Sender<bool>,
}

impl Running {
    pub fn spawn(pool: &PgPool, config: RuntimeConfig) -> Running {
        let (stop, shutdown) = watch::channel(false);
        let runtime = ProjectionRuntime::spawn(pool.clone(), shared(pool), config, shutdown);
        Running { runtime, stop }
    }

    /// Stops every runner and waits for them to end.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        self.runtime.join().await;
    }
}

/// Fast timings for tests; no background prune.
pub fn config(batch_size: i64) -> RuntimeConfig {
    RuntimeConfig {
        batch_size,
        poll_interval: Duration::from_millis(50),
        lock_retry: Duration::from_millis(200),
        error_backoff: Duration::from_millis(100),
        prune_interval: None,
        ..RuntimeConfig::default()
    }
}

/// Waits until every projection reached `position`.
pub async fn caught_up(pool: &PgPool, position: i64) {
    caught_up_within(pool, position, Duration::from_secs(20)).await;
}

/// Waits until every projection reached `position`, each for at most `deadline`.
pub async fn caught_up_within(pool: &PgPool, position: i64, deadline: Duration) {
    for projection in Projection::ALL {
        wait_for_position(&shared(pool), projection, position, deadline)
            .await
            .unwrap();
    }
}

/// A check that holds a few events and rows at a time, so chunk and fetch boundaries fall
/// everywhere.
pub const TINY_CHUNKS: CheckLimits = CheckLimits {
    events_per_chunk: 3,
    rows_per_fetch: 2,
    listed: 1_000,
    statement_timeout: Some(Duration::from_secs(60)),
};

/// Checks every projection against the fold of the log, with the default limits and with
/// [`TINY_CHUNKS`], and returns the reports of the first.
pub async fn assert_consistent(pool: &PgPool) -> Vec<CheckReport> {
    let reports = check_all(pool, &shared(pool)).await.unwrap();
    let mut all = reports.clone();
    for projection in Projection::ALL {
        all.push(
            check_within(pool, &shared(pool), projection, TINY_CHUNKS)
                .await
                .unwrap(),
        );
    }
    for report in &all {
        assert!(
            report.is_consistent(),
            "{} differs from the fold at {}: {:#?}",
            report.projection,
            report.position,
            report.differences
        );
    }
    reports
}

/// The append request of a decision, as the API builds it.
pub fn request(decision: &Decision) -> AppendRequest {
    let command_id = Uuid::new_v4();
    let mut request_hash = [0; 32];
    request_hash[..16].copy_from_slice(command_id.as_bytes());
    AppendRequest {
        command_id,
        request_hash,
        metadata: EventMetadata {
            caller_kind: "test".into(),
            actor_id: None,
            command_id,
            correlation_id: command_id,
            causation_id: None,
            credential: None,
        },
        streams: ledger_codec::streams(decision),
        claims: ledger_codec::claims(decision),
        reply: json!(null),
        outbox: vec![],
    }
}

/// A tiny deterministic generator (xorshift), so a failing seed replays exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn email(n: usize) -> Email {
    Email::parse(&format!("user{n}@example.com")).unwrap()
}

/// Users, one organization and every account, with their domain states, driven by commands.
pub struct World {
    pub appender: Appender,
    pub rng: Rng,
    pub now: DateTime<Utc>,
    pub users: Vec<UserId>,
    pub user_states: BTreeMap<UserId, UserState>,
    pub org: OrganizationId,
    pub org_account: AccountId,
    pub org_state: OrganizationState,
    pub accounts: BTreeMap<AccountId, AccountState>,
    pub keys: Vec<(AccountId, KeyId)>,
    pub holds: Vec<(AccountId, HoldId)>,
    pub last_position: i64,
    pub usage_events: usize,
    /// Adjustments, reversals and refunds committed.
    pub corrections: usize,
    counter: u128,
}

impl World {
    fn id(&mut self) -> u128 {
        self.counter += 1;
        self.counter
    }

    /// Appends a decision and folds its events into the states.
    pub async fn commit(&mut self, decision: Decision) -> AppendOutcome {
        let outcome = self.appender.append(request(&decision)).await.unwrap();
        self.last_position = outcome.last_position;
        for event in decision.events() {
            match event {
                Event::User(e) => self.user_states.entry(e.user_id()).or_default().evolve(e),
                Event::Organization(e) => self.org_state.evolve(e),
                Event::Account(e) => {
                    if matches!(
                        e,
                        account::AccountEvent::HoldSettled(_)
                            | account::AccountEvent::UsageRecorded(_)
                    ) {
                        self.usage_events += 1;
                    }
                    if matches!(
                        e,
                        account::AccountEvent::CreditsAdjusted(_)
                            | account::AccountEvent::TransferReversedOut(_)
                            | account::AccountEvent::PurchaseRefunded(_)
                    ) {
                        self.corrections += 1;
                    }
                    self.accounts.entry(e.account_id()).or_default().evolve(e);
                }
            }
        }
        outcome
    }

    /// Four verified users; the first creates the organization, the next two join it.
    pub async fn new(appender: Appender, seed: u64) -> World {
        let mut world = World {
            appender,
            rng: Rng::new(seed),
            now: t0(),
            users: Vec::new(),
            user_states: BTreeMap::new(),
            org: OrganizationId::from_u128(0x0126 + u128::from(seed) * 1_000_000),
            org_account: AccountId::from_u128(0x0A0126 + u128::from(seed) * 1_000_000),
            org_state: OrganizationState::default(),
            accounts: BTreeMap::new(),
            keys: Vec::new(),
            holds: Vec::new(),
            last_position: 0,
            usage_events: 0,
            corrections: 0,
            counter: u128::from(seed) * 1_000_000 + 0x10_0000,
        };
        for n in 0..4 {
            world.register(n).await;
        }
        let creator = world.users[0];
        let cmd = organization::CreateOrganization {
            organization_id: world.org,
            account_id: world.org_account,
            name: OrganizationName::parse("Acme").unwrap(),
            details: None,
            at: world.now,
        };
        let decision = organization::create(
            &world.org_state,
            &world.user_states[&creator],
            &Caller::Dashboard { user: creator },
            &cmd,
        )
        .unwrap();
        world.commit(decision).await;
        for n in 1..3 {
            world.join(n, Role::Member).await;
        }
        world
    }

    pub async fn register(&mut self, n: usize) -> UserId {
        let user = UserId::from_u128(self.id());
        let account = AccountId::from_u128(self.id());
        let state = UserState::default();
        let cmd = RegisterUser {
            user_id: user,
            personal_account_id: account,
            email: email(n),
            at: self.now,
        };
        let decision = user::register(&state, &Caller::Identity, &cmd).unwrap();
        self.commit(decision).await;
        let verify = VerifyEmail {
            user_id: user,
            email: email(n),
            at: self.now,
        };
        let decision =
            user::verify_email(&self.user_states[&user], &Caller::Identity, &verify).unwrap();
        self.commit(decision).await;
        self.users.push(user);
        user
    }

    async fn join(&mut self, n: usize, role: Role) {
        let invitation = InvitationId::from_u128(self.id());
        let admin = Caller::Dashboard {
            user: self.users[0],
        };
        let invite = OrganizationCommand::InviteMember {
            invitation_id: invitation,
            email: email(n),
            role,
            expires_in_s: None,
            at: self.now,
        };
        let decision = organization::decide(&self.org_state, &admin, &invite).unwrap();
        self.commit(decision).await;
        let user = self.users[n];
        let accept = AcceptInvitation {
            invitation_id: invitation,
            invitation_email: email(n),
            user_verified_email: email(n),
            at: self.now,
        };
        let decision = organization::accept_invitation(
            &self.org_state,
            &self.user_states[&user],
            &Caller::Dashboard { user },
            &accept,
        )
        .unwrap();
        self.commit(decision).await;
    }

    fn personal(&self, n: usize) -> AccountId {
        self.user_states[&self.users[n]]
            .user
            .as_ref()
            .unwrap()
            .personal_account
    }

    fn usage(&mut self) -> UsageReport {
        let models = ["gpt-x", "claude-y", "llama-z"];
        let started = self.now - Span::milliseconds(900);
        UsageReport {
            generation_id: GenerationId::parse(&format!("gen-{}", self.id())).unwrap(),
            model: ModelName::parse(models[self.rng.below(3) as usize]).unwrap(),
            provider: ProviderName::parse("openai").unwrap(),
            tokens: Tokens {
                prompt: self.rng.below(1000),
                completion: self.rng.below(500),
                reasoning: 0,
                cached: self.rng.below(50),
            },
            cost: Credits::usage_cost(Decimal::new(self.rng.below(5_000_000) as i64, 6)).unwrap(),
            latency_ms: 900,
            time_to_first_token_ms: Some(self.rng.below(900)),
            status: UsageStatus::Success,
            started_at: started,
            finished_at: self.now,
        }
    }

    /// Decides one random command; `None` when the domain refuses it.
    fn decide(&mut self) -> Option<Decision> {
        self.now += Span::minutes(self.rng.below(180) as i64);
        let at = self.now;
        let on_org = self.rng.below(3) > 0;
        let member = self.rng.below(3) as usize; // users 0 (admin), 1, 2 are members
        let org_state = self.org_state.clone();
        let (account, caller, org) = if on_org {
            (
                self.org_account,
                Caller::Dashboard {
                    user: self.users[member],
                },
                Some(&org_state),
            )
        } else {
            let n = self.rng.below(4) as usize;
            (
                self.personal(n),
                Caller::Dashboard {
                    user: self.users[n],
                },
                None,
            )
        };
        let state = self.accounts.get(&account).cloned().unwrap_or_default();
        let key = self
            .keys
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, k)| *k)
            .nth(self.rng.below(4) as usize);
        let hold = self
            .holds
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, h)| *h)
            .next_back();
        let dashboard = |cmd: AccountCommand| account::decide(&state, org, &caller, &cmd).ok();
        let gateway =
            |cmd: AccountCommand, caller: Caller| account::decide(&state, None, &caller, &cmd).ok();
        match self.rng.below(14) {
            0 | 1 => dashboard(AccountCommand::PurchaseCredits {
                amount: Credits::purchase(Decimal::new(100 + self.rng.below(5_000) as i64, 2))
                    .unwrap(),
                payment_reference: PaymentReference::parse(&format!("pi_{}", self.id())).unwrap(),
                at,
            }),
            2 => {
                let key_id = KeyId::from_u128(self.id());
                let limit = (self.rng.below(2) == 0).then(|| KeyLimit {
                    amount: Credits::key_limit(Decimal::new(1 + self.rng.below(20) as i64, 0))
                        .unwrap(),
                    reset: [
                        LimitPeriod::Daily,
                        LimitPeriod::Weekly,
                        LimitPeriod::Monthly,
                        LimitPeriod::Lifetime,
                    ][self.rng.below(4) as usize],
                });
                let decision = dashboard(AccountCommand::CreateKey {
                    key_id,
                    name: KeyName::parse("backend").unwrap(),
                    secret_hash: SecretHash::parse(&format!("{:064x}", key_id.as_uuid().as_u128()))
                        .unwrap(),
                    prefix: KeyPrefix::parse("ar-1234").unwrap(),
                    limit,
                    expires_at: None,
                    at,
                });
                if decision.is_some() {
                    self.keys.push((account, key_id));
                }
                decision
            }
            3 => dashboard(AccountCommand::RenameKey {
                key_id: key?,
                name: KeyName::parse(&format!("key {}", self.rng.below(99))).unwrap(),
                at,
            }),
            4 => dashboard(AccountCommand::DisableKey { key_id: key?, at }),
            5 => dashboard(AccountCommand::EnableKey { key_id: key?, at }),
            6 => match self.rng.below(3) {
                0 => dashboard(AccountCommand::ChangeKeyLimit {
                    key_id: key?,
                    limit: None,
                    at,
                }),
                1 => dashboard(AccountCommand::RotateKey {
                    key_id: key?,
                    secret_hash: SecretHash::parse(&format!("{:064x}", self.id())).unwrap(),
                    prefix: KeyPrefix::parse("ar-5678").unwrap(),
                    grace_s: self.rng.below(3_600) as u32,
                    at,
                }),
                _ => dashboard(AccountCommand::ChangeKeyExpiry {
                    key_id: key?,
                    expires_at: (self.rng.below(2) == 0).then(|| at + chrono::Duration::days(30)),
                    at,
                }),
            },
            7 | 8 => {
                let hold_id = HoldId::from_u128(self.id());
                let estimate =
                    Credits::hold_estimate(Decimal::new(self.rng.below(3_000_000) as i64, 6))
                        .unwrap();
                let decision = gateway(
                    AccountCommand::PlaceHold {
                        hold_id,
                        key_id: key?,
                        estimate,
                        ttl_s: 60,
                        at,
                    },
                    Caller::Gateway,
                );
                if decision.is_some() {
                    self.holds.push((account, hold_id));
                }
                decision
            }
            9 => {
                let usage = self.usage();
                gateway(
                    AccountCommand::SettleHold {
                        hold_id: hold?,
                        usage,
                        at,
                    },
                    Caller::Gateway,
                )
            }
            10 => gateway(
                AccountCommand::VoidHold { hold_id: hold?, at },
                Caller::Gateway,
            ),
            11 => gateway(
                AccountCommand::ExpireHold { hold_id: hold?, at },
                Caller::System,
            ),
            12 => {
                let usage = self.usage();
                gateway(
                    AccountCommand::RecordUsage {
                        key_id: key?,
                        usage,
                        at,
                    },
                    Caller::Gateway,
                )
            }
            _ => match self.rng.below(4) {
                0 | 1 => self.transfer(at),
                _ => self.correction(&state, caller, org, at),
            },
        }
    }

    /// A support transfer from a member's personal account to the organization's.
    fn transfer(&mut self, at: DateTime<Utc>) -> Option<Decision> {
        let n = 1 + self.rng.below(2) as usize;
        let source = self.personal(n);
        let cmd = TransferCredits {
            transfer_id: TransferId::from_u128(self.id()),
            from: source,
            to: self.org_account,
            amount: Credits::transfer(Decimal::new(1 + self.rng.below(500) as i64, 2)).unwrap(),
            reason: TransferReason::parse("consolidation").unwrap(),
            ticket: TicketReference::parse("T-1").unwrap(),
            at,
        };
        account::transfer(
            &self.accounts[&source],
            &self.accounts[&self.org_account],
            &self.org_state,
            &support_staff(),
            &cmd,
        )
        .ok()
    }

    /// A money correction: a support adjustment of the account `state` is of (either way,
    /// sometimes a recovery), the reversal of a transfer the organization received, or the
    /// refund of one of the account's purchases by `caller` (refused unless its owner or an
    /// admin).
    fn correction(
        &mut self,
        state: &AccountState,
        caller: Caller,
        org: Option<&OrganizationState>,
        at: DateTime<Utc>,
    ) -> Option<Decision> {
        let reason = TransferReason::parse("correction").unwrap();
        let ticket = TicketReference::parse("T-2").unwrap();
        match self.rng.below(3) {
            0 => {
                let cmd = AccountCommand::AdjustCredits {
                    adjustment_id: ledger_domain::AdjustmentId::from_u128(self.id()),
                    direction: if self.rng.below(2) == 0 {
                        account::AdjustmentDirection::Credit
                    } else {
                        account::AdjustmentDirection::Debit
                    },
                    amount: Credits::transfer(Decimal::new(1 + self.rng.below(800) as i64, 2))
                        .unwrap(),
                    reason,
                    ticket,
                    recovery: self.rng.below(4) == 0,
                    at,
                };
                account::decide(state, None, &support_staff(), &cmd).ok()
            }
            1 => {
                let target = &self.accounts[&self.org_account];
                let mut received = target.account.as_ref()?.transfers_in.iter();
                let (transfer_id, transfer) = received.rfind(|(_, t)| !t.reversed)?;
                let cmd = account::ReverseTransfer {
                    transfer_id: *transfer_id,
                    account: self.org_account,
                    reason,
                    ticket,
                    at,
                };
                let source = &self.accounts[&transfer.from];
                account::reverse_transfer(target, source, &support_staff(), &cmd).ok()
            }
            _ => {
                let purchases = &state.account.as_ref()?.purchases;
                let reference = purchases.iter().find(|(_, p)| !p.refunded)?.0;
                let cmd = AccountCommand::RefundPurchase {
                    payment_reference: PaymentReference::parse(reference).unwrap(),
                    at,
                };
                account::decide(state, org, &caller, &cmd).ok()
            }
        }
    }

    /// Appends `count` random commands the domain accepts (refused ones are skipped).
    pub async fn run(&mut self, count: usize) {
        let mut done = 0;
        let mut tries = 0;
        while done < count && tries < count * 20 {
            tries += 1;
            if let Some(decision) = self.decide()
                && !decision.is_empty()
            {
                self.commit(decision).await;
                done += 1;
            }
        }
    }

    /// Some organization administration: privacy, a role change, a member leaving.
    pub async fn administer(&mut self) {
        let admin = Caller::Dashboard {
            user: self.users[0],
        };
        let at = self.now;
        for cmd in [
            OrganizationCommand::SetPrivacySettings {
                retention_days: 90,
                prompt_logging: true,
                at,
            },
            OrganizationCommand::ChangeRole {
                user_id: self.users[1],
                role: Role::Admin,
                at,
            },
            OrganizationCommand::InviteMember {
                invitation_id: InvitationId::from_u128(self.id()),
                email: email(9),
                role: Role::Member,
                expires_in_s: None,
                at,
            },
        ] {
            let decision = organization::decide(&self.org_state, &admin, &cmd).unwrap();
            self.commit(decision).await;
        }
        let leaver = self.users[2];
        let decision = organization::leave(
            &self.org_state,
            &self.accounts[&self.org_account],
            &Caller::Dashboard { user: leaver },
            &organization::LeaveOrganization { at },
        )
        .unwrap();
        self.commit(decision).await;
    }
}

/// A support staff member.
fn support_staff() -> Caller {
    Caller::Support {
        staff: StaffId::from_u128(7),
    }
}
