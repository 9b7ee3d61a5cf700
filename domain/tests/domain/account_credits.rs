//! Given / when / then: purchases and support transfers.

use crate::support::*;
use ledger_domain::account::{
    self, AccountCommand, AccountEvent, AccountState, TransferCredits, TransferredIn,
    TransferredOut,
};
use ledger_domain::organization::OrganizationState;
use ledger_domain::text::{PaymentReference, TicketReference, TransferReason};
use ledger_domain::{
    Action, Caller, CallerKind, Denial, DomainError, ExpectedVersion, Field, InputError, TransferId,
};
use rust_decimal::Decimal;

fn purchase(amount: &str) -> AccountCommand {
    AccountCommand::PurchaseCredits {
        amount: credits(amount),
        payment_reference: PaymentReference::parse("pi_123").unwrap(),
        at: t(0),
    }
}

#[test]
fn the_owner_purchases_credits_for_the_personal_account() {
    assert_eq!(
        when_account(&personal_account(), dashboard(DAVE), purchase("10.00")),
        Ok(vec![purchased(PERSONAL, "10", DAVE)])
    );
}

#[test]
fn an_admin_purchases_credits_for_the_organization() {
    let state = AccountState::from_events(&org_account());
    let decision = account::decide(
        &state,
        Some(&org_state()),
        &dashboard(ALICE),
        &purchase("25.50"),
    )
    .unwrap();
    assert_eq!(
        account_events(&decision),
        vec![purchased(ORG_ACCOUNT, "25.50", ALICE)]
    );
    // The role was read from the organization stream: a precondition.
    assert_eq!(decision.changes[1].stream, ORG.stream());
    assert_eq!(
        decision.changes[1].expected,
        ExpectedVersion::Exact(org_state().version)
    );
}

#[test]
fn a_member_cannot_purchase_credits_for_the_organization() {
    assert_eq!(
        when_account(&org_account(), dashboard(BOB), purchase("10")),
        Err(denied(Denial::AdminsOnly))
    );
}

#[test]
fn nobody_but_the_owner_or_an_admin_purchases_credits() {
    let gateway = Denial::CallerKindNotAllowed {
        caller: CallerKind::Gateway,
        action: Action::PurchaseCredits,
    };
    let refused = [
        (personal_account(), dashboard(BOB), Denial::NotAccountOwner),
        (org_account(), dashboard(CAROL), Denial::NotAMember),
        (org_account(), Caller::Gateway, gateway),
    ];
    for (account, caller, denial) in refused {
        let result = when_account(&account, caller, purchase("10"));
        assert_eq!(result, Err(denied(denial)), "{caller:?}");
    }
}

#[test]
fn credits_cannot_be_purchased_for_an_unknown_account() {
    assert_eq!(
        when_account(&[], dashboard(DAVE), purchase("10")),
        Err(DomainError::AccountNotFound)
    );
}

// ---- transfers ----

fn transfer_cmd(amount: &str) -> TransferCredits {
    TransferCredits {
        transfer_id: TransferId::from_u128(0x7F),
        from: PERSONAL,
        to: ORG_ACCOUNT,
        amount: Credits::transfer(amount).unwrap(),
        reason: TransferReason::parse("Moving my credits to the team").unwrap(),
        ticket: TicketReference::parse("SUP-1234").unwrap(),
        at: t(2),
    }
}

use ledger_domain::Credits;

fn funded_personal(amount: &str) -> AccountState {
    let mut events = personal_account();
    events.push(purchased(PERSONAL, amount, DAVE));
    events.push(key_created(PERSONAL, KEY_DAVE, DAVE, None));
    AccountState::from_events(&events)
}

fn transfer(
    source: &AccountState,
    org: &OrganizationState,
    caller: Caller,
    cmd: &TransferCredits,
) -> Result<ledger_domain::Decision, DomainError> {
    let target = AccountState::from_events(&org_account());
    account::transfer(source, &target, org, &caller, cmd)
}

#[test]
fn support_transfers_credits_from_a_members_personal_account_to_the_organization() {
    let cmd = transfer_cmd("30");
    let decision = transfer(&funded_personal("30"), &org_state(), support(), &cmd).unwrap();
    let out = AccountEvent::TransferredOut(TransferredOut {
        account_id: PERSONAL,
        transfer_id: cmd.transfer_id,
        to_account_id: ORG_ACCOUNT,
        amount: cmd.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id: STAFF,
        at: t(2),
    });
    let into = AccountEvent::TransferredIn(TransferredIn {
        account_id: ORG_ACCOUNT,
        transfer_id: cmd.transfer_id,
        from_account_id: PERSONAL,
        amount: cmd.amount,
        reason: cmd.reason.clone(),
        ticket: cmd.ticket.clone(),
        staff_id: STAFF,
        at: t(2),
    });
    assert_eq!(account_events(&decision), vec![out.clone(), into]);
    assert_eq!(decision.changes[2].stream, ORG.stream());
    let mut source = funded_personal("30");
    source.evolve(&out);
    assert_eq!(source.account.unwrap().balance, Decimal::ZERO);
}

#[test]
fn a_transfer_never_takes_the_source_below_zero_counting_open_holds() {
    let mut source = funded_personal("30");
    source.evolve(&hold_placed(PERSONAL, HOLD, KEY_DAVE, "5", t(1)));
    assert_eq!(
        transfer(&source, &org_state(), support(), &transfer_cmd("25.01")),
        Err(DomainError::InsufficientAvailableBalance {
            available: Decimal::from(25),
            requested: "25.01".parse().unwrap()
        })
    );
    assert!(transfer(&source, &org_state(), support(), &transfer_cmd("25")).is_ok());
}

#[test]
fn the_personal_owner_must_be_a_member_of_the_target_organization() {
    let mut events = crate::support::org_events();
    events.truncate(3); // DAVE never joined
    let org = OrganizationState::from_events(&events);
    assert_eq!(
        transfer(&funded_personal("30"), &org, support(), &transfer_cmd("10")),
        Err(DomainError::OwnerNotMemberOfTarget)
    );
}

#[test]
fn only_support_transfers_credits() {
    for caller in [
        dashboard(DAVE),
        dashboard(ALICE),
        Caller::Auditor,
        Caller::Gateway,
    ] {
        let err = transfer(
            &funded_personal("30"),
            &org_state(),
            caller,
            &transfer_cmd("10"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            denied(Denial::CallerKindNotAllowed {
                caller: caller.kind(),
                action: Action::TransferCredits
            })
        );
    }
}

#[test]
fn transfers_go_only_from_personal_to_organization_accounts() {
    let org_source = AccountState::from_events(&funded_org_account());
    let personal_target = funded_personal("1");
    let mut cmd = transfer_cmd("10");
    cmd.from = ORG_ACCOUNT;
    cmd.to = PERSONAL;
    assert_eq!(
        account::transfer(
            &org_source,
            &personal_target,
            &org_state(),
            &support(),
            &cmd
        ),
        Err(DomainError::TransferDirection)
    );
    let mut same = transfer_cmd("10");
    same.to = PERSONAL;
    assert_eq!(
        account::transfer(
            &personal_target,
            &personal_target,
            &org_state(),
            &support(),
            &same
        ),
        Err(DomainError::invalid(
            Field::TransferTarget,
            InputError::SameAccount
        ))
    );
}

#[test]
fn transfers_need_a_reason_and_a_ticket_within_bounds() {
    assert!(TransferReason::parse(&"r".repeat(500)).is_ok());
    assert!(TicketReference::parse(&"t".repeat(100)).is_ok());
    for (reason, ticket) in [("", " "), (&"r".repeat(501), &"t".repeat(101))] {
        assert!(TransferReason::parse(reason).is_err(), "{reason:?}");
        assert!(TicketReference::parse(ticket).is_err(), "{ticket:?}");
    }
}

#[test]
fn a_transfer_from_an_unknown_account_is_refused() {
    assert_eq!(
        transfer(
            &AccountState::default(),
            &org_state(),
            support(),
            &transfer_cmd("10")
        ),
        Err(DomainError::AccountNotFound)
    );
}
