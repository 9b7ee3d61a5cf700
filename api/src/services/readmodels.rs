//! The read models as a whole: their progress against the log, the consistency check
//! (every read model compared with a fresh fold of the log), for auditors and support; and
//! their rebuild, for support staff only.

use ledger_domain::{Action, AuthContext};
use ledger_projections::{
    CheckLimits, CheckReport, Difference, Projection, ProjectionError, ReadModelPool, check_within,
    rebuild_with_progress, statuses,
};
use sqlx::PgPool;
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;

use super::Query;
use crate::app::allow;
use crate::error::AppError;
use crate::input;
use crate::pb;

/// One line of a difference: `projection table key: expected … actual …`.
fn line(projection: &str, difference: &Difference) -> String {
    let show = |value: &Option<String>| value.as_deref().unwrap_or("(none)").to_owned();
    format!(
        "{projection} {} {}: expected {} actual {}",
        difference.table,
        difference.key,
        show(&difference.expected),
        show(&difference.actual),
    )
}

/// The report of one read model, as sent.
fn projection_check(report: &CheckReport) -> pb::ProjectionCheck {
    let name = report.projection.name();
    if !report.is_consistent() {
        tracing::warn!(
            projection = name,
            found = report.found,
            "read model differs from the log"
        );
    }
    pb::ProjectionCheck {
        projection: name.to_owned(),
        position: report.position,
        ok: report.is_consistent(),
        differences: report.differences.iter().map(|d| line(name, d)).collect(),
        differences_found: report.found,
    }
}

/// The log's pool and the read models' pool a check reads.
type Pools = (PgPool, ReadModelPool);

/// The caller's turn to run a consistency check, once the policy lets them read the log: one
/// check runs at a time, the others are refused.
fn take_turn<R>(q: &Query<R>) -> Result<(Pools, CheckLimits, OwnedSemaphorePermit), AppError> {
    let pools = (q.event_log()?.clone(), q.app.read_models.clone());
    let checks = &q.app.checks;
    let turn = checks.try_turn().ok_or(AppError::Busy(
        "a consistency check is running already; retry when it ends",
    ))?;
    let limits = CheckLimits {
        statement_timeout: Some(checks.statement_timeout),
        ..CheckLimits::default()
    };
    Ok((pools, limits, turn))
}

/// `ConsistencyCheck`: the differences of every projection, each at its own checkpoint.
pub async fn consistency(
    q: Query<pb::ConsistencyCheckRequest>,
) -> Result<pb::ConsistencyCheckResponse, AppError> {
    let ((log, read_models), limits, _turn) = take_turn(&q)?;
    let mut reply = pb::ConsistencyCheckResponse {
        ok: true,
        ..Default::default()
    };
    for projection in Projection::ALL {
        let checked =
            projection_check(&check_within(&log, &read_models, projection, limits).await?);
        reply.ok &= checked.ok;
        reply.differences.extend(checked.differences);
        reply.differences_found += checked.differences_found;
    }
    Ok(reply)
}

/// Read models checked per `StreamConsistencyCheck` before the check waits for the client.
const CHECKS_AHEAD: usize = 1;

/// `StreamConsistencyCheck`: each projection's report as soon as it is checked, from a task
/// that stops when the client goes away.
pub async fn consistency_stream(
    q: Query<pb::ConsistencyCheckRequest>,
) -> Result<BoxStream<pb::ProjectionCheck>, AppError> {
    let ((log, read_models), limits, turn) = take_turn(&q)?;
    let (sender, receiver) = tokio::sync::mpsc::channel(CHECKS_AHEAD);
    tokio::spawn(async move {
        let _turn = turn;
        for projection in Projection::ALL {
            let checked = tokio::select! {
                checked = check_within(&log, &read_models, projection, limits) => checked,
                () = sender.closed() => {
                    tracing::info!("consistency check cancelled by its caller");
                    return;
                }
            };
            let message = checked
                .map(|report| projection_check(&report))
                .map_err(|error| Status::from(AppError::from(error)));
            let failed = message.is_err();
            if sender.send(message).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

/// `GetProjectionStatus`: position, head and lag of every projection.
pub async fn projection_status(
    q: Query<pb::GetProjectionStatusRequest>,
) -> Result<pb::GetProjectionStatusResponse, AppError> {
    let projections = statuses(q.event_log()?, &q.app.read_models)
        .await?
        .into_iter()
        .map(|status| pb::ProjectionStatus {
            name: status.projection.name().to_owned(),
            position: status.position,
            head: status.head,
            lag_events: status.lag_events,
            lag_ms: status.lag_ms,
            updated_at: status.updated_at.map(input::timestamp),
        })
        .collect();
    Ok(pb::GetProjectionStatusResponse { projections })
}

/// Progress messages buffered per `RebuildProjection` call; when the client reads slower,
/// intermediate ones are dropped (the next one says more), never the last.
const PROGRESS_BUFFER: usize = 16;
/// Events per rebuild batch when the request leaves it at 0.
const DEFAULT_REBUILD_BATCH: i64 = 5_000;

/// The projection and batch size of a `RebuildProjection` request.
fn rebuild_request(req: &pb::RebuildProjectionRequest) -> Result<(Projection, i64), AppError> {
    let projection = Projection::parse(&req.projection).map_err(|_| {
        AppError::invalid(
            "projection",
            "must be balances, keys, directory or activity",
        )
    })?;
    let batch = match req.batch_size {
        0 => DEFAULT_REBUILD_BATCH,
        size @ 1..=10_000 => i64::from(size),
        _ => return Err(AppError::invalid("batch_size", "must be 0 or 1..=10000")),
    };
    Ok((projection, batch))
}

/// `RebuildProjection`: the rebuild runs in a task of its own, which finishes (and swaps the
/// new tables in) even if the caller goes away; the caller gets the position folded after each
/// batch, then a last message once the new tables are live.
pub async fn rebuild_projection(
    q: Query<pb::RebuildProjectionRequest>,
) -> Result<BoxStream<pb::RebuildProgress>, AppError> {
    allow(
        &q.cx.caller,
        Action::RebuildProjection,
        &AuthContext::GLOBAL,
    )?;
    let (projection, batch) = rebuild_request(&q.req)?;
    // A replica's read models are the primary's, replayed: rebuild them there.
    if q.app.read_only {
        return Err(AppError::ReadOnlyReplica);
    }
    let (log, read_models) = (q.app.log.clone(), q.app.read_models.clone());
    let target = ledger_eventstore::head(&log).await?.position;
    let name = projection.name().to_owned();
    let message = move |position: i64, done: bool| pb::RebuildProgress {
        projection: projection.name().to_owned(),
        position,
        target,
        done,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel(PROGRESS_BUFFER);
    let actor = q.cx.actor().unwrap_or_default();
    tracing::info!(projection = %name, %actor, target, "projection rebuild requested");
    tokio::spawn(async move {
        let progress = sender.clone();
        let outcome = rebuild_with_progress(&log, &read_models, projection, batch, |position| {
            // A slow reader misses intermediate positions, never the outcome.
            let _ = progress.try_send(Ok(message(position, false)));
        })
        .await;
        let last = match outcome {
            Ok(report) => {
                tracing::info!(projection = %name, %actor, position = report.position, "projection rebuilt");
                Ok(message(report.position, true))
            }
            Err(error) => Err(Status::from(rebuild_error(error))),
        };
        let _ = sender.send(last).await;
    });
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

/// SQLSTATE `insufficient_privilege`: no right to create a schema, or not the table's owner.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// A rebuild that failed: another running is `RESOURCE_EXHAUSTED` (retry when it ends); a
/// database role without the rights a rebuild needs is a deployment error, `INTERNAL` with the
/// cause logged (retrying cannot help); anything else as any read-model error.
fn rebuild_error(error: ProjectionError) -> AppError {
    match error {
        ProjectionError::RebuildInProgress(_) => {
            AppError::Busy("a rebuild of this read model is running already; retry when it ends")
        }
        ProjectionError::Database(sqlx::Error::Database(db))
            if db.code().as_deref() == Some(INSUFFICIENT_PRIVILEGE) =>
        {
            AppError::Internal(format!(
                "rebuilding a read model needs a database role that may create schemas and owns \
                 the read-model tables (not the run-time role): {db}"
            ))
        }
        other => other.into(),
    }
}
