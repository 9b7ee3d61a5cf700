//! Given / when / then: API keys.

use crate::support::*;
use chrono::Duration;
use ledger_domain::Action;
use ledger_domain::account::{
    AccountCommand, AccountEvent, AccountState, KeyChanged, KeyCreated, KeyExpiryChanged,
    KeyLimitChanged, KeyRenamed, KeyRotated,
};
use ledger_domain::text::{KeyName, KeyPrefix, SecretHash};
use ledger_domain::{
    Caller, CallerKind, Denial, DomainError, Field, InputError, KeyId, LimitPeriod,
};

const NEW_KEY: KeyId = KeyId::from_u128(0x99);

fn create(expires_in_hours: Option<i64>) -> AccountCommand {
    AccountCommand::CreateKey {
        key_id: NEW_KEY,
        name: KeyName::parse("alice-research").unwrap(),
        secret_hash: SecretHash::parse(&"ab".repeat(32)).unwrap(),
        prefix: KeyPrefix::parse("ar-9f3c").unwrap(),
        limit: limit("50", LimitPeriod::Monthly),
        expires_at: expires_in_hours.map(|h| t(1) + Duration::hours(h)),
        at: t(1),
    }
}

#[test]
fn a_member_creates_a_key_under_the_organization() {
    let events = when_account(&funded_org_account(), dashboard(BOB), create(Some(24))).unwrap();
    assert_eq!(
        events,
        vec![AccountEvent::KeyCreated(KeyCreated {
            account_id: ORG_ACCOUNT,
            key_id: NEW_KEY,
            created_by: BOB,
            name: KeyName::parse("alice-research").unwrap(),
            secret_hash: SecretHash::parse(&"ab".repeat(32)).unwrap(),
            prefix: KeyPrefix::parse("ar-9f3c").unwrap(),
            limit: limit("50", LimitPeriod::Monthly),
            expires_at: Some(t(25)),
            at: t(1),
        })]
    );
}

#[test]
fn the_owner_creates_a_key_under_the_personal_account() {
    assert!(when_account(&personal_account(), dashboard(DAVE), create(None)).is_ok());
}

#[test]
fn a_non_member_cannot_create_a_key_and_nobody_but_the_owner_under_a_personal_account() {
    assert_eq!(
        when_account(&funded_org_account(), dashboard(CAROL), create(None)),
        Err(denied(Denial::NotAMember))
    );
    assert_eq!(
        when_account(&personal_account(), dashboard(ALICE), create(None)),
        Err(denied(Denial::NotAccountOwner))
    );
    assert_eq!(
        when_account(&funded_org_account(), Caller::Gateway, create(None)),
        Err(denied(Denial::CallerKindNotAllowed {
            caller: CallerKind::Gateway,
            action: Action::CreateKey
        }))
    );
}

#[test]
fn a_key_id_cannot_be_reused_and_expiry_must_be_in_the_future() {
    let given = funded_org_account_and([key_created(ORG_ACCOUNT, NEW_KEY, BOB, None)]);
    assert_eq!(
        when_account(&given, dashboard(BOB), create(None)),
        Err(DomainError::KeyAlreadyExists(NEW_KEY))
    );
    assert_eq!(
        when_account(&funded_org_account(), dashboard(BOB), create(Some(0))),
        Err(DomainError::invalid(
            Field::ExpiresAt,
            InputError::NotInFuture
        ))
    );
}

#[test]
fn an_account_holds_at_most_a_thousand_keys() {
    let mut given = org_account();
    given.extend(
        (0..1_000u128).map(|i| key_created(ORG_ACCOUNT, KeyId::from_u128(0x10_000 + i), BOB, None)),
    );
    assert_eq!(
        when_account(&given, dashboard(BOB), create(None)),
        Err(DomainError::TooManyKeys { max: 1_000 })
    );
}

#[test]
fn key_names_are_bounded_and_secrets_never_reach_the_domain() {
    assert!(KeyName::parse(&"k".repeat(101)).is_err());
    assert!(KeyName::parse("").is_err());
    // Only a hex digest is accepted where the secret would go.
    assert!(SecretHash::parse("ar-live-secret-value").is_err());
}

fn rename(key: KeyId) -> AccountCommand {
    AccountCommand::RenameKey {
        key_id: key,
        name: KeyName::parse("renamed").unwrap(),
        at: t(1),
    }
}

#[test]
fn a_member_renames_their_own_key() {
    assert_eq!(
        when_account(&funded_org_account(), dashboard(BOB), rename(KEY_BOB)),
        Ok(vec![AccountEvent::KeyRenamed(KeyRenamed {
            account_id: ORG_ACCOUNT,
            key_id: KEY_BOB,
            name: KeyName::parse("renamed").unwrap(),
            by: BOB,
            at: t(1)
        })])
    );
}

#[test]
fn a_member_cannot_manage_a_key_they_did_not_create() {
    let given = funded_org_account();
    for cmd in [
        rename(KEY_ALICE),
        AccountCommand::DisableKey {
            key_id: KEY_ALICE,
            at: t(1),
        },
        AccountCommand::DeleteKey {
            key_id: KEY_ALICE,
            at: t(1),
        },
        AccountCommand::ChangeKeyLimit {
            key_id: KEY_ALICE,
            limit: None,
            at: t(1),
        },
        rename(KeyId::from_u128(0xDEAD)),
    ] {
        assert_eq!(
            when_account(&given, dashboard(BOB), cmd),
            Err(denied(Denial::NotKeyCreator))
        );
    }
    assert_eq!(
        when_account(&given, dashboard(CAROL), rename(KEY_BOB)),
        Err(denied(Denial::NotAMember))
    );
}

#[test]
fn an_admin_manages_every_key_of_the_organization() {
    let given = funded_org_account();
    let by = ALICE;
    let (account_id, key_id, at) = (ORG_ACCOUNT, KEY_BOB, t(1));
    assert!(when_account(&given, dashboard(ALICE), rename(KEY_BOB)).is_ok());
    assert_eq!(
        when_account(
            &given,
            dashboard(ALICE),
            AccountCommand::ChangeKeyLimit {
                key_id,
                limit: limit("5", LimitPeriod::Daily),
                at
            }
        ),
        Ok(vec![AccountEvent::KeyLimitChanged(KeyLimitChanged {
            account_id,
            key_id,
            limit: limit("5", LimitPeriod::Daily),
            by,
            at
        })])
    );
    assert_eq!(
        when_account(
            &given,
            dashboard(ALICE),
            AccountCommand::DisableKey { key_id, at }
        ),
        Ok(vec![key_disabled(key_id, "manual", by, at)])
    );
    assert_eq!(
        when_account(
            &given,
            dashboard(ALICE),
            AccountCommand::DeleteKey { key_id, at }
        ),
        Ok(vec![key_deleted(key_id, by, at)])
    );
    assert_eq!(
        when_account(&given, dashboard(ALICE), rename(KeyId::from_u128(0xDEAD))),
        Err(DomainError::KeyNotFound(KeyId::from_u128(0xDEAD)))
    );
}

#[test]
fn an_admin_may_re_enable_a_key_disabled_when_its_creator_left() {
    let given = funded_org_account_and([key_disabled(KEY_BOB, "creator_left", BOB, t(0))]);
    let enable = AccountCommand::EnableKey {
        key_id: KEY_BOB,
        at: t(1),
    };
    assert_eq!(
        when_account(&given, dashboard(ALICE), enable.clone()),
        Ok(vec![AccountEvent::KeyEnabled(KeyChanged {
            account_id: ORG_ACCOUNT,
            key_id: KEY_BOB,
            by: ALICE,
            at: t(1)
        })])
    );
    // BOB, no longer a member, cannot.
    let mut events = crate::support::org_events();
    events.push(ledger_domain::organization::OrganizationEvent::MemberLeft(
        ledger_domain::organization::MemberLeft {
            organization_id: ORG,
            user_id: BOB,
            at: t(0),
        },
    ));
    let org = ledger_domain::organization::OrganizationState::from_events(&events);
    assert_eq!(
        when_account_in(&given, &org, dashboard(BOB), enable),
        Err(denied(Denial::NotAMember))
    );
}

#[test]
fn disabling_a_disabled_key_or_enabling_an_enabled_key_is_refused() {
    let given = funded_org_account();
    assert_eq!(
        when_account(
            &given,
            dashboard(BOB),
            AccountCommand::EnableKey {
                key_id: KEY_BOB,
                at: t(1)
            }
        ),
        Err(DomainError::KeyAlreadyEnabled(KEY_BOB))
    );
    let mut disabled = given.clone();
    disabled.extend(
        when_account(
            &given,
            dashboard(BOB),
            AccountCommand::DisableKey {
                key_id: KEY_BOB,
                at: t(1),
            },
        )
        .unwrap(),
    );
    assert_eq!(
        when_account(
            &disabled,
            dashboard(BOB),
            AccountCommand::DisableKey {
                key_id: KEY_BOB,
                at: t(1)
            }
        ),
        Err(DomainError::KeyDisabled(KEY_BOB))
    );
}

#[test]
fn deleting_a_key_is_final() {
    let given = funded_org_account_and([key_deleted(KEY_BOB, BOB, t(0))]);
    for cmd in [
        rename(KEY_BOB),
        AccountCommand::EnableKey {
            key_id: KEY_BOB,
            at: t(1),
        },
        AccountCommand::DisableKey {
            key_id: KEY_BOB,
            at: t(1),
        },
        AccountCommand::DeleteKey {
            key_id: KEY_BOB,
            at: t(1),
        },
        AccountCommand::ChangeKeyLimit {
            key_id: KEY_BOB,
            limit: None,
            at: t(1),
        },
    ] {
        assert_eq!(
            when_account(&given, dashboard(ALICE), cmd),
            Err(DomainError::KeyDeleted(KEY_BOB))
        );
    }
    let hold = AccountCommand::PlaceHold {
        hold_id: HOLD,
        key_id: KEY_BOB,
        estimate: cost("1"),
        ttl_s: 60,
        at: t(1),
    };
    assert_eq!(
        when_account(&given, Caller::Gateway, hold),
        Err(DomainError::KeyDeleted(KEY_BOB))
    );
}

// ---- rotation and expiry after creation ----

fn rotate(key: KeyId, grace_s: u32) -> AccountCommand {
    AccountCommand::RotateKey {
        key_id: key,
        secret_hash: SecretHash::parse(&"ee".repeat(32)).unwrap(),
        prefix: KeyPrefix::parse("ar-new1").unwrap(),
        grace_s,
        at: t(1),
    }
}

fn rotated(key: KeyId, generation: u32, grace_s: i64) -> AccountEvent {
    AccountEvent::KeyRotated(KeyRotated {
        account_id: ORG_ACCOUNT,
        key_id: key,
        secret_hash: SecretHash::parse(&"ee".repeat(32)).unwrap(),
        prefix: KeyPrefix::parse("ar-new1").unwrap(),
        generation,
        previous_valid_until: t(1) + Duration::seconds(grace_s),
        by: BOB,
        at: t(1),
    })
}

#[test]
fn a_member_rotates_their_key_and_the_old_secret_keeps_working_for_the_grace_period() {
    let events = when_account(
        &funded_org_account(),
        dashboard(BOB),
        rotate(KEY_BOB, 3_600),
    );
    assert_eq!(events, Ok(vec![rotated(KEY_BOB, 1, 3_600)]));
    let account = AccountState::from_events(&funded_org_account_and([rotated(KEY_BOB, 1, 3_600)]))
        .account
        .unwrap();
    // The new secret works; the old one until the end of the grace period, not after.
    assert!(account.authenticate(KEY_BOB, 1, t(5)).is_ok());
    assert!(account.authenticate(KEY_BOB, 0, t(1)).is_ok());
    assert!(
        account
            .authenticate(KEY_BOB, 0, t(2) - Duration::seconds(1))
            .is_ok()
    );
    assert_eq!(
        account.authenticate(KEY_BOB, 0, t(2)).err(),
        Some(DomainError::KeySecretRotated { key_id: KEY_BOB })
    );
}

#[test]
fn a_second_rotation_ends_the_grace_of_the_first_secret_at_once() {
    let given = funded_org_account_and([rotated(KEY_BOB, 1, 3_600), rotated(KEY_BOB, 2, 3_600)]);
    let account = AccountState::from_events(&given).account.unwrap();
    assert!(account.authenticate(KEY_BOB, 2, t(1)).is_ok());
    assert!(account.authenticate(KEY_BOB, 1, t(1)).is_ok());
    assert_eq!(
        account.authenticate(KEY_BOB, 0, t(1)).err(),
        Some(DomainError::KeySecretRotated { key_id: KEY_BOB })
    );
}

#[test]
fn a_grace_period_is_at_most_seven_days_and_zero_ends_the_old_secret_at_once() {
    assert_eq!(
        when_account(
            &funded_org_account(),
            dashboard(BOB),
            rotate(KEY_BOB, 604_801)
        ),
        Err(DomainError::invalid(
            Field::GraceS,
            InputError::OutOfRange {
                min: 0,
                max: 604_800
            }
        ))
    );
    assert!(
        when_account(
            &funded_org_account(),
            dashboard(BOB),
            rotate(KEY_BOB, 604_800)
        )
        .is_ok()
    );
    let given = funded_org_account_and([rotated(KEY_BOB, 1, 0)]);
    let account = AccountState::from_events(&given).account.unwrap();
    assert!(account.authenticate(KEY_BOB, 0, t(1)).is_err());
}

#[test]
fn only_those_who_manage_a_key_rotate_it_and_a_deleted_key_is_not_rotated() {
    assert_eq!(
        when_account(&funded_org_account(), dashboard(BOB), rotate(KEY_ALICE, 0)),
        Err(denied(Denial::NotKeyCreator))
    );
    assert!(when_account(&funded_org_account(), dashboard(ALICE), rotate(KEY_BOB, 0)).is_ok());
    let deleted = funded_org_account_and([key_deleted(KEY_BOB, BOB, t(0))]);
    assert_eq!(
        when_account(&deleted, dashboard(BOB), rotate(KEY_BOB, 0)),
        Err(DomainError::KeyDeleted(KEY_BOB))
    );
}

#[test]
fn disabled_deleted_and_expired_keys_are_refused_before_their_secret_is_looked_at() {
    let given = funded_org_account_and([key_disabled(KEY_BOB, "manual", ALICE, t(0))]);
    let account = AccountState::from_events(&given).account.unwrap();
    assert_eq!(
        account.authenticate(KEY_BOB, 7, t(1)).err(),
        Some(DomainError::KeyDisabled(KEY_BOB))
    );
    let expiring = funded_org_account_and([expiry_changed(Some(t(2)))]);
    let account = AccountState::from_events(&expiring).account.unwrap();
    assert!(account.authenticate(KEY_BOB, 0, t(1)).is_ok());
    assert_eq!(
        account.authenticate(KEY_BOB, 0, t(2)).err(),
        Some(DomainError::KeyExpired {
            key_id: KEY_BOB,
            expires_at: t(2)
        })
    );
}

fn change_expiry(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> AccountCommand {
    AccountCommand::ChangeKeyExpiry {
        key_id: KEY_BOB,
        expires_at,
        at: t(1),
    }
}

fn expiry_changed(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> AccountEvent {
    AccountEvent::KeyExpiryChanged(KeyExpiryChanged {
        account_id: ORG_ACCOUNT,
        key_id: KEY_BOB,
        expires_at,
        by: BOB,
        at: t(1),
    })
}

#[test]
fn a_member_sets_moves_and_clears_their_key_expiry_which_must_be_in_the_future() {
    let given = funded_org_account();
    assert_eq!(
        when_account(&given, dashboard(BOB), change_expiry(Some(t(48)))),
        Ok(vec![expiry_changed(Some(t(48)))])
    );
    assert_eq!(
        when_account(&given, dashboard(BOB), change_expiry(None)),
        Ok(vec![expiry_changed(None)])
    );
    assert_eq!(
        when_account(&given, dashboard(BOB), change_expiry(Some(t(1)))),
        Err(DomainError::invalid(
            Field::ExpiresAt,
            InputError::NotInFuture
        ))
    );
}

#[test]
fn extending_the_expiry_of_an_expired_key_makes_it_work_again() {
    let mut expired = funded_org_account_and([expiry_changed(Some(t(2)))]);
    let account = AccountState::from_events(&expired).account.unwrap();
    assert!(account.authenticate(KEY_BOB, 0, t(3)).is_err());
    expired.push(expiry_changed(Some(t(10))));
    let account = AccountState::from_events(&expired).account.unwrap();
    assert!(account.authenticate(KEY_BOB, 0, t(3)).is_ok());
}
