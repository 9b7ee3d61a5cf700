//! Property tests over random command sequences: balances equal their fold, holds never
//! overshoot, transfers never take a source below zero, members never exceed the limit, an
//! organization always keeps an admin, and deciding is deterministic.

use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use ledger_domain::account::{
    self, AccountCommand, AccountEvent, AccountState, TransferCredits, UsageReport,
};
use ledger_domain::organization::{
    self, AcceptInvitation, LeaveOrganization, OrganizationCommand, OrganizationEvent,
    OrganizationState, RemoveMember,
};
use ledger_domain::text::{PaymentReference, TicketReference, TransferReason};
use ledger_domain::{
    Caller, Credits, Decision, DomainError, Event, HoldId, InvitationId, KeyId, LimitPeriod, Role,
    TransferId, UserId,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
enum Op {
    Purchase {
        personal: bool,
        cents: u32,
    },
    Place {
        personal: bool,
        key: u8,
        hold: u8,
        micros: u32,
    },
    Settle {
        personal: bool,
        hold: u8,
        micros: u32,
    },
    Void {
        personal: bool,
        hold: u8,
    },
    Expire {
        personal: bool,
        hold: u8,
    },
    Record {
        personal: bool,
        key: u8,
        micros: u32,
    },
    Transfer {
        cents: u32,
    },
    Advance {
        hours: u8,
    },
    SetLimit {
        key: u8,
        cents: Option<u32>,
        period: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 1..5_000u32).prop_map(|(personal, cents)| Op::Purchase { personal, cents }),
        (any::<bool>(), 0..3u8, 0..6u8, 0..20_000_000u32).prop_map(
            |(personal, key, hold, micros)| Op::Place {
                personal,
                key,
                hold,
                micros
            }
        ),
        (any::<bool>(), 0..6u8, 0..30_000_000u32).prop_map(|(personal, hold, micros)| Op::Settle {
            personal,
            hold,
            micros
        }),
        (any::<bool>(), 0..6u8).prop_map(|(personal, hold)| Op::Void { personal, hold }),
        (any::<bool>(), 0..6u8).prop_map(|(personal, hold)| Op::Expire { personal, hold }),
        (any::<bool>(), 0..3u8, 0..10_000_000u32).prop_map(|(personal, key, micros)| Op::Record {
            personal,
            key,
            micros
        }),
        (1..3_000u32).prop_map(|cents| Op::Transfer { cents }),
        (0..30u8).prop_map(|hours| Op::Advance { hours }),
        (0..3u8, proptest::option::of(1..3_000u32), 0..4u8)
            .prop_map(|(key, cents, period)| Op::SetLimit { key, cents, period }),
    ]
}

/// Totals tracked independently of the aggregate, from accepted commands.
#[derive(Debug, Default, Clone, PartialEq)]
struct Model {
    credited: Decimal,
    debited: Decimal,
}

struct World {
    org: OrganizationState,
    accounts: [AccountState; 2], // [org account, personal]
    models: [Model; 2],
    now: DateTime<Utc>,
    generation: u64,
    log: Vec<Event>,
}

const ORG_KEYS: [KeyId; 3] = [KEY_ALICE, KEY_BOB, KeyId::from_u128(0x4)];

fn micros(n: u32) -> Credits {
    Credits::usage_cost(Decimal::new(i64::from(n), 6)).unwrap()
}

fn cents(n: u32) -> Credits {
    Credits::purchase(Decimal::new(i64::from(n), 2)).unwrap()
}

impl World {
    fn new() -> Self {
        let mut org_acc = funded_org_account();
        org_acc.push(key_created(
            ORG_ACCOUNT,
            ORG_KEYS[2],
            BOB,
            limit("3", LimitPeriod::Daily),
        ));
        let mut personal = personal_account();
        personal.push(key_created(
            PERSONAL,
            KEY_DAVE,
            DAVE,
            limit("2", LimitPeriod::Weekly),
        ));
        let mut models: [Model; 2] = Default::default();
        models[0].credited = Decimal::from(100);
        World {
            org: org_state(),
            accounts: [
                AccountState::from_events(&org_acc),
                AccountState::from_events(&personal),
            ],
            models,
            now: t(0),
            generation: 0,
            log: Vec::new(),
        }
    }

    fn idx(personal: bool) -> usize {
        usize::from(personal)
    }

    fn key(personal: bool, key: u8) -> KeyId {
        if personal {
            KEY_DAVE
        } else {
            ORG_KEYS[usize::from(key) % 3]
        }
    }

    fn apply(&mut self, decision: &Decision) {
        for event in decision.events() {
            self.log.push(event.clone());
            if let Event::Account(e) = event {
                let i = if e.account_id() == ORG_ACCOUNT { 0 } else { 1 };
                self.accounts[i].evolve(e);
            }
        }
    }

    fn run(
        &mut self,
        personal: bool,
        caller: Caller,
        cmd: AccountCommand,
    ) -> Result<Decision, DomainError> {
        let i = Self::idx(personal);
        let result = account::decide(&self.accounts[i], Some(&self.org), &caller, &cmd);
        if let Ok(decision) = &result {
            self.apply(decision);
        }
        result
    }

    /// Bills `cost` through the gateway's `command` (a fresh generation each time), and
    /// counts it in the model when accepted.
    fn bill(
        &mut self,
        personal: bool,
        cost: Credits,
        command: impl FnOnce(UsageReport) -> AccountCommand,
    ) -> Result<Decision, DomainError> {
        self.generation += 1;
        let mut report = usage(&format!("gen-{}", self.generation), "0");
        report.cost = cost;
        let result = self.run(personal, Caller::Gateway, command(report));
        if result.is_ok() {
            self.models[Self::idx(personal)].debited += cost.amount();
        }
        result
    }

    fn step(&mut self, op: &Op) {
        let now = self.now;
        match *op {
            Op::Purchase { personal, cents: c } => {
                let caller = if personal {
                    dashboard(DAVE)
                } else {
                    dashboard(ALICE)
                };
                let cmd = AccountCommand::PurchaseCredits {
                    amount: cents(c),
                    payment_reference: PaymentReference::parse("pi").unwrap(),
                    at: now,
                };
                self.run(personal, caller, cmd).unwrap();
                self.models[Self::idx(personal)].credited += cents(c).amount();
            }
            Op::Place {
                personal,
                key,
                hold,
                micros: m,
            } => {
                let i = Self::idx(personal);
                let key_id = Self::key(personal, key);
                let before = self.accounts[i].account.clone().unwrap();
                let estimate = micros(m);
                let cmd = AccountCommand::PlaceHold {
                    hold_id: HoldId::from_u128(u128::from(hold)),
                    key_id,
                    estimate,
                    ttl_s: 3_600,
                    at: now,
                };
                match self.run(personal, Caller::Gateway, cmd) {
                    Ok(_) => {
                        let after = self.accounts[i].account.as_ref().unwrap();
                        assert!(
                            after.available() >= Decimal::ZERO,
                            "a hold overshot the balance"
                        );
                        let k = after.key(key_id).unwrap();
                        if let Some(l) = k.limit {
                            assert!(
                                k.spend.spent_in(l.reset, now) + k.held <= l.amount.amount(),
                                "a hold overshot the key limit"
                            );
                        }
                    }
                    Err(DomainError::InsufficientAvailableBalance {
                        available,
                        requested,
                    }) => {
                        assert_eq!(available, before.available());
                        assert!(available < requested);
                    }
                    Err(DomainError::KeyLimitExceeded {
                        remaining,
                        requested,
                        ..
                    }) => assert!(remaining < requested),
                    Err(DomainError::HoldAlreadyExists(_)) => {}
                    Err(other) => panic!("unexpected refusal {other:?}"),
                }
            }
            Op::Settle {
                personal,
                hold,
                micros: m,
            } => {
                let hold_id = HoldId::from_u128(u128::from(hold));
                let settle = |usage| AccountCommand::SettleHold {
                    hold_id,
                    usage,
                    at: now,
                };
                if let Err(e) = self.bill(personal, micros(m), settle) {
                    assert!(matches!(e, DomainError::HoldNotOpen(_)), "{e:?}");
                }
            }
            Op::Void { personal, hold } | Op::Expire { personal, hold } => {
                let hold_id = HoldId::from_u128(u128::from(hold));
                let expire = matches!(op, Op::Expire { .. });
                let (caller, cmd) = if expire {
                    let cmd = AccountCommand::ExpireHold { hold_id, at: now };
                    (Caller::System, cmd)
                } else {
                    let cmd = AccountCommand::VoidHold { hold_id, at: now };
                    (Caller::Gateway, cmd)
                };
                if let Err(e) = self.run(personal, caller, cmd) {
                    // Only the expiry task may be early.
                    let early = expire && matches!(e, DomainError::HoldNotExpired { .. });
                    assert!(early || matches!(e, DomainError::HoldNotOpen(_)), "{e:?}");
                }
            }
            Op::Record {
                personal,
                key,
                micros: m,
            } => {
                let record = |usage| AccountCommand::RecordUsage {
                    key_id: Self::key(personal, key),
                    usage,
                    at: now,
                };
                self.bill(personal, micros(m), record)
                    .expect("usage without a hold is always accepted");
            }
            Op::Transfer { cents: c } => {
                let cmd = TransferCredits {
                    transfer_id: TransferId::from_u128(u128::from(self.generation)),
                    from: PERSONAL,
                    to: ORG_ACCOUNT,
                    amount: cents(c),
                    reason: TransferReason::parse("r").unwrap(),
                    ticket: TicketReference::parse("t").unwrap(),
                    at: now,
                };
                let result = account::transfer(
                    &self.accounts[1],
                    &self.accounts[0],
                    &self.org,
                    &support(),
                    &cmd,
                );
                match result {
                    Ok(decision) => {
                        self.apply(&decision);
                        self.models[1].debited += cents(c).amount();
                        self.models[0].credited += cents(c).amount();
                        let source = self.accounts[1].account.as_ref().unwrap();
                        assert!(
                            source.available() >= Decimal::ZERO,
                            "a transfer took the source below zero"
                        );
                    }
                    Err(e) => assert!(
                        matches!(e, DomainError::InsufficientAvailableBalance { .. }),
                        "{e:?}"
                    ),
                }
            }
            Op::Advance { hours } => self.now += Duration::hours(i64::from(hours)),
            Op::SetLimit {
                key,
                cents: c,
                period,
            } => {
                let reset = [
                    LimitPeriod::Daily,
                    LimitPeriod::Weekly,
                    LimitPeriod::Monthly,
                    LimitPeriod::Lifetime,
                ][usize::from(period)];
                let limit = c.map(|c| ledger_domain::account::KeyLimit {
                    amount: cents(c),
                    reset,
                });
                let cmd = AccountCommand::ChangeKeyLimit {
                    key_id: Self::key(false, key),
                    limit,
                    at: now,
                };
                self.run(false, dashboard(ALICE), cmd).unwrap();
            }
        }
        self.check();
    }

    fn check(&self) {
        for (state, model) in self.accounts.iter().zip(&self.models) {
            let account = state.account.as_ref().unwrap();
            let t = &account.totals;
            assert_eq!(
                account.balance,
                model.credited - model.debited,
                "balance differs from the model"
            );
            assert_eq!(
                account.balance,
                t.purchased + t.transferred_in - t.transferred_out - t.used
            );
            let open: Decimal = account.holds.values().map(|h| h.amount).sum();
            assert_eq!(account.available(), account.balance - open);
            for (key_id, key) in &account.keys {
                let held: Decimal = account
                    .holds
                    .values()
                    .filter(|h| h.key_id == *key_id)
                    .map(|h| h.amount)
                    .sum();
                assert_eq!(key.held, held);
            }
        }
    }
}

fn run_world(ops: &[Op]) -> (Vec<Event>, [AccountState; 2]) {
    let mut world = World::new();
    for op in ops {
        world.step(op);
    }
    (world.log, world.accounts)
}

proptest! {
    #[test]
    fn account_invariants_hold_for_any_command_sequence(ops in proptest::collection::vec(op(), 1..60)) {
        let first = run_world(&ops);
        // Deterministic: the same commands give the same events and state.
        let second = run_world(&ops);
        prop_assert_eq!(&first.0, &second.0);
        prop_assert_eq!(&first.1, &second.1);
        // The state is a fold of the log.
        let replayed: Vec<AccountEvent> = first.0.iter().filter_map(|e| match e {
            Event::Account(e) if e.account_id() == ORG_ACCOUNT => Some(e.clone()),
            _ => None,
        }).collect();
        let mut base = funded_org_account();
        base.push(key_created(ORG_ACCOUNT, ORG_KEYS[2], BOB, limit("3", LimitPeriod::Daily)));
        base.extend(replayed);
        prop_assert_eq!(&AccountState::from_events(&base), &first.1[0]);
    }
}

// ---- organizations ----

#[derive(Debug, Clone)]
enum OrgOp {
    Invite {
        by: u8,
        admin: bool,
    },
    Accept {
        user: u8,
        invitation: u8,
        matching: bool,
    },
    Revoke {
        by: u8,
        invitation: u8,
    },
    Remove {
        by: u8,
        target: u8,
    },
    Leave {
        user: u8,
    },
    ChangeRole {
        by: u8,
        target: u8,
        admin: bool,
    },
    SetLimit {
        limit: u8,
    },
}

fn org_op() -> impl Strategy<Value = OrgOp> {
    prop_oneof![
        (0..14u8, any::<bool>()).prop_map(|(by, admin)| OrgOp::Invite { by, admin }),
        (0..14u8, 0..40u8, any::<bool>()).prop_map(|(user, invitation, matching)| OrgOp::Accept {
            user,
            invitation,
            matching
        }),
        (0..14u8, 0..40u8).prop_map(|(by, invitation)| OrgOp::Revoke { by, invitation }),
        (0..14u8, 0..14u8).prop_map(|(by, target)| OrgOp::Remove { by, target }),
        (0..14u8).prop_map(|user| OrgOp::Leave { user }),
        (0..14u8, 0..14u8, any::<bool>()).prop_map(|(by, target, admin)| OrgOp::ChangeRole {
            by,
            target,
            admin
        }),
        (0..16u8).prop_map(|limit| OrgOp::SetLimit { limit }),
    ]
}

fn user(n: u8) -> UserId {
    UserId::from_u128(0x5000 + u128::from(n))
}

fn run_org(ops: &[OrgOp]) -> (Vec<OrganizationEvent>, OrganizationState) {
    let mut state = org_state();
    let account = AccountState::from_events(&funded_org_account());
    let mut invitations = 0u8;
    let mut log = Vec::new();
    let at = t(1);
    for op in ops {
        let role = |admin| if admin { Role::Admin } else { Role::Member };
        let result = match *op {
            OrgOp::Invite { by, admin } => {
                invitations = invitations.wrapping_add(1);
                let cmd = OrganizationCommand::InviteMember {
                    invitation_id: InvitationId::from_u128(u128::from(invitations % 40)),
                    email: email(&format!("u{}@x.example", invitations % 14)),
                    role: role(admin),
                    expires_in_s: None,
                    at,
                };
                let by = if by == 0 { ALICE } else { user(by) };
                organization::decide(&state, &dashboard(by), &cmd)
            }
            OrgOp::Accept {
                user: u,
                invitation,
                matching,
            } => {
                let cmd = AcceptInvitation {
                    invitation_id: InvitationId::from_u128(u128::from(invitation)),
                    invitation_email: email(&format!("u{u}@x.example")),
                    user_verified_email: email(&format!(
                        "u{}@x.example",
                        if matching { u } else { u + 1 }
                    )),
                    at,
                };
                organization::accept_invitation(
                    &state,
                    &user_state(user(u), true),
                    &dashboard(user(u)),
                    &cmd,
                )
            }
            OrgOp::Revoke { by, invitation } => {
                let cmd = OrganizationCommand::RevokeInvitation {
                    invitation_id: InvitationId::from_u128(u128::from(invitation)),
                    at,
                };
                organization::decide(
                    &state,
                    &dashboard(if by == 0 { ALICE } else { user(by) }),
                    &cmd,
                )
            }
            OrgOp::Remove { by, target } => {
                let by = if by == 0 { ALICE } else { user(by) };
                let target = if target == 0 { ALICE } else { user(target) };
                organization::remove_member(
                    &state,
                    &account,
                    &dashboard(by),
                    &RemoveMember {
                        user_id: target,
                        at,
                    },
                )
            }
            OrgOp::Leave { user: u } => {
                let u = if u == 0 { ALICE } else { user(u) };
                organization::leave(&state, &account, &dashboard(u), &LeaveOrganization { at })
            }
            OrgOp::ChangeRole { by, target, admin } => {
                let by = if by == 0 { ALICE } else { user(by) };
                let target = if target == 0 { ALICE } else { user(target) };
                organization::decide(
                    &state,
                    &dashboard(by),
                    &OrganizationCommand::ChangeRole {
                        user_id: target,
                        role: role(admin),
                        at,
                    },
                )
            }
            OrgOp::SetLimit { limit } => organization::decide(
                &state,
                &support(),
                &OrganizationCommand::SetMemberLimit {
                    member_limit: u32::from(limit),
                    at,
                },
            ),
        };
        if let Ok(decision) = result {
            for event in decision.events() {
                if let Event::Organization(e) = event {
                    state.evolve(e);
                    log.push(e.clone());
                }
            }
        }
        let org = state.organization.as_ref().unwrap();
        assert!(
            org.admin_count() >= 1,
            "an organization lost its last admin"
        );
        assert!(
            org.member_count() <= org.member_limit,
            "members exceed the limit"
        );
    }
    (log, state)
}

proptest! {
    #[test]
    fn organizations_keep_an_admin_and_stay_within_their_member_limit(ops in proptest::collection::vec(org_op(), 1..80)) {
        let first = run_org(&ops);
        let second = run_org(&ops);
        prop_assert_eq!(first, second);
    }
}
