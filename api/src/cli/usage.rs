//! Usage reads: the activity feed, usage analytics and the activity export of an account.

use std::io::Write;

use crate::cli::CliError;
use crate::cli::args::{ActivityArgs, AnalyticsArgs, ExportFormatArg, GroupByArg, UsageExportArgs};
use crate::cli::connect::{Clients, unary};
use crate::cli::output::Output;
use crate::pb;

/// Items per ListActivity page (the server's maximum is 500).
const ACTIVITY_PAGE: i32 = 100;
/// Rows per GetUsageAnalytics page.
const ANALYTICS_PAGE: i32 = 500;
/// At most this many analytics pages are fetched (a bound against a looping token).
const MAX_PAGES: usize = 1_000;

/// An RFC 3339 time, or `-`.
fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// A time given on the command line, as on the wire.
pub fn timestamp(at: chrono::DateTime<chrono::FixedOffset>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Prompt, completion and reasoning tokens together (cached ones are part of the prompt).
fn total_tokens(tokens: Option<pb::Tokens>) -> u64 {
    tokens.map_or(0, |t| t.prompt + t.completion + t.reasoning)
}

fn status_name(status: pb::UsageStatus) -> &'static str {
    match status {
        pb::UsageStatus::Success => "success",
        pb::UsageStatus::Error => "error",
        pb::UsageStatus::Cancelled => "cancelled",
        pb::UsageStatus::Unspecified => "unspecified",
    }
}

/// `activity`: the newest `--limit` usage records of an account, filtered by model, key,
/// member and time range.
pub async fn activity(c: &mut Clients, out: &Output, a: ActivityArgs) -> Result<(), CliError> {
    let limit = a.limit as usize;
    let filter = pb::ActivityFilter {
        key_id: a.key.clone(),
        user_id: a.member.clone(),
        model: a.model.clone(),
        from: a.from.map(timestamp),
        to: a.to.map(timestamp),
    };
    let mut items = Vec::new();
    let mut page_token = String::new();
    while items.len() < limit {
        let want = i32::try_from(limit - items.len()).unwrap_or(ACTIVITY_PAGE);
        let reply = c
            .activity
            .list_activity(unary(pb::ListActivityRequest {
                account_id: a.account.clone(),
                min_position: 0,
                page_size: want.min(ACTIVITY_PAGE),
                page_token: page_token.clone(),
                filter: Some(filter.clone()),
            }))
            .await?
            .into_inner();
        items.extend(reply.items);
        if reply.next_page_token.is_empty() {
            break;
        }
        page_token = reply.next_page_token;
    }
    items.truncate(limit);
    let header = [
        "started_at",
        "model",
        "provider",
        "key_id",
        "user_id",
        "tokens",
        "cost",
        "status",
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let tokens = total_tokens(i.tokens);
            vec![
                time(i.started_at.as_ref()),
                i.model.clone(),
                i.provider.clone(),
                i.key_id.clone(),
                i.user_id.clone(),
                tokens.to_string(),
                i.cost.clone(),
                status_name(i.status()).to_owned(),
            ]
        })
        .collect();
    out.table(&header, &rows)
}

/// `analytics`: spend, tokens and requests per day (or hour) and group.
pub async fn analytics(c: &mut Clients, out: &Output, a: AnalyticsArgs) -> Result<(), CliError> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let reply = c
            .activity
            .get_usage_analytics(unary(pb::GetUsageAnalyticsRequest {
                account_id: a.account.clone(),
                min_position: 0,
                granularity: if a.hourly {
                    pb::Granularity::Hour
                } else {
                    pb::Granularity::Day
                }
                .into(),
                group_by: group_by(a.group_by).into(),
                from: None,
                to: None,
                page_size: ANALYTICS_PAGE,
                page_token: page_token.clone(),
            }))
            .await?
            .into_inner();
        rows.extend(reply.rows);
        if reply.next_page_token.is_empty() {
            break;
        }
        page_token = reply.next_page_token;
    }
    let header = ["bucket_start", "group", "spend", "tokens", "requests"];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let tokens = total_tokens(r.tokens);
            vec![
                time(r.bucket_start.as_ref()),
                r.group.clone(),
                r.spend.clone(),
                tokens.to_string(),
                r.requests.to_string(),
            ]
        })
        .collect();
    out.table(&header, &rows)
}

fn group_by(arg: GroupByArg) -> pb::GroupBy {
    match arg {
        GroupByArg::Member => pb::GroupBy::Member,
        GroupByArg::Key => pb::GroupBy::Key,
        GroupByArg::Model => pb::GroupBy::Model,
    }
}

/// `export`: the account's activity as CSV or PDF, written to `--file` (or stdout).
pub async fn export(c: &mut Clients, a: UsageExportArgs) -> Result<(), CliError> {
    let format = match a.format {
        ExportFormatArg::Csv => pb::ExportFormat::Csv,
        ExportFormatArg::Pdf => pb::ExportFormat::Pdf,
    };
    let mut stream = c
        .activity
        .export_activity(pb::ExportActivityRequest {
            account_id: a.account.clone(),
            min_position: 0,
            format: format.into(),
            filter: None,
        })
        .await?
        .into_inner();
    let mut sink: Box<dyn Write> = match &a.file {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Local(format!("--file {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let progress = crate::cli::progress::Progress::bytes("exporting");
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.message().await? {
        sink.write_all(&chunk.data)
            .map_err(crate::cli::output::stdout_error)?;
        bytes += chunk.data.len() as u64;
        progress.update(bytes);
    }
    sink.flush().map_err(crate::cli::output::stdout_error)?;
    progress.finish();
    if let Some(path) = &a.file {
        eprintln!("wrote {bytes} bytes to {}", path.display());
    }
    Ok(())
}
