//! The notifier: the notifications outbox as a resumable stream, and the dashboard's
//! low-balance threshold that causes some of its notices.

use std::time::Duration;

use ledger_api::pb;
use tonic::Streaming;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{AccountId, id};

role! {
    /// The service that emails and pages people: streams the notifications outbox.
    Notifier
}

/// How long a test waits for the next notice before it fails.
const NEXT_WITHIN: Duration = Duration::from_secs(20);

impl Notifier {
    /// The stream of notices after `after` (`None`: from the first).
    pub fn subscribe(
        &self,
        after: Option<pb::NotificationCursor>,
    ) -> Call<Streaming<pb::Notification>> {
        self.rpc.subscribe(pb::SubscribeRequest { after })
    }
}

/// The next `n` notices of `stream`; fails the test if they do not come in time.
pub async fn next_notices(
    stream: &mut Streaming<pb::Notification>,
    n: usize,
) -> Vec<pb::Notification> {
    let mut notices = Vec::with_capacity(n);
    while notices.len() < n {
        let next = tokio::time::timeout(NEXT_WITHIN, stream.message())
            .await
            .unwrap_or_else(|_| panic!("notice {} of {n} did not come in time", notices.len() + 1))
            .expect("the stream stays open")
            .expect("the stream does not end");
        notices.push(next);
    }
    notices
}

/// Whether `stream` stays quiet for `quiet` (no further notice).
pub async fn stays_quiet(stream: &mut Streaming<pb::Notification>, quiet: Duration) -> bool {
    tokio::time::timeout(quiet, stream.message()).await.is_err()
}

impl Dashboard {
    /// Sets (`Some`) or clears the low-balance threshold of `account`.
    pub fn set_low_balance_threshold(
        &self,
        account: &AccountId,
        threshold: Option<&str>,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .set_low_balance_threshold(pb::SetLowBalanceThresholdRequest {
                command_id: id(),
                account_id: account.to_string(),
                threshold: threshold.map(str::to_owned),
            })
    }
}
