//! The read RPCs served from the projections, against the real ledgerd: activity feed,
//! analytics, ledger entries, the account switcher, invitations, exports, read-your-writes,
//! tenant isolation and the consistency check.

use std::collections::HashMap;

use ledger_api::pb;
use ledger_tests::client::{Api, Dashboard, Gateway, Key, Org, ReadsWorld, User, World};
use tonic::Code;

use crate::common::units;

fn ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// An organization whose feed, analytics and ledger the tests read.
struct Acme {
    world: World,
    alice: Dashboard,
    bob: Dashboard,
    carol: Dashboard,
    gateway: Gateway,
    bob_user: User,
    org: Org,
    alice_key: Key,
    bob_key: Key,
    last: i64,
}

/// Alice (admin) and Bob (member) in an organization with 100 credits, one key each; Bob's
/// key settles a hold (1.25) and records usage (0.75); Alice's records 0.5. Carol is a
/// registered outsider.
async fn acme() -> Acme {
    let world = World::start().await;
    let ReadsWorld {
        alice: a,
        bob: b,
        org,
        alice_key,
        bob_key,
        last,
    } = world.reads_world().await;
    let c = world.user("carol@example.test").await;
    Acme {
        alice: world.dashboard(&a),
        bob: world.dashboard(&b),
        carol: world.dashboard(&c),
        gateway: world.gateway(),
        world,
        bob_user: b,
        org,
        alice_key,
        bob_key,
        last,
    }
}

fn feed(w: &Acme, page_size: i32, token: &str, key: Option<&Key>) -> pb::ListActivityRequest {
    pb::ListActivityRequest {
        account_id: w.org.account.to_string(),
        min_position: w.last,
        page_size,
        page_token: token.into(),
        filter: Some(pb::ActivityFilter {
            key_id: key.map(|key| key.id.to_string()),
            ..Default::default()
        }),
    }
}

fn analytics(w: &Acme, group_by: pb::GroupBy) -> pb::GetUsageAnalyticsRequest {
    pb::GetUsageAnalyticsRequest {
        account_id: w.org.account.to_string(),
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
    let w = acme().await;
    let (alice, bob) = (w.alice.rpc(), w.bob.rpc());

    // The feed: metadata only, newest first (same finish time: higher position first).
    let all = alice.list_activity(feed(&w, 0, "", None)).await;
    let generations: Vec<_> = all.items.iter().map(|i| i.generation_id.as_str()).collect();
    assert_eq!(generations, ["gen-3", "gen-2", "gen-1"]);
    assert!(all.next_page_token.is_empty());
    assert!(all.items.windows(2).all(|p| p[0].position > p[1].position));
    let first = &all.items[0];
    assert_eq!(
        (first.model.as_str(), first.cost.as_str()),
        ("gpt-x", "0.75")
    );
    assert_eq!(first.key_id, w.bob_key.id.as_str());
    assert_eq!(first.user_id, w.bob_user.id.to_string());
    assert_eq!(first.tokens.unwrap().prompt, 100);
    assert_eq!(first.status, pb::UsageStatus::Success as i32);

    // Filtered by key; a member sees the organization's feed.
    let bobs = bob.list_activity(feed(&w, 0, "", Some(&w.bob_key))).await;
    let generations: Vec<_> = bobs
        .items
        .iter()
        .map(|i| i.generation_id.as_str())
        .collect();
    assert_eq!(generations, ["gen-3", "gen-1"]);

    // Pagination.
    let page1 = alice.list_activity(feed(&w, 2, "", None)).await;
    assert_eq!(page1.items.len(), 2);
    assert!(!page1.next_page_token.is_empty());
    let page2 = alice
        .list_activity(feed(&w, 2, &page1.next_page_token, None))
        .await;
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].generation_id, "gen-1");
    assert!(page2.next_page_token.is_empty());

    // An invalid page token names the field.
    alice
        .list_activity(feed(&w, 2, "not-a-token", None))
        .refused_field("page_token")
        .await;

    // Analytics: the admin's totals are the sum of the costs; the member sees only his keys.
    let rows = alice
        .get_usage_analytics(analytics(&w, pb::GroupBy::Key))
        .await
        .rows;
    let total: i128 = rows.iter().map(|r| units(&r.spend)).sum();
    assert_eq!(total, units("2.5"));
    assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), 3);
    let alice_row = rows
        .iter()
        .find(|r| r.group == w.alice_key.id.as_str())
        .unwrap();
    assert_eq!(alice_row.spend, "0.5");
    let bobs_rows = bob
        .get_usage_analytics(analytics(&w, pb::GroupBy::Member))
        .await
        .rows;
    assert!(!bobs_rows.is_empty());
    assert!(
        bobs_rows
            .iter()
            .all(|r| r.group == w.bob_user.id.to_string())
    );
    let total: i128 = bobs_rows.iter().map(|r| units(&r.spend)).sum();
    assert_eq!(total, units("2"));

    // Ledger entries sum to the balance the balance RPC reports.
    let account = &w.org.account;
    let balance = w.alice.balance(account).await;
    assert_eq!(balance.balance, "97.5");
    let entries = w.alice.after(w.last).ledger_entries(account).await.entries;
    assert_eq!(entries.len(), 4, "{entries:?}");
    let sum: i128 = entries
        .iter()
        .map(|e| {
            if e.credit_account == account.as_str() {
                units(&e.amount)
            } else {
                assert_eq!(e.debit_account, account.as_str());
                -units(&e.amount)
            }
        })
        .sum();
    assert_eq!(sum, units(&balance.balance));
    w.bob
        .ledger_entries(account)
        .refused(Code::PermissionDenied)
        .await;

    // Another tenant's feed, analytics and ledger are refused.
    let carol = w.carol.rpc();
    carol
        .list_activity(feed(&w, 0, "", None))
        .refused(Code::PermissionDenied)
        .await;
    carol
        .get_usage_analytics(analytics(&w, pb::GroupBy::Key))
        .refused(Code::PermissionDenied)
        .await;

    // Read-your-writes: the position of a command makes the next query see it.
    let position = w
        .gateway
        .record_usage(&w.alice_key, "gen-4", "0.1")
        .await
        .position;
    let mut request = feed(&w, 1, "", None);
    request.min_position = position;
    let newest = alice.list_activity(request).await;
    assert_eq!(newest.items[0].generation_id, "gen-4");
    assert_eq!(newest.items[0].position, position);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_switcher_invitations_csv_and_pdf_exports_status_and_consistency_check_are_served() {
    let w = acme().await;

    // The account switcher.
    let bob = w.bob.after(w.last);
    let orgs = bob.user_organizations(&w.bob_user).await.organizations;
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        (orgs[0].organization_id.as_str(), orgs[0].name.as_str()),
        (w.org.id.as_str(), "Acme")
    );
    assert_eq!(orgs[0].role, pb::Role::Member as i32);
    let account = bob.user_account(&w.bob_user).await;
    assert!(account.email_verified);
    w.carol
        .user_account(&w.bob_user)
        .refused(Code::PermissionDenied)
        .await;

    // Invitations: admins see pending ones with the address; members are refused.
    let invited = w
        .alice
        .invite(&w.org, "dave@example.test", pb::Role::Admin)
        .await
        .position;
    let invitations = w
        .alice
        .after(invited)
        .list_invitations(&w.org)
        .await
        .invitations;
    assert_eq!(invitations.len(), 1, "{invitations:?}");
    assert_eq!(invitations[0].email, "dave@example.test");
    assert_eq!(invitations[0].role, pb::Role::Admin as i32);
    w.bob
        .list_invitations(&w.org)
        .refused(Code::PermissionDenied)
        .await;

    // The CSV export of the feed: a header and one line per usage record.
    let (content_type, csv) = export_activity(&w, pb::ExportFormat::Csv).await;
    assert!(content_type.starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("position,"));
    assert!(lines[1].contains("gen-3"));
    // The PDF report: a real PDF (read back with a PDF library) with the spend by model,
    // member and key before the records, members by email and keys by name and id's end.
    let record: Vec<&str> = lines[1].split(',').collect();
    let (key_id, model) = (record[3], record[6]);
    let key = format!("key (…{})", &key_id[key_id.len() - 8..]);
    let (content_type, pdf) = export_activity(&w, pb::ExportFormat::Pdf).await;
    assert_eq!(content_type, "application/pdf");
    let document = lopdf::Document::load_mem(&pdf).expect("a well-formed PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).expect("the PDF's text");
    for expected in [
        "Spend by model",
        "Spend by member",
        "Spend by key",
        "Requests",
        model,
        "bob@example.test",
        &key,
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    // Names beside the ids, through the csv crate: the key's name and, for a dashboard caller,
    // the member's email. A name a spreadsheet would read as a formula is defused with `'`.
    let formula = w
        .alice
        .create_key(&w.org.account, "=HYPERLINK(\"x\")")
        .await;
    let last = w
        .gateway
        .record_usage(&formula, "gen-5", "0.1")
        .await
        .position;
    let records = export_csv(&w.alice.after(last), &w.org).await;
    let names = |generation: &str| {
        let record = records
            .iter()
            .find(|r| r["generation_id"] == generation)
            .unwrap_or_else(|| panic!("{generation} missing from {records:?}"));
        (record["key_name"].clone(), record["member_email"].clone())
    };
    assert_eq!(
        names("gen-5"),
        ("'=HYPERLINK(\"x\")".into(), "alice@example.test".into())
    );
    assert_eq!(names("gen-3"), ("key".into(), "bob@example.test".into()));
    // An erased member shows no email; the others keep theirs.
    w.world.identity().erase(&w.bob_user).await;
    let records = export_csv(&w.alice.after(last), &w.org).await;
    let names = |generation: &str| {
        let record = records.iter().find(|r| r["generation_id"] == generation);
        let record = record.expect("every record exported");
        (record["key_name"].clone(), record["member_email"].clone())
    };
    assert_eq!(names("gen-3"), ("key".into(), String::new()));
    assert_eq!(names("gen-2"), ("key".into(), "alice@example.test".into()));

    // Analytics exports name their groups the same way.
    let by_key = export_analytics_csv(&w, last, pb::GroupBy::Key).await;
    let group = |records: &[HashMap<String, String>], id: &str| {
        let record = records.iter().find(|r| r["group"] == id);
        record.unwrap_or_else(|| panic!("{id} missing from {records:?}"))["group_name"].clone()
    };
    assert_eq!(
        group(&by_key, &formula.id.to_string()),
        "'=HYPERLINK(\"x\")"
    );
    let by_member = export_analytics_csv(&w, last, pb::GroupBy::Member).await;
    assert_eq!(group(&by_member, &w.bob_user.id.to_string()), "");
    assert!(
        by_member
            .iter()
            .any(|r| r["group_name"] == "alice@example.test"),
        "{by_member:?}"
    );

    // Projection status and the consistency check (auditor).
    let auditor = w.world.auditor();
    let status = auditor.projection_status().await.projections;
    assert_eq!(status.len(), 4);
    assert!(
        status
            .iter()
            .all(|s| s.head >= s.position && s.position > 0)
    );
    let check = auditor.consistency_check().await;
    assert!(check.ok, "{:?}", check.differences);
    assert!(check.differences.is_empty());
    w.alice
        .rpc()
        .consistency_check(pb::ConsistencyCheckRequest {})
        .refused(Code::PermissionDenied)
        .await;
}

/// The whole organization feed exported in `format`: the first chunk's content type and the
/// bytes of every chunk.
async fn export_activity(w: &Acme, format: pb::ExportFormat) -> (String, Vec<u8>) {
    let chunks = w
        .alice
        .after(w.last)
        .export_activity(&w.org.account, format)
        .await;
    let mut bytes = Vec::new();
    let mut content_type = String::new();
    for chunk in chunks {
        if content_type.is_empty() {
            content_type = chunk.content_type.clone();
        }
        bytes.extend(chunk.data);
    }
    (content_type, bytes)
}

/// The organization feed exported as CSV by `caller`, each record by column name.
async fn export_csv(caller: &Dashboard, org: &Org) -> Vec<HashMap<String, String>> {
    let chunks = caller
        .export_activity(&org.account, pb::ExportFormat::Csv)
        .await;
    records(chunks)
}

/// The organization's daily analytics of [`analytics`]' period grouped by `group_by`, exported
/// as CSV by Alice once `position` is projected, each record by column name.
async fn export_analytics_csv(
    w: &Acme,
    position: i64,
    group_by: pb::GroupBy,
) -> Vec<HashMap<String, String>> {
    let period = analytics(w, group_by);
    let chunks = w
        .alice
        .rpc()
        .export_analytics(pb::ExportAnalyticsRequest {
            account_id: period.account_id,
            min_position: position,
            format: pb::ExportFormat::Csv.into(),
            granularity: period.granularity,
            group_by: period.group_by,
            from: period.from,
            to: period.to,
        })
        .all()
        .await;
    records(chunks)
}

/// The records of a CSV export, each by column name.
fn records(chunks: Vec<pb::ExportChunk>) -> Vec<HashMap<String, String>> {
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|chunk| chunk.data).collect();
    csv::Reader::from_reader(bytes.as_slice())
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("well-formed CSV")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balance_read_answers_what_another_process_wrote_to_the_account_and_its_organization() {
    // GetAccountBalance decides on the account's state and its organization's (membership),
    // read together once the account is cached. Both must be current: here `second` writes
    // each stream while `first` holds both cached.
    let world = World::start().await;
    let second = world.ledgerd.start_beside().await;
    let first = &world.ledgerd;
    let alice = first.user("alice@example.test").await;
    let bob = first.user("bob@example.test").await;
    let acme = first.dashboard(&alice).create_organization("Acme").await;
    first.join(&alice, &acme, &bob).await;
    first.dashboard(&alice).buy(&acme.account, "100").await;
    let (alice_on_first, bob_on_first) = (first.dashboard(&alice), first.dashboard(&bob));
    for _ in 0..2 {
        // The first read caches both states; the second reads both tails at once.
        // A member reads the available balance (no holds here: the balance).
        let balance = bob_on_first.balance(&acme.account).await;
        assert_eq!(units(&balance.available), units("100"));
    }

    second.dashboard(&alice).buy(&acme.account, "5").await;
    let balance = bob_on_first.balance(&acme.account).await;
    assert_eq!(units(&balance.available), units("105"));

    second.dashboard(&alice).remove_member(&acme, &bob).await;
    bob_on_first
        .balance(&acme.account)
        .refused(Code::PermissionDenied)
        .await;
    let balance = alice_on_first.balance(&acme.account).await;
    assert_eq!(units(&balance.balance), units("105"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_comes_gzipped_to_a_client_that_accepts_gzip_and_plain_to_others() {
    let world = World::start().await;
    let (admin, acme, key) = world.funded_key().await;
    let gateway = world.gateway();
    for n in 0..20 {
        gateway
            .record_usage(&key, &format!("gen-{n}"), "0.01")
            .await;
    }
    let head = world.head().await;
    let request = || pb::ExportActivityRequest {
        account_id: acme.account.to_string(),
        min_position: head,
        format: pb::ExportFormat::Csv.into(),
        filter: None,
    };
    let export = |gzip: bool| {
        let mut client = world.dashboard(&admin).rpc().clients().activity.clone();
        if gzip {
            client = client.accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let request = request();
        async move {
            let response = client.export_activity(request).await.unwrap();
            let encoding = response
                .metadata()
                .get("grpc-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            let mut stream = response.into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.message().await.unwrap() {
                bytes.extend(chunk.data);
            }
            (encoding, bytes)
        }
    };
    let (plain_encoding, plain) = export(false).await;
    let (gzip_encoding, unzipped) = export(true).await;
    assert_eq!(plain_encoding, None);
    assert_eq!(gzip_encoding.as_deref(), Some("gzip"));
    assert_eq!(unzipped, plain, "the same export either way");
    assert_eq!(String::from_utf8(plain).unwrap().lines().count(), 21);
}
