//! Callers bound to who they are: the credential named in every event, support tokens bound
//! to one staff member, credentials managed by `ledgerd credentials`, and a broken
//! credentials file that is loud, not silent.

use std::process::Command;
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::ledgerd::{Clients, Ledgerd, SUPPORT_STAFF, binary};
use tonic::Code;
use tonic::metadata::MetadataValue;
use uuid::Uuid;

use crate::common::{Env, id};
use crate::gateway::funded_key;

/// Runs `ledgerd credentials <args>` on the server's credentials file; returns stdout.
fn credentials(ledgerd: &Ledgerd, args: &[&str]) -> String {
    let output = Command::new(binary())
        .arg("credentials")
        .args(args)
        .arg("--credentials-file")
        .arg(ledgerd.credentials_file())
        .env_remove("DATABASE_URL")
        .output()
        .expect("ledgerd runs");
    assert!(output.status.success(), "credentials {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("text")
}

/// An auditor's `GetHead` with `token`: `Ok` or the status code.
async fn head_with(ledgerd: &Ledgerd, token: &str) -> Result<(), Code> {
    let auditor = Clients::new(ledgerd.channel().await, token, None);
    auditor
        .audit
        .clone()
        .get_head(pb::GetHeadRequest {})
        .await
        .map(|_| ())
        .map_err(|status| status.code())
}

/// Polls until `token` gets `expected` (the server re-reads the file within a second).
async fn until_head_with(ledgerd: &Ledgerd, token: &str, expected: Result<(), Code>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let outcome = head_with(ledgerd, token).await;
        if outcome == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {outcome:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_names_the_credential_its_call_authenticated_with() {
    let env = Env::start().await;
    let (_user, _org, account, key) = funded_key(&env.ledgerd).await;
    env.ledgerd
        .clients("gateway", None)
        .await
        .gateway
        .place_hold(pb::PlaceHoldRequest {
            command_id: id(),
            account_id: account,
            key_id: key,
            hold_id: id(),
            estimate: "1".into(),
            ttl_s: 60,
        })
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, metadata FROM events ORDER BY position")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert!(!rows.is_empty());
    for (event_type, metadata) in rows {
        let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
        let expected = match metadata["caller_kind"].as_str().unwrap() {
            "dashboard" => "test-dashboard",
            "gateway" => "test-gateway",
            "identity" => "test-identity",
            other => panic!("{event_type}: unexpected caller {other}"),
        };
        assert_eq!(metadata["credential"], expected, "{event_type}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_support_token_acts_as_its_own_staff_member_and_no_one_else() {
    let env = Env::start().await;
    let (_user, org, _account, _key) = funded_key(&env.ledgerd).await;
    let channel = env.ledgerd.channel().await;
    let set_limit = |actor: Option<Uuid>, limit: u32| {
        let support = Clients::new(channel.clone(), env.ledgerd.token("support"), actor).support;
        let org = org.clone();
        async move {
            support
                .clone()
                .set_member_limit(pb::SetMemberLimitRequest {
                    command_id: id(),
                    organization_id: org,
                    member_limit: limit,
                })
                .await
                .map(|_| ())
                .map_err(|status| status.code())
        }
    };
    assert_eq!(set_limit(None, 20).await, Ok(()));
    assert_eq!(set_limit(Some(SUPPORT_STAFF), 21).await, Ok(()));
    let before = env.head().await;
    assert_eq!(
        set_limit(Some(Uuid::new_v4()), 22).await,
        Err(Code::Unauthenticated)
    );
    assert_eq!(env.head().await, before, "a refused call appends nothing");
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT metadata::jsonb ->> 'actor_id' FROM events WHERE metadata::jsonb ->> 'caller_kind' = 'support'",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert_eq!(actors, vec![SUPPORT_STAFF.to_string(); 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_and_removed_credentials_stop_working_without_a_restart() {
    let env = Env::start().await;
    let first = credentials(&env.ledgerd, &["add", "--kind", "auditor", "--name", "ops"]);
    let first = first.trim();
    assert_eq!(head_with(&env.ledgerd, first).await, Ok(()));

    let listed = credentials(&env.ledgerd, &["list", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert!(
        listed
            .iter()
            .any(|c| c["name"] == "ops" && c["kind"] == "auditor")
    );
    assert!(
        listed
            .iter()
            .any(|c| c["name"] == "test-support" && c["staff_id"] == SUPPORT_STAFF.to_string())
    );
    assert!(!serde_json::to_string(&listed).unwrap().contains(first));

    let second = credentials(&env.ledgerd, &["rotate", "--name", "ops"]);
    let second = second.trim();
    until_head_with(&env.ledgerd, first, Err(Code::Unauthenticated)).await;
    assert_eq!(head_with(&env.ledgerd, second).await, Ok(()));

    credentials(&env.ledgerd, &["remove", "--name", "ops"]);
    until_head_with(&env.ledgerd, second, Err(Code::Unauthenticated)).await;
    assert_eq!(
        head_with(&env.ledgerd, env.ledgerd.token("auditor")).await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credentials_file_that_does_not_parse_keeps_the_last_good_list_and_says_so() {
    let env = Env::start().await;
    let file = env.ledgerd.credentials_file();
    let good = std::fs::read_to_string(&file).unwrap();
    assert!(
        env.ledgerd
            .scrape_metrics()
            .await
            .contains("ledger_credentials_file_valid 1")
    );
    std::fs::write(&file, "[{ this is not json").unwrap();
    // An unknown token makes the server read the file at once.
    assert_eq!(
        head_with(&env.ledgerd, "lt_unknown").await,
        Err(Code::Unauthenticated)
    );
    let metrics = env.ledgerd.scrape_metrics().await;
    assert!(
        metrics.contains("ledger_credentials_file_valid 0"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("ledger_credentials_reload_failures_total 0"),
        "{metrics}"
    );
    assert_eq!(
        head_with(&env.ledgerd, env.ledgerd.token("auditor")).await,
        Ok(())
    );

    std::fs::write(&file, good).unwrap();
    assert_eq!(
        head_with(&env.ledgerd, "lt_unknown-again").await,
        Err(Code::Unauthenticated)
    );
    assert!(
        env.ledgerd
            .scrape_metrics()
            .await
            .contains("ledger_credentials_file_valid 1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_matched_without_regard_to_case() {
    let env = Env::start().await;
    let mut audit = pb::audit_service_client::AuditServiceClient::new(env.ledgerd.channel().await);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let mut request = tonic::Request::new(pb::GetHeadRequest {});
        let value: MetadataValue<_> = format!("{scheme} {}", env.ledgerd.token("auditor"))
            .parse()
            .unwrap();
        request.metadata_mut().insert("authorization", value);
        audit.get_head(request).await.expect(scheme);
    }
}
