//! The hold-expiry task: holds past their TTL are expired by `System` commands, so expiry is
//! in the log like everything else.
//!
//! The work list is durable: the `open_holds` read model, paged by (expires_at, hold_id). Any
//! `ledgerd` that holds the expiry lock does the work, so holds placed before a restart (or on
//! another instance that died) still expire. One tick examines at most
//! [`MAX_EXPIRIES_PER_TICK`] holds and the next goes on from there. The command id of an expiry
//! is derived from the account and the hold, so two instances that race on one hold append it
//! once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_domain::{AccountId, HoldId};
use ledger_projections::models::balances::{self, HoldCursor};

use super::App;
use crate::auth::CallContext;
use crate::commands::ExpireHold;
use crate::error::AppError;

/// Most holds examined per tick (bounded work).
pub const MAX_EXPIRIES_PER_TICK: usize = 1_000;

/// Holds read from the read model per query.
const PAGE: u32 = 200;

/// Key of the session advisory lock that keeps the expiry scan to one process at a time.
const EXPIRY_LOCK_KEY: i64 = 0x4c45_4447_3000;

/// Runs until `stop` fires.
pub async fn run(app: Arc<App>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut scan = Scan::default();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        match tick(&app, Utc::now(), &mut scan).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired holds past their TTL"),
            Err(error) => tracing::warn!(%error, "hold expiry scan failed; next tick"),
        }
    }
}

/// Where the scan of expired holds stands between ticks. A tick goes on from where the last
/// one stopped, so holds that cannot be expired yet (more than a tick's worth of them) never
/// hide the ones behind them; the scan starts again from the oldest once it reaches the end.
#[derive(Debug, Default)]
pub struct Scan {
    after: Option<HoldCursor>,
}

/// One scan of at most [`MAX_EXPIRIES_PER_TICK`] holds expired at `now`, if this process takes
/// the expiry lock; returns how many holds it expired.
pub async fn tick(app: &App, now: DateTime<Utc>, scan: &mut Scan) -> Result<usize, AppError> {
    let Some(_lock) = ledger_projections::try_advisory_lock(&app.log, EXPIRY_LOCK_KEY).await?
    else {
        return Ok(0);
    };
    let (mut examined, mut expired) = (0, 0);
    while examined < MAX_EXPIRIES_PER_TICK {
        let page = balances::expired_holds(app.read_models.pool(), now, scan.after, PAGE).await?;
        let Some(last) = page.last() else {
            scan.after = None;
            break;
        };
        scan.after = Some((last.expires_at, last.hold_id));
        examined += page.len();
        for hold in page {
            let account = AccountId::from_uuid(hold.account_id);
            let hold = HoldId::from_uuid(hold.hold_id);
            match expire(app, account, hold).await {
                Ok(()) => expired += 1,
                // The database is gone: the next tick tries again from here.
                Err(AppError::Unavailable) => return Err(AppError::Unavailable),
                // Most often the log is ahead of the read model (the hold was settled, voided
                // or expired already, and its row goes when the projection catches up); any
                // other refusal of one hold must not stop the others.
                Err(reason) => tracing::debug!(%reason, %hold, %account, "hold not expired"),
            }
        }
    }
    Ok(expired)
}

async fn expire(app: &App, account: AccountId, hold: HoldId) -> Result<(), AppError> {
    let cx = CallContext::system();
    let command = ExpireHold {
        account,
        hold,
        at: Utc::now(),
    };
    app.run(&cx, command.command_id(), &command.message(), command)
        .await
        .map(|_| ())
}
