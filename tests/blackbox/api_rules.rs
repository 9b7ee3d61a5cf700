//! Rules every RPC keeps: idempotency by command id, input validation naming the field with
//! nothing appended, and authentication of callers.

use ledger_api::pb;
use ledger_tests::client::{Api, Auditor, Identity, Rpc, World, id, usage};
use tonic::Code;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_command_gets_the_same_reply_and_appends_once_and_a_reuse_is_refused() {
    let world = World::start().await;
    let (user, acme) = world.organization().await;
    let dashboard = world.dashboard(&user);
    let request = pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: acme.account.to_string(),
        amount: "10.50".into(),
        payment_reference: "pay_1".into(),
    };
    let first = dashboard.rpc().purchase_credits(request.clone()).await;
    let head = world.head().await;
    assert_eq!(first.position, head);
    let again = dashboard.rpc().purchase_credits(request.clone()).await;
    assert_eq!(again, first);
    assert_eq!(world.head().await, head, "the retry appended nothing");

    dashboard
        .rpc()
        .purchase_credits(pb::PurchaseCreditsRequest {
            amount: "11".into(),
            ..request.clone()
        })
        .refused_with(Code::AlreadyExists, "COMMAND_ID_REUSED")
        .await;
    // The same command id from another caller is another request, refused alike.
    world
        .caller("dashboard", Some(Uuid::new_v4()))
        .purchase_credits(request)
        .refused(Code::AlreadyExists)
        .await;
    assert_eq!(world.head().await, head);

    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(balance.balance, "10.5");

    // A retried key creation returns the same secret, derived again, never stored.
    let create = pb::CreateKeyRequest {
        command_id: id(),
        account_id: acme.account.to_string(),
        key_id: id(),
        name: "ci".into(),
        limit: None,
        expires_at: None,
    };
    let key = dashboard.rpc().create_key(create.clone()).await;
    let head = world.head().await;
    let retried = dashboard.rpc().create_key(create).await;
    assert_eq!(retried, key);
    assert_eq!(world.head().await, head);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload LIKE '%' || $1 || '%'")
            .bind(&key.secret)
            .fetch_one(&world.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the secret is nowhere in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_refused_naming_the_field_and_appends_nothing() {
    let world = World::start().await;
    let (user, acme) = world.organization().await;
    let dashboard = world.dashboard(&user);
    let rpc = dashboard.rpc();
    let head = world.head().await;

    let create = |name: &str| pb::CreateOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        account_id: String::new(),
        name: name.into(),
        details: None,
    };
    for name in ["", "   ", &"x".repeat(101), "bad\u{7}name", "two\nlines"] {
        rpc.create_organization(create(name))
            .refused_field("name")
            .await;
    }
    let tabbed = pb::CreateOrganizationRequest {
        details: Some("tab\there".into()),
        ..create("ok")
    };
    rpc.create_organization(tabbed)
        .refused_field("details")
        .await;

    for amount in ["-5", "0", "1.001", "abc", "1e3", "", "1000000.01"] {
        dashboard
            .buy(&acme.account, amount)
            .refused_field("amount")
            .await;
    }
    let purchase = |account_id: String, command_id: String| pb::PurchaseCreditsRequest {
        command_id,
        account_id,
        amount: "1".into(),
        payment_reference: "pay".into(),
    };
    rpc.purchase_credits(purchase(String::new(), id()))
        .refused_field("account_id")
        .await;
    rpc.purchase_credits(purchase(acme.account.to_string(), "not-a-uuid".into()))
        .refused_field("command_id")
        .await;

    let invite = |role: i32, email: &str, expires_in_s: Option<u32>| pb::InviteMemberRequest {
        command_id: id(),
        organization_id: acme.id.to_string(),
        invitation_id: id(),
        email: email.into(),
        role,
        expires_in_s,
    };
    let (member, someone) = (pb::Role::Member.into(), "someone@example.test");
    for role in [0, 99] {
        rpc.invite_member(invite(role, someone, None))
            .refused_field("role")
            .await;
    }
    rpc.invite_member(invite(member, "not an email", None))
        .refused_field("email")
        .await;
    rpc.invite_member(invite(member, someone, Some(60)))
        .refused_field("expires_in_s")
        .await;

    let unknown_reset = pb::CreateKeyRequest {
        command_id: id(),
        account_id: acme.account.to_string(),
        key_id: id(),
        name: "k".into(),
        limit: Some(pb::KeyLimit {
            amount: "5".into(),
            reset: 42,
        }),
        expires_at: None,
    };
    rpc.create_key(unknown_reset)
        .refused_field("limit.reset")
        .await;

    let gateway = world.gateway();
    let record = |usage: pb::UsageReport| pb::RecordUsageRequest {
        command_id: id(),
        account_id: acme.account.to_string(),
        key_id: id(),
        usage: Some(usage),
    };
    let mut bad_usage = usage("gen", "0.00000000001");
    gateway
        .rpc()
        .record_usage(record(bad_usage.clone()))
        .refused_field("usage.cost")
        .await;
    bad_usage.cost = "1".into();
    bad_usage.started_at = None;
    gateway
        .rpc()
        .record_usage(record(bad_usage))
        .refused_field("usage.started_at")
        .await;

    let big = pb::CreateOrganizationRequest {
        details: Some("x".repeat(2 << 20)),
        ..create("big")
    };
    // Over the 1 MiB request limit.
    rpc.create_organization(big).refused(Code::OutOfRange).await;

    // A caller-chosen account id that is taken.
    world
        .identity()
        .rpc()
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: id(),
            personal_account_id: acme.account.to_string(),
            email: "taken@example.test".into(),
        })
        .refused_with(Code::AlreadyExists, "ID_ALREADY_IN_USE")
        .await;

    assert_eq!(world.head().await, head, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_are_authenticated_and_each_kind_is_held_to_its_rpcs() {
    let world = World::start().await;
    let request = pb::CreateOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        account_id: String::new(),
        name: "Acme".into(),
        details: None,
    };
    let channel = world.ledgerd.channel().await;
    let strangers = Rpc::new(channel.clone(), "lt_wrong", Some(Uuid::new_v4()));
    strangers
        .create_organization(request.clone())
        .refused(Code::Unauthenticated)
        .await;
    let status = pb::organizations_service_client::OrganizationsServiceClient::new(channel.clone())
        .create_organization(request.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "no token at all");
    // The dashboard without x-actor-id.
    world
        .caller("dashboard", None)
        .create_organization(request.clone())
        .refused(Code::Unauthenticated)
        .await;

    world
        .gateway()
        .rpc()
        .create_organization(request)
        .refused(Code::PermissionDenied)
        .await;
    Identity::from(world.auditor().rpc().clone())
        .register("x@example.test")
        .refused(Code::PermissionDenied)
        .await;
    assert_eq!(world.head().await, 0);

    // A credential minted while the server runs is picked up.
    let token = world.ledgerd.mint("auditor", "late auditor");
    let auditor = Auditor::from(Rpc::new(channel, &token, None));
    assert_eq!(auditor.head().await.position, 0);
    assert!(auditor.verify_chain().await.ok);
    // Read models are served now: an auditor may read the feed; an empty account id is invalid.
    auditor
        .rpc()
        .list_activity(pb::ListActivityRequest::default())
        .refused_field("account_id")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_removed_from_the_file_stops_working_without_a_restart() {
    let world = World::start().await;
    let token = world.ledgerd.mint("auditor", "temporary-auditor");
    let auditor = Auditor::from(Rpc::new(world.ledgerd.channel().await, &token, None));
    // A fresh credential works.
    auditor.head().await;

    let file = world.ledgerd.credentials_file();
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let kept: Vec<_> = list
        .into_iter()
        .filter(|credential| credential["name"] != "temporary-auditor")
        .collect();
    std::fs::write(&file, serde_json::to_string(&kept).unwrap()).unwrap();

    // Revocation takes effect within the server's check interval (1 s); poll, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match auditor.head().outcome().await {
            Err(status) if status.code() == Code::Unauthenticated => break,
            _ if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("the revoked credential still works: {other:?}"),
        }
    }
    // The other credentials are untouched: the remaining auditor credential works.
    world.auditor().head().await;
}
