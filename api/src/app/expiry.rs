//! The hold-expiry task: holds past their TTL are expired by `System` commands, so expiry is
//! in the log like everything else. It scans the cached account states (accounts the gateway
//! uses are cached) every tick and expires at most [`MAX_EXPIRIES_PER_TICK`] holds per tick.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger_domain::{AccountId, Caller, HoldId};
use uuid::Uuid;

use super::App;
use crate::auth::CallContext;
use crate::commands::ExpireHold;

/// Most holds expired per tick (bounded work).
pub const MAX_EXPIRIES_PER_TICK: usize = 1_000;

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
    let command = ExpireHold {
        account: account_id,
        hold: hold_id,
        at: Utc::now(),
    };
    app.run(&cx, command.command_id(), &command.message(), command)
        .await
        .map(|_| ())
}
