//! What an operator relies on: health per service (NOT_SERVING while the database is down and
//! while draining), start-up that waits for the database and gives up after
//! `--startup-timeout-s`, `RetryInfo` on the codes worth retrying, and one JSON access line
//! per call.

use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_pgembed::testing::fresh_database;
use ledger_tests::client::{Api, World};
use ledger_tests::cluster::OutageDatabase;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions, binary, free_port};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// The ledger's services, as a client names them in a health check.
const SERVICES: [&str; 10] = [
    "arouter.ledger.v1.UsersService",
    "arouter.ledger.v1.OrganizationsService",
    "arouter.ledger.v1.CreditsService",
    "arouter.ledger.v1.KeysService",
    "arouter.ledger.v1.GatewayService",
    "arouter.ledger.v1.ActivityService",
    "arouter.ledger.v1.SettingsService",
    "arouter.ledger.v1.SupportService",
    "arouter.ledger.v1.AuditService",
    "arouter.ledger.v1.NotificationsService",
];

/// Options for a `ledgerd` on `url`, with a data dir it never uses.
fn on(url: &str) -> LedgerdOptions {
    LedgerdOptions {
        database_url: Some(url.to_owned()),
        data_dir: std::env::temp_dir().join(format!("ledgerd-unused-{}", uuid::Uuid::new_v4())),
        ..Default::default()
    }
}

/// The status of `service` and of the server as a whole, which must agree.
async fn health_everywhere(ledgerd: &Ledgerd) -> ServingStatus {
    let overall = ledgerd.health().await;
    for service in SERVICES {
        assert_eq!(ledgerd.health_of(service).await, overall, "{service}");
    }
    overall
}

/// A status must carry a positive `RetryInfo` delay.
fn assert_retry_info(status: &Status) {
    let delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    assert!(
        delay.is_some_and(|delay| delay > Duration::ZERO),
        "no RetryInfo on {status:?}"
    );
}

/// A command that needs the database: registering a user.
async fn register(ledgerd: &Ledgerd) -> Result<(), Status> {
    ledgerd
        .identity()
        .register(&format!("{}@example.test", uuid::Uuid::new_v4()))
        .outcome()
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_serving_for_the_server_and_every_ledger_service() {
    let world = World::start().await;
    assert_eq!(
        health_everywhere(&world.ledgerd).await,
        ServingStatus::Serving
    );
    let mut client = HealthClient::new(world.ledgerd.channel().await);
    let unknown = client
        .check(HealthCheckRequest {
            service: "arouter.ledger.v1.NoSuchService".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_turns_not_serving_while_the_database_is_down_and_ledgerd_recovers_after() {
    let mut database = OutageDatabase::start().await;
    let mut ledgerd = Ledgerd::start(&on(database.url())).await;
    assert_eq!(health_everywhere(&ledgerd).await, ServingStatus::Serving);
    register(&ledgerd).await.unwrap();

    database.stop().await;
    let down = Instant::now();
    ledgerd
        .wait_for_health(Duration::from_secs(10), |s| s == ServingStatus::NotServing)
        .await;
    eprintln!(
        "NOT_SERVING {} ms after the stop",
        down.elapsed().as_millis()
    );
    assert_eq!(health_everywhere(&ledgerd).await, ServingStatus::NotServing);
    let refused = register(&ledgerd).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_retry_info(&refused);
    // Longer than the pool's 5 s acquire timeout: ledgerd stays up through it.
    while down.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(ledgerd.is_running(), "ledgerd exited during the outage");
    }

    database.start_again().await;
    let up = Instant::now();
    ledgerd.wait_until_serving(Duration::from_secs(15)).await;
    eprintln!("SERVING {} ms after the start", up.elapsed().as_millis());
    assert_eq!(health_everywhere(&ledgerd).await, ServingStatus::Serving);
    register(&ledgerd).await.unwrap();
    assert!(ledgerd.terminate().success());
    database.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_turns_health_not_serving_and_a_watching_client_does_not_hold_the_drain_open() {
    let world = World::start().await;
    let mut ledgerd = world.ledgerd;
    let mut client = HealthClient::new(ledgerd.channel().await);
    let mut watches = Vec::new();
    for service in ["", SERVICES[0]] {
        let mut watch = client
            .watch(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::Serving);
        watches.push(watch);
    }
    ledgerd.send_sigterm();
    for mut watch in watches {
        let next = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the watch hears of the drain");
        assert_eq!(
            next.unwrap().unwrap().status(),
            ServingStatus::NotServing,
            "the drain is announced before the server stops"
        );
        // Then the stream ends, so the drain can finish.
        let end = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the watch ends");
        assert!(!matches!(end, Some(Ok(_))), "{end:?}");
    }
    // Within the 10 s that ledgerd gives its appender to stop: a handle kept alive past the
    // drain (the ledger's services hold one) would make it wait that long and warn.
    let exit = ledgerd.wait_for_exit(Duration::from_secs(8)).await;
    assert!(exit.is_some_and(|status| status.success()), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_waits_for_a_database_that_is_not_up_yet_and_then_serves() {
    let mut database = OutageDatabase::start().await;
    database.stop().await;
    let mut ledgerd = Ledgerd::start_unready(&on(database.url())).await;
    // Listening, NOT_SERVING, and the ledger's RPCs UNAVAILABLE with RetryInfo.
    assert_eq!(health_everywhere(&ledgerd).await, ServingStatus::NotServing);
    let refused = register(&ledgerd).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_retry_info(&refused);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(ledgerd.is_running(), "ledgerd gave up too early");

    database.start_again().await;
    ledgerd.wait_until_serving(Duration::from_secs(30)).await;
    assert_eq!(health_everywhere(&ledgerd).await, ServingStatus::Serving);
    register(&ledgerd).await.unwrap();
    assert!(ledgerd.terminate().success());
    database.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_gives_up_after_the_startup_timeout_with_a_clear_error() {
    let nobody = format!("postgres://ledger@127.0.0.1:{}/ledger", free_port());
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary())
            .args([
                "serve",
                "--startup-timeout-s",
                "2",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--data-dir"])
            .arg(std::env::temp_dir().join(format!("ledgerd-gives-up-{}", uuid::Uuid::new_v4())))
            .env("DATABASE_URL", nobody)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("gave up after 2 s") && stderr.contains("--startup-timeout-s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not reachable yet; retrying"),
        "it retried first: {stderr}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_that_waits_in_vain_for_min_position_is_unavailable_with_retry_info() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let refused = world
        .dashboard(&admin)
        .rpc()
        .list_activity(pb::ListActivityRequest {
            account_id: org.account.to_string(),
            min_position: world.head().await + 1_000,
            page_size: 1,
            ..Default::default()
        })
        .refused(Code::Unavailable)
        .await;
    assert_retry_info(&refused);
}

/// The JSON lines of `path` that `ledger::access` wrote for `correlation_id`.
fn access_lines(path: &std::path::Path, correlation_id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["target"] == "ledger::access")
        .filter(|line| line["fields"]["correlation_id"] == correlation_id)
        .collect()
}

/// Calls `GetHead` with `token` and `correlation_id`; the status code it got.
async fn get_head(ledgerd: &Ledgerd, token: &str, correlation_id: &str) -> Code {
    let mut client = pb::audit_service_client::AuditServiceClient::new(ledgerd.channel().await);
    let mut request = tonic::Request::new(pb::GetHeadRequest {});
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    metadata.insert("x-correlation-id", correlation_id.parse().unwrap());
    match client.get_head(request).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_writes_one_json_access_line_with_its_correlation_id() {
    let log = std::env::temp_dir().join(format!("ledgerd-access-{}.log", uuid::Uuid::new_v4()));
    let database = fresh_database().await.unwrap();
    let mut options = on(database.url());
    options.output_file = Some(log.clone());
    options
        .env
        .push(("LEDGER_LOG_FORMAT".to_owned(), "json".to_owned()));
    let ledgerd = Ledgerd::start(&options).await;

    let cases = [
        (ledgerd.token("auditor"), Code::Ok, "OK", Some("auditor")),
        (
            ledgerd.token("gateway"),
            Code::PermissionDenied,
            "PERMISSION_DENIED",
            Some("gateway"),
        ),
        (
            "lt_not_a_token",
            Code::Unauthenticated,
            "UNAUTHENTICATED",
            None,
        ),
    ];
    for (token, code, code_name, kind) in cases {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        assert_eq!(get_head(&ledgerd, token, &correlation_id).await, code);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = access_lines(&log, &correlation_id);
        while lines.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            lines = access_lines(&log, &correlation_id);
        }
        assert_eq!(lines.len(), 1, "one access line per call: {lines:?}");
        let fields = &lines[0]["fields"];
        assert_eq!(fields["rpc"], "/arouter.ledger.v1.AuditService/GetHead");
        assert_eq!(fields["code"], code_name, "{fields}");
        assert_eq!(fields["grpc_status"], i32::from(code), "{fields}");
        assert!(fields["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
        match kind {
            Some(kind) => {
                assert_eq!(fields["caller_kind"], kind);
                assert_eq!(fields["credential"], format!("test-{kind}"));
            }
            None => assert!(fields.get("caller_kind").is_none(), "{fields}"),
        }
    }
    assert!(ledgerd.terminate().success());
    let _ = std::fs::remove_file(&log);
}
