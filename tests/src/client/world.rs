//! A `ledgerd` on a fresh database, its callers, and the fixtures most tests start from.

use std::future::Future;

use ledger_api::pb;
use ledger_pgembed::testing::{TestDatabase, fresh_database};
use uuid::Uuid;

use super::dashboard::Dashboard;
use super::ids::{Key, Org, User};
use super::notifications::Notifier;
use super::roles::{Auditor, Gateway, Identity, Support};
use super::rpc::Rpc;
use crate::ledgerd::{Ledgerd, LedgerdOptions};

/// A running `ledgerd` on a fresh database of its own, and a pool on that database.
pub struct World {
    /// The server.
    pub ledgerd: Ledgerd,
    /// The database it serves, for what a test reads or breaks behind its back.
    pub pool: sqlx::PgPool,
    _database: TestDatabase,
}

impl World {
    /// Starts `ledgerd` on a fresh database.
    pub async fn start() -> World {
        World::start_with(|_| {}).await
    }

    /// Starts `ledgerd` with options adjusted by `configure` (the database is set already).
    pub async fn start_with(configure: impl FnOnce(&mut LedgerdOptions)) -> World {
        let database = fresh_database().await.expect("a fresh database");
        let mut options = LedgerdOptions {
            database_url: Some(database.url().to_owned()),
            data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", Uuid::new_v4())),
            ..Default::default()
        };
        configure(&mut options);
        let ledgerd = Ledgerd::start(&options).await;
        let pool = sqlx::PgPool::connect(database.url())
            .await
            .expect("the test database accepts connections");
        World {
            ledgerd,
            pool,
            _database: database,
        }
    }

    /// The log's head position, read straight from the event store.
    pub async fn head(&self) -> i64 {
        ledger_eventstore::head(&self.pool)
            .await
            .expect("the head can be read")
            .position
    }
}

/// The API of one `ledgerd` as the tests reach it: a caller of each kind, and the fixtures
/// built through them. A [`World`] reaches its own server; a bare [`Ledgerd`] (a second
/// process, a server on a database of its own) is reached the same way.
pub trait Api {
    /// The server called.
    fn ledgerd(&self) -> &Ledgerd;

    /// A caller of `kind` acting as `actor`, with every RPC as it is; a support caller gets a
    /// token bound to that staff member.
    fn caller(&self, kind: &str, actor: Option<Uuid>) -> Rpc {
        let ledgerd = self.ledgerd();
        Rpc::new(
            ledgerd.lazy_channel(),
            &ledgerd.token_for(kind, actor),
            actor,
        )
    }

    /// The dashboard acting as `user`.
    fn dashboard(&self, user: &User) -> Dashboard {
        self.caller("dashboard", Some(user.id)).into()
    }

    /// The gateway.
    fn gateway(&self) -> Gateway {
        self.caller("gateway", None).into()
    }

    /// The identity service.
    fn identity(&self) -> Identity {
        self.caller("identity", None).into()
    }

    /// A support staff member of their own.
    fn support(&self) -> Support {
        self.caller("support", Some(Uuid::new_v4())).into()
    }

    /// An auditor.
    fn auditor(&self) -> Auditor {
        self.caller("auditor", None).into()
    }

    /// The notifier.
    fn notifier(&self) -> Notifier {
        self.caller("notifier", None).into()
    }

    /// A user registered with `email` and verified, as the identity service does.
    fn user(&self, email: &str) -> impl Future<Output = User> {
        async move {
            let identity = self.identity();
            let user = identity.register(email).await;
            identity.verify(&user).await;
            user
        }
    }

    /// A verified user with an address of their own.
    fn some_user(&self) -> impl Future<Output = User> {
        async move { self.user(&format!("{}@example.test", Uuid::new_v4())).await }
    }

    /// A verified user and the organization "Acme" they created (with two lines of details).
    fn organization(&self) -> impl Future<Output = (User, Org)> {
        async move {
            let admin = self.some_user().await;
            let org = self
                .dashboard(&admin)
                .create_organization_with_details("Acme", "line 1\nline 2")
                .await;
            (admin, org)
        }
    }

    /// [`Api::organization`] with 100 credits and a key without a limit.
    fn funded_key(&self) -> impl Future<Output = (User, Org, Key)> {
        async move {
            let (admin, org) = self.organization().await;
            let dashboard = self.dashboard(&admin);
            dashboard.buy(&org.account, "100").await;
            let key = dashboard.create_key(&org.account, "gateway").await;
            (admin, org, key)
        }
    }

    /// The reads world: alice's organization "Acme" with bob as a member, 100 credits, a key
    /// each, a hold of bob's settled at 1.25 (gen-1), usage of alice's (0.5, gen-2) and of bob's
    /// (0.75, gen-3), every command sent here.
    fn reads_world(&self) -> impl Future<Output = ReadsWorld> {
        async move {
            let alice = self.user("alice@example.test").await;
            let bob = self.user("bob@example.test").await;
            let admin = self.dashboard(&alice);
            let org = admin.create_organization("Acme").await;
            self.join(&alice, &org, &bob).await;
            admin.buy(&org.account, "100").await;
            let alice_key = admin.create_key(&org.account, "key").await;
            let bob_key = self.dashboard(&bob).create_key(&org.account, "key").await;
            let gateway = self.gateway();
            let hold = gateway.place_hold(&bob_key, "2").await;
            gateway.settle(&hold, "gen-1", "1.25").await;
            gateway.record_usage(&alice_key, "gen-2", "0.5").await;
            let last = gateway
                .record_usage(&bob_key, "gen-3", "0.75")
                .await
                .position;
            ReadsWorld {
                alice,
                bob,
                org,
                alice_key,
                bob_key,
                last,
            }
        }
    }

    /// `admin` invites `member` to `org` as a member, at their address, and `member` accepts.
    fn join(&self, admin: &User, org: &Org, member: &User) -> impl Future<Output = ()> {
        async move {
            let invitation = self
                .dashboard(admin)
                .invite(org, &member.email, pb::Role::Member)
                .await;
            self.dashboard(member).accept(&invitation).await;
        }
    }
}

/// What [`Api::reads_world`] made.
pub struct ReadsWorld {
    /// The organization's admin.
    pub alice: User,
    /// Its member.
    pub bob: User,
    /// The organization (97.5 credits left).
    pub org: Org,
    /// Alice's key.
    pub alice_key: Key,
    /// Bob's key.
    pub bob_key: Key,
    /// The position of the last command.
    pub last: i64,
}

impl Api for Ledgerd {
    fn ledgerd(&self) -> &Ledgerd {
        self
    }
}

impl Api for World {
    fn ledgerd(&self) -> &Ledgerd {
        &self.ledgerd
    }
}
