//! The content of PDF export reports: headline figures, spend over time as columns, each
//! breakdown (by model, member, key or analytics group) as bars and as a table with totals,
//! then the detail rows. Names are shown where the export knows them (key names, and member
//! emails for dashboard callers), ids otherwise.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

use crate::pb;
use crate::pdf::{Block, Chart, Column, Report, Table};

/// Bars in a breakdown chart; the rest are summed into one "others" bar.
const MAX_BARS: usize = 12;
/// Columns in a spend-over-time chart: beyond this many days it counts weeks, then months.
const MAX_COLUMNS: usize = 62;

/// Requests, tokens and cost of one group.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    requests: u64,
    tokens: u64,
    cost: Decimal,
}

impl Totals {
    fn add(&mut self, requests: u64, tokens: u64, cost: Decimal) {
        self.requests += requests;
        self.tokens += tokens;
        self.cost += cost;
    }

    fn cells(&self, name: String) -> Vec<String> {
        vec![
            name,
            self.requests.to_string(),
            self.tokens.to_string(),
            self.cost.normalize().to_string(),
        ]
    }
}

/// Costs come from the read model as exact decimals; a malformed one is a bug upstream and
/// counts as zero rather than aborting the report.
fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_default()
}

fn token_sum(tokens: Option<&pb::Tokens>) -> u64 {
    tokens.map_or(0, |t| t.prompt + t.completion + t.reasoning + t.cached)
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|ts| DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
}

fn shown(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Names for the ids a report shows.
#[derive(Debug, Default)]
pub struct Labels<'a> {
    /// Key names by key id.
    pub keys: Option<&'a HashMap<Uuid, String>>,
    /// Member emails by user id (dashboard callers only).
    pub members: Option<&'a HashMap<Uuid, String>>,
}

/// `name (…c3d4e5f6)` when the id has a name, else the id. The id's end tells equal names
/// apart: ids are UUIDv7, whose first digits are the time they were made, often shared.
fn label(names: Option<&HashMap<Uuid, String>>, id: &str) -> String {
    let name = id.parse::<Uuid>().ok().and_then(|uuid| names?.get(&uuid));
    match name {
        Some(name) => format!(
            "{name} (…{})",
            id.get(id.len().saturating_sub(8)..).unwrap_or(id)
        ),
        None => id.to_owned(),
    }
}

/// One breakdown: totals per label.
#[derive(Debug, Default)]
struct Breakdown(BTreeMap<String, Totals>);

impl Breakdown {
    fn add(&mut self, label: String, requests: u64, tokens: u64, cost: Decimal) {
        self.0.entry(label).or_default().add(requests, tokens, cost);
    }

    /// The groups, largest cost first (ties by name).
    fn ranked(&self) -> Vec<(&String, &Totals)> {
        let mut groups: Vec<_> = self.0.iter().collect();
        groups.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then_with(|| a.0.cmp(b.0)));
        groups
    }

    /// A bar per group, the smallest beyond [`MAX_BARS`] summed into one.
    fn chart(&self, title: String) -> Block {
        let ranked = self.ranked();
        let mut points: Vec<(String, f64, String)> = ranked
            .iter()
            .take(MAX_BARS)
            .map(|(name, totals)| point((*name).clone(), totals.cost))
            .collect();
        if ranked.len() > MAX_BARS {
            let rest: Decimal = ranked[MAX_BARS - 1..].iter().map(|(_, t)| t.cost).sum();
            points.truncate(MAX_BARS - 1);
            let others = ranked.len() - (MAX_BARS - 1);
            points.push(point(format!("{others} others"), rest));
        }
        Block::Bars(Chart { title, points })
    }

    /// The table of every group, with the totals.
    fn table(&self, title: String, name: &str, total: &Totals) -> Block {
        Block::Table(Table {
            title,
            columns: group_columns(name),
            rows: self
                .ranked()
                .into_iter()
                .map(|(name, totals)| totals.cells(name.clone()))
                .collect(),
            total: Some(total.cells("Total".to_owned())),
        })
    }
}

fn point(label: String, cost: Decimal) -> (String, f64, String) {
    (
        label,
        cost.to_f64().unwrap_or(0.0),
        cost.normalize().to_string(),
    )
}

fn group_columns(name: &str) -> Vec<Column> {
    vec![
        Column::text(name, 0.52),
        Column::number("requests", 0.14),
        Column::number("tokens", 0.16),
        Column::number("cost", 0.18),
    ]
}

/// How long each column of a spend-over-time chart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Day,
    Week,
    Month,
}

impl Step {
    /// The shortest step that shows `first..=last` in at most [`MAX_COLUMNS`] columns.
    fn for_span(first: NaiveDate, last: NaiveDate) -> Self {
        let days = (last - first).num_days();
        if days < MAX_COLUMNS as i64 {
            Step::Day
        } else if days / 7 < MAX_COLUMNS as i64 {
            Step::Week
        } else {
            Step::Month
        }
    }

    /// The first day of the column holding `day`.
    fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Step::Day => day,
            Step::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Step::Month => day.with_day(1).unwrap_or(day),
        }
    }

    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Step::Day => start.checked_add_days(Days::new(1)),
            Step::Week => start.checked_add_days(Days::new(7)),
            Step::Month => start.checked_add_months(Months::new(1)),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Step::Day => "Spend per day (UTC)",
            Step::Week => "Spend per week (UTC, weeks from Monday)",
            Step::Month => "Spend per month (UTC)",
        }
    }

    fn label(self, start: NaiveDate) -> String {
        match self {
            Step::Day | Step::Week => start.format("%m-%d").to_string(),
            Step::Month => start.format("%Y-%m").to_string(),
        }
    }
}

/// Spend summed per day (or week, or month) from the first to the last, empty ones included,
/// so the columns show time evenly.
fn spend_over_time(spend: &[(DateTime<Utc>, Decimal)]) -> Block {
    let days = || spend.iter().map(|(at, _)| at.date_naive());
    let (Some(first), Some(last)) = (days().min(), days().max()) else {
        return Block::Columns(Chart {
            title: Step::Day.title().to_owned(),
            points: Vec::new(),
        });
    };
    let step = Step::for_span(first, last);
    let mut sums: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    for (at, cost) in spend {
        *sums.entry(step.start(at.date_naive())).or_default() += cost;
    }
    let mut points = Vec::new();
    let mut start = Some(step.start(first));
    while let Some(day) = start.filter(|day| *day <= last) {
        let (_, value, text) = point(String::new(), sums.get(&day).copied().unwrap_or_default());
        points.push((step.label(day), value, text));
        start = step.next(day);
    }
    Block::Columns(Chart {
        title: step.title().to_owned(),
        points,
    })
}

/// The period a report's rows cover, as a line of its title block.
fn covering(count: usize, what: &str, times: impl Iterator<Item = DateTime<Utc>>) -> String {
    let times: Vec<DateTime<Utc>> = times.collect();
    match (times.iter().min(), times.iter().max()) {
        (Some(first), Some(last)) => format!(
            "{count} {what}, {} to {} (UTC)",
            first.format("%Y-%m-%d %H:%M"),
            last.format("%Y-%m-%d %H:%M")
        ),
        _ => format!("No {what} in this period"),
    }
}

fn figures(total: &Totals, cost: &str) -> Vec<(String, String)> {
    vec![
        ("Requests".to_owned(), total.requests.to_string()),
        ("Tokens".to_owned(), total.tokens.to_string()),
        (cost.to_owned(), total.cost.normalize().to_string()),
    ]
}

/// The activity report: figures, spend over time, spend by model, member and key (as bars and
/// tables), then every record, newest first.
pub fn activity(account_id: &str, items: &[pb::ActivityItem], names: &Labels) -> Report {
    let mut total = Totals::default();
    let mut by = [(); 3].map(|()| Breakdown::default());
    let mut spend = Vec::with_capacity(items.len());
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        let (tokens, cost) = (token_sum(item.tokens.as_ref()), decimal(&item.cost));
        let finished = time(item.finished_at.as_ref());
        let member = label(names.members, &item.user_id);
        let key = label(names.keys, &item.key_id);
        total.add(1, tokens, cost);
        by[0].add(item.model.clone(), 1, tokens, cost);
        by[1].add(member.clone(), 1, tokens, cost);
        by[2].add(key.clone(), 1, tokens, cost);
        spend.extend(finished.map(|at| (at, cost)));
        records.push(vec![
            shown(finished),
            item.model.clone(),
            key,
            member,
            tokens.to_string(),
            cost.normalize().to_string(),
        ]);
    }
    let mut blocks = vec![spend_over_time(&spend)];
    for (breakdown, (what, name)) in
        by.iter()
            .zip([("model", "model"), ("member", "member"), ("key", "key")])
    {
        blocks.push(breakdown.chart(format!("Spend by {what}")));
        blocks.push(breakdown.table(format!("By {what}"), name, &total));
    }
    blocks.push(Block::Table(Table {
        title: "Records, newest first".to_owned(),
        columns: vec![
            Column::text("finished (UTC)", 0.19),
            Column::text("model", 0.17),
            Column::text("key", 0.22),
            Column::text("member", 0.22),
            Column::number("tokens", 0.09),
            Column::number("cost", 0.11),
        ],
        rows: records,
        total: Some(vec![
            "Total".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            total.tokens.to_string(),
            total.cost.normalize().to_string(),
        ]),
    }));
    let finished = items.iter().filter_map(|i| time(i.finished_at.as_ref()));
    Report {
        title: "ARouter activity".to_owned(),
        about: vec![
            format!("Account {account_id}"),
            covering(items.len(), "records", finished),
        ],
        figures: figures(&total, "Cost (credits)"),
        blocks,
    }
}

/// The analytics report: figures, spend over time, spend per group (bars and table) when the
/// rows are grouped, then every bucket.
pub fn analytics(
    account_id: &str,
    grouping: Option<&str>,
    rows: &[pb::AnalyticsRow],
    names: Option<&HashMap<Uuid, String>>,
) -> Report {
    let mut total = Totals::default();
    let mut by = Breakdown::default();
    let mut spend = Vec::with_capacity(rows.len());
    let mut buckets = Vec::with_capacity(rows.len());
    for row in rows {
        let (tokens, cost) = (token_sum(row.tokens.as_ref()), decimal(&row.spend));
        let start = time(row.bucket_start.as_ref());
        let group = if row.group.is_empty() {
            "(all)".to_owned()
        } else {
            label(names, &row.group)
        };
        total.add(row.requests, tokens, cost);
        by.add(group.clone(), row.requests, tokens, cost);
        spend.extend(start.map(|at| (at, cost)));
        buckets.push(vec![
            shown(start),
            group,
            row.requests.to_string(),
            tokens.to_string(),
            cost.normalize().to_string(),
        ]);
    }
    let mut blocks = vec![spend_over_time(&spend)];
    if let Some(grouping) = grouping {
        blocks.push(by.chart(format!("Spend by {grouping}")));
        blocks.push(by.table(format!("By {grouping}"), grouping, &total));
    }
    blocks.push(Block::Table(Table {
        title: "Buckets".to_owned(),
        columns: vec![
            Column::text("bucket (UTC)", 0.2),
            Column::text("group", 0.4),
            Column::number("requests", 0.12),
            Column::number("tokens", 0.13),
            Column::number("spend", 0.15),
        ],
        rows: buckets,
        total: Some(vec![
            "Total".to_owned(),
            String::new(),
            total.requests.to_string(),
            total.tokens.to_string(),
            total.cost.normalize().to_string(),
        ]),
    }));
    let starts = rows.iter().filter_map(|r| time(r.bucket_start.as_ref()));
    Report {
        title: "ARouter usage analytics".to_owned(),
        about: vec![
            format!("Account {account_id}"),
            covering(rows.len(), "buckets", starts),
        ],
        figures: figures(&total, "Spend (credits)"),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> DateTime<Utc> {
        format!("{text}T12:00:00Z").parse().unwrap()
    }

    fn columns(block: &Block) -> &Chart {
        match block {
            Block::Columns(chart) => chart,
            other => panic!("not columns: {other:?}"),
        }
    }

    #[test]
    fn spend_over_time_fills_empty_days_and_sums_each() {
        let spend = [
            (day("2026-03-01"), Decimal::new(150, 2)),
            (day("2026-03-01"), Decimal::new(50, 2)),
            (day("2026-03-04"), Decimal::new(1, 0)),
        ];
        let block = spend_over_time(&spend);
        let chart = columns(&block);
        let texts: Vec<(&str, &str)> = chart
            .points
            .iter()
            .map(|(label, _, text)| (label.as_str(), text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("03-01", "2"),
                ("03-02", "0"),
                ("03-03", "0"),
                ("03-04", "1")
            ]
        );
    }

    #[test]
    fn a_long_span_is_shown_by_week_then_by_month() {
        let weeks = [
            (day("2026-01-01"), Decimal::ONE),
            (day("2026-06-30"), Decimal::ONE),
        ];
        let block = spend_over_time(&weeks);
        let chart = columns(&block);
        assert!(chart.title.contains("week"), "{}", chart.title);
        assert!(chart.points.len() <= MAX_COLUMNS);
        let years = [
            (day("2020-01-01"), Decimal::ONE),
            (day("2026-06-30"), Decimal::ONE),
        ];
        let block = spend_over_time(&years);
        let chart = columns(&block);
        assert!(chart.title.contains("month"), "{}", chart.title);
        assert_eq!(chart.points.len(), 78);
    }

    #[test]
    fn breakdowns_keep_the_largest_bars_and_sum_the_rest_exactly() {
        let mut by = Breakdown::default();
        for n in 0..20u32 {
            by.add(
                format!("model-{n:02}"),
                1,
                10,
                Decimal::new(i64::from(n) + 1, 1),
            );
        }
        let Block::Bars(chart) = by.chart("Spend by model".to_owned()) else {
            panic!("bars expected");
        };
        assert_eq!(chart.points.len(), MAX_BARS);
        assert_eq!(chart.points[0].0, "model-19");
        let last = chart.points.last().unwrap();
        assert_eq!(last.0, "9 others");
        // 0.1 + 0.2 + ... + 0.9, exactly.
        assert_eq!(last.2, "4.5");
    }

    #[test]
    fn known_ids_show_their_names_and_unknown_ones_their_id() {
        let id = Uuid::from_u128(0x1a2b3c4d_0000_0000_0000_0000c3d4e5f6);
        let names = HashMap::from([(id, "Prod ключ".to_owned())]);
        assert_eq!(
            label(Some(&names), &id.to_string()),
            "Prod ключ (…c3d4e5f6)"
        );
        let other = Uuid::from_u128(2).to_string();
        assert_eq!(label(Some(&names), &other), other);
        assert_eq!(label(None, &id.to_string()), id.to_string());
    }
}
