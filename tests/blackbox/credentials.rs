//! Callers bound to who they are: the credential named in every event, support tokens bound
//! to one staff member, erasures that name who erased, credentials managed by `ledgerd
//! credentials`, and a broken credentials file that is loud, not silent.

use std::process::Command;
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::client::{Api, Identity, Rpc, World};
use ledger_tests::ledgerd::{Ledgerd, SUPPORT_STAFF, binary};
use tonic::Code;
use tonic::metadata::MetadataValue;
use uuid::Uuid;

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
    Rpc::new(ledgerd.lazy_channel(), token, None)
        .get_head(pb::GetHeadRequest {})
        .outcome()
        .await
        .map(drop)
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
    let world = World::start().await;
    let (_admin, _org, key) = world.funded_key().await;
    world.gateway().place_hold(&key, "1").await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, metadata FROM events ORDER BY position")
            .fetch_all(&world.pool)
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
    let world = World::start().await;
    let (_admin, org) = world.organization().await;
    let token = world.ledgerd.token("support");
    let set_limit = |actor: Option<Uuid>, limit: u32| {
        Rpc::new(world.ledgerd.lazy_channel(), token, actor)
            .set_member_limit(pb::SetMemberLimitRequest {
                command_id: ledger_tests::client::id(),
                organization_id: org.id.to_string(),
                member_limit: limit,
            })
            .outcome()
    };
    set_limit(None, 20).await.unwrap();
    set_limit(Some(SUPPORT_STAFF), 21).await.unwrap();
    let before = world.head().await;
    let refused = set_limit(Some(Uuid::new_v4()), 22).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(world.head().await, before, "a refused call appends nothing");
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT metadata::jsonb ->> 'actor_id' FROM events \
         WHERE metadata::jsonb ->> 'caller_kind' = 'support'",
    )
    .fetch_all(&world.pool)
    .await
    .unwrap();
    assert_eq!(actors, vec![SUPPORT_STAFF.to_string(); 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_names_the_staff_member_or_service_that_erased() {
    let world = World::start().await;
    let user = world.user("erase-me@example.test").await;
    let staff = Uuid::new_v4();
    let support = Identity::from(Rpc::new(
        world.ledgerd.lazy_channel(),
        &world.ledgerd.support_token(staff),
        None,
    ));
    assert_eq!(support.erase(&user).await.rows_erased, 1);
    assert_eq!(world.identity().erase(&user).await.rows_erased, 0);
    let never_registered = ledger_tests::client::User {
        id: Uuid::new_v4(),
        ..user.clone()
    };
    let before = world.head().await;
    world
        .identity()
        .erase(&never_registered)
        .refused_because("USER_NOT_FOUND")
        .await;
    assert_eq!(world.head().await, before, "nothing recorded for no one");

    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT stream_id, payload, metadata FROM events \
         WHERE event_type = 'user.personal_data_erased' ORDER BY position",
    )
    .fetch_all(&world.pool)
    .await
    .unwrap();
    let erasures: Vec<(
        String,
        serde_json::Value,
        serde_json::Value,
        serde_json::Value,
    )> = rows
        .into_iter()
        .map(|(stream, payload, metadata)| {
            let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
            let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
            (
                stream,
                payload["erased_by"].clone(),
                metadata["credential"].clone(),
                metadata["actor_id"].clone(),
            )
        })
        .collect();
    let stream = format!("user-{}", user.id);
    assert_eq!(
        erasures,
        vec![
            (
                stream.clone(),
                serde_json::json!({"kind": "support", "staff_id": staff}),
                serde_json::json!(format!("test-support-{staff}")),
                serde_json::json!(staff),
            ),
            (
                stream,
                serde_json::json!({"kind": "identity"}),
                serde_json::json!("test-identity"),
                serde_json::Value::Null,
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_and_removed_credentials_stop_working_without_a_restart() {
    let world = World::start().await;
    let first = credentials(
        &world.ledgerd,
        &["add", "--kind", "auditor", "--name", "ops"],
    );
    let first = first.trim();
    assert_eq!(head_with(&world.ledgerd, first).await, Ok(()));

    let listed = credentials(&world.ledgerd, &["list", "--json"]);
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

    let second = credentials(&world.ledgerd, &["rotate", "--name", "ops"]);
    let second = second.trim();
    until_head_with(&world.ledgerd, first, Err(Code::Unauthenticated)).await;
    assert_eq!(head_with(&world.ledgerd, second).await, Ok(()));

    credentials(&world.ledgerd, &["remove", "--name", "ops"]);
    until_head_with(&world.ledgerd, second, Err(Code::Unauthenticated)).await;
    assert_eq!(
        head_with(&world.ledgerd, world.ledgerd.token("auditor")).await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credentials_file_that_does_not_parse_keeps_the_last_good_list_and_says_so() {
    let world = World::start().await;
    let file = world.ledgerd.credentials_file();
    let good = std::fs::read_to_string(&file).unwrap();
    assert_eq!(file_valid(&world.ledgerd).await, "1");
    std::fs::write(&file, "[{ this is not json").unwrap();
    // An unknown token makes the server read the file at once.
    assert_eq!(
        head_with(&world.ledgerd, "lt_unknown").await,
        Err(Code::Unauthenticated)
    );
    assert_eq!(file_valid(&world.ledgerd).await, "0");
    let metrics = world.ledgerd.scrape_metrics().await;
    assert!(
        !metrics.contains("ledger_credentials_reload_failures_total 0"),
        "{metrics}"
    );
    assert_eq!(
        head_with(&world.ledgerd, world.ledgerd.token("auditor")).await,
        Ok(())
    );

    std::fs::write(&file, good).unwrap();
    assert_eq!(
        head_with(&world.ledgerd, "lt_unknown-again").await,
        Err(Code::Unauthenticated)
    );
    assert_eq!(file_valid(&world.ledgerd).await, "1");
}

/// The server's `ledger_credentials_file_valid` sample: "1" if its credentials file parsed
/// when last read, "0" if not.
async fn file_valid(ledgerd: &Ledgerd) -> String {
    let metrics = ledgerd.scrape_metrics().await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("ledger_credentials_file_valid "))
        .unwrap_or_else(|| panic!("no ledger_credentials_file_valid in {metrics}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_matched_without_regard_to_case() {
    let world = World::start().await;
    let mut audit = pb::audit_service_client::AuditServiceClient::new(world.ledgerd.lazy_channel());
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let mut request = tonic::Request::new(pb::GetHeadRequest {});
        let value: MetadataValue<_> = format!("{scheme} {}", world.ledgerd.token("auditor"))
            .parse()
            .unwrap();
        request.metadata_mut().insert("authorization", value);
        audit.get_head(request).await.expect(scheme);
    }
}

/// Seconds since the epoch.
fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An assertion for `sub`, signed by `key`, issued `iat` and expiring `exp` (epoch seconds).
fn assertion(key: &rcgen::KeyPair, sub: Uuid, iat: u64, exp: u64) -> String {
    let claims = serde_json::json!({"sub": sub.to_string(), "iat": iat, "exp": exp});
    let key = jsonwebtoken::EncodingKey::from_ed_der(&key.serialize_der());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &key,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_assertion_key_a_dashboard_call_needs_a_fresh_assertion_for_its_user() {
    let identity_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let other_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let dir = std::env::temp_dir().join(format!("assertion-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let public = dir.join("identity.pub.pem");
    std::fs::write(&public, identity_key.public_key_pem()).unwrap();
    let world = World::start_with(|options| {
        options.serve_args.extend([
            "--dashboard-assertion-key".to_owned(),
            public.display().to_string(),
        ]);
    })
    .await;
    let user = world.user("asserted@example.test").await;
    let token = world.ledgerd.token("dashboard").to_owned();
    let call = |assertion: Option<String>| {
        let mut client =
            pb::users_service_client::UsersServiceClient::new(world.ledgerd.lazy_channel());
        let mut request = tonic::Request::new(pb::ListUserOrganizationsRequest {
            user_id: user.id.to_string(),
            ..Default::default()
        });
        let metadata = request.metadata_mut();
        metadata.insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
        );
        metadata.insert(
            "x-actor-id",
            MetadataValue::try_from(user.id.to_string()).unwrap(),
        );
        if let Some(assertion) = assertion {
            metadata.insert(
                "x-actor-assertion",
                MetadataValue::try_from(assertion).unwrap(),
            );
        }
        async move {
            client
                .list_user_organizations(request)
                .await
                .map(drop)
                .map_err(|status| status.code())
        }
    };
    let now = now_s();
    assert_eq!(
        call(Some(assertion(&identity_key, user.id, now, now + 60))).await,
        Ok(())
    );
    let refused = [
        ("none", None),
        (
            "for another user",
            Some(assertion(&identity_key, Uuid::new_v4(), now, now + 60)),
        ),
        (
            "signed by another key",
            Some(assertion(&other_key, user.id, now, now + 60)),
        ),
        (
            "expired",
            Some(assertion(&identity_key, user.id, now - 600, now - 300)),
        ),
        (
            "living an hour",
            Some(assertion(&identity_key, user.id, now, now + 3_600)),
        ),
        ("garbage", Some("not.a.jwt".to_owned())),
    ];
    for (what, assertion) in refused {
        assert_eq!(call(assertion).await, Err(Code::Unauthenticated), "{what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
