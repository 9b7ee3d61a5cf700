//! Given / when / then, and properties: support's adjustments, the reversal of a transfer, the
//! refund of a purchase.

use crate::support::*;
use ledger_domain::account::{
    self, AccountCommand, AccountEvent, AccountState, AdjustmentDirection, CreditsAdjusted,
    PurchaseRefunded, ReverseTransfer, TransferCredits, TransferReversedIn, TransferReversedOut,
};
use ledger_domain::text::{PaymentReference, TicketReference, TransferReason};
use ledger_domain::{
    Action, AdjustmentId, Caller, CallerKind, Denial, DomainError, Event, ExpectedVersion,
    TransferId,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

const ADJUSTMENT: AdjustmentId = AdjustmentId::from_u128(0xAD1);
const TRANSFER: TransferId = TransferId::from_u128(0x7F);

fn reason() -> TransferReason {
    TransferReason::parse("goodwill for outage").unwrap()
}

fn ticket() -> TicketReference {
    TicketReference::parse("SUP-42").unwrap()
}

fn adjust(direction: AdjustmentDirection, amount: &str, recovery: bool) -> AccountCommand {
    AccountCommand::AdjustCredits {
        adjustment_id: ADJUSTMENT,
        direction,
        amount: credits(amount),
        reason: reason(),
        ticket: ticket(),
        recovery,
        at: t(1),
    }
}

fn adjusted(direction: AdjustmentDirection, amount: &str, recovery: bool) -> AccountEvent {
    AccountEvent::CreditsAdjusted(CreditsAdjusted {
        account_id: ORG_ACCOUNT,
        adjustment_id: ADJUSTMENT,
        direction,
        amount: credits(amount),
        reason: reason(),
        ticket: ticket(),
        recovery,
        staff_id: STAFF,
        at: t(1),
    })
}

fn refund(reference: &str) -> AccountCommand {
    AccountCommand::RefundPurchase {
        payment_reference: PaymentReference::parse(reference).unwrap(),
        at: t(2),
    }
}

fn balance_after(given: &[AccountEvent], events: &[AccountEvent]) -> Decimal {
    let mut state = AccountState::from_events(given);
    for event in events {
        state.evolve(event);
    }
    state.account.unwrap().balance
}

// ---- adjustments ----

#[test]
fn support_credits_an_account_with_a_reason_and_a_ticket() {
    let events = when_account(
        &funded_org_account(),
        support(),
        adjust(AdjustmentDirection::Credit, "15", false),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![adjusted(AdjustmentDirection::Credit, "15", false)]
    );
    let mut state = AccountState::from_events(&funded_org_account());
    state.evolve(&events[0]);
    let account = state.account.unwrap();
    assert_eq!(
        (account.balance, account.totals.adjusted),
        (Decimal::from(115), Decimal::from(15))
    );
}

#[test]
fn a_support_debit_never_takes_the_available_balance_below_zero() {
    // 100 bought, 30 held: 70 available.
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "30", t(0))]);
    assert_eq!(
        when_account(
            &given,
            support(),
            adjust(AdjustmentDirection::Debit, "70.01", false)
        ),
        Err(DomainError::AdjustmentBelowZero {
            available: Decimal::from(70),
            requested: "70.01".parse().unwrap(),
        })
    );
    let events = when_account(
        &given,
        support(),
        adjust(AdjustmentDirection::Debit, "70", false),
    )
    .unwrap();
    assert_eq!(balance_after(&given, &events), Decimal::from(30));
}

#[test]
fn a_debit_flagged_as_a_recovery_may_take_the_account_below_zero() {
    let given = funded_org_account();
    let events = when_account(
        &given,
        support(),
        adjust(AdjustmentDirection::Debit, "150", true),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![adjusted(AdjustmentDirection::Debit, "150", true)]
    );
    assert_eq!(balance_after(&given, &events), Decimal::from(-50));
}

#[test]
fn only_support_adjusts_credits() {
    for caller in [dashboard(ALICE), Caller::Gateway, Caller::Auditor] {
        let kind = caller.kind();
        assert_eq!(
            when_account(
                &funded_org_account(),
                caller,
                adjust(AdjustmentDirection::Credit, "1", false)
            ),
            Err(denied(Denial::CallerKindNotAllowed {
                caller: kind,
                action: Action::AdjustCredits,
            }))
        );
    }
    assert_eq!(CallerKind::Support, support().kind());
}

// ---- reversals ----

/// Dave's personal account with 50 bought, 20 of it transferred to the organization.
fn transferred() -> (Vec<AccountEvent>, Vec<AccountEvent>) {
    let mut personal = personal_account();
    personal.push(purchased(PERSONAL, "50", DAVE));
    let mut org = funded_org_account();
    let cmd = TransferCredits {
        transfer_id: TRANSFER,
        from: PERSONAL,
        to: ORG_ACCOUNT,
        amount: credits("20"),
        reason: reason(),
        ticket: ticket(),
        at: t(0),
    };
    let decision = account::transfer(
        &AccountState::from_events(&personal),
        &AccountState::from_events(&org),
        &org_state(),
        &support(),
        &cmd,
    )
    .unwrap();
    personal.extend(account_events_of(&decision, PERSONAL));
    org.extend(account_events_of(&decision, ORG_ACCOUNT));
    (personal, org)
}

fn account_events_of(
    decision: &ledger_domain::Decision,
    id: ledger_domain::AccountId,
) -> Vec<AccountEvent> {
    decision
        .events_for(&id.stream())
        .into_iter()
        .map(|e| match e {
            Event::Account(a) => a.clone(),
            other => panic!("not an account event: {other:?}"),
        })
        .collect()
}

fn reversal() -> ReverseTransfer {
    ReverseTransfer {
        transfer_id: TRANSFER,
        account: ORG_ACCOUNT,
        reason: reason(),
        ticket: ticket(),
        at: t(3),
    }
}

fn reverse(
    personal: &[AccountEvent],
    org: &[AccountEvent],
    caller: Caller,
) -> Result<ledger_domain::Decision, DomainError> {
    account::reverse_transfer(
        &AccountState::from_events(org),
        &AccountState::from_events(personal),
        &caller,
        &reversal(),
    )
}

#[test]
fn support_reverses_a_transfer_with_compensating_events_linked_by_its_id() {
    let (personal, org) = transferred();
    let decision = reverse(&personal, &org, support()).unwrap();
    let out = AccountEvent::TransferReversedOut(TransferReversedOut {
        account_id: ORG_ACCOUNT,
        transfer_id: TRANSFER,
        to_account_id: PERSONAL,
        amount: credits("20"),
        reason: reason(),
        ticket: ticket(),
        staff_id: STAFF,
        at: t(3),
    });
    let back = AccountEvent::TransferReversedIn(TransferReversedIn {
        account_id: PERSONAL,
        transfer_id: TRANSFER,
        from_account_id: ORG_ACCOUNT,
        amount: credits("20"),
        reason: reason(),
        ticket: ticket(),
        staff_id: STAFF,
        at: t(3),
    });
    assert_eq!(account_events_of(&decision, ORG_ACCOUNT), vec![out]);
    assert_eq!(account_events_of(&decision, PERSONAL), vec![back]);
    assert_eq!(
        decision.changes[0].expected,
        ExpectedVersion::Exact(org.len() as u64)
    );
    assert_eq!(
        decision.changes[1].expected,
        ExpectedVersion::Exact(personal.len() as u64)
    );
    let org_after = balance_after(&org, &account_events_of(&decision, ORG_ACCOUNT));
    let personal_after = balance_after(&personal, &account_events_of(&decision, PERSONAL));
    assert_eq!(
        (org_after, personal_after),
        (Decimal::from(100), Decimal::from(50))
    );
}

#[test]
fn a_transfer_cannot_be_reversed_twice() {
    let (mut personal, mut org) = transferred();
    let decision = reverse(&personal, &org, support()).unwrap();
    org.extend(account_events_of(&decision, ORG_ACCOUNT));
    personal.extend(account_events_of(&decision, PERSONAL));
    assert_eq!(
        reverse(&personal, &org, support()),
        Err(DomainError::TransferAlreadyReversed(TRANSFER))
    );
}

#[test]
fn a_transfer_cannot_be_reversed_for_more_than_the_organization_still_holds() {
    let (personal, mut org) = transferred();
    // 120 in the organization's account; 101 held leaves 19 available for a 20 transfer.
    org.push(hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "101", t(2)));
    assert_eq!(
        reverse(&personal, &org, support()),
        Err(DomainError::InsufficientAvailableBalance {
            available: Decimal::from(19),
            requested: Decimal::from(20),
        })
    );
}

#[test]
fn a_transfer_the_account_never_received_cannot_be_reversed() {
    let (personal, _) = transferred();
    assert_eq!(
        reverse(&personal, &funded_org_account(), support()),
        Err(DomainError::TransferNotFound(TRANSFER))
    );
}

#[test]
fn only_support_reverses_transfers() {
    let (personal, org) = transferred();
    assert_eq!(
        reverse(&personal, &org, dashboard(ALICE)),
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Dashboard,
            action: Action::ReverseTransfer,
        }))
    );
}

// ---- refunds ----

#[test]
fn an_admin_records_the_refund_of_a_purchase_by_its_payment_reference() {
    let events = when_account(&funded_org_account(), dashboard(ALICE), refund("pi_123")).unwrap();
    assert_eq!(
        events,
        vec![AccountEvent::PurchaseRefunded(PurchaseRefunded {
            account_id: ORG_ACCOUNT,
            payment_reference: PaymentReference::parse("pi_123").unwrap(),
            amount: credits("100"),
            refunded_by: ALICE,
            at: t(2),
        })]
    );
    let mut state = AccountState::from_events(&funded_org_account());
    state.evolve(&events[0]);
    let account = state.account.unwrap();
    assert_eq!(
        (account.balance, account.totals.purchased),
        (Decimal::ZERO, Decimal::ZERO)
    );
}

#[test]
fn a_purchase_cannot_be_refunded_twice() {
    let mut given = funded_org_account();
    given.extend(when_account(&given, dashboard(ALICE), refund("pi_123")).unwrap());
    assert_eq!(
        when_account(&given, dashboard(ALICE), refund("pi_123")),
        Err(DomainError::PurchaseAlreadyRefunded(
            PaymentReference::parse("pi_123").unwrap()
        ))
    );
}

#[test]
fn a_payment_never_credited_to_the_account_cannot_be_refunded() {
    assert_eq!(
        when_account(&funded_org_account(), dashboard(ALICE), refund("pi_other")),
        Err(DomainError::PurchaseNotFound(
            PaymentReference::parse("pi_other").unwrap()
        ))
    );
}

#[test]
fn a_refund_is_recorded_even_when_the_credits_were_spent() {
    let given = funded_org_account_and([hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "60", t(0))]);
    let events = when_account(&given, dashboard(ALICE), refund("pi_123")).unwrap();
    assert_eq!(balance_after(&given, &events), Decimal::ZERO);
    let mut state = AccountState::from_events(&given);
    state.evolve(&events[0]);
    assert_eq!(state.account.unwrap().available(), Decimal::from(-60));
}

#[test]
fn who_may_purchase_may_record_a_refund_and_no_one_else() {
    assert_eq!(
        when_account(&funded_org_account(), dashboard(BOB), refund("pi_123")),
        Err(denied(Denial::AdminsOnly))
    );
    assert_eq!(
        when_account(&funded_org_account(), support(), refund("pi_123")),
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Support,
            action: Action::RefundPurchase,
        }))
    );
    let mut personal = personal_account();
    personal.push(purchased(PERSONAL, "5", DAVE));
    assert!(when_account(&personal, dashboard(DAVE), refund("pi_123")).is_ok());
}

// ---- properties ----

#[derive(Debug, Clone)]
enum Op {
    Purchase {
        personal: bool,
        cents: u32,
    },
    Refund {
        personal: bool,
        nth: u8,
    },
    Adjust {
        personal: bool,
        credit: bool,
        cents: u32,
        recovery: bool,
    },
    Transfer {
        cents: u32,
    },
    Reverse {
        nth: u8,
    },
    Hold {
        cents: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 1..10_000u32)
            .prop_map(|(personal, cents)| Op::Purchase { personal, cents }),
        (any::<bool>(), any::<u8>()).prop_map(|(personal, nth)| Op::Refund { personal, nth }),
        (any::<bool>(), any::<bool>(), 1..10_000u32, any::<bool>()).prop_map(
            |(personal, credit, cents, recovery)| Op::Adjust {
                personal,
                credit,
                cents,
                recovery
            }
        ),
        (1..10_000u32).prop_map(|cents| Op::Transfer { cents }),
        any::<u8>().prop_map(|nth| Op::Reverse { nth }),
        (1..5_000u32).prop_map(|cents| Op::Hold { cents }),
    ]
}

fn amount(cents: u32) -> ledger_domain::Credits {
    ledger_domain::Credits::purchase(Decimal::new(i64::from(cents), 2)).unwrap()
}

/// The double-entry books the events make: each customer account, and the system books each
/// movement is booked against (the projection's mapping, restated).
#[derive(Default)]
struct Books {
    customers: Decimal,
    external: Decimal,
    revenue: Decimal,
    transfers: Decimal,
    adjustments: Decimal,
}

impl Books {
    fn book(&mut self, event: &AccountEvent) {
        let (customer, book, amount) = match event {
            AccountEvent::CreditsPurchased(e) => (1, &mut self.external, e.amount.amount()),
            AccountEvent::PurchaseRefunded(e) => (-1, &mut self.external, e.amount.amount()),
            AccountEvent::TransferredOut(e) => (-1, &mut self.transfers, e.amount.amount()),
            AccountEvent::TransferredIn(e) => (1, &mut self.transfers, e.amount.amount()),
            AccountEvent::TransferReversedOut(e) => (-1, &mut self.transfers, e.amount.amount()),
            AccountEvent::TransferReversedIn(e) => (1, &mut self.transfers, e.amount.amount()),
            AccountEvent::CreditsAdjusted(e) => match e.direction {
                AdjustmentDirection::Credit => (1, &mut self.adjustments, e.amount.amount()),
                AdjustmentDirection::Debit => (-1, &mut self.adjustments, e.amount.amount()),
            },
            AccountEvent::HoldSettled(e) => (-1, &mut self.revenue, e.usage.cost.amount()),
            _ => return,
        };
        let signed = Decimal::from(customer) * amount;
        self.customers += signed;
        *book -= signed;
    }

    fn sum(&self) -> Decimal {
        self.customers + self.external + self.revenue + self.transfers + self.adjustments
    }
}

struct World {
    personal: AccountState,
    org: AccountState,
    books: Books,
    purchases: Vec<(bool, String)>,
    transfers: Vec<TransferId>,
    /// Accounts a recovery debit or a refund may have taken below zero.
    may_be_negative: [bool; 2],
}

impl World {
    fn apply(&mut self, decision: &ledger_domain::Decision) {
        for change in &decision.changes {
            for event in &change.events {
                let Event::Account(event) = event else {
                    continue;
                };
                self.books.book(event);
                if event.account_id() == PERSONAL {
                    self.personal.evolve(event);
                } else {
                    self.org.evolve(event);
                }
            }
        }
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World {
        personal: AccountState::from_events(&personal_account()),
        org: AccountState::from_events(&org_account_with_key()),
        books: Books::default(),
        purchases: Vec::new(),
        transfers: Vec::new(),
        may_be_negative: [false; 2],
    };
    for (i, op) in ops.iter().enumerate() {
        let state = |w: &World, personal: bool| {
            if personal {
                w.personal.clone()
            } else {
                w.org.clone()
            }
        };
        let owner = |personal: bool| if personal { DAVE } else { ALICE };
        let decision = match op {
            Op::Purchase { personal, cents } => {
                let reference = format!("pay-{i}");
                let cmd = AccountCommand::PurchaseCredits {
                    amount: amount(*cents),
                    payment_reference: PaymentReference::parse(&reference).unwrap(),
                    at: t(0),
                };
                let d = account::decide(
                    &state(&world, *personal),
                    Some(&org_state()),
                    &dashboard(owner(*personal)),
                    &cmd,
                );
                if d.is_ok() {
                    world.purchases.push((*personal, reference));
                }
                d
            }
            Op::Refund { personal, nth } => {
                let mine: Vec<&String> = world
                    .purchases
                    .iter()
                    .filter(|(p, _)| p == personal)
                    .map(|(_, r)| r)
                    .collect();
                let reference = match mine.get(usize::from(*nth) % mine.len().max(1)) {
                    Some(r) => (*r).clone(),
                    None => "never".to_owned(),
                };
                let d = account::decide(
                    &state(&world, *personal),
                    Some(&org_state()),
                    &dashboard(owner(*personal)),
                    &refund(&reference),
                );
                if d.is_ok() {
                    world.may_be_negative[usize::from(*personal)] = true;
                }
                d
            }
            Op::Adjust {
                personal,
                credit,
                cents,
                recovery,
            } => {
                let direction = if *credit {
                    AdjustmentDirection::Credit
                } else {
                    AdjustmentDirection::Debit
                };
                let cmd = AccountCommand::AdjustCredits {
                    adjustment_id: AdjustmentId::from_u128(i as u128),
                    direction,
                    amount: amount(*cents),
                    reason: reason(),
                    ticket: ticket(),
                    recovery: *recovery,
                    at: t(1),
                };
                let d = account::decide(&state(&world, *personal), None, &support(), &cmd);
                if d.is_ok() && !credit && *recovery {
                    world.may_be_negative[usize::from(*personal)] = true;
                }
                d
            }
            Op::Transfer { cents } => {
                let cmd = TransferCredits {
                    transfer_id: TransferId::from_u128(i as u128),
                    from: PERSONAL,
                    to: ORG_ACCOUNT,
                    amount: amount(*cents),
                    reason: reason(),
                    ticket: ticket(),
                    at: t(0),
                };
                let d =
                    account::transfer(&world.personal, &world.org, &org_state(), &support(), &cmd);
                if d.is_ok() {
                    world.transfers.push(cmd.transfer_id);
                }
                d
            }
            Op::Reverse { nth } => {
                let transfer_id = world
                    .transfers
                    .get(usize::from(*nth) % world.transfers.len().max(1))
                    .copied()
                    .unwrap_or(TransferId::from_u128(u128::MAX));
                let cmd = ReverseTransfer {
                    transfer_id,
                    ..reversal()
                };
                account::reverse_transfer(&world.org, &world.personal, &support(), &cmd)
            }
            Op::Hold { cents } => {
                let cmd = AccountCommand::PlaceHold {
                    hold_id: ledger_domain::HoldId::from_u128(i as u128),
                    key_id: KEY_BOB,
                    estimate: ledger_domain::Credits::hold_estimate(Decimal::new(
                        i64::from(*cents),
                        2,
                    ))
                    .unwrap(),
                    ttl_s: 60,
                    at: t(0),
                };
                account::decide(&world.org, Some(&org_state()), &Caller::Gateway, &cmd)
            }
        };
        let Ok(decision) = decision else { continue };
        world.apply(&decision);
        // A reversed transfer or a refunded purchase is never corrected again.
        match decision.events().next() {
            Some(Event::Account(AccountEvent::TransferReversedOut(e))) => {
                let cmd = ReverseTransfer {
                    transfer_id: e.transfer_id,
                    ..reversal()
                };
                prop_assert_eq!(
                    account::reverse_transfer(&world.org, &world.personal, &support(), &cmd),
                    Err(DomainError::TransferAlreadyReversed(e.transfer_id))
                );
            }
            Some(Event::Account(AccountEvent::PurchaseRefunded(e))) => {
                let personal = e.account_id == PERSONAL;
                let again = account::decide(
                    &state(&world, personal),
                    Some(&org_state()),
                    &dashboard(owner(personal)),
                    &refund(e.payment_reference.as_str()),
                );
                prop_assert_eq!(
                    again,
                    Err(DomainError::PurchaseAlreadyRefunded(
                        e.payment_reference.clone()
                    ))
                );
            }
            _ => {}
        }
        prop_assert_eq!(
            world.books.sum(),
            Decimal::ZERO,
            "the books sum to zero after {:?}",
            op
        );
        prop_assert_eq!(
            world.books.transfers,
            Decimal::ZERO,
            "transfer clearing is empty between commands"
        );
        let balances = world.personal.account.as_ref().unwrap().balance
            + world.org.account.as_ref().unwrap().balance;
        prop_assert_eq!(
            world.books.customers,
            balances,
            "the customer side is the balances"
        );
        for (personal, state) in [(false, &world.org), (true, &world.personal)] {
            let account = state.account.as_ref().unwrap();
            if !world.may_be_negative[usize::from(personal)] {
                prop_assert!(
                    account.available() >= Decimal::ZERO,
                    "available below zero: {:?}",
                    account
                );
            }
        }
    }
    // Each correction happened at most once.
    let reversed = world
        .org
        .account
        .as_ref()
        .unwrap()
        .transfers_in
        .values()
        .filter(|t| t.reversed)
        .count();
    let refunded = [&world.personal, &world.org]
        .iter()
        .flat_map(|s| s.account.as_ref().unwrap().purchases.values())
        .filter(|p| p.refunded)
        .count();
    prop_assert!(reversed <= world.transfers.len());
    prop_assert!(refunded <= world.purchases.len());
    Ok(())
}

/// The organization's account with Bob's key, for holds.
fn org_account_with_key() -> Vec<AccountEvent> {
    let mut events = org_account();
    events.push(key_created(ORG_ACCOUNT, KEY_BOB, BOB, None));
    events
}

proptest! {
    #[test]
    fn adjustments_reversals_and_refunds_keep_the_books_summing_to_zero(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}
