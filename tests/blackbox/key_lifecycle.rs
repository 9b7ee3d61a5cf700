//! A key's life after creation, over gRPC: its secret rotated with a grace period for the old
//! one, its expiry changed, its creation, last use and spend read back, and what
//! `AuthenticateKey` answers so the gateway needs no second call.

use std::time::{Duration, Instant, SystemTime};

use ledger_api::pb;
use ledger_tests::client::{Api, Gateway, Key, World, authorize_and_hold_request, rotate_request};
use tonic::Code;

/// Authenticating `secret` is refused with `reason` within `within`: the check repeats while it
/// still succeeds (a grace period or an expiry running out on the server's clock).
async fn refused_within(gateway: &Gateway, secret: &str, reason: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        match gateway.authenticate(secret).outcome().await {
            Ok(_) => assert!(Instant::now() < deadline, "still accepted after {within:?}"),
            Err(status) => {
                assert_eq!(ledger_tests::client::reason(&status), reason, "{status:?}");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `Bill` stream carrying one AuthenticateKey of `secret`: the item's refusal reason, or
/// empty when it was answered.
async fn billed_reason(gateway: &Gateway, secret: &str) -> String {
    let item = pb::BillRequest {
        sequence: 1,
        call: Some(pb::bill_request::Call::AuthenticateKey(
            pb::AuthenticateKeyRequest {
                secret: secret.into(),
                min_position: 0,
            },
        )),
    };
    let mut replies = gateway.rpc().bill(tokio_stream::iter([item])).await;
    let reply = replies.message().await.unwrap().expect("one reply");
    match reply.reply {
        Some(pb::bill_reply::Reply::Error(error)) => error.reason,
        Some(pb::bill_reply::Reply::AuthenticateKey(_)) => String::new(),
        other => panic!("unexpected reply {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_takes_its_new_secret_and_the_old_one_only_until_its_grace_ends() {
    let world = World::start().await;
    let (admin, _, old) = world.funded_key().await;
    let (dashboard, gateway) = (world.dashboard(&admin), world.gateway());
    let rotated = dashboard.rotate_key(&old, 2).await;
    let new = rotated.key;
    assert_ne!(new.secret, old.secret);
    assert!(new.secret.starts_with("ark_") && new.secret.starts_with(&new.prefix));
    assert_eq!(rotated.reply.secret_generation, 1);
    assert!(rotated.reply.previous_secret_valid_until.is_some());

    // Both secrets work during the grace period, for every gateway call.
    for secret in [&old.secret, &new.secret] {
        let answer = gateway.authenticate(secret).await;
        assert_eq!(answer.key_id, old.id.to_string());
        assert_eq!(billed_reason(&gateway, secret).await, "");
    }
    gateway
        .rpc()
        .authorize_and_hold(authorize_and_hold_request(&old.secret, "1"))
        .await;

    // Then the old one stops, everywhere; the new one goes on.
    refused_within(
        &gateway,
        &old.secret,
        "KEY_SECRET_ROTATED",
        Duration::from_secs(10),
    )
    .await;
    let status = gateway
        .rpc()
        .authorize_and_hold(authorize_and_hold_request(&old.secret, "1"))
        .refused_because("KEY_SECRET_ROTATED")
        .await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        billed_reason(&gateway, &old.secret).await,
        "KEY_SECRET_ROTATED"
    );
    gateway.authenticate(&new.secret).await;
    gateway
        .rpc()
        .authorize_and_hold(authorize_and_hold_request(&new.secret, "1"))
        .await;

    // The key shows its rotation; the listing and the read model agree.
    let key = dashboard.get_key(&new).await;
    assert_eq!(key.prefix, new.prefix);
    assert_eq!(key.secret_generation, 1);
    assert!(key.previous_secret_valid_until.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_without_grace_ends_the_old_secret_at_once_even_after_a_restart() {
    let mut world = World::start().await;
    let (admin, _, old) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    let new = dashboard.rotate_key(&old, 0).await.key;
    world
        .gateway()
        .authenticate(&old.secret)
        .refused_because("KEY_SECRET_ROTATED")
        .await;
    // A restarted server rebuilds its key index from the log: both secrets are still known,
    // and only the new one works.
    world.ledgerd.stop();
    world.ledgerd.restart().await;
    let gateway = world.gateway();
    gateway.authenticate(&new.secret).await;
    gateway
        .authenticate(&old.secret)
        .refused_because("KEY_SECRET_ROTATED")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_rotation_ends_the_first_secret_and_grace_is_bounded_to_seven_days() {
    let world = World::start().await;
    let (admin, _, first) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    dashboard
        .rotate_key(&first, 604_801)
        .refused_field("grace_s")
        .await;
    let second = dashboard.rotate_key(&first, 604_800).await.key;
    let third = dashboard.rotate_key(&second, 3_600).await;
    assert_eq!(third.reply.secret_generation, 2);
    let gateway = world.gateway();
    gateway.authenticate(&third.key.secret).await;
    gateway.authenticate(&second.secret).await;
    gateway
        .authenticate(&first.secret)
        .refused_because("KEY_SECRET_ROTATED")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_rotation_shows_its_secret_again_only_while_it_is_the_current_one() {
    let world = World::start().await;
    let (admin, _, key) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    let request = rotate_request(&key, 60);
    let first = dashboard.rpc().rotate_key(request.clone()).await;
    let again = dashboard.rpc().rotate_key(request.clone()).await;
    assert_eq!(again.secret, first.secret);
    assert_eq!(again.position, first.position);
    dashboard.rotate_key(&key, 60).await;
    dashboard
        .rpc()
        .rotate_key(request)
        .refused_because("KEY_SECRET_NO_LONGER_SHOWN")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_rotate_their_own_keys_only_and_a_deleted_key_is_not_rotated() {
    let world = World::start().await;
    let (admin, org, admins_key) = world.funded_key().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let members = world.dashboard(&member);
    members
        .rotate_key(&admins_key, 0)
        .refused(Code::PermissionDenied)
        .await;
    let own = members.create_key(&org.account, "own").await;
    members.rotate_key(&own, 0).await;
    members.delete_key(&own).await;
    members
        .rotate_key(&own, 0)
        .refused_because("KEY_DELETED")
        .await;
}

fn in_secs(secs: u64) -> prost_types::Timestamp {
    (SystemTime::now() + Duration::from_secs(secs)).into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_expiry_is_set_after_creation_stops_the_key_and_moving_it_revives_it() {
    let world = World::start().await;
    let (admin, _, key) = world.funded_key().await;
    let (dashboard, gateway) = (world.dashboard(&admin), world.gateway());
    let past = prost_types::Timestamp::from(SystemTime::now() - Duration::from_secs(60));
    dashboard
        .change_key_expiry(&key, Some(past))
        .refused_field("expires_at")
        .await;
    let soon = in_secs(2);
    let changed = dashboard.change_key_expiry(&key, Some(soon)).await;
    assert_eq!(
        dashboard
            .after(changed.position)
            .get_key(&key)
            .await
            .expires_at,
        Some(soon)
    );
    refused_within(
        &gateway,
        &key.secret,
        "KEY_EXPIRED",
        Duration::from_secs(10),
    )
    .await;
    gateway
        .place_hold(&key, "1")
        .refused_because("KEY_EXPIRED")
        .await;
    // Moving the expiry into the future, or clearing it, makes the key work again.
    dashboard
        .change_key_expiry(&key, Some(in_secs(86_400)))
        .await;
    gateway.authenticate(&key.secret).await;
    let cleared = dashboard.change_key_expiry(&key, None).await;
    assert_eq!(
        dashboard
            .after(cleared.position)
            .get_key(&key)
            .await
            .expires_at,
        None
    );
    gateway.place_hold(&key, "1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_carries_its_creation_last_use_lifetime_and_current_period_spend() {
    let world = World::start().await;
    let (admin, org, _) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    let before = SystemTime::now();
    let key = dashboard
        .create_key_with_limit(&org.account, "metered", "50", pb::LimitPeriod::Monthly)
        .await;
    let fresh = dashboard.get_key(&key).await;
    let created_at = SystemTime::try_from(fresh.created_at.unwrap()).unwrap();
    assert!(created_at >= before - Duration::from_secs(1));
    assert_eq!(fresh.last_used_at, None, "never used yet");
    assert_eq!(
        (
            fresh.lifetime_spend.as_str(),
            fresh.current_period_spend.as_str()
        ),
        ("0", "0")
    );

    let gateway = world.gateway();
    let hold = gateway.place_hold(&key, "5").await;
    gateway.settle(&hold, "gen-a", "1.25").await;
    let last = gateway.record_usage(&key, "gen-b", "2").await;
    let seen = dashboard.after(last.position);
    let used = seen.get_key(&key).await;
    assert!(used.last_used_at.is_some(), "{used:?}");
    assert_eq!(used.lifetime_spend, "3.25");
    assert_eq!(used.current_period_spend, "3.25");
    assert_eq!(used.remaining_limit.as_deref(), Some("46.75"));
    assert_eq!(used.created_at, fresh.created_at);
    let listed = seen.list_keys(&org.account).await;
    let row = listed
        .keys
        .iter()
        .find(|k| k.key_id == key.id.to_string())
        .unwrap();
    assert_eq!(row.last_used_at, used.last_used_at);
    assert_eq!(row.lifetime_spend, "3.25");
    assert_eq!(row.created_at, fresh.created_at);
}

#[tokio::test(flavor = "multi_thread")]
#[allow(deprecated)] // the deprecated `status` and `expired` are checked to stay constant
async fn authenticate_key_answers_the_prompt_logging_flag_and_the_remaining_limit() {
    let world = World::start().await;
    let (admin, org, _) = world.funded_key().await;
    let dashboard = world.dashboard(&admin);
    let key: Key = dashboard
        .create_key_with_limit(&org.account, "limited", "50", pb::LimitPeriod::Daily)
        .await;
    let gateway = world.gateway();
    let answer = gateway.authenticate(&key.secret).await;
    assert!(!answer.prompt_logging);
    assert_eq!(answer.remaining_limit.as_deref(), Some("50"));
    assert_eq!(answer.available_balance, "100");
    assert_eq!(
        (answer.status, answer.expired),
        (pb::KeyStatus::Active as i32, false)
    );
    let set = dashboard.set_privacy(&org, 30, true).await;
    let answer = gateway.after(set.position).authenticate(&key.secret).await;
    assert!(answer.prompt_logging);
    // AuthorizeAndHold answers the same flag.
    let held = gateway.authorize_and_hold(&key, "10").await;
    assert!(held.prompt_logging);
    assert_eq!(held.remaining_limit.as_deref(), Some("40"));
    // A personal account's key never logs prompts.
    dashboard.buy(&admin.personal, "5").await;
    let personal = dashboard.create_key(&admin.personal, "mine").await;
    assert!(!gateway.authenticate(&personal.secret).await.prompt_logging);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_with_an_expiry_authenticates_until_then_and_is_refused_after() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    dashboard.buy(&org.account, "100").await;
    let expires_at = in_secs(3);
    let created = dashboard
        .rpc()
        .create_key(pb::CreateKeyRequest {
            command_id: ledger_tests::client::id(),
            account_id: org.account.to_string(),
            key_id: ledger_tests::client::id(),
            name: "short-lived".into(),
            limit: None,
            expires_at: Some(expires_at),
        })
        .await;
    let gateway = world.gateway().after(created.position);
    let authenticated = gateway.authenticate(&created.secret).await;
    assert_eq!(authenticated.key_id, created.key_id);
    refused_within(
        &gateway,
        &created.secret,
        "KEY_EXPIRED",
        Duration::from_secs(15),
    )
    .await;
    let status = gateway
        .authenticate(&created.secret)
        .refused_because("KEY_EXPIRED")
        .await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    gateway
        .rpc()
        .authorize_and_hold(authorize_and_hold_request(&created.secret, "1"))
        .refused_because("KEY_EXPIRED")
        .await;
}
