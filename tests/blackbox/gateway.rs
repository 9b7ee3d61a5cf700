//! The gateway's batches and the hold-expiry task, and erasing personal data.

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::ledgerd::Ledgerd;
use tonic::Code;
use uuid::Uuid;

use crate::api_rules::user_with_organization;
use crate::common::{Env, assert_chain_verifies, balance, id, key, reason, units, usage};

/// An organization with 100 credits and one key: (admin, org, account, key id).
pub async fn funded_key(ledgerd: &Ledgerd) -> (Uuid, String, String, String) {
    let (user, org, account) = user_with_organization(ledgerd).await;
    let dashboard = ledgerd.clients("dashboard", Some(user)).await;
    dashboard
        .credits
        .clone()
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: account.clone(),
            amount: "100".into(),
            payment_reference: "pay".into(),
        })
        .await
        .unwrap();
    let key = id();
    dashboard
        .keys
        .clone()
        .create_key(pb::CreateKeyRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: key.clone(),
            name: "gateway".into(),
            limit: None,
            expires_at: None,
        })
        .await
        .unwrap();
    (user, org, account, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_batch_answers_each_item_with_its_own_result() {
    let env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let item = |generation: &str, cost: &str| pb::RecordUsageRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        usage: Some(usage(generation, cost)),
    };
    let mut items: Vec<_> = (0..10).map(|n| item(&format!("gen-{n}"), "0.5")).collect();
    items.push(item("gen-0", "0.5")); // billed already in this batch or before
    items.push(item("gen-bad", "-1"));
    let reply = gateway
        .record_usage_batch(pb::RecordUsageBatchRequest {
            items: items.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.results.len(), 12);
    for (result, item) in reply.results.iter().zip(&items) {
        assert_eq!(result.command_id, item.command_id);
    }
    let ok = reply.results.iter().filter(|r| r.code == 0).count();
    assert_eq!(ok, 10, "{:?}", reply.results);
    let bad = &reply.results[11];
    assert_eq!(bad.code, Code::InvalidArgument as i32);
    assert!(
        reply
            .results
            .iter()
            .any(|r| r.reason == "GENERATION_ALREADY_RECORDED")
    );

    let balance = balance(&env.ledgerd, user, &account, 0).await;
    assert_eq!(balance.total_used, "5");

    let empty = gateway
        .record_usage_batch(pb::RecordUsageBatchRequest { items: Vec::new() })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_past_its_ttl_is_expired_by_the_system_and_the_expiry_is_in_the_log() {
    let env = Env::start().await;
    let (user, _org, account, key) = funded_key(&env.ledgerd).await;
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    gateway
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: key,
            hold_id: id(),
            estimate: "30".into(),
            ttl_s: 1,
        })
        .await
        .unwrap();
    let mut credits = env.ledgerd.clients("dashboard", Some(user)).await.credits;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let balance = credits
            .get_account_balance(pb::GetAccountBalanceRequest {
                account_id: account.clone(),
                min_position: 0,
            })
            .await
            .unwrap()
            .into_inner();
        if balance.open_holds == 0 {
            assert_eq!(balance.available, "100");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hold was not expired in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metadata: String =
        sqlx::query_scalar("SELECT metadata FROM events WHERE event_type = 'account.hold_expired'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert!(
        metadata.contains("\"caller_kind\":\"system\""),
        "{metadata}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_a_user_removes_personal_data_and_leaves_the_log_untouched() {
    let env = Env::start().await;
    let (user, org, _account) = user_with_organization(&env.ledgerd).await;
    let email = format!("{user}@example.test");
    let dashboard = env.ledgerd.clients("dashboard", Some(user)).await;
    // The user's address is also a billing contact of the organization, beside another one.
    dashboard
        .settings
        .clone()
        .set_billing_settings(pb::SetBillingSettingsRequest {
            command_id: id(),
            organization_id: org.clone(),
            settings: Some(pb::BillingSettings {
                contacts: vec![email.clone(), "finance@example.test".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let before = ledger_eventstore::head(&env.pool).await.unwrap();
    let refused = dashboard
        .users
        .clone()
        .erase_user(pb::EraseUserRequest {
            user_id: user.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let erased = env
        .ledgerd
        .clients("identity", None)
        .await
        .users
        .erase_user(pb::EraseUserRequest {
            user_id: user.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        erased.rows_erased, 2,
        "the email row and one billing profile"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM user_emails WHERE user_id = $1")
        .bind(user)
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let contacts = dashboard
        .settings
        .clone()
        .get_billing_settings(pb::GetBillingSettingsRequest {
            organization_id: org,
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .contacts;
    assert_eq!(contacts, ["finance@example.test"]);
    let anywhere: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM user_emails WHERE email = $1) \
              + (SELECT count(*) FROM invitation_emails WHERE email = $1) \
              + (SELECT count(*) FROM billing_profiles WHERE $1 = ANY(contacts))",
    )
    .bind(&email)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(
        anywhere, 0,
        "the address is gone from every personal-data table"
    );

    // The log is untouched: same head, same hash, and the chain verifies.
    let after = ledger_eventstore::head(&env.pool).await.unwrap();
    assert_eq!((after.position, after.hash), (before.position, before.hash));
    assert_chain_verifies(&env.ledgerd).await;
    let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE payload LIKE '%@%'")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(emails, 0, "no email ever reached the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_authentication_is_served_from_memory() {
    let env = Env::start().await;
    let (user, _org, account, _key) = funded_key(&env.ledgerd).await;
    let created = env
        .ledgerd
        .clients("dashboard", Some(user))
        .await
        .keys
        .create_key(pb::CreateKeyRequest {
            command_id: id(),
            account_id: account,
            key_id: id(),
            name: "hot".into(),
            limit: None,
            expires_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        gateway
            .authenticate_key(pb::AuthenticateKeyRequest {
                min_position: 0,
                secret: created.secret.clone(),
            })
            .await
            .unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let (p50, p99) = (latencies[1_000], latencies[1_980]);
    println!("AuthenticateKey round trip over gRPC (debug build): p50 {p50:?}, p99 {p99:?}");
    // Generous: a shared 2-core machine and a debug build; the benchmark measures the real one.
    assert!(p99 < Duration::from_millis(25), "p99 {p99:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_process_answers_authentication_with_what_another_process_wrote() {
    // A ledgerd trusts its cached account states for AuthenticateKey while its own writer sees
    // no other writer append. Here `first` bills one organization without pause (its writer
    // checks the head many times a second) while `second` disables a key of another
    // organization: `first` must notice the foreign append and answer from the log.
    let env = Env::start().await;
    let second = env.ledgerd.start_beside().await;
    let (_, _, busy_account, busy_key) = funded_key(&env.ledgerd).await;
    let (user, _, account, _) = funded_key(&env.ledgerd).await;
    let created = key(&env.ledgerd, user, &account, None).await;
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let authenticate = pb::AuthenticateKeyRequest {
        min_position: 0,
        secret: created.secret.clone(),
    };
    gateway
        .authenticate_key(authenticate.clone())
        .await
        .unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let billed_so_far = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let billing = {
        let (stop, mut billing) = (stop.clone(), gateway.clone());
        let billed_so_far = billed_so_far.clone();
        tokio::spawn(async move {
            let mut billed = 0_u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                billing
                    .record_usage(pb::RecordUsageRequest {
                        command_id: id(),
                        account_id: busy_account.clone(),
                        key_id: busy_key.clone(),
                        usage: Some(usage(&id(), "0.001")),
                    })
                    .await
                    .unwrap();
                billed += 1;
                billed_so_far.store(billed, std::sync::atomic::Ordering::Relaxed);
            }
            billed
        })
    };
    // Busy first (a count, not a time: a loaded machine bills slowly).
    let busy_since = Instant::now();
    while billed_so_far.load(std::sync::atomic::Ordering::Relaxed) < 20 {
        assert!(
            busy_since.elapsed() < Duration::from_secs(30),
            "the first process does not bill"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    second
        .clients("dashboard", Some(user))
        .await
        .keys
        .disable_key(pb::KeyCommandRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: created.key_id.clone(),
        })
        .await
        .unwrap();
    let disabled_at = Instant::now();
    let seen = loop {
        match gateway.authenticate_key(authenticate.clone()).await {
            Err(status) if status.code() == Code::FailedPrecondition => {
                break disabled_at.elapsed();
            }
            Ok(_) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(
            disabled_at.elapsed() < Duration::from_secs(5),
            "the busy process still authenticates a key the other one disabled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let billed = billing.await.unwrap();
    println!("the busy process (billed {billed} requests) saw the disabled key after {seen:?}");
    assert!(billed > 10, "the first process was not kept busy: {billed}");

    // Idle, `first` keeps its watch recent by reading the head; it must see `second` enable
    // the key again all the same.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway
        .authenticate_key(authenticate.clone())
        .await
        .unwrap_err();
    second
        .clients("dashboard", Some(user))
        .await
        .keys
        .enable_key(pb::KeyCommandRequest {
            command_id: id(),
            account_id: account,
            key_id: created.key_id,
        })
        .await
        .unwrap();
    let enabled_at = Instant::now();
    while gateway
        .authenticate_key(authenticate.clone())
        .await
        .is_err()
    {
        assert!(
            enabled_at.elapsed() < Duration::from_secs(5),
            "the idle process still refuses a key the other one enabled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "the idle process saw the key enabled after {:?}",
        enabled_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retried_gateway_commands_get_their_first_answer_and_append_nothing() {
    // Gateway commands do not look their command id up before deciding: a retry is recognised
    // by its failing decision (the hold exists, is settled) or by the append itself (a usage
    // record decides again and the log answers with the stored outcome).
    let env = Env::start().await;
    let (admin, _, account, key) = funded_key(&env.ledgerd).await;
    let mut gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let hold_id = id();
    let place = pb::PlaceHoldRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        hold_id: hold_id.clone(),
        estimate: "2".into(),
        ttl_s: 60,
    };
    let settle = pb::SettleHoldRequest {
        command_id: id(),
        account_id: account.clone(),
        hold_id,
        usage: Some(usage(&id(), "1.5")),
    };
    let record = pb::RecordUsageRequest {
        command_id: id(),
        account_id: account.clone(),
        key_id: key.clone(),
        usage: Some(usage(&id(), "0.25")),
    };
    let placed = gateway
        .place_hold(place.clone())
        .await
        .unwrap()
        .into_inner();
    let settled = gateway
        .settle_hold(settle.clone())
        .await
        .unwrap()
        .into_inner();
    let recorded = gateway
        .record_usage(record.clone())
        .await
        .unwrap()
        .into_inner();
    let head = env.head().await;
    assert_eq!(recorded.position, head);
    for _ in 0..2 {
        assert_eq!(
            gateway
                .place_hold(place.clone())
                .await
                .unwrap()
                .into_inner(),
            placed
        );
        assert_eq!(
            gateway
                .settle_hold(settle.clone())
                .await
                .unwrap()
                .into_inner(),
            settled
        );
        assert_eq!(
            gateway
                .record_usage(record.clone())
                .await
                .unwrap()
                .into_inner(),
            recorded
        );
    }
    assert_eq!(env.head().await, head, "the retries appended nothing");

    let reused = gateway
        .record_usage(pb::RecordUsageRequest {
            usage: Some(usage(&id(), "0.5")),
            ..record
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(reason(&reused), "COMMAND_ID_REUSED");
    let reused = gateway
        .settle_hold(pb::SettleHoldRequest {
            usage: Some(usage(&id(), "1")),
            ..settle
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "COMMAND_ID_REUSED");
    assert_eq!(env.head().await, head);

    let balance = balance(&env.ledgerd, admin, &account, head).await;
    assert_eq!(
        balance.balance, "98.25",
        "100 - 1.5 - 0.25, each billed once"
    );
}

/// A counter of `ledgerd`'s metrics.
async fn counter(ledgerd: &Ledgerd, name: &str) -> u64 {
    let text = ledgerd.scrape_metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_commands_on_one_account_share_group_commits_and_bill_exactly() {
    // Commands on one account are decided one after another, but each is queued without
    // waiting for the previous one to commit: 64 at once must not take 64 transactions.
    const COMMANDS: usize = 64;
    let env = Env::start().await;
    let (admin, _, account, key) = funded_key(&env.ledgerd).await;
    let gateway = env.ledgerd.clients("gateway", None).await.gateway;
    let transactions_before = counter(&env.ledgerd, "ledger_append_transactions_total").await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(COMMANDS));
    let mut commands = tokio::task::JoinSet::new();
    for n in 0..COMMANDS {
        let (mut gateway, barrier) = (gateway.clone(), barrier.clone());
        let (account, key) = (account.clone(), key.clone());
        commands.spawn(async move {
            barrier.wait().await;
            if n % 2 == 0 {
                let recorded = gateway.record_usage(pb::RecordUsageRequest {
                    command_id: id(),
                    account_id: account,
                    key_id: key,
                    usage: Some(usage(&id(), "0.25")),
                });
                recorded.await.map(|r| r.into_inner().position)
            } else {
                let placed = gateway.place_hold(pb::PlaceHoldRequest {
                    command_id: id(),
                    account_id: account,
                    key_id: key,
                    hold_id: id(),
                    estimate: "1".into(),
                    ttl_s: 600,
                });
                placed.await.map(|p| p.into_inner().position)
            }
        });
    }
    let mut positions = std::collections::BTreeSet::new();
    while let Some(done) = commands.join_next().await {
        positions.insert(done.unwrap().unwrap());
    }
    let transactions =
        counter(&env.ledgerd, "ledger_append_transactions_total").await - transactions_before;
    println!("{COMMANDS} commands on one account took {transactions} transactions");
    assert_eq!(
        positions.len(),
        COMMANDS,
        "each command has its own position"
    );
    assert!(
        transactions * 4 <= COMMANDS as u64,
        "{COMMANDS} commands on one account took {transactions} transactions"
    );
    let last = *positions.last().unwrap();
    let balance = balance(&env.ledgerd, admin, &account, last).await;
    let half = COMMANDS / 2;
    assert_eq!(
        units(&balance.balance),
        units("100") - units("0.25") * half as i128
    );
    assert_eq!(units(&balance.held), units("1") * half as i128);
    assert_eq!(balance.open_holds as usize, half);
    assert_chain_verifies(&env.ledgerd).await;
}
