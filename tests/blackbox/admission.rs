//! Unauthenticated calls cost almost nothing: a bad token is refused before the request body
//! is decoded, a malformed key secret before any lookup, and a caller over its configured rate
//! is told when to retry.

use std::time::Duration;

use ledger_api::pb;
use ledger_tests::client::{Api, Gateway, Rpc, World, id, reason};
use tonic::Code;
use tonic_types::StatusExt;

/// A rename whose name alone is larger than the server accepts.
fn oversized_rename() -> pb::RenameOrganizationRequest {
    pb::RenameOrganizationRequest {
        command_id: id(),
        organization_id: id(),
        name: "x".repeat(64 * 1024),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_refused_before_the_body_is_decoded() {
    let world = World::start_with(|options| {
        options
            .serve_args
            .extend(["--max-request-bytes".into(), "4096".into()]);
    })
    .await;
    // With a valid token the body is read, and refused for its size.
    let dashboard = world.ledgerd.token("dashboard");
    let read = Rpc::new(
        world.ledgerd.lazy_channel(),
        dashboard,
        Some(uuid::Uuid::new_v4()),
    )
    .rename_organization(oversized_rename())
    .outcome()
    .await
    .unwrap_err();
    assert_eq!(read.code(), Code::OutOfRange, "{read:?}");
    // With a bad token, or none, the same body is never decoded.
    for token in ["lt_not-a-credential", ""] {
        let refused = Rpc::new(world.ledgerd.lazy_channel(), token, None)
            .rename_organization(oversized_rename())
            .outcome()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_key_secret_is_invalid_argument_and_an_unknown_one_unknown() {
    let world = World::start().await;
    let gateway = world.gateway();
    for malformed in [
        "ark_not-a-key",
        "sk_live_abc",
        "",
        &format!("ark_{}", "A".repeat(44)),
    ] {
        gateway
            .authenticate(malformed)
            .refused_field("secret")
            .await;
    }
    let unknown = format!("ark_{}", "A".repeat(43));
    for _ in 0..2 {
        // The second miss is answered from the negative cache, alike.
        gateway
            .authenticate(&unknown)
            .refused_with(Code::NotFound, "UNKNOWN_KEY")
            .await;
    }
}

/// How long a refusal asks the caller to wait.
fn retry_delay(status: &tonic::Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(status), "RATE_LIMITED");
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo in {status:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_over_its_rate_is_told_when_to_retry() {
    let world = World::start_with(|options| {
        options
            .serve_args
            .extend(["--credential-rate-per-s", "1", "--credential-burst", "2"].map(String::from));
    })
    .await;
    let auditor = world.auditor();
    auditor.head().await;
    auditor.head().await;
    let refused = auditor.head().refusal().await;
    let delay = retry_delay(&refused);
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    // Another credential has a rate of its own.
    world
        .gateway()
        .authenticate(&format!("ark_{}", "B".repeat(43)))
        .refused(Code::NotFound)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_over_its_rate_is_told_when_to_retry() {
    let world = World::start_with(|options| {
        options
            .serve_args
            .extend(["--key-rate-per-s", "1", "--key-burst", "1"].map(String::from));
    })
    .await;
    let (_admin, _org, key) = world.funded_key().await;
    let (_other_admin, _other_org, other) = world.funded_key().await;
    let gateway: Gateway = world.gateway();
    gateway.authenticate(&key.secret).await;
    let refused = gateway.authenticate(&key.secret).refusal().await;
    let delay = retry_delay(&refused);
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    // Another key has a rate of its own.
    gateway.authenticate(&other.secret).await;
}
