//! Money corrections through gRPC: support's adjustments, the reversal of a transfer, the
//! refund of a purchase, the receipt of a purchase, the system books, and `BalanceAsOf` with a
//! cut between two events. Every correction keeps the read models equal to the log's fold.

use std::path::{Path, PathBuf};
use std::process::Command;

use ledger_api::pb;
use ledger_tests::client::{Api, World, adjust_request, id};
use tonic::Code;

async fn assert_consistent(world: &World) {
    let check = world.auditor().consistency_check().await;
    assert!(check.ok, "{:?}", check.differences);
}

#[tokio::test(flavor = "multi_thread")]
async fn support_adjusts_credits_and_a_debit_never_goes_below_zero_unless_a_recovery() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    dashboard.buy(&acme.account, "100").await;
    let support = world.support();

    support.adjust(&acme.account, true, "10.5", false).await;
    support
        .adjust(&acme.account, false, "110.51", false)
        .refused_with(Code::FailedPrecondition, "ADJUSTMENT_BELOW_ZERO")
        .await;
    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(
        (balance.balance.as_str(), balance.total_adjusted.as_str()),
        ("110.5", "10.5")
    );

    // A recovery may go below zero; a retry with its command id is answered as the first.
    let recovery = adjust_request(&acme.account, false, "120", true);
    let first = support.rpc().adjust_credits(recovery.clone()).await;
    let head = world.head().await;
    let again = support.rpc().adjust_credits(recovery).await;
    assert_eq!((again.position, world.head().await), (first.position, head));
    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(
        (balance.balance.as_str(), balance.total_adjusted.as_str()),
        ("-9.5", "-109.5")
    );

    // The adjustments book holds the other side of each, with the ticket and the account.
    let book = world.auditor().book("adjustments", first.position).await;
    let postings: Vec<_> = book
        .entries
        .iter()
        .map(|e| (e.amount.as_str(), e.ticket.as_str(), e.account_id.clone()))
        .collect();
    let account = acme.account.to_string();
    assert_eq!(
        postings,
        [
            ("120", "SUP-7", account.clone()),
            ("10.5", "SUP-7", account)
        ]
    );
    assert_eq!(book.entries[0].credit_account, "adjustments");
    assert_eq!(book.entries[1].debit_account, "adjustments");
    let entries = dashboard
        .after(first.position)
        .ledger_entries(&acme.account)
        .await;
    assert_eq!(entries.entries[0].kind, "adjustment");
    assert_eq!(entries.entries[0].ticket, "SUP-7");

    // Only support adjusts.
    world
        .dashboard(&admin)
        .rpc()
        .adjust_credits(adjust_request(&acme.account, true, "1", false))
        .refused_with(Code::PermissionDenied, "PERMISSION_DENIED")
        .await;
    assert_consistent(&world).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_is_reversed_once_and_never_for_more_than_the_organization_holds() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    dashboard.buy(&admin.personal, "50").await;
    let support = world.support();
    let transfer = id();
    support
        .transfer_as(&transfer, &admin.personal, &acme.account, "30")
        .await;

    // The organization spent 10 of it: 20 left cannot give 30 back.
    support.adjust(&acme.account, false, "10", false).await;
    support
        .reverse(&acme.account, &transfer)
        .refused_with(Code::FailedPrecondition, "INSUFFICIENT_CREDITS")
        .await;
    support.adjust(&acme.account, true, "10", false).await;
    let reversed = support.reverse(&acme.account, &transfer).await;
    support
        .reverse(&acme.account, &transfer)
        .refused_with(Code::FailedPrecondition, "TRANSFER_ALREADY_REVERSED")
        .await;
    support
        .reverse(&acme.account, &id())
        .refused_with(Code::NotFound, "TRANSFER_NOT_FOUND")
        .await;
    world
        .dashboard(&admin)
        .rpc()
        .reverse_transfer(ledger_tests::client::reverse_request(
            &acme.account,
            &transfer,
        ))
        .refused_with(Code::PermissionDenied, "PERMISSION_DENIED")
        .await;

    let personal = dashboard.balance(&admin.personal).await;
    let org = dashboard.balance(&acme.account).await;
    assert_eq!(
        (
            personal.balance.as_str(),
            personal.total_transferred_out.as_str()
        ),
        ("50", "0")
    );
    assert_eq!(
        (org.balance.as_str(), org.total_transferred_in.as_str()),
        ("0", "0")
    );

    // The compensating events name the transfer; the transfers book clears to zero.
    let events = world
        .auditor()
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            event_types: vec![
                "account.transfer_reversed_out".into(),
                "account.transfer_reversed_in".into(),
            ],
            ..Default::default()
        })
        .all()
        .await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.payload.contains(&transfer)));
    let book = world.auditor().book("transfers", reversed.position).await;
    let kinds: Vec<_> = book.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "transfer_reversal_in",
            "transfer_reversal_out",
            "transfer_in",
            "transfer_out"
        ]
    );
    assert!(book.entries.iter().all(|e| e.ticket.starts_with("SUP-")));
    // What the book was credited equals what it was debited: it clears to zero.
    let side = |credited: bool| {
        let mut amounts: Vec<&str> = book
            .entries
            .iter()
            .filter(|e| (e.credit_account == "transfers") == credited)
            .map(|e| e.amount.as_str())
            .collect();
        amounts.sort_unstable();
        amounts
    };
    assert_eq!(side(true), side(false), "{book:?}");
    assert_eq!(side(true), ["30", "30"]);
    assert_consistent(&world).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purchase_is_refunded_once_by_its_payment_reference() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &acme, &member).await;
    let dashboard = world.dashboard(&admin);
    dashboard
        .buy_with_reference(&acme.account, "40", "pay_refund_1")
        .await;
    dashboard
        .buy_with_reference(&acme.account, "15", "pay_kept")
        .await;

    world
        .dashboard(&member)
        .refund(&acme.account, "pay_refund_1")
        .refused_with(Code::PermissionDenied, "PERMISSION_DENIED")
        .await;
    let refunded = dashboard.refund(&acme.account, "pay_refund_1").await;
    dashboard
        .refund(&acme.account, "pay_refund_1")
        .refused_with(Code::FailedPrecondition, "PURCHASE_ALREADY_REFUNDED")
        .await;
    dashboard
        .refund(&acme.account, "pay_never")
        .refused_with(Code::NotFound, "PURCHASE_NOT_FOUND")
        .await;

    let balance = dashboard.balance(&acme.account).await;
    assert_eq!(
        (balance.balance.as_str(), balance.total_purchased.as_str()),
        ("15", "15")
    );
    let external = world.auditor().book("external", refunded.position).await;
    let seen: Vec<_> = external
        .entries
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.amount.as_str(),
                e.payment_reference.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("refund", "40", "pay_refund_1"),
            ("purchase", "15", "pay_kept"),
            ("purchase", "40", "pay_refund_1"),
        ]
    );
    assert!(
        external
            .entries
            .iter()
            .all(|e| e.account_id == acme.account.to_string())
    );
    world
        .auditor()
        .rpc()
        .list_book_entries(pb::ListBookEntriesRequest {
            book: "customers".into(),
            ..Default::default()
        })
        .refused_field("book")
        .await;
    assert_consistent(&world).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_per_purchase_carries_the_organizations_invoicing_details() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &acme, &member).await;
    let dashboard = world.dashboard(&admin);
    dashboard
        .set_billing(
            &acme,
            pb::BillingSettings {
                contacts: vec!["billing@acme.test".into()],
                company_name: Some("Acme Robotics GmbH".into()),
                tax_id: Some("DE999888777".into()),
                postal_address: Some("Hauptstraße 1\n10115 Berlin".into()),
                payment_method_reference: None,
            },
        )
        .await;
    let bought = dashboard
        .buy_with_reference(&acme.account, "42.5", "pay_receipt_1")
        .await;

    let receipt = dashboard
        .after(bought.position)
        .receipt(&acme.account, "pay_receipt_1")
        .await;
    assert_eq!(receipt.file_name, "receipt-pay_receipt_1.pdf");
    assert!(receipt.pdf.starts_with(b"%PDF"));
    let text = text_of(&receipt.pdf);
    for expected in [
        "Receipt",
        "Acme Robotics GmbH",
        "DE999888777",
        "10115 Berlin",
        "billing@acme.test",
        "pay_receipt_1",
        "42.5",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }

    // Support reads it too; a member may not (billing information); an unknown payment is
    // not found.
    let support = world.support();
    support
        .rpc()
        .get_purchase_receipt(pb::GetPurchaseReceiptRequest {
            account_id: acme.account.to_string(),
            payment_reference: "pay_receipt_1".into(),
            min_position: bought.position,
        })
        .await;
    world
        .dashboard(&member)
        .receipt(&acme.account, "pay_receipt_1")
        .refused_with(Code::PermissionDenied, "PERMISSION_DENIED")
        .await;
    dashboard
        .after(bought.position)
        .receipt(&acme.account, "pay_unknown")
        .refused_with(Code::NotFound, "PURCHASE_NOT_FOUND")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn balance_as_of_a_time_between_two_events_counts_the_first_only() {
    let world = World::start().await;
    let (admin, acme) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let first = dashboard.buy(&acme.account, "10").await;
    // Distinct commit times for the two purchases.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = dashboard.buy(&acme.account, "5").await;
    let events = world
        .auditor()
        .rpc()
        .stream_events(pb::StreamEventsRequest {
            stream_id: Some(format!("account-{}", acme.account)),
            ..Default::default()
        })
        .all()
        .await;
    let recorded = |position: i64| {
        let event = events.iter().find(|e| e.position == position).unwrap();
        let at = event.recorded_at.unwrap();
        at.seconds as i128 * 1_000_000_000 + i128::from(at.nanos)
    };
    let (t1, t2) = (recorded(first.position), recorded(second.position));
    assert!(t1 < t2, "the purchases were recorded at distinct times");
    let between = (t1 + t2) / 2;
    let cut = prost_types::Timestamp {
        seconds: (between / 1_000_000_000) as i64,
        nanos: (between % 1_000_000_000) as i32,
    };
    let as_of = |time: prost_types::Timestamp| {
        world.auditor().rpc().balance_as_of(pb::BalanceAsOfRequest {
            account_id: acme.account.to_string(),
            as_of: Some(pb::balance_as_of_request::AsOf::Time(time)),
        })
    };
    let then = as_of(cut).await;
    assert_eq!(
        (then.balance.as_str(), then.position),
        ("10", first.position)
    );
    let now = as_of(std::time::SystemTime::now().into()).await;
    assert_eq!(
        (now.balance.as_str(), now.position),
        ("15", second.position)
    );
}

/// The document's text as poppler extracts it.
fn text_of(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ledger-receipt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("receipt.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new("pdftotext")
        .args([path.as_path(), Path::new("-")])
        .output()
        .unwrap_or_else(|error| {
            panic!("pdftotext ({error}): install Debian's poppler-utils to run the PDF tests")
        });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "pdftotext: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}
