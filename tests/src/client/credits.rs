//! The dashboard's credits: purchases, balances, the ledger, and the activity read models.

use std::time::{Duration, Instant};

use ledger_api::pb;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{AccountId, id};

impl Dashboard {
    /// Buys `amount` credits for `account`, paid by a payment of its own.
    pub fn buy(&self, account: &AccountId, amount: &str) -> Call<pb::CommandResponse> {
        self.buy_with_reference(account, amount, &format!("pay_{}", id()))
    }

    /// Buys `amount` credits for `account` with the provider's payment `reference` (a payment
    /// is credited once per account).
    pub fn buy_with_reference(
        &self,
        account: &AccountId,
        amount: &str,
        reference: &str,
    ) -> Call<pb::CommandResponse> {
        self.rpc.purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: account.to_string(),
            amount: amount.into(),
            payment_reference: reference.into(),
        })
    }

    /// `account`'s balance.
    pub fn balance(&self, account: &AccountId) -> Call<pb::GetAccountBalanceResponse> {
        self.rpc.get_account_balance(pb::GetAccountBalanceRequest {
            account_id: account.to_string(),
            min_position: self.min_position,
        })
    }

    /// `account`'s balance once `ready` holds of it, read every 200 ms for up to `within`;
    /// `awaited` says what did not happen in time.
    pub async fn balance_once(
        &self,
        account: &AccountId,
        ready: impl Fn(&pb::GetAccountBalanceResponse) -> bool,
        within: Duration,
        awaited: &str,
    ) -> pb::GetAccountBalanceResponse {
        let deadline = Instant::now() + within;
        loop {
            let balance = self.balance(account).await;
            if ready(&balance) {
                return balance;
            }
            assert!(Instant::now() < deadline, "{awaited}: {balance:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The first page of `account`'s ledger entries.
    pub fn ledger_entries(&self, account: &AccountId) -> Call<pb::ListLedgerEntriesResponse> {
        self.rpc.list_ledger_entries(pb::ListLedgerEntriesRequest {
            account_id: account.to_string(),
            min_position: self.min_position,
            ..Default::default()
        })
    }

    /// The first page of `account`'s activity feed, newest first.
    pub fn activity(&self, account: &AccountId) -> Call<pb::ListActivityResponse> {
        self.rpc.list_activity(pb::ListActivityRequest {
            account_id: account.to_string(),
            min_position: self.min_position,
            ..Default::default()
        })
    }

    /// `account`'s daily usage, grouped by `group_by`.
    pub fn usage_analytics(
        &self,
        account: &AccountId,
        group_by: pb::GroupBy,
    ) -> Call<pb::GetUsageAnalyticsResponse> {
        self.rpc.get_usage_analytics(pb::GetUsageAnalyticsRequest {
            account_id: account.to_string(),
            min_position: self.min_position,
            granularity: pb::Granularity::Day.into(),
            group_by: group_by.into(),
            ..Default::default()
        })
    }

    /// `account`'s whole activity feed exported in `format`, every chunk.
    pub fn export_activity(
        &self,
        account: &AccountId,
        format: pb::ExportFormat,
    ) -> Call<Vec<pb::ExportChunk>> {
        self.rpc
            .export_activity(pb::ExportActivityRequest {
                account_id: account.to_string(),
                min_position: self.min_position,
                format: format.into(),
                filter: None,
            })
            .all()
    }

    /// `account`'s daily usage grouped by `group_by`, exported in `format`, every chunk.
    pub fn export_analytics(
        &self,
        account: &AccountId,
        format: pb::ExportFormat,
        group_by: pb::GroupBy,
    ) -> Call<Vec<pb::ExportChunk>> {
        self.rpc
            .export_analytics(pb::ExportAnalyticsRequest {
                account_id: account.to_string(),
                min_position: self.min_position,
                format: format.into(),
                granularity: pb::Granularity::Day.into(),
                group_by: group_by.into(),
                ..Default::default()
            })
            .all()
    }
}
