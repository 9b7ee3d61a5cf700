//! Given / when / then: the gateway's hot path (holds and usage).

use crate::support::*;
use chrono::Duration;
use ledger_domain::account::{
    AccountCommand, AccountEvent, AccountState, HoldClosed, HoldPlaced, OpenHold, UsageReport,
};
use ledger_domain::{
    Action, Caller, CallerKind, Denial, DomainError, ErrorKind, Field, GenerationId, HoldId, KeyId,
    LimitPeriod,
};
use rust_decimal::Decimal;

fn place(key: KeyId, estimate: &str, at_hours: i64) -> AccountCommand {
    AccountCommand::PlaceHold {
        hold_id: HOLD,
        key_id: key,
        estimate: cost(estimate),
        ttl_s: 60,
        at: t(at_hours),
    }
}

/// An open hold for `estimate` on ALICE's key (not `HOLD`).
fn alices_hold(estimate: &str) -> AccountEvent {
    hold_placed(ORG_ACCOUNT, HoldId::from_u128(7), KEY_ALICE, estimate, t(0))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn the_gateway_places_a_hold_for_the_estimated_cost() {
    assert_eq!(
        when_account(
            &funded_org_account(),
            Caller::Gateway,
            place(KEY_BOB, "2.5", 1)
        ),
        Ok(vec![AccountEvent::HoldPlaced(HoldPlaced {
            account_id: ORG_ACCOUNT,
            hold_id: HOLD,
            key_id: KEY_BOB,
            estimate: cost("2.5"),
            expires_at: t(1) + Duration::seconds(60),
            at: t(1),
        })])
    );
}

#[test]
fn a_hold_is_refused_when_the_available_balance_cannot_cover_it() {
    let given = funded_org_account_and([alices_hold("99")]);
    assert_eq!(
        when_account(&given, Caller::Gateway, place(KEY_BOB, "1.0000000001", 1)),
        Err(DomainError::InsufficientAvailableBalance {
            available: dec("1"),
            requested: dec("1.0000000001")
        })
    );
    assert!(when_account(&given, Caller::Gateway, place(KEY_BOB, "1", 1)).is_ok());
}

#[test]
fn a_hold_is_refused_when_the_key_limit_cannot_cover_it_counting_spend_and_open_holds() {
    let mut given = org_account();
    given.push(purchased(ORG_ACCOUNT, "100", ALICE));
    given.push(key_created(
        ORG_ACCOUNT,
        KEY_BOB,
        BOB,
        limit("10", LimitPeriod::Daily),
    ));
    given.push(AccountEvent::UsageRecorded(
        ledger_domain::account::UsageRecorded {
            account_id: ORG_ACCOUNT,
            usage: usage("g1", "4").into_usage(KEY_BOB, BOB),
            at: t(1),
        },
    ));
    given.push(hold_placed(
        ORG_ACCOUNT,
        HoldId::from_u128(7),
        KEY_BOB,
        "3",
        t(1),
    ));
    assert_eq!(
        when_account(&given, Caller::Gateway, place(KEY_BOB, "3.01", 2)),
        Err(DomainError::KeyLimitExceeded {
            key_id: KEY_BOB,
            remaining: dec("3"),
            requested: dec("3.01")
        })
    );
    assert!(when_account(&given, Caller::Gateway, place(KEY_BOB, "3", 2)).is_ok());
    // The next UTC day the spend resets; the open hold still counts.
    assert!(when_account(&given, Caller::Gateway, place(KEY_BOB, "7", 24)).is_ok());
    assert!(when_account(&given, Caller::Gateway, place(KEY_BOB, "7.01", 24)).is_err());
}

#[test]
fn a_key_limit_change_takes_effect_immediately() {
    let given = funded_org_account_and([AccountEvent::KeyLimitChanged(
        ledger_domain::account::KeyLimitChanged {
            account_id: ORG_ACCOUNT,
            key_id: KEY_BOB,
            limit: limit("1", LimitPeriod::Lifetime),
            by: ALICE,
            at: t(1),
        },
    )]);
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(KEY_BOB, "2", 1)),
        Err(DomainError::KeyLimitExceeded { .. })
    ));
}

#[test]
fn a_hold_is_refused_for_a_disabled_deleted_expired_or_unknown_key() {
    let disabled = funded_org_account_and([key_disabled(KEY_BOB, "manual", BOB, t(0))]);
    assert_eq!(
        when_account(&disabled, Caller::Gateway, place(KEY_BOB, "1", 1)),
        Err(DomainError::KeyDisabled(KEY_BOB))
    );

    let deleted = funded_org_account_and([key_deleted(KEY_BOB, BOB, t(0))]);
    assert_eq!(
        when_account(&deleted, Caller::Gateway, place(KEY_BOB, "1", 1)),
        Err(DomainError::KeyDeleted(KEY_BOB))
    );

    let mut expiring = org_account();
    expiring.push(purchased(ORG_ACCOUNT, "100", ALICE));
    let AccountEvent::KeyCreated(mut created) = key_created(ORG_ACCOUNT, KEY_BOB, BOB, None) else {
        unreachable!()
    };
    created.expires_at = Some(t(5));
    expiring.push(AccountEvent::KeyCreated(created));
    assert!(when_account(&expiring, Caller::Gateway, place(KEY_BOB, "1", 4)).is_ok());
    assert_eq!(
        when_account(&expiring, Caller::Gateway, place(KEY_BOB, "1", 5)),
        Err(DomainError::KeyExpired {
            key_id: KEY_BOB,
            expires_at: t(5)
        })
    );

    let unknown = KeyId::from_u128(0xDEAD);
    assert_eq!(
        when_account(
            &funded_org_account(),
            Caller::Gateway,
            place(unknown, "1", 1)
        ),
        Err(DomainError::KeyNotFound(unknown))
    );
}

#[test]
fn a_hold_id_cannot_be_reused_while_open_and_ttl_is_bounded() {
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0))]);
    assert_eq!(
        when_account(&given, Caller::Gateway, place(KEY_BOB, "1", 1)),
        Err(DomainError::HoldAlreadyExists(HOLD))
    );
    for ttl_s in [0, 86_401] {
        let cmd = AccountCommand::PlaceHold {
            hold_id: HOLD,
            key_id: KEY_BOB,
            estimate: cost("1"),
            ttl_s,
            at: t(1),
        };
        let err = when_account(&funded_org_account(), Caller::Gateway, cmd).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidArgument { field: Field::TtlS }
        );
    }
}

#[test]
fn open_holds_per_account_are_bounded() {
    let mut state = AccountState::from_events(&funded_org_account());
    let account = state.account.as_mut().unwrap();
    for i in 0..100_000u128 {
        let hold = OpenHold {
            key_id: KEY_ALICE,
            amount: Decimal::ZERO,
            expires_at: t(1),
        };
        account
            .holds
            .insert(HoldId::from_u128(0x1_0000_0000 + i), hold);
    }
    let result =
        ledger_domain::account::decide(&state, None, &Caller::Gateway, &place(KEY_BOB, "1", 1));
    assert_eq!(result, Err(DomainError::TooManyOpenHolds { max: 100_000 }));
}

#[test]
fn only_the_gateway_places_settles_voids_and_records() {
    let given = funded_org_account();
    let denied_for = |caller: Caller, action| {
        denied(Denial::CallerKindNotAllowed {
            caller: caller.kind(),
            action,
        })
    };
    for caller in [
        dashboard(ALICE),
        support(),
        Caller::Auditor,
        Caller::Identity,
        Caller::System,
    ] {
        assert_eq!(
            when_account(&given, caller, place(KEY_BOB, "1", 1)),
            Err(denied_for(caller, Action::PlaceHold))
        );
        let record = AccountCommand::RecordUsage {
            key_id: KEY_BOB,
            usage: usage("g", "1"),
            at: t(1),
        };
        assert_eq!(
            when_account(&given, caller, record),
            Err(denied_for(caller, Action::RecordUsage))
        );
    }
}

fn settle(hold: HoldId, generation: &str, amount: &str) -> AccountCommand {
    AccountCommand::SettleHold {
        hold_id: hold,
        usage: usage(generation, amount),
        at: t(1),
    }
}

#[test]
fn settling_bills_the_actual_cost_even_above_the_estimate_and_closes_the_hold() {
    let mut given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0))]);
    let events = when_account(&given, Caller::Gateway, settle(HOLD, "gen-1", "1.5")).unwrap();
    let [AccountEvent::HoldSettled(e)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (e.usage.key_id, e.usage.user_id, e.usage.cost),
        (KEY_BOB, BOB, cost("1.5"))
    );
    given.extend(events.clone());
    let account = AccountState::from_events(&given).account.unwrap();
    assert_eq!(
        (account.balance, account.held, account.holds.len()),
        (dec("98.5"), Decimal::ZERO, 0)
    );
    // A hold is settled once.
    assert_eq!(
        when_account(&given, Caller::Gateway, settle(HOLD, "gen-2", "1")),
        Err(DomainError::HoldNotOpen(HOLD))
    );
    // Each settlement claims its generation id, unique per account.
    let claims = events[0].unique_claims();
    assert_eq!(claims[0].scope(), "generation");
    assert_eq!(claims[0].value(), format!("{ORG_ACCOUNT}/gen-1"));
    assert_eq!(
        claims[0].already_made(),
        Some(DomainError::GenerationAlreadyRecorded(
            GenerationId::parse("gen-1").unwrap()
        ))
    );
}

#[test]
fn a_hold_placed_before_its_key_was_disabled_still_settles() {
    let given = funded_org_account_and([
        hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0)),
        key_disabled(KEY_BOB, "manual", BOB, t(0)),
    ]);
    assert!(when_account(&given, Caller::Gateway, settle(HOLD, "gen-1", "1")).is_ok());
}

#[test]
fn usage_metadata_is_validated() {
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0))]);
    type Spoil = fn(&mut UsageReport);
    let spoilers: [(Spoil, Field); 3] = [
        (
            |r| r.finished_at = r.started_at - Duration::seconds(1),
            Field::FinishedAt,
        ),
        (|r| r.tokens.prompt = 100_000_001, Field::Tokens),
        (
            |r| r.time_to_first_token_ms = Some(r.latency_ms + 1),
            Field::TimeToFirstTokenMs,
        ),
    ];
    for (spoil, field) in spoilers {
        let mut report = usage("gen-1", "1");
        spoil(&mut report);
        let settle = AccountCommand::SettleHold {
            hold_id: HOLD,
            usage: report.clone(),
            at: t(1),
        };
        let record = AccountCommand::RecordUsage {
            key_id: KEY_BOB,
            usage: report,
            at: t(1),
        };
        for cmd in [settle, record] {
            let err = when_account(&given, Caller::Gateway, cmd).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument { field });
        }
    }
}

#[test]
fn the_gateway_voids_an_open_hold() {
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0))]);
    let void = AccountCommand::VoidHold {
        hold_id: HOLD,
        at: t(1),
    };
    assert_eq!(
        when_account(&given, Caller::Gateway, void.clone()),
        Ok(vec![AccountEvent::HoldVoided(HoldClosed {
            account_id: ORG_ACCOUNT,
            hold_id: HOLD,
            at: t(1)
        })])
    );
    assert_eq!(
        when_account(&funded_org_account(), Caller::Gateway, void),
        Err(DomainError::HoldNotOpen(HOLD))
    );
}

#[test]
fn the_expiry_task_expires_a_hold_only_after_its_ttl() {
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0))]);
    let expire = |at| AccountCommand::ExpireHold { hold_id: HOLD, at };
    let expires_at = t(0) + Duration::seconds(60);
    assert_eq!(
        when_account(
            &given,
            Caller::System,
            expire(expires_at - Duration::seconds(1))
        ),
        Err(DomainError::HoldNotExpired { expires_at })
    );
    assert_eq!(
        when_account(&given, Caller::System, expire(expires_at)),
        Ok(vec![AccountEvent::HoldExpired(HoldClosed {
            account_id: ORG_ACCOUNT,
            hold_id: HOLD,
            at: expires_at
        })])
    );
    assert_eq!(
        when_account(&given, Caller::Gateway, expire(expires_at)),
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Gateway,
            action: Action::ExpireHold
        }))
    );
    assert_eq!(
        when_account(&funded_org_account(), Caller::System, expire(expires_at)),
        Err(DomainError::HoldNotOpen(HOLD))
    );
}

#[test]
fn a_hold_past_its_ttl_still_counts_until_it_is_closed() {
    let given = funded_org_account_and([alices_hold("100")]);
    assert!(matches!(
        when_account(&given, Caller::Gateway, place(KEY_BOB, "0.01", 48)),
        Err(DomainError::InsufficientAvailableBalance { .. })
    ));
}

#[test]
fn usage_without_a_hold_is_always_accepted_and_may_take_the_balance_below_zero() {
    let mut given = funded_org_account_and([key_deleted(KEY_BOB, BOB, t(0))]);
    let record = AccountCommand::RecordUsage {
        key_id: KEY_BOB,
        usage: usage("gen-9", "150"),
        at: t(1),
    };
    let events = when_account(&given, Caller::Gateway, record).unwrap();
    given.extend(events);
    assert_eq!(
        AccountState::from_events(&given).account.unwrap().balance,
        dec("-50")
    );
    let unknown = AccountCommand::RecordUsage {
        key_id: KeyId::from_u128(0xDEAD),
        usage: usage("g", "1"),
        at: t(1),
    };
    assert_eq!(
        when_account(&given, Caller::Gateway, unknown),
        Err(DomainError::KeyNotFound(KeyId::from_u128(0xDEAD)))
    );
}
