//! Given / when / then: the organization stream and its cross-stream commands.

use crate::support::*;
use chrono::Duration;
use ledger_domain::account::{AccountEvent, AccountOpened, AccountOwner, AccountState};
use ledger_domain::organization::{
    self, AcceptInvitation, BillingSettingsInput, BillingSettingsSet, CreateOrganization,
    InvitationRevoked, LeaveOrganization, MemberLeft, MemberLimitSet, MemberRemoved,
    MemberRoleChanged, OrganizationCommand, OrganizationCreated, OrganizationDetailsUpdated,
    OrganizationEvent, OrganizationRenamed, OrganizationState, PrivacySettingsSet, RemoveMember,
};
use ledger_domain::text::{
    CompanyName, OrganizationDetails, OrganizationName, PaymentMethodReference,
};
use ledger_domain::user::UserState;
use ledger_domain::{
    Action, Caller, CallerKind, Decision, Denial, DomainError, Event, ExpectedVersion, Field,
    InputError, InvitationId, OrganizationId, Role, UserId,
};

fn decide(
    state: &OrganizationState,
    caller: Caller,
    cmd: OrganizationCommand,
) -> Result<Vec<OrganizationEvent>, DomainError> {
    let decision = organization::decide(state, &caller, &cmd)?;
    let events = org_events_of(&decision);
    let mut after = state.clone();
    events.iter().for_each(|e| after.evolve(e));
    Ok(events)
}

fn create_cmd() -> CreateOrganization {
    CreateOrganization {
        organization_id: OrganizationId::from_u128(0x0999),
        account_id: ledger_domain::AccountId::from_u128(0x0A0999),
        name: OrganizationName::parse("Research").unwrap(),
        details: Some(OrganizationDetails::parse("line one\nline two").unwrap()),
        at: t(1),
    }
}

fn invite(id: u128, role: Role) -> OrganizationCommand {
    OrganizationCommand::InviteMember {
        invitation_id: InvitationId::from_u128(id),
        email: email("carol@example.com"),
        role,
        expires_in_s: None,
        at: t(1),
    }
}

fn accept(id: u128, at_hours: i64) -> AcceptInvitation {
    AcceptInvitation {
        invitation_id: InvitationId::from_u128(id),
        invitation_email: email("carol@example.com"),
        user_verified_email: email("Carol@Example.com"),
        at: t(at_hours),
    }
}

/// `caller` asks to create an organization (`create_cmd`) with the acting user's stream `user`.
fn create_as(
    state: &OrganizationState,
    user: &UserState,
    caller: Caller,
) -> Result<Decision, DomainError> {
    organization::create(state, user, &caller, &create_cmd())
}

/// `user`, with a verified email or not, accepts with `cmd`.
fn accept_as(
    state: &OrganizationState,
    user: UserId,
    verified: bool,
    cmd: &AcceptInvitation,
) -> Result<Decision, DomainError> {
    organization::accept_invitation(state, &user_state(user, verified), &dashboard(user), cmd)
}

// ---- create ----

#[test]
fn a_verified_user_creates_an_organization_and_becomes_its_admin() {
    let cmd = create_cmd();
    let decision = create_as(
        &OrganizationState::default(),
        &user_state(CAROL, true),
        dashboard(CAROL),
    )
    .unwrap();
    let created = OrganizationEvent::Created(OrganizationCreated {
        organization_id: cmd.organization_id,
        account_id: cmd.account_id,
        created_by: CAROL,
        name: cmd.name.clone(),
        details: cmd.details.clone(),
        at: t(1),
    });
    assert_eq!(
        decision.changes[0].events,
        vec![Event::Organization(created.clone())]
    );
    assert_eq!(decision.changes[0].expected, ExpectedVersion::NoStream);
    // The account is new: an organization is never converted from a personal account.
    assert_eq!(decision.changes[1].stream, cmd.account_id.stream());
    assert_eq!(decision.changes[1].expected, ExpectedVersion::NoStream);
    assert_eq!(
        decision.changes[1].events,
        vec![Event::Account(AccountEvent::Opened(AccountOpened {
            account_id: cmd.account_id,
            owner: AccountOwner::Organization {
                organization_id: cmd.organization_id
            },
            at: t(1),
        }))]
    );
    // The creator's stream was read: a precondition.
    assert_eq!(decision.changes[2].stream, CAROL.stream());
    assert!(decision.changes[2].events.is_empty());
    let state = OrganizationState::from_events(&[created]);
    assert_eq!(state.role_of(CAROL), Some(Role::Admin));
}

#[test]
fn a_user_without_a_verified_email_cannot_create_an_organization() {
    let result = create_as(
        &OrganizationState::default(),
        &user_state(CAROL, false),
        dashboard(CAROL),
    );
    assert_eq!(result, Err(DomainError::EmailNotVerified));
}

#[test]
fn an_unregistered_user_cannot_create_an_organization() {
    let result = create_as(
        &OrganizationState::default(),
        &UserState::default(),
        dashboard(CAROL),
    );
    assert_eq!(result, Err(DomainError::UserNotFound));
}

#[test]
fn an_organization_id_cannot_be_created_twice() {
    let result = create_as(&org_state(), &user_state(CAROL, true), dashboard(CAROL));
    assert_eq!(result, Err(DomainError::OrganizationAlreadyExists));
}

#[test]
fn only_dashboard_users_create_organizations() {
    let result = create_as(
        &OrganizationState::default(),
        &user_state(CAROL, true),
        support(),
    );
    assert_eq!(
        result,
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Support,
            action: Action::CreateOrganization
        }))
    );
}

// ---- rename / details ----

#[test]
fn an_admin_renames_the_organization_and_updates_its_details() {
    let name = OrganizationName::parse("Acme Labs").unwrap();
    let events = decide(
        &org_state(),
        dashboard(ALICE),
        OrganizationCommand::Rename {
            name: name.clone(),
            at: t(1),
        },
    );
    assert_eq!(
        events,
        Ok(vec![OrganizationEvent::Renamed(OrganizationRenamed {
            organization_id: ORG,
            name,
            by: ALICE,
            at: t(1)
        })])
    );
    let events = decide(
        &org_state(),
        dashboard(ALICE),
        OrganizationCommand::UpdateDetails {
            details: None,
            at: t(1),
        },
    );
    assert_eq!(
        events,
        Ok(vec![OrganizationEvent::DetailsUpdated(
            OrganizationDetailsUpdated {
                organization_id: ORG,
                details: None,
                by: ALICE,
                at: t(1)
            }
        )])
    );
}

#[test]
fn a_member_cannot_rename_the_organization() {
    let cmd = OrganizationCommand::Rename {
        name: OrganizationName::parse("X").unwrap(),
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), dashboard(BOB), cmd.clone()),
        Err(denied(Denial::AdminsOnly))
    );
    assert_eq!(
        decide(&org_state(), dashboard(CAROL), cmd.clone()),
        Err(denied(Denial::NotAMember))
    );
    assert_eq!(
        decide(&OrganizationState::default(), dashboard(ALICE), cmd),
        Err(DomainError::OrganizationNotFound)
    );
}

#[test]
fn organization_names_and_details_are_bounded() {
    assert!(OrganizationName::parse(&"n".repeat(101)).is_err());
    assert!(OrganizationDetails::parse(&"d".repeat(1000)).is_ok());
    assert!(OrganizationDetails::parse(&"d".repeat(1001)).is_err());
    assert!(OrganizationName::parse("a\u{1b}b").is_err());
}

// ---- invite ----

#[test]
fn an_admin_invites_by_email_with_a_role_expiring_in_seven_days_by_default() {
    let events = decide(&org_state(), dashboard(ALICE), invite(0xC, Role::Admin)).unwrap();
    let [OrganizationEvent::MemberInvited(e)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(e.role, Role::Admin);
    assert_eq!(e.expires_at, t(1) + Duration::days(7));
    assert_eq!(e.invited_by, ALICE);
}

#[test]
fn an_invitation_lifetime_may_be_chosen_between_one_hour_and_thirty_days() {
    let with = |s| OrganizationCommand::InviteMember {
        invitation_id: InvitationId::from_u128(0xC),
        email: email("carol@example.com"),
        role: Role::Member,
        expires_in_s: Some(s),
        at: t(1),
    };
    assert!(decide(&org_state(), dashboard(ALICE), with(3_600)).is_ok());
    assert!(decide(&org_state(), dashboard(ALICE), with(30 * 86_400)).is_ok());
    for bad in [3_599, 30 * 86_400 + 1] {
        let err = decide(&org_state(), dashboard(ALICE), with(bad)).unwrap_err();
        assert_eq!(
            err.kind(),
            ledger_domain::ErrorKind::InvalidArgument {
                field: Field::InvitationExpiry
            }
        );
    }
}

#[test]
fn a_member_cannot_invite() {
    assert_eq!(
        decide(&org_state(), dashboard(BOB), invite(0xC, Role::Member)),
        Err(denied(Denial::AdminsOnly))
    );
}

#[test]
fn an_invitation_id_cannot_be_reused_while_pending() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    assert_eq!(
        decide(&state, dashboard(ALICE), invite(0xC, Role::Member)),
        Err(DomainError::InvitationAlreadyExists(
            InvitationId::from_u128(0xC)
        ))
    );
}

#[test]
fn pending_invitations_are_bounded_and_expired_ones_are_forgotten() {
    let many: Vec<_> = (0..1_000u128)
        .map(|i| invited(0x10_000 + i, Role::Member, t(0)))
        .collect();
    let state = org_with(many);
    assert_eq!(
        decide(&state, dashboard(ALICE), invite(0xC, Role::Member)),
        Err(DomainError::TooManyPendingInvitations { max: 1_000 })
    );
    // Eight days later they have expired: a new invitation is accepted and prunes them.
    let later = OrganizationCommand::InviteMember {
        invitation_id: InvitationId::from_u128(0xC),
        email: email("carol@example.com"),
        role: Role::Member,
        expires_in_s: None,
        at: t(24 * 8),
    };
    let events = decide(&state, dashboard(ALICE), later).unwrap();
    let mut after = state.clone();
    after.evolve(&events[0]);
    assert_eq!(after.organization.unwrap().invitations.len(), 1);
}

// ---- accept ----

#[test]
fn the_invitee_with_the_matching_verified_email_joins_with_the_invited_role() {
    let state = org_with(vec![invited(0xC, Role::Admin, t(0))]);
    let decision = accept_as(&state, CAROL, true, &accept(0xC, 1)).unwrap();
    assert_eq!(
        org_events_of(&decision),
        vec![joined_at(0xC, CAROL, Role::Admin, 1)]
    );
    assert_eq!(decision.changes[1].stream, CAROL.stream());
    assert!(decision.changes[1].events.is_empty());
}

fn joined_at(id: u128, user: UserId, role: Role, hours: i64) -> OrganizationEvent {
    OrganizationEvent::InvitationAccepted(ledger_domain::organization::InvitationAccepted {
        organization_id: ORG,
        invitation_id: InvitationId::from_u128(id),
        user_id: user,
        role,
        at: t(hours),
    })
}

#[test]
fn an_expired_invitation_cannot_be_accepted() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let result = accept_as(&state, CAROL, true, &accept(0xC, 24 * 7));
    assert_eq!(
        result,
        Err(DomainError::InvitationExpired {
            expires_at: t(24 * 7)
        })
    );
}

#[test]
fn an_invitation_cannot_be_accepted_with_another_email() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let mut cmd = accept(0xC, 1);
    cmd.user_verified_email = email("mallory@example.com");
    let result = accept_as(&state, CAROL, true, &cmd);
    assert_eq!(result, Err(DomainError::InvitationEmailMismatch));
}

#[test]
fn an_invitation_cannot_be_accepted_without_a_verified_email() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let result = accept_as(&state, CAROL, false, &accept(0xC, 1));
    assert_eq!(result, Err(DomainError::EmailNotVerified));
}

#[test]
fn a_member_cannot_join_twice() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let result = accept_as(&state, BOB, true, &accept(0xC, 1));
    assert_eq!(result, Err(DomainError::AlreadyMember(BOB)));
}

#[test]
fn an_invitation_cannot_be_accepted_when_the_organization_is_full() {
    let mut extra = vec![];
    for i in 0..7u128 {
        extra.push(invited(0x100 + i, Role::Member, t(0)));
        extra.push(joined(
            0x100 + i,
            UserId::from_u128(0x1000 + i),
            Role::Member,
        ));
    }
    extra.push(invited(0xC, Role::Member, t(0)));
    let state = org_with(extra); // 3 + 7 = 10 members
    let result = accept_as(&state, CAROL, true, &accept(0xC, 1));
    assert_eq!(result, Err(DomainError::MemberLimitReached { limit: 10 }));
}

#[test]
fn an_unknown_or_revoked_invitation_cannot_be_accepted() {
    let revoked = OrganizationEvent::InvitationRevoked(InvitationRevoked {
        organization_id: ORG,
        invitation_id: InvitationId::from_u128(0xC),
        by: ALICE,
        at: t(0),
    });
    let state = org_with(vec![invited(0xC, Role::Member, t(0)), revoked]);
    let result = accept_as(&state, CAROL, true, &accept(0xC, 1));
    assert_eq!(
        result,
        Err(DomainError::InvitationNotFound(InvitationId::from_u128(
            0xC
        )))
    );
}

// ---- revoke ----

#[test]
fn an_admin_revokes_a_pending_invitation() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let cmd = OrganizationCommand::RevokeInvitation {
        invitation_id: InvitationId::from_u128(0xC),
        at: t(1),
    };
    assert_eq!(
        decide(&state, dashboard(ALICE), cmd.clone()),
        Ok(vec![OrganizationEvent::InvitationRevoked(
            InvitationRevoked {
                organization_id: ORG,
                invitation_id: InvitationId::from_u128(0xC),
                by: ALICE,
                at: t(1)
            }
        )])
    );
    assert_eq!(
        decide(&state, dashboard(BOB), cmd),
        Err(denied(Denial::AdminsOnly))
    );
    let unknown = OrganizationCommand::RevokeInvitation {
        invitation_id: InvitationId::from_u128(0xE),
        at: t(1),
    };
    assert_eq!(
        decide(&state, dashboard(ALICE), unknown),
        Err(DomainError::InvitationNotFound(InvitationId::from_u128(
            0xE
        )))
    );
}

// ---- remove / leave ----

/// `caller` removes `user`; BOB's keys are those of [`account_with_keys`].
fn remove(
    state: &OrganizationState,
    caller: Caller,
    user: UserId,
) -> Result<Decision, DomainError> {
    let cmd = RemoveMember {
        user_id: user,
        at: t(1),
    };
    organization::remove_member(state, &account_with_keys(), &caller, &cmd)
}

/// `caller` leaves; BOB's keys are those of [`account_with_keys`].
fn leave(state: &OrganizationState, caller: Caller) -> Result<Decision, DomainError> {
    let cmd = LeaveOrganization { at: t(1) };
    organization::leave(state, &account_with_keys(), &caller, &cmd)
}

fn account_with_keys() -> AccountState {
    let mut events = funded_org_account();
    events.push(key_created(ORG_ACCOUNT, KEY_DAVE, BOB, None)); // BOB's second key
    events.push(key_deleted(KEY_DAVE, BOB, t(0)));
    AccountState::from_events(&events)
}

#[test]
fn an_admin_removes_a_member_and_the_keys_they_created_are_disabled() {
    let account = account_with_keys();
    let decision = remove(&org_state(), dashboard(ALICE), BOB).unwrap();
    assert_eq!(
        org_events_of(&decision),
        vec![OrganizationEvent::MemberRemoved(MemberRemoved {
            organization_id: ORG,
            user_id: BOB,
            by: ALICE,
            at: t(1)
        })]
    );
    // Only BOB's live key; the deleted one stays deleted, ALICE's is untouched.
    assert_eq!(
        account_events(&decision),
        vec![key_disabled(KEY_BOB, "creator_removed", ALICE, t(1))]
    );
    assert_eq!(
        decision.changes[1].expected,
        ExpectedVersion::Exact(account.version)
    );
}

#[test]
fn the_last_admin_cannot_be_removed() {
    let result = remove(&org_state(), dashboard(ALICE), ALICE);
    assert_eq!(result, Err(DomainError::LastAdmin));
}

#[test]
fn removing_requires_an_admin_and_a_member() {
    let refused = [
        (BOB, DAVE, denied(Denial::AdminsOnly)),
        (CAROL, DAVE, denied(Denial::NotAMember)),
        (ALICE, CAROL, DomainError::MemberNotFound(CAROL)),
    ];
    for (by, user, error) in refused {
        assert_eq!(remove(&org_state(), dashboard(by), user), Err(error));
    }
}

#[test]
fn an_admin_can_be_removed_by_another_admin() {
    let state = org_with(vec![role_changed(BOB, Role::Admin)]);
    let result = remove(&state, dashboard(BOB), ALICE);
    assert!(result.is_ok());
}

#[test]
fn a_member_leaves_and_the_keys_they_created_are_disabled() {
    let decision = leave(&org_state(), dashboard(BOB)).unwrap();
    assert_eq!(
        org_events_of(&decision),
        vec![OrganizationEvent::MemberLeft(MemberLeft {
            organization_id: ORG,
            user_id: BOB,
            at: t(1)
        })]
    );
    assert_eq!(
        account_events(&decision),
        vec![key_disabled(KEY_BOB, "creator_left", BOB, t(1))]
    );
}

#[test]
fn the_last_admin_cannot_leave() {
    let result = leave(&org_state(), dashboard(ALICE));
    assert_eq!(result, Err(DomainError::LastAdmin));
}

#[test]
fn a_non_member_cannot_leave() {
    let result = leave(&org_state(), dashboard(CAROL));
    assert_eq!(result, Err(denied(Denial::NotAMember)));
}

// ---- roles ----

fn role_changed(user: UserId, role: Role) -> OrganizationEvent {
    OrganizationEvent::MemberRoleChanged(MemberRoleChanged {
        organization_id: ORG,
        user_id: user,
        role,
        by: ALICE,
        at: t(0),
    })
}

#[test]
fn an_admin_changes_a_members_role() {
    let cmd = OrganizationCommand::ChangeRole {
        user_id: BOB,
        role: Role::Admin,
        at: t(0),
    };
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), cmd),
        Ok(vec![role_changed(BOB, Role::Admin)])
    );
}

#[test]
fn the_last_admin_cannot_be_demoted() {
    let cmd = OrganizationCommand::ChangeRole {
        user_id: ALICE,
        role: Role::Member,
        at: t(0),
    };
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), cmd.clone()),
        Err(DomainError::LastAdmin)
    );
    let two_admins = org_with(vec![role_changed(BOB, Role::Admin)]);
    assert!(decide(&two_admins, dashboard(BOB), cmd).is_ok());
}

#[test]
fn changing_a_role_needs_an_admin_and_a_member_and_same_role_changes_nothing() {
    let to_admin = |user| OrganizationCommand::ChangeRole {
        user_id: user,
        role: Role::Admin,
        at: t(0),
    };
    assert_eq!(
        decide(&org_state(), dashboard(BOB), to_admin(DAVE)),
        Err(denied(Denial::AdminsOnly))
    );
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), to_admin(CAROL)),
        Err(DomainError::MemberNotFound(CAROL))
    );
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), to_admin(ALICE)),
        Ok(vec![])
    );
}

// ---- member limit ----

#[test]
fn support_sets_the_member_limit() {
    let cmd = OrganizationCommand::SetMemberLimit {
        member_limit: 50,
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), support(), cmd),
        Ok(vec![OrganizationEvent::MemberLimitSet(MemberLimitSet {
            organization_id: ORG,
            member_limit: 50,
            staff_id: STAFF,
            at: t(1)
        })])
    );
}

#[test]
fn the_member_limit_cannot_go_below_the_member_count_or_beyond_its_bounds() {
    let set = |n| OrganizationCommand::SetMemberLimit {
        member_limit: n,
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), support(), set(2)),
        Err(DomainError::MemberLimitBelowMemberCount { members: 3 })
    );
    assert!(decide(&org_state(), support(), set(3)).is_ok());
    assert!(decide(&org_state(), support(), set(10_000)).is_ok());
    for bad in [0, 10_001] {
        assert_eq!(
            decide(&org_state(), support(), set(bad))
                .unwrap_err()
                .kind(),
            ledger_domain::ErrorKind::InvalidArgument {
                field: Field::MemberLimit
            }
        );
    }
}

#[test]
fn an_admin_cannot_set_the_member_limit() {
    let cmd = OrganizationCommand::SetMemberLimit {
        member_limit: 50,
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), cmd),
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Dashboard,
            action: Action::SetMemberLimit
        }))
    );
}

// ---- settings ----

#[test]
fn an_admin_sets_privacy_settings() {
    let cmd = OrganizationCommand::SetPrivacySettings {
        retention_days: 90,
        prompt_logging: true,
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), cmd.clone()),
        Ok(vec![OrganizationEvent::PrivacySettingsSet(
            PrivacySettingsSet {
                organization_id: ORG,
                retention_days: 90,
                prompt_logging: true,
                by: ALICE,
                at: t(1)
            }
        )])
    );
    assert_eq!(
        decide(&org_state(), dashboard(BOB), cmd),
        Err(denied(Denial::AdminsOnly))
    );
    let zero = OrganizationCommand::SetPrivacySettings {
        retention_days: 0,
        prompt_logging: false,
        at: t(1),
    };
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), zero).unwrap_err(),
        DomainError::invalid(
            Field::RetentionDays,
            InputError::OutOfRange { min: 1, max: 3_650 }
        )
    );
}

fn billing(contacts: usize) -> OrganizationCommand {
    OrganizationCommand::SetBillingSettings {
        input: BillingSettingsInput {
            contacts: (0..contacts)
                .map(|i| email(&format!("billing{i}@acme.example")))
                .collect(),
            company_name: Some(CompanyName::parse("Acme GmbH").unwrap()),
            tax_id: None,
            address: None,
            payment_method_reference: Some(PaymentMethodReference::parse("pm_123").unwrap()),
        },
        at: t(1),
    }
}

#[test]
fn an_admin_sets_billing_settings_and_the_event_carries_no_personal_data() {
    let events = decide(&org_state(), dashboard(ALICE), billing(2)).unwrap();
    assert_eq!(
        events,
        vec![OrganizationEvent::BillingSettingsSet(BillingSettingsSet {
            organization_id: ORG,
            billing_profile_version: 1,
            payment_method_reference: Some(PaymentMethodReference::parse("pm_123").unwrap()),
            by: ALICE,
            at: t(1)
        })]
    );
    let json = events[0].to_payload().to_string();
    assert!(!json.contains('@') && !json.contains("Acme GmbH"), "{json}");
    let state = org_with(events);
    let second = decide(&state, dashboard(ALICE), billing(1)).unwrap();
    let [OrganizationEvent::BillingSettingsSet(e)] = second.as_slice() else {
        panic!()
    };
    assert_eq!(e.billing_profile_version, 2);
}

#[test]
fn a_member_cannot_set_billing_settings_and_contacts_are_bounded() {
    assert_eq!(
        decide(&org_state(), dashboard(BOB), billing(1)),
        Err(denied(Denial::AdminsOnly))
    );
    assert_eq!(
        decide(&org_state(), dashboard(ALICE), billing(11)),
        Err(DomainError::invalid(
            Field::BillingContacts,
            InputError::TooMany { max: 10 }
        ))
    );
}

#[test]
fn the_auditor_can_decide_no_organization_command() {
    let state = org_with(vec![invited(0xC, Role::Member, t(0))]);
    let commands = vec![
        invite(0xE, Role::Member),
        OrganizationCommand::Rename {
            name: OrganizationName::parse("X").unwrap(),
            at: t(1),
        },
        OrganizationCommand::SetMemberLimit {
            member_limit: 20,
            at: t(1),
        },
        billing(0),
    ];
    for cmd in commands {
        let err = decide(&state, Caller::Auditor, cmd).unwrap_err();
        assert!(matches!(
            err,
            DomainError::Denied(Denial::CallerKindNotAllowed {
                caller: CallerKind::Auditor,
                ..
            })
        ));
    }
    assert!(leave(&state, Caller::Auditor).is_err());
    assert!(remove(&state, Caller::Auditor, BOB).is_err());
    assert!(
        organization::accept_invitation(
            &state,
            &user_state(CAROL, true),
            &Caller::Auditor,
            &accept(0xC, 1)
        )
        .is_err()
    );
}
