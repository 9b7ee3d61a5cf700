//! The product journey over gRPC: users, an organization, invitations, credits, keys, the
//! gateway's hold and settlement, a support transfer, and a member leaving.

use ledger_api::pb;
use ledger_tests::client::{Api, World};
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn the_journey_from_registration_to_a_member_leaving() {
    let world = World::start().await;
    let identity = world.identity();

    // Identity registers and verifies both users.
    let mut users = Vec::new();
    for email in ["alice@example.test", "bob@example.test"] {
        let user = identity.register(email).await;
        assert!(user.registered_at > 0);
        identity.verify(&user).await;
        users.push(user);
    }
    let (a, b) = (&users[0], &users[1]);

    // A creates an organization and invites B, who accepts.
    let (alice, bob) = (world.dashboard(a), world.dashboard(b));
    let acme = alice.create_organization("Acme").await;
    let invitation = alice
        .invite(&acme, "Bob@Example.test", pb::Role::Member)
        .await;
    bob.accept(&invitation).await;
    assert_eq!(alice.list_members(&acme).await.members.len(), 2);

    // The admin purchases credits; the member is refused.
    alice.buy(&acme.account, "100").await;
    bob.buy(&acme.account, "5")
        .refused(Code::PermissionDenied)
        .await;

    // Both create keys; B sees only his own, A sees both.
    let daily = pb::LimitPeriod::Daily;
    let alice_key = alice
        .create_key_with_limit(&acme.account, "alice's key", "50", daily)
        .await;
    let bob_key = bob
        .create_key_with_limit(&acme.account, "bob's key", "50", daily)
        .await;
    assert!(bob_key.secret.starts_with("ark_"));
    assert!(bob_key.secret.starts_with(&bob_key.prefix));
    let bobs_view = bob.list_keys(&acme.account).await;
    assert_eq!(
        bobs_view
            .keys
            .iter()
            .map(|k| k.key_id.clone())
            .collect::<Vec<_>>(),
        vec![bob_key.id.to_string()]
    );
    assert_eq!(bobs_view.keys[0].name, "bob's key");
    let alices_view = alice.list_keys(&acme.account).await;
    assert_eq!(alices_view.keys.len(), 2);
    assert!(
        alices_view
            .keys
            .iter()
            .any(|k| k.key_id == alice_key.id.as_str())
    );
    bob.get_key(&alice_key)
        .refused(Code::PermissionDenied)
        .await;

    // The gateway authenticates B's key, holds, settles with usage metadata.
    let gateway = world.gateway();
    let auth = gateway.authenticate(&bob_key.secret).await;
    assert_eq!(auth.key_id, bob_key.id.as_str());
    assert_eq!(auth.account_id, acme.account.as_str());
    assert_eq!(auth.available_balance, "100");
    assert_eq!(auth.remaining_limit.as_deref(), Some("50"));
    assert_eq!(auth.created_by, b.id.to_string());
    let hold = gateway.place_hold(&bob_key, "1.5").await;
    let held = alice.balance(&acme.account).await;
    assert_eq!(
        (held.held.as_str(), held.available.as_str()),
        ("1.5", "98.5")
    );
    gateway
        .place_hold(&bob_key, "49")
        .refused_because("KEY_LIMIT_REACHED")
        .await;
    gateway.settle(&hold, "gen-1", "1.25").await;
    // Bob, a member, sees what is available; the balance and totals are Alice's to see.
    assert_eq!(bob.balance(&acme.account).await.available, "98.75");
    let settled = alice.balance(&acme.account).await;
    assert_eq!(settled.balance, "98.75");
    assert_eq!(settled.held, "0");
    assert_eq!(settled.total_used, "1.25");
    assert_eq!(settled.open_holds, 0);
    gateway
        .record_usage(&bob_key, "gen-1", "1.25")
        .refused_with(Code::AlreadyExists, "GENERATION_ALREADY_RECORDED")
        .await;

    // Support transfers A's personal credits to the organization.
    alice.buy(&a.personal, "50").await;
    world
        .support()
        .transfer(&a.personal, &acme.account, "20")
        .await;
    let org_balance = alice.balance(&acme.account).await;
    assert_eq!(org_balance.balance, "118.75");
    assert_eq!(org_balance.total_transferred_in, "20");
    assert_eq!(alice.balance(&a.personal).await.balance, "30");

    // B leaves; B's key stops authenticating.
    bob.leave(&acme).await;
    gateway
        .authenticate(&bob_key.secret)
        .refused_with(Code::FailedPrecondition, "KEY_DISABLED")
        .await;
    bob.balance(&acme.account)
        .refused(Code::PermissionDenied)
        .await;
    // A's key still works.
    gateway.authenticate(&alice_key.secret).await;
    gateway
        .authenticate(&format!("ark_{}", "Z".repeat(43)))
        .refused_with(Code::NotFound, "UNKNOWN_KEY")
        .await;
}
