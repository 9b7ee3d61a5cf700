//! Prometheus metrics: calls and latencies per RPC (a tower layer on the gRPC server), plus
//! gauges sampled from the appender and the projections, served as text on `/metrics`.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The label of every path that is not one of the server's RPCs: a scanner sending made-up
/// paths adds no series.
const UNKNOWN_RPC: &str = "unknown";

/// The reflection RPCs (their descriptors are not in the sets the server registers).
const REFLECTION_RPCS: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// A call's labels: the RPC (`/package.Service/Method`, or `unknown`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: &'static str,
}

/// A failed call's labels: the RPC and the gRPC status code (or `transport`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcErrorLabels {
    method: &'static str,
    code: String,
}

/// A value sampled when `/metrics` is scraped.
#[derive(Debug, Clone)]
pub struct Gauge {
    /// Metric name, e.g. `ledger_projection_lag_events`; a counter's ends in `_total`.
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

/// The gauges of the scrape in progress, handed to the registry's encoder.
#[derive(Debug, Default)]
struct Sampled(Mutex<Vec<Gauge>>);

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for gauge in gauges.iter() {
            // The encoder adds `_total` to a counter's name itself.
            let (name, kind) = match gauge.counter {
                true => (
                    gauge.name.strip_suffix("_total").unwrap_or(gauge.name),
                    MetricType::Counter,
                ),
                false => (gauge.name, MetricType::Gauge),
            };
            let mut metric = encoder.encode_descriptor(name, gauge.help, None, kind)?;
            for (labels, value) in &gauge.samples {
                let labels: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let mut sample = metric.encode_family(&labels)?;
                // Whole values print as integers (`7`, not `7.0`), as scrapers and tests read
                // counts.
                let whole = (value.fract() == 0.0 && value.abs() < 9.0e15).then_some(*value as i64);
                match (gauge.counter, whole) {
                    (true, Some(count)) => {
                        sample.encode_counter::<NoLabelSet, _, f64>(&(count.max(0) as u64), None)?
                    }
                    (true, None) => sample.encode_counter::<NoLabelSet, _, f64>(value, None)?,
                    (false, Some(whole)) => sample.encode_gauge(&whole)?,
                    (false, None) => sample.encode_gauge(value)?,
                }
            }
        }
        Ok(())
    }
}

/// The registry shared by the layer and the endpoint.
#[derive(Clone)]
pub struct Metrics(Arc<Registered>);

struct Registered {
    registry: Registry,
    /// The server's RPC paths: the only `method` label values besides `unknown`.
    known: BTreeSet<&'static str>,
    calls: Family<RpcLabels, Counter>,
    errors: Family<RpcErrorLabels, Counter>,
    latency: Family<RpcLabels, Histogram>,
    sampled: Arc<Sampled>,
    /// One scrape at a time: the gauges sampled are the ones encoded.
    scrape: tokio::sync::Mutex<()>,
}

impl Default for Metrics {
    /// Metrics for the RPCs of `arouter.ledger.v1`, health and reflection.
    fn default() -> Self {
        let mut known: BTreeSet<&'static str> = REFLECTION_RPCS.into_iter().collect();
        for set in [
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            known.extend(rpc_paths(set));
        }
        Metrics::for_rpcs(known)
    }
}

/// `/package.Service/Method` of every method in an encoded file descriptor set. Leaked once
/// per process: they label series for its whole life.
fn rpc_paths(encoded: &[u8]) -> Vec<&'static str> {
    let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                paths.push(&*Box::leak(path.into_boxed_str()));
            }
        }
    }
    paths
}

impl Metrics {
    /// Metrics whose `method` label is one of `known`, or `unknown`.
    fn for_rpcs(known: BTreeSet<&'static str>) -> Self {
        let mut registry = Registry::default();
        let calls = Family::<RpcLabels, Counter>::default();
        let errors = Family::<RpcErrorLabels, Counter>::default();
        let latency = Family::<RpcLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS_S)
        });
        registry.register(
            "ledger_rpc_calls",
            "gRPC calls answered, per method.",
            calls.clone(),
        );
        registry.register(
            "ledger_rpc_errors",
            "gRPC calls answered with an error status.",
            errors.clone(),
        );
        registry.register(
            "ledger_rpc_latency_seconds",
            "Time to the response headers.",
            latency.clone(),
        );
        let sampled = Arc::new(Sampled::default());
        registry.register_collector(Box::new(Arc::clone(&sampled)));
        Metrics(Arc::new(Registered {
            registry,
            known,
            calls,
            errors,
            latency,
            sampled,
            scrape: tokio::sync::Mutex::new(()),
        }))
    }

    fn record(&self, path: &str, elapsed: Duration, error_code: Option<&str>) {
        let m = &self.0;
        let method = m.known.get(path).copied().unwrap_or(UNKNOWN_RPC);
        m.calls.get_or_create(&RpcLabels { method }).inc();
        if let Some(code) = error_code {
            let code = code.to_owned();
            m.errors
                .get_or_create(&RpcErrorLabels { method, code })
                .inc();
        }
        m.latency
            .get_or_create(&RpcLabels { method })
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of the RPC metrics and of the gauges `source` samples.
    pub async fn render(&self, source: &GaugeSource) -> String {
        let _one_scrape = self.0.scrape.lock().await;
        let gauges = source().await;
        *self.0.sampled.0.lock().unwrap_or_else(|e| e.into_inner()) = gauges;
        let mut out = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry)
        {
            tracing::error!(%error, "metrics could not be encoded");
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
                Ok(response) => crate::access::grpc_status(response.headers())
                    .filter(|code| *code != 0)
                    .map(|code| code.to_string()),
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
                let body = metrics.render(&source).await;
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

    fn lag_gauge() -> GaugeSource {
        Box::new(|| {
            Box::pin(async {
                vec![
                    Gauge {
                        name: "ledger_projection_lag_events",
                        help: "Events the projection is behind the log.",
                        counter: false,
                        samples: vec![(vec![("projection", "balances".into())], 3.0)],
                    },
                    Gauge {
                        name: "ledger_appends_total",
                        help: "Appends.",
                        counter: true,
                        samples: vec![(Vec::new(), 7.0)],
                    },
                ]
            })
        })
    }

    #[tokio::test]
    async fn calls_errors_latency_buckets_and_sampled_gauges_are_rendered_per_method() {
        let metrics = Metrics::for_rpcs(["/a.B/C"].into_iter().collect());
        metrics.record("/a.B/C", Duration::from_micros(700), None);
        metrics.record("/a.B/C", Duration::from_millis(30), Some("9"));
        let text = metrics.render(&lag_gauge()).await;
        assert!(
            text.contains("ledger_rpc_calls_total{method=\"/a.B/C\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("ledger_rpc_errors_total{method=\"/a.B/C\",code=\"9\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ledger_rpc_latency_seconds_bucket{le=\"0.001\",method=\"/a.B/C\"} 1")
                || text.contains(
                    "ledger_rpc_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.001\"} 1"
                ),
            "{text}"
        );
        assert!(
            text.contains("ledger_projection_lag_events{projection=\"balances\"} 3"),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l == "ledger_appends_total 7"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ledger_appends_total counter"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn paths_that_are_not_rpcs_share_one_label_and_cannot_break_the_exposition() {
        let metrics = Metrics::default();
        for n in 0..500 {
            metrics.record(
                &format!("/scan/{n}\"}} 1\n"),
                Duration::from_millis(1),
                None,
            );
        }
        metrics.record(
            "/arouter.ledger.v1.GatewayService/PlaceHold",
            Duration::from_millis(1),
            None,
        );
        let text = metrics.render(&lag_gauge()).await;
        assert!(
            text.contains("ledger_rpc_calls_total{method=\"unknown\"} 500"),
            "{text}"
        );
        assert!(
            text.contains(
                "ledger_rpc_calls_total{method=\"/arouter.ledger.v1.GatewayService/PlaceHold\"} 1"
            ),
            "{text}"
        );
        assert!(!text.contains("scan"), "{text}");
        assert!(metrics.0.known.contains("/grpc.health.v1.Health/Check"));
        assert!(metrics.0.known.contains(REFLECTION_RPCS[1]));
    }
}
