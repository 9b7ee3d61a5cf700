//! The Markdown report of a suite run: baselines, workloads, targets; and its place in
//! docs/BENCHMARKS.md, between two markers so that hand-written analysis around it stays.

use std::fmt::Write;
use std::path::Path;

use super::suite::{Phase, Results, SuiteOptions};

/// The line that opens the generated section.
pub const BEGIN: &str = "<!-- ledger-bench suite: generated section begins -->";
/// The line that closes it.
pub const END: &str = "<!-- ledger-bench suite: generated section ends -->";

/// Gateway p99 latency goal at 80% of its maximum rate.
const GATEWAY_P99_GOAL_MS: f64 = 25.0;
/// Streaming gateway goal: billed requests per second ÷ pgbench single-row at 32 clients.
const GATEWAY_STREAM_GOAL: f64 = 0.6;
/// Unary gateway billed requests/s as a fraction of pgbench single-row inserts at 32 clients.
const GATEWAY_UNARY_GOAL: f64 = 0.35;
/// Batched rows/s as a fraction of pgbench 100-row inserts in rows/s.
const BATCHED_GOAL: f64 = 0.15;
/// Projection lag p99 goal.
const LAG_P99_GOAL_MS: f64 = 250.0;
/// Read p99 latency goal.
const READ_P99_GOAL_MS: f64 = 2.0;
/// WAL records per billed request goal (gateway).
const WAL_RECORDS_GOAL: f64 = 20.0;

/// The report of `results`, with links into `folder` (relative to docs/).
pub fn markdown(results: &Results, folder: &str) -> String {
    let mut out = String::new();
    let b = &results.baselines;
    let pg32 = b.single_32.tps;
    let _ = writeln!(
        out,
        "### Suite run {} ({} s per phase, {} replica(s){})\n",
        results.started_at,
        results.seconds,
        results.options.replicas,
        off_primary(&results.options)
    );
    let _ = writeln!(out, "`{}`  ", results.command);
    let _ = writeln!(
        out,
        "Load average before {}, after {} (2 cores). {} organizations × {} keys and a hot \
         organization with {} keys, created through the API in {:.1} s. Results: \
         [`results.json`]({folder}/results.json), plot: [`timeline.svg`]({folder}/timeline.svg).\n",
        results.load_before,
        results.load_after,
        results.options.organizations,
        results.options.keys_per_org,
        results.options.hot_keys,
        results.setup_s
    );
    let _ = writeln!(
        out,
        "| baseline (pgbench, same server, same run) | transactions/s | rows/s |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: |");
    for (name, baseline) in [
        ("single-row insert, 1 client", b.single_1),
        ("single-row insert, 32 clients", b.single_32),
        ("100-row insert, 32 clients", b.hundred_32),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.0} |",
            baseline.tps, baseline.rows_per_s
        );
    }
    let _ = writeln!(
        out,
        "\n| phase | load | operations/s | rows billed/s | × pgbench 32 clients (rows) | p50 ms | p99 ms | p99.9 ms | errors | lag p99 ms | catch-up s | WAL records / row | WAL bytes / row |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for phase in &results.phases {
        let s = &phase.summary;
        let load = match phase.pace {
            super::driver::Pace::Closed { callers } => format!("{callers} callers"),
            super::driver::Pace::Open { per_s } => format!("{per_s:.0}/s open loop"),
        };
        let catch_up = phase
            .catch_up_ms
            .map_or("> 60".to_owned(), |ms| format!("{:.1}", ms as f64 / 1000.0));
        let (wal_records, wal_bytes) = wal_per_row(phase)
            .map_or(("–".to_owned(), "–".to_owned()), |(records, bytes)| {
                (format!("{records:.1}"), format!("{bytes:.0}"))
            });
        let _ = writeln!(
            out,
            "| {} | {load} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {catch_up} | {wal_records} | {wal_bytes} |",
            phase.name,
            s.ops_per_s,
            s.items_per_s,
            s.items_per_s / pg32,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.errors,
            phase.lag_p99_ms
        );
    }
    let _ = writeln!(out, "\n| target | measured | goal | met |");
    let _ = writeln!(out, "| --- | ---: | ---: | --- |");
    let find = |name: &str| results.phases.iter().find(|p| p.name.starts_with(name));
    let gateway = results.phases.iter().find(|p| p.name == "gateway");
    let mut target = |what: &str, measured: String, goal: &str, met: bool| {
        let verdict = if met { "yes" } else { "**no**" };
        let _ = writeln!(out, "| {what} | {measured} | {goal} | {verdict} |");
    };
    if let Some(g) = gateway {
        let ratio = g.summary.items_per_s / pg32;
        target(
            "gateway requests/s ÷ pgbench single-row 32 clients",
            format!("{ratio:.2}×"),
            "≥ 0.35×",
            ratio >= GATEWAY_UNARY_GOAL,
        );
    }
    if let Some((records, bytes)) = gateway.and_then(wal_per_row) {
        target(
            "WAL records per billed request (gateway)",
            format!("{records:.1} ({bytes:.0} bytes)"),
            "≤ 20",
            records <= WAL_RECORDS_GOAL,
        );
    }
    if let Some(g) = results.phases.iter().find(|p| p.name == "gateway-stream") {
        let ratio = g.summary.items_per_s / pg32;
        target(
            "gateway-stream requests/s ÷ pgbench single-row 32 clients",
            format!("{ratio:.2}×"),
            "≥ 0.6×",
            ratio >= GATEWAY_STREAM_GOAL,
        );
    }
    if let Some(p) = find("gateway-stream at 80%") {
        target(
            "gateway-stream p99 at 80% of its maximum rate",
            format!("{:.1} ms", p.summary.p99_ms),
            "≤ 25 ms",
            p.summary.p99_ms <= GATEWAY_P99_GOAL_MS,
        );
    }
    if let Some(p) = find("gateway at 80%") {
        target(
            "gateway p99 at 80% of its maximum rate",
            format!("{:.1} ms", p.summary.p99_ms),
            "≤ 25 ms",
            p.summary.p99_ms <= GATEWAY_P99_GOAL_MS,
        );
    }
    let gateway_lag = results
        .phases
        .iter()
        .filter(|p| p.name.starts_with("gateway") || p.name == "hot")
        .map(|p| p.lag_p99_ms)
        .fold(None, |worst: Option<f64>, lag| {
            Some(worst.map_or(lag, |w| w.max(lag)))
        });
    if let Some(lag) = gateway_lag {
        target(
            "projection lag p99 (worst gateway/hot phase)",
            format!("{lag:.0} ms"),
            "≤ 250 ms",
            lag <= LAG_P99_GOAL_MS,
        );
    }
    if let (Some(h), Some(g)) = (find("hot"), gateway) {
        let ratio = h.summary.items_per_s / g.summary.items_per_s.max(f64::MIN_POSITIVE);
        target(
            "hot ÷ gateway",
            format!("{ratio:.2}×"),
            "≥ 0.8×",
            ratio >= 0.8,
        );
    }
    if let Some(p) = find("batched") {
        let ratio = p.summary.items_per_s / b.hundred_32.rows_per_s;
        target(
            "batched rows/s ÷ pgbench 100-row insert rows/s",
            format!("{ratio:.2}×"),
            "≥ 0.15×",
            ratio >= BATCHED_GOAL,
        );
    }
    if let Some(p) = find("read") {
        let rate = match p.pace {
            super::driver::Pace::Open { per_s } => per_s,
            super::driver::Pace::Closed { .. } => p.summary.ops_per_s,
        };
        target(
            &format!("read p99 at {rate:.0} requests/s"),
            format!(
                "{:.2} ms ({:.0}/s served)",
                p.summary.p99_ms, p.summary.ops_per_s
            ),
            "≤ 2 ms",
            p.summary.p99_ms <= READ_P99_GOAL_MS && p.summary.ops_per_s >= rate * 0.99,
        );
    }
    let peak = results.memory.last().map_or(0.0, |m| m.peak_mib);
    let _ = writeln!(
        out,
        "| ledgerd peak resident memory (VmHWM) over the run | {peak:.0} MiB | bounded | see memory |"
    );
    if let Some(long) = find("mixed, long") {
        let _ = writeln!(
            out,
            "\nLong mixed run: {:.0} s, {:.0} operations/s, p99 {:.1} ms; {}",
            long.summary.seconds,
            long.summary.ops_per_s,
            long.summary.p99_ms,
            memory_trend(results)
        );
    }
    if let Some(g) = gateway
        && let Some(wal) = &g.wal
    {
        let _ = writeln!(
            out,
            "\nWAL of the gateway phase and its catch-up, by relation (`ledger-bench wal` measures \
             it alone):\n\n{}",
            wal.table(g.summary.items, "/ request")
        );
    }
    cpu_section(&mut out, results);
    errors_section(&mut out, &results.phases);
    out
}

/// WAL records and bytes per row billed in `phase`, if it billed rows and its WAL was read.
fn wal_per_row(phase: &Phase) -> Option<(f64, f64)> {
    let wal = phase.wal.as_ref()?;
    let rows = phase.summary.items as f64;
    (rows > 0.0).then(|| (wal.records as f64 / rows, wal.bytes as f64 / rows))
}

/// What the run moved off the primary, for the report's heading.
fn off_primary(options: &SuiteOptions) -> String {
    let mut moved = String::new();
    if options.read_replica {
        moved.push_str(", reads on a read replica");
    }
    if options.read_models_database_url.is_some() {
        moved.push_str(", read models in a database of their own");
    }
    moved
}

/// CPU by side of the deployment, from each phase's start until projections caught up after
/// it; per billed request and per operation.
fn cpu_section(out: &mut String, results: &Results) {
    let reads = if results.options.read_replica {
        "the read and mixed phases' reads on a read-only ledgerd on a hot standby"
    } else {
        "every call on the primary"
    };
    let _ = writeln!(
        out,
        "\nCPU by side ({reads}; PostgreSQL is the postmaster's process tree, embedded server \
         only):\n"
    );
    let _ = writeln!(
        out,
        "| phase | side | ledgerd ms | PostgreSQL ms | ms per billed request | ms per operation |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |");
    let figure =
        |ms: Option<f64>, digits: usize| ms.map_or("–".to_owned(), |ms| format!("{ms:.digits$}"));
    for phase in &results.phases {
        for side in &phase.cpu {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {} | {} |",
                phase.name,
                side.side,
                side.ledgerd_ms,
                figure(side.postgres_ms, 0),
                figure(side.per(phase.summary.items), 3),
                figure(side.per(phase.summary.operations), 3),
            );
        }
    }
}

/// Resident memory at the start of the long phase, at its middle and at its end.
fn memory_trend(results: &Results) -> String {
    let samples = &results.memory;
    if samples.len() < 3 {
        return String::new();
    }
    let long_s = results
        .phases
        .iter()
        .find(|p| p.name.starts_with("mixed, long"))
        .map_or(0, |p| p.summary.seconds as u64);
    let end = samples.len() - 1;
    let start = end.saturating_sub(long_s as usize);
    let middle = (start + end) / 2;
    format!(
        "resident memory {:.0} MiB at its start, {:.0} MiB half-way, {:.0} MiB at the end.",
        samples[start].rss_mib, samples[middle].rss_mib, samples[end].rss_mib
    )
}

fn errors_section(out: &mut String, phases: &[Phase]) {
    let with_errors: Vec<_> = phases.iter().filter(|p| p.summary.errors > 0).collect();
    if with_errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nErrors seen:");
    for phase in with_errors {
        for example in &phase.summary.error_examples {
            let _ = writeln!(out, "- {}: `{example}`", phase.name);
        }
    }
}

/// Replaces the text between [`BEGIN`] and [`END`] in `path` with `section` (appending both
/// markers at the end if they are missing).
pub fn rewrite_generated_section(path: &Path, section: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let rewritten = match (text.find(BEGIN), text.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{BEGIN}\n\n{section}\n{}", &text[..begin], &text[end..])
        }
        _ => format!("{text}\n{BEGIN}\n\n{section}\n{END}\n"),
    };
    std::fs::write(path, rewritten)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_generated_section_is_rewritten() {
        let path = std::env::temp_dir().join(format!("bench-report-{}.md", uuid::Uuid::new_v4()));
        std::fs::write(&path, format!("intro\n{BEGIN}\nold\n{END}\nanalysis\n")).unwrap_or(());
        rewrite_generated_section(&path, "new table").unwrap_or(());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            text,
            format!("intro\n{BEGIN}\n\nnew table\n{END}\nanalysis\n")
        );
    }
}
