//! Drives an operation for a fixed time: closed loop (N callers, each sending when the last reply
//! came) for the maximum rate, open loop (a fixed arrival rate) for latency at a given rate.
//!
//! Open-loop latency is measured from the time a request was due, not from when it was sent, so
//! a stalled server is charged for the requests it delayed (no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::recorder::{Recorder, Summary};

/// Most open-loop requests in flight; beyond it the dispatcher waits (and the wait counts in the
/// latency of the requests it delays), so memory stays bounded when the server falls behind.
const MAX_IN_FLIGHT: usize = 4096;

/// How load arrives.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub enum Pace {
    /// `callers` concurrent callers, each waiting for its reply before sending again.
    Closed {
        /// Concurrent callers.
        callers: usize,
    },
    /// Operations due at a fixed rate, whatever the replies.
    Open {
        /// Operations per second.
        per_s: f64,
    },
}

/// Runs `operation(n)` for `n = 0, 1, …` at `pace` for `duration`; each call returns the rows it
/// billed.
pub async fn drive<F, Fut>(pace: Pace, duration: Duration, operation: F) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u32, tonic::Status>> + Send + 'static,
{
    let operation = Arc::new(operation);
    let start = Instant::now();
    let deadline = start + duration;
    let recorder = Arc::new(Recorder::new(start));
    let mut tasks = JoinSet::new();
    match pace {
        Pace::Closed { callers } => {
            let next = Arc::new(AtomicU64::new(0));
            for _ in 0..callers.max(1) {
                let (operation, recorder, next) =
                    (operation.clone(), recorder.clone(), next.clone());
                tasks.spawn(async move {
                    loop {
                        let sent = Instant::now();
                        if sent >= deadline {
                            break;
                        }
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        match operation(n).await {
                            Ok(items) => recorder.succeeded(sent, items),
                            Err(status) => recorder.failed(&status),
                        }
                    }
                });
            }
        }
        Pace::Open { per_s } => {
            let interval = Duration::from_secs_f64(1.0 / per_s.max(1.0));
            let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
            for n in 0u64.. {
                let due = start + interval.mul_f64(n as f64);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let (operation, recorder) = (operation.clone(), recorder.clone());
                tasks.spawn(async move {
                    match operation(n).await {
                        Ok(items) => recorder.succeeded(due, items),
                        Err(status) => recorder.failed(&status),
                    }
                    drop(permit);
                });
                while tasks.try_join_next().is_some() {}
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    recorder.summary(duration)
}
