//! Concurrency on one balance, the audit RPCs, and gRPC reflection.

use ledger_api::pb;
use ledger_tests::client::{Api, World, reason};
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn of_many_concurrent_holds_on_one_balance_exactly_the_affordable_ones_succeed() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await; // 100 credits
    let gateway = world.gateway();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        tasks.spawn(gateway.place_hold_for(&key, "7", 600).outcome());
    }
    let (mut placed, mut refused) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => placed += 1,
            Err(status) => {
                assert_eq!(reason(&status), "INSUFFICIENT_CREDITS", "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((placed, refused), (14, 26), "100 / 7 = 14 holds fit");
    let balance = world.dashboard(&admin).balance(&acme.account).await;
    assert_eq!(
        (balance.held.as_str(), balance.available.as_str()),
        ("98", "2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auditors_stream_the_log_replay_balances_and_verify_the_chain() {
    let world = World::start().await;
    let (_admin, acme, _key) = world.funded_key().await;
    let auditor = world.auditor();
    let head = auditor.head().await;
    assert_eq!(head.position, world.head().await);

    let events = auditor
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            after_position: 0,
            stream_id: Some(format!("account-{}", acme.account)),
            event_types: Vec::new(),
            follow: false,
            limit: 0,
        })
        .all()
        .await;
    let types: Vec<_> = events.into_iter().map(|event| event.event_type).collect();
    assert_eq!(
        types,
        [
            "account.opened",
            "account.credits_purchased",
            "account.key_created"
        ]
    );

    let purchased_at = head.position - 1; // the key was created last
    let then = auditor
        .balance_at_position(&acme.account, purchased_at)
        .await;
    assert_eq!(then.balance, "100");
    let opened_only = auditor
        .balance_at_position(&acme.account, purchased_at - 1)
        .await;
    assert_eq!(opened_only.balance, "0");

    let verified = auditor.verify_checkpoint(head.position, &head.hash).await;
    assert!(verified.extends, "{}", verified.detail);
    let forged = auditor
        .verify_checkpoint(head.position, &"00".repeat(32))
        .await;
    assert!(!forged.extends);

    world
        .gateway()
        .rpc()
        .get_head(pb::GetHeadRequest {})
        .refused(Code::PermissionDenied)
        .await;
}

/// The services reflection lists over protocol `$version`: `v1`, or `v1alpha` (what Python's
/// grpcio-reflection and the tools built on it speak).
macro_rules! listed {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("not a service list: {reply:?}");
        };
        list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
    }};
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_every_service_over_v1_and_v1alpha() {
    let world = World::start().await;
    let v1 = listed!(v1, world.ledgerd.channel().await);
    let v1alpha = listed!(v1alpha, world.ledgerd.channel().await);
    for names in [&v1, &v1alpha] {
        for service in [
            "UsersService",
            "OrganizationsService",
            "CreditsService",
            "KeysService",
            "GatewayService",
            "ActivityService",
            "SettingsService",
            "SupportService",
            "AuditService",
            "NotificationsService",
        ] {
            let full = format!("arouter.ledger.v1.{service}");
            assert!(names.contains(&full), "{full} missing from {names:?}");
        }
        assert!(
            names.contains(&"grpc.health.v1.Health".to_owned()),
            "{names:?}"
        );
    }
}
