//! `AuditService`: the log head, chain and checkpoint verification, event streaming and
//! balance replays, all from the event store; the read models' consistency check and status.

use std::time::Duration;

use ledger_domain::account::AccountState;
use ledger_domain::{Action, AuthContext};
use ledger_eventstore::{
    CheckpointStatus, RecordedEvent, head, read_all, read_stream, verify_checkpoint, verify_range,
};
use sqlx::PgPool;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::app::load::decode;
use crate::input;

use super::readmodels::{consistency, consistency_stream, projection_status, rebuild_projection};
use super::{Query, Shared};
use crate::app::allow;
use crate::error::AppError;
use crate::pb;

/// The audit service.
pub struct Audit(pub Shared);

impl<R> Query<R> {
    /// The pool to read the event log through, once the policy lets the caller read the log
    /// (`ReadEventLog`): every audit RPC asks for it first.
    pub(super) fn event_log(&self) -> Result<&PgPool, AppError> {
        allow(&self.cx.caller, Action::ReadEventLog, &AuthContext::GLOBAL)?;
        Ok(&self.app.log)
    }
}

/// Events buffered per `StreamEvents` call before the reader waits for the client.
const STREAM_BUFFER: usize = 256;
/// Events read from the log per page.
const PAGE: i64 = 1_000;
/// How often a following stream polls for new events once caught up.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

fn log_event(e: RecordedEvent) -> pb::LogEvent {
    pb::LogEvent {
        position: e.position,
        event_id: e.event_id.to_string(),
        stream_id: e.stream_id,
        stream_version: e.stream_version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        payload: e.payload,
        metadata: e.metadata,
        recorded_at: Some(input::timestamp(e.recorded_at)),
        prev_hash: hex::encode(e.prev_hash),
        hash: hex::encode(e.hash),
    }
}

/// Pages through the log after `after_position`, filtered, until the client goes away, the
/// limit is reached, or (without `follow`) the head is reached.
async fn stream_log(
    pool: PgPool,
    req: pb::StreamEventsRequest,
    sender: tokio::sync::mpsc::Sender<Result<pb::LogEvent, Status>>,
) {
    let mut after = req.after_position.max(0);
    let mut sent: i64 = 0;
    loop {
        let page = match read_all(&pool, after, PAGE).await {
            Ok(page) => page,
            Err(error) => {
                let _ = sender.send(Err(Status::from(AppError::from(error)))).await;
                return;
            }
        };
        let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
        for event in page {
            after = event.position;
            let wanted = req.stream_id.as_ref().is_none_or(|s| *s == event.stream_id)
                && (req.event_types.is_empty() || req.event_types.contains(&event.event_type));
            if !wanted {
                continue;
            }
            if sender.send(Ok(log_event(event))).await.is_err() {
                return;
            }
            sent += 1;
            if req.limit > 0 && sent >= req.limit {
                return;
            }
        }
        if !full {
            if !req.follow {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(FOLLOW_POLL) => {}
                () = sender.closed() => return,
            }
        }
    }
}

/// Replays an account's stream up to a position or a time.
async fn balance_as_of(
    q: Query<pb::BalanceAsOfRequest>,
) -> Result<pb::BalanceAsOfResponse, AppError> {
    let (pool, req) = (q.event_log()?, &q.req);
    let account_id = input::account_id("account_id", &req.account_id)?;
    let until = match &req.as_of {
        Some(pb::balance_as_of_request::AsOf::Position(p)) => Until::Position(*p),
        Some(pb::balance_as_of_request::AsOf::Time(t)) => Until::Time(input::time("time", t)?),
        None => {
            return Err(AppError::invalid(
                "as_of",
                "a position or a time is required",
            ));
        }
    };
    let mut state = AccountState::default();
    let mut position = 0;
    let mut from = 1;
    'replay: loop {
        let page = read_stream(pool, &account_id.stream(), from, PAGE).await?;
        let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
        for recorded in &page {
            let past = match until {
                Until::Position(p) => recorded.position > p,
                Until::Time(t) => recorded.recorded_at > t,
            };
            if past {
                break 'replay;
            }
            if let ledger_domain::Event::Account(event) = decode(recorded)? {
                state.evolve(&event);
            }
            position = recorded.position;
            from = recorded.stream_version + 1;
        }
        if !full {
            break;
        }
    }
    let account = state
        .account
        .as_ref()
        .ok_or(ledger_domain::DomainError::AccountNotFound)?;
    Ok(pb::BalanceAsOfResponse {
        account_id: account_id.to_string(),
        balance: account.balance.normalize().to_string(),
        held: account.held.normalize().to_string(),
        available: account.available().normalize().to_string(),
        position,
    })
}

#[derive(Clone, Copy)]
enum Until {
    Position(i64),
    Time(chrono::DateTime<chrono::Utc>),
}

fn hash32(field: &str, text: &str) -> Result<[u8; 32], AppError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AppError::invalid(field, "must be 64 hex digits"))
}

async fn log_head(q: Query<pb::GetHeadRequest>) -> Result<pb::GetHeadResponse, AppError> {
    let head = head(q.event_log()?).await?;
    Ok(pb::GetHeadResponse {
        position: head.position,
        hash: hex::encode(head.hash),
    })
}

async fn chain(q: Query<pb::VerifyChainRequest>) -> Result<pb::VerifyChainResponse, AppError> {
    let (pool, req) = (q.event_log()?, &q.req);
    let to = (req.to_position > 0).then_some(req.to_position);
    let v = verify_range(pool, req.from_position.max(1), to, |_| {}).await?;
    Ok(pb::VerifyChainResponse {
        ok: v.is_intact(),
        verified_through: v.to,
        break_position: v.first_break.map_or(0, |b| b.position),
        break_reason: v
            .first_break
            .map(|b| b.reason.name().to_owned())
            .unwrap_or_default(),
    })
}

async fn checkpoint(
    q: Query<pb::VerifyCheckpointRequest>,
) -> Result<pb::VerifyCheckpointResponse, AppError> {
    let pool = q.event_log()?;
    let hash = hash32("hash", &q.req.hash)?;
    let (extends, detail) = match verify_checkpoint(pool, q.req.position, hash, |_| {}).await? {
        CheckpointStatus::Extends { head } => (true, format!("extends to head {head}")),
        CheckpointStatus::Missing => (false, "no event at that position".to_owned()),
        CheckpointStatus::HashDiffers { stored } => {
            (false, format!("stored hash is {}", hex::encode(stored)))
        }
        CheckpointStatus::ChainBroken(b) => (
            false,
            format!("chain breaks at {} ({})", b.position, b.reason.name()),
        ),
    };
    Ok(pb::VerifyCheckpointResponse { extends, detail })
}

/// Streams the log from a task of its own, which stops when the client goes away.
async fn events(q: Query<pb::StreamEventsRequest>) -> Result<BoxStream<pb::LogEvent>, AppError> {
    let pool = q.event_log()?.clone();
    let (sender, receiver) = tokio::sync::mpsc::channel(STREAM_BUFFER);
    tokio::spawn(stream_log(pool, q.req, sender));
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for Audit {
    async fn get_head(
        &self,
        request: Request<pb::GetHeadRequest>,
    ) -> Result<Response<pb::GetHeadResponse>, Status> {
        self.0.query(request, log_head).await
    }

    async fn verify_chain(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        self.0.query(request, chain).await
    }

    async fn verify_checkpoint(
        &self,
        request: Request<pb::VerifyCheckpointRequest>,
    ) -> Result<Response<pb::VerifyCheckpointResponse>, Status> {
        self.0.query(request, checkpoint).await
    }

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<BoxStream<pb::LogEvent>>, Status> {
        self.0.query(request, events).await
    }

    async fn balance_as_of(
        &self,
        request: Request<pb::BalanceAsOfRequest>,
    ) -> Result<Response<pb::BalanceAsOfResponse>, Status> {
        self.0.query(request, balance_as_of).await
    }

    async fn consistency_check(
        &self,
        request: Request<pb::ConsistencyCheckRequest>,
    ) -> Result<Response<pb::ConsistencyCheckResponse>, Status> {
        self.0.query(request, consistency).await
    }

    async fn stream_consistency_check(
        &self,
        request: Request<pb::ConsistencyCheckRequest>,
    ) -> Result<Response<BoxStream<pb::ProjectionCheck>>, Status> {
        self.0.query(request, consistency_stream).await
    }

    async fn get_projection_status(
        &self,
        request: Request<pb::GetProjectionStatusRequest>,
    ) -> Result<Response<pb::GetProjectionStatusResponse>, Status> {
        self.0.query(request, projection_status).await
    }

    async fn rebuild_projection(
        &self,
        request: Request<pb::RebuildProjectionRequest>,
    ) -> Result<Response<BoxStream<pb::RebuildProgress>>, Status> {
        self.0.query(request, rebuild_projection).await
    }

    async fn list_book_entries(
        &self,
        request: Request<pb::ListBookEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        self.0.query(request, super::ledger::book_entries).await
    }
}
