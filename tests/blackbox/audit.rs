//! Concurrency on one balance, the audit RPCs, and gRPC reflection.

use ledger_api::pb;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::common::{Env, id, reason};
use crate::gateway::funded_key;

#[tokio::test(flavor = "multi_thread")]
async fn of_many_concurrent_holds_on_one_balance_exactly_the_affordable_ones_succeed() {
    let env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await; // 100 credits
    let gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let mut gateway = gateway.clone();
        let (account, key) = (account.clone(), key.clone());
        tasks.spawn(async move {
            gateway
                .place_hold(pb::PlaceHoldRequest {
                    command_id: id(),
                    account_id: account,
                    key_id: key,
                    hold_id: id(),
                    estimate: "7".into(),
                    ttl_s: 600,
                })
                .await
        });
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
    let balance = env
        .ledgerd
        .clients("dashboard", Some(user))
        .await
        .credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account,
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (balance.held.as_str(), balance.available.as_str()),
        ("98", "2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auditors_stream_the_log_replay_balances_and_verify_the_chain() {
    let env = Env::start().await;
    let (_user, _org, account, _key) = funded_key(&env.ledgerd).await;
    let mut audit = env.ledgerd.clients("auditor", None).await.audit;
    let head = audit
        .get_head(pb::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(head.position, env.head().await);

    let mut stream = audit
        .stream_events(pb::StreamEventsRequest {
            after_position: 0,
            stream_id: Some(format!("account-{account}")),
            event_types: Vec::new(),
            follow: false,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut types = Vec::new();
    while let Some(event) = stream.next().await {
        types.push(event.unwrap().event_type);
    }
    assert_eq!(
        types,
        [
            "account.opened",
            "account.credits_purchased",
            "account.key_created"
        ]
    );

    let purchased_at = head.position - 1; // the key was created last
    let replay = |position: i64| pb::BalanceAsOfRequest {
        account_id: account.clone(),
        as_of: Some(pb::balance_as_of_request::AsOf::Position(position)),
    };
    let then = audit
        .balance_as_of(replay(purchased_at))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.balance, "100");
    let opened_only = audit
        .balance_as_of(replay(purchased_at - 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened_only.balance, "0");

    let verified = audit
        .verify_checkpoint(pb::VerifyCheckpointRequest {
            position: head.position,
            hash: head.hash.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.extends, "{}", verified.detail);
    let forged = audit
        .verify_checkpoint(pb::VerifyCheckpointRequest {
            position: head.position,
            hash: "00".repeat(32),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!forged.extends);

    let denied = env
        .ledgerd
        .clients("gateway", None)
        .await
        .audit
        .get_head(pb::GetHeadRequest {})
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_every_service() {
    let env = Env::start().await;
    let mut client = ServerReflectionClient::new(env.ledgerd.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("not a service list: {reply:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
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
    ] {
        let full = format!("arouter.ledger.v1.{service}");
        assert!(names.contains(&full), "{full} missing from {names:?}");
    }
}
