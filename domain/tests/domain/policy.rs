//! The authorization matrix: every action × every persona → allowed or the exact denial.

use crate::support::*;
use ledger_domain::{Action, AuthContext, Caller, Denial, Role, authorize};

/// Personas, in column order.
fn personas() -> Vec<(&'static str, Caller, AuthContext)> {
    vec![
        (
            "admin",
            dashboard(ALICE),
            AuthContext::organization(Some(Role::Admin)),
        ),
        (
            "member",
            dashboard(BOB),
            AuthContext::organization(Some(Role::Member)),
        ),
        (
            "non-member",
            dashboard(CAROL),
            AuthContext::organization(None),
        ),
        ("owner", dashboard(DAVE), AuthContext::personal(true)),
        ("support", support(), AuthContext::GLOBAL),
        ("auditor", Caller::Auditor, AuthContext::GLOBAL),
        ("gateway", Caller::Gateway, AuthContext::GLOBAL),
        ("identity", Caller::Identity, AuthContext::GLOBAL),
        ("system", Caller::System, AuthContext::GLOBAL),
    ]
}

// ok = allowed; K = caller kind not allowed; A = admins only; N = not a member;
// C = not the key's creator (member acting on another member's key); W = wrong resource.
const MATRIX: &str = "
RegisterUser        K  K  K  K  K  K  K  ok K
VerifyEmail         K  K  K  K  K  K  K  ok K
CreateOrganization  ok ok ok ok K  K  K  K  K
UpdateOrganization  ok A  N  W  K  K  K  K  K
InviteMember        ok A  N  W  K  K  K  K  K
AcceptInvitation    ok ok ok ok K  K  K  K  K
RevokeInvitation    ok A  N  W  K  K  K  K  K
RemoveMember        ok A  N  W  K  K  K  K  K
ChangeRole          ok A  N  W  K  K  K  K  K
LeaveOrganization   ok ok N  W  K  K  K  K  K
SetMemberLimit      K  K  K  K  ok K  K  K  K
SetPrivacySettings  ok A  N  W  K  K  K  K  K
SetBillingSettings  ok A  N  W  K  K  K  K  K
PurchaseCredits     ok A  N  ok K  K  K  K  K
TransferCredits     K  K  K  K  ok K  K  K  K
CreateKey           ok ok N  ok K  K  K  K  K
ManageKey           ok C  N  ok K  K  K  K  K
PlaceHold           K  K  K  K  K  K  ok K  K
SettleHold          K  K  K  K  K  K  ok K  K
VoidHold            K  K  K  K  K  K  ok K  K
ExpireHold          K  K  K  K  K  K  K  K  ok
RecordUsage         K  K  K  K  K  K  ok K  K
AuthenticateKey     K  K  K  K  K  K  ok K  K
ReadBalance         ok ok N  ok ok ok K  K  K
ReadActivity        ok ok N  ok ok ok K  K  K
ReadAnalytics       ok ok N  ok ok ok K  K  K
ListKeys            ok ok N  ok ok ok K  K  K
ViewKey             ok C  N  ok ok ok K  K  K
ReadMembers         ok ok N  W  ok ok K  K  K
ReadBilling         ok A  N  ok ok ok K  K  K
ReadPrivacy         ok A  N  ok ok ok ok K  K
ReadEventLog        K  K  K  K  ok ok K  K  K
EraseUser           K  K  K  K  ok K  K  ok K
ReadLedgerEntries   ok A  N  ok ok ok K  K  K
ReadInvitations     ok A  N  W  ok ok K  K  K
ReadUserAccounts    W  W  W  ok ok ok K  K  K
RebuildProjection   K  K  K  K  ok K  K  K  K
AdjustCredits       K  K  K  K  ok K  K  K  K
ReverseTransfer     K  K  K  K  ok K  K  K  K
RefundPurchase      ok A  N  ok K  K  K  K  K
ReadSystemBooks     K  K  K  K  ok ok K  K  K
ReadNotifications   K  K  K  K  K  K  K  K  K
";

fn parse_action(name: &str) -> Action {
    serde_json::from_value(serde_json::json!(to_snake(name))).unwrap()
}

fn to_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn every_action_for_every_persona_is_allowed_or_denied_exactly_as_the_rules_say() {
    let personas = personas();
    let mut seen = Vec::new();
    for line in MATRIX.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let action = parse_action(cells[0]);
        seen.push(action);
        assert_eq!(cells.len(), personas.len() + 1, "{line}");
        for ((name, caller, ctx), cell) in personas.iter().zip(&cells[1..]) {
            let expected = match *cell {
                "ok" => Ok(()),
                "K" => Err(Denial::CallerKindNotAllowed {
                    caller: caller.kind(),
                    action,
                }),
                "A" => Err(Denial::AdminsOnly),
                "N" => Err(Denial::NotAMember),
                "C" => Err(Denial::NotKeyCreator),
                "W" => Err(Denial::WrongResource),
                other => panic!("unknown cell {other}"),
            };
            assert_eq!(
                authorize(caller, action, ctx),
                expected,
                "{action:?} by {name}"
            );
        }
    }
    assert_eq!(
        seen,
        Action::ALL.to_vec(),
        "the matrix lists every action once, in order"
    );
}

#[test]
fn the_notifier_reads_the_notifications_and_nothing_else() {
    for action in Action::ALL {
        let expected = if action == Action::ReadNotifications {
            Ok(())
        } else {
            Err(Denial::CallerKindNotAllowed {
                caller: ledger_domain::CallerKind::Notifier,
                action,
            })
        };
        assert_eq!(
            authorize(&Caller::Notifier, action, &AuthContext::GLOBAL),
            expected,
            "{action:?}"
        );
    }
}

#[test]
fn a_member_manages_and_views_keys_they_created() {
    let ctx = AuthContext::organization(Some(Role::Member)).with_key_creator(true);
    assert_eq!(authorize(&dashboard(BOB), Action::ManageKey, &ctx), Ok(()));
    assert_eq!(authorize(&dashboard(BOB), Action::ViewKey, &ctx), Ok(()));
}

#[test]
fn a_non_owner_is_refused_on_a_personal_account() {
    let ctx = AuthContext::personal(false);
    for action in [
        Action::PurchaseCredits,
        Action::CreateKey,
        Action::ManageKey,
        Action::ReadBalance,
        Action::ReadBilling,
    ] {
        assert_eq!(
            authorize(&dashboard(ALICE), action, &ctx),
            Err(Denial::NotAccountOwner),
            "{action:?}"
        );
    }
}

#[test]
fn resource_actions_without_a_resource_are_refused() {
    for action in [
        Action::PurchaseCredits,
        Action::InviteMember,
        Action::ManageKey,
    ] {
        assert_eq!(
            authorize(&dashboard(ALICE), action, &AuthContext::GLOBAL),
            Err(Denial::WrongResource)
        );
    }
}
