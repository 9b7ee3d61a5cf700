//! The product journey over gRPC: users, an organization, invitations, credits, keys, the
//! gateway's hold and settlement, a support transfer, and a member leaving.

use ledger_api::pb;
use tonic::Code;
use uuid::Uuid;

use crate::common::{Env, id, reason, usage};

#[tokio::test(flavor = "multi_thread")]
async fn the_journey_from_registration_to_a_member_leaving() {
    let env = Env::start().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let identity = env.ledgerd.clients("identity", None).await;

    // Identity registers and verifies both users.
    let mut personal = Vec::new();
    for (user, email) in [(a, "alice@example.test"), (b, "bob@example.test")] {
        let reply = identity
            .users
            .clone()
            .register_user(pb::RegisterUserRequest {
                command_id: id(),
                user_id: user.to_string(),
                personal_account_id: String::new(),
                email: email.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.position > 0);
        personal.push(reply.personal_account_id);
        identity
            .users
            .clone()
            .verify_email(pb::VerifyEmailRequest {
                command_id: id(),
                user_id: user.to_string(),
                email: email.into(),
            })
            .await
            .unwrap();
    }

    // A creates an organization and invites B, who accepts.
    let alice = env.ledgerd.clients("dashboard", Some(a)).await;
    let bob = env.ledgerd.clients("dashboard", Some(b)).await;
    let org = id();
    let created = alice
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
            account_id: String::new(),
            name: "Acme".into(),
            details: None,
        })
        .await
        .unwrap()
        .into_inner();
    let org_account = created.account_id;
    let invitation = id();
    alice
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            command_id: id(),
            organization_id: org.clone(),
            invitation_id: invitation.clone(),
            email: "Bob@Example.test".into(),
            role: pb::Role::Member.into(),
            expires_in_s: None,
        })
        .await
        .unwrap();
    bob.orgs
        .clone()
        .accept_invitation(pb::AcceptInvitationRequest {
            command_id: id(),
            organization_id: org.clone(),
            invitation_id: invitation,
        })
        .await
        .unwrap();
    let members = alice
        .orgs
        .clone()
        .list_members(pb::ListMembersRequest {
            organization_id: org.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(members.len(), 2);

    // The admin purchases credits; the member is refused.
    let purchase = |account: &str, amount: &str| pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.to_owned(),
        amount: amount.into(),
        payment_reference: "pay_1".into(),
    };
    alice
        .credits
        .clone()
        .purchase_credits(purchase(&org_account, "100"))
        .await
        .unwrap();
    let refused = bob
        .credits
        .clone()
        .purchase_credits(purchase(&org_account, "5"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Both create keys; B sees only his own, A sees both.
    let create_key = |name: &str| pb::CreateKeyRequest {
        command_id: id(),
        account_id: org_account.clone(),
        key_id: id(),
        name: name.into(),
        limit: Some(pb::KeyLimit {
            amount: "50".into(),
            reset: pb::LimitPeriod::Daily.into(),
        }),
        expires_at: None,
    };
    let alice_key = alice
        .keys
        .clone()
        .create_key(create_key("alice's key"))
        .await
        .unwrap()
        .into_inner();
    let bob_key = bob
        .keys
        .clone()
        .create_key(create_key("bob's key"))
        .await
        .unwrap()
        .into_inner();
    assert!(bob_key.secret.starts_with("ark_"));
    assert!(bob_key.secret.starts_with(&bob_key.prefix));
    let list = |account: &str| pb::ListKeysRequest {
        account_id: account.to_owned(),
        ..Default::default()
    };
    let bobs_view = bob
        .keys
        .clone()
        .list_keys(list(&org_account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        bobs_view
            .keys
            .iter()
            .map(|k| k.key_id.clone())
            .collect::<Vec<_>>(),
        vec![bob_key.key_id.clone()]
    );
    assert_eq!(bobs_view.keys[0].name, "bob's key");
    let alices_view = alice
        .keys
        .clone()
        .list_keys(list(&org_account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alices_view.keys.len(), 2);
    assert!(
        alices_view
            .keys
            .iter()
            .any(|k| k.key_id == alice_key.key_id)
    );
    let hidden = bob
        .keys
        .clone()
        .get_key(pb::GetKeyRequest {
            account_id: org_account.clone(),
            key_id: alice_key.key_id.clone(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::PermissionDenied);

    // The gateway authenticates B's key, holds, settles with usage metadata.
    let gateway = env.ledgerd.clients("gateway", None).await;
    let auth = gateway
        .gateway
        .clone()
        .authenticate_key(pb::AuthenticateKeyRequest {
            min_position: 0,
            secret: bob_key.secret.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(auth.key_id, bob_key.key_id);
    assert_eq!(auth.account_id, org_account);
    assert_eq!(auth.available_balance, "100");
    assert_eq!(auth.remaining_limit.as_deref(), Some("50"));
    assert_eq!(auth.created_by, b.to_string());
    let hold = id();
    gateway
        .gateway
        .clone()
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: org_account.clone(),
            key_id: bob_key.key_id.clone(),
            hold_id: hold.clone(),
            estimate: "1.5".into(),
            ttl_s: 60,
        })
        .await
        .unwrap();
    let balance = |account: &str| pb::GetAccountBalanceRequest {
        account_id: account.to_owned(),
        min_position: 0,
    };
    let held = alice
        .credits
        .clone()
        .get_account_balance(balance(&org_account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (held.held.as_str(), held.available.as_str()),
        ("1.5", "98.5")
    );
    let over = gateway
        .gateway
        .clone()
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: org_account.clone(),
            key_id: bob_key.key_id.clone(),
            hold_id: id(),
            estimate: "49".into(),
            ttl_s: 60,
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&over), "KEY_LIMIT_REACHED", "{over:?}");
    gateway
        .gateway
        .clone()
        .settle_hold(pb::SettleHoldRequest {
            command_id: id(),
            account_id: org_account.clone(),
            hold_id: hold,
            usage: Some(usage("gen-1", "1.25")),
        })
        .await
        .unwrap();
    let settled = bob
        .credits
        .clone()
        .get_account_balance(balance(&org_account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settled.balance, "98.75");
    assert_eq!(settled.held, "0");
    assert_eq!(settled.total_used, "1.25");
    assert_eq!(settled.open_holds, 0);
    let twice = gateway
        .gateway
        .clone()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: org_account.clone(),
            key_id: bob_key.key_id.clone(),
            usage: Some(usage("gen-1", "1.25")),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    assert_eq!(reason(&twice), "GENERATION_ALREADY_RECORDED");

    // Support transfers A's personal credits to the organization.
    alice
        .credits
        .clone()
        .purchase_credits(purchase(&personal[0], "50"))
        .await
        .unwrap();
    let support = env.ledgerd.clients("support", Some(Uuid::new_v4())).await;
    support
        .support
        .clone()
        .transfer_credits(pb::TransferCreditsRequest {
            command_id: id(),
            transfer_id: String::new(),
            from_account_id: personal[0].clone(),
            to_account_id: org_account.clone(),
            amount: "20".into(),
            reason: "consolidate credits".into(),
            ticket: "SUP-1".into(),
        })
        .await
        .unwrap();
    let org_balance = alice
        .credits
        .clone()
        .get_account_balance(balance(&org_account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org_balance.balance, "118.75");
    assert_eq!(org_balance.total_transferred_in, "20");
    let alice_balance = alice
        .credits
        .clone()
        .get_account_balance(balance(&personal[0]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alice_balance.balance, "30");

    // B leaves; B's key stops authenticating.
    bob.orgs
        .clone()
        .leave_organization(pb::LeaveOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
        })
        .await
        .unwrap();
    let refused = gateway
        .gateway
        .clone()
        .authenticate_key(pb::AuthenticateKeyRequest {
            min_position: 0,
            secret: bob_key.secret.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "KEY_DISABLED");
    let gone = bob
        .credits
        .clone()
        .get_account_balance(balance(&org_account))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::PermissionDenied);
    // A's key still works.
    gateway
        .gateway
        .clone()
        .authenticate_key(pb::AuthenticateKeyRequest {
            min_position: 0,
            secret: alice_key.secret,
        })
        .await
        .unwrap();
    let unknown = gateway
        .gateway
        .clone()
        .authenticate_key(pb::AuthenticateKeyRequest {
            min_position: 0,
            secret: "ark_not-a-key".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), reason(&unknown).as_str()),
        (Code::NotFound, "UNKNOWN_KEY")
    );
}
