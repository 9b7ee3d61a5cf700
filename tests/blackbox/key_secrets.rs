//! A retried `CreateKey` shows the key's secret again only to a caller who may still manage
//! the key, and only while the key is active.

use ledger_api::pb;
use ledger_tests::client::{AccountId, Api, Dashboard, Key, KeyId, World, id};
use tonic::Code;

/// A `CreateKey` request to send, and send again.
fn create_request(account: &AccountId) -> pb::CreateKeyRequest {
    pb::CreateKeyRequest {
        command_id: id(),
        account_id: account.to_string(),
        key_id: KeyId::fresh().to_string(),
        name: "member key".into(),
        limit: None,
        expires_at: None,
    }
}

/// The key a request creates, as the key commands name it.
fn key_of(request: &pb::CreateKeyRequest, first: &pb::CreateKeyResponse) -> Key {
    Key {
        id: KeyId::from(request.key_id.clone()),
        account: AccountId::from(request.account_id.clone()),
        secret: first.secret.clone(),
        prefix: first.prefix.clone(),
    }
}

fn create(
    as_user: &Dashboard,
    request: &pb::CreateKeyRequest,
) -> ledger_tests::client::Call<pb::CreateKeyResponse> {
    as_user.rpc().create_key(request.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_member_replaying_create_key_gets_no_secret_even_once_the_key_is_enabled_again() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let as_member = world.dashboard(&member);

    let request = create_request(&org.account);
    let first = create(&as_member, &request).await;
    let retried = create(&as_member, &request).await;
    assert_eq!(
        retried.secret, first.secret,
        "a retry is answered like the first call"
    );
    assert_eq!(retried.position, first.position);

    let as_admin = world.dashboard(&admin);
    as_admin.remove_member(&org, &member).await;
    let refused = create(&as_member, &request)
        .refused(Code::PermissionDenied)
        .await;
    assert!(!refused.message().contains(&first.secret));

    // The removal disabled the member's keys; an admin enables this one again.
    as_admin.enable_key(&key_of(&request, &first)).await;
    create(&as_member, &request)
        .refused(Code::PermissionDenied)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_shows_the_secret_only_while_the_key_is_active() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let as_admin = world.dashboard(&admin);
    let request = create_request(&org.account);
    let first = create(&as_admin, &request).await;
    let key = key_of(&request, &first);

    as_admin.disable_key(&key).await;
    create(&as_admin, &request)
        .refused_with(Code::FailedPrecondition, "KEY_SECRET_NO_LONGER_SHOWN")
        .await;

    as_admin.enable_key(&key).await;
    let shown = create(&as_admin, &request).await;
    assert_eq!(shown.secret, first.secret);
}
