//! Appends per second through the group-commit appender, beside pgbench.

use std::time::{Duration, Instant};

use ledger_eventstore::{
    AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent, StreamAppend,
};
use serde_json::json;
use uuid::Uuid;

use crate::database::BenchDatabase;
use crate::pgbench;

/// Streams the spread workload writes to.
const SPREAD_STREAMS: usize = 10_000;

/// What one appender measurement gave.
struct Measurement {
    callers: usize,
    streams: usize,
    appends_per_s: f64,
    appends_per_transaction: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs the baselines and the appender at each count of callers on one and on 10,000 streams.
pub async fn run(
    database: &BenchDatabase,
    duration: Duration,
    callers: &[usize],
) -> anyhow::Result<()> {
    pgbench::prepare(database).await?;
    let pg1 = pgbench::single_row(database, 1, duration).await?;
    let pg32 = pgbench::single_row(database, 32, duration).await?;
    let pg100 = pgbench::hundred_rows(database, 32, duration).await?;
    let mut measurements = Vec::new();
    for streams in [1, SPREAD_STREAMS] {
        for &callers in callers {
            measurements.push(measure(database, callers, streams, duration).await?);
        }
    }
    println!("| baseline (pgbench, same server, same run) | transactions/s | rows/s |");
    println!("| --- | ---: | ---: |");
    println!(
        "| single-row insert, 1 client | {:.0} | {:.0} |",
        pg1.tps, pg1.rows_per_s
    );
    println!(
        "| single-row insert, 32 clients | {:.0} | {:.0} |",
        pg32.tps, pg32.rows_per_s
    );
    println!(
        "| 100-row insert, 32 clients | {:.0} | {:.0} |",
        pg100.tps, pg100.rows_per_s
    );
    println!();
    println!(
        "| appender | callers | appends/s | appends per transaction | p50 ms | p99 ms | × pgbench 1 client | × pgbench 32 clients |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for m in &measurements {
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
            if m.streams == 1 {
                "one stream".to_string()
            } else {
                format!("{} streams", m.streams)
            },
            m.callers,
            m.appends_per_s,
            m.appends_per_transaction,
            m.p50_ms,
            m.p99_ms,
            m.appends_per_s / pg1.tps,
            m.appends_per_s / pg32.tps,
        );
    }
    Ok(())
}

async fn measure(
    database: &BenchDatabase,
    callers: usize,
    streams: usize,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let pool = database.pool(4).await?;
    let (appender, writer) = Appender::spawn(pool.clone(), AppenderConfig::default());
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let appender = appender.clone();
            tokio::spawn(async move {
                let mut latencies_us = Vec::new();
                let mut n = caller;
                while Instant::now() < deadline {
                    let stream = format!("account-bench-{}", n % streams);
                    n += callers;
                    let started = Instant::now();
                    appender.append(usage_append(&stream)).await?;
                    latencies_us.push(started.elapsed().as_micros() as u64);
                }
                anyhow::Ok(latencies_us)
            })
        })
        .collect();
    let started = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = appender.stats();
    drop(appender);
    writer.await?;
    pool.close().await;
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or(0) as f64 / 1_000.0
    };
    Ok(Measurement {
        callers,
        streams,
        appends_per_s: stats.appends as f64 / elapsed,
        appends_per_transaction: stats.appends as f64 / stats.transactions.max(1) as f64,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

/// One command appending one usage-sized event.
fn usage_append(stream: &str) -> AppendRequest {
    let command_id = Uuid::new_v4();
    let mut request_hash = [0; 32];
    request_hash[..16].copy_from_slice(command_id.as_bytes());
    let metadata = EventMetadata {
        caller_kind: "gateway".into(),
        actor_id: None,
        command_id,
        correlation_id: command_id,
        causation_id: None,
        credential: None,
    };
    let payload = json!({
        "hold_id": Uuid::new_v4(),
        "key_id": Uuid::new_v4(),
        "cost": "0.0012345678",
        "model": "anthropic/claude-sonnet",
        "provider": "anthropic",
        "tokens": { "prompt": 1200, "completion": 350, "reasoning": 0, "cached": 800 },
        "latency_ms": 2300,
        "time_to_first_token_ms": 410,
        "status": "success",
        "generation_id": format!("gen-{command_id}"),
    });
    AppendRequest {
        command_id,
        request_hash,
        metadata,
        streams: vec![StreamAppend {
            stream_id: stream.to_owned(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "account.hold_settled".into(),
                schema_version: 1,
                payload,
            }],
        }],
        claims: vec![],
        reply: serde_json::Value::Null,
        outbox: vec![],
    }
}
