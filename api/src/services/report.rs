//! The text of PDF export reports: totals, a summary by model, member and key, then the detail
//! rows, laid out in fixed columns for the monospaced PDF writer.

use std::collections::BTreeMap;
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

fn token_sum(tokens: Option<&pb::Tokens>) -> u64 {
    tokens.map_or(0, |t| t.prompt + t.completion + t.reasoning + t.cached)
}

fn table(lines: &mut Vec<String>, heading: &str, groups: &BTreeMap<String, Totals>) {
    lines.push(heading.to_owned());
    lines.push(format!(
        "  {:<52} {:>10} {:>14} {:>22}",
        "", "requests", "tokens", "cost"
    ));
    for (name, totals) in groups {
        lines.push(format!(
            "  {:<52} {:>10} {:>14} {:>22}",
            name, totals.requests, totals.tokens, totals.cost
        ));
    }
    lines.push(String::new());
}

fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The activity report: totals, summaries by model, member and key, then every record.
pub fn activity(account_id: &str, items: &[pb::ActivityItem]) -> Vec<String> {
    let mut total = Totals::default();
    let (mut by_model, mut by_member, mut by_key) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for item in items {
        let tokens = token_sum(item.tokens.as_ref());
        total.add(1, tokens, &item.cost);
        for (groups, name) in [
            (&mut by_model, &item.model),
            (&mut by_member, &item.user_id),
            (&mut by_key, &item.key_id),
        ] {
            groups
                .entry(name.clone())
                .or_insert_with(Totals::default)
                .add(1, tokens, &item.cost);
        }
    }
    let mut lines = vec![
        format!("Activity of account {account_id}"),
        format!(
            "{} requests, {} tokens, cost {}",
            total.requests, total.tokens, total.cost
        ),
        String::new(),
    ];
    table(&mut lines, "By model", &by_model);
    table(&mut lines, "By member", &by_member);
    table(&mut lines, "By key", &by_key);
    lines.push("Records, newest first".to_owned());
    lines.push(format!(
        "  {:<19} {:<28} {:<36} {:>9} {:>10}",
        "finished (UTC)", "model", "key", "tokens", "cost"
    ));
    for item in items {
        lines.push(format!(
            "  {:<19} {:<28} {:<36} {:>9} {:>10}",
            time(item.finished_at.as_ref()),
            item.model,
            item.key_id,
            token_sum(item.tokens.as_ref()),
            item.cost
        ));
    }
    lines
}

/// The analytics report: totals, a summary per group, then every bucket.
pub fn analytics(account_id: &str, rows: &[pb::AnalyticsRow]) -> Vec<String> {
    let mut total = Totals::default();
    let mut groups = BTreeMap::new();
    for row in rows {
        let tokens = token_sum(row.tokens.as_ref());
        total.add(row.requests, tokens, &row.spend);
        let name = if row.group.is_empty() {
            "(all)".to_owned()
        } else {
            row.group.clone()
        };
        groups
            .entry(name)
            .or_insert_with(Totals::default)
            .add(row.requests, tokens, &row.spend);
    }
    let mut lines = vec![
        format!("Usage analytics of account {account_id}"),
        format!(
            "{} requests, {} tokens, spend {}",
            total.requests, total.tokens, total.cost
        ),
        String::new(),
    ];
    table(&mut lines, "By group", &groups);
    lines.push("Buckets".to_owned());
    lines.push(format!(
        "  {:<19} {:<40} {:>10} {:>12} {:>20}",
        "bucket (UTC)", "group", "requests", "tokens", "spend"
    ));
    for row in rows {
        lines.push(format!(
            "  {:<19} {:<40} {:>10} {:>12} {:>20}",
            time(row.bucket_start.as_ref()),
            row.group,
            row.requests,
            token_sum(row.tokens.as_ref()),
            row.spend
        ));
    }
    lines
}
