//! Authentication before decoding: a tower layer around every gRPC service that checks a
//! call's bearer token from its headers alone, before the body is read. A call without a valid
//! credential is answered `UNAUTHENTICATED` at once (its body, however large or garbled, is
//! never decoded); a credential over its rate limit is answered `RESOURCE_EXHAUSTED` with
//! `google.rpc.RetryInfo`. An admitted call carries its [`CallContext`] in the request's
//! extensions, where the services read it. Health checks and reflection need no credential.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::Status;

use super::rate::{Rate, RateLimiter};
use super::{CallContext, Credentials};
use crate::error::AppError;

/// Paths served without a credential: health checks (load balancers) and reflection.
fn open(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// What the layer checks a call against.
struct Gate {
    credentials: Arc<Credentials>,
    per_credential: RateLimiter<Arc<str>>,
}

impl Gate {
    /// The caller of a call with these headers, within its credential's rate.
    fn admit(&self, headers: &http::HeaderMap) -> Result<CallContext, AppError> {
        let cx = self.credentials.authenticate(headers)?;
        if let Some(name) = &cx.credential {
            self.per_credential
                .check(name, Instant::now())
                .map_err(|wait| AppError::RateLimited {
                    what: "this credential",
                    wait,
                })?;
        }
        Ok(cx)
    }
}

/// Authenticates every call before it is decoded (see the module docs).
#[derive(Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

impl AuthLayer {
    /// Checks calls against `credentials`, each credential at most at `per_credential`.
    pub fn new(credentials: Arc<Credentials>, per_credential: Rate) -> Self {
        Self {
            gate: Arc::new(Gate {
                credentials,
                per_credential: RateLimiter::new(per_credential),
            }),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S, B, R> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if !open(request.uri().path()) {
            match self.gate.admit(request.headers()) {
                Ok(cx) => {
                    request.extensions_mut().insert(cx);
                }
                Err(error) => {
                    let response = Status::from(error).into_http();
                    return Box::pin(std::future::ready(Ok(response)));
                }
            }
        }
        Box::pin(self.inner.call(request))
    }
}
