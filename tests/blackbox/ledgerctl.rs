//! `ledgerctl`, the real binary run as a child process, against the real `ledgerd`: support
//! transfers and look-ups, the audit commands, and errors on stderr with a non-zero exit.

use ledger_tests::client::{Api, World, id};
use ledger_tests::ledgerctl::{Run, run, run_with_env};
use uuid::Uuid;

/// A member with 50 credits on their personal account and an organization they administer.
struct Member {
    user: Uuid,
    personal: String,
    org: String,
    org_account: String,
}

async fn member_with_personal_credits(world: &World) -> Member {
    let user = world.some_user().await;
    let dashboard = world.dashboard(&user);
    let acme = dashboard.create_organization("Acme").await;
    dashboard.buy(&user.personal, "50").await;
    Member {
        user: user.id,
        personal: user.personal.to_string(),
        org: acme.id.to_string(),
        org_account: acme.account.to_string(),
    }
}

/// Runs ledgerctl as a support staff member.
async fn support(world: &World, args: &[&str]) -> Run {
    let staff = Some(Uuid::from_u128(0x5afe));
    run(&world.ledgerd, world.ledgerd.token("support"), staff, args).await
}

/// Runs ledgerctl as an auditor.
async fn auditor(world: &World, args: &[&str]) -> Run {
    run(&world.ledgerd, world.ledgerd.token("auditor"), None, args).await
}

/// The cells of the table row starting with `first`.
fn row<'a>(stdout: &'a str, first: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{stdout}"))
}

/// The value of a `name  value` line.
fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("no field {name:?} in\n{stdout}"))
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"))
}

fn transfer_args<'a>(m: &'a Member, amount: &'a str) -> Vec<&'a str> {
    vec![
        "transfer",
        "--from-account",
        &m.personal,
        "--to-account",
        &m.org_account,
        "--amount",
        amount,
        "--reason",
        "consolidate credits",
        "--ticket",
        "SUP-42",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn support_transfers_personal_credits_to_an_organization_and_sees_both_new_balances() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;

    let done = support(&world, &transfer_args(&m, "12.34")).await;
    assert!(done.success(), "{done:?}");
    let position: i64 = field(&done.stdout, "position").parse().unwrap();
    assert_eq!(position, world.head().await);
    let from = row(&done.stdout, "from");
    assert_eq!(from[1..4], [m.personal.as_str(), "personal", "37.66"]);
    let to = row(&done.stdout, "to");
    assert_eq!(to[1..4], [m.org_account.as_str(), "organization", "12.34"]);

    // The generated command id is printed, and retrying with it applies the transfer once.
    let command_id = field(&done.stdout, "command id");
    assert!(done.stderr.contains(&command_id), "{done:?}");
    let mut retry_args = transfer_args(&m, "12.34");
    retry_args.extend(["--command-id", &command_id]);
    let retried = support(&world, &retry_args).await;
    assert!(retried.success(), "{retried:?}");
    assert_eq!(field(&retried.stdout, "position"), position.to_string());
    assert_eq!(row(&retried.stdout, "to")[3], "12.34");
    assert_eq!(world.head().await, position, "the retry appended nothing");

    let mut json_args = vec!["--json"];
    json_args.extend(transfer_args(&m, "5"));
    let again = support(&world, &json_args).await;
    assert!(again.success(), "{again:?}");
    assert_eq!(again.stdout.lines().count(), 1, "{again:?}");
    let reply = json(&again.stdout);
    assert_eq!(reply["position"], world.head().await);
    assert_eq!(reply["from"]["balance"], "32.66");
    assert_eq!(reply["from"]["total_transferred_out"], "17.34");
    assert_eq!(reply["to"]["balance"], "17.34");
    assert_eq!(reply["to"]["account_id"], m.org_account.as_str());
    assert!(Uuid::parse_str(reply["command_id"].as_str().unwrap()).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_without_a_reason_is_refused_with_a_non_zero_exit_and_appends_nothing() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let head = world.head().await;

    let mut missing = transfer_args(&m, "1");
    missing.retain(|arg| *arg != "--reason" && *arg != "consolidate credits");
    let refused = support(&world, &missing).await;
    assert_eq!(refused.code, Some(2), "clap refuses it: {refused:?}");
    assert!(refused.stderr.contains("--reason"), "{refused:?}");

    let mut empty = transfer_args(&m, "1");
    empty[8] = "";
    let refused = support(&world, &empty).await;
    assert_eq!(refused.code, Some(3), "the server refuses it: {refused:?}");
    assert!(refused.stderr.contains("INVALID_ARGUMENT"), "{refused:?}");
    assert!(refused.stderr.contains("field reason"), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert_eq!(world.head().await, head);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_an_intact_chain_in_one_call_or_in_chunks() {
    let world = World::start().await;
    member_with_personal_credits(&world).await;
    let head = world.head().await;

    let intact = auditor(&world, &["verify"]).await;
    assert!(intact.success(), "{intact:?}");
    assert_eq!(
        intact.stdout.trim(),
        format!("chain intact: positions 1 to {head} verified")
    );
    let chunked = auditor(&world, &["--json", "verify", "--chunk", "2"]).await;
    assert!(chunked.success(), "{chunked:?}");
    let reply = json(&chunked.stdout);
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["verified_through"], head);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_saved_before_more_commands_is_still_extended_and_a_forged_one_is_not() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let dir = std::env::temp_dir().join(format!("ledgerctl-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("checkpoint.json");
    let file_arg = file.to_str().unwrap();

    let saved = auditor(&world, &["checkpoint", "save", "--file", file_arg]).await;
    assert!(saved.success(), "{saved:?}");
    let checkpoint = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(checkpoint["position"], world.head().await);
    assert_eq!(checkpoint["hash"].as_str().unwrap().len(), 64);

    assert!(support(&world, &transfer_args(&m, "1")).await.success());
    assert!(support(&world, &transfer_args(&m, "2")).await.success());
    let checked = auditor(&world, &["checkpoint", "check", "--file", file_arg]).await;
    assert!(checked.success(), "{checked:?}");
    assert!(checked.stdout.contains("extends"), "{checked:?}");

    let forged = serde_json::json!({ "position": checkpoint["position"], "hash": "00".repeat(32) });
    std::fs::write(&file, forged.to_string()).unwrap();
    let broken = auditor(&world, &["checkpoint", "check", "--file", file_arg]).await;
    assert_eq!(broken.code, Some(1), "{broken:?}");
    assert!(broken.stdout.contains("does NOT extend"), "{broken:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn events_export_writes_one_chained_json_line_per_event_up_to_the_head() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    assert!(support(&world, &transfer_args(&m, "3")).await.success());
    let head = world.head().await;

    let export = auditor(&world, &["events", "export", "--from", "1"]).await;
    assert!(export.success(), "{export:?}");
    let events: Vec<_> = export.stdout.lines().map(json).collect();
    assert_eq!(i64::try_from(events.len()).unwrap(), head);
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["position"], i64::try_from(n).unwrap() + 1);
        for key in [
            "stream",
            "type",
            "payload",
            "metadata",
            "recorded_at",
            "hash",
        ] {
            assert!(event[key].is_string(), "{key} missing in {event}");
        }
        assert!(event["version"].is_i64() && event["schema_version"].is_i64());
        if n > 0 {
            assert_eq!(event["prev_hash"], events[n - 1]["hash"]);
        }
    }
    let transfer = events.last().unwrap();
    let payload = json(transfer["payload"].as_str().unwrap());
    assert_eq!(payload["ticket"], "SUP-42", "{payload}");

    let tail = auditor(
        &world,
        &[
            "--json",
            "events",
            "tail",
            "--from",
            "1",
            "--stream",
            &format!("account-{}", m.personal),
        ],
    )
    .await;
    assert!(tail.success(), "{tail:?}");
    let types: Vec<_> = tail
        .stdout
        .lines()
        .map(|l| json(l)["type"].clone())
        .collect();
    assert_eq!(types.len(), 3, "{tail:?}");
    assert_eq!(types[0], "account.opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn balance_as_of_an_earlier_position_gives_the_earlier_balance() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let before = world.head().await;
    assert!(support(&world, &transfer_args(&m, "12.34")).await.success());

    let position = before.to_string();
    let then = auditor(
        &world,
        &[
            "balance-as-of",
            "--account",
            &m.personal,
            "--position",
            &position,
        ],
    )
    .await;
    assert!(then.success(), "{then:?}");
    assert_eq!(field(&then.stdout, "balance"), "50");
    let now = auditor(
        &world,
        &[
            "--json",
            "balance-as-of",
            "--account",
            &m.personal,
            "--time",
            "2999-01-01T00:00:00Z",
        ],
    )
    .await;
    assert!(now.success(), "{now:?}");
    assert_eq!(json(&now.stdout)["balance"], "37.66");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_exits_non_zero_with_unauthenticated_and_is_never_echoed() {
    let world = World::start().await;
    let token = "lt_not-a-real-token-0123456789abcdef";
    let refused = run(&world.ledgerd, token, None, &["verify"]).await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(refused.stderr.contains("UNAUTHENTICATED"), "{refused:?}");
    assert!(!refused.stderr.contains(token) && !refused.stdout.contains(token));

    let flag = run(
        &world.ledgerd,
        "",
        None,
        &["--token", token, "--json", "balance", "--account", &id()],
    )
    .await;
    assert_eq!(flag.code, Some(3), "{flag:?}");
    assert!(flag.stderr.contains("UNAUTHENTICATED"), "{flag:?}");
    assert!(!flag.stderr.contains(token) && !flag.stdout.contains(token));

    // A support token acts as the staff member it is bound to, and as no one else.
    let other_staff = run(
        &world.ledgerd,
        world.ledgerd.token("support"),
        Some(Uuid::new_v4()),
        &["verify"],
    )
    .await;
    assert_eq!(other_staff.code, Some(3), "{other_staff:?}");
    assert!(other_staff.stderr.contains("x-actor-id"), "{other_staff:?}");
    let bound = run(
        &world.ledgerd,
        world.ledgerd.token("support"),
        None,
        &["verify"],
    )
    .await;
    assert!(bound.success(), "{bound:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn support_looks_up_accounts_organizations_keys_and_balances_and_auditors_check_consistency()
{
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;

    let limit = support(
        &world,
        &["set-member-limit", "--organization", &m.org, "--limit", "7"],
    )
    .await;
    assert!(limit.success(), "{limit:?}");
    let org = support(&world, &["organization", "--organization", &m.org]).await;
    assert!(org.success(), "{org:?}");
    assert_eq!(field(&org.stdout, "members"), "1 of 7");
    assert_eq!(field(&org.stdout, "account"), m.org_account);
    let members = support(&world, &["--json", "members", "--organization", &m.org]).await;
    assert!(members.success(), "{members:?}");
    let member = json(&members.stdout);
    assert_eq!(member["user_id"], m.user.to_string());
    assert_eq!(member["role"], "admin");
    let balance = support(&world, &["balance", "--account", &m.personal]).await;
    assert!(balance.success(), "{balance:?}");
    assert_eq!(field(&balance.stdout, "balance"), "50");
    let keys = support(&world, &["keys", "--account", &m.org_account]).await;
    assert!(keys.success(), "{keys:?}");
    assert_eq!(keys.stdout.lines().count(), 1, "only the header: {keys:?}");

    // The account switcher is a read model: poll (bounded) until the projection has caught up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let accounts = loop {
        let accounts = support(
            &world,
            &["--json", "accounts", "--user", &m.user.to_string()],
        )
        .await;
        if accounts.success() && accounts.stdout.contains(&m.org_account) {
            break accounts;
        }
        assert!(std::time::Instant::now() < deadline, "{accounts:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let listing = json(&accounts.stdout);
    assert_eq!(listing["personal_account_id"], m.personal);
    assert_eq!(listing["organizations"][0]["account_id"], m.org_account);
    assert_eq!(listing["organizations"][0]["role"], "admin");
    let consistency = auditor(&world, &["consistency"]).await;
    assert!(consistency.success(), "{consistency:?}");
    for projection in ["balances", "keys", "directory", "activity"] {
        assert!(
            consistency
                .stdout
                .contains(&format!("{projection}: consistent with the log")),
            "{consistency:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_altered_payload_makes_verify_and_the_checkpoint_check_fail_with_exit_1() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    assert!(support(&world, &transfer_args(&m, "12.34")).await.success());
    let dir = std::env::temp_dir().join(format!("ledgerctl-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("checkpoint.json");
    let file_arg = file.to_str().unwrap();
    assert!(
        auditor(&world, &["checkpoint", "save", "--file", file_arg])
            .await
            .success()
    );

    let (altered,): (i64,) =
        sqlx::query_as("SELECT min(position) FROM events WHERE payload LIKE '%SUP-42%'")
            .fetch_one(&world.pool)
            .await
            .unwrap();
    alter_ticket(&world, altered).await;

    let broken = auditor(&world, &["verify", "--chunk", "3"]).await;
    assert_eq!(broken.code, Some(1), "{broken:?}");
    assert!(
        broken
            .stdout
            .starts_with(&format!("chain BROKEN at position {altered}")),
        "{broken:?}"
    );
    let json_broken = auditor(&world, &["--json", "verify"]).await;
    assert_eq!(json_broken.code, Some(1), "{json_broken:?}");
    let reply = json(&json_broken.stdout);
    assert_eq!(
        (reply["ok"].clone(), reply["break_position"].clone()),
        (false.into(), altered.into())
    );
    let before = (altered - 1).to_string();
    let intact = auditor(&world, &["verify", "--to", &before]).await;
    assert!(
        intact.success(),
        "the history before it still verifies: {intact:?}"
    );

    // The checkpoint check re-hashes the whole log: an event altered before the checkpoint,
    // its stored hash left alone, is found too.
    let head = world.head().await;
    assert!(
        altered < head,
        "the transfer's first event is before the checkpoint's"
    );
    let check = auditor(&world, &["checkpoint", "check", "--file", file_arg]).await;
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(
        check.stdout.contains(&format!(
            "does NOT extend the checkpoint at position {head}: chain breaks at {altered}"
        )),
        "{check:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rewrites the ticket in the payload of the event at `position`, as a superuser with the
/// append-only triggers switched off (the attack the chain exists to expose).
async fn alter_ticket(world: &World, position: i64) {
    let mut conn = world.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let altered = sqlx::query(
        "UPDATE events SET payload = replace(payload, 'SUP-42', 'SUP-99') WHERE position = $1",
    )
    .bind(position)
    .execute(&mut *conn)
    .await
    .unwrap();
    assert_eq!(altered.rows_affected(), 1);
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The position of the next JSON line a follower prints.
async fn next_position(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> i64 {
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("the follower prints within 20 s")
        .unwrap()
        .expect("the follower keeps running");
    json(&line)["position"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_tail_follow_shows_events_as_they_are_appended() {
    use tokio::io::AsyncBufReadExt;

    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let head = world.head().await;
    let mut follower = tokio::process::Command::new(ledger_tests::ledgerctl::binary())
        .args(["--json", "events", "tail", "--from", "1", "--follow"])
        .env("LEDGER_SERVER", format!("http://{}", world.ledgerd.address))
        .env("LEDGER_TOKEN", world.ledgerd.token("auditor"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    for expected in 1..=head {
        assert_eq!(next_position(&mut lines).await, expected);
    }
    assert!(support(&world, &transfer_args(&m, "1")).await.success());
    let new_head = world.head().await;
    for expected in head + 1..=new_head {
        assert_eq!(next_position(&mut lines).await, expected);
    }
    follower.kill().await.unwrap();
}

/// Display columns of `text`: CJK and other wide characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{FFDC}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// Runs `ledgerctl demo` with the three tokens it acts with.
async fn demo(world: &World, args: &[&str]) -> Run {
    let ledgerd = &world.ledgerd;
    let env = [
        ("LEDGER_IDENTITY_TOKEN", ledgerd.token("identity")),
        ("LEDGER_DASHBOARD_TOKEN", ledgerd.token("dashboard")),
        ("LEDGER_GATEWAY_TOKEN", ledgerd.token("gateway")),
    ];
    let mut all = vec!["demo"];
    all.extend(args);
    run_with_env(ledgerd, "", &env, &all).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_fills_a_server_and_the_reads_the_readme_names_show_it() {
    let world = World::start().await;
    let made = demo(&world, &["--records", "200", "--days", "4"]).await;
    assert!(made.success(), "{made:?}");
    let account = field(&made.stdout, "account");
    assert_eq!(field(&made.stdout, "requests billed"), "200");

    // The member table keeps its columns aligned past a CJK name.
    let lines: Vec<&str> = made.stdout.lines().collect();
    let user_column = |who: &str| {
        let line = lines.iter().find(|l| l.starts_with(who)).unwrap();
        let id_at = line
            .char_indices()
            .map(|(at, _)| at)
            .find(|&at| {
                line.get(at..at + 36)
                    .is_some_and(|s| Uuid::parse_str(s).is_ok())
            })
            .unwrap();
        display_width(&line[..id_at])
    };
    assert_eq!(user_column("陈静"), user_column("Ana (admin)"));

    let balance = auditor(&world, &["balance", "--account", &account]).await;
    assert!(balance.success(), "{balance:?}");
    assert_eq!(field(&balance.stdout, "purchased"), "500");
    let used: f64 = field(&balance.stdout, "used").parse().unwrap();
    assert!(used > 0.0, "{}", balance.stdout);

    let feed = auditor(&world, &["activity", "--account", &account, "--limit", "7"]).await;
    assert!(feed.success(), "{feed:?}");
    assert_eq!(feed.stdout.lines().count(), 1 + 7, "{}", feed.stdout);

    let analytics = auditor(
        &world,
        &[
            "--output",
            "json",
            "analytics",
            "--account",
            &account,
            "--group-by",
            "model",
        ],
    )
    .await;
    assert!(analytics.success(), "{analytics:?}");
    let rows: Vec<serde_json::Value> = analytics.stdout.lines().map(json).collect();
    let days: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["bucket_start"].as_str().unwrap())
        .collect();
    let models: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["group"].as_str().unwrap()).collect();
    assert_eq!(days.len(), 4, "usage spread over four days: {days:?}");
    assert_eq!(models.len(), 4, "{models:?}");
    let requests: u64 = rows
        .iter()
        .map(|r| r["requests"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, 200);

    let file = std::env::temp_dir().join(format!("ledgerctl-export-{}.csv", Uuid::new_v4()));
    let file_arg = file.to_str().unwrap();
    let export = auditor(
        &world,
        &[
            "export",
            "--account",
            &account,
            "--format",
            "csv",
            "--file",
            file_arg,
        ],
    )
    .await;
    assert!(export.success(), "{export:?}");
    let csv = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        csv.lines().count(),
        1 + 200,
        "a header and one line per request"
    );

    let verify = auditor(&world, &["verify"]).await;
    assert!(verify.success(), "{verify:?}");
    assert!(verify.stdout.contains("chain intact"), "{}", verify.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_names_the_tokens_it_lacks_and_how_to_mint_them() {
    let world = World::start().await;
    let env = [("LEDGER_GATEWAY_TOKEN", world.ledgerd.token("gateway"))];
    let refused = run_with_env(&world.ledgerd, "", &env, &["demo"]).await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("LEDGER_IDENTITY_TOKEN"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("LEDGER_DASHBOARD_TOKEN"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("LEDGER_GATEWAY_TOKEN"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("ledgerd credentials add"),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_prints_csv_or_json_on_request() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;

    let csv = support(
        &world,
        &["--output", "csv", "balance", "--account", &m.personal],
    )
    .await;
    assert!(csv.success(), "{csv:?}");
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one record: {}", csv.stdout);
    let header: Vec<&str> = lines[0].split(',').collect();
    let record: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(header.len(), record.len());
    let at = |name: &str| record[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(at("account"), m.personal);
    assert_eq!(at("balance"), "50");

    let members = support(
        &world,
        &["--output", "csv", "members", "--organization", &m.org],
    )
    .await;
    assert!(members.success(), "{members:?}");
    assert!(members.stdout.lines().count() >= 2, "{}", members.stdout);
    assert!(
        members.stdout.contains(&m.user.to_string()),
        "{}",
        members.stdout
    );

    let as_json = support(
        &world,
        &["--output", "json", "balance", "--account", &m.personal],
    )
    .await;
    assert!(as_json.success(), "{as_json:?}");
    let value = json(as_json.stdout.trim());
    assert_eq!(value["balance"], "50");
    let shorthand = support(&world, &["--json", "balance", "--account", &m.personal]).await;
    assert_eq!(
        json(shorthand.stdout.trim()),
        value,
        "--json is --output json"
    );
}

/// The JSON objects of a `--json` run, one per line.
fn json_lines(run: &Run) -> Vec<serde_json::Value> {
    assert!(run.success(), "{run:?}");
    run.stdout.lines().map(json).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn support_erases_a_user_and_rebuilds_a_read_model_and_anyone_reading_sees_the_status() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let user = m.user.to_string();

    // erase-user: the personal data goes once; a second erasure finds nothing left.
    let erased = support(&world, &["erase-user", "--user", &user]).await;
    assert!(erased.success(), "{erased:?}");
    let rows: i64 = field(&erased.stdout, "rows erased").parse().unwrap();
    assert!(rows > 0, "{erased:?}");
    let again = json_lines(&support(&world, &["--json", "erase-user", "--user", &user]).await);
    assert_eq!(again[0]["user_id"], user.as_str());
    assert_eq!(again[0]["rows_erased"], 0);
    // Auditors may not erase.
    let refused = auditor(&world, &["erase-user", "--user", &user]).await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(refused.stderr.contains("PERMISSION_DENIED"), "{refused:?}");

    // projections rebuild: table output, then JSON; the rebuilt model is live and consistent.
    let head = world.head().await;
    let rebuilt = support(
        &world,
        &["projections", "rebuild", "balances", "--batch-size", "2"],
    )
    .await;
    assert!(rebuilt.success(), "{rebuilt:?}");
    let position: i64 = field(&rebuilt.stdout, "rebuilt through position")
        .parse()
        .unwrap();
    assert!(position >= head, "{rebuilt:?}");
    assert_eq!(field(&rebuilt.stdout, "projection"), "balances");
    let rebuilt =
        json_lines(&support(&world, &["--json", "projections", "rebuild", "directory"]).await);
    assert_eq!(rebuilt[0]["projection"], "directory");
    assert_eq!(rebuilt[0]["done"], true);
    assert!(rebuilt[0]["position"].as_i64().unwrap() >= head);
    let balance = support(&world, &["balance", "--account", &m.personal]).await;
    assert_eq!(field(&balance.stdout, "balance"), "50", "{balance:?}");
    // Only support rebuilds; an unknown read model is a usage error.
    let refused = auditor(&world, &["projections", "rebuild", "keys"]).await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(refused.stderr.contains("PERMISSION_DENIED"), "{refused:?}");
    let unknown = support(&world, &["projections", "rebuild", "ledger"]).await;
    assert_eq!(unknown.code, Some(2), "{unknown:?}");

    // projections status: every read model, caught up with the head.
    let status = json_lines(&auditor(&world, &["--json", "projections", "status"]).await);
    let names: Vec<&str> = status
        .iter()
        .map(|s| s["projection"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["balances", "keys", "directory", "activity"]);
    let table = auditor(&world, &["projections", "status"]).await;
    assert!(table.success(), "{table:?}");
    let balances = row(&table.stdout, "balances");
    assert!(balances[1].parse::<i64>().unwrap() >= head, "{table:?}");
    let consistency = auditor(&world, &["consistency"]).await;
    assert!(consistency.success(), "{consistency:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn activity_filters_by_key_member_model_and_time_and_the_ledger_lists_the_postings() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    world.dashboard(&admin).buy(&org.account, "100").await;
    let admins_key = world.dashboard(&admin).create_key(&org.account, "a").await;
    let members_key = world.dashboard(&member).create_key(&org.account, "m").await;
    let gateway = world.gateway();
    // 2026-05-29 10:00, 11:00 and 12:00 UTC.
    let hour = |h: i64| 1_780_012_800 + h * 3_600;
    for (key, generation, model, finished) in [
        (&admins_key, "g1", "gpt-x", hour(10)),
        (&members_key, "g2", "claude-y", hour(11)),
        (&admins_key, "g3", "claude-y", hour(12)),
    ] {
        let at = |s| prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        };
        gateway
            .rpc()
            .record_usage(pb_usage(
                key,
                generation,
                model,
                at(finished - 1),
                at(finished),
            ))
            .await;
    }
    // The reads below are served from read models: wait until they have everything.
    let head = world.head().await;
    let dashboard = world.dashboard(&admin).after(head);
    dashboard.ledger_entries(&org.account).await;
    dashboard.activity(&org.account).await;

    let account = org.account.to_string();
    let generations = |run: Run| -> Vec<String> {
        json_lines(&run)
            .iter()
            .map(|r| {
                r["model"].as_str().unwrap().to_owned() + "@" + r["started_at"].as_str().unwrap()
            })
            .collect()
    };
    let activity = |extra: &'static [&'static str]| {
        let mut args = vec!["--json", "activity", "--account", account.as_str()];
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run_activity = |args: Vec<String>| {
        let world = &world;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            auditor(world, &args).await
        }
    };
    let all = generations(run_activity(activity(&[])).await);
    assert_eq!(
        all,
        [
            "claude-y@2026-05-29T11:59:59Z",
            "claude-y@2026-05-29T10:59:59Z",
            "gpt-x@2026-05-29T09:59:59Z"
        ]
    );
    let by_model = generations(run_activity(activity(&["--model", "gpt-x"])).await);
    assert_eq!(by_model, ["gpt-x@2026-05-29T09:59:59Z"]);
    let range = generations(
        run_activity(activity(&[
            "--from",
            "2026-05-29T10:30:00Z",
            "--to",
            "2026-05-29T12:00:00Z",
        ]))
        .await,
    );
    assert_eq!(range, ["claude-y@2026-05-29T10:59:59Z"]);
    let mut by_member = activity(&[]);
    by_member.extend(["--member".to_owned(), member.id.to_string()]);
    let by_member = run_activity(by_member).await;
    let rows = json_lines(&by_member);
    assert_eq!(rows.len(), 1, "{by_member:?}");
    assert_eq!(rows[0]["user_id"], member.id.to_string());
    let mut by_key = activity(&[]);
    by_key.extend(["--key".to_owned(), admins_key.id.to_string()]);
    let by_key = json_lines(&run_activity(by_key).await);
    assert_eq!(by_key.len(), 2);
    assert!(by_key.iter().all(|r| r["key_id"] == admins_key.id.as_str()));
    let mut bad = activity(&[]);
    bad.extend(["--member".to_owned(), "nobody".to_owned()]);
    let bad = run_activity(bad).await;
    assert_eq!(bad.code, Some(3), "{bad:?}");
    assert!(bad.stderr.contains("filter.user_id"), "{bad:?}");

    // ledger: the purchase in, each usage out, newest first.
    let ledger = support(&world, &["--json", "ledger", "--account", &account]).await;
    let postings = json_lines(&ledger);
    assert_eq!(postings.len(), 4, "{ledger:?}");
    let directions: Vec<&str> = postings
        .iter()
        .map(|p| p["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["out", "out", "out", "in"]);
    assert_eq!(postings[3]["amount"], "100");
    assert!(postings.windows(2).all(
        |w| w[0]["position"].as_str().unwrap().parse::<i64>().unwrap()
            > w[1]["position"].as_str().unwrap().parse::<i64>().unwrap()
    ));
    let limited = json_lines(
        &support(
            &world,
            &["--json", "ledger", "--account", &account, "--limit", "1"],
        )
        .await,
    );
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["position"], postings[0]["position"]);
    let table = support(&world, &["ledger", "--account", &account]).await;
    assert!(table.success(), "{table:?}");
    assert_eq!(
        table.stdout.lines().count(),
        5,
        "a header and four postings: {table:?}"
    );
}

/// A `RecordUsage` of `model` with `key`, started and finished at the given times.
fn pb_usage(
    key: &ledger_tests::client::Key,
    generation: &str,
    model: &str,
    started: prost_types::Timestamp,
    finished: prost_types::Timestamp,
) -> ledger_api::pb::RecordUsageRequest {
    ledger_api::pb::RecordUsageRequest {
        command_id: id(),
        account_id: key.account.to_string(),
        key_id: key.id.to_string(),
        usage: Some(ledger_api::pb::UsageReport {
            model: model.into(),
            started_at: Some(started),
            finished_at: Some(finished),
            ..ledger_tests::client::usage(generation, "1")
        }),
    }
}

/// Support's corrections arguments: `reason` and `ticket` after the given ones.
fn with_reason(mut args: Vec<&str>) -> Vec<&str> {
    args.extend(["--reason", "duplicate charge", "--ticket", "SUP-7"]);
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn support_reverses_a_transfer_it_made_once_by_the_transfer_id_ledgerctl_printed() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let done = support(&world, &transfer_args(&m, "12.34")).await;
    assert!(done.success(), "{done:?}");
    let transfer = field(&done.stdout, "transfer id");

    let reverse = with_reason(vec![
        "reverse-transfer",
        "--transfer",
        &transfer,
        "--account",
        &m.org_account,
    ]);
    let reversed = support(&world, &reverse).await;
    assert!(reversed.success(), "{reversed:?}");
    let position: i64 = field(&reversed.stdout, "position").parse().unwrap();
    assert_eq!(position, world.head().await);
    let after = row(&reversed.stdout, "after");
    assert_eq!(after[1..4], [m.org_account.as_str(), "organization", "0"]);
    let personal = support(&world, &["--json", "balance", "--account", &m.personal]).await;
    assert_eq!(json(&personal.stdout)["balance"], "50", "{personal:?}");

    // Retried with its command id it is the same reversal; a new one is refused.
    let command_id = field(&reversed.stdout, "command id");
    let mut retry = reverse.clone();
    retry.extend(["--command-id", &command_id]);
    let retried = support(&world, &retry).await;
    assert_eq!(field(&retried.stdout, "position"), position.to_string());
    let again = support(&world, &reverse).await;
    assert_eq!(again.code, Some(3), "{again:?}");
    assert!(
        again.stderr.contains("TRANSFER_ALREADY_REVERSED"),
        "{again:?}"
    );
    assert_eq!(world.head().await, position, "nothing more was appended");
}

#[tokio::test(flavor = "multi_thread")]
async fn support_adjusts_an_account_and_a_debit_below_zero_needs_the_recovery_flag() {
    let world = World::start().await;
    let m = member_with_personal_credits(&world).await;
    let adjust = |direction: &'static str, amount: &'static str| {
        with_reason(vec![
            "adjust",
            "--account",
            &m.personal,
            "--direction",
            direction,
            "--amount",
            amount,
        ])
    };

    let credited = support(&world, &adjust("credit", "5")).await;
    assert!(credited.success(), "{credited:?}");
    assert_eq!(row(&credited.stdout, "after")[3], "55");

    let head = world.head().await;
    let refused = support(&world, &adjust("debit", "60")).await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(
        refused.stderr.contains("ADJUSTMENT_BELOW_ZERO"),
        "{refused:?}"
    );
    assert_eq!(world.head().await, head, "a refused debit appends nothing");

    let mut recovery = adjust("debit", "60");
    recovery.push("--recovery");
    let recovered = support(
        &world,
        &["--json"].into_iter().chain(recovery).collect::<Vec<_>>(),
    )
    .await;
    assert!(recovered.success(), "{recovered:?}");
    let reply = json(&recovered.stdout);
    assert_eq!(reply["account"]["balance"], "-5");
    assert_eq!(reply["account"]["total_adjusted"], "-55");
    assert_eq!(reply["direction"], "debit");
}
