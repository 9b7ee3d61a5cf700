//! Audit commands: the event stream and its export, chain verification in chunks,
//! checkpoints, balance replays and the consistency check.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::CliError;
use crate::cli::args::{
    BalanceAsOfArgs, CheckpointCommand, EventsCommand, ExportArgs, TailArgs, VerifyArgs,
};
use crate::cli::connect::{Clients, unary};
use crate::cli::output::{Format, Output, csv_records};
use crate::cli::progress::Progress;
use crate::pb;

/// `events tail` / `events export`.
pub async fn events(c: &mut Clients, out: &Output, command: EventsCommand) -> Result<(), CliError> {
    match command {
        EventsCommand::Tail(a) => tail(c, out, a).await,
        EventsCommand::Export(a) => export(c, a).await,
    }
}

async fn head(c: &mut Clients) -> Result<pb::GetHeadResponse, CliError> {
    Ok(c.audit
        .get_head(unary(pb::GetHeadRequest {}))
        .await?
        .into_inner())
}

/// `recorded_at` as the hash chain encodes it: RFC 3339 UTC, six fractional digits, `Z`.
fn recorded_at(event: &pb::LogEvent) -> String {
    event
        .recorded_at
        .as_ref()
        .and_then(|t| {
            let nanos = u32::try_from(t.nanos).ok()?;
            chrono::DateTime::from_timestamp(t.seconds, nanos)
        })
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// One event as a JSON line, keys in this order; `payload` and `metadata` are the stored text
/// exactly as hashed, so an export is enough to recompute the chain (`docs/event-log.md`).
#[derive(Serialize)]
pub struct EventLine<'a> {
    /// Global position.
    pub position: i64,
    /// Event id (UUID).
    pub event_id: &'a str,
    /// Stream id, e.g. `account-<uuid>`.
    pub stream: &'a str,
    /// Version within the stream.
    pub version: i64,
    /// Event type, e.g. `account.transferred_in`.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// Payload schema version.
    pub schema_version: i32,
    /// Payload JSON text, as hashed.
    pub payload: &'a str,
    /// Metadata JSON text, as hashed.
    pub metadata: &'a str,
    /// RFC 3339 UTC with six fractional digits and `Z`: the hashed form.
    pub recorded_at: String,
    /// Hex SHA-256 of the previous event.
    pub prev_hash: &'a str,
    /// Hex SHA-256 of this event.
    pub hash: &'a str,
}

/// The JSON line of an event.
pub fn event_json(event: &pb::LogEvent) -> String {
    let line = EventLine {
        position: event.position,
        event_id: &event.event_id,
        stream: &event.stream_id,
        version: event.stream_version,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        payload: &event.payload,
        metadata: &event.metadata,
        recorded_at: recorded_at(event),
        prev_hash: &event.prev_hash,
        hash: &event.hash,
    };
    // Strings and integers only: serialising cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

fn write_error(error: std::io::Error) -> CliError {
    crate::cli::output::stdout_error(error)
}

async fn tail(c: &mut Clients, out: &Output, a: TailArgs) -> Result<(), CliError> {
    let after = match a.from {
        Some(from) if from < 1 => return Err(CliError::Usage("--from must be >= 1".into())),
        Some(from) => from - 1,
        None => (head(c).await?.position - a.last.max(0)).max(0),
    };
    let mut stream = c
        .audit
        .stream_events(pb::StreamEventsRequest {
            after_position: after,
            stream_id: a.stream,
            event_types: a.types,
            follow: a.follow,
            limit: 0,
        })
        .await?
        .into_inner();
    let mut stdout = std::io::stdout();
    let csv = out.format == Format::Csv;
    if csv {
        let header = [
            "position",
            "recorded_at",
            "stream_id",
            "stream_version",
            "type",
            "payload",
        ];
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        write!(stdout, "{}", csv_records([&header])?).map_err(write_error)?;
    }
    while let Some(event) = stream.message().await? {
        let line = if out.json {
            event_json(&event)
        } else if csv {
            let record = vec![
                event.position.to_string(),
                recorded_at(&event),
                event.stream_id.clone(),
                event.stream_version.to_string(),
                event.event_type.clone(),
                event.payload.clone(),
            ];
            csv_records([&record])?.trim_end().to_owned()
        } else {
            format!(
                "{:>8}  {}  {}  v{}  {}  {}",
                event.position,
                recorded_at(&event),
                event.stream_id,
                event.stream_version,
                event.event_type,
                event.payload
            )
        };
        writeln!(stdout, "{line}").map_err(write_error)?;
        // Followers see each event as it comes.
        stdout.flush().map_err(write_error)?;
    }
    Ok(())
}

async fn export(c: &mut Clients, a: ExportArgs) -> Result<(), CliError> {
    if a.from < 1 {
        return Err(CliError::Usage("--from must be >= 1".into()));
    }
    let to = match a.to {
        Some(to) => to,
        None => head(c).await?.position,
    };
    if to < a.from {
        eprintln!("exported 0 events (nothing from {} to {to})", a.from);
        return Ok(());
    }
    let mut stream = c
        .audit
        .stream_events(pb::StreamEventsRequest {
            after_position: a.from - 1,
            stream_id: None,
            event_types: Vec::new(),
            follow: false,
            limit: to - a.from + 1,
        })
        .await?
        .into_inner();
    let progress = Progress::new(u64::try_from(to - a.from + 1).unwrap_or(0));
    let mut writer = std::io::BufWriter::new(std::io::stdout());
    let mut count: u64 = 0;
    while let Some(event) = stream.message().await? {
        if event.position > to {
            break;
        }
        writeln!(writer, "{}", event_json(&event)).map_err(write_error)?;
        count += 1;
        if count.is_multiple_of(10_000) {
            progress.update(count);
        }
    }
    writer.flush().map_err(write_error)?;
    progress.finish();
    eprintln!("exported {count} events (positions {} to {to})", a.from);
    Ok(())
}

/// `verify`: VerifyChain over `--from..=--to` in chunks, stopping at the first break.
pub async fn verify(c: &mut Clients, out: &Output, a: VerifyArgs) -> Result<(), CliError> {
    if a.from < 1 {
        return Err(CliError::Usage("--from must be >= 1".into()));
    }
    let to = match a.to {
        Some(to) => to,
        None => head(c).await?.position,
    };
    let reply = verify_chunks(c, a.from, to, a.chunk).await?;
    report_verify(out, a.from, &reply)?;
    if reply.ok {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "the chain is broken at position {}",
            reply.break_position
        )))
    }
}

/// VerifyChain over `from..=to`, `chunk` positions per call, stopping at the first break;
/// a progress bar on a terminal. The answer covers the whole range.
async fn verify_chunks(
    c: &mut Clients,
    from: i64,
    to: i64,
    chunk: i64,
) -> Result<pb::VerifyChainResponse, CliError> {
    let progress = Progress::new(u64::try_from(to - from + 1).unwrap_or(0));
    let mut start = from;
    let mut verified_through = from - 1;
    while start <= to {
        let end = to.min(start.saturating_add(chunk - 1));
        let reply = c
            .audit
            .verify_chain(unary(pb::VerifyChainRequest {
                from_position: start,
                to_position: end,
            }))
            .await?
            .into_inner();
        if !reply.ok {
            progress.finish();
            return Ok(reply);
        }
        verified_through = reply.verified_through;
        progress.update(u64::try_from(end - from + 1).unwrap_or(0));
        start = end + 1;
    }
    progress.finish();
    Ok(pb::VerifyChainResponse {
        ok: true,
        verified_through,
        break_position: 0,
        break_reason: String::new(),
    })
}

fn report_verify(out: &Output, from: i64, r: &pb::VerifyChainResponse) -> Result<(), CliError> {
    if out.json {
        return out.json_line(&json!({
            "ok": r.ok,
            "from": from,
            "verified_through": r.verified_through,
            "break_position": r.break_position,
            "break_reason": r.break_reason,
        }));
    }
    if r.ok && r.verified_through < from {
        out.line("chain intact: nothing to verify (the range is empty)")
    } else if r.ok {
        out.line(&format!(
            "chain intact: positions {from} to {} verified",
            r.verified_through
        ))
    } else {
        out.line(&format!(
            "chain BROKEN at position {}: {}",
            r.break_position, r.break_reason
        ))
    }
}

/// What a checkpoint file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// A log position.
    pub position: i64,
    /// Hex SHA-256 of the event at that position.
    pub hash: String,
}

/// `checkpoint save` / `checkpoint check`.
pub async fn checkpoint(
    c: &mut Clients,
    out: &Output,
    command: CheckpointCommand,
) -> Result<(), CliError> {
    match command {
        CheckpointCommand::Save(a) => {
            let head = head(c).await?;
            let checkpoint = Checkpoint {
                position: head.position,
                hash: head.hash,
            };
            write_checkpoint(&a.file, &checkpoint)?;
            if out.json {
                return out.json_line(&json!(checkpoint));
            }
            out.line(&format!(
                "checkpoint saved to {}: position {}, hash {}",
                a.file.display(),
                checkpoint.position,
                checkpoint.hash
            ))
        }
        CheckpointCommand::Check(a) => {
            let checkpoint = read_checkpoint(&a.file)?;
            let reply = c
                .audit
                .verify_checkpoint(unary(pb::VerifyCheckpointRequest {
                    position: checkpoint.position,
                    hash: checkpoint.hash.clone(),
                }))
                .await?
                .into_inner();
            // The server re-hashes the whole log, up to the checkpoint and beyond.
            if out.json {
                out.json_line(&json!({
                    "extends": reply.extends,
                    "position": checkpoint.position,
                    "hash": checkpoint.hash,
                    "detail": reply.detail,
                }))?;
            } else if reply.extends {
                out.line(&format!(
                    "the log extends the checkpoint at position {}",
                    checkpoint.position
                ))?;
            } else {
                out.line(&format!(
                    "the log does NOT extend the checkpoint at position {}: {}",
                    checkpoint.position, reply.detail
                ))?;
            }
            if reply.extends {
                Ok(())
            } else {
                Err(CliError::CheckFailed(
                    "the checkpoint is not extended".into(),
                ))
            }
        }
    }
}

fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Local(format!("{}: {e}", path.display()));
    let text = serde_json::to_string_pretty(checkpoint).map_err(|e| fail(&e))?;
    // Written beside the target and renamed, so a crash never leaves half a checkpoint.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{text}\n")).map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Local(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
    serde_json::from_str(&text).map_err(|e| fail(&e))
}

/// `balance-as-of`: BalanceAsOf at a position or a time.
pub async fn balance_as_of(
    c: &mut Clients,
    out: &Output,
    a: BalanceAsOfArgs,
) -> Result<(), CliError> {
    let as_of = match (a.position, a.time) {
        (Some(position), _) => pb::balance_as_of_request::AsOf::Position(position),
        (None, Some(time)) => pb::balance_as_of_request::AsOf::Time(prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
        }),
        (None, None) => {
            return Err(CliError::Usage("--position or --time is required".into()));
        }
    };
    let r = c
        .audit
        .balance_as_of(unary(pb::BalanceAsOfRequest {
            account_id: a.account,
            as_of: Some(as_of),
        }))
        .await?
        .into_inner();
    if out.json {
        return out.json_line(&json!({
            "account_id": r.account_id,
            "balance": r.balance,
            "held": r.held,
            "available": r.available,
            "position": r.position,
        }));
    }
    out.fields(&[
        ("account", r.account_id),
        ("as of position", r.position.to_string()),
        ("balance", r.balance),
        ("held", r.held),
        ("available", r.available),
    ])
}

/// `consistency`: StreamConsistencyCheck, one read model at a time as the server checks it.
pub async fn consistency(c: &mut Clients, out: &Output) -> Result<(), CliError> {
    let mut stream = c
        .audit
        .stream_consistency_check(unary(pb::ConsistencyCheckRequest {}))
        .await?
        .into_inner();
    let mut found = 0;
    while let Some(r) = stream.message().await? {
        found += r.differences_found;
        if out.json {
            out.json_line(&json!({
                "projection": r.projection,
                "position": r.position,
                "ok": r.ok,
                "differences_found": r.differences_found,
                "differences": r.differences,
            }))?;
        } else if r.ok {
            out.line(&format!(
                "{}: consistent with the log at position {}",
                r.projection, r.position
            ))?;
        } else {
            out.line(&format!(
                "{}: {} rows DIFFER from the log at position {} (the first {} listed):",
                r.projection,
                r.differences_found,
                r.position,
                r.differences.len()
            ))?;
            for difference in &r.differences {
                out.line(&format!("  {difference}"))?;
            }
        }
    }
    if found == 0 {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!("{found} differences")))
    }
}
