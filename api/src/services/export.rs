//! Exports of the activity feed and of analytics, as CSV or PDF, streamed in chunks of at most
//! 64 KiB. The caller is authorised and the projection awaited before the stream starts. CSV
//! reads the feed page by page (500 rows) while the client consumes; a PDF needs every row for
//! its summary, so it is bounded to [`MAX_PDF_RECORDS`] records.

use ledger_domain::Action;
use ledger_projections::Projection;
use ledger_projections::models::activity::feed::{ActivityFilter, activity};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;
use uuid::Uuid;

use super::Query;
use super::activity::{feed_filter, item};
use super::analytics::analytics_rows;
use super::report;
use crate::error::AppError;
use crate::pb;
use crate::pdf;

/// Largest chunk sent.
const CHUNK: usize = 64 * 1024;
/// Feed rows read per query.
const FEED_PAGE: u32 = 500;
/// The MIME type of CSV exports.
const CSV: &str = "text/csv; charset=utf-8";
/// The MIME type of PDF exports.
const PDF: &str = "application/pdf";
/// Most records a PDF report holds (about 250 pages); larger periods are exported as CSV.
pub const MAX_PDF_RECORDS: usize = 20_000;

const ACTIVITY_HEADER: &str = "position,finished_at,started_at,key_id,user_id,generation_id,\
    model,provider,prompt_tokens,completion_tokens,reasoning_tokens,cached_tokens,cost,\
    latency_ms,time_to_first_token_ms,status\n";
const ANALYTICS_HEADER: &str = "bucket_start,group,spend,requests,prompt_tokens,\
    completion_tokens,reasoning_tokens,cached_tokens\n";

/// The formats an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Pdf,
}

fn format(value: i32) -> Result<Format, AppError> {
    match pb::ExportFormat::try_from(value) {
        Ok(pb::ExportFormat::Csv) => Ok(Format::Csv),
        Ok(pb::ExportFormat::Pdf) => Ok(Format::Pdf),
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

/// Sends an export in chunks of at most [`CHUNK`] bytes; the first carries the content type.
struct Sender {
    tx: mpsc::Sender<Result<pb::ExportChunk, Status>>,
    buffer: Vec<u8>,
    content_type: &'static str,
    first: bool,
}

impl Sender {
    fn new(
        tx: mpsc::Sender<Result<pb::ExportChunk, Status>>,
        content_type: &'static str,
        header: &str,
    ) -> Self {
        Sender {
            tx,
            buffer: header.as_bytes().to_vec(),
            content_type,
            first: true,
        }
    }

    /// Adds a line; sends full chunks. `false` once the client has gone.
    async fn line(&mut self, line: &str) -> bool {
        self.buffer.extend_from_slice(line.as_bytes());
        if self.buffer.len() >= CHUNK {
            return self.flush().await;
        }
        true
    }

    /// Sends a whole document.
    async fn document(mut self, bytes: Vec<u8>) {
        self.buffer = bytes;
        self.flush().await;
    }

    async fn flush(&mut self) -> bool {
        let bytes = std::mem::take(&mut self.buffer);
        for piece in bytes.chunks(CHUNK) {
            let chunk = pb::ExportChunk {
                content_type: if self.first {
                    self.content_type.to_owned()
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

/// An account's filtered feed, newest first, read a page of [`FEED_PAGE`] rows at a time as it
/// is consumed.
struct Feed {
    account: Uuid,
    filter: ActivityFilter,
    /// Where the next page starts; `None` before the first page.
    cursor: Option<String>,
    ended: bool,
}

impl Feed {
    fn new(account: Uuid, filter: ActivityFilter) -> Self {
        Self {
            account,
            filter,
            cursor: None,
            ended: false,
        }
    }

    /// The next page's items; `None` once the last page has been read.
    async fn next_page(
        &mut self,
        pool: &PgPool,
    ) -> Result<Option<Vec<pb::ActivityItem>>, AppError> {
        if self.ended {
            return Ok(None);
        }
        let cursor = self.cursor.as_deref();
        let page = activity(pool, self.account, &self.filter, cursor, FEED_PAGE).await?;
        self.ended = page.next_cursor.is_none();
        self.cursor = page.next_cursor;
        Ok(Some(page.rows.iter().map(item).collect()))
    }

    /// Every item, refused beyond [`MAX_PDF_RECORDS`] (a report needs them all at once).
    async fn all_for_report(mut self, pool: &PgPool) -> Result<Vec<pb::ActivityItem>, AppError> {
        let mut items = Vec::new();
        while let Some(page) = self.next_page(pool).await? {
            items.extend(page);
            if items.len() > MAX_PDF_RECORDS {
                return Err(AppError::invalid(
                    "filter",
                    "more than 20,000 records for a PDF report: narrow the period or export CSV",
                ));
            }
        }
        Ok(items)
    }
}

/// `ExportActivity`: the filtered feed, newest first, as CSV, or as a PDF report with a summary
/// by model, member and key before the records.
pub async fn export_activity(
    q: Query<pb::ExportActivityRequest>,
) -> Result<BoxStream<pb::ExportChunk>, AppError> {
    let req = &q.req;
    let format = format(req.format)?;
    let filter = feed_filter(req.filter.as_ref())?;
    let (account, _) = q.account(Action::ReadActivity).await?;
    q.caught_up(Projection::Activity, req.min_position).await?;
    let mut feed = Feed::new(account.as_uuid(), filter);
    let (tx, rx) = mpsc::channel(4);
    let app = q.app;
    if format == Format::Pdf {
        tokio::spawn(async move {
            let out = Sender::new(tx, PDF, "");
            match feed.all_for_report(&app.pool).await {
                Ok(items) => {
                    let title = format!("ARouter activity, account {account}");
                    let lines = report::activity(&account.to_string(), &items);
                    out.document(pdf::document(&title, &lines)).await;
                }
                Err(error) => out.fail(error).await,
            }
        });
        return Ok(Box::pin(ReceiverStream::new(rx)));
    }
    tokio::spawn(async move {
        let mut out = Sender::new(tx, CSV, ACTIVITY_HEADER);
        loop {
            let page = match feed.next_page(&app.pool).await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(error) => return out.fail(error).await,
            };
            for item in &page {
                if !out.line(&activity_line(item)).await {
                    return;
                }
            }
        }
        out.flush().await;
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// `ExportAnalytics`: the analytics rows of the period as CSV, or as a PDF report.
pub async fn export_analytics(
    q: Query<pb::ExportAnalyticsRequest>,
) -> Result<BoxStream<pb::ExportChunk>, AppError> {
    let format = format(q.req.format)?;
    let rows = analytics_rows(&q).await?;
    let (tx, rx) = mpsc::channel(4);
    if format == Format::Pdf {
        let account_id = &q.req.account_id;
        let title = format!("ARouter usage analytics, account {account_id}");
        let lines = report::analytics(account_id, &rows);
        tokio::spawn(Sender::new(tx, PDF, "").document(pdf::document(&title, &lines)));
        return Ok(Box::pin(ReceiverStream::new(rx)));
    }
    tokio::spawn(async move {
        let mut out = Sender::new(tx, CSV, ANALYTICS_HEADER);
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
