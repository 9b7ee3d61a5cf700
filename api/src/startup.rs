//! Start-up that rides out a database that is not there yet: the attempts are retried with
//! capped exponential backoff while the failure is one of reaching PostgreSQL, until
//! `--startup-timeout-s`; meanwhile the gRPC listener is up, health says NOT_SERVING and the
//! ledger's RPCs answer UNAVAILABLE through [`LateRoutes`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::service::Routes;

use crate::error::AppError;

/// The first wait between attempts; doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs `attempt` until it succeeds, fails with an error that is not about reaching the
/// database, or `timeout` has passed (then the last error is returned, saying so).
pub async fn retry<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match tokio::time::timeout(left, attempt()).await {
            Ok(Ok(value)) => {
                if attempts > 1 {
                    tracing::info!(attempts, "{what}: the database answers");
                }
                return Ok(value);
            }
            Ok(Err(error)) if !is_transient(&error) => return Err(error),
            Ok(Err(error)) => error,
            Err(_) => anyhow::anyhow!("the attempt was still waiting for the database"),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(error.context(format!(
                "{what}: gave up after {} s and {attempts} attempts (--startup-timeout-s): the \
                 database is unreachable",
                timeout.as_secs()
            )));
        }
        let wait = backoff.min(left);
        tracing::warn!(
            error = format!("{error:#}"),
            attempt = attempts,
            retry_in_ms = wait.as_millis() as u64,
            "{what}: the database is not reachable yet; retrying"
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Opens and closes one connection with the pool's settings: fails at once, with the
/// connection's own error (refused, reset, starting up), where the pool would wait its acquire
/// timeout and say only that it timed out.
pub async fn reachable(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    use sqlx::{ConnectOptions, Connection};
    pool.connect_options().connect().await?.close().await?;
    Ok(())
}

/// Whether `error` is about reaching PostgreSQL (refused, reset, timed out, starting up or
/// shutting down), so that trying again later may succeed. Anything else (a bad schema, a
/// wrong key-hash secret, a missing database) fails start-up at once.
pub fn is_transient(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .is_some_and(is_transient_sqlx)
            || cause
                .downcast_ref::<ledger_eventstore::StoreError>()
                .is_some_and(|e| matches!(e, ledger_eventstore::StoreError::Unavailable))
    })
}

fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions (08…), the server shutting down or starting up (57P01-03),
        // too many connections (53300).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// The ledger's services, routed once start-up has built them; until then every call to
/// them is answered UNAVAILABLE (with `RetryInfo`), as an outage would be.
#[derive(Clone, Default)]
pub struct LateRoutes(Arc<OnceLock<Routes>>);

impl LateRoutes {
    /// Starts routing to `routes` (once; later calls are ignored).
    pub fn set(&self, routes: Routes) {
        let _ = self.0.set(routes.prepare());
    }
}

type Reply = http::Response<tonic::body::Body>;

impl<B> tower::Service<http::Request<B>> for LateRoutes
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.0.get() {
            Some(routes) => {
                let mut routes = routes.clone();
                Box::pin(tower::Service::call(&mut routes, request))
            }
            None => {
                let status = tonic::Status::from(AppError::Unavailable);
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}
