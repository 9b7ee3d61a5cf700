//! The dashboard's spending controls: an organization's budget, members' spend caps, the
//! default key limit, and their read.

use ledger_api::pb;

use super::call::Call;
use super::dashboard::Dashboard;
use super::ids::{AccountId, User, id};

fn limit(amount: &str, period: pb::LimitPeriod) -> Option<pb::KeyLimit> {
    Some(pb::KeyLimit {
        amount: amount.into(),
        reset: period.into(),
    })
}

impl Dashboard {
    /// Lets the organization owning `account` spend `amount` per `period`.
    pub fn set_budget(
        &self,
        account: &AccountId,
        amount: &str,
        period: pb::LimitPeriod,
    ) -> Call<pb::CommandResponse> {
        self.set_budget_request(account, limit(amount, period))
    }

    /// Removes the budget of the organization owning `account`.
    pub fn clear_budget(&self, account: &AccountId) -> Call<pb::CommandResponse> {
        self.set_budget_request(account, None)
    }

    fn set_budget_request(
        &self,
        account: &AccountId,
        budget: Option<pb::KeyLimit>,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .set_organization_budget(pb::SetOrganizationBudgetRequest {
                command_id: id(),
                account_id: account.to_string(),
                budget,
            })
    }

    /// Lets the keys `member` created under `account` spend `amount` per `period` together.
    pub fn cap_member(
        &self,
        account: &AccountId,
        member: &User,
        amount: &str,
        period: pb::LimitPeriod,
    ) -> Call<pb::CommandResponse> {
        self.cap_member_request(account, member, limit(amount, period))
    }

    /// Removes `member`'s spend cap under `account`.
    pub fn uncap_member(&self, account: &AccountId, member: &User) -> Call<pb::CommandResponse> {
        self.cap_member_request(account, member, None)
    }

    fn cap_member_request(
        &self,
        account: &AccountId,
        member: &User,
        cap: Option<pb::KeyLimit>,
    ) -> Call<pb::CommandResponse> {
        self.rpc.set_member_spend_cap(pb::SetMemberSpendCapRequest {
            command_id: id(),
            account_id: account.to_string(),
            user_id: member.id.to_string(),
            cap,
        })
    }

    /// Sets the limit members' new keys under `account` get and may not exceed.
    pub fn set_default_key_limit(
        &self,
        account: &AccountId,
        amount: &str,
        period: pb::LimitPeriod,
    ) -> Call<pb::CommandResponse> {
        self.rpc
            .set_default_key_limit(pb::SetDefaultKeyLimitRequest {
                command_id: id(),
                account_id: account.to_string(),
                limit: limit(amount, period),
            })
    }

    /// The spending controls of `account`, with the spend they are checked against.
    pub fn spending_controls(&self, account: &AccountId) -> Call<pb::SpendingControls> {
        self.rpc
            .get_spending_controls(pb::GetSpendingControlsRequest {
                account_id: account.to_string(),
                min_position: self.min_position,
            })
    }
}
