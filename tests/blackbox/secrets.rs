//! Secrets never leak: after a full journey with ledgerd logging at debug level, no API key
//! secret and no caller token appears in its output, in any row of any table, or in any error
//! a caller received.

use ledger_api::pb;
use ledger_api::secrets::PREFIX_CHARS;
use ledger_tests::ledgerd::{Clients, KINDS, SUPPORT_STAFF};
use tonic::{Code, Status};
use uuid::Uuid;

use crate::common::{Env, id, join, key, organization, purchase, registered_user, usage};

/// What a caller could read of an error: its message and its encoded details.
fn error_text(status: &Status) -> String {
    format!(
        "{} {}",
        status.message(),
        String::from_utf8_lossy(status.details())
    )
}

/// The part of a secret that is never shown again: all of it past the display prefix.
fn hidden_part(secret: &str) -> &str {
    &secret[PREFIX_CHARS..]
}

#[tokio::test(flavor = "multi_thread")]
async fn no_key_secret_or_caller_token_reaches_logs_tables_or_errors() {
    let log = std::env::temp_dir().join(format!("ledgerd-output-{}.log", Uuid::new_v4()));
    let env = Env::start_with(|options| options.output_file = Some(log.clone())).await;
    let mut errors = Vec::new();

    // The journey: registration, an organization with a member, credits, keys, the gateway's
    // authentication, hold and settlement, a support transfer.
    let (alice, alice_personal) = registered_user(&env.ledgerd, "alice@example.test").await;
    let (bob, _) = registered_user(&env.ledgerd, "bob@example.test").await;
    let (org, account) = organization(&env.ledgerd, alice, "Acme").await;
    join(&env.ledgerd, alice, &org, bob, "bob@example.test").await;
    purchase(&env.ledgerd, alice, &account, "100").await;
    purchase(&env.ledgerd, alice, &alice_personal, "10").await;
    let keys = [
        key(&env.ledgerd, alice, &account, None).await,
        key(&env.ledgerd, bob, &account, Some("20")).await,
        key(&env.ledgerd, alice, &alice_personal, None).await,
    ];
    let gateway = env.ledgerd.clients("gateway", None).await;
    for (n, created) in keys.iter().enumerate() {
        let authenticated = gateway
            .gateway
            .clone()
            .authenticate_key(pb::AuthenticateKeyRequest {
                secret: created.secret.clone(),
                min_position: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let hold = id();
        gateway
            .gateway
            .clone()
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: authenticated.account_id.clone(),
                key_id: created.key_id.clone(),
                hold_id: hold.clone(),
                estimate: "2".into(),
                ttl_s: 60,
            })
            .await
            .unwrap();
        gateway
            .gateway
            .clone()
            .settle_hold(pb::SettleHoldRequest {
                command_id: id(),
                account_id: authenticated.account_id,
                hold_id: hold,
                usage: Some(usage(&format!("gen-{n}"), "1.5")),
            })
            .await
            .unwrap();
    }
    env.ledgerd
        .clients("support", Some(Uuid::new_v4()))
        .await
        .support
        .transfer_credits(pb::TransferCreditsRequest {
            command_id: id(),
            transfer_id: String::new(),
            from_account_id: alice_personal.clone(),
            to_account_id: account.clone(),
            amount: "5".into(),
            reason: "consolidate".into(),
            ticket: "SUP-7".into(),
        })
        .await
        .unwrap();

    // Errors where a secret is at hand: a deleted key's secret, a secret with a typo, a
    // secret pasted into a name, and every caller kind's token used where it is refused.
    let mut alice_keys = env.ledgerd.clients("dashboard", Some(alice)).await.keys;
    alice_keys
        .delete_key(pb::KeyCommandRequest {
            command_id: id(),
            account_id: alice_personal.clone(),
            key_id: keys[2].key_id.clone(),
        })
        .await
        .unwrap();
    for secret in [keys[2].secret.clone(), format!("{}x", keys[0].secret)] {
        let status = gateway
            .gateway
            .clone()
            .authenticate_key(pb::AuthenticateKeyRequest {
                secret,
                min_position: 0,
            })
            .await
            .unwrap_err();
        errors.push(status);
    }
    let status = alice_keys
        .rename_key(pb::RenameKeyRequest {
            command_id: id(),
            account_id: account.clone(),
            key_id: keys[0].key_id.clone(),
            name: format!("{}\u{7}", keys[0].secret),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    errors.push(status);
    let channel = env.ledgerd.channel().await;
    for kind in KINDS {
        let token = env.ledgerd.token(kind);
        // A token with a typo is unknown; a valid one on a service its kind may not call is
        // refused; neither answer may echo it.
        let typo = Clients::new(channel.clone(), &format!("{token}x"), Some(alice));
        errors.push(
            typo.audit
                .clone()
                .get_head(pb::GetHeadRequest {})
                .await
                .unwrap_err(),
        );
        let actor = if kind == "support" {
            SUPPORT_STAFF
        } else {
            alice
        };
        let caller = Clients::new(channel.clone(), token, Some(actor));
        let refused = if kind == "identity" {
            caller
                .support
                .clone()
                .set_member_limit(pb::SetMemberLimitRequest {
                    command_id: id(),
                    organization_id: org.clone(),
                    member_limit: 20,
                })
                .await
                .map(drop)
        } else {
            caller
                .users
                .clone()
                .register_user(pb::RegisterUserRequest {
                    command_id: id(),
                    user_id: id(),
                    personal_account_id: String::new(),
                    email: "mallory@example.test".into(),
                })
                .await
                .map(drop)
        };
        let refused = refused.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{kind}: {refused:?}"
        );
        errors.push(refused);
    }
    let codes: Vec<Code> = errors.iter().map(Status::code).collect();
    assert!(codes.contains(&Code::Unauthenticated), "{codes:?}");
    assert!(codes.contains(&Code::PermissionDenied), "{codes:?}");

    let mut needles: Vec<(String, String)> = keys
        .iter()
        .map(|k| {
            (
                format!("key {}", k.key_id),
                hidden_part(&k.secret).to_owned(),
            )
        })
        .collect();
    for kind in KINDS {
        needles.push((format!("{kind} token"), env.ledgerd.token(kind).to_owned()));
    }

    // Every row of every table, as text.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&env.pool)
    .await
    .unwrap();
    assert!(tables.len() > 15, "{tables:?}");
    let mut haystacks = Vec::new();
    for table in &tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&env.pool)
        .await
        .unwrap();
        haystacks.push((format!("table {table}"), rows.join("\n")));
    }
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(output.contains("DEBUG"), "ledgerd logged at debug level");
    haystacks.push(("ledgerd output".into(), output));
    for (n, status) in errors.iter().enumerate() {
        haystacks.push((
            format!("error {n} ({:?})", status.code()),
            error_text(status),
        ));
    }
    let events: String = haystacks
        .iter()
        .find(|(name, _)| name == "table events")
        .map(|(_, rows)| rows.clone())
        .unwrap();
    assert!(
        keys.iter().all(|k| events.contains(&k.prefix)),
        "the scan reads the events: each key's display prefix is there"
    );
    for (secret_name, needle) in &needles {
        for (place, text) in &haystacks {
            assert!(!text.contains(needle.as_str()), "{secret_name} in {place}");
        }
    }
    let _ = std::fs::remove_file(&log);
}
