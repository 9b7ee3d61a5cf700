//! The read RPCs served from the projections, against the real ledgerd: activity feed,
//! analytics, ledger entries, the account switcher, invitations, exports, read-your-writes,
//! tenant isolation and the consistency check.

use ledger_api::pb;
use tonic::Code;
use uuid::Uuid;

use crate::common::{
    Env, assert_bad_field, balance, id, join, organization, purchase, register_verified,
    registered_user, units, usage,
};

fn ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

struct World {
    env: Env,
    alice: ledger_tests::ledgerd::Clients,
    bob: ledger_tests::ledgerd::Clients,
    carol: ledger_tests::ledgerd::Clients,
    gateway: ledger_tests::ledgerd::Clients,
    bob_id: Uuid,
    org: String,
    org_account: String,
    alice_key: String,
    bob_key: String,
    last: i64,
}

/// Alice (admin) and Bob (member) in an organization with 100 credits, one key each; Bob's
/// key settles a hold (1.25) and records usage (0.75); Alice's records 0.5. Carol is a
/// registered outsider.
async fn world() -> World {
    let env = Env::start().await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let identity = env.ledgerd.clients("identity", None).await;
    for (user, email) in [
        (a, "alice@example.test"),
        (b, "bob@example.test"),
        (c, "carol@example.test"),
    ] {
        register_verified(&identity, user, email).await;
    }
    let alice = env.ledgerd.clients("dashboard", Some(a)).await;
    let bob = env.ledgerd.clients("dashboard", Some(b)).await;
    let carol = env.ledgerd.clients("dashboard", Some(c)).await;
    let gateway = env.ledgerd.clients("gateway", None).await;
    let org = id();
    let org_account = alice
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: org.clone(),
            account_id: String::new(),
            name: "Acme".into(),
            details: None,
        })
        .await
        .unwrap()
        .into_inner()
        .account_id;
    join(&env.ledgerd, a, &org, b, "bob@example.test").await;
    alice
        .credits
        .clone()
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: org_account.clone(),
            amount: "100".into(),
            payment_reference: "pay_1".into(),
        })
        .await
        .unwrap();
    let mut keys = Vec::new();
    for clients in [&alice, &bob] {
        let key = clients
            .keys
            .clone()
            .create_key(pb::CreateKeyRequest {
                command_id: id(),
                account_id: org_account.clone(),
                key_id: id(),
                name: "key".into(),
                limit: None,
                expires_at: None,
            })
            .await
            .unwrap()
            .into_inner();
        keys.push(key.key_id);
    }
    let (alice_key, bob_key) = (keys[0].clone(), keys[1].clone());
    let hold = id();
    gateway
        .gateway
        .clone()
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: org_account.clone(),
            key_id: bob_key.clone(),
            hold_id: hold.clone(),
            estimate: "2".into(),
            ttl_s: 60,
        })
        .await
        .unwrap();
    gateway
        .gateway
        .clone()
        .settle_hold(pb::SettleHoldRequest {
            command_id: id(),
            account_id: org_account.clone(),
            hold_id: hold,
            usage: Some(usage("gen-1", "1.25")),
        })
        .await
        .unwrap();
    let mut last = 0;
    for (key, generation, cost) in [(&alice_key, "gen-2", "0.5"), (&bob_key, "gen-3", "0.75")] {
        last = gateway
            .gateway
            .clone()
            .record_usage(pb::RecordUsageRequest {
                command_id: id(),
                account_id: org_account.clone(),
                key_id: key.clone(),
                usage: Some(usage(generation, cost)),
            })
            .await
            .unwrap()
            .into_inner()
            .position;
    }
    World {
        env,
        alice,
        bob,
        carol,
        gateway,
        bob_id: b,
        org,
        org_account,
        alice_key,
        bob_key,
        last,
    }
}

fn feed(w: &World, page_size: i32, token: &str, key: Option<&str>) -> pb::ListActivityRequest {
    pb::ListActivityRequest {
        account_id: w.org_account.clone(),
        min_position: w.last,
        page_size,
        page_token: token.into(),
        filter: Some(pb::ActivityFilter {
            key_id: key.map(str::to_owned),
            ..Default::default()
        }),
    }
}

fn analytics(w: &World, group_by: pb::GroupBy) -> pb::GetUsageAnalyticsRequest {
    pb::GetUsageAnalyticsRequest {
        account_id: w.org_account.clone(),
        min_position: w.last,
        granularity: pb::Granularity::Day.into(),
        group_by: group_by.into(),
        from: Some(ts(1_779_900_000)),
        to: Some(ts(1_780_100_000)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_analytics_and_ledger_agree_with_the_commands_and_stay_within_the_tenant() {
    let w = world().await;

    // The feed: metadata only, newest first (same finish time: higher position first).
    let all = w
        .alice
        .activity
        .clone()
        .list_activity(feed(&w, 0, "", None))
        .await
        .unwrap()
        .into_inner();
    let generations: Vec<_> = all.items.iter().map(|i| i.generation_id.as_str()).collect();
    assert_eq!(generations, ["gen-3", "gen-2", "gen-1"]);
    assert!(all.next_page_token.is_empty());
    assert!(all.items.windows(2).all(|p| p[0].position > p[1].position));
    let first = &all.items[0];
    assert_eq!(
        (first.model.as_str(), first.cost.as_str()),
        ("gpt-x", "0.75")
    );
    assert_eq!(first.key_id, w.bob_key);
    assert_eq!(first.user_id, w.bob_id.to_string());
    assert_eq!(first.tokens.unwrap().prompt, 100);
    assert_eq!(first.status, pb::UsageStatus::Success as i32);

    // Filtered by key; a member sees the organization's feed.
    let bobs = w
        .bob
        .activity
        .clone()
        .list_activity(feed(&w, 0, "", Some(&w.bob_key)))
        .await
        .unwrap()
        .into_inner();
    let generations: Vec<_> = bobs
        .items
        .iter()
        .map(|i| i.generation_id.as_str())
        .collect();
    assert_eq!(generations, ["gen-3", "gen-1"]);

    // Pagination.
    let page1 = w
        .alice
        .activity
        .clone()
        .list_activity(feed(&w, 2, "", None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page1.items.len(), 2);
    assert!(!page1.next_page_token.is_empty());
    let page2 = w
        .alice
        .activity
        .clone()
        .list_activity(feed(&w, 2, &page1.next_page_token, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].generation_id, "gen-1");
    assert!(page2.next_page_token.is_empty());

    // An invalid page token names the field.
    let bad = w
        .alice
        .activity
        .clone()
        .list_activity(feed(&w, 2, "not-a-token", None))
        .await
        .unwrap_err();
    assert_bad_field(&bad, "page_token");

    // Analytics: the admin's totals are the sum of the costs; the member sees only his keys.
    let rows = w
        .alice
        .activity
        .clone()
        .get_usage_analytics(analytics(&w, pb::GroupBy::Key))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let total: i128 = rows.iter().map(|r| units(&r.spend)).sum();
    assert_eq!(total, units("2.5"));
    assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), 3);
    let alice_row = rows.iter().find(|r| r.group == w.alice_key).unwrap();
    assert_eq!(alice_row.spend, "0.5");
    let bobs_rows = w
        .bob
        .activity
        .clone()
        .get_usage_analytics(analytics(&w, pb::GroupBy::Member))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(!bobs_rows.is_empty());
    assert!(bobs_rows.iter().all(|r| r.group == w.bob_id.to_string()));
    let total: i128 = bobs_rows.iter().map(|r| units(&r.spend)).sum();
    assert_eq!(total, units("2"));

    // Ledger entries sum to the balance the balance RPC reports.
    let balance = w
        .alice
        .credits
        .clone()
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: w.org_account.clone(),
            min_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balance.balance, "97.5");
    let entries = w
        .alice
        .credits
        .clone()
        .list_ledger_entries(pb::ListLedgerEntriesRequest {
            account_id: w.org_account.clone(),
            min_position: w.last,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 4, "{entries:?}");
    let sum: i128 = entries
        .iter()
        .map(|e| {
            if e.credit_account == w.org_account {
                units(&e.amount)
            } else {
                assert_eq!(e.debit_account, w.org_account);
                -units(&e.amount)
            }
        })
        .sum();
    assert_eq!(sum, units(&balance.balance));
    let member = w
        .bob
        .credits
        .clone()
        .list_ledger_entries(pb::ListLedgerEntriesRequest {
            account_id: w.org_account.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(member.code(), Code::PermissionDenied);

    // Another tenant's feed, analytics and ledger are refused.
    let outsider = w
        .carol
        .activity
        .clone()
        .list_activity(feed(&w, 0, "", None))
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), Code::PermissionDenied, "{outsider:?}");
    let outsider = w
        .carol
        .activity
        .clone()
        .get_usage_analytics(analytics(&w, pb::GroupBy::Key))
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), Code::PermissionDenied);

    // Read-your-writes: the position of a command makes the next query see it.
    let position = w
        .gateway
        .gateway
        .clone()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: w.org_account.clone(),
            key_id: w.alice_key.clone(),
            usage: Some(usage("gen-4", "0.1")),
        })
        .await
        .unwrap()
        .into_inner()
        .position;
    let mut request = feed(&w, 1, "", None);
    request.min_position = position;
    let newest = w
        .alice
        .activity
        .clone()
        .list_activity(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(newest.items[0].generation_id, "gen-4");
    assert_eq!(newest.items[0].position, position);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_switcher_invitations_csv_and_pdf_exports_status_and_consistency_check_are_served() {
    let w = world().await;

    // The account switcher.
    let orgs = w
        .bob
        .users
        .clone()
        .list_user_organizations(pb::ListUserOrganizationsRequest {
            user_id: w.bob_id.to_string(),
            min_position: w.last,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        (orgs[0].organization_id.as_str(), orgs[0].name.as_str()),
        (w.org.as_str(), "Acme")
    );
    assert_eq!(orgs[0].role, pb::Role::Member as i32);
    let account = w
        .bob
        .users
        .clone()
        .get_user_account(pb::GetUserAccountRequest {
            user_id: w.bob_id.to_string(),
            min_position: w.last,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(account.email_verified);
    let someone_else = w
        .carol
        .users
        .clone()
        .get_user_account(pb::GetUserAccountRequest {
            user_id: w.bob_id.to_string(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(someone_else.code(), Code::PermissionDenied);

    // Invitations: admins see pending ones with the address; members are refused.
    let invited = w
        .alice
        .orgs
        .clone()
        .invite_member(pb::InviteMemberRequest {
            command_id: id(),
            organization_id: w.org.clone(),
            invitation_id: id(),
            email: "dave@example.test".into(),
            role: pb::Role::Admin.into(),
            expires_in_s: None,
        })
        .await
        .unwrap()
        .into_inner()
        .position;
    let list = |min_position| pb::ListInvitationsRequest {
        organization_id: w.org.clone(),
        min_position,
        ..Default::default()
    };
    let invitations = w
        .alice
        .orgs
        .clone()
        .list_invitations(list(invited))
        .await
        .unwrap()
        .into_inner()
        .invitations;
    assert_eq!(invitations.len(), 1, "{invitations:?}");
    assert_eq!(invitations[0].email, "dave@example.test");
    assert_eq!(invitations[0].role, pb::Role::Admin as i32);
    let member = w
        .bob
        .orgs
        .clone()
        .list_invitations(list(0))
        .await
        .unwrap_err();
    assert_eq!(member.code(), Code::PermissionDenied);

    // The CSV export of the feed: a header and one line per usage record.
    let (content_type, csv) = export_activity(&w, pb::ExportFormat::Csv).await;
    assert!(content_type.starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("position,"));
    assert!(lines[1].contains("gen-3"));
    // The PDF report: a real PDF (read back with a PDF library) with the summary by model,
    // member and key before the records.
    let record: Vec<&str> = lines[1].split(',').collect();
    let (key_id, user_id, model) = (record[3], record[4], record[6]);
    let (content_type, pdf) = export_activity(&w, pb::ExportFormat::Pdf).await;
    assert_eq!(content_type, "application/pdf");
    let document = lopdf::Document::load_mem(&pdf).expect("a well-formed PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).expect("the PDF's text");
    for expected in [
        "By model",
        "By member",
        "By key",
        "3 requests",
        model,
        user_id,
        key_id,
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    // Projection status and the consistency check (auditor).
    let auditor = w.env.ledgerd.clients("auditor", None).await;
    let status = auditor
        .audit
        .clone()
        .get_projection_status(pb::GetProjectionStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .projections;
    assert_eq!(status.len(), 4);
    assert!(
        status
            .iter()
            .all(|s| s.head >= s.position && s.position > 0)
    );
    let check = auditor
        .audit
        .clone()
        .consistency_check(pb::ConsistencyCheckRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(check.ok, "{:?}", check.differences);
    assert!(check.differences.is_empty());
    let not_auditor = w
        .alice
        .audit
        .clone()
        .consistency_check(pb::ConsistencyCheckRequest {})
        .await
        .unwrap_err();
    assert_eq!(not_auditor.code(), Code::PermissionDenied);
}

/// The whole organization feed exported in `format`: the first chunk's content type and the
/// bytes of every chunk.
async fn export_activity(w: &World, format: pb::ExportFormat) -> (String, Vec<u8>) {
    let mut stream = w
        .alice
        .activity
        .clone()
        .export_activity(pb::ExportActivityRequest {
            account_id: w.org_account.clone(),
            min_position: w.last,
            format: format.into(),
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut content_type = String::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        if content_type.is_empty() {
            content_type = chunk.content_type.clone();
        }
        bytes.extend(chunk.data);
    }
    (content_type, bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balance_read_answers_what_another_process_wrote_to_the_account_and_its_organization() {
    // GetAccountBalance decides on the account's state and its organization's (membership),
    // read together once the account is cached. Both must be current: here `second` writes
    // each stream while `first` holds both cached.
    let env = Env::start().await;
    let second = env.ledgerd.start_beside().await;
    let first = &env.ledgerd;
    let (alice, _) = registered_user(first, "alice@example.test").await;
    let (bob, _) = registered_user(first, "bob@example.test").await;
    let (org, account) = organization(first, alice, "Acme").await;
    join(first, alice, &org, bob, "bob@example.test").await;
    purchase(first, alice, &account, "100").await;
    for _ in 0..2 {
        // The first read caches both states; the second reads both tails at once.
        assert_eq!(
            units(&balance(first, bob, &account, 0).await.balance),
            units("100")
        );
    }

    purchase(&second, alice, &account, "5").await;
    assert_eq!(
        units(&balance(first, bob, &account, 0).await.balance),
        units("105")
    );

    second
        .clients("dashboard", Some(alice))
        .await
        .orgs
        .remove_member(pb::RemoveMemberRequest {
            command_id: id(),
            organization_id: org.clone(),
            user_id: bob.to_string(),
        })
        .await
        .unwrap();
    let refused = first
        .clients("dashboard", Some(bob))
        .await
        .credits
        .get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account.clone(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(
        units(&balance(first, alice, &account, 0).await.balance),
        units("105")
    );
}
