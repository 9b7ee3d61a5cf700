//! The spending controls of `SettingsService`: an organization account's budget, members'
//! spend caps and the default key limit (commands on the account stream, decided by the
//! domain's `account::spending` rules), and their read, answered from the account state.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::account::{AccountCommand, KeyLimit};
use ledger_domain::{Action, Credits, DomainError, UserId, authorize};
use rust_decimal::Decimal;

use super::keys::period_pb;
use super::{Query, now};
use crate::error::AppError;
use crate::input;
use crate::pb;

/// The proto form of a limit, budget or cap.
pub fn limit_pb(limit: KeyLimit) -> pb::KeyLimit {
    pb::KeyLimit {
        amount: money(limit.amount.amount()),
        reset: period_pb(limit.reset).into(),
    }
}

fn money(amount: Decimal) -> String {
    amount.normalize().to_string()
}

/// `SetOrganizationBudget` → [`AccountCommand::SetBudget`].
pub fn set_budget(req: &pb::SetOrganizationBudgetRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SetBudget {
        budget: input::key_limit("budget", req.budget.as_ref())?,
        at: now(),
    })
}

/// `SetMemberSpendCap` → [`AccountCommand::SetMemberSpendCap`].
pub fn set_member_cap(req: &pb::SetMemberSpendCapRequest) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SetMemberSpendCap {
        member: input::user_id(&req.user_id)?,
        cap: input::key_limit("cap", req.cap.as_ref())?,
        at: now(),
    })
}

/// `SetDefaultKeyLimit` → [`AccountCommand::SetDefaultKeyLimit`].
pub fn set_default_key_limit(
    req: &pb::SetDefaultKeyLimitRequest,
) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SetDefaultKeyLimit {
        limit: input::key_limit("limit", req.limit.as_ref())?,
        at: now(),
    })
}

/// `SetLowBalanceThreshold` → [`AccountCommand::SetLowBalanceThreshold`].
pub fn set_low_balance_threshold(
    req: &pb::SetLowBalanceThresholdRequest,
) -> Result<AccountCommand, AppError> {
    Ok(AccountCommand::SetLowBalanceThreshold {
        threshold: input::optional_text("threshold", req.threshold.as_deref(), |text| {
            Credits::purchase(text)
        })?,
        at: now(),
    })
}

fn day_start(day: Option<NaiveDate>) -> Option<prost_types::Timestamp> {
    day.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| input::timestamp(DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)))
}

/// `GetSpendingControls`: the controls of the account as its state has them now. Whoever may
/// read billing information (admins, personal owners, support, auditors) sees them all; a
/// member sees what binds them (the default key limit and their own cap), not the budget or
/// others' caps.
pub async fn spending_controls(
    q: Query<pb::GetSpendingControlsRequest>,
) -> Result<pb::SpendingControls, AppError> {
    let (_, account) = q.account(Action::ReadBalance).await?;
    let billing_shown = authorize(&q.cx.caller, Action::ReadBilling, &account.context).is_ok();
    let visible = |member: &UserId| billing_shown || q.cx.caller.user() == Some(*member);
    let state = &account.view.state;
    let account = state.account.as_ref().ok_or(DomainError::AccountNotFound)?;
    let spending = &account.spending;
    let at = Utc::now();
    let budget = spending.budget.filter(|_| billing_shown).map(|budget| {
        let spent = spending.spend.spent_in(budget.reset, at);
        pb::BudgetStatus {
            budget: Some(limit_pb(budget)),
            period_start: day_start(spending.spend.period_start(budget.reset, at)),
            spent: money(spent),
            held: money(account.held),
            remaining: money(budget.amount.amount() - spent - account.held),
        }
    });
    let member_caps = spending
        .member_caps
        .iter()
        .filter(|(member, _)| visible(member))
        .map(|(member, cap)| {
            let spent = spending.member_spent(*member, cap.reset, at);
            let held = spending.member_holds(*member);
            pb::MemberSpendCap {
                user_id: member.to_string(),
                cap: Some(limit_pb(*cap)),
                spent: money(spent),
                held: money(held),
                remaining: money(cap.amount.amount() - spent - held),
            }
        })
        .collect();
    Ok(pb::SpendingControls {
        account_id: account.id.to_string(),
        budget,
        default_key_limit: spending.default_key_limit.map(limit_pb),
        member_caps,
        version: ledger_codec::stored_version(state.version),
        billing_hidden: !billing_shown,
        low_balance_threshold: spending
            .low_balance_threshold
            .filter(|_| billing_shown)
            .map(|threshold| money(threshold.amount())),
    })
}
