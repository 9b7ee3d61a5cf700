//! Given / when / then: the user stream.

use crate::support::*;
use ledger_domain::Action;
use ledger_domain::account::{AccountEvent, AccountOpened, AccountOwner};
use ledger_domain::user::{
    self, EmailVerified, EraseUser, Eraser, PersonalDataErased, RegisterUser, UserEvent,
    UserRegistered, UserState, VerifyEmail,
};
use ledger_domain::{Caller, CallerKind, Decision, Denial, DomainError, Event, ExpectedVersion};

fn register_cmd() -> RegisterUser {
    RegisterUser {
        user_id: CAROL,
        personal_account_id: CAROL_ACCOUNT,
        email: email("carol@example.com"),
        at: t(1),
    }
}

fn verify_cmd() -> VerifyEmail {
    VerifyEmail {
        user_id: CAROL,
        email: email("carol@example.com"),
        at: t(2),
    }
}

#[test]
fn the_identity_service_registers_a_user_and_opens_the_personal_account() {
    let decision =
        user::register(&UserState::default(), &Caller::Identity, &register_cmd()).unwrap();
    let registered = UserEvent::Registered(UserRegistered {
        user_id: CAROL,
        personal_account_id: CAROL_ACCOUNT,
        at: t(1),
    });
    let opened = AccountEvent::Opened(AccountOpened {
        account_id: CAROL_ACCOUNT,
        owner: AccountOwner::User { user_id: CAROL },
        at: t(1),
    });
    // Both streams are new.
    let new = ExpectedVersion::NoStream;
    let expected = Decision::one(CAROL.stream(), new, vec![Event::User(registered)]).with(
        CAROL_ACCOUNT.stream(),
        new,
        vec![Event::Account(opened)],
    );
    assert_eq!(decision, expected);
}

#[test]
fn a_user_cannot_be_registered_twice() {
    let state = user_state(CAROL, false);
    assert_eq!(
        user::register(&state, &Caller::Identity, &register_cmd()),
        Err(DomainError::UserAlreadyRegistered)
    );
}

#[test]
fn only_the_identity_service_registers_users() {
    for caller in [
        dashboard(CAROL),
        Caller::Gateway,
        support(),
        Caller::Auditor,
        Caller::System,
    ] {
        let err = user::register(&UserState::default(), &caller, &register_cmd()).unwrap_err();
        assert_eq!(
            err,
            DomainError::Denied(Denial::CallerKindNotAllowed {
                caller: caller.kind(),
                action: Action::RegisterUser
            })
        );
    }
}

#[test]
fn the_identity_service_verifies_an_email() {
    let state = user_state(CAROL, false);
    let decision = user::verify_email(&state, &Caller::Identity, &verify_cmd()).unwrap();
    assert_eq!(decision.changes[0].expected, ExpectedVersion::Exact(1));
    assert_eq!(
        decision.changes[0].events,
        vec![Event::User(UserEvent::EmailVerified(EmailVerified {
            user_id: CAROL,
            at: t(2)
        }))]
    );
}

#[test]
fn verifying_a_verified_email_changes_nothing() {
    let state = user_state(CAROL, true);
    assert!(
        user::verify_email(&state, &Caller::Identity, &verify_cmd())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_unregistered_user_cannot_be_verified() {
    assert_eq!(
        user::verify_email(&UserState::default(), &Caller::Identity, &verify_cmd()),
        Err(DomainError::UserNotFound)
    );
}

#[test]
fn the_dashboard_cannot_verify_emails() {
    let err = user::verify_email(&user_state(CAROL, false), &dashboard(CAROL), &verify_cmd())
        .unwrap_err();
    assert_eq!(
        err,
        DomainError::Denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Dashboard,
            action: Action::VerifyEmail
        })
    );
}

fn erase_cmd() -> EraseUser {
    EraseUser {
        user_id: CAROL,
        at: t(3),
    }
}

fn erased_by(caller: &Caller) -> Result<Vec<Event>, DomainError> {
    let decision = user::erase(&user_state(CAROL, true), caller, &erase_cmd())?;
    assert_eq!(decision.changes[0].expected, ExpectedVersion::Exact(2));
    Ok(decision.changes[0].events.clone())
}

fn erasure(by: Eraser) -> Vec<Event> {
    vec![Event::User(UserEvent::PersonalDataErased(
        PersonalDataErased {
            user_id: CAROL,
            erased_by: by,
            at: t(3),
        },
    ))]
}

#[test]
fn an_erasure_names_the_support_staff_member_or_the_identity_service() {
    assert_eq!(
        erased_by(&support()),
        Ok(erasure(Eraser::Support { staff_id: STAFF }))
    );
    assert_eq!(erased_by(&Caller::Identity), Ok(erasure(Eraser::Identity)));
}

#[test]
fn only_identity_and_support_erase_and_only_registered_users() {
    for caller in [dashboard(CAROL), Caller::Gateway, Caller::Auditor] {
        assert!(matches!(
            erased_by(&caller),
            Err(DomainError::Denied(Denial::CallerKindNotAllowed { .. }))
        ));
    }
    assert_eq!(
        user::erase(&UserState::default(), &Caller::Identity, &erase_cmd()),
        Err(DomainError::UserNotFound)
    );
}
