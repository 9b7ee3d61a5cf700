//! `GatewayService.Bill`: the gateway's billing stream. Each inbound item is one gateway call
//! with a client-chosen sequence number; it is answered by the unary handler of that call
//! (same command ids, refusals and authorization: the stream's credential), in a task of its
//! own, so items of every stream meet in the same executor and share its group commits.
//! Replies go back tagged with the item's sequence number, as they complete.
//!
//! Back-pressure: a stream holds at most `in_flight` permits; one is taken before an item is
//! read and given back when its reply is handed to the transport. With all of them out, the
//! stream is not read, so HTTP/2 flow control stops the client: nothing on the server grows
//! with what a client sends faster than it reads.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Status, Streaming};

use super::gateway::{self, item_error};
use super::{AccountRequest, CommandRequest, Query, Shared, on_account, projected, submit};
use crate::app::{App, Done, allow};
use crate::auth::CallContext;
use crate::error::AppError;
use crate::pb;
use crate::pb::bill_reply::Reply;
use crate::pb::bill_request::Call;
use ledger_domain::account::AccountCommand;
use ledger_domain::{Action, AuthContext};

/// Default of `--bill-in-flight`: items of one stream taken and not yet answered.
pub const DEFAULT_IN_FLIGHT: usize = 256;

/// What the server sends on a `Bill` stream.
pub type BillStream = Pin<Box<dyn Stream<Item = Result<pb::BillReply, Status>> + Send>>;

/// A reply, or the stream's end with a status, and the in-flight permit it frees once sent.
type Outgoing = (Result<pb::BillReply, Status>, OwnedSemaphorePermit);

/// The gateway calls a stream carries; a caller who may make none of them is refused when the
/// stream opens, as a batch is refused whole.
const STREAM_ACTIONS: [Action; 5] = [
    Action::AuthenticateKey,
    Action::PlaceHold,
    Action::SettleHold,
    Action::VoidHold,
    Action::RecordUsage,
];

/// One stream's shared context: the application, who calls, and the wait budget of its reads.
#[derive(Clone)]
struct Biller {
    app: Arc<App>,
    cx: CallContext,
    budget: Duration,
}

/// Opens a `Bill` stream for the caller of `request`, with at most `in_flight` items taken and
/// not yet answered.
pub fn open(
    shared: &Shared,
    request: Request<Streaming<pb::BillRequest>>,
    in_flight: usize,
) -> Result<BillStream, Status> {
    let cx = shared.caller(&request)?;
    let allowed = |action| allow(&cx.caller, action, &AuthContext::GLOBAL);
    if let Some(Err(denial)) = STREAM_ACTIONS.map(allowed).into_iter().reduce(Result::or) {
        return Err(denial.into());
    }
    let biller = Biller {
        app: Arc::clone(&shared.app),
        cx,
        budget: projected::wait_budget(request.metadata()),
    };
    let permits = Arc::new(Semaphore::new(in_flight));
    let (replies, outgoing) = mpsc::channel::<Outgoing>(in_flight);
    tokio::spawn(read(biller, request.into_inner(), permits, replies));
    Ok(Box::pin(ReceiverStream::new(outgoing).map(
        |(reply, permit)| {
            drop(permit);
            reply
        },
    )))
}

/// Reads the stream while permits last, answering each item in a task of its own; stops at
/// the stream's end, its first transport or decoding error (passed on), or once the client
/// stops listening.
async fn read(
    biller: Biller,
    mut inbound: Streaming<pb::BillRequest>,
    permits: Arc<Semaphore>,
    replies: mpsc::Sender<Outgoing>,
) {
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let message = tokio::select! {
            message = inbound.message() => message,
            () = replies.closed() => return,
        };
        match message {
            Ok(Some(item)) => {
                let (biller, replies) = (biller.clone(), replies.clone());
                tokio::spawn(async move {
                    let reply = biller.answer(item).await;
                    // The client may be gone; the item's outcome stands either way.
                    let _ = replies.send((Ok(reply), permit)).await;
                });
            }
            Ok(None) => return,
            Err(status) => {
                let _ = replies.send((Err(status), permit)).await;
                return;
            }
        }
    }
}

impl Biller {
    /// The reply to one item: what its unary RPC answers, or its refusal.
    async fn answer(&self, item: pb::BillRequest) -> pb::BillReply {
        let reply = match item.call {
            Some(call) => self.call(call).await,
            None => Err(AppError::invalid("call", "must name a call")),
        };
        pb::BillReply {
            sequence: item.sequence,
            reply: Some(reply.unwrap_or_else(|error| Reply::Error(item_error(error)))),
        }
    }

    async fn call(&self, call: Call) -> Result<Reply, AppError> {
        match call {
            Call::AuthenticateKey(req) => gateway::authenticate(self.query(req))
                .await
                .map(Reply::AuthenticateKey),
            Call::PlaceHold(req) => self
                .account_command(&req, gateway::place)
                .await
                .map(Reply::PlaceHold),
            Call::SettleHold(req) => self
                .account_command(&req, gateway::settle)
                .await
                .map(Reply::SettleHold),
            Call::VoidHold(req) => self
                .account_command(&req, gateway::void)
                .await
                .map(Reply::VoidHold),
            Call::RecordUsage(req) => self
                .account_command(&req, gateway::record)
                .await
                .map(Reply::RecordUsage),
            Call::AuthorizeAndHold(req) => gateway::authorize_and_hold(self.query(req))
                .await
                .map(Reply::AuthorizeAndHold),
        }
    }

    fn query<R>(&self, req: R) -> Query<R> {
        Query {
            app: Arc::clone(&self.app),
            cx: self.cx.clone(),
            req,
            budget: self.budget,
        }
    }

    /// As [`Shared::account_command`], for an item.
    async fn account_command<R, P>(
        &self,
        req: &R,
        command: fn(&R) -> Result<AccountCommand, AppError>,
    ) -> Result<P, AppError>
    where
        R: CommandRequest + AccountRequest,
        P: From<Done<()>>,
    {
        submit(&self.app, &self.cx, req, |req, _| on_account(req, command))
            .await
            .map(P::from)
    }
}
