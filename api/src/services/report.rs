//! The text of PDF export reports: totals, a summary by model, member and key, then the detail
//! rows, laid out in fixed columns for the monospaced PDF writer.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::pb;

/// Requests, tokens and cost of one group.
#[derive(Default, Clone, Copy)]
struct Totals {
    requests: u64,
    tokens: u64,
    cost: Decimal,
}

impl Totals {
    fn add(&mut self, requests: u64, tokens: u64, cost: &str) {
        self.requests += requests;
        self.tokens += tokens;
        // Costs come from the read model as exact decimals; a malformed one is a bug upstream
        // and is shown as zero rather than aborting the report.
        self.cost += Decimal::from_str(cost).unwrap_or_default();
    }
}

/// Totals overall and per name in each of `N` groupings (model, member and key; or group).
struct Summary<const N: usize> {
    total: Totals,
    by: [BTreeMap<String, Totals>; N],
}

impl<const N: usize> Summary<N> {
    fn new() -> Self {
        Self {
            total: Totals::default(),
            by: std::array::from_fn(|_| BTreeMap::new()),
        }
    }

    /// Counts a row under its name in each grouping.
    fn add(&mut self, names: [&str; N], requests: u64, tokens: u64, cost: &str) {
        self.total.add(requests, tokens, cost);
        for (groups, name) in self.by.iter_mut().zip(names) {
            groups
                .entry(name.to_owned())
                .or_default()
                .add(requests, tokens, cost);
        }
    }

    /// The report up to its detail rows: the title, the totals (the cost called `amount`),
    /// then a table per grouping under its heading.
    fn lines(&self, title: String, amount: &str, headings: [&str; N]) -> Vec<String> {
        let total = &self.total;
        let mut lines = vec![
            title,
            format!(
                "{} requests, {} tokens, {amount} {}",
                total.requests, total.tokens, total.cost
            ),
            String::new(),
        ];
        for (heading, groups) in headings.into_iter().zip(&self.by) {
            let rows = groups.iter().map(|(name, totals)| {
                GROUP_COLUMNS.line([name, &totals.requests, &totals.tokens, &totals.cost])
            });
            let names = ["", "requests", "tokens", "cost"];
            lines.extend(GROUP_COLUMNS.section(heading, names, rows));
            lines.push(String::new());
        }
        lines
    }
}

/// Fixed columns, each a width: positive right-aligns (numbers), negative left-aligns (text).
struct Columns<const N: usize>([i8; N]);

/// A grouping's table: name, requests, tokens, cost.
const GROUP_COLUMNS: Columns<4> = Columns([-52, 10, 14, 22]);
/// The activity report's records: finished, model, key, tokens, cost.
const RECORD_COLUMNS: Columns<5> = Columns([-19, -28, -36, 9, 10]);
/// The analytics report's buckets: bucket start, group, requests, tokens, spend.
const BUCKET_COLUMNS: Columns<5> = Columns([-19, -40, 10, 12, 20]);

impl<const N: usize> Columns<N> {
    /// A line of `cells`, indented by two spaces.
    fn line(&self, cells: [&dyn Display; N]) -> String {
        let mut line = String::from(" ");
        for (width, cell) in self.0.into_iter().zip(cells) {
            let w = usize::from(width.unsigned_abs());
            // Writing to a String cannot fail.
            let _ = if width < 0 {
                write!(line, " {cell:<w$}")
            } else {
                write!(line, " {cell:>w$}")
            };
        }
        line
    }

    /// The line of column names.
    fn names(&self, names: [&str; N]) -> String {
        self.line(names.each_ref().map(|name| name as &dyn Display))
    }

    /// A section: its heading, the column names, then `lines`.
    fn section(
        &self,
        heading: &str,
        names: [&str; N],
        lines: impl Iterator<Item = String>,
    ) -> impl Iterator<Item = String> {
        [heading.to_owned(), self.names(names)]
            .into_iter()
            .chain(lines)
    }
}

fn token_sum(tokens: Option<&pb::Tokens>) -> u64 {
    tokens.map_or(0, |t| t.prompt + t.completion + t.reasoning + t.cached)
}

fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A line of the activity report's records.
fn record(item: &pb::ActivityItem) -> String {
    let finished = time(item.finished_at.as_ref());
    let tokens = token_sum(item.tokens.as_ref());
    RECORD_COLUMNS.line([&finished, &item.model, &item.key_id, &tokens, &item.cost])
}

/// A line of the analytics report's buckets.
fn bucket(row: &pb::AnalyticsRow) -> String {
    let start = time(row.bucket_start.as_ref());
    let tokens = token_sum(row.tokens.as_ref());
    BUCKET_COLUMNS.line([&start, &row.group, &row.requests, &tokens, &row.spend])
}

/// The activity report: totals, summaries by model, member and key, then every record.
pub fn activity(account_id: &str, items: &[pb::ActivityItem]) -> Vec<String> {
    let mut summary = Summary::new();
    for item in items {
        let names = [item.model.as_str(), &item.user_id, &item.key_id];
        summary.add(names, 1, token_sum(item.tokens.as_ref()), &item.cost);
    }
    let title = format!("Activity of account {account_id}");
    let mut lines = summary.lines(title, "cost", ["By model", "By member", "By key"]);
    let names = ["finished (UTC)", "model", "key", "tokens", "cost"];
    let records = items.iter().map(record);
    lines.extend(RECORD_COLUMNS.section("Records, newest first", names, records));
    lines
}

/// The analytics report: totals, a summary per group, then every bucket.
pub fn analytics(account_id: &str, rows: &[pb::AnalyticsRow]) -> Vec<String> {
    let mut summary = Summary::new();
    for row in rows {
        let group = if row.group.is_empty() {
            "(all)"
        } else {
            &row.group
        };
        summary.add(
            [group],
            row.requests,
            token_sum(row.tokens.as_ref()),
            &row.spend,
        );
    }
    let title = format!("Usage analytics of account {account_id}");
    let mut lines = summary.lines(title, "spend", ["By group"]);
    let names = ["bucket (UTC)", "group", "requests", "tokens", "spend"];
    lines.extend(BUCKET_COLUMNS.section("Buckets", names, rows.iter().map(bucket)));
    lines
}
