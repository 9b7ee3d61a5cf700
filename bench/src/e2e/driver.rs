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
            dispatch_open_loop(interval, start, deadline, operation, recorder.clone()).await;
        }
    }
    while tasks.join_next().await.is_some() {}
    recorder.summary(duration)
}

/// Sends `operation(n)` when it is due, every `interval` from `start` until `deadline`, and waits
/// for every reply. The dispatcher runs on a thread of its own and sleeps with the operating
/// system's timer: tokio's timer rounds every sleep up to the next millisecond, which at
/// thousands of requests per second would release them in bursts, up to a millisecond late,
/// and charge that lateness to the server.
async fn dispatch_open_loop<F, Fut>(
    interval: Duration,
    start: Instant,
    deadline: Instant,
    operation: Arc<F>,
    recorder: Arc<Recorder>,
) where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u32, tonic::Status>> + Send + 'static,
{
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let runtime = tokio::runtime::Handle::current();
    let permits = Arc::clone(&in_flight);
    let dispatcher = tokio::task::spawn_blocking(move || {
        for n in 0u64.. {
            let due = start + interval.mul_f64(n as f64);
            if due >= deadline {
                break;
            }
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let Ok(permit) = runtime.block_on(Arc::clone(&permits).acquire_owned()) else {
                break;
            };
            let (operation, recorder) = (Arc::clone(&operation), Arc::clone(&recorder));
            runtime.spawn(async move {
                match operation(n).await {
                    Ok(items) => recorder.succeeded(due, items),
                    Err(status) => recorder.failed(&status),
                }
                drop(permit);
            });
        }
    });
    if let Err(error) = dispatcher.await {
        eprintln!("open-loop dispatcher failed: {error}");
    }
    // Every permit back: every request sent has been answered.
    let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
    drop(in_flight.acquire_many(all).await);
}
