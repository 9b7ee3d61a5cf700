//! One call to `ledgerd`, awaited for its reply or asserted to be refused.
//!
//! Awaiting a [`Call`] gives the reply and fails the test on any error, naming the RPC. A test
//! that expects a refusal says which: [`Call::refused`] (a code), [`Call::refused_because`] (an
//! `ErrorInfo` reason), [`Call::refused_with`] (both), [`Call::refused_field`] (a field named in
//! a `BadRequest`); each returns the status for further checks. [`Call::outcome`] gives the
//! `Result` itself, for tallies and races.

use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A boxed future that can be spawned.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A call sent when awaited (or when one of its methods is awaited).
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<T> {
    rpc: &'static str,
    reply: BoxFuture<Result<T, Status>>,
}

impl<T: Send + 'static> Call<T> {
    /// The call `rpc` that `reply` makes.
    pub fn new(
        rpc: &'static str,
        reply: impl Future<Output = Result<T, Status>> + Send + 'static,
    ) -> Call<T> {
        Call {
            rpc,
            reply: Box::pin(reply),
        }
    }

    /// The same call with its reply turned into `U`.
    pub fn map<U: Send + 'static>(self, into: impl FnOnce(T) -> U + Send + 'static) -> Call<U> {
        let reply = self.reply;
        Call::new(self.rpc, async move { reply.await.map(into) })
    }

    /// The reply or the status, as the server answered.
    pub async fn outcome(self) -> Result<T, Status> {
        self.reply.await
    }
}

impl<T: Debug + Send + 'static> Call<T> {
    /// The status of a call that must fail, whatever its code.
    pub async fn refusal(self) -> Status {
        match self.reply.await {
            Ok(reply) => panic!("{} was expected to fail and answered {reply:?}", self.rpc),
            Err(status) => status,
        }
    }

    /// The status of a call that must be refused with `code`.
    pub async fn refused(self, code: Code) -> Status {
        let rpc = self.rpc;
        let status = self.refusal().await;
        assert_eq!(status.code(), code, "{rpc}: {status:?}");
        status
    }

    /// The status of a call that must be refused with the `ErrorInfo` reason `expected`.
    pub async fn refused_because(self, expected: &str) -> Status {
        let rpc = self.rpc;
        let status = self.refusal().await;
        assert_eq!(reason(&status), expected, "{rpc}: {status:?}");
        status
    }

    /// The status of a call that must be refused with `code` and the reason `expected`.
    pub async fn refused_with(self, code: Code, expected: &str) -> Status {
        let rpc = self.rpc;
        let status = self.refusal().await;
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (code, expected),
            "{rpc}: {status:?}"
        );
        status
    }

    /// The status of a call that must be refused as INVALID_ARGUMENT naming `field`, and only
    /// it, in a `BadRequest`.
    pub async fn refused_field(self, field: &str) -> Status {
        let status = self.refusal().await;
        assert_bad_field(&status, field);
        status
    }
}

impl<T: Send + 'static> Call<tonic::Streaming<T>> {
    /// The call with its stream read to the end: every message, or the first error.
    pub fn all(self) -> Call<Vec<T>> {
        let stream = self.reply;
        Call::new(self.rpc, async move {
            let mut stream = stream.await?;
            let mut messages = Vec::new();
            while let Some(message) = stream.message().await? {
                messages.push(message);
            }
            Ok(messages)
        })
    }
}

impl<T: Send + 'static> IntoFuture for Call<T> {
    type Output = T;
    type IntoFuture = BoxFuture<T>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            match self.reply.await {
                Ok(reply) => reply,
                Err(status) => panic!("{} failed: {status:?}", self.rpc),
            }
        })
    }
}

/// The `ErrorInfo.reason` of a status (empty without one).
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Asserts INVALID_ARGUMENT naming `field`, and only it, in a `BadRequest` violation.
#[track_caller]
pub fn assert_bad_field(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, vec![field.to_owned()], "{status:?}");
}
