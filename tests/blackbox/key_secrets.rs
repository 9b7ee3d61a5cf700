//! A retried `CreateKey` shows the key's secret again only to a caller who may still manage
//! the key, and only while the key is active.

use ledger_api::pb;
use tonic::Code;
use uuid::Uuid;

use crate::common::{Env, id, join, organization, reason, registered_user};

fn create_request(account: &str) -> pb::CreateKeyRequest {
    pb::CreateKeyRequest {
        command_id: id(),
        account_id: account.to_owned(),
        key_id: id(),
        name: "member key".into(),
        limit: None,
        expires_at: None,
    }
}

async fn create(
    env: &Env,
    user: Uuid,
    request: &pb::CreateKeyRequest,
) -> Result<pb::CreateKeyResponse, tonic::Status> {
    env.ledgerd
        .clients("dashboard", Some(user))
        .await
        .keys
        .create_key(request.clone())
        .await
        .map(tonic::Response::into_inner)
}

async fn key_command(env: &Env, admin: Uuid, request: &pb::CreateKeyRequest, enable: bool) {
    let mut keys = env.ledgerd.clients("dashboard", Some(admin)).await.keys;
    let command = pb::KeyCommandRequest {
        command_id: id(),
        account_id: request.account_id.clone(),
        key_id: request.key_id.clone(),
    };
    if enable {
        keys.enable_key(command).await.unwrap();
    } else {
        keys.disable_key(command).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_member_replaying_create_key_gets_no_secret_even_once_the_key_is_enabled_again() {
    let env = Env::start().await;
    let (admin, _) = registered_user(&env.ledgerd, "admin@example.test").await;
    let (member, _) = registered_user(&env.ledgerd, "member@example.test").await;
    let (org, account) = organization(&env.ledgerd, admin, "acme").await;
    join(&env.ledgerd, admin, &org, member, "member@example.test").await;

    let request = create_request(&account);
    let first = create(&env, member, &request).await.unwrap();
    let retried = create(&env, member, &request).await.unwrap();
    assert_eq!(
        retried.secret, first.secret,
        "a retry is answered like the first call"
    );
    assert_eq!(retried.position, first.position);

    env.ledgerd
        .clients("dashboard", Some(admin))
        .await
        .orgs
        .remove_member(pb::RemoveMemberRequest {
            command_id: id(),
            organization_id: org.clone(),
            user_id: member.to_string(),
        })
        .await
        .unwrap();
    let refused = create(&env, member, &request).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(!refused.message().contains(&first.secret));

    // The removal disabled the member's keys; an admin enables this one again.
    key_command(&env, admin, &request, true).await;
    let refused = create(&env, member, &request).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_shows_the_secret_only_while_the_key_is_active() {
    let env = Env::start().await;
    let (admin, _) = registered_user(&env.ledgerd, "owner@example.test").await;
    let (_org, account) = organization(&env.ledgerd, admin, "acme").await;
    let request = create_request(&account);
    let first = create(&env, admin, &request).await.unwrap();

    key_command(&env, admin, &request, false).await;
    let refused = create(&env, admin, &request).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason(&refused), "KEY_SECRET_NO_LONGER_SHOWN");

    key_command(&env, admin, &request, true).await;
    let shown = create(&env, admin, &request).await.unwrap();
    assert_eq!(shown.secret, first.secret);
}
