//! Given / when / then: the notices a decision causes (low balance, key limit reached, budget
//! thresholds, invitations, removals), derived from its events and the accounts before it.

use crate::support::*;
use ledger_domain::account::{
    self, AccountCommand, AccountEvent, AccountState, LowBalanceThresholdSet,
};
use ledger_domain::notice::{Notice, notices};
use ledger_domain::organization::{self, OrganizationCommand, RemoveMember};
use ledger_domain::{
    Caller, Decision, Denial, DomainError, InvitationId, KeyId, LimitPeriod, Role,
};
use rust_decimal::Decimal;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn threshold_set(amount: &str) -> AccountEvent {
    AccountEvent::LowBalanceThresholdSet(LowBalanceThresholdSet {
        account_id: ORG_ACCOUNT,
        threshold: Some(credits(amount)),
        by: ALICE,
        at: t(0),
    })
}

fn set_threshold(amount: Option<&str>) -> AccountCommand {
    AccountCommand::SetLowBalanceThreshold {
        threshold: amount.map(credits),
        at: t(1),
    }
}

fn record(key: KeyId, generation: &str, amount: &str) -> AccountCommand {
    AccountCommand::RecordUsage {
        key_id: key,
        usage: usage(generation, amount),
        at: t(1),
    }
}

/// Decides `command` by `caller` on the account `given` leaves, and returns its notices with
/// the account's events folded in (for the next step).
fn when(given: &mut AccountState, caller: Caller, command: AccountCommand) -> Vec<Notice> {
    let decision = account::decide(given, Some(&org_state()), &caller, &command).unwrap();
    let found = notices(&decision, &[given]);
    for event in account_events(&decision) {
        given.evolve(&event);
    }
    found
}

fn low_balance(threshold: &str, balance: &str) -> Notice {
    Notice::LowBalance {
        account_id: ORG_ACCOUNT,
        threshold: credits(threshold),
        balance: dec(balance),
    }
}

// ---- low balance ----

#[test]
fn usage_that_takes_the_balance_below_the_threshold_is_noticed_once() {
    let mut state = AccountState::from_events(&funded_org_account_and([threshold_set("50")]));
    assert_eq!(
        when(&mut state, Caller::Gateway, record(KEY_BOB, "g1", "40")),
        vec![],
        "60 left: not below 50"
    );
    assert_eq!(
        when(&mut state, Caller::Gateway, record(KEY_BOB, "g2", "10.5")),
        vec![low_balance("50", "49.5")]
    );
    assert_eq!(
        when(&mut state, Caller::Gateway, record(KEY_BOB, "g3", "1")),
        vec![],
        "already below: not noticed again"
    );
}

#[test]
fn a_balance_lifted_above_the_threshold_and_falling_again_is_noticed_again() {
    let mut state = AccountState::from_events(&funded_org_account_and([threshold_set("50")]));
    when(&mut state, Caller::Gateway, record(KEY_BOB, "g1", "60"));
    let purchase = AccountCommand::PurchaseCredits {
        amount: credits("100"),
        payment_reference: ledger_domain::text::PaymentReference::parse("pay-2").unwrap(),
        at: t(1),
    };
    assert_eq!(when(&mut state, dashboard(ALICE), purchase), vec![]);
    assert_eq!(
        when(&mut state, Caller::Gateway, record(KEY_BOB, "g2", "100")),
        vec![low_balance("50", "40")]
    );
}

#[test]
fn an_admin_setting_a_threshold_above_the_balance_is_noticed_at_once() {
    let mut state = AccountState::from_events(&funded_org_account());
    assert_eq!(
        when(&mut state, dashboard(ALICE), set_threshold(Some("20"))),
        vec![],
        "100 is not below 20"
    );
    assert_eq!(
        when(&mut state, dashboard(ALICE), set_threshold(Some("150"))),
        vec![low_balance("150", "100")]
    );
    assert_eq!(
        when(&mut state, dashboard(ALICE), set_threshold(None)),
        vec![]
    );
    assert_eq!(
        state.account.unwrap().spending.low_balance_threshold,
        None,
        "cleared"
    );
}

#[test]
fn only_an_admin_sets_the_low_balance_threshold() {
    let state = AccountState::from_events(&funded_org_account());
    let refused = account::decide(
        &state,
        Some(&org_state()),
        &dashboard(BOB),
        &set_threshold(Some("10")),
    );
    assert_eq!(refused, Err(denied(Denial::AdminsOnly)));
    let refused = account::decide(
        &state,
        Some(&org_state()),
        &Caller::Gateway,
        &set_threshold(None),
    );
    assert!(
        matches!(refused, Err(DomainError::Denied(_))),
        "{refused:?}"
    );
}

#[test]
fn an_account_without_threshold_or_limits_causes_no_notice() {
    let mut state = AccountState::from_events(&funded_org_account());
    assert_eq!(
        when(&mut state, Caller::Gateway, record(KEY_BOB, "g1", "99")),
        vec![]
    );
}

// ---- key limits ----

#[test]
fn usage_that_reaches_a_keys_limit_is_noticed_once_per_period() {
    const LIMITED: KeyId = KeyId::from_u128(0x77);
    let mut state = AccountState::from_events(&funded_org_account_and([key_created(
        ORG_ACCOUNT,
        LIMITED,
        BOB,
        limit("10", LimitPeriod::Daily),
    )]));
    assert_eq!(
        when(&mut state, Caller::Gateway, record(LIMITED, "g1", "6")),
        vec![]
    );
    assert_eq!(
        when(&mut state, Caller::Gateway, record(LIMITED, "g2", "4")),
        vec![Notice::KeyLimitReached {
            account_id: ORG_ACCOUNT,
            key_id: LIMITED,
            created_by: BOB,
            limit: limit("10", LimitPeriod::Daily).unwrap(),
            spent: dec("10"),
        }]
    );
    assert_eq!(
        when(&mut state, Caller::Gateway, record(LIMITED, "g3", "1")),
        vec![],
        "past the limit already"
    );
    let next_day = AccountCommand::RecordUsage {
        key_id: LIMITED,
        usage: usage("g4", "12"),
        at: t(25),
    };
    assert_eq!(
        when(&mut state, Caller::Gateway, next_day).len(),
        1,
        "a new period reaches it anew"
    );
}

#[test]
fn a_settlement_that_reaches_a_keys_limit_is_noticed() {
    const LIMITED: KeyId = KeyId::from_u128(0x78);
    let hold = ledger_domain::HoldId::from_u128(0x99);
    let mut state = AccountState::from_events(&funded_org_account_and([
        key_created(
            ORG_ACCOUNT,
            LIMITED,
            ALICE,
            limit("5", LimitPeriod::Lifetime),
        ),
        hold_placed(ORG_ACCOUNT, hold, LIMITED, "5", t(1)),
    ]));
    let settle = AccountCommand::SettleHold {
        hold_id: hold,
        usage: usage("g1", "5"),
        at: t(1),
    };
    let found = when(&mut state, Caller::Gateway, settle);
    assert!(
        matches!(found.as_slice(), [Notice::KeyLimitReached { key_id, spent, .. }] if *key_id == LIMITED && *spent == dec("5")),
        "{found:?}"
    );
}

// ---- events that are notices ----

#[test]
fn the_budget_thresholds_become_notices() {
    let mut state = AccountState::from_events(&funded_org_account());
    let budget = AccountCommand::SetBudget {
        budget: limit("10", LimitPeriod::Monthly),
        at: t(1),
    };
    when(&mut state, dashboard(ALICE), budget);
    let found = when(&mut state, Caller::Gateway, record(KEY_BOB, "g1", "10"));
    let percents: Vec<u8> = found
        .iter()
        .map(|notice| match notice {
            Notice::BudgetThresholdReached {
                threshold_percent, ..
            } => *threshold_percent,
            other => panic!("not a budget notice: {other:?}"),
        })
        .collect();
    assert_eq!(percents, vec![80, 100]);
}

#[test]
fn an_invitation_is_noticed_without_the_invitees_email() {
    let invite = OrganizationCommand::InviteMember {
        invitation_id: InvitationId::from_u128(0xC),
        email: email("carol@example.com"),
        role: Role::Member,
        expires_in_s: None,
        at: t(1),
    };
    let decision = organization::decide(&org_state(), &dashboard(ALICE), &invite).unwrap();
    let found = notices(&decision, &[]);
    assert!(
        matches!(found.as_slice(), [Notice::InvitationCreated { invitation_id, role: Role::Member, invited_by, .. }]
            if *invitation_id == InvitationId::from_u128(0xC) && *invited_by == ALICE),
        "{found:?}"
    );
    let stored = serde_json::to_string(&found[0]).unwrap();
    assert!(!stored.contains("carol"), "{stored}");
    assert_eq!(found[0].kind(), "invitation_created");
}

/// ORG's account with BOB's active key and a deleted one.
fn account_with_keys() -> AccountState {
    let mut events = funded_org_account();
    events.push(key_created(ORG_ACCOUNT, KEY_DAVE, BOB, None));
    events.push(key_deleted(KEY_DAVE, BOB, t(0)));
    AccountState::from_events(&events)
}

#[test]
fn a_removal_is_noticed_with_the_keys_it_disabled() {
    let account = account_with_keys();
    let remove = RemoveMember {
        user_id: BOB,
        at: t(1),
    };
    let decision: Decision =
        organization::remove_member(&org_state(), &account, &dashboard(ALICE), &remove).unwrap();
    assert_eq!(
        notices(&decision, &[&account]),
        vec![Notice::MemberRemoved {
            organization_id: ORG,
            user_id: BOB,
            removed_by: ALICE,
            account_id: Some(ORG_ACCOUNT),
            disabled_keys: vec![KEY_BOB],
        }]
    );
}

#[test]
fn a_member_who_leaves_is_not_a_removal() {
    let account = account_with_keys();
    let leave = organization::LeaveOrganization { at: t(1) };
    let decision = organization::leave(&org_state(), &account, &dashboard(BOB), &leave).unwrap();
    assert_eq!(notices(&decision, &[&account]), vec![]);
}

// ---- property: one low-balance notice per downward crossing ----

/// A step of the property: a purchase (`true`) or a recorded usage, in cents.
fn step() -> impl proptest::strategy::Strategy<Value = (bool, u32)> {
    use proptest::prelude::*;
    (any::<bool>(), 1..5_000u32)
}

fn cents(n: u32) -> String {
    format!("{}.{:02}", n / 100, n % 100)
}

proptest::proptest! {
    #[test]
    fn a_low_balance_notice_comes_exactly_when_the_balance_crosses_below_the_threshold(
        steps in proptest::collection::vec(step(), 1..40),
        threshold_cents in 1..20_000u32,
    ) {
        let mut state = AccountState::from_events(&funded_org_account_and([threshold_set(
            &cents(threshold_cents),
        )]));
        // The balance as a plain running sum, in cents: 100 credits to start.
        let threshold = i64::from(threshold_cents);
        let mut balance: i64 = 10_000;
        for (n, (purchase, amount)) in steps.into_iter().enumerate() {
            let command = if purchase {
                AccountCommand::PurchaseCredits {
                    amount: credits(&cents(amount)),
                    payment_reference: ledger_domain::text::PaymentReference::parse(&format!(
                        "pay-{n}"
                    ))
                    .unwrap(),
                    at: t(1),
                }
            } else {
                record(KEY_BOB, &format!("g{n}"), &cents(amount))
            };
            let caller = if purchase { dashboard(ALICE) } else { Caller::Gateway };
            let before = balance;
            balance += if purchase { i64::from(amount) } else { -i64::from(amount) };
            let crossed = before >= threshold && balance < threshold;
            let found = when(&mut state, caller, command);
            let expected = if crossed {
                vec![low_balance(&cents(threshold_cents), &{
                    let sign = if balance < 0 { "-" } else { "" };
                    let abs = balance.unsigned_abs();
                    format!("{sign}{}.{:02}", abs / 100, abs % 100)
                })]
            } else {
                vec![]
            };
            proptest::prop_assert_eq!(found, expected, "step {}", n);
        }
    }
}
