//! Money corrections as support and the dashboard make them: adjustments, transfer reversals,
//! refunds, receipts, and the system books.

use ledger_api::pb;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{AccountId, id};
use super::roles::{Auditor, Support};

impl Support {
    /// Credits (`credit`) or debits `amount` on `account`, for a ticket; `recovery` lets a
    /// debit go below zero.
    pub fn adjust(
        &self,
        account: &AccountId,
        credit: bool,
        amount: &str,
        recovery: bool,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .adjust_credits(adjust_request(account, credit, amount, recovery))
    }

    /// Moves `amount` credits from `from` to `to` as transfer `transfer_id`.
    pub fn transfer_as(
        &self,
        transfer_id: &str,
        from: &AccountId,
        to: &AccountId,
        amount: &str,
    ) -> Call<pb::CommandResponse> {
        self.rpc.transfer_credits(pb::TransferCreditsRequest {
            command_id: id(),
            transfer_id: transfer_id.into(),
            from_account_id: from.to_string(),
            to_account_id: to.to_string(),
            amount: amount.into(),
            reason: "consolidate credits".into(),
            ticket: "SUP-1".into(),
        })
    }

    /// Reverses transfer `transfer_id`, which went to `account`.
    pub fn reverse(&self, account: &AccountId, transfer_id: &str) -> Call<pb::CommandResponse> {
        self.rpc
            .reverse_transfer(reverse_request(account, transfer_id))
    }
}

/// An adjustment of `amount` on `account` under a fresh command id, ticket `SUP-7`.
pub fn adjust_request(
    account: &AccountId,
    credit: bool,
    amount: &str,
    recovery: bool,
) -> pb::AdjustCreditsRequest {
    let direction = if credit {
        pb::AdjustmentDirection::Credit
    } else {
        pb::AdjustmentDirection::Debit
    };
    pb::AdjustCreditsRequest {
        command_id: id(),
        adjustment_id: String::new(),
        account_id: account.to_string(),
        direction: direction.into(),
        amount: amount.into(),
        reason: "goodwill after an outage".into(),
        ticket: "SUP-7".into(),
        recovery,
    }
}

/// The reversal of `transfer_id` (to `account`) under a fresh command id, ticket `SUP-8`.
pub fn reverse_request(account: &AccountId, transfer_id: &str) -> pb::ReverseTransferRequest {
    pb::ReverseTransferRequest {
        command_id: id(),
        transfer_id: transfer_id.into(),
        account_id: account.to_string(),
        reason: "transferred by mistake".into(),
        ticket: "SUP-8".into(),
    }
}

impl Dashboard {
    /// Records the provider's refund of the purchase paid with `reference`.
    pub fn refund(&self, account: &AccountId, reference: &str) -> Call<pb::CommandResponse> {
        self.rpc.refund_purchase(pb::RefundPurchaseRequest {
            command_id: id(),
            account_id: account.to_string(),
            payment_reference: reference.into(),
        })
    }

    /// The PDF receipt of the purchase paid with `reference`.
    pub fn receipt(
        &self,
        account: &AccountId,
        reference: &str,
    ) -> Call<pb::GetPurchaseReceiptResponse> {
        self.rpc
            .get_purchase_receipt(pb::GetPurchaseReceiptRequest {
                account_id: account.to_string(),
                payment_reference: reference.into(),
                min_position: self.min_position,
            })
    }
}

impl Auditor {
    /// The first page of a system book (`external`, `revenue`, `transfers`, `adjustments`),
    /// once the read models have reached `min_position`.
    pub fn book(&self, book: &str, min_position: i64) -> Call<pb::ListLedgerEntriesResponse> {
        self.rpc.list_book_entries(pb::ListBookEntriesRequest {
            book: book.into(),
            min_position,
            page_size: 500,
            ..Default::default()
        })
    }
}
