//! Events: every variant round-trips, carries no email, has a stable type and version;
//! payloads do not repeat the type; the upcaster reads an older schema.

use crate::support::*;
use chrono::Duration;
use ledger_domain::account::{
    AccountEvent, HoldClosed, HoldSettled, KeyChanged, KeyDisabled, KeyLimitChanged, KeyRenamed,
    TransferredIn, TransferredOut, UsageRecorded,
};
use ledger_domain::account::{KeyExpiryChanged, KeyRotated};
use ledger_domain::organization::{
    BillingSettingsSet, InvitationRevoked, MemberLeft, MemberLimitSet, MemberRemoved,
    MemberRoleChanged, OrganizationDetailsUpdated, OrganizationEvent, OrganizationRenamed,
    PrivacySettingsSet,
};
use ledger_domain::text::{
    KeyName, OrganizationDetails, OrganizationName, PaymentMethodReference, TicketReference,
    TransferReason,
};
use ledger_domain::user::{Eraser, PersonalDataErased, UserEvent};
use ledger_domain::{Event, InvitationId, Role, TransferId, UpcastError};
use std::collections::BTreeSet;

/// One instance of every event variant.
fn every_event() -> Vec<Event> {
    let (org, acc, at) = (ORG, ORG_ACCOUNT, t(1));
    let mut events: Vec<Event> = user_events(CAROL, CAROL_ACCOUNT, true)
        .into_iter()
        .map(Event::User)
        .collect();
    events.push(Event::User(UserEvent::PersonalDataErased(
        PersonalDataErased {
            user_id: CAROL,
            erased_by: Eraser::Support { staff_id: STAFF },
            at,
        },
    )));
    let mut org_events = crate::support::org_events();
    org_events.extend([
        OrganizationEvent::Renamed(OrganizationRenamed {
            organization_id: org,
            name: OrganizationName::parse("N").unwrap(),
            by: ALICE,
            at,
        }),
        OrganizationEvent::DetailsUpdated(OrganizationDetailsUpdated {
            organization_id: org,
            details: Some(OrganizationDetails::parse("a\nb").unwrap()),
            by: ALICE,
            at,
        }),
        OrganizationEvent::InvitationRevoked(InvitationRevoked {
            organization_id: org,
            invitation_id: InvitationId::from_u128(1),
            by: ALICE,
            at,
        }),
        OrganizationEvent::MemberRemoved(MemberRemoved {
            organization_id: org,
            user_id: BOB,
            by: ALICE,
            at,
        }),
        OrganizationEvent::MemberRoleChanged(MemberRoleChanged {
            organization_id: org,
            user_id: DAVE,
            role: Role::Admin,
            by: ALICE,
            at,
        }),
        OrganizationEvent::MemberLeft(MemberLeft {
            organization_id: org,
            user_id: DAVE,
            at,
        }),
        OrganizationEvent::MemberLimitSet(MemberLimitSet {
            organization_id: org,
            member_limit: 20,
            staff_id: STAFF,
            at,
        }),
        OrganizationEvent::PrivacySettingsSet(PrivacySettingsSet {
            organization_id: org,
            retention_days: 7,
            prompt_logging: true,
            by: ALICE,
            at,
        }),
        OrganizationEvent::BillingSettingsSet(BillingSettingsSet {
            organization_id: org,
            billing_profile_version: 1,
            payment_method_reference: Some(PaymentMethodReference::parse("pm_1").unwrap()),
            by: ALICE,
            at,
        }),
    ]);
    events.extend(org_events.into_iter().map(Event::Organization));
    let transfer = (
        TransferId::from_u128(9),
        credits("5"),
        TransferReason::parse("r").unwrap(),
        TicketReference::parse("T-1").unwrap(),
    );
    let mut account_events = funded_org_account();
    account_events.extend([
        AccountEvent::TransferredOut(TransferredOut {
            account_id: PERSONAL,
            transfer_id: transfer.0,
            to_account_id: acc,
            amount: transfer.1,
            reason: transfer.2.clone(),
            ticket: transfer.3.clone(),
            staff_id: STAFF,
            at,
        }),
        AccountEvent::TransferredIn(TransferredIn {
            account_id: acc,
            transfer_id: transfer.0,
            from_account_id: PERSONAL,
            amount: transfer.1,
            reason: transfer.2,
            ticket: transfer.3,
            staff_id: STAFF,
            at,
        }),
        AccountEvent::KeyRenamed(KeyRenamed {
            account_id: acc,
            key_id: KEY_BOB,
            name: KeyName::parse("x").unwrap(),
            by: BOB,
            at,
        }),
        AccountEvent::KeyLimitChanged(KeyLimitChanged {
            account_id: acc,
            key_id: KEY_BOB,
            limit: limit("3", ledger_domain::LimitPeriod::Weekly),
            by: BOB,
            at,
        }),
        AccountEvent::KeyDisabled(KeyDisabled {
            account_id: acc,
            key_id: KEY_BOB,
            cause: serde_json::from_str("\"creator_removed\"").unwrap(),
            by: ALICE,
            at,
        }),
        AccountEvent::KeyEnabled(KeyChanged {
            account_id: acc,
            key_id: KEY_BOB,
            by: ALICE,
            at,
        }),
        hold_placed(acc, HOLD, KEY_BOB, "0.0000000001", at),
        AccountEvent::HoldSettled(HoldSettled {
            account_id: acc,
            hold_id: HOLD,
            usage: usage("gen-1", "0.5").into_usage(KEY_BOB, BOB),
            at,
        }),
        AccountEvent::HoldVoided(HoldClosed {
            account_id: acc,
            hold_id: HOLD,
            at,
        }),
        AccountEvent::HoldExpired(HoldClosed {
            account_id: acc,
            hold_id: HOLD,
            at,
        }),
        AccountEvent::UsageRecorded(UsageRecorded {
            account_id: acc,
            usage: usage("gen-2", "1").into_usage(KEY_BOB, BOB),
            at,
        }),
        AccountEvent::KeyRotated(KeyRotated {
            account_id: acc,
            key_id: KEY_BOB,
            secret_hash: ledger_domain::text::SecretHash::parse(&"ee".repeat(32)).unwrap(),
            prefix: ledger_domain::text::KeyPrefix::parse("ar-new1").unwrap(),
            generation: 1,
            previous_valid_until: at + Duration::hours(1),
            by: BOB,
            at,
        }),
        AccountEvent::KeyExpiryChanged(KeyExpiryChanged {
            account_id: acc,
            key_id: KEY_BOB,
            expires_at: Some(at + Duration::days(30)),
            by: BOB,
            at,
        }),
        AccountEvent::KeyDeleted(KeyChanged {
            account_id: acc,
            key_id: KEY_BOB,
            by: ALICE,
            at,
        }),
    ]);
    events.extend(account_events.into_iter().map(Event::Account));
    events.extend(spending_events().into_iter().map(Event::Account));
    events.extend(correction_events().into_iter().map(Event::Account));
    events
}

/// One of each money-correction event: a transfer reversed, a purchase refunded, an
/// adjustment (on a state of their own, after the transfer of `every_event`).
fn correction_events() -> Vec<AccountEvent> {
    use ledger_domain::AdjustmentId;
    use ledger_domain::account::{
        AdjustmentDirection, CreditsAdjusted, PurchaseRefunded, TransferReversedIn,
        TransferReversedOut,
    };
    let (acc, at) = (ORG_ACCOUNT, t(1));
    let (reason, ticket) = (
        TransferReason::parse("r").unwrap(),
        TicketReference::parse("T-2").unwrap(),
    );
    vec![
        AccountEvent::TransferReversedOut(TransferReversedOut {
            account_id: acc,
            transfer_id: TransferId::from_u128(9),
            to_account_id: PERSONAL,
            amount: credits("5"),
            reason: reason.clone(),
            ticket: ticket.clone(),
            staff_id: STAFF,
            at,
        }),
        AccountEvent::TransferReversedIn(TransferReversedIn {
            account_id: PERSONAL,
            transfer_id: TransferId::from_u128(9),
            from_account_id: acc,
            amount: credits("5"),
            reason: reason.clone(),
            ticket: ticket.clone(),
            staff_id: STAFF,
            at,
        }),
        AccountEvent::PurchaseRefunded(PurchaseRefunded {
            account_id: acc,
            payment_reference: ledger_domain::text::PaymentReference::parse("pi_123").unwrap(),
            amount: credits("100"),
            refunded_by: ALICE,
            at,
        }),
        AccountEvent::CreditsAdjusted(CreditsAdjusted {
            account_id: acc,
            adjustment_id: AdjustmentId::from_u128(1),
            direction: AdjustmentDirection::Debit,
            amount: credits("3"),
            reason,
            ticket,
            recovery: true,
            staff_id: STAFF,
            at,
        }),
    ]
}

/// One of each spending-control event, on the funded organization account.
fn spending_events() -> Vec<AccountEvent> {
    use ledger_domain::LimitPeriod;
    use ledger_domain::account::{
        BudgetSet, BudgetThresholdReached, DefaultKeyLimitSet, MemberSpendCapSet,
    };
    let (acc, at) = (ORG_ACCOUNT, t(1));
    vec![
        AccountEvent::BudgetSet(BudgetSet {
            account_id: acc,
            budget: limit("10", LimitPeriod::Monthly),
            by: ALICE,
            at,
        }),
        AccountEvent::MemberSpendCapSet(MemberSpendCapSet {
            account_id: acc,
            member: BOB,
            cap: limit("5", LimitPeriod::Daily),
            by: ALICE,
            at,
        }),
        AccountEvent::DefaultKeyLimitSet(DefaultKeyLimitSet {
            account_id: acc,
            limit: None,
            by: ALICE,
            at,
        }),
        AccountEvent::BudgetThresholdReached(BudgetThresholdReached {
            account_id: acc,
            threshold_percent: 80,
            period: LimitPeriod::Monthly,
            period_start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            budget: credits("10"),
            spent: "8".parse().unwrap(),
            at,
        }),
        AccountEvent::LowBalanceThresholdSet(ledger_domain::account::LowBalanceThresholdSet {
            account_id: acc,
            threshold: Some(credits("25")),
            by: ALICE,
            at,
        }),
    ]
}

#[test]
fn the_fixture_covers_every_event_type() {
    let covered: BTreeSet<_> = every_event().iter().map(Event::event_type).collect();
    let all: BTreeSet<_> = Event::catalogue().map(|(t, _)| t).collect();
    assert_eq!(covered, all);
    assert_eq!(all.len(), 41);
}

#[test]
fn every_event_round_trips_through_its_stored_form() {
    for event in every_event() {
        let payload = event.to_payload();
        let back = Event::from_stored(event.event_type(), event.schema_version(), payload.clone())
            .unwrap();
        assert_eq!(back, event, "{}", event.event_type());
        let from_text = Event::from_stored_json(
            event.event_type(),
            event.schema_version(),
            &payload.to_string(),
        )
        .unwrap();
        assert_eq!(
            from_text,
            event,
            "{} from its JSON text",
            event.event_type()
        );
        assert_eq!(
            Event::current_version(event.event_type()),
            Some(event.schema_version())
        );
        // The payload does not repeat the type (the store keeps it in a column).
        let text = payload.to_string();
        assert!(!text.contains(event.event_type()), "{text}");
    }
}

#[test]
fn no_event_carries_an_email_or_any_at_sign() {
    for event in every_event() {
        let text = event.to_payload().to_string();
        assert!(!text.contains('@'), "{}: {text}", event.event_type());
    }
}

#[test]
fn payload_json_uses_strings_for_decimals_rfc3339_for_times_and_uuids_for_ids() {
    let event = Event::Account(hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "2.5", t(1)));
    assert_eq!(event.event_type(), "account.hold_placed");
    assert_eq!(event.schema_version(), 2);
    assert_eq!(
        event.to_payload(),
        serde_json::json!({
            "account_id": "00000000-0000-0000-0000-0000000a0126",
            "hold_id": "00000000-0000-0000-0000-00000000401d",
            "key_id": "00000000-0000-0000-0000-000000000002",
            "estimate": "2.5",
            "expires_at": "2026-01-05T01:01:00Z",
            "at": "2026-01-05T01:00:00Z",
        })
    );
}

#[test]
fn a_version_1_hold_placed_payload_is_upcast_to_version_2() {
    let v1 = serde_json::json!({
        "account_id": "00000000-0000-0000-0000-0000000a0126",
        "hold_id": "00000000-0000-0000-0000-00000000401d",
        "key_id": "00000000-0000-0000-0000-000000000002",
        "estimate": "2.5",
        "ttl_s": 60,
        "at": "2026-01-05T01:00:00Z",
    });
    let event = Event::from_stored("account.hold_placed", 1, v1.clone()).unwrap();
    assert_eq!(
        Event::from_stored_json("account.hold_placed", 1, &v1.to_string()),
        Ok(event.clone()),
        "the text path upcasts too"
    );
    assert_eq!(
        event,
        Event::Account(hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "2.5", t(1)))
    );
    let Event::Account(AccountEvent::HoldPlaced(e)) = event else {
        panic!()
    };
    assert_eq!(e.expires_at, t(1) + Duration::seconds(60));
}

#[test]
fn unknown_types_future_versions_and_malformed_payloads_are_refused() {
    let payload = serde_json::json!({});
    assert_eq!(
        Event::from_stored("account.nope", 1, payload.clone()),
        Err(UpcastError::UnknownType("account.nope".into()))
    );
    assert!(matches!(
        Event::from_stored("account.opened", 2, payload.clone()),
        Err(UpcastError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        Event::from_stored("account.opened", 0, payload.clone()),
        Err(UpcastError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        Event::from_stored("account.opened", 1, payload),
        Err(UpcastError::Malformed { .. })
    ));
    // Stored values are validated again on reading.
    let mut bad = Event::Account(purchased(ORG_ACCOUNT, "1", ALICE)).to_payload();
    bad["amount"] = serde_json::json!("-1");
    assert!(matches!(
        Event::from_stored("account.credits_purchased", 1, bad.clone()),
        Err(UpcastError::Malformed { .. })
    ));
    let kind = |result: Result<Event, UpcastError>| match result {
        Err(UpcastError::UnknownType(_)) => "unknown type",
        Err(UpcastError::UnsupportedVersion { .. }) => "unsupported version",
        Err(UpcastError::Malformed { .. }) => "malformed",
        Ok(_) => "ok",
    };
    let bad = bad.to_string();
    for (event_type, version, json, expected) in [
        ("account.nope", 1, "{}", "unknown type"),
        ("account.opened", 2, "{}", "unsupported version"),
        ("account.opened", 1, "{}", "malformed"),
        ("account.opened", 1, "not json", "malformed"),
        ("account.credits_purchased", 1, bad.as_str(), "malformed"),
    ] {
        assert_eq!(
            kind(Event::from_stored_json(event_type, version, json)),
            expected,
            "{event_type} v{version} {json}"
        );
    }
}

#[test]
fn unique_claims_cover_generations_holds_keys_and_invitations() {
    let scopes: BTreeSet<_> = every_event()
        .iter()
        .flat_map(Event::unique_claims)
        .map(|c| c.scope())
        .collect();
    assert_eq!(
        scopes,
        BTreeSet::from([
            "generation",
            "hold",
            "invitation",
            "key",
            "key_secret_hash",
            "payment"
        ])
    );
}
