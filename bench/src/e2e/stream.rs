//! The gateway over `Bill` streams: one stream per connection, shared by the callers on it;
//! each item's reply is routed back to its caller by sequence number.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ledger_api::pb;
use ledger_api::pb::bill_reply::Reply;
use ledger_api::pb::bill_request::Call;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use super::cluster::Cluster;

/// Items a caller may queue on its stream before the stream's sender waits.
const OUTBOX_ITEMS: usize = 1024;

/// Callers waiting for their reply, by sequence number.
type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Option<Reply>>>>>;

/// One `Bill` stream.
struct BillStream {
    outbox: mpsc::Sender<pb::BillRequest>,
    waiting: Waiting,
    next: AtomicU64,
}

/// A `Bill` stream per gateway connection of a cluster.
pub struct BillStreams {
    streams: Vec<BillStream>,
}

impl BillStreams {
    /// Opens one stream on each of `cluster`'s connections, as the gateway.
    pub async fn open(cluster: &Cluster) -> anyhow::Result<BillStreams> {
        let mut streams = Vec::new();
        for n in 0..cluster.connections() {
            let mut gateway = cluster.clients("gateway", None, n).gateway;
            let (outbox, items) = mpsc::channel(OUTBOX_ITEMS);
            let mut replies = gateway.bill(ReceiverStream::new(items)).await?.into_inner();
            let waiting: Waiting = Arc::default();
            let route = Arc::clone(&waiting);
            tokio::spawn(async move {
                while let Ok(Some(reply)) = replies.message().await {
                    let caller = lock(&route).remove(&reply.sequence);
                    if let Some(caller) = caller {
                        let _ = caller.send(reply.reply);
                    }
                }
                // The stream ended: every caller still waiting is told so.
                lock(&route).clear();
            });
            streams.push(BillStream {
                outbox,
                waiting,
                next: AtomicU64::new(0),
            });
        }
        Ok(BillStreams { streams })
    }

    /// Sends `call` on stream `n` (modulo their number) and waits for its reply; a refused
    /// item is its status.
    pub async fn call(&self, n: u64, call: Call) -> Result<Reply, Status> {
        let stream = &self.streams[n as usize % self.streams.len()];
        let sequence = stream.next.fetch_add(1, Ordering::Relaxed);
        let (answer, reply) = oneshot::channel();
        lock(&stream.waiting).insert(sequence, answer);
        let closed = || Status::unavailable("the Bill stream closed");
        stream
            .outbox
            .send(pb::BillRequest {
                sequence,
                call: Some(call),
            })
            .await
            .map_err(|_| closed())?;
        match reply.await.map_err(|_| closed())? {
            Some(Reply::Error(error)) => Err(Status::new(Code::from(error.code), error.message)),
            Some(reply) => Ok(reply),
            None => Err(Status::internal("an empty reply")),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
