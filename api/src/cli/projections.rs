//! `projections status` and `projections rebuild NAME`: the read models' progress, and
//! rebuilding one while the service keeps serving.

use serde_json::json;

use crate::cli::CliError;
use crate::cli::args::{ProjectionsCommand, RebuildArgs};
use crate::cli::connect::{Clients, unary};
use crate::cli::output::Output;
use crate::cli::progress::Progress;
use crate::pb;

/// `projections status` / `projections rebuild`.
pub async fn projections(
    c: &mut Clients,
    out: &Output,
    command: ProjectionsCommand,
) -> Result<(), CliError> {
    match command {
        ProjectionsCommand::Status => status(c, out).await,
        ProjectionsCommand::Rebuild(a) => rebuild(c, out, a).await,
    }
}

/// An RFC 3339 time with milliseconds, or `-`.
fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        )
}

/// `projections status`: GetProjectionStatus as a table.
async fn status(c: &mut Clients, out: &Output) -> Result<(), CliError> {
    let reply = c
        .audit
        .get_projection_status(unary(pb::GetProjectionStatusRequest {}))
        .await?
        .into_inner();
    let header = [
        "projection",
        "position",
        "head",
        "lag_events",
        "lag_ms",
        "updated_at",
    ];
    let rows: Vec<Vec<String>> = reply
        .projections
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.position.to_string(),
                p.head.to_string(),
                p.lag_events.to_string(),
                p.lag_ms.to_string(),
                time(p.updated_at.as_ref()),
            ]
        })
        .collect();
    out.table(&header, &rows)
}

/// `projections rebuild NAME`: RebuildProjection, its progress drawn as a bar over the log's
/// head at the start; the outcome printed once the new tables are live.
async fn rebuild(c: &mut Clients, out: &Output, a: RebuildArgs) -> Result<(), CliError> {
    let mut stream = c
        .audit
        .rebuild_projection(pb::RebuildProjectionRequest {
            projection: a.projection.name().to_owned(),
            batch_size: a.batch_size,
        })
        .await?
        .into_inner();
    let mut progress: Option<Progress> = None;
    let mut batches: u64 = 0;
    let last = loop {
        let Some(message) = stream.message().await? else {
            if let Some(bar) = &progress {
                bar.finish();
            }
            return Err(CliError::Local(
                "the server ended the rebuild stream without saying it was done".into(),
            ));
        };
        let bar = progress
            .get_or_insert_with(|| Progress::new(u64::try_from(message.target).unwrap_or(0)));
        bar.update(u64::try_from(message.position.min(message.target)).unwrap_or(0));
        if message.done {
            bar.finish();
            break message;
        }
        batches += 1;
    };
    if out.json {
        return out.json_line(&json!({
            "projection": last.projection,
            "position": last.position,
            "target": last.target,
            "batches_reported": batches,
            "done": last.done,
        }));
    }
    out.fields(&[
        ("projection", last.projection),
        ("rebuilt through position", last.position.to_string()),
        ("log head at start", last.target.to_string()),
        ("status", "swapped in: the new tables are live".to_owned()),
    ])
}
