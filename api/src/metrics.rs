//! Prometheus metrics: calls and latencies per RPC (a tower layer on the gRPC server), plus
//! gauges sampled from the appender and the projections, served as text on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Most distinct RPC paths tracked; anything beyond (only possible with unknown paths) is
/// counted under one label so a scanner cannot grow memory without bound.
const MAX_METHODS: usize = 200;

#[derive(Default, Clone)]
struct MethodStats {
    calls: u64,
    /// Calls answered with a gRPC status other than OK in the response headers, by code.
    errors: BTreeMap<String, u64>,
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    latency_sum_s: f64,
}

/// A value sampled when `/metrics` is scraped.
pub struct Gauge {
    /// Metric name, e.g. `ledger_projection_lag_events`.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Whether it only ever increases.
    pub counter: bool,
    /// Label pairs and values.
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Produces gauges at scrape time (appender counters, projection positions and lag).
pub type GaugeSource =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Gauge>> + Send>> + Send + Sync>;

/// The registry shared by the layer and the endpoint.
#[derive(Clone, Default)]
pub struct Metrics {
    methods: Arc<Mutex<BTreeMap<String, MethodStats>>>,
}

impl Metrics {
    fn record(&self, method: &str, elapsed: Duration, error_code: Option<&str>) {
        let mut methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let key = if methods.contains_key(method) || methods.len() < MAX_METHODS {
            method.to_owned()
        } else {
            "other".to_owned()
        };
        let stats = methods.entry(key).or_default();
        stats.calls += 1;
        if let Some(code) = error_code {
            *stats.errors.entry(code.to_owned()).or_default() += 1;
        }
        let seconds = elapsed.as_secs_f64();
        stats.latency_sum_s += seconds;
        for (bucket, bound) in stats.buckets.iter_mut().zip(LATENCY_BUCKETS_S) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition of the RPC metrics and `gauges`.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let methods = self
            .methods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str("# HELP ledger_rpc_calls_total gRPC calls answered, per method.\n");
        out.push_str("# TYPE ledger_rpc_calls_total counter\n");
        for (method, stats) in &methods {
            let _ = writeln!(
                out,
                "ledger_rpc_calls_total{{method=\"{method}\"}} {}",
                stats.calls
            );
        }
        out.push_str("# HELP ledger_rpc_errors_total gRPC calls answered with an error status.\n");
        out.push_str("# TYPE ledger_rpc_errors_total counter\n");
        for (method, stats) in &methods {
            for (code, count) in &stats.errors {
                let _ = writeln!(
                    out,
                    "ledger_rpc_errors_total{{method=\"{method}\",code=\"{code}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP ledger_rpc_latency_seconds Time to the response headers.\n");
        out.push_str("# TYPE ledger_rpc_latency_seconds histogram\n");
        for (method, stats) in &methods {
            for (count, bound) in stats.buckets.iter().zip(LATENCY_BUCKETS_S) {
                let _ = writeln!(
                    out,
                    "ledger_rpc_latency_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "ledger_rpc_latency_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                stats.calls
            );
            let _ = writeln!(
                out,
                "ledger_rpc_latency_seconds_sum{{method=\"{method}\"}} {}",
                stats.latency_sum_s
            );
            let _ = writeln!(
                out,
                "ledger_rpc_latency_seconds_count{{method=\"{method}\"}} {}",
                stats.calls
            );
        }
        for gauge in gauges {
            let kind = if gauge.counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {} {}", gauge.name, gauge.help);
            let _ = writeln!(out, "# TYPE {} {kind}", gauge.name);
            for (labels, value) in &gauge.samples {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(name, value)| format!("{name}=\"{value}\""))
                    .collect();
                if labels.is_empty() {
                    let _ = writeln!(out, "{} {value}", gauge.name);
                } else {
                    let _ = writeln!(out, "{}{{{}}} {value}", gauge.name, labels.join(","));
                }
            }
        }
        out
    }

    /// The tower layer that records every call.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer {
            metrics: self.clone(),
        }
    }
}

/// Records calls and latencies of the service it wraps.
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`MetricsLayer`] produces.
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, B, R> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .filter(|code| *code != "0")
                    .map(str::to_owned),
                Err(_) => Some("transport".to_owned()),
            };
            metrics.record(&method, started.elapsed(), code.as_deref());
            response
        })
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes. Each scrape samples `source`.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    source: GaugeSource,
    shutdown: impl Future<Output = ()>,
) {
    let source = Arc::new(source);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let (metrics, source) = (metrics.clone(), Arc::clone(&source));
        tokio::spawn(async move {
            // A scrape request is a few hundred bytes; read what arrives within a second.
            let mut request = [0u8; 4096];
            let read =
                tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request)).await;
            let Ok(Ok(length)) = read else { return };
            let head = String::from_utf8_lossy(&request[..length]);
            let response = if head.starts_with("GET /metrics") {
                let body = metrics.render(&source().await);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_errors_and_latency_buckets_are_rendered_per_method() {
        let metrics = Metrics::default();
        metrics.record("/a.B/C", Duration::from_micros(700), None);
        metrics.record("/a.B/C", Duration::from_millis(30), Some("9"));
        let text = metrics.render(&[Gauge {
            name: "ledger_projection_lag_events",
            help: "Events the projection is behind the log.",
            counter: false,
            samples: vec![(vec![("projection", "balances".into())], 3.0)],
        }]);
        assert!(text.contains("ledger_rpc_calls_total{method=\"/a.B/C\"} 2"));
        assert!(text.contains("ledger_rpc_errors_total{method=\"/a.B/C\",code=\"9\"} 1"));
        assert!(
            text.contains("ledger_rpc_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.001\"} 1")
        );
        assert!(
            text.contains("ledger_rpc_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.05\"} 2")
        );
        assert!(text.contains("ledger_projection_lag_events{projection=\"balances\"} 3"));
    }

    #[test]
    fn unknown_paths_beyond_the_bound_share_one_label() {
        let metrics = Metrics::default();
        for n in 0..MAX_METHODS + 50 {
            metrics.record(&format!("/scan/{n}"), Duration::from_millis(1), None);
        }
        let methods = metrics.methods.lock().unwrap();
        assert_eq!(methods.len(), MAX_METHODS + 1);
        assert_eq!(methods["other"].calls, 50);
    }
}
