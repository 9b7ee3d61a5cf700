//! `ledgerctl demo`: a sample organization with members, keys, credits and a few hundred
//! billed requests over several days, made through the real API as the identity service,
//! the dashboard and the gateway would; then what to try next.

use chrono::{DateTime, Duration, Utc};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::cli::CliError;
use crate::cli::args::DemoArgs;
use crate::cli::connect::{Auth, Clients, Token, unary};
use crate::cli::output::Output;
use crate::input::timestamp;
use crate::pb;

/// Models the demo bills, with their provider and price per 1000 tokens (credits).
const MODELS: [(&str, &str, &str); 4] = [
    ("gpt-4o", "openai", "0.0100"),
    ("claude-sonnet-4", "anthropic", "0.0150"),
    ("llama-3.1-70b", "meta", "0.0009"),
    ("mistral-large", "mistral", "0.0060"),
];
/// The members: (display name for the output, email local part, key name).
const PEOPLE: [(&str, &str, &str); 3] = [
    ("Ana (admin)", "ana", "production"),
    ("Ben", "ben", "ben-laptop"),
    ("陈静", "chen", "chen-ci"),
];
/// Credits bought for the organization.
const PURCHASE: &str = "500.00";
/// Every this-many-th request goes through a hold (place, then settle); the others are
/// recorded after the fact in batches, as a gateway does for requests it did not hold for.
const HOLD_EVERY: usize = 5;
/// Usage records per `RecordUsageBatch` call (the server's maximum is 100).
const BATCH: usize = 100;

/// The three callers the demo acts as.
struct Callers {
    channel: Channel,
    identity: Token,
    dashboard: Token,
    gateway: Token,
}

impl Callers {
    fn as_identity(&self) -> Result<Clients, CliError> {
        Ok(Clients::new(
            &self.channel,
            Auth::new(Some(&self.identity), None)?,
        ))
    }

    fn as_user(&self, user: Uuid) -> Result<Clients, CliError> {
        Ok(Clients::new(
            &self.channel,
            Auth::new(Some(&self.dashboard), Some(user))?,
        ))
    }

    fn as_gateway(&self) -> Result<Clients, CliError> {
        Ok(Clients::new(
            &self.channel,
            Auth::new(Some(&self.gateway), None)?,
        ))
    }
}

/// One member of the sample organization and the key they created.
struct Person {
    name: &'static str,
    user: Uuid,
    key: Uuid,
}

/// What the demo made, for the closing summary.
struct Made {
    organization: Uuid,
    account: Uuid,
    people: Vec<Person>,
    records: usize,
    spend: rust_decimal::Decimal,
    head: i64,
}

/// Runs the demo against the server `channel` reaches.
pub async fn demo(channel: Channel, out: &Output, a: DemoArgs) -> Result<(), CliError> {
    let missing: Vec<&str> = [
        (
            "--identity-token / LEDGER_IDENTITY_TOKEN",
            a.identity_token.is_none(),
        ),
        (
            "--dashboard-token / LEDGER_DASHBOARD_TOKEN",
            a.dashboard_token.is_none(),
        ),
        (
            "--gateway-token / LEDGER_GATEWAY_TOKEN",
            a.gateway_token.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, absent)| absent.then_some(name))
    .collect();
    if let (Some(identity), Some(dashboard), Some(gateway)) =
        (a.identity_token, a.dashboard_token, a.gateway_token)
    {
        let callers = Callers {
            channel,
            identity,
            dashboard,
            gateway,
        };
        let made = build(&callers, a.records as usize, a.days).await?;
        return summary(out, &made);
    }
    Err(CliError::Usage(format!(
        "the demo acts as the identity service, the dashboard and the gateway; missing: {} \
         (mint each with `ledgerd credentials add --kind <kind> --name demo-<kind>`)",
        missing.join(", ")
    )))
}

/// Makes the organization, its members and keys, buys credits and bills `records` requests
/// spread over the last `days` days.
async fn build(callers: &Callers, records: usize, days: u32) -> Result<Made, CliError> {
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut people = Vec::new();
    for (name, local, _) in PEOPLE {
        let email = format!("{local}+{run}@demo.example");
        let user = register(callers, &email).await?;
        people.push((name, email, user));
    }
    eprintln!("registered {} users", people.len());
    let admin = people[0].2;
    let organization = Uuid::new_v4();
    let account = Uuid::new_v4();
    let mut dashboard = callers.as_user(admin)?;
    dashboard
        .orgs
        .create_organization(unary(pb::CreateOrganizationRequest {
            command_id: Uuid::new_v4().to_string(),
            organization_id: organization.to_string(),
            account_id: account.to_string(),
            name: format!("Demo Labs {run}"),
            details: Some("Sample organization made by `ledgerctl demo`".to_owned()),
        }))
        .await?;
    for (_, email, user) in &people[1..] {
        let invitation = Uuid::new_v4();
        dashboard
            .orgs
            .invite_member(unary(pb::InviteMemberRequest {
                command_id: Uuid::new_v4().to_string(),
                organization_id: organization.to_string(),
                invitation_id: invitation.to_string(),
                email: email.clone(),
                role: pb::Role::Member.into(),
                expires_in_s: None,
            }))
            .await?;
        callers
            .as_user(*user)?
            .orgs
            .accept_invitation(unary(pb::AcceptInvitationRequest {
                command_id: Uuid::new_v4().to_string(),
                organization_id: organization.to_string(),
                invitation_id: invitation.to_string(),
            }))
            .await?;
    }
    eprintln!(
        "created organization {organization} with {} members",
        people.len()
    );
    dashboard
        .credits
        .purchase_credits(unary(pb::PurchaseCreditsRequest {
            command_id: Uuid::new_v4().to_string(),
            account_id: account.to_string(),
            amount: PURCHASE.to_owned(),
            payment_reference: format!("demo-{run}"),
        }))
        .await?;
    let mut members = Vec::new();
    for ((name, _, user), (_, _, key_name)) in people.into_iter().zip(PEOPLE) {
        let key = Uuid::new_v4();
        callers
            .as_user(user)?
            .keys
            .create_key(unary(pb::CreateKeyRequest {
                command_id: Uuid::new_v4().to_string(),
                account_id: account.to_string(),
                key_id: key.to_string(),
                name: key_name.to_owned(),
                limit: None,
                expires_at: None,
            }))
            .await?;
        members.push(Person { name, user, key });
    }
    eprintln!(
        "bought {PURCHASE} credits and created {} keys",
        members.len()
    );
    let (spend, head) = bill(callers, account, &members, records, days).await?;
    Ok(Made {
        organization,
        account,
        people: members,
        records,
        spend,
        head,
    })
}

/// Registers a user with `email` and verifies the address, as the identity service does.
async fn register(callers: &Callers, email: &str) -> Result<Uuid, CliError> {
    let user = Uuid::new_v4();
    let mut identity = callers.as_identity()?;
    identity
        .users
        .register_user(unary(pb::RegisterUserRequest {
            command_id: Uuid::new_v4().to_string(),
            user_id: user.to_string(),
            personal_account_id: Uuid::new_v4().to_string(),
            email: email.to_owned(),
        }))
        .await?;
    identity
        .users
        .verify_email(unary(pb::VerifyEmailRequest {
            command_id: Uuid::new_v4().to_string(),
            user_id: user.to_string(),
            email: email.to_owned(),
        }))
        .await?;
    Ok(user)
}

/// One request the gateway bills.
fn usage(i: usize, now: DateTime<Utc>, days: u32) -> (pb::UsageReport, rust_decimal::Decimal) {
    let (model, provider, price) = MODELS[i % MODELS.len()];
    // Spread over the last `days` calendar days (UTC, today included) at varying times of
    // day, never later than now.
    let day = (i % days.max(1) as usize) as i64;
    let midnight = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let day_start = midnight - Duration::days(day);
    let minutes_available = if day == 0 {
        (now - midnight).num_minutes().max(1)
    } else {
        1_440
    };
    let started = day_start + Duration::minutes((i as i64 * 37) % minutes_available);
    let prompt = 200 + (i as u64 * 53) % 1_800;
    let completion = 50 + (i as u64 * 29) % 900;
    let latency_ms = 300 + (i as u64 * 71) % 4_000;
    let price: rust_decimal::Decimal = price.parse().unwrap_or_default();
    let cost = (price * rust_decimal::Decimal::from(prompt + completion)
        / rust_decimal::Decimal::from(1_000))
    .round_dp(6);
    let report = pb::UsageReport {
        generation_id: format!("demo-{}", Uuid::new_v4().simple()),
        model: model.to_owned(),
        provider: provider.to_owned(),
        tokens: Some(pb::Tokens {
            prompt,
            completion,
            reasoning: 0,
            cached: if i.is_multiple_of(3) { prompt / 2 } else { 0 },
        }),
        cost: cost.to_string(),
        latency_ms,
        time_to_first_token_ms: Some(latency_ms / 4),
        status: if i.is_multiple_of(41) {
            pb::UsageStatus::Error
        } else {
            pb::UsageStatus::Success
        }
        .into(),
        started_at: Some(timestamp(started)),
        finished_at: Some(timestamp(
            started + Duration::milliseconds(latency_ms as i64),
        )),
    };
    (report, cost)
}

/// Bills `records` requests over the members' keys: every [`HOLD_EVERY`]th through a hold
/// (PlaceHold then SettleHold), the rest with RecordUsageBatch. Returns the spend and the
/// last position reached.
async fn bill(
    callers: &Callers,
    account: Uuid,
    people: &[Person],
    records: usize,
    days: u32,
) -> Result<(rust_decimal::Decimal, i64), CliError> {
    let mut gateway = callers.as_gateway()?;
    let now = Utc::now();
    let mut spend = rust_decimal::Decimal::ZERO;
    let mut head = 0;
    let mut batch = Vec::new();
    for i in 0..records {
        let key = people[i % people.len()].key;
        let (report, cost) = usage(i, now, days);
        spend += cost;
        if i.is_multiple_of(HOLD_EVERY) {
            let hold = Uuid::new_v4();
            gateway
                .gateway
                .place_hold(unary(pb::PlaceHoldRequest {
                    command_id: Uuid::new_v4().to_string(),
                    account_id: account.to_string(),
                    key_id: key.to_string(),
                    hold_id: hold.to_string(),
                    estimate: (cost * rust_decimal::Decimal::from(2)).to_string(),
                    ttl_s: 300,
                }))
                .await?;
            head = gateway
                .gateway
                .settle_hold(unary(pb::SettleHoldRequest {
                    command_id: Uuid::new_v4().to_string(),
                    account_id: account.to_string(),
                    hold_id: hold.to_string(),
                    usage: Some(report),
                }))
                .await?
                .into_inner()
                .position;
        } else {
            batch.push(pb::RecordUsageRequest {
                command_id: Uuid::new_v4().to_string(),
                account_id: account.to_string(),
                key_id: key.to_string(),
                usage: Some(report),
            });
            if batch.len() == BATCH {
                head = head.max(record_batch(&mut gateway, std::mem::take(&mut batch)).await?);
            }
        }
    }
    if !batch.is_empty() {
        head = head.max(record_batch(&mut gateway, batch).await?);
    }
    eprintln!("billed {records} requests over {days} days");
    Ok((spend, head))
}

/// Sends one RecordUsageBatch; any refused item fails the demo. Returns the last position.
async fn record_batch(
    gateway: &mut Clients,
    items: Vec<pb::RecordUsageRequest>,
) -> Result<i64, CliError> {
    let reply = gateway
        .gateway
        .record_usage_batch(unary(pb::RecordUsageBatchRequest { items }))
        .await?
        .into_inner();
    if let Some(refused) = reply.results.iter().find(|r| r.code != 0) {
        return Err(CliError::Local(format!(
            "the server refused a usage record: {} ({})",
            refused.message, refused.reason
        )));
    }
    Ok(reply.results.iter().map(|r| r.position).max().unwrap_or(0))
}

/// Prints what was made and what to try next.
fn summary(out: &Output, made: &Made) -> Result<(), CliError> {
    let account = made.account;
    out.fields(&[
        ("organization", made.organization.to_string()),
        ("account", account.to_string()),
        ("credits bought", PURCHASE.to_owned()),
        ("requests billed", made.records.to_string()),
        ("spend", made.spend.to_string()),
        ("log position", made.head.to_string()),
    ])?;
    let rows: Vec<Vec<String>> = made
        .people
        .iter()
        .map(|p| vec![p.name.to_owned(), p.user.to_string(), p.key.to_string()])
        .collect();
    out.table(&["member", "user", "key"], &rows)?;
    out.line(&format!(
        "\nTry next, with an auditor token (ledgerd credentials add --kind auditor --name me):\n\
         \x20 export LEDGER_TOKEN=<auditor token>\n\
         \x20 ledgerctl balance --account {account}\n\
         \x20 ledgerctl activity --account {account} --limit 20\n\
         \x20 ledgerctl analytics --account {account} --group-by model\n\
         \x20 ledgerctl export --account {account} --format csv --file activity.csv\n\
         \x20 ledgerctl verify\n\
         Add --output json or --output csv to any of them."
    ))
}
