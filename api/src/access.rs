//! The access log: a tracing span per RPC (`rpc`, with the correlation id, the caller kind and
//! the credential name once authenticated) and one `ledger::access` event per call when it
//! ends, carrying the RPC, the gRPC status code and the latency. With `--log-format json` that
//! event is one JSON line per call.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::CallContext;

/// Who made the call, once authentication has said so.
#[derive(Default)]
struct Noted {
    correlation_id: Option<String>,
    caller_kind: Option<&'static str>,
    credential: Option<Arc<str>>,
}

tokio::task_local! {
    /// The access record of the call the current task serves.
    static CALL: Arc<Mutex<Noted>>;
}

/// Records the authenticated caller on the current call's access record and span (a no-op
/// outside a call, e.g. for the system's own commands).
pub fn note_caller(context: &CallContext) {
    let correlation_id = context.correlation_id.to_string();
    let span = tracing::Span::current();
    span.record("correlation_id", correlation_id.as_str());
    span.record("caller_kind", context.kind_name());
    if let Some(name) = &context.credential {
        span.record("credential", &**name);
    }
    let _ = CALL.try_with(|call| {
        let mut noted = call.lock().unwrap_or_else(|e| e.into_inner());
        noted.correlation_id = Some(correlation_id);
        noted.caller_kind = Some(context.kind_name());
        noted.credential.clone_from(&context.credential);
    });
}

/// The tower layer that opens the span and writes the access line of every call.
#[derive(Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service [`AccessLogLayer`] produces.
#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for AccessLog<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Body + Send + 'static,
{
    type Response = http::Response<AccessBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let rpc = request.uri().path().to_owned();
        let correlation_id = request
            .headers()
            .get("x-correlation-id")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| uuid::Uuid::parse_str(value).ok())
            .map(|id| id.to_string());
        let span = tracing::info_span!(
            "rpc",
            rpc = %rpc,
            correlation_id = correlation_id.as_deref(),
            caller_kind = Empty,
            credential = Empty,
        );
        let noted = Arc::new(Mutex::new(Noted {
            correlation_id,
            ..Noted::default()
        }));
        let started = Instant::now();
        let response = {
            let _entered = span.enter();
            CALL.sync_scope(Arc::clone(&noted), || self.inner.call(request))
        };
        let record = Record {
            rpc,
            noted: Arc::clone(&noted),
            started,
            span: span.clone(),
        };
        Box::pin(
            CALL.scope(noted, async move {
                let response = response.await?;
                let (parts, body) = response.into_parts();
                // An error answered at once travels in the headers (trailers-only).
                let code = grpc_status(&parts.headers);
                let body = AccessBody {
                    inner: Box::pin(body),
                    record: Some(record),
                    code,
                };
                Ok(http::Response::from_parts(parts, body))
            })
            .instrument(span),
        )
    }
}

/// The gRPC status code in `headers`, when the call ended there (trailers-only).
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// What the access line of one call says, written once when its response ends.
struct Record {
    rpc: String,
    noted: Arc<Mutex<Noted>>,
    started: Instant,
    span: tracing::Span,
}

impl Record {
    /// Writes the access line. `code` is the call's gRPC status; `None` when the response
    /// ended without one (the client went away or the connection broke).
    fn write(self, code: Option<i32>) {
        let noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        let latency_ms = self.started.elapsed().as_secs_f64() * 1_000.0;
        let code_name = code.map_or("CANCELLED_BY_CLIENT", |c| code_name(tonic::Code::from(c)));
        tracing::info!(
            target: "ledger::access",
            parent: &self.span,
            rpc = %self.rpc,
            code = code_name,
            grpc_status = code,
            latency_ms,
            correlation_id = noted.correlation_id.as_deref(),
            caller_kind = noted.caller_kind,
            credential = noted.credential.as_deref(),
            "rpc"
        );
    }
}

/// The canonical name of a gRPC status code (as in `google.rpc.Code`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A response body that writes the call's access line when it ends (its trailers carry the
/// status of a streamed or successful call), or when it is dropped before that.
pub struct AccessBody<B> {
    inner: Pin<Box<B>>,
    record: Option<Record>,
    code: Option<i32>,
}

impl<B> AccessBody<B> {
    fn finish(&mut self) {
        if let Some(record) = self.record.take() {
            record.write(self.code);
        }
    }
}

impl<B: Body> Body for AccessBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    self.code = Some(code);
                    self.finish();
                }
            }
            Poll::Ready(None) => self.finish(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for AccessBody<B> {
    fn drop(&mut self) {
        self.finish();
    }
}
