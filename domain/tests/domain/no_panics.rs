//! Every command × every caller kind × the states a buggy application might hand over
//! (missing, not created, another stream's): the domain answers with an error, never a panic,
//! and a caller the policy refuses gets exactly the policy's denial.

use crate::support::*;
use ledger_domain::account::{self, AccountCommand, AccountState, TransferCredits};
use ledger_domain::organization::{
    self, AcceptInvitation, BillingSettingsInput, CreateOrganization, LeaveOrganization,
    OrganizationCommand, OrganizationCreated, OrganizationEvent, OrganizationState, RemoveMember,
};
use ledger_domain::text::{
    KeyName, KeyPrefix, OrganizationName, PaymentReference, SecretHash, TicketReference,
    TransferReason,
};
use ledger_domain::user::{self, RegisterUser, UserState, VerifyEmail};
use ledger_domain::{
    AccountId, Action, AuthContext, Caller, Decision, DomainError, HoldId, InvitationId, KeyId,
    OrganizationId, Role, TransferId, UserId, authorize,
};
use std::collections::HashSet;
use std::mem::discriminant;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One caller of every kind, and every dashboard persona (admin, member, non-member, owner).
fn callers() -> [Caller; 10] {
    [
        dashboard(ALICE),
        dashboard(BOB),
        dashboard(CAROL),
        dashboard(DAVE),
        support(),
        Caller::Auditor,
        Caller::Gateway,
        Caller::Identity,
        Caller::System,
        Caller::Notifier,
    ]
}

/// Runs decisions, collecting the cases that panicked; the test fails listing them all.
#[derive(Default)]
struct Decisions {
    panicked: Vec<String>,
}

impl Decisions {
    /// Decides `case` for `caller` asking for `action`, with the context the domain derives
    /// from the states given. Where the context is an error, the decision must be that error;
    /// where the policy refuses, exactly its denial. Otherwise the decision is returned (`None`
    /// after a panic or a refusal).
    fn check(
        &mut self,
        case: String,
        (caller, action): (&Caller, Action),
        context: Result<AuthContext, DomainError>,
        decide: impl FnOnce() -> Result<Decision, DomainError>,
    ) -> Option<Result<Decision, DomainError>> {
        let Ok(result) = catch_unwind(AssertUnwindSafe(decide)) else {
            self.panicked.push(case);
            return None;
        };
        let refusal = context
            .and_then(|context| authorize(caller, action, &context).map_err(DomainError::Denied));
        match refusal {
            Err(refusal) => {
                assert_eq!(result, Err(refusal), "{case}");
                None
            }
            Ok(()) => Some(result),
        }
    }

    fn assert_none_panicked(self) {
        assert!(self.panicked.is_empty(), "panicked: {:#?}", self.panicked);
    }
}

/// Asserts every variant of a command enum is in `commands`.
fn assert_every_variant<T>(commands: &[T], variants: usize) {
    let seen: HashSet<_> = commands.iter().map(discriminant).collect();
    assert_eq!(seen.len(), variants, "a command variant is not exercised");
}

// ---- account commands ----

fn account_commands() -> Vec<AccountCommand> {
    let at = t(2);
    let key_id = KEY_BOB;
    vec![
        AccountCommand::PurchaseCredits {
            amount: credits("10"),
            payment_reference: PaymentReference::parse("pi_9").unwrap(),
            at,
        },
        AccountCommand::CreateKey {
            key_id: KeyId::from_u128(0x99),
            name: KeyName::parse("new").unwrap(),
            secret_hash: SecretHash::parse(&"cd".repeat(32)).unwrap(),
            prefix: KeyPrefix::parse("ar-9").unwrap(),
            limit: None,
            expires_at: None,
            at,
        },
        AccountCommand::RenameKey {
            key_id,
            name: KeyName::parse("renamed").unwrap(),
            at,
        },
        AccountCommand::ChangeKeyLimit {
            key_id,
            limit: None,
            at,
        },
        AccountCommand::DisableKey { key_id, at },
        AccountCommand::EnableKey { key_id, at },
        AccountCommand::DeleteKey { key_id, at },
        AccountCommand::PlaceHold {
            hold_id: HoldId::from_u128(0x77),
            key_id,
            estimate: cost("1"),
            ttl_s: 60,
            at,
        },
        AccountCommand::SettleHold {
            hold_id: HOLD,
            usage: usage("gen-1", "1"),
            at,
        },
        AccountCommand::VoidHold { hold_id: HOLD, at },
        AccountCommand::ExpireHold { hold_id: HOLD, at },
        AccountCommand::RecordUsage {
            key_id,
            usage: usage("gen-2", "1"),
            at,
        },
        AccountCommand::RotateKey {
            key_id,
            secret_hash: SecretHash::parse(&"ef".repeat(32)).unwrap(),
            prefix: KeyPrefix::parse("ar-8").unwrap(),
            grace_s: 60,
            at,
        },
        AccountCommand::ChangeKeyExpiry {
            key_id,
            expires_at: Some(at + chrono::Duration::hours(1)),
            at,
        },
    ]
    .into_iter()
    .chain(spending_commands())
    .chain(correction_commands())
    .collect()
}

/// The money corrections on one account, one each.
fn correction_commands() -> Vec<AccountCommand> {
    vec![
        AccountCommand::AdjustCredits {
            adjustment_id: ledger_domain::AdjustmentId::from_u128(1),
            direction: account::AdjustmentDirection::Debit,
            amount: credits("5"),
            reason: TransferReason::parse("owed").unwrap(),
            ticket: TicketReference::parse("SUP-2").unwrap(),
            recovery: false,
            at: t(2),
        },
        AccountCommand::RefundPurchase {
            payment_reference: PaymentReference::parse("pi_123").unwrap(),
            at: t(2),
        },
    ]
}

/// The spending-control commands, one each.
fn spending_commands() -> Vec<AccountCommand> {
    let (at, every_day) = (t(2), limit("5", ledger_domain::LimitPeriod::Daily));
    vec![
        AccountCommand::SetBudget {
            budget: every_day,
            at,
        },
        AccountCommand::SetMemberSpendCap {
            member: BOB,
            cap: every_day,
            at,
        },
        AccountCommand::SetDefaultKeyLimit {
            limit: every_day,
            at,
        },
        AccountCommand::SetLowBalanceThreshold {
            threshold: Some(credits("25")),
            at,
        },
    ]
}

const OTHER_ORG: OrganizationId = OrganizationId::from_u128(0x0999);

/// An organization that owns another account.
fn other_org() -> OrganizationState {
    OrganizationState::from_events(&[OrganizationEvent::Created(OrganizationCreated {
        organization_id: OTHER_ORG,
        account_id: AccountId::from_u128(0x0A0999),
        created_by: ALICE,
        name: OrganizationName::parse("Other").unwrap(),
        details: None,
        at: t(0),
    })])
}

/// The organization states an application might pass, the right one first.
fn org_states() -> [(&'static str, Option<OrganizationState>); 4] {
    [
        ("the owner's", Some(org_state())),
        ("none", None),
        ("not created", Some(OrganizationState::default())),
        ("another organization's", Some(other_org())),
    ]
}

#[test]
fn every_account_command_by_every_caller_is_decided_without_a_panic_whatever_the_org_state() {
    let mut org_account = funded_org_account();
    org_account.push(hold_placed(ORG_ACCOUNT, HOLD, KEY_BOB, "1", t(0)));
    let accounts = [
        ("organization", AccountState::from_events(&org_account)),
        ("personal", AccountState::from_events(&personal_account())),
        ("missing", AccountState::default()),
    ];
    let commands = account_commands();
    assert_every_variant(&commands, 20);
    let mut decisions = Decisions::default();
    for (account_name, state) in &accounts {
        for (org_name, org) in org_states() {
            for caller in callers() {
                let context = match &state.account {
                    None => Err(DomainError::AccountNotFound),
                    Some(account) => account::auth_context(account, org.as_ref(), &caller),
                };
                if *account_name == "organization"
                    && caller.user().is_some()
                    && org_name != "the owner's"
                {
                    assert_eq!(context, Err(DomainError::OrganizationStateRequired));
                }
                for command in &commands {
                    let key = state.account.as_ref().and_then(|a| a.keys.get(&KEY_BOB));
                    let context = context
                        .clone()
                        .map(|c| account::key_auth_context(c, key, &caller));
                    decisions.check(
                        format!("{account_name} account, {org_name} org, {caller:?}, {command:?}"),
                        (&caller, command.action()),
                        context,
                        || account::decide(state, org.as_ref(), &caller, command),
                    );
                }
            }
        }
    }
    decisions.assert_none_panicked();
}

// ---- organization commands ----

fn org_commands() -> Vec<OrganizationCommand> {
    let at = t(1);
    vec![
        OrganizationCommand::Rename {
            name: OrganizationName::parse("Renamed").unwrap(),
            at,
        },
        OrganizationCommand::UpdateDetails { details: None, at },
        OrganizationCommand::InviteMember {
            invitation_id: InvitationId::from_u128(0xE),
            email: email("erin@example.com"),
            role: Role::Member,
            expires_in_s: None,
            at,
        },
        OrganizationCommand::RevokeInvitation {
            invitation_id: InvitationId::from_u128(0xC),
            at,
        },
        OrganizationCommand::ChangeRole {
            user_id: BOB,
            role: Role::Admin,
            at,
        },
        OrganizationCommand::SetMemberLimit {
            member_limit: 20,
            at,
        },
        OrganizationCommand::SetPrivacySettings {
            retention_days: 90,
            prompt_logging: true,
            at,
        },
        OrganizationCommand::SetBillingSettings {
            input: BillingSettingsInput {
                contacts: vec![],
                company_name: None,
                tax_id: None,
                address: None,
                payment_method_reference: None,
            },
            at,
        },
    ]
}

#[test]
fn every_organization_command_by_every_caller_is_decided_without_a_panic() {
    let created = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let commands = org_commands();
    assert_every_variant(&commands, 8);
    let mut decisions = Decisions::default();
    for state in [&created, &OrganizationState::default()] {
        for caller in callers() {
            for command in &commands {
                decisions.check(
                    format!("{:?}, {caller:?}, {command:?}", state.organization),
                    (&caller, command.action()),
                    organization::auth_context(state, &caller),
                    || organization::decide(state, &caller, command),
                );
            }
        }
    }
    decisions.assert_none_panicked();
}

#[test]
fn removing_and_leaving_need_the_organizations_account_state_and_never_panic_without_it() {
    let org_account = AccountState::from_events(&funded_org_account());
    let accounts = [
        ("the organization's", &org_account),
        ("missing", &AccountState::default()),
        ("another", &AccountState::from_events(&personal_account())),
    ];
    let remove = RemoveMember {
        user_id: BOB,
        at: t(1),
    };
    let leave = LeaveOrganization { at: t(1) };
    let mut decisions = Decisions::default();
    for (account_name, account) in accounts {
        for caller in callers() {
            let context = || organization::auth_context(&org_state(), &caller);
            let removed = decisions.check(
                format!("remove, {account_name} account, {caller:?}"),
                (&caller, Action::RemoveMember),
                context(),
                || organization::remove_member(&org_state(), account, &caller, &remove),
            );
            let left = decisions.check(
                format!("leave, {account_name} account, {caller:?}"),
                (&caller, Action::LeaveOrganization),
                context(),
                || organization::leave(&org_state(), account, &caller, &leave),
            );
            let expected = |allowed: Result<(), DomainError>| match account_name {
                "the organization's" => allowed,
                _ => allowed.and(Err(DomainError::AccountStateRequired)),
            };
            if let Some(removed) = removed {
                assert_eq!(removed.map(|_| ()), expected(Ok(())), "{caller:?}");
            }
            if let Some(left) = left {
                let last_admin = caller == dashboard(ALICE);
                let allowed = if last_admin {
                    Err(DomainError::LastAdmin)
                } else {
                    Ok(())
                };
                assert_eq!(left.map(|_| ()), expected(allowed), "{caller:?}");
            }
        }
    }
    decisions.assert_none_panicked();
}

/// The user stream the application loads for `caller`: its own (registered and verified,
/// or missing).
fn own_user_states(caller: &Caller) -> [UserState; 2] {
    let user = caller.user().unwrap_or(CAROL);
    [user_state(user, true), UserState::default()]
}

#[test]
fn creating_accepting_registering_and_verifying_never_panic_for_any_caller() {
    let pending = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let create = CreateOrganization {
        organization_id: OTHER_ORG,
        account_id: AccountId::from_u128(0x0A0999),
        name: OrganizationName::parse("New").unwrap(),
        details: None,
        at: t(1),
    };
    let accept = AcceptInvitation {
        invitation_id: InvitationId::from_u128(0xC),
        invitation_email: email("carol@example.com"),
        user_verified_email: email("carol@example.com"),
        at: t(1),
    };
    let erin = UserId::from_u128(0xE414);
    let register = RegisterUser {
        user_id: erin,
        personal_account_id: AccountId::from_u128(0x0AE414),
        email: email("erin@example.com"),
        at: t(1),
    };
    let verify = VerifyEmail {
        user_id: erin,
        email: email("erin@example.com"),
        at: t(1),
    };
    let mut decisions = Decisions::default();
    let global = || Ok(AuthContext::GLOBAL);
    for caller in callers() {
        for user in own_user_states(&caller) {
            let case = |what| format!("{what}, {caller:?}, {:?}", user.user);
            decisions.check(
                case("create"),
                (&caller, Action::CreateOrganization),
                global(),
                || organization::create(&OrganizationState::default(), &user, &caller, &create),
            );
            decisions.check(
                case("accept"),
                (&caller, Action::AcceptInvitation),
                global(),
                || organization::accept_invitation(&pending, &user, &caller, &accept),
            );
        }
        for user in [UserState::default(), user_state(erin, false)] {
            let case = |what| format!("{what}, {caller:?}, {:?}", user.user);
            decisions.check(
                case("register"),
                (&caller, Action::RegisterUser),
                global(),
                || user::register(&user, &caller, &register),
            );
            decisions.check(
                case("verify"),
                (&caller, Action::VerifyEmail),
                global(),
                || user::verify_email(&user, &caller, &verify),
            );
        }
    }
    decisions.assert_none_panicked();
}

#[test]
fn a_transfer_needs_the_target_organizations_state_and_never_panics_without_it() {
    let mut personal = personal_account();
    personal.push(purchased(PERSONAL, "50", DAVE));
    let accounts = [
        ("personal", AccountState::from_events(&personal)),
        ("org", AccountState::from_events(&funded_org_account())),
        ("missing", AccountState::default()),
    ];
    let id = |state: &AccountState, or| state.account.as_ref().map_or(or, |a| a.id);
    let mut decisions = Decisions::default();
    for (source_name, source) in &accounts {
        for (target_name, target) in &accounts {
            for (org_name, org) in org_states() {
                let org = org.unwrap_or_default();
                let cmd = TransferCredits {
                    transfer_id: TransferId::from_u128(0x7F),
                    from: id(source, PERSONAL),
                    to: id(target, ORG_ACCOUNT),
                    amount: credits("10"),
                    reason: TransferReason::parse("team").unwrap(),
                    ticket: TicketReference::parse("SUP-1").unwrap(),
                    at: t(2),
                };
                for caller in callers() {
                    let case = format!("{source_name} → {target_name}, {org_name} org, {caller:?}");
                    let result = decisions.check(
                        case.clone(),
                        (&caller, Action::TransferCredits),
                        Ok(AuthContext::GLOBAL),
                        || account::transfer(source, target, &org, &caller, &cmd),
                    );
                    if let (Some(result), ("personal", "org")) =
                        (result, (*source_name, *target_name))
                    {
                        let expected = match org_name {
                            "the owner's" => Ok(()),
                            _ => Err(DomainError::OrganizationStateRequired),
                        };
                        assert_eq!(result.map(|_| ()), expected, "{case}");
                    }
                }
            }
        }
    }
    decisions.assert_none_panicked();
}

#[test]
fn a_reversal_needs_both_accounts_states_and_never_panics_without_them() {
    let mut personal = personal_account();
    personal.push(purchased(PERSONAL, "50", DAVE));
    let mut org = funded_org_account();
    let transfer = TransferCredits {
        transfer_id: TransferId::from_u128(0x7F),
        from: PERSONAL,
        to: ORG_ACCOUNT,
        amount: credits("10"),
        reason: TransferReason::parse("team").unwrap(),
        ticket: TicketReference::parse("SUP-1").unwrap(),
        at: t(1),
    };
    let (source, target) = (
        AccountState::from_events(&personal),
        AccountState::from_events(&org),
    );
    let decision =
        account::transfer(&source, &target, &org_state(), &support(), &transfer).unwrap();
    for event in decision.events_for(&ORG_ACCOUNT.stream()) {
        if let ledger_domain::Event::Account(e) = event {
            org.push(e.clone());
        }
    }
    let accounts = [
        ("personal", AccountState::from_events(&personal)),
        ("org", AccountState::from_events(&org)),
        ("missing", AccountState::default()),
    ];
    let cmd = account::ReverseTransfer {
        transfer_id: transfer.transfer_id,
        account: ORG_ACCOUNT,
        reason: TransferReason::parse("mistake").unwrap(),
        ticket: TicketReference::parse("SUP-9").unwrap(),
        at: t(2),
    };
    let mut decisions = Decisions::default();
    for (target_name, target) in &accounts {
        for (source_name, source) in &accounts {
            for caller in callers() {
                let case = format!("{target_name} ← {source_name}, {caller:?}");
                let result = decisions.check(
                    case.clone(),
                    (&caller, Action::ReverseTransfer),
                    Ok(AuthContext::GLOBAL),
                    || account::reverse_transfer(target, source, &caller, &cmd),
                );
                if let (Some(result), ("org", "personal")) = (result, (*target_name, *source_name))
                {
                    assert!(result.is_ok(), "{case}: {result:?}");
                }
            }
        }
    }
    decisions.assert_none_panicked();
}
