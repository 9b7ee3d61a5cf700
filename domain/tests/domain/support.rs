//! Fixtures and a tiny given / when / then helper.

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger_domain::account::{
    self, AccountCommand, AccountEvent, AccountOpened, AccountOwner, AccountState,
    CreditsPurchased, HoldPlaced, KeyChanged, KeyCreated, KeyDisabled, KeyLimit, Tokens,
    UsageReport, UsageStatus,
};
use ledger_domain::organization::{
    InvitationAccepted, MemberInvited, OrganizationCreated, OrganizationEvent, OrganizationState,
};
use ledger_domain::text::{
    KeyName, KeyPrefix, ModelName, OrganizationName, PaymentReference, ProviderName, SecretHash,
};
use ledger_domain::user::{EmailVerified, UserEvent, UserRegistered, UserState};
use ledger_domain::{
    AccountId, Caller, Credits, Decision, DomainError, Email, Event, GenerationId, HoldId,
    InvitationId, KeyId, LimitPeriod, OrganizationId, Role, StaffId, UserId,
};

pub const ALICE: UserId = UserId::from_u128(0xA11CE); // creator, admin of ORG
pub const BOB: UserId = UserId::from_u128(0xB0B); // member of ORG
pub const CAROL: UserId = UserId::from_u128(0xCA201); // not a member
pub const DAVE: UserId = UserId::from_u128(0xDA7E); // member of ORG, owns PERSONAL
pub const ORG: OrganizationId = OrganizationId::from_u128(0x0126);
pub const ORG_ACCOUNT: AccountId = AccountId::from_u128(0x0A0126);
pub const PERSONAL: AccountId = AccountId::from_u128(0x0ADA7E);
pub const CAROL_ACCOUNT: AccountId = AccountId::from_u128(0x0ACA201);
pub const STAFF: StaffId = StaffId::from_u128(0x57AF);
pub const KEY_ALICE: KeyId = KeyId::from_u128(0x1);
pub const KEY_BOB: KeyId = KeyId::from_u128(0x2);
pub const KEY_DAVE: KeyId = KeyId::from_u128(0x3);
pub const HOLD: HoldId = HoldId::from_u128(0x401D);

/// 2026-01-05 (a Monday) 00:00 UTC plus `hours`.
pub fn t(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap() + Duration::hours(hours)
}

pub fn dashboard(user: UserId) -> Caller {
    Caller::Dashboard { user }
}

pub fn support() -> Caller {
    Caller::Support { staff: STAFF }
}

pub fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

pub fn credits(text: &str) -> Credits {
    Credits::purchase(text).unwrap()
}

pub fn cost(text: &str) -> Credits {
    Credits::usage_cost(text).unwrap()
}

pub fn denied(denial: ledger_domain::Denial) -> DomainError {
    DomainError::Denied(denial)
}

// ---- users ----

pub fn user_events(user: UserId, account: AccountId, verified: bool) -> Vec<UserEvent> {
    let mut events = vec![UserEvent::Registered(UserRegistered {
        user_id: user,
        personal_account_id: account,
        at: t(0),
    })];
    if verified {
        events.push(UserEvent::EmailVerified(EmailVerified {
            user_id: user,
            at: t(0),
        }));
    }
    events
}

pub fn user_state(user: UserId, verified: bool) -> UserState {
    UserState::from_events(&user_events(
        user,
        AccountId::from_u128(user.as_uuid().as_u128() + 1),
        verified,
    ))
}

// ---- organizations ----

pub fn invited(invitation: u128, role: Role, at: DateTime<Utc>) -> OrganizationEvent {
    OrganizationEvent::MemberInvited(MemberInvited {
        organization_id: ORG,
        invitation_id: InvitationId::from_u128(invitation),
        role,
        invited_by: ALICE,
        expires_at: at + Duration::days(7),
        at,
    })
}

pub fn joined(invitation: u128, user: UserId, role: Role) -> OrganizationEvent {
    OrganizationEvent::InvitationAccepted(InvitationAccepted {
        organization_id: ORG,
        invitation_id: InvitationId::from_u128(invitation),
        user_id: user,
        role,
        at: t(0),
    })
}

/// ORG created by ALICE (admin), with BOB and DAVE as members.
pub fn org_events() -> Vec<OrganizationEvent> {
    vec![
        OrganizationEvent::Created(OrganizationCreated {
            organization_id: ORG,
            account_id: ORG_ACCOUNT,
            created_by: ALICE,
            name: OrganizationName::parse("Acme").unwrap(),
            details: None,
            at: t(0),
        }),
        invited(0xB, Role::Member, t(0)),
        joined(0xB, BOB, Role::Member),
        invited(0xD, Role::Member, t(0)),
        joined(0xD, DAVE, Role::Member),
    ]
}

pub fn org_state() -> OrganizationState {
    OrganizationState::from_events(&org_events())
}

pub fn org_with(extra: Vec<OrganizationEvent>) -> OrganizationState {
    let mut events = org_events();
    events.extend(extra);
    OrganizationState::from_events(&events)
}

// ---- accounts ----

pub fn opened(account: AccountId, owner: AccountOwner) -> AccountEvent {
    AccountEvent::Opened(AccountOpened {
        account_id: account,
        owner,
        at: t(0),
    })
}

pub fn org_account() -> Vec<AccountEvent> {
    vec![opened(
        ORG_ACCOUNT,
        AccountOwner::Organization {
            organization_id: ORG,
        },
    )]
}

pub fn personal_account() -> Vec<AccountEvent> {
    vec![opened(PERSONAL, AccountOwner::User { user_id: DAVE })]
}

pub fn purchased(account: AccountId, amount: &str, by: UserId) -> AccountEvent {
    AccountEvent::CreditsPurchased(CreditsPurchased {
        account_id: account,
        amount: credits(amount),
        payment_reference: PaymentReference::parse("pi_123").unwrap(),
        purchased_by: by,
        at: t(0),
    })
}

pub fn key_created(
    account: AccountId,
    key: KeyId,
    by: UserId,
    limit: Option<KeyLimit>,
) -> AccountEvent {
    AccountEvent::KeyCreated(KeyCreated {
        account_id: account,
        key_id: key,
        created_by: by,
        name: KeyName::parse("prod-backend").unwrap(),
        secret_hash: SecretHash::parse(&format!("{:064x}", key.as_uuid().as_u128())).unwrap(),
        prefix: KeyPrefix::parse("ar-1234").unwrap(),
        limit,
        expires_at: None,
        at: t(0),
    })
}

/// `key_disabled` on the organization account; `cause` as stored (`"manual"`, `"creator_left"`).
pub fn key_disabled(key: KeyId, cause: &str, by: UserId, at: DateTime<Utc>) -> AccountEvent {
    AccountEvent::KeyDisabled(KeyDisabled {
        account_id: ORG_ACCOUNT,
        key_id: key,
        cause: serde_json::from_value(serde_json::json!(cause)).unwrap(),
        by,
        at,
    })
}

/// `key_deleted` on the organization account.
pub fn key_deleted(key: KeyId, by: UserId, at: DateTime<Utc>) -> AccountEvent {
    AccountEvent::KeyDeleted(KeyChanged {
        account_id: ORG_ACCOUNT,
        key_id: key,
        by,
        at,
    })
}

pub fn limit(amount: &str, reset: LimitPeriod) -> Option<KeyLimit> {
    Some(KeyLimit {
        amount: Credits::key_limit(amount).unwrap(),
        reset,
    })
}

pub fn hold_placed(
    account: AccountId,
    hold: HoldId,
    key: KeyId,
    estimate: &str,
    at: DateTime<Utc>,
) -> AccountEvent {
    AccountEvent::HoldPlaced(HoldPlaced {
        account_id: account,
        hold_id: hold,
        key_id: key,
        estimate: cost(estimate),
        expires_at: at + Duration::seconds(60),
        at,
    })
}

/// The org account with 100 credits and keys of ALICE (admin) and BOB (member).
pub fn funded_org_account() -> Vec<AccountEvent> {
    let mut events = org_account();
    events.push(purchased(ORG_ACCOUNT, "100", ALICE));
    events.push(key_created(ORG_ACCOUNT, KEY_ALICE, ALICE, None));
    events.push(key_created(ORG_ACCOUNT, KEY_BOB, BOB, None));
    events
}

/// [`funded_org_account`], then `events`.
pub fn funded_org_account_and(events: impl IntoIterator<Item = AccountEvent>) -> Vec<AccountEvent> {
    let mut given = funded_org_account();
    given.extend(events);
    given
}

pub fn usage(generation: &str, amount: &str) -> UsageReport {
    UsageReport {
        generation_id: GenerationId::parse(generation).unwrap(),
        model: ModelName::parse("gpt-x").unwrap(),
        provider: ProviderName::parse("openai").unwrap(),
        tokens: Tokens {
            prompt: 100,
            completion: 50,
            reasoning: 0,
            cached: 10,
        },
        cost: cost(amount),
        latency_ms: 900,
        time_to_first_token_ms: Some(120),
        status: UsageStatus::Success,
        started_at: t(0),
        finished_at: t(0) + Duration::milliseconds(900),
    }
}

// ---- given / when / then ----

/// Given these account events (and ORG's state), when `caller` sends `command`: the events
/// decided for the account stream.
pub fn when_account(
    given: &[AccountEvent],
    caller: Caller,
    command: AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    when_account_in(given, &org_state(), caller, command)
}

/// As [`when_account`] with a chosen organization state.
pub fn when_account_in(
    given: &[AccountEvent],
    org: &OrganizationState,
    caller: Caller,
    command: AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    let state = AccountState::from_events(given);
    let decision = account::decide(&state, Some(org), &caller, &command)?;
    let mut state = state;
    let events = account_events(&decision);
    for event in &events {
        state.evolve(event); // every decided event must fold
    }
    Ok(events)
}

/// A decision's organization and account events.
pub fn split(decision: &Decision) -> (Vec<OrganizationEvent>, Vec<AccountEvent>) {
    let (mut organization, mut account) = (Vec::new(), Vec::new());
    for event in decision.events() {
        match event {
            Event::Organization(e) => organization.push(e.clone()),
            Event::Account(e) => account.push(e.clone()),
            Event::User(_) => {}
        }
    }
    (organization, account)
}

pub fn account_events(decision: &Decision) -> Vec<AccountEvent> {
    split(decision).1
}

pub fn org_events_of(decision: &Decision) -> Vec<OrganizationEvent> {
    split(decision).0
}
