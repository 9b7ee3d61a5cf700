//! Support commands: transfers, member limits, and look-ups of accounts, keys and
//! organizations.

use serde_json::{Value, json};

use crate::cli::args::{
    AccountArgs, KeysArgs, OrganizationArgs, SetMemberLimitArgs, TransferArgs, UserArgs,
};
use crate::cli::connect::{Clients, unary};
use crate::cli::output::Output;
use crate::cli::{CliError, command_id};
use crate::pb;

/// Pages requested per list call (the server's maximum).
const PAGE_SIZE: i32 = 500;
/// At most this many pages are fetched for one listing (a bound against a looping token).
const MAX_PAGES: usize = 1_000;

/// `transfer`: TransferCredits, then both balances read at (at least) the position reached.
pub async fn transfer(c: &mut Clients, out: &Output, a: TransferArgs) -> Result<(), CliError> {
    let command_id = command_id(a.command_id);
    let transfer_id = derived_transfer_id(&command_id)?;
    let reply = c
        .support
        .transfer_credits(unary(pb::TransferCreditsRequest {
            command_id: command_id.clone(),
            transfer_id: String::new(),
            from_account_id: a.from_account.clone(),
            to_account_id: a.to_account.clone(),
            amount: a.amount.clone(),
            reason: a.record.reason,
            ticket: a.record.ticket,
        }))
        .await?
        .into_inner();
    let balances = async {
        let from = get_balance(c, &a.from_account, reply.position).await?;
        let to = get_balance(c, &a.to_account, reply.position).await?;
        Ok::<_, CliError>((from, to))
    };
    let (from, to) = balances.await.inspect_err(|_| {
        eprintln!(
            "the transfer was applied at position {}, but reading the balances failed:",
            reply.position
        );
    })?;
    if out.json {
        return out.json_line(&json!({
            "command_id": command_id,
            "transfer_id": transfer_id,
            "position": reply.position,
            "amount": a.amount,
            "from": balance_json(&from),
            "to": balance_json(&to),
        }));
    }
    out.fields(&[
        ("command id", command_id),
        ("transfer id", transfer_id),
        ("position", reply.position.to_string()),
        ("amount", a.amount),
    ])?;
    out.line("")?;
    balance_table(out, &[("from", &from), ("to", &to)])
}

/// The transfer id `TransferCredits` derives from a command id when none is given (what
/// `reverse-transfer` needs).
fn derived_transfer_id(command_id: &str) -> Result<String, CliError> {
    let not_derived = || CliError::Usage(format!("not a command id: {command_id}"));
    let command = uuid::Uuid::parse_str(command_id).map_err(|_| not_derived())?;
    crate::input::uuid_or_derived("transfer_id", "", command)
        .map(|id| id.to_string())
        .map_err(|_| not_derived())
}

pub(crate) async fn get_balance(
    c: &mut Clients,
    account: &str,
    min_position: i64,
) -> Result<pb::GetAccountBalanceResponse, CliError> {
    Ok(c.credits
        .get_account_balance(unary(pb::GetAccountBalanceRequest {
            account_id: account.to_owned(),
            min_position,
        }))
        .await?
        .into_inner())
}

fn kind_name(kind: pb::AccountKind) -> &'static str {
    match kind {
        pb::AccountKind::Personal => "personal",
        pb::AccountKind::Organization => "organization",
        pb::AccountKind::Unspecified => "unspecified",
    }
}

/// A balance as a JSON object (money as decimal strings, as on the wire).
pub fn balance_json(b: &pb::GetAccountBalanceResponse) -> Value {
    json!({
        "account_id": b.account_id,
        "kind": kind_name(b.kind()),
        "owner_id": b.owner_id,
        "balance": b.balance,
        "held": b.held,
        "available": b.available,
        "total_purchased": b.total_purchased,
        "total_transferred_in": b.total_transferred_in,
        "total_transferred_out": b.total_transferred_out,
        "total_used": b.total_used,
        "total_adjusted": b.total_adjusted,
        "open_holds": b.open_holds,
        "version": b.version,
    })
}

pub(crate) fn balance_table(
    out: &Output,
    balances: &[(&str, &pb::GetAccountBalanceResponse)],
) -> Result<(), CliError> {
    let rows: Vec<Vec<String>> = balances
        .iter()
        .map(|(side, b)| {
            vec![
                (*side).to_owned(),
                b.account_id.clone(),
                kind_name(b.kind()).to_owned(),
                b.balance.clone(),
                b.held.clone(),
                b.available.clone(),
            ]
        })
        .collect();
    out.table(
        &["", "account", "kind", "balance", "held", "available"],
        &rows,
    )
}

/// `set-member-limit`: SetMemberLimit.
pub async fn set_member_limit(
    c: &mut Clients,
    out: &Output,
    a: SetMemberLimitArgs,
) -> Result<(), CliError> {
    let command_id = command_id(a.command_id);
    let reply = c
        .support
        .set_member_limit(unary(pb::SetMemberLimitRequest {
            command_id: command_id.clone(),
            organization_id: a.organization.clone(),
            member_limit: a.limit,
        }))
        .await?
        .into_inner();
    if out.json {
        return out.json_line(&json!({
            "command_id": command_id,
            "position": reply.position,
            "organization_id": a.organization,
            "member_limit": a.limit,
        }));
    }
    out.fields(&[
        ("command id", command_id),
        ("position", reply.position.to_string()),
        ("organization", a.organization),
        ("member limit", a.limit.to_string()),
    ])
}

/// `accounts`: GetUserAccount and ListUserOrganizations (read models).
pub async fn accounts(c: &mut Clients, out: &Output, a: UserArgs) -> Result<(), CliError> {
    let user = c
        .users
        .get_user_account(unary(pb::GetUserAccountRequest {
            user_id: a.user.clone(),
            min_position: 0,
        }))
        .await?
        .into_inner();
    let mut organizations = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = c
            .users
            .list_user_organizations(unary(pb::ListUserOrganizationsRequest {
                user_id: a.user.clone(),
                min_position: 0,
                page_size: PAGE_SIZE,
                page_token,
            }))
            .await?
            .into_inner();
        organizations.extend(page.organizations);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if out.json {
        let orgs: Vec<Value> = organizations
            .iter()
            .map(|o| {
                json!({
                    "organization_id": o.organization_id,
                    "account_id": o.account_id,
                    "name": o.name,
                    "role": role_name(o.role()),
                })
            })
            .collect();
        return out.json_line(&json!({
            "user_id": user.user_id,
            "personal_account_id": user.personal_account_id,
            "email_verified": user.email_verified,
            "organizations": orgs,
        }));
    }
    out.fields(&[
        ("user", user.user_id),
        ("personal account", user.personal_account_id),
        ("email verified", user.email_verified.to_string()),
    ])?;
    out.line("")?;
    let rows: Vec<Vec<String>> = organizations
        .into_iter()
        .map(|o| {
            let role = role_name(o.role()).to_owned();
            vec![o.organization_id, o.account_id, role, o.name]
        })
        .collect();
    out.table(&["organization", "account", "role", "name"], &rows)
}

/// `balance`: GetAccountBalance.
pub async fn balance(c: &mut Clients, out: &Output, a: AccountArgs) -> Result<(), CliError> {
    let b = get_balance(c, &a.account, 0).await?;
    if out.json {
        return out.json_line(&balance_json(&b));
    }
    out.fields(&[
        ("account", b.account_id.clone()),
        ("kind", kind_name(b.kind()).to_owned()),
        ("owner", b.owner_id.clone()),
        ("balance", b.balance.clone()),
        ("held", b.held.clone()),
        ("available", b.available.clone()),
        ("open holds", b.open_holds.to_string()),
        ("purchased", b.total_purchased.clone()),
        ("transferred in", b.total_transferred_in.clone()),
        ("transferred out", b.total_transferred_out.clone()),
        ("used", b.total_used.clone()),
        ("version", b.version.to_string()),
    ])
}

fn status_name(status: pb::KeyStatus) -> &'static str {
    match status {
        pb::KeyStatus::Active => "active",
        pb::KeyStatus::Disabled => "disabled",
        pb::KeyStatus::Deleted => "deleted",
        pb::KeyStatus::Unspecified => "unspecified",
    }
}

fn period_name(period: pb::LimitPeriod) -> &'static str {
    match period {
        pb::LimitPeriod::Daily => "daily",
        pb::LimitPeriod::Weekly => "weekly",
        pb::LimitPeriod::Monthly => "monthly",
        pb::LimitPeriod::Lifetime => "lifetime",
        pb::LimitPeriod::Unspecified => "unspecified",
    }
}

fn role_name(role: pb::Role) -> &'static str {
    match role {
        pb::Role::Admin => "admin",
        pb::Role::Member => "member",
        pb::Role::Unspecified => "unspecified",
    }
}

/// `keys`: ListKeys, every page.
pub async fn keys(c: &mut Clients, out: &Output, a: KeysArgs) -> Result<(), CliError> {
    let mut keys = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = c
            .keys
            .list_keys(unary(pb::ListKeysRequest {
                account_id: a.account.clone(),
                min_position: 0,
                page_size: PAGE_SIZE,
                page_token,
                include_deleted: a.include_deleted,
            }))
            .await?
            .into_inner();
        keys.extend(page.keys);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let limit = |k: &pb::ApiKey| {
        k.limit
            .as_ref()
            .map(|l| format!("{} {}", l.amount, period_name(l.reset())))
    };
    if out.json {
        for k in &keys {
            out.json_line(&json!({
                "key_id": k.key_id,
                "account_id": k.account_id,
                "name": k.name,
                "prefix": k.prefix,
                "status": status_name(k.status()),
                "created_by": k.created_by,
                "limit": k.limit.as_ref().map(|l| json!({
                    "amount": l.amount, "reset": period_name(l.reset()),
                })),
                "remaining_limit": k.remaining_limit,
                "held": k.held,
            }))?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                k.prefix.clone(),
                status_name(k.status()).to_owned(),
                limit(k).unwrap_or_else(|| "-".into()),
                k.remaining_limit.clone().unwrap_or_else(|| "-".into()),
                k.held.clone(),
                k.name.clone(),
            ]
        })
        .collect();
    out.table(
        &[
            "key",
            "prefix",
            "status",
            "limit",
            "remaining",
            "held",
            "name",
        ],
        &rows,
    )
}

/// `organization`: GetOrganization.
pub async fn organization(
    c: &mut Clients,
    out: &Output,
    a: OrganizationArgs,
) -> Result<(), CliError> {
    let o = c
        .orgs
        .get_organization(unary(pb::GetOrganizationRequest {
            organization_id: a.organization,
            min_position: 0,
        }))
        .await?
        .into_inner();
    if out.json {
        return out.json_line(&json!({
            "organization_id": o.organization_id,
            "account_id": o.account_id,
            "name": o.name,
            "details": o.details,
            "member_count": o.member_count,
            "member_limit": o.member_limit,
            "version": o.version,
        }));
    }
    out.fields(&[
        ("organization", o.organization_id.clone()),
        ("name", o.name.clone()),
        ("account", o.account_id.clone()),
        (
            "members",
            format!("{} of {}", o.member_count, o.member_limit),
        ),
        ("details", o.details.clone().unwrap_or_default()),
        ("version", o.version.to_string()),
    ])
}

/// `members`: ListMembers, every page.
pub async fn members(c: &mut Clients, out: &Output, a: OrganizationArgs) -> Result<(), CliError> {
    let mut members = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = c
            .orgs
            .list_members(unary(pb::ListMembersRequest {
                organization_id: a.organization.clone(),
                min_position: 0,
                page_size: PAGE_SIZE,
                page_token,
            }))
            .await?
            .into_inner();
        members.extend(page.members);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if out.json {
        for m in &members {
            out.json_line(&json!({ "user_id": m.user_id, "role": role_name(m.role()) }))?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| vec![m.user_id.clone(), role_name(m.role()).to_owned()])
        .collect();
    out.table(&["user", "role"], &rows)
}

/// `erase-user`: EraseUser, then how many personal-data rows it erased (0: erased before).
pub async fn erase_user(c: &mut Clients, out: &Output, a: UserArgs) -> Result<(), CliError> {
    let reply = c
        .users
        .erase_user(unary(pb::EraseUserRequest {
            user_id: a.user.clone(),
        }))
        .await?
        .into_inner();
    if out.json {
        return out.json_line(&json!({
            "user_id": a.user,
            "rows_erased": reply.rows_erased,
        }));
    }
    out.fields(&[
        ("user", a.user),
        ("rows erased", reply.rows_erased.to_string()),
    ])
}
