//! The product journey over gRPC: users, an organization, invitations, credits, keys, the
//! gateway's hold and settlement, a support transfer, and a member leaving. Walked against one
//! `ledgerd` here, and in `replica.rs` with every read on a read-only `ledgerd` on a standby.

use ledger_api::pb;
use ledger_tests::client::{Api, Dashboard, Gateway, User, World};
use ledger_tests::ledgerd::Ledgerd;
use tonic::Code;

/// Where the journey's calls go.
pub enum Sides<'a> {
    /// One server takes the commands and answers the reads, as a dashboard sends them (without
    /// `min_position`).
    One(&'a Ledgerd),
    /// Commands to `primary`; every read to `replica`, a read-only server on a standby of the
    /// primary's database, with `min_position` at the last command's position
    /// (read-your-writes).
    Replicated {
        /// The server on the primary.
        primary: &'a Ledgerd,
        /// The read-only server on the standby.
        replica: &'a Ledgerd,
        /// The primary's database, where the last command's position is read.
        log: &'a sqlx::PgPool,
    },
}

/// The reads of one step of the journey.
pub struct Reads<'a> {
    ledgerd: &'a Ledgerd,
    position: i64,
}

impl Sides<'_> {
    /// The server that takes the commands.
    fn commands(&self) -> &Ledgerd {
        match self {
            Sides::One(ledgerd) => ledgerd,
            Sides::Replicated { primary, .. } => primary,
        }
    }

    /// Reads after the last command. The journey's commands run one at a time, so the log's
    /// head is the last command's position (the replies `Org` and `Key` keep carry none).
    async fn reads(&self) -> Reads<'_> {
        match self {
            Sides::One(ledgerd) => Reads {
                ledgerd,
                position: 0,
            },
            Sides::Replicated { replica, log, .. } => Reads {
                ledgerd: replica,
                position: ledger_eventstore::head(*log)
                    .await
                    .expect("the head can be read")
                    .position,
            },
        }
    }
}

impl Reads<'_> {
    /// The dashboard acting as `user`, reading.
    fn dashboard(&self, user: &User) -> Dashboard {
        self.ledgerd.dashboard(user).after(self.position)
    }

    /// The gateway, authenticating.
    fn gateway(&self) -> Gateway {
        self.ledgerd.gateway().after(self.position)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journey_from_registration_to_a_member_leaving() {
    let world = World::start().await;
    walk(&Sides::One(&world.ledgerd)).await;
}

/// The journey, its commands and reads sent as `sides` says.
pub async fn walk(sides: &Sides<'_>) {
    let primary = sides.commands();
    let identity = primary.identity();

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
    let (alice, bob) = (primary.dashboard(a), primary.dashboard(b));
    let acme = alice.create_organization("Acme").await;
    let invitation = alice
        .invite(&acme, "Bob@Example.test", pb::Role::Member)
        .await;
    bob.accept(&invitation).await;
    let members = sides.reads().await.dashboard(a).list_members(&acme).await;
    assert_eq!(members.members.len(), 2);

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
    let reads = sides.reads().await;
    let bobs_view = reads.dashboard(b).list_keys(&acme.account).await;
    assert_eq!(
        bobs_view
            .keys
            .iter()
            .map(|k| k.key_id.clone())
            .collect::<Vec<_>>(),
        vec![bob_key.id.to_string()]
    );
    assert_eq!(bobs_view.keys[0].name, "bob's key");
    let alices_view = reads.dashboard(a).list_keys(&acme.account).await;
    assert_eq!(alices_view.keys.len(), 2);
    assert!(
        alices_view
            .keys
            .iter()
            .any(|k| k.key_id == alice_key.id.as_str())
    );
    reads
        .dashboard(b)
        .get_key(&alice_key)
        .refused(Code::PermissionDenied)
        .await;

    // The gateway authenticates B's key, holds, settles with usage metadata.
    let gateway = primary.gateway();
    let auth = reads.gateway().authenticate(&bob_key.secret).await;
    assert_eq!(auth.key_id, bob_key.id.as_str());
    assert_eq!(auth.account_id, acme.account.as_str());
    assert_eq!(auth.available_balance, "100");
    assert_eq!(auth.remaining_limit.as_deref(), Some("50"));
    assert_eq!(auth.created_by, b.id.to_string());
    let hold = gateway.place_hold(&bob_key, "1.5").await;
    let held = sides
        .reads()
        .await
        .dashboard(a)
        .balance(&acme.account)
        .await;
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
    let reads = sides.reads().await;
    assert_eq!(
        reads.dashboard(b).balance(&acme.account).await.available,
        "98.75"
    );
    let settled = reads.dashboard(a).balance(&acme.account).await;
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
    primary
        .support()
        .transfer(&a.personal, &acme.account, "20")
        .await;
    let reads = sides.reads().await;
    let org_balance = reads.dashboard(a).balance(&acme.account).await;
    assert_eq!(org_balance.balance, "118.75");
    assert_eq!(org_balance.total_transferred_in, "20");
    assert_eq!(reads.dashboard(a).balance(&a.personal).await.balance, "30");

    // B leaves; B's key stops authenticating.
    bob.leave(&acme).await;
    let reads = sides.reads().await;
    reads
        .gateway()
        .authenticate(&bob_key.secret)
        .refused_with(Code::FailedPrecondition, "KEY_DISABLED")
        .await;
    reads
        .dashboard(b)
        .balance(&acme.account)
        .refused(Code::PermissionDenied)
        .await;
    // A's key still works.
    reads.gateway().authenticate(&alice_key.secret).await;
    reads
        .gateway()
        .authenticate(&format!("ark_{}", "Z".repeat(43)))
        .refused_with(Code::NotFound, "UNKNOWN_KEY")
        .await;
}
