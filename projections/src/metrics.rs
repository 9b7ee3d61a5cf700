//! Counters and gauges of the runtime, as plain values the API can export (e.g. Prometheus).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::projection::Projection;

/// Live counters of one projection in this process.
#[derive(Debug)]
pub(crate) struct ProjectionMetrics {
    pub(crate) projection: Projection,
    events_applied: AtomicU64,
    batches: AtomicU64,
    errors: AtomicU64,
    position: AtomicI64,
    active: AtomicBool,
    last_batch_micros: AtomicU64,
}

impl ProjectionMetrics {
    pub(crate) fn new(projection: Projection) -> Self {
        ProjectionMetrics {
            projection,
            events_applied: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            position: AtomicI64::new(0),
            active: AtomicBool::new(false),
            last_batch_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn batch(&self, events: usize, position: i64, took: Duration) {
        self.events_applied
            .fetch_add(events as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.position.store(position, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_batch_micros.store(micros, Ordering::Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            projection: self.projection,
            events_applied: self.events_applied.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            position: self.position.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            last_batch: Duration::from_micros(self.last_batch_micros.load(Ordering::Relaxed)),
        }
    }
}

/// What one projection's runner in this process has done since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// The projection.
    pub projection: Projection,
    /// Events applied by this process (counter).
    pub events_applied: u64,
    /// Batches committed by this process (counter).
    pub batches: u64,
    /// Failed batches and lost locks (counter).
    pub errors: u64,
    /// Last checkpoint this process committed (gauge).
    pub position: i64,
    /// Whether this process holds the projection's lock (gauge: 1 on exactly one process).
    pub active: bool,
    /// Duration of the last committed batch (gauge).
    pub last_batch: Duration,
}
