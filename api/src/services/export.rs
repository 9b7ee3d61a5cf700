//! CSV exports of the activity feed and of analytics, streamed in chunks of at most 64 KiB.
//! The caller is authorised and the projection awaited before the stream starts; the feed is
//! then read page by page (500 rows) while the client consumes. PDF is not offered yet.

use std::sync::Arc;
use std::time::Duration;

use ledger_domain::{Action, Caller};
use ledger_projections::Projection;
use ledger_projections::models::activity::feed::activity;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;

use super::activity::{feed_filter, item};
use super::analytics::{Analytics, analytics_request};
use super::projected::{authorize_account, caught_up};
use crate::app::App;
use crate::error::AppError;
use crate::pb;

/// Largest chunk sent.
const CHUNK: usize = 64 * 1024;
/// Feed rows read per query.
const FEED_PAGE: u32 = 500;
/// The MIME type of CSV exports.
const CSV: &str = "text/csv; charset=utf-8";

const ACTIVITY_HEADER: &str = "position,finished_at,started_at,key_id,user_id,generation_id,\
    model,provider,prompt_tokens,completion_tokens,reasoning_tokens,cached_tokens,cost,\
    latency_ms,time_to_first_token_ms,status\n";
const ANALYTICS_HEADER: &str = "bucket_start,group,spend,requests,prompt_tokens,\
    completion_tokens,reasoning_tokens,cached_tokens\n";

fn format(value: i32) -> Result<(), AppError> {
    match pb::ExportFormat::try_from(value) {
        Ok(pb::ExportFormat::Csv) => Ok(()),
        Ok(pb::ExportFormat::Pdf) => Err(AppError::Unimplemented(
            "PDF exports are not available yet; ask for EXPORT_FORMAT_CSV",
        )),
        _ => Err(AppError::invalid("format", "must be CSV or PDF")),
    }
}

/// A CSV text field: quoted when it holds a separator or quote, and prefixed with `'` when a
/// spreadsheet would read it as a formula.
fn text(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn activity_line(item: &pb::ActivityItem) -> String {
    let tokens = item.tokens.unwrap_or_default();
    let status = pb::UsageStatus::try_from(item.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("USAGE_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        item.position,
        time(item.finished_at.as_ref()),
        time(item.started_at.as_ref()),
        item.key_id,
        item.user_id,
        text(&item.generation_id),
        text(&item.model),
        text(&item.provider),
        tokens.prompt,
        tokens.completion,
        tokens.reasoning,
        tokens.cached,
        item.cost,
        item.latency_ms,
        item.time_to_first_token_ms
            .map(|t| t.to_string())
            .unwrap_or_default(),
        status,
    )
}

fn analytics_line(row: &pb::AnalyticsRow) -> String {
    let tokens = row.tokens.unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{}\n",
        time(row.bucket_start.as_ref()),
        text(&row.group),
        row.spend,
        row.requests,
        tokens.prompt,
        tokens.completion,
        tokens.reasoning,
        tokens.cached,
    )
}

/// Sends CSV text in chunks of at most [`CHUNK`] bytes; the first carries the content type.
struct Sender {
    tx: mpsc::Sender<Result<pb::ExportChunk, Status>>,
    buffer: String,
    first: bool,
}

impl Sender {
    fn new(tx: mpsc::Sender<Result<pb::ExportChunk, Status>>, header: &str) -> Self {
        Sender {
            tx,
            buffer: header.to_owned(),
            first: true,
        }
    }

    /// Adds a line; sends full chunks. `false` once the client has gone.
    async fn line(&mut self, line: &str) -> bool {
        self.buffer.push_str(line);
        if self.buffer.len() >= CHUNK {
            return self.flush().await;
        }
        true
    }

    async fn flush(&mut self) -> bool {
        let bytes = std::mem::take(&mut self.buffer).into_bytes();
        for piece in bytes.chunks(CHUNK) {
            let chunk = pb::ExportChunk {
                content_type: if self.first {
                    CSV.to_owned()
                } else {
                    String::new()
                },
                data: piece.to_vec(),
            };
            self.first = false;
            if self.tx.send(Ok(chunk)).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn fail(self, error: AppError) {
        let _ = self.tx.send(Err(Status::from(error))).await;
    }
}

/// `ExportActivity`: the filtered feed, newest first, as CSV.
pub async fn export_activity(
    app: &Arc<App>,
    caller: &Caller,
    req: &pb::ExportActivityRequest,
    budget: Duration,
) -> Result<BoxStream<pb::ExportChunk>, AppError> {
    format(req.format)?;
    let filter = feed_filter(req.filter.as_ref())?;
    let (account, _) = authorize_account(
        app,
        caller,
        "account_id",
        &req.account_id,
        Action::ReadActivity,
    )
    .await?;
    caught_up(&app.pool, Projection::Activity, req.min_position, budget).await?;
    let (tx, rx) = mpsc::channel(4);
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let mut out = Sender::new(tx, ACTIVITY_HEADER);
        let mut cursor: Option<String> = None;
        loop {
            let page = match activity(
                &app.pool,
                account.as_uuid(),
                &filter,
                cursor.as_deref(),
                FEED_PAGE,
            )
            .await
            {
                Ok(page) => page,
                Err(error) => return out.fail(error.into()).await,
            };
            for row in &page.rows {
                if !out.line(&activity_line(&item(row))).await {
                    return;
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        out.flush().await;
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// `ExportAnalytics`: the analytics rows of the period as CSV.
pub async fn export_analytics(
    app: &Arc<App>,
    caller: &Caller,
    req: &pb::ExportAnalyticsRequest,
    budget: Duration,
) -> Result<BoxStream<pb::ExportChunk>, AppError> {
    format(req.format)?;
    let query = analytics_request(
        req.granularity,
        req.group_by,
        req.from.as_ref(),
        req.to.as_ref(),
    )?;
    let rows = Analytics::run(
        app,
        caller,
        &req.account_id,
        req.min_position,
        budget,
        &query,
    )
    .await?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut out = Sender::new(tx, ANALYTICS_HEADER);
        for row in &rows {
            if !out.line(&analytics_line(row)).await {
                return;
            }
        }
        out.flush().await;
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn csv_text_is_quoted_and_defused() {
        assert_eq!(text("gpt-x"), "gpt-x");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=1+1"), "'=1+1");
    }
}
