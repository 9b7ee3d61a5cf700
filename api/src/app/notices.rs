//! A decision's notices as outbox messages, appended in the same transaction as its events:
//! the domain's `notice` rules, given the accounts the decision writes as it saw them.

use ledger_domain::account::{AccountEvent, AccountState};
use ledger_domain::notice::notices;
use ledger_domain::{AccountId, Decision, Event, ExpectedVersion};
use ledger_eventstore::OutboxMessage;

use super::App;
use super::command::Loader;
use crate::error::AppError;

impl App {
    /// The outbox messages of `decision`. Each account it appends to is read through `loader`
    /// (a pipelined command's own account as the pipeline handed it over; others from the
    /// cache or the log) and used only if it is the state the decision expects: otherwise the
    /// append conflicts and the command is decided, and its notices derived, again.
    pub(super) async fn outbox(
        &self,
        decision: &Decision,
        loader: &Loader<'_>,
    ) -> Result<Vec<OutboxMessage>, AppError> {
        let mut accounts: Vec<AccountId> = Vec::new();
        for event in decision.events() {
            if let Event::Account(event) = event
                && !matches!(event, AccountEvent::Opened(_))
                && !accounts.contains(&event.account_id())
            {
                accounts.push(event.account_id());
            }
        }
        let mut before = Vec::with_capacity(accounts.len());
        for id in accounts {
            let stream = id.stream();
            let Some(expected) = decision
                .changes
                .iter()
                .find(|change| change.stream == stream)
                .map(|change| change.expected)
            else {
                continue;
            };
            if expected == ExpectedVersion::NoStream {
                continue;
            }
            let view = loader.account(id).await?;
            if ExpectedVersion::at(view.state.version) == expected {
                before.push(view);
            }
        }
        let states: Vec<&AccountState> = before.iter().map(|view| &view.state).collect();
        notices(decision, &states)
            .into_iter()
            .map(|notice| {
                let payload = serde_json::to_value(&notice)
                    .map_err(|e| AppError::Internal(format!("a notice does not encode: {e}")))?;
                Ok(OutboxMessage {
                    kind: notice.kind().to_owned(),
                    payload,
                })
            })
            .collect()
    }
}
