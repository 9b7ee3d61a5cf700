//! Rules every RPC keeps: idempotency by command id, input validation naming the field with
//! nothing appended, and authentication of callers.

use ledger_api::pb;
use ledger_tests::ledgerd::Ledgerd;
use tonic::Code;
use uuid::Uuid;

use crate::common::{Env, assert_bad_field, id, reason, register_verified};

/// Registers and verifies a user, creates an organization; returns (user, org, org account).
pub async fn user_with_organization(ledgerd: &Ledgerd) -> (Uuid, String, String) {
    let user = Uuid::new_v4();
    let identity = ledgerd.clients("identity", None).await;
    register_verified(&identity, user, &format!("{user}@example.test")).await;
    let org = id();
    let created = ledgerd
        .clients("dashboard", Some(user))
        .await
        .orgs
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
            account_id: String::new(),
            name: "Acme".into(),
            details: Some("line 1\nline 2".into()),
        })
        .await
        .unwrap()
        .into_inner();
    (user, org, created.account_id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_command_gets_the_same_reply_and_appends_once_and_a_reuse_is_refused() {
    let env = Env::start().await;
    let (user, _org, account) = user_with_organization(&env.ledgerd).await;
    let mut credits = env.ledgerd.clients("dashboard", Some(user)).await.credits;
    let request = pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.clone(),
        amount: "10.50".into(),
        payment_reference: "pay_1".into(),
    };
    let first = credits
        .purchase_credits(request.clone())
        .await
        .unwrap()
        .into_inner();
    let head = env.head().await;
    assert_eq!(first.position, head);
    let again = credits
        .purchase_credits(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(env.head().await, head, "the retry appended nothing");

    let reused = credits
        .purchase_credits(pb::PurchaseCreditsRequest {
            amount: "11".into(),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(reason(&reused), "COMMAND_ID_REUSED");
    // The same command id from another caller is another request, refused alike.
    let other = Uuid::new_v4();
    let reused = env
        .ledgerd
        .clients("dashboard", Some(other))
        .await
        .credits
        .purchase_credits(request)
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(env.head().await, head);

    let balance = credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balance.balance, "10.5");

    // A retried key creation returns the same secret, derived again, never stored.
    let mut keys = env.ledgerd.clients("dashboard", Some(user)).await.keys;
    let create = pb::CreateKeyRequest {
        command_id: id(),
        account_id: account,
        key_id: id(),
        name: "ci".into(),
        limit: None,
        expires_at: None,
    };
    let key = keys.create_key(create.clone()).await.unwrap().into_inner();
    let head = env.head().await;
    let retried = keys.create_key(create).await.unwrap().into_inner();
    assert_eq!(retried, key);
    assert_eq!(env.head().await, head);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload LIKE '%' || $1 || '%'")
            .bind(&key.secret)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the secret is nowhere in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_refused_naming_the_field_and_appends_nothing() {
    let env = Env::start().await;
    let (user, org, account) = user_with_organization(&env.ledgerd).await;
    let dashboard = env.ledgerd.clients("dashboard", Some(user)).await;
    let head = env.head().await;

    let create = |name: &str| pb::CreateOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        account_id: String::new(),
        name: name.into(),
        details: None,
    };
    for name in ["", "   ", &"x".repeat(101), "bad\u{7}name", "two\nlines"] {
        let status = dashboard
            .orgs
            .clone()
            .create_organization(create(name))
            .await
            .unwrap_err();
        assert_bad_field(&status, "name");
    }
    let status = dashboard
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            details: Some("tab\there".into()),
            ..create("ok")
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "details");

    let purchase = |amount: &str| pb::PurchaseCreditsRequest {
        command_id: id(),
        account_id: account.clone(),
        amount: amount.into(),
        payment_reference: "pay".into(),
    };
    for amount in ["-5", "0", "1.001", "abc", "1e3", "", "1000000.01"] {
        let status = dashboard
            .credits
            .clone()
            .purchase_credits(purchase(amount))
            .await
            .unwrap_err();
        assert_bad_field(&status, "amount");
    }
    let status = dashboard
        .credits
        .clone()
        .purchase_credits(pb::PurchaseCreditsRequest {
            account_id: String::new(),
            ..purchase("1")
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "account_id");
    let status = dashboard
        .credits
        .clone()
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: "not-a-uuid".into(),
            ..purchase("1")
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "command_id");

    let invite = |role: i32| pb::InviteMemberRequest {
        command_id: id(),
        organization_id: org.clone(),
        invitation_id: id(),
        email: "someone@example.test".into(),
        role,
        expires_in_s: None,
    };
    for role in [0, 99] {
        let status = dashboard
            .orgs
            .clone()
            .invite_member(invite(role))
            .await
            .unwrap_err();
        assert_bad_field(&status, "role");
    }
    let status = dashboard
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            email: "not an email".into(),
            ..invite(pb::Role::Member.into())
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "email");
    let status = dashboard
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            expires_in_s: Some(60),
            ..invite(pb::Role::Member.into())
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "expires_in_s");

    let status = dashboard
        .keys
        .clone()
        .create_key(pb::CreateKeyRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: id(),
            name: "k".into(),
            limit: Some(pb::KeyLimit {
                amount: "5".into(),
                reset: 42,
            }),
            expires_at: None,
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "limit.reset");

    let gateway = env.ledgerd.clients("gateway", None).await;
    let mut bad_usage = crate::common::usage("gen", "0.00000000001");
    let status = gateway
        .gateway
        .clone()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: id(),
            usage: Some(bad_usage.clone()),
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "usage.cost");
    bad_usage.cost = "1".into();
    bad_usage.started_at = None;
    let status = gateway
        .gateway
        .clone()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: id(),
            usage: Some(bad_usage),
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "usage.started_at");

    let status = dashboard
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            details: Some("x".repeat(2 << 20)),
            ..create("big")
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::OutOfRange,
        "over the 1 MiB request limit: {status:?}"
    );

    // A caller-chosen account id that is taken.
    let status = env
        .ledgerd
        .clients("identity", None)
        .await
        .users
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: id(),
            personal_account_id: account.clone(),
            email: "taken@example.test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(reason(&status), "ID_ALREADY_IN_USE");

    assert_eq!(env.head().await, head, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_are_authenticated_and_each_kind_is_held_to_its_rpcs() {
    let env = Env::start().await;
    let request = pb::CreateOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        account_id: String::new(),
        name: "Acme".into(),
        details: None,
    };
    let channel = env.ledgerd.channel().await;
    let strangers =
        ledger_tests::ledgerd::Clients::new(channel.clone(), "lt_wrong", Some(Uuid::new_v4()));
    let status = strangers
        .orgs
        .clone()
        .create_organization(request.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = pb::organizations_service_client::OrganizationsServiceClient::new(channel.clone())
        .create_organization(request.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "no token at all");
    let status = env
        .ledgerd
        .clients("dashboard", None)
        .await
        .orgs
        .create_organization(request.clone())
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "dashboard without x-actor-id"
    );

    let gateway = env.ledgerd.clients("gateway", None).await;
    let status = gateway
        .orgs
        .clone()
        .create_organization(request.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = env
        .ledgerd
        .clients("auditor", None)
        .await
        .users
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: id(),
            personal_account_id: String::new(),
            email: "x@example.test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(env.head().await, 0);

    // A credential minted while the server runs is picked up.
    let token = env.ledgerd.mint("auditor", "late auditor");
    let auditor = ledger_tests::ledgerd::Clients::new(channel, &token, None);
    let head = auditor
        .audit
        .clone()
        .get_head(pb::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(head.position, 0);
    let verified = auditor
        .audit
        .clone()
        .verify_chain(pb::VerifyChainRequest {
            from_position: 1,
            to_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.ok);
    // Read models are served now: an auditor may read the feed; an empty account id is invalid.
    let status = auditor
        .activity
        .clone()
        .list_activity(pb::ListActivityRequest::default())
        .await
        .unwrap_err();
    assert_bad_field(&status, "account_id");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_removed_from_the_file_stops_working_without_a_restart() {
    let env = Env::start().await;
    let token = env.ledgerd.mint("auditor", "temporary-auditor");
    let auditor = ledger_tests::ledgerd::Clients::new(env.ledgerd.channel().await, &token, None);
    auditor
        .audit
        .clone()
        .get_head(pb::GetHeadRequest {})
        .await
        .expect("a fresh credential works");

    let file = env.ledgerd.credentials_file();
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
        match auditor.audit.clone().get_head(pb::GetHeadRequest {}).await {
            Err(status) if status.code() == Code::Unauthenticated => break,
            _ if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("the revoked credential still works: {other:?}"),
        }
    }
    // The other credentials are untouched.
    env.ledgerd
        .clients("auditor", None)
        .await
        .audit
        .get_head(pb::GetHeadRequest {})
        .await
        .expect("the remaining auditor credential works");
}
