//! Samplers that run beside the load: projection lag (from the auditor's GetProjectionStatus)
//! and ledgerd's resident memory (from /proc).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::ledgerd::Clients;
use serde::Serialize;
use tokio::task::JoinHandle;

/// How often projection lag is sampled.
const LAG_EVERY: Duration = Duration::from_millis(100);
/// How often memory is sampled.
const MEMORY_EVERY: Duration = Duration::from_secs(1);

/// A background sampler; [`Sampler::stop`] returns what it saw.
pub struct Sampler<T> {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Vec<T>>,
}

impl<T: Send + 'static> Sampler<T> {
    /// Stops sampling and returns the samples.
    pub async fn stop(self) -> Vec<T> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// One lag sample: the worst projection's age of its oldest unapplied event.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LagSample {
    /// Milliseconds since sampling began.
    pub at_ms: u64,
    /// Lag of the slowest projection, in milliseconds (0 when all are caught up).
    pub lag_ms: i64,
    /// Events it has not applied yet.
    pub lag_events: i64,
}

/// Samples projection lag every [`LAG_EVERY`] with `auditor` clients.
pub fn projection_lag(auditor: Clients) -> Sampler<LagSample> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        let start = Instant::now();
        let mut audit = auditor.audit;
        let mut samples = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            if let Ok(reply) = audit
                .get_projection_status(pb::GetProjectionStatusRequest {})
                .await
            {
                let projections = reply.into_inner().projections;
                samples.push(LagSample {
                    at_ms: start.elapsed().as_millis() as u64,
                    lag_ms: projections.iter().map(|p| p.lag_ms).max().unwrap_or(0),
                    lag_events: projections.iter().map(|p| p.lag_events).max().unwrap_or(0),
                });
            }
            tokio::time::sleep(LAG_EVERY).await;
        }
        samples
    });
    Sampler { stop, task }
}

/// Waits (at most `within`) until every projection has applied the whole log; returns how long
/// that took, or `None` if they did not.
pub async fn until_caught_up(auditor: &Clients, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut audit = auditor.audit.clone();
    while start.elapsed() < within {
        if let Ok(reply) = audit
            .get_projection_status(pb::GetProjectionStatusRequest {})
            .await
            && reply
                .into_inner()
                .projections
                .iter()
                .all(|p| p.lag_events == 0)
        {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// One memory sample of the replicas, summed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MemorySample {
    /// Seconds since sampling began.
    pub at_s: u64,
    /// Resident set size, in MiB.
    pub rss_mib: f64,
    /// Peak resident set size so far (VmHWM), in MiB.
    pub peak_mib: f64,
}

/// Samples the resident memory of processes `pids` every [`MEMORY_EVERY`].
pub fn memory(pids: Vec<u32>) -> Sampler<MemorySample> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        let start = Instant::now();
        let mut samples = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let (mut rss_kib, mut peak_kib) = (0, 0);
            for pid in &pids {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                rss_kib += status_kib(&status, "VmRSS:");
                peak_kib += status_kib(&status, "VmHWM:");
            }
            samples.push(MemorySample {
                at_s: start.elapsed().as_secs(),
                rss_mib: rss_kib as f64 / 1024.0,
                peak_mib: peak_kib as f64 / 1024.0,
            });
            tokio::time::sleep(MEMORY_EVERY).await;
        }
        samples
    });
    Sampler { stop, task }
}

/// The kB figure of a `/proc/<pid>/status` line such as `VmRSS:   12345 kB`.
fn status_kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kib_figure_of_a_status_line_is_read() {
        let status = "Name:\tledgerd\nVmHWM:\t  81234 kB\nVmRSS:\t   70000 kB\n";
        assert_eq!(super::status_kib(status, "VmRSS:"), 70000);
        assert_eq!(super::status_kib(status, "VmHWM:"), 81234);
        assert_eq!(super::status_kib(status, "VmSwap:"), 0);
    }
}
