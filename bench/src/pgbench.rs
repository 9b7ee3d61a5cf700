//! The baseline: pgbench on the same server, in the same run.

use std::time::Duration;

use anyhow::Context;
use tokio::process::Command;

use crate::database::BenchDatabase;

/// A single-row insert of a payload the size of a usage event, in its own transaction.
const SINGLE_ROW: &str = "INSERT INTO bench_rows (payload) VALUES (repeat('x', 400));\n";

/// 100 rows in one statement and one transaction.
const HUNDRED_ROWS: &str =
    "INSERT INTO bench_rows (payload) SELECT repeat('x', 400) FROM generate_series(1, 100);\n";

/// What pgbench measured.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Baseline {
    /// Transactions per second.
    pub tps: f64,
    /// Rows per second.
    pub rows_per_s: f64,
}

/// Creates the table the baseline inserts into.
pub async fn prepare(database: &BenchDatabase) -> anyhow::Result<()> {
    let pool = database.pool(1).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, payload text NOT NULL)",
    )
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// Single-row insert transactions at `clients` concurrent clients.
pub async fn single_row(
    database: &BenchDatabase,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<Baseline> {
    let tps = run(database, SINGLE_ROW, clients, duration).await?;
    Ok(Baseline {
        tps,
        rows_per_s: tps,
    })
}

/// 100-row insert transactions at `clients` concurrent clients.
pub async fn hundred_rows(
    database: &BenchDatabase,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<Baseline> {
    let tps = run(database, HUNDRED_ROWS, clients, duration).await?;
    Ok(Baseline {
        tps,
        rows_per_s: tps * 100.0,
    })
}

async fn run(
    database: &BenchDatabase,
    script: &str,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<f64> {
    let script_path =
        std::env::temp_dir().join(format!("ledger-bench-{}.sql", uuid::Uuid::new_v4()));
    std::fs::write(&script_path, script)?;
    let output = Command::new(pgbench_binary())
        .arg("--no-vacuum")
        .arg("--file")
        .arg(&script_path)
        .arg("--client")
        .arg(clients.to_string())
        .arg("--jobs")
        .arg(clients.min(2).to_string())
        .arg("--time")
        .arg(duration.as_secs().to_string())
        .arg(&database.url)
        .output()
        .await
        .context("pgbench runs (install the PostgreSQL client tools)")?;
    let _ = std::fs::remove_file(&script_path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_tps(&stdout).with_context(|| format!("no tps in pgbench output:\n{stdout}"))
}

/// pgbench on PATH, else beside the server binaries.
fn pgbench_binary() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbench"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path().join("bin").join("pgbench"))
            .filter(|candidate| candidate.is_file())
            .collect();
        versions.sort();
        versions.pop().unwrap_or_else(|| "pgbench".into())
    })
}

/// The `tps = N (without initial connection time)` figure.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|line| line.starts_with("tps = ") && line.contains("without"))
        .and_then(|line| line.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tps_line_without_connection_time_is_read() {
        let output =
            "latency average = 0.3 ms\ntps = 3012.456789 (without initial connection time)\n";
        assert_eq!(super::parse_tps(output), Some(3012.456789));
    }
}
