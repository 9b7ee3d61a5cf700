//! Exports of the activity feed and of analytics, as CSV or PDF, streamed in chunks of at most
//! 64 KiB. The caller is authorised and the projection awaited before the stream starts. CSV
//! reads the feed page by page (500 rows) while the client consumes; a PDF needs every row for
//! its summary, so it is bounded to [`MAX_PDF_RECORDS`] records.

use std::collections::{HashMap, HashSet};

use ledger_domain::Action;
use ledger_projections::models::activity::feed::{ActivityFilter, activity};
use ledger_projections::models::keys::key_names;
use ledger_projections::{Projection, ReadModelPool};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;
use uuid::Uuid;

use super::Query;
use super::activity::{feed_filter, item};
use super::analytics::analytics_rows;
use super::report;
use crate::app::App;
use crate::error::AppError;
use crate::pb;
use crate::pdf;
use crate::{input, personal};

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

const ACTIVITY_HEADER: [&str; 18] = [
    "position",
    "finished_at",
    "started_at",
    "key_id",
    "user_id",
    "generation_id",
    "model",
    "provider",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
    "latency_ms",
    "time_to_first_token_ms",
    "status",
    "key_name",
    "member_email",
];
const ANALYTICS_HEADER: [&str; 9] = [
    "bucket_start",
    "group",
    "spend",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "group_name",
];

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

/// A CSV text cell, prefixed with `'` when a spreadsheet would read it as a formula (the `csv`
/// writer quotes it as needed).
fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// The names shown beside the ids of a page of records: key names, and member emails when the
/// caller may see them.
#[derive(Debug, Default)]
struct Names {
    keys: HashMap<Uuid, String>,
    emails: HashMap<Uuid, String>,
}

impl Names {
    /// The names of the keys and members of `items` (of `account`): one query for the keys and,
    /// when `emails` is set, one for the addresses.
    async fn of_page(
        app: &App,
        account: Uuid,
        items: &[pb::ActivityItem],
        emails: bool,
    ) -> Result<Self, AppError> {
        let ids = |id: fn(&pb::ActivityItem) -> &str| -> Vec<Uuid> {
            let set: HashSet<Uuid> = items.iter().filter_map(|i| id(i).parse().ok()).collect();
            set.into_iter().collect()
        };
        let keys = key_names(app.read_models.pool(), account, &ids(|i| &i.key_id)).await?;
        let emails = if emails {
            personal::emails(&app.log, &ids(|i| &i.user_id)).await?
        } else {
            HashMap::new()
        };
        Ok(Self { keys, emails })
    }

    fn of(map: &HashMap<Uuid, String>, id: &str) -> String {
        id.parse::<Uuid>()
            .ok()
            .and_then(|id| map.get(&id))
            .map(|name| text(name))
            .unwrap_or_default()
    }
}

fn activity_record(item: &pb::ActivityItem, names: &Names) -> [String; 18] {
    let tokens = item.tokens.unwrap_or_default();
    let status = pb::UsageStatus::try_from(item.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("USAGE_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_default();
    [
        item.position.to_string(),
        time(item.finished_at.as_ref()),
        time(item.started_at.as_ref()),
        item.key_id.clone(),
        item.user_id.clone(),
        text(&item.generation_id),
        text(&item.model),
        text(&item.provider),
        tokens.prompt.to_string(),
        tokens.completion.to_string(),
        tokens.reasoning.to_string(),
        tokens.cached.to_string(),
        item.cost.clone(),
        item.latency_ms.to_string(),
        item.time_to_first_token_ms
            .map(|t| t.to_string())
            .unwrap_or_default(),
        status,
        Names::of(&names.keys, &item.key_id),
        Names::of(&names.emails, &item.user_id),
    ]
}

fn analytics_record(row: &pb::AnalyticsRow, names: &HashMap<Uuid, String>) -> [String; 9] {
    let tokens = row.tokens.unwrap_or_default();
    [
        time(row.bucket_start.as_ref()),
        text(&row.group),
        row.spend.clone(),
        row.requests.to_string(),
        tokens.prompt.to_string(),
        tokens.completion.to_string(),
        tokens.reasoning.to_string(),
        tokens.cached.to_string(),
        Names::of(names, &row.group),
    ]
}

/// `records` written as CSV by the `csv` crate (one page at a time: the writer's bytes are taken
/// when it is done).
fn csv_bytes<R, F>(records: impl IntoIterator<Item = R>) -> Result<Vec<u8>, AppError>
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("writing CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.write_record(record).map_err(|e| failed(&e))?;
    }
    writer.into_inner().map_err(|e| failed(&e))
}

/// Sends an export in chunks of at most [`CHUNK`] bytes; the first carries the content type.
struct Sender {
    tx: mpsc::Sender<Result<pb::ExportChunk, Status>>,
    buffer: Vec<u8>,
    content_type: &'static str,
    first: bool,
}

impl Sender {
    fn new(tx: mpsc::Sender<Result<pb::ExportChunk, Status>>, content_type: &'static str) -> Self {
        Sender {
            tx,
            buffer: Vec::new(),
            content_type,
            first: true,
        }
    }

    /// Adds bytes; sends full chunks. `false` once the client has gone.
    async fn add(&mut self, bytes: &[u8]) -> bool {
        self.buffer.extend_from_slice(bytes);
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
        read_models: &ReadModelPool,
    ) -> Result<Option<Vec<pb::ActivityItem>>, AppError> {
        if self.ended {
            return Ok(None);
        }
        let cursor = self.cursor.as_deref();
        let page = activity(
            read_models.pool(),
            self.account,
            &self.filter,
            cursor,
            FEED_PAGE,
        )
        .await?;
        self.ended = page.next_cursor.is_none();
        self.cursor = page.next_cursor;
        Ok(Some(page.rows.iter().map(item).collect()))
    }

    /// Every item, refused beyond [`MAX_PDF_RECORDS`] (a report needs them all at once).
    async fn all_for_report(
        mut self,
        read_models: &ReadModelPool,
    ) -> Result<Vec<pb::ActivityItem>, AppError> {
        let mut items = Vec::new();
        while let Some(page) = self.next_page(read_models).await? {
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
    q.caught_up(Projection::Keys, req.min_position).await?;
    let mut feed = Feed::new(account.as_uuid(), filter);
    let (tx, rx) = mpsc::channel(4);
    let app = q.app;
    // Emails are personal data: shown to dashboard callers (as `ListInvitations` shows them),
    // never to staff credentials.
    let emails = q.cx.caller.user().is_some();
    if format == Format::Pdf {
        tokio::spawn(async move {
            let out = Sender::new(tx, PDF);
            match activity_report(&app, feed, emails).await {
                Ok(bytes) => out.document(bytes).await,
                Err(error) => out.fail(error).await,
            }
        });
        return Ok(Box::pin(ReceiverStream::new(rx)));
    }
    tokio::spawn(async move {
        let mut out = Sender::new(tx, CSV);
        let mut next = csv_bytes([ACTIVITY_HEADER]).map(Some);
        loop {
            match next {
                Ok(Some(bytes)) => {
                    if !out.add(&bytes).await {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => return out.fail(error).await,
            }
            next = activity_page(&app, &mut feed, emails).await;
        }
        out.flush().await;
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The activity PDF: every record of the feed (bounded), with the names of its keys and
/// members.
async fn activity_report(app: &App, feed: Feed, emails: bool) -> Result<Vec<u8>, AppError> {
    let account = feed.account;
    let items = feed.all_for_report(&app.read_models).await?;
    let names = Names::of_page(app, account, &items, emails).await?;
    let labels = report::Labels {
        keys: Some(&names.keys),
        members: Some(&names.emails),
    };
    pdf(&report::activity(&account.to_string(), &items, &labels))
}

/// A report as PDF bytes; the writer failing is this service's fault, not the caller's.
fn pdf(report: &pdf::Report) -> Result<Vec<u8>, AppError> {
    pdf::render(report).map_err(|error| AppError::Internal(error.to_string()))
}

/// The next page of the feed as CSV records with the names of its keys and members; `None`
/// after the last page.
async fn activity_page(
    app: &App,
    feed: &mut Feed,
    emails: bool,
) -> Result<Option<Vec<u8>>, AppError> {
    let Some(items) = feed.next_page(&app.read_models).await? else {
        return Ok(None);
    };
    let names = Names::of_page(app, feed.account, &items, emails).await?;
    csv_bytes(items.iter().map(|item| activity_record(item, &names))).map(Some)
}

/// `ExportAnalytics`: the analytics rows of the period as CSV, or as a PDF report.
pub async fn export_analytics(
    q: Query<pb::ExportAnalyticsRequest>,
) -> Result<BoxStream<pb::ExportChunk>, AppError> {
    let format = format(q.req.format)?;
    let rows = analytics_rows(&q).await?;
    let names = group_names(&q, &rows).await?;
    let (tx, rx) = mpsc::channel(4);
    if format == Format::Pdf {
        let grouping = match pb::GroupBy::try_from(q.req.group_by) {
            Ok(pb::GroupBy::Member) => Some("member"),
            Ok(pb::GroupBy::Key) => Some("key"),
            Ok(pb::GroupBy::Model) => Some("model"),
            _ => None,
        };
        let report = report::analytics(&q.req.account_id, grouping, &rows, Some(&names));
        let bytes = pdf(&report)?;
        tokio::spawn(Sender::new(tx, PDF).document(bytes));
        return Ok(Box::pin(ReceiverStream::new(rx)));
    }
    let bytes = csv_bytes(
        std::iter::once(ANALYTICS_HEADER.map(str::to_owned))
            .chain(rows.iter().map(|row| analytics_record(row, &names))),
    )?;
    let mut out = Sender::new(tx, CSV);
    tokio::spawn(async move {
        if out.add(&bytes).await {
            out.flush().await;
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The names of the groups of analytics rows grouped by key (key names) or by member (emails,
/// for dashboard callers), in one query; none for other groupings.
async fn group_names(
    q: &Query<pb::ExportAnalyticsRequest>,
    rows: &[pb::AnalyticsRow],
) -> Result<HashMap<Uuid, String>, AppError> {
    let ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|row| row.group.parse().ok())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    match pb::GroupBy::try_from(q.req.group_by) {
        Ok(pb::GroupBy::Key) => {
            q.caught_up(Projection::Keys, q.req.min_position).await?;
            let account = input::account_id("account_id", &q.req.account_id)?;
            Ok(key_names(q.app.read_models.pool(), account.as_uuid(), &ids).await?)
        }
        Ok(pb::GroupBy::Member) if q.cx.caller.user().is_some() => {
            personal::emails(&q.app.log, &ids).await
        }
        _ => Ok(HashMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_bytes, text};

    #[test]
    fn csv_text_is_quoted_and_defused() {
        let record = [
            text("gpt-x"),
            text("a,b"),
            text("say \"hi\""),
            text("=1+1"),
            text("@x"),
        ];
        let bytes = csv_bytes([record]).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "gpt-x,\"a,b\",\"say \"\"hi\"\"\",'=1+1,'@x\n"
        );
    }
}
