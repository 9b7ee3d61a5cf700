//! A read-only `ledgerd` (`--read-only`) on a real hot standby (`pg_basebackup -R`, streaming
//! replication) of the primary's PostgreSQL, beside a `ledgerd` on the primary: reads with
//! read-your-writes through `min_position`, the key index and account states followed from the
//! standby's log, commands refused with `READ_ONLY_REPLICA`, the standby stopped and started
//! again, health while replay lags; and the product journey (`journey.rs`) with every read on
//! the replica.

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::client::{Api, Call, ReadsWorld, reason};
use ledger_tests::replica::ReplicaWorld;
use tonic::Code;

use crate::journey::{self, Sides};

/// Asserts that `call` is refused as a command sent to a replica.
async fn refused_as_read_only<T: std::fmt::Debug + Send + 'static>(call: Call<T>) {
    let status = call.refused(Code::Unavailable).await;
    assert_eq!(reason(&status), "READ_ONLY_REPLICA", "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reads_on_a_standby_answer_as_on_the_primary_once_min_position_is_replayed() {
    let world = ReplicaWorld::start(&[]).await;
    // The reads world: an organization with two members, credits, a key each, a settled hold
    // and usage; every command goes to the primary.
    let ReadsWorld {
        alice: a,
        org,
        bob_key,
        last,
        ..
    } = world.reads_world().await;

    // Read-your-writes on the replica: every read waits until the standby has replayed the
    // read model's checkpoint up to `last`, then answers exactly as the primary does.
    let on_primary = world.primary.dashboard(&a).after(last);
    let on_replica = world.replica.dashboard(&a).after(last);
    let balance = on_replica.balance(&org.account).await;
    assert_eq!(balance, on_primary.balance(&org.account).await);
    assert_eq!(balance.balance, "97.5");
    assert_eq!(
        on_replica.activity(&org.account).await,
        on_primary.activity(&org.account).await
    );
    assert_eq!(
        on_replica.ledger_entries(&org.account).await,
        on_primary.ledger_entries(&org.account).await
    );
    assert_eq!(
        on_replica
            .usage_analytics(&org.account, pb::GroupBy::Key)
            .await,
        on_primary
            .usage_analytics(&org.account, pb::GroupBy::Key)
            .await
    );
    let keys = on_replica.list_keys(&org.account).await;
    assert_eq!(keys.keys.len(), 2);
    assert_eq!(keys, on_primary.list_keys(&org.account).await);
    assert_eq!(
        on_replica.list_members(&org).await,
        on_primary.list_members(&org).await
    );
    assert_eq!(
        on_replica.user_organizations(&a).await,
        on_primary.user_organizations(&a).await
    );
    let csv = pb::ExportFormat::Csv;
    let exported = on_replica.export_activity(&org.account, csv).await;
    assert!(!exported.is_empty());
    assert_eq!(
        exported,
        on_primary.export_activity(&org.account, csv).await
    );

    // The auditor's reads of the log and the read models, on the standby's copies.
    let auditor = world.replica.auditor();
    assert_eq!(auditor.head().await.position, last);
    auditor.assert_chain_verifies().await;
    let check = auditor.consistency_check().await;
    assert!(check.ok, "{check:?}");
    let streamed = auditor
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            after_position: 0,
            ..Default::default()
        })
        .await;
    let mut streamed = streamed;
    let mut count = 0;
    while let Some(event) = streamed.message().await.unwrap() {
        count += 1;
        if event.position == last {
            break;
        }
    }
    assert_eq!(count, last, "every event up to the head is streamed");

    // The gateway authenticates on the replica from its own key index and account states.
    let authenticated = world.replica.gateway().authenticate(&bob_key.secret).await;
    assert_eq!(authenticated.key_id, bob_key.id.to_string());

    // Commands are refused, whoever sends them, before anything is decided.
    let replica_alice = world.replica.dashboard(&a);
    refused_as_read_only(replica_alice.buy(&org.account, "5")).await;
    refused_as_read_only(replica_alice.create_organization("Other")).await;
    refused_as_read_only(world.replica.gateway().place_hold(&bob_key, "1")).await;
    refused_as_read_only(world.replica.identity().register("carol@example.test")).await;
    let support = world.replica.support();
    refused_as_read_only(support.adjust(&org.account, true, "5", false)).await;
    // A rebuild writes read models, which on a standby are the primary's, replayed.
    refused_as_read_only(support.rebuild("balances")).await;
    // And nothing reached the log.
    assert_eq!(world.primary.auditor().head().await.position, last);
}

/// Authenticates `secret` on the replica until `done` holds of the answer, for up to 10 s.
async fn authenticated_until(
    world: &ReplicaWorld,
    secret: &str,
    done: impl Fn(&Result<pb::AuthenticateKeyResponse, tonic::Status>) -> bool,
) -> Result<pb::AuthenticateKeyResponse, tonic::Status> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = world.replica.gateway().authenticate(secret).outcome().await;
        if done(&answer) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journey_of_a_key_is_followed_on_the_replica_from_its_own_log() {
    let world = ReplicaWorld::start(&[]).await;
    let (admin, org, first) = world.funded_key().await;
    let admin_dashboard = world.dashboard(&admin);
    // The replica learned the first key at start or from the log; it authenticates.
    let answer = authenticated_until(&world, &first.secret, Result::is_ok).await;
    assert_eq!(answer.unwrap().key_id, first.id.to_string());

    // A key created on the primary once the replica has cached its account: the follower adds
    // it to the key index (a secret the replica has never seen is not remembered as unknown
    // for long) and the account state is read again since the log grew.
    let second = admin_dashboard.create_key(&org.account, "second").await;
    let answer = authenticated_until(&world, &second.secret, Result::is_ok).await;
    assert_eq!(answer.unwrap().key_id, second.id.to_string());

    // Disabled on the primary: the replica's cached account state is not trusted once the
    // log has grown, so it answers KEY_DISABLED within the replay lag and one follow interval
    // (waited for up to 10 s here: the machine running the tests may be busy).
    let disabled = admin_dashboard
        .rpc()
        .disable_key(pb::KeyCommandRequest {
            command_id: uuid::Uuid::new_v4().to_string(),
            account_id: org.account.to_string(),
            key_id: second.id.to_string(),
        })
        .await;
    assert!(disabled.position > 0);
    let answer = authenticated_until(&world, &second.secret, |answer| {
        answer.as_ref().is_err_and(|s| reason(s) == "KEY_DISABLED")
    })
    .await;
    let status = answer.unwrap_err();
    assert_eq!(reason(&status), "KEY_DISABLED", "{status:?}");

    // The key's state on the replica's read model, after the command's position.
    let key = world
        .replica
        .dashboard(&admin)
        .after(disabled.position)
        .get_key(&second)
        .await;
    assert_eq!(key.status(), pb::KeyStatus::Disabled);
    // The first key is untouched.
    let answer = authenticated_until(&world, &first.secret, Result::is_ok).await;
    assert!(answer.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_on_the_replica_resume_when_its_standby_is_stopped_and_started_again() {
    let mut world = ReplicaWorld::start(&[]).await;
    let (admin, org, key) = world.funded_key().await;
    let replica = world.replica.dashboard(&admin);
    let position = world
        .dashboard(&admin)
        .buy(&org.account, "1")
        .await
        .position;
    assert_eq!(
        replica.after(position).balance(&org.account).await.balance,
        "101"
    );
    // The replica caches the key's account state, as a gateway's authentications make it.
    let answer = authenticated_until(&world, &key.secret, Result::is_ok).await;
    assert!(answer.is_ok(), "{answer:?}");

    world.database.stop_standby().await;
    // Without its database the replica is not serving and its reads are UNAVAILABLE; the
    // primary goes on taking commands.
    world
        .replica
        .wait_for_health(Duration::from_secs(10), |status| {
            status == tonic_health::pb::health_check_response::ServingStatus::NotServing
        })
        .await;
    replica
        .balance(&org.account)
        .refused(Code::Unavailable)
        .await;
    let position = world
        .dashboard(&admin)
        .buy(&org.account, "2")
        .await
        .position;
    // And disables the key the replica cached as active.
    world.dashboard(&admin).disable_key(&key).await;

    world.database.start_standby_again().await;
    world
        .replica
        .wait_until_serving(Duration::from_secs(30))
        .await;
    // The standby caught up with what was written while it was down.
    assert_eq!(
        replica.after(position).balance(&org.account).await.balance,
        "103"
    );
    // What the replica cached before the outage is not trusted after it: the key is refused
    // without the caller asking for a position.
    let answer = authenticated_until(&world, &key.secret, |answer| {
        answer.as_ref().is_err_and(|s| reason(s) == "KEY_DISABLED")
    })
    .await;
    let status = answer.unwrap_err();
    assert_eq!(reason(&status), "KEY_DISABLED", "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_replica_is_not_serving_while_its_standby_replay_lags_past_the_bound() {
    use tonic_health::pb::health_check_response::ServingStatus;

    let mut world = ReplicaWorld::start(&["--max-replay-lag-ms", "300"]).await;
    let (admin, org, _key) = world.funded_key().await;
    world.database.wait_replayed().await;
    assert_eq!(world.replica.health().await, ServingStatus::Serving);

    world.database.pause_replay(true).await;
    let position = world
        .dashboard(&admin)
        .buy(&org.account, "1")
        .await
        .position;
    // The standby receives the WAL but does not replay it: the lag grows past 300 ms.
    world
        .replica
        .wait_for_health(Duration::from_secs(15), |status| {
            status == ServingStatus::NotServing
        })
        .await;
    // A read that needs the new position cannot be answered from the standby meanwhile.
    let replica = world.replica.dashboard(&admin);
    let status = replica
        .after(position)
        .balance(&org.account)
        .refused(Code::Unavailable)
        .await;
    assert!(status.message().contains("min_position"), "{status:?}");

    world.database.pause_replay(false).await;
    world
        .replica
        .wait_until_serving(Duration::from_secs(15))
        .await;
    assert_eq!(
        replica.after(position).balance(&org.account).await.balance,
        "101"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journey_reads_its_writes_on_the_replica() {
    let world = ReplicaWorld::start(&[]).await;
    let log = sqlx::PgPool::connect(world.database.primary_url())
        .await
        .expect("the primary accepts connections");
    // Every command on the primary, every read on the replica after the last command's
    // position: the journey's assertions hold as they do against one server.
    journey::walk(&Sides::Replicated {
        primary: &world.primary,
        replica: &world.replica,
        log: &log,
    })
    .await;
    log.close().await;
}
