//! PDF reports as a person sees them: names in any script the font covers, the breakdowns as
//! charts, and a first page that renders (through poppler's `pdftoppm`) to something other
//! than a blank page.

use std::path::{Path, PathBuf};
use std::process::Command;

use ledger_api::pb;
use ledger_tests::client::{Api, Dashboard, Org, World, id, usage};

/// Alice's organization with keys named in Latin and Cyrillic, billed for three models over
/// five days; the position of the last usage.
async fn billed_over_days() -> (World, Dashboard, Org, i64) {
    let world = World::start().await;
    let alice = world.user("alice@example.test").await;
    let dashboard = world.dashboard(&alice);
    let org = dashboard.create_organization("Acme").await;
    dashboard.buy(&org.account, "500").await;
    let keys = [
        dashboard.create_key(&org.account, "Grüße ключ").await,
        dashboard.create_key(&org.account, "batch jobs").await,
    ];
    let gateway = world.gateway();
    let mut last = 0;
    for n in 0..15_i64 {
        let key = &keys[usize::try_from(n).unwrap() % 2];
        let mut report = usage(&format!("gen-{n}"), &format!("{}.25", n % 4 + 1));
        report.model = ["gpt-x", "claude-y", "llama-z"][usize::try_from(n).unwrap() % 3].into();
        let day = 1_780_000_000 + (n % 5) * 86_400;
        report.started_at = Some(prost_types::Timestamp {
            seconds: day,
            nanos: 0,
        });
        report.finished_at = Some(prost_types::Timestamp {
            seconds: day + 2,
            nanos: 0,
        });
        let reply = gateway
            .rpc()
            .record_usage(pb::RecordUsageRequest {
                command_id: id(),
                account_id: key.account.to_string(),
                key_id: key.id.to_string(),
                usage: Some(report),
            })
            .await;
        last = reply.position;
    }
    (world, dashboard, org, last)
}

#[tokio::test(flavor = "multi_thread")]
async fn pdf_reports_chart_each_breakdown_name_things_in_any_script_and_render() {
    let (_world, alice, org, last) = billed_over_days().await;
    let alice = alice.after(last);

    let activity = pdf_of(
        alice
            .export_activity(&org.account, pb::ExportFormat::Pdf)
            .await,
    );
    let text = text_of(&activity);
    for expected in [
        "ARouter activity",
        "Spend per day (UTC)",
        "Spend by model",
        "Spend by member",
        "Spend by key",
        "Records, newest first",
        "claude-y",
        "Grüße ключ",
        "batch jobs",
        "alice@example.test",
        // 15 records costing 1.25, 2.25, 3.25, 4.25 in turn: 3 × 11 + 1.25 + 2.25 + 3.25.
        "39.75",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_renders(&activity, "activity");

    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let analytics = pdf_of(
        alice
            .rpc()
            .export_analytics(pb::ExportAnalyticsRequest {
                account_id: org.account.to_string(),
                min_position: last,
                format: pb::ExportFormat::Pdf.into(),
                granularity: pb::Granularity::Day.into(),
                group_by: pb::GroupBy::Model.into(),
                from: at(1_779_900_000),
                to: at(1_780_500_000),
            })
            .all()
            .await,
    );
    let text = text_of(&analytics);
    for expected in [
        "ARouter usage analytics",
        "Spend by model",
        "llama-z",
        "39.75",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_renders(&analytics, "analytics");
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_exports_name_keys_but_never_show_member_emails() {
    let (world, _alice, org, last) = billed_over_days().await;
    let export = |format: pb::ExportFormat| pb::ExportActivityRequest {
        account_id: org.account.to_string(),
        min_position: last,
        format: format.into(),
        filter: None,
    };
    let auditor = world.auditor();
    let csv = auditor
        .rpc()
        .export_activity(export(pb::ExportFormat::Csv))
        .all()
        .await;
    let bytes: Vec<u8> = csv.into_iter().flat_map(|chunk| chunk.data).collect();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (key_name, email) = (column("key_name"), column("member_email"));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 15);
    for record in &records {
        assert!(
            ["Grüße ключ", "batch jobs"].contains(&&record[key_name]),
            "{record:?}"
        );
        assert_eq!(&record[email], "", "an email in a staff export: {record:?}");
    }
    let pdf = pdf_of(
        auditor
            .rpc()
            .export_activity(export(pb::ExportFormat::Pdf))
            .all()
            .await,
    );
    let text = text_of(&pdf);
    assert!(text.contains("Grüße ключ"), "{text}");
    assert!(!text.contains("alice@example.test"), "{text}");
}

fn pdf_of(chunks: Vec<pb::ExportChunk>) -> Vec<u8> {
    assert_eq!(chunks[0].content_type, "application/pdf");
    chunks.into_iter().flat_map(|chunk| chunk.data).collect()
}

/// A file of its own for `bytes`, removed when the test's process ends or the next run starts.
fn scratch(bytes: &[u8], name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ledger-reports-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A poppler tool, with a clear message where it is not installed (CI installs it).
fn poppler(tool: &str, args: &[&Path]) -> std::process::Output {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("{tool} ({error}): install Debian's poppler-utils to run the PDF tests")
        });
    assert!(output.status.success(), "{tool}: {output:?}");
    output
}

/// The document's text as poppler extracts it (what a reader's search and copy see).
fn text_of(pdf: &[u8]) -> String {
    let path = scratch(pdf, "text");
    let output = poppler("pdftotext", &[&path, Path::new("-")]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    String::from_utf8(output.stdout).unwrap()
}

/// Page 1 rendered in grey at 40 dpi has ink: more than 3 % of its pixels are dark, and the
/// charts' filled areas make some of them solid (a page of text alone stays lighter).
fn assert_renders(pdf: &[u8], name: &str) {
    let path = scratch(pdf, name);
    let dir = path.parent().unwrap();
    let prefix = dir.join("page1");
    let args: Vec<&Path> = ["-r", "40", "-gray", "-f", "1", "-l", "1", "-singlefile"]
        .iter()
        .map(Path::new)
        .chain([path.as_path(), prefix.as_path()])
        .collect();
    poppler("pdftoppm", &args);
    let image = std::fs::read(dir.join("page1.pgm")).unwrap();
    let _ = std::fs::remove_dir_all(dir);
    let pixels = pgm_pixels(&image);
    let dark = pixels.iter().filter(|&&p| p < 200).count();
    let solid = pixels.iter().filter(|&&p| p < 140).count();
    let share = dark as f64 / pixels.len() as f64;
    assert!(
        share > 0.03,
        "{name}: page 1 is nearly blank ({share:.4} dark)"
    );
    assert!(
        solid > 500,
        "{name}: no filled chart areas ({solid} solid pixels)"
    );
}

/// The grey levels of a binary PGM (`P5`, 8-bit) image.
fn pgm_pixels(image: &[u8]) -> &[u8] {
    // The header is four whitespace-separated fields: P5, width, height, maxval.
    let mut fields = 0;
    let mut in_field = false;
    for (at, byte) in image.iter().enumerate() {
        if byte.is_ascii_whitespace() {
            if in_field {
                fields += 1;
                in_field = false;
                if fields == 4 {
                    assert!(image.starts_with(b"P5"), "not a binary PGM");
                    return &image[at + 1..];
                }
            }
        } else {
            in_field = true;
        }
    }
    panic!("a truncated PGM header")
}
