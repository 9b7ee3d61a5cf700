//! The hold-expiry task: holds past their TTL are expired by `System` commands, so expiry is
//! in the log like everything else. It scans the cached account states (accounts the gateway
//! uses are cached) every tick and expires at most [`MAX_EXPIRIES_PER_TICK`] holds per tick.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger_domain::account::{AccountCommand, decide};
use ledger_domain::{AccountId, Caller, HoldId};
use uuid::Uuid;

use super::{App, Decided, RetryCheck};
use crate::auth::CallContext;

/// Most holds expired per tick (bounded work).
pub const MAX_EXPIRIES_PER_TICK: usize = 1_000;

/// Namespace of the command ids of expiries (one deterministic id per hold, so two `ledgerd`
/// instances expiring the same hold append it once).
const EXPIRY_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6467_6572_2d65_7870_6972_792d_0001);

/// Runs until `stop` fires.
pub async fn run(app: Arc<App>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let expired = tick(&app).await;
        if expired > 0 {
            tracing::info!(expired, "expired holds past their TTL");
        }
    }
}

/// One scan; returns how many holds were expired.
pub async fn tick(app: &App) -> usize {
    let now = Utc::now();
    let mut due: Vec<(AccountId, HoldId)> = Vec::new();
    'scan: for view in app.cached_accounts() {
        let Some(account) = view.state.account.as_ref() else {
            continue;
        };
        for (hold_id, hold) in &account.holds {
            if hold.expires_at <= now {
                due.push((account.id, *hold_id));
                if due.len() >= MAX_EXPIRIES_PER_TICK {
                    break 'scan;
                }
            }
        }
    }
    let mut expired = 0;
    for (account_id, hold_id) in due {
        match expire(app, account_id, hold_id).await {
            Ok(()) => expired += 1,
            Err(error) => tracing::debug!(%error, %hold_id, "hold not expired"),
        }
    }
    expired
}

async fn expire(
    app: &App,
    account_id: AccountId,
    hold_id: HoldId,
) -> Result<(), crate::error::AppError> {
    let cx = CallContext {
        caller: Caller::System,
        correlation_id: Uuid::new_v4(),
    };
    let command_id = Uuid::new_v5(&EXPIRY_NAMESPACE, hold_id.as_uuid().as_bytes());
    // The "request" is the hold itself: the same hold always hashes alike.
    let message = prost_types::Any {
        type_url: "arouter.ledger.v1/ExpireHold".into(),
        value: [
            &account_id.as_uuid().as_bytes()[..],
            &hold_id.as_uuid().as_bytes()[..],
        ]
        .concat(),
    };
    app.execute(
        &cx,
        "ExpireHold",
        &message,
        command_id,
        &[account_id.stream()],
        RetryCheck::BeforeDeciding,
        || {
            Box::pin(async move {
                let view = app.account(account_id).await?;
                let command = AccountCommand::ExpireHold {
                    hold_id,
                    at: Utc::now(),
                };
                Ok(Decided::new(decide(
                    &view.state,
                    None,
                    &Caller::System,
                    &command,
                )?))
            })
        },
    )
    .await
    .map(|_| ())
}
