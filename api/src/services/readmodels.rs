//! The read models as a whole: their progress against the log and the consistency check
//! (every read model compared with a fresh fold of the log). Auditors and support.

use ledger_projections::{Difference, check_all, statuses};

use super::Query;
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

/// `ConsistencyCheck`: every difference of every projection, each at its own checkpoint.
pub async fn consistency(
    q: Query<pb::ConsistencyCheckRequest>,
) -> Result<pb::ConsistencyCheckResponse, AppError> {
    let reports = check_all(q.event_log()?).await?;
    let differences: Vec<String> = reports
        .iter()
        .flat_map(|report| {
            report
                .differences
                .iter()
                .map(|d| line(report.projection.name(), d))
        })
        .collect();
    if !differences.is_empty() {
        tracing::warn!(count = differences.len(), "read models differ from the log");
    }
    Ok(pb::ConsistencyCheckResponse {
        ok: differences.is_empty(),
        differences,
    })
}

/// `GetProjectionStatus`: position, head and lag of every projection.
pub async fn projection_status(
    q: Query<pb::GetProjectionStatusRequest>,
) -> Result<pb::GetProjectionStatusResponse, AppError> {
    let projections = statuses(q.event_log()?)
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
