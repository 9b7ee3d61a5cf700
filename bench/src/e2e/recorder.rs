//! Per-operation latencies of one phase, summarised into percentiles and a per-second series.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Error messages kept as examples per phase (the count is kept in full).
const ERROR_EXAMPLES: usize = 5;

/// One finished operation.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// When it was due (open loop) or sent (closed loop), since the phase began.
    due_ms: u32,
    latency_us: u32,
    /// Rows it billed (1 for a unary gateway operation, up to 100 for a batch).
    items: u32,
}

/// Collects the samples of one phase; shared by every caller task.
pub struct Recorder {
    start: Instant,
    samples: Mutex<Vec<Sample>>,
    errors: AtomicU64,
    error_examples: Mutex<Vec<String>>,
}

/// What one phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Length of the phase, in seconds.
    pub seconds: f64,
    /// Operations that succeeded.
    pub operations: u64,
    /// Rows billed by them.
    pub items: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Successful operations answered within the phase, per second of the phase (an overloaded
    /// open loop answers fewer than it offers).
    pub ops_per_s: f64,
    /// Rows billed by them, per second.
    pub items_per_s: f64,
    /// Latency percentiles of successful operations, from due time to reply.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// One entry per second of the phase.
    pub series: Vec<Second>,
    /// A few error messages, for the report.
    pub error_examples: Vec<String>,
}

/// Throughput and latency in one second of a phase.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    /// Seconds since the phase began.
    pub second: u32,
    /// Successful operations due in this second.
    pub ops: u64,
    /// Their median latency.
    pub p50_ms: f64,
    /// Their 99th percentile latency.
    pub p99_ms: f64,
}

impl Recorder {
    /// A recorder whose phase begins at `start`.
    pub fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            samples: Mutex::new(Vec::with_capacity(1 << 16)),
            errors: AtomicU64::new(0),
            error_examples: Mutex::new(Vec::new()),
        }
    }

    /// Records a success that was due at `due` and billed `items` rows.
    pub fn succeeded(&self, due: Instant, items: u32) {
        let now = Instant::now();
        let sample = Sample {
            due_ms: millis_u32(due.saturating_duration_since(self.start)),
            latency_us: u32::try_from(now.saturating_duration_since(due).as_micros())
                .unwrap_or(u32::MAX),
            items,
        };
        if let Ok(mut samples) = self.samples.lock() {
            samples.push(sample);
        }
    }

    /// Records a failure.
    pub fn failed(&self, status: &tonic::Status) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut examples) = self.error_examples.lock()
            && examples.len() < ERROR_EXAMPLES
        {
            examples.push(format!("{:?}: {}", status.code(), status.message()));
        }
    }

    /// Summarises the samples due within the first `duration` of the phase.
    pub fn summary(&self, duration: Duration) -> Summary {
        let limit_ms = millis_u32(duration);
        let samples: Vec<Sample> = self
            .samples
            .lock()
            .map(|samples| {
                samples
                    .iter()
                    .copied()
                    .filter(|s| s.due_ms < limit_ms)
                    .collect()
            })
            .unwrap_or_default();
        let seconds = duration.as_secs_f64();
        let mut latencies: Vec<u32> = samples.iter().map(|s| s.latency_us).collect();
        latencies.sort_unstable();
        let answered_in_time: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                u64::from(s.due_ms) * 1000 + u64::from(s.latency_us) <= u64::from(limit_ms) * 1000
            })
            .collect();
        let items: u64 = samples.iter().map(|s| u64::from(s.items)).sum();
        let items_in_time: u64 = answered_in_time.iter().map(|s| u64::from(s.items)).sum();
        let mut per_second: Vec<Vec<u32>> = vec![Vec::new(); duration.as_secs().max(1) as usize];
        for sample in &samples {
            let second = (sample.due_ms / 1000) as usize;
            if let Some(bucket) = per_second.get_mut(second) {
                bucket.push(sample.latency_us);
            }
        }
        let series = per_second
            .into_iter()
            .enumerate()
            .map(|(second, mut bucket)| {
                bucket.sort_unstable();
                Second {
                    second: u32::try_from(second).unwrap_or(u32::MAX),
                    ops: bucket.len() as u64,
                    p50_ms: percentile_ms(&bucket, 0.50),
                    p99_ms: percentile_ms(&bucket, 0.99),
                }
            })
            .collect();
        Summary {
            seconds,
            operations: samples.len() as u64,
            items,
            errors: self.errors.load(Ordering::Relaxed),
            ops_per_s: answered_in_time.len() as f64 / seconds,
            items_per_s: items_in_time as f64 / seconds,
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
            p999_ms: percentile_ms(&latencies, 0.999),
            max_ms: latencies.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
            series,
            error_examples: self
                .error_examples
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default(),
        }
    }
}

fn millis_u32(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// The `q` quantile of sorted microseconds, in milliseconds (nearest rank); 0 when empty.
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=1000).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 500.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 990.0);
        assert_eq!(percentile_ms(&sorted, 0.999), 999.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }

    #[test]
    fn operations_due_after_the_phase_are_left_out_and_seconds_are_bucketed() {
        let start = Instant::now();
        let recorder = Recorder::new(start);
        recorder.succeeded(start, 1);
        recorder.succeeded(start + Duration::from_millis(1500), 100);
        recorder.succeeded(start + Duration::from_millis(2500), 1);
        let summary = recorder.summary(Duration::from_secs(2));
        assert_eq!(summary.operations, 2);
        assert_eq!(summary.items, 101);
        assert_eq!(summary.series.len(), 2);
        assert_eq!(summary.series[1].ops, 1);
        assert_eq!(summary.ops_per_s, 1.0);
    }

    #[test]
    fn an_operation_answered_after_the_phase_counts_in_latency_but_not_in_throughput() {
        let Some(start) = Instant::now().checked_sub(Duration::from_secs(3)) else {
            return;
        };
        let recorder = Recorder::new(start);
        recorder.succeeded(start + Duration::from_millis(500), 1);
        let summary = recorder.summary(Duration::from_secs(2));
        assert_eq!(summary.operations, 1);
        assert_eq!(summary.ops_per_s, 0.0);
        assert!(summary.p99_ms >= 2500.0, "{}", summary.p99_ms);
    }
}
