//! Secrets never leak: after a full journey with ledgerd logging at debug level, no API key
//! secret and no caller token appears in its output, in any row of any table, or in any error
//! a caller received.

use ledger_api::pb;
use ledger_api::secrets::PREFIX_CHARS;
use ledger_tests::client::{AccountId, Api, Identity, Key, Rpc, Support, World};
use ledger_tests::ledgerd::{KINDS, SUPPORT_STAFF};
use tonic::{Code, Status};
use uuid::Uuid;

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
    let world = World::start_with(|options| options.output_file = Some(log.clone())).await;
    let mut errors = Vec::new();

    // The journey: registration, an organization with a member, credits, keys, the gateway's
    // authentication, hold and settlement, a support transfer.
    let alice = world.user("alice@example.test").await;
    let bob = world.user("bob@example.test").await;
    let (as_alice, as_bob) = (world.dashboard(&alice), world.dashboard(&bob));
    let acme = as_alice.create_organization("Acme").await;
    world.join(&alice, &acme, &bob).await;
    as_alice.buy(&acme.account, "100").await;
    as_alice.buy(&alice.personal, "10").await;
    let lifetime = pb::LimitPeriod::Lifetime;
    let keys = [
        as_alice.create_key(&acme.account, "key").await,
        as_bob
            .create_key_with_limit(&acme.account, "key", "20", lifetime)
            .await,
        as_alice.create_key(&alice.personal, "key").await,
    ];
    let gateway = world.gateway();
    for (n, created) in keys.iter().enumerate() {
        let authenticated = gateway.authenticate(&created.secret).await;
        // The hold goes to the account the authentication named.
        let key = Key {
            account: AccountId::from(authenticated.account_id),
            ..created.clone()
        };
        let hold = gateway.place_hold(&key, "2").await;
        gateway.settle(&hold, &format!("gen-{n}"), "1.5").await;
    }
    world
        .support()
        .transfer(&alice.personal, &acme.account, "5")
        .await;

    // Errors where a secret is at hand: a deleted key's secret, a secret with a typo, a
    // secret pasted into a name, and every caller kind's token used where it is refused.
    as_alice.delete_key(&keys[2]).await;
    for secret in [keys[2].secret.clone(), format!("{}x", keys[0].secret)] {
        errors.push(gateway.authenticate(&secret).refusal().await);
    }
    let pasted = format!("{}\u{7}", keys[0].secret);
    let status = as_alice
        .rename_key(&keys[0], &pasted)
        .refused(Code::InvalidArgument)
        .await;
    errors.push(status);
    let channel = world.ledgerd.channel().await;
    for kind in KINDS {
        let token = world.ledgerd.token(kind);
        // A token with a typo is unknown; a valid one on a service its kind may not call is
        // refused; neither answer may echo it.
        let typo = Rpc::new(channel.clone(), &format!("{token}x"), Some(alice.id));
        errors.push(typo.get_head(pb::GetHeadRequest {}).refusal().await);
        let actor = if kind == "support" {
            SUPPORT_STAFF
        } else {
            alice.id
        };
        let caller = Rpc::new(channel.clone(), token, Some(actor));
        let refused = if kind == "identity" {
            Support::from(caller).set_member_limit(&acme, 20).map(drop)
        } else {
            Identity::from(caller)
                .register("mallory@example.test")
                .map(drop)
        };
        errors.push(refused.refused(Code::PermissionDenied).await);
    }
    let codes: Vec<Code> = errors.iter().map(Status::code).collect();
    assert!(codes.contains(&Code::Unauthenticated), "{codes:?}");
    assert!(codes.contains(&Code::PermissionDenied), "{codes:?}");

    let mut needles: Vec<(String, String)> = keys
        .iter()
        .map(|k| (format!("key {}", k.id), hidden_part(&k.secret).to_owned()))
        .collect();
    for kind in KINDS {
        needles.push((
            format!("{kind} token"),
            world.ledgerd.token(kind).to_owned(),
        ));
    }

    // Every row of every table, as text.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&world.pool)
    .await
    .unwrap();
    assert!(tables.len() > 15, "{tables:?}");
    let mut haystacks = Vec::new();
    for table in &tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&world.pool)
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
