//! Given / when / then: spending controls of an organization account (budget, member caps,
//! default key limit) and the budget's threshold notices; and a property: holds never take a
//! period's spend beyond the budget or a member's cap.

use crate::support::*;
use chrono::NaiveDate;
use ledger_domain::account::{
    AccountCommand, AccountEvent, AccountState, BudgetSet, BudgetThresholdReached,
    DefaultKeyLimitSet, HoldSettled, KeyLimit, MemberSpendCapSet, UsageRecorded,
};
use ledger_domain::{Caller, Denial, DomainError, Field, HoldId, KeyId, LimitPeriod, UserId};
use proptest::prelude::*;
use rust_decimal::Decimal;

const KEY_BOB_2: KeyId = KeyId::from_u128(0x22);

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn budget_set(amount: &str, reset: LimitPeriod) -> AccountEvent {
    AccountEvent::BudgetSet(BudgetSet {
        account_id: ORG_ACCOUNT,
        budget: limit(amount, reset),
        by: ALICE,
        at: t(0),
    })
}

fn cap_set(member: UserId, amount: &str, reset: LimitPeriod) -> AccountEvent {
    AccountEvent::MemberSpendCapSet(MemberSpendCapSet {
        account_id: ORG_ACCOUNT,
        member,
        cap: limit(amount, reset),
        by: ALICE,
        at: t(0),
    })
}

fn default_set(amount: &str, reset: LimitPeriod) -> AccountEvent {
    AccountEvent::DefaultKeyLimitSet(DefaultKeyLimitSet {
        account_id: ORG_ACCOUNT,
        limit: limit(amount, reset),
        by: ALICE,
        at: t(0),
    })
}

fn recorded(key: KeyId, by: UserId, generation: &str, amount: &str, at_hours: i64) -> AccountEvent {
    AccountEvent::UsageRecorded(UsageRecorded {
        account_id: ORG_ACCOUNT,
        usage: usage(generation, amount).into_usage(key, by),
        at: t(at_hours),
    })
}

fn place(hold: u128, key: KeyId, estimate: &str, at_hours: i64) -> AccountCommand {
    AccountCommand::PlaceHold {
        hold_id: HoldId::from_u128(hold),
        key_id: key,
        estimate: cost(estimate),
        ttl_s: 60,
        at: t(at_hours),
    }
}

fn record(key: KeyId, generation: &str, amount: &str, at_hours: i64) -> AccountCommand {
    AccountCommand::RecordUsage {
        key_id: key,
        usage: usage(generation, amount),
        at: t(at_hours),
    }
}

fn set_budget(amount: &str, reset: LimitPeriod) -> AccountCommand {
    AccountCommand::SetBudget {
        budget: limit(amount, reset),
        at: t(1),
    }
}

fn create_key(key: KeyId, asked: Option<KeyLimit>) -> AccountCommand {
    AccountCommand::CreateKey {
        key_id: key,
        name: ledger_domain::text::KeyName::parse("k").unwrap(),
        secret_hash: ledger_domain::text::SecretHash::parse(&format!("{:064x}", 0xfeed)).unwrap(),
        prefix: ledger_domain::text::KeyPrefix::parse("ar-feed").unwrap(),
        limit: asked,
        expires_at: None,
        at: t(1),
    }
}

fn created_limit(events: &[AccountEvent]) -> Option<KeyLimit> {
    match events {
        [AccountEvent::KeyCreated(k)] => k.limit,
        other => panic!("expected one key_created, got {other:?}"),
    }
}

fn notice(threshold_percent: u8, spent: &str, at_hours: i64) -> AccountEvent {
    AccountEvent::BudgetThresholdReached(BudgetThresholdReached {
        account_id: ORG_ACCOUNT,
        threshold_percent,
        period: LimitPeriod::Monthly,
        period_start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        budget: credits("10"),
        spent: dec(spent),
        at: t(at_hours),
    })
}

/// The funded org account (100 credits; keys of ALICE and BOB, and a second key of BOB).
fn given(events: impl IntoIterator<Item = AccountEvent>) -> Vec<AccountEvent> {
    let mut given = funded_org_account();
    given.push(key_created(ORG_ACCOUNT, KEY_BOB_2, BOB, None));
    given.extend(events);
    given
}

// ---- setting the controls ----

#[test]
fn an_admin_sets_the_organization_budget_and_clears_it() {
    assert_eq!(
        when_account(
            &given([]),
            dashboard(ALICE),
            set_budget("10", LimitPeriod::Monthly)
        ),
        Ok(vec![AccountEvent::BudgetSet(BudgetSet {
            account_id: ORG_ACCOUNT,
            budget: limit("10", LimitPeriod::Monthly),
            by: ALICE,
            at: t(1),
        })])
    );
    let clear = AccountCommand::SetBudget {
        budget: None,
        at: t(1),
    };
    let cleared = when_account(
        &given([budget_set("10", LimitPeriod::Daily)]),
        dashboard(ALICE),
        clear,
    );
    assert!(matches!(
        cleared.as_deref(),
        Ok([AccountEvent::BudgetSet(BudgetSet { budget: None, .. })])
    ));
}

#[test]
fn only_an_organization_admin_sets_spending_controls() {
    let commands = [
        set_budget("10", LimitPeriod::Monthly),
        AccountCommand::SetMemberSpendCap {
            member: BOB,
            cap: limit("5", LimitPeriod::Daily),
            at: t(1),
        },
        AccountCommand::SetDefaultKeyLimit {
            limit: limit("5", LimitPeriod::Daily),
            at: t(1),
        },
    ];
    for command in commands {
        assert_eq!(
            when_account(&given([]), dashboard(BOB), command.clone()),
            Err(denied(Denial::AdminsOnly))
        );
        assert_eq!(
            when_account(&given([]), dashboard(CAROL), command.clone()),
            Err(denied(Denial::NotAMember))
        );
        assert!(matches!(
            when_account(&given([]), support(), command.clone()),
            Err(DomainError::Denied(Denial::CallerKindNotAllowed { .. }))
        ));
        let mut personal = personal_account();
        personal.push(purchased(PERSONAL, "10", DAVE));
        assert_eq!(
            when_account(&personal, dashboard(DAVE), command),
            Err(denied(Denial::WrongResource)),
            "a personal account has no spending controls"
        );
    }
}

#[test]
fn a_budget_or_cap_resets_daily_weekly_or_monthly_never_lifetime() {
    assert!(matches!(
        when_account(
            &given([]),
            dashboard(ALICE),
            set_budget("10", LimitPeriod::Lifetime)
        ),
        Err(DomainError::InvalidInput {
            field: Field::Budget,
            ..
        })
    ));
    let cap = AccountCommand::SetMemberSpendCap {
        member: BOB,
        cap: limit("5", LimitPeriod::Lifetime),
        at: t(1),
    };
    assert!(matches!(
        when_account(&given([]), dashboard(ALICE), cap),
        Err(DomainError::InvalidInput {
            field: Field::SpendCap,
            ..
        })
    ));
}

#[test]
fn only_a_member_can_be_capped_and_anyone_uncapped() {
    let cap = |member, cap| AccountCommand::SetMemberSpendCap {
        member,
        cap,
        at: t(1),
    };
    assert_eq!(
        when_account(
            &given([]),
            dashboard(ALICE),
            cap(CAROL, limit("5", LimitPeriod::Daily))
        ),
        Err(DomainError::MemberNotFound(CAROL))
    );
    assert!(when_account(&given([]), dashboard(ALICE), cap(CAROL, None)).is_ok());
    assert!(
        when_account(
            &given([]),
            dashboard(ALICE),
            cap(ALICE, limit("5", LimitPeriod::Daily))
        )
        .is_ok()
    );
}

// ---- the budget ----

#[test]
fn a_hold_beyond_the_budget_counting_the_periods_spend_and_open_holds_is_refused_with_its_own_reason()
 {
    let given = given([
        budget_set("10", LimitPeriod::Monthly),
        recorded(KEY_ALICE, ALICE, "g1", "4", 1),
        hold_placed(ORG_ACCOUNT, HoldId::from_u128(7), KEY_BOB, "3", t(1)),
    ]);
    assert_eq!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB_2, "3.01", 2)),
        Err(DomainError::OrgBudgetReached {
            remaining: dec("3"),
            requested: dec("3.01"),
        })
    );
    assert!(when_account(&given, Caller::Gateway, place(1, KEY_BOB_2, "3", 2)).is_ok());
    // February is a new period; the open hold still counts.
    let february = 27 * 24;
    assert!(when_account(&given, Caller::Gateway, place(1, KEY_BOB, "7", february)).is_ok());
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB, "7.01", february)),
        Err(DomainError::OrgBudgetReached { .. })
    ));
}

#[test]
fn insufficient_credits_and_the_key_limit_are_refused_before_the_budget() {
    let mut given = given([budget_set("1", LimitPeriod::Daily)]);
    given.push(key_created(
        ORG_ACCOUNT,
        KeyId::from_u128(0x99),
        BOB,
        limit("1", LimitPeriod::Daily),
    ));
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB, "101", 1)),
        Err(DomainError::InsufficientAvailableBalance { .. })
    ));
    assert!(matches!(
        when_account(
            &given,
            Caller::Gateway,
            place(1, KeyId::from_u128(0x99), "2", 1)
        ),
        Err(DomainError::KeyLimitExceeded { .. })
    ));
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB, "2", 1)),
        Err(DomainError::OrgBudgetReached { .. })
    ));
}

#[test]
fn usage_without_a_hold_is_accepted_beyond_the_budget_and_then_holds_are_refused() {
    let given = given([budget_set("10", LimitPeriod::Daily)]);
    let events = when_account(&given, Caller::Gateway, record(KEY_BOB, "g1", "12", 1)).unwrap();
    let mut after = given.clone();
    after.extend(events);
    assert_eq!(
        when_account(&after, Caller::Gateway, place(1, KEY_ALICE, "0.01", 2)),
        Err(DomainError::OrgBudgetReached {
            remaining: dec("-2"),
            requested: dec("0.01"),
        })
    );
}

// ---- member caps ----

#[test]
fn a_members_cap_covers_every_key_the_member_created_and_no_one_elses() {
    let given = given([
        cap_set(BOB, "5", LimitPeriod::Weekly),
        recorded(KEY_BOB, BOB, "g1", "2", 1),
        hold_placed(ORG_ACCOUNT, HoldId::from_u128(7), KEY_BOB_2, "2", t(1)),
    ]);
    assert_eq!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB_2, "1.5", 2)),
        Err(DomainError::MemberSpendCapReached {
            member: BOB,
            remaining: dec("1"),
            requested: dec("1.5"),
        })
    );
    assert!(when_account(&given, Caller::Gateway, place(1, KEY_BOB, "1", 2)).is_ok());
    assert!(when_account(&given, Caller::Gateway, place(1, KEY_ALICE, "50", 2)).is_ok());
    // The next ISO week (Monday 2026-01-12) starts a new period.
    assert!(when_account(&given, Caller::Gateway, place(1, KEY_BOB, "3", 7 * 24)).is_ok());
}

#[test]
fn a_cap_is_checked_before_the_budget() {
    let given = given([
        budget_set("1", LimitPeriod::Daily),
        cap_set(BOB, "1", LimitPeriod::Daily),
    ]);
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(1, KEY_BOB, "2", 1)),
        Err(DomainError::MemberSpendCapReached { .. })
    ));
}

// ---- the default key limit ----

#[test]
fn a_members_key_created_without_a_limit_gets_the_default() {
    let given = given([default_set("20", LimitPeriod::Monthly)]);
    let events = when_account(
        &given,
        dashboard(BOB),
        create_key(KeyId::from_u128(0x50), None),
    )
    .unwrap();
    assert_eq!(created_limit(&events), limit("20", LimitPeriod::Monthly));
}

#[test]
fn a_member_cannot_create_a_key_above_the_default() {
    let given = given([default_set("20", LimitPeriod::Weekly)]);
    let create = |asked| {
        when_account(
            &given,
            dashboard(BOB),
            create_key(KeyId::from_u128(0x50), asked),
        )
    };
    let above = Err(DomainError::KeyLimitAboveDefault {
        amount: dec("20"),
        period: LimitPeriod::Weekly,
    });
    assert_eq!(create(limit("20.01", LimitPeriod::Weekly)), above);
    // A daily 20 can spend 140 a week; a monthly 20 can spend 20 in each of two weeks.
    assert_eq!(create(limit("20", LimitPeriod::Daily)), above);
    assert_eq!(create(limit("20", LimitPeriod::Monthly)), above);
    for within in [
        limit("20", LimitPeriod::Weekly),
        limit("5", LimitPeriod::Lifetime),
    ] {
        assert_eq!(created_limit(&create(within).unwrap()), within);
    }
}

#[test]
fn under_a_daily_default_a_key_with_a_smaller_amount_over_any_period_is_within() {
    let given = given([default_set("10", LimitPeriod::Daily)]);
    for period in [
        LimitPeriod::Daily,
        LimitPeriod::Weekly,
        LimitPeriod::Monthly,
        LimitPeriod::Lifetime,
    ] {
        let asked = limit("10", period);
        let events = when_account(
            &given,
            dashboard(BOB),
            create_key(KeyId::from_u128(0x50), asked),
        );
        assert_eq!(created_limit(&events.unwrap()), asked, "{period:?}");
    }
}

#[test]
fn admins_are_not_bound_by_the_default_key_limit() {
    let given = given([default_set("20", LimitPeriod::Monthly)]);
    let unlimited = when_account(
        &given,
        dashboard(ALICE),
        create_key(KeyId::from_u128(0x50), None),
    );
    assert_eq!(created_limit(&unlimited.unwrap()), None);
    let above = limit("500", LimitPeriod::Daily);
    let created = when_account(
        &given,
        dashboard(ALICE),
        create_key(KeyId::from_u128(0x50), above),
    );
    assert_eq!(created_limit(&created.unwrap()), above);
    let change = AccountCommand::ChangeKeyLimit {
        key_id: KEY_BOB,
        limit: None,
        at: t(1),
    };
    assert!(when_account(&given, dashboard(ALICE), change).is_ok());
}

#[test]
fn a_member_cannot_raise_or_remove_their_keys_limit_beyond_the_default() {
    let given = given([default_set("20", LimitPeriod::Monthly)]);
    let change = |limit| AccountCommand::ChangeKeyLimit {
        key_id: KEY_BOB,
        limit,
        at: t(1),
    };
    for refused in [None, limit("21", LimitPeriod::Monthly)] {
        assert!(matches!(
            when_account(&given, dashboard(BOB), change(refused)),
            Err(DomainError::KeyLimitAboveDefault { .. })
        ));
    }
    assert!(
        when_account(
            &given,
            dashboard(BOB),
            change(limit("15", LimitPeriod::Monthly))
        )
        .is_ok()
    );
}

// ---- budget notices ----

#[test]
fn the_usage_that_reaches_80_percent_of_the_budget_notices_it_once() {
    let given = given([
        budget_set("10", LimitPeriod::Monthly),
        recorded(KEY_BOB, BOB, "g1", "7", 1),
    ]);
    let events = when_account(&given, Caller::Gateway, record(KEY_BOB, "g2", "1", 2)).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], notice(80, "8", 2));
    let mut after = given.clone();
    after.extend(events);
    let again = when_account(&after, Caller::Gateway, record(KEY_BOB, "g3", "1", 3)).unwrap();
    assert_eq!(again.len(), 1, "80 % is noticed once per period: {again:?}");
    after.extend(again);
    let full = when_account(&after, Caller::Gateway, record(KEY_BOB, "g4", "1", 4)).unwrap();
    assert_eq!(full[1..], [notice(100, "10", 4)]);
}

#[test]
fn a_settlement_that_jumps_past_both_thresholds_notices_both() {
    let given = given([
        budget_set("10", LimitPeriod::Monthly),
        hold_placed(ORG_ACCOUNT, HoldId::from_u128(7), KEY_BOB, "5", t(1)),
    ]);
    let settle = AccountCommand::SettleHold {
        hold_id: HoldId::from_u128(7),
        usage: usage("g1", "12"),
        at: t(2),
    };
    let events = when_account(&given, Caller::Gateway, settle).unwrap();
    assert!(matches!(
        events[0],
        AccountEvent::HoldSettled(HoldSettled { .. })
    ));
    assert_eq!(events[1..], [notice(80, "12", 2), notice(100, "12", 2)]);
}

#[test]
fn a_new_period_or_a_new_budget_notices_again() {
    let mut given = given([
        budget_set("10", LimitPeriod::Monthly),
        recorded(KEY_BOB, BOB, "g1", "9", 1),
    ]);
    given.push(notice(80, "9", 1));
    let february = 27 * 24;
    let next = when_account(
        &given,
        Caller::Gateway,
        record(KEY_BOB, "g2", "8", february),
    )
    .unwrap();
    assert!(matches!(
        &next[1..],
        [AccountEvent::BudgetThresholdReached(BudgetThresholdReached { threshold_percent: 80, period_start, .. })]
            if *period_start == NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
    ));
    // Lowering the budget below the period's spend notices at once, in the same decision.
    let lowered = when_account(
        &given,
        dashboard(ALICE),
        set_budget("9", LimitPeriod::Monthly),
    )
    .unwrap();
    let thresholds: Vec<u8> = lowered
        .iter()
        .filter_map(|e| match e {
            AccountEvent::BudgetThresholdReached(n) => Some(n.threshold_percent),
            _ => None,
        })
        .collect();
    assert_eq!(thresholds, [80, 100]);
}

// ---- property: holds never overshoot the budget or a cap ----

#[derive(Debug, Clone)]
enum Op {
    Place { key: u8, cents: u32 },
    Settle { hold: u8, cents: u32 },
    Void { hold: u8 },
    Record { key: u8, cents: u32 },
    Advance { hours: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..400u32).prop_map(|(key, cents)| Op::Place { key, cents }),
        2 => (0..40u8, 0..400u32).prop_map(|(hold, cents)| Op::Settle { hold, cents }),
        1 => (0..40u8).prop_map(|hold| Op::Void { hold }),
        1 => (0..3u8, 0..200u32).prop_map(|(key, cents)| Op::Record { key, cents }),
        1 => (0..48u8).prop_map(|hours| Op::Advance { hours }),
    ]
}

fn money(cents: u32) -> String {
    (Decimal::from(cents) / Decimal::ONE_HUNDRED).to_string()
}

proptest! {
    #[test]
    fn holds_never_take_the_periods_spend_beyond_the_budget_or_a_members_cap(
        ops in proptest::collection::vec(op(), 1..60),
        budget_cents in 100..2_000u32,
        cap_cents in 50..1_000u32,
    ) {
        let keys = [KEY_ALICE, KEY_BOB, KEY_BOB_2];
        let mut events = given([]);
        events.push(purchased(ORG_ACCOUNT, "1000", ALICE));
        events.push(budget_set(&money(budget_cents), LimitPeriod::Daily));
        events.push(cap_set(BOB, &money(cap_cents), LimitPeriod::Weekly));
        let mut state = AccountState::from_events(&events);
        let (mut hours, mut next_hold, mut generation) = (1_i64, 0_u128, 0_u32);
        for op in ops {
            let command = match op {
                Op::Place { key, cents } => {
                    next_hold += 1;
                    place(next_hold % 40, keys[usize::from(key)], &money(cents), hours)
                }
                Op::Settle { hold, cents } => {
                    generation += 1;
                    AccountCommand::SettleHold {
                        hold_id: HoldId::from_u128(u128::from(hold)),
                        usage: usage(&format!("g{generation}"), &money(cents)),
                        at: t(hours),
                    }
                }
                Op::Void { hold } => AccountCommand::VoidHold {
                    hold_id: HoldId::from_u128(u128::from(hold)),
                    at: t(hours),
                },
                Op::Record { key, cents } => {
                    generation += 1;
                    record(keys[usize::from(key)], &format!("g{generation}"), &money(cents), hours)
                }
                Op::Advance { hours: h } => {
                    hours += i64::from(h);
                    continue;
                }
            };
            // The member whose key a hold is placed for (usage may overshoot a cap or the
            // budget, a hold never does).
            let placing = match &command {
                AccountCommand::PlaceHold { key_id, .. } => Some(if *key_id == KEY_ALICE { ALICE } else { BOB }),
                _ => None,
            };
            let Ok(decision) = ledger_domain::account::decide(&state, None, &Caller::Gateway, &command) else {
                continue;
            };
            for event in account_events(&decision) {
                state.evolve(&event);
            }
            if let Some(member) = placing {
                let account = state.account.as_ref().unwrap();
                let now = t(hours);
                let s = &account.spending;
                let budget = s.budget.unwrap();
                prop_assert!(
                    s.spend.spent_in(budget.reset, now) + account.held <= budget.amount.amount(),
                    "budget overshot by a hold"
                );
                if let Some(cap) = s.member_caps.get(&member) {
                    prop_assert!(
                        s.member_spent(member, cap.reset, now) + s.member_holds(member)
                            <= cap.amount.amount(),
                        "cap overshot by a hold"
                    );
                }
            }
        }
        // What was tracked per member adds up to the account's spend and holds.
        let account = state.account.as_ref().unwrap();
        let held: Decimal = account.spending.member_held.values().copied().sum();
        prop_assert_eq!(held, account.held);
    }
}

// ---- state compatibility ----

#[test]
fn an_account_state_serialised_before_spending_controls_reads_as_having_none() {
    let state = AccountState::from_events(&given([]));
    let mut json = serde_json::to_value(&state).unwrap();
    let account = json["account"].as_object_mut().unwrap();
    assert!(account.remove("spending").is_some());
    let back: AccountState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}
