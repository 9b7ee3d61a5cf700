//! `NotificationsService`: the transactional outbox as a resumable stream for the notifier.
//!
//! `Subscribe` reads the outbox after the caller's cursor in bounded pages, then follows it:
//! woken by the head positions the LISTEN task hears of (any process's commits), and polling
//! as the safety net. Outbox rows commit in cursor order, so paging on the last cursor sent
//! skips nothing; a client resumes after the last cursor it handled and may see a notice twice
//! (at least once), never miss one. Each stream reads in a task of its own that waits for the
//! client (a bounded channel) and ends when the client goes away or the server drains.

use std::time::Duration;

use chrono::NaiveDate;
use ledger_domain::notice::Notice;
use ledger_domain::{Action, AuthContext};
use ledger_eventstore::{OutboxCursor, OutboxRecord, read_outbox};
use rust_decimal::Decimal;
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::keys::period_pb;
use super::organizations::role_pb;
use super::spending::limit_pb;
use super::{Query, Shared};
use crate::app::allow;
use crate::error::AppError;
use crate::pb;
use crate::{input, personal};

/// Notices buffered per stream before the reader waits for the client.
const STREAM_BUFFER: usize = 64;
/// Notices read from the outbox per page.
const PAGE: i64 = 256;
/// How often a caught-up stream looks at the outbox when no commit wakes it.
const POLL: Duration = Duration::from_millis(500);

/// The notifications service.
pub struct Notifications {
    shared: Shared,
    /// Turns true when the server drains: open streams end (UNAVAILABLE) so the drain finishes.
    stopping: watch::Receiver<bool>,
    /// Head positions committed by any process: the wake-up hint.
    heads: watch::Receiver<i64>,
}

impl Notifications {
    /// The service over `shared`, ending its streams once `stopping` turns true and woken by
    /// `heads`.
    pub fn new(
        shared: Shared,
        stopping: watch::Receiver<bool>,
        heads: watch::Receiver<i64>,
    ) -> Self {
        Self {
            shared,
            stopping,
            heads,
        }
    }
}

fn money(amount: Decimal) -> String {
    amount.normalize().to_string()
}

fn day(date: NaiveDate) -> Option<prost_types::Timestamp> {
    date.and_hms_opt(0, 0, 0)
        .map(|t| input::timestamp(t.and_utc()))
}

/// The proto form of a stored notice; an invitation's email is read now, from the erasable
/// personal-data table.
async fn notification(pool: &PgPool, record: &OutboxRecord) -> Result<pb::Notification, AppError> {
    use pb::notification::Notice as N;
    let stored: Notice = serde_json::from_str(&record.payload).map_err(|e| {
        AppError::Internal(format!(
            "outbox message at {}/{} does not decode: {e}",
            record.cursor.position, record.cursor.index
        ))
    })?;
    let notice = match stored {
        Notice::LowBalance {
            account_id,
            threshold,
            balance,
        } => N::LowBalance(pb::LowBalanceNotice {
            account_id: account_id.to_string(),
            threshold: money(threshold.amount()),
            balance: money(balance),
        }),
        Notice::KeyLimitReached {
            account_id,
            key_id,
            created_by,
            limit,
            spent,
        } => N::KeyLimitReached(pb::KeyLimitReachedNotice {
            account_id: account_id.to_string(),
            key_id: key_id.to_string(),
            created_by: created_by.to_string(),
            limit: Some(limit_pb(limit)),
            spent: money(spent),
        }),
        Notice::BudgetThresholdReached {
            account_id,
            threshold_percent,
            period,
            period_start,
            budget,
            spent,
        } => N::BudgetThresholdReached(pb::BudgetThresholdReachedNotice {
            account_id: account_id.to_string(),
            threshold_percent: u32::from(threshold_percent),
            budget: Some(pb::KeyLimit {
                amount: money(budget.amount()),
                reset: period_pb(period).into(),
            }),
            period_start: day(period_start),
            spent: money(spent),
        }),
        Notice::InvitationCreated {
            organization_id,
            invitation_id,
            role,
            invited_by,
            expires_at,
        } => {
            let email = personal::invitation_email(pool, organization_id, invitation_id).await?;
            N::InvitationCreated(pb::InvitationCreatedNotice {
                organization_id: organization_id.to_string(),
                invitation_id: invitation_id.to_string(),
                role: role_pb(role).into(),
                invited_by: invited_by.to_string(),
                expires_at: Some(input::timestamp(expires_at)),
                email: email.map(|email| email.as_str().to_owned()),
            })
        }
        Notice::MemberRemoved {
            organization_id,
            user_id,
            removed_by,
            account_id,
            disabled_keys,
        } => N::MemberRemoved(pb::MemberRemovedNotice {
            organization_id: organization_id.to_string(),
            user_id: user_id.to_string(),
            removed_by: removed_by.to_string(),
            account_id: account_id.map(|id| id.to_string()).unwrap_or_default(),
            disabled_key_ids: disabled_keys.iter().map(ToString::to_string).collect(),
        }),
    };
    Ok(pb::Notification {
        cursor: Some(pb::NotificationCursor {
            position: record.cursor.position,
            index: record.cursor.index,
        }),
        recorded_at: Some(input::timestamp(record.recorded_at)),
        notice: Some(notice),
    })
}

/// What one stream's task needs.
struct Tail {
    pool: PgPool,
    sender: mpsc::Sender<Result<pb::Notification, Status>>,
    stopping: watch::Receiver<bool>,
    heads: watch::Receiver<i64>,
}

impl Tail {
    /// Sends every notice after `after`, then follows the outbox, until the client goes away or
    /// the server drains.
    async fn run(mut self, mut after: OutboxCursor) {
        let mut woken_by_heads = true;
        loop {
            let page = match read_outbox(&self.pool, after, PAGE).await {
                Ok(page) => page,
                Err(error) => return self.fail(AppError::from(error)).await,
            };
            let full = i64::try_from(page.len()).is_ok_and(|n| n == PAGE);
            for record in &page {
                let sent = match notification(&self.pool, record).await {
                    Ok(notification) => notification,
                    Err(error) => return self.fail(error).await,
                };
                let draining = tokio::select! {
                    sent = self.sender.send(Ok(sent)) => if sent.is_err() { return } else { false },
                    _ = self.stopping.wait_for(|stopping| *stopping) => true,
                };
                if draining {
                    return self.drained();
                }
                after = record.cursor;
            }
            if full {
                continue;
            }
            let draining = tokio::select! {
                () = tokio::time::sleep(POLL) => false,
                changed = self.heads.changed(), if woken_by_heads => {
                    // The LISTEN task stopped: polling alone from now on.
                    woken_by_heads = changed.is_ok();
                    false
                }
                () = self.sender.closed() => return,
                _ = self.stopping.wait_for(|stopping| *stopping) => true,
            };
            if draining {
                return self.drained();
            }
        }
    }

    /// Ends the stream with the error (logged once, here).
    async fn fail(self, error: AppError) {
        tracing::warn!(%error, "notifications stream ended by an error");
        let _ = self.sender.send(Err(Status::from(error))).await;
    }

    /// Ends the stream because the server drains: UNAVAILABLE, so the client resumes elsewhere
    /// (or here after the restart) from its last cursor.
    fn drained(self) {
        let _ = self.sender.try_send(Err(Status::unavailable(
            "ledgerd is shutting down; resume from the last cursor handled",
        )));
    }
}

/// Streams the outbox from a task of its own (see the module).
async fn subscribe(
    q: Query<pb::SubscribeRequest>,
    stopping: watch::Receiver<bool>,
    heads: watch::Receiver<i64>,
) -> Result<BoxStream<pb::Notification>, AppError> {
    allow(
        &q.cx.caller,
        Action::ReadNotifications,
        &AuthContext::GLOBAL,
    )?;
    let start = input::outbox_cursor("after", q.req.after.as_ref())?;
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    let tail = Tail {
        pool: q.app.log.clone(),
        sender,
        stopping,
        heads,
    };
    tokio::spawn(tail.run(start));
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

#[tonic::async_trait]
impl pb::notifications_service_server::NotificationsService for Notifications {
    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<BoxStream<pb::Notification>>, Status> {
        let (stopping, heads) = (self.stopping.clone(), self.heads.clone());
        self.shared
            .query(request, |q| subscribe(q, stopping, heads))
            .await
    }
}
