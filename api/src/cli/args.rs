//! The command line of `ledgerctl`: global options and subcommands (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::connect::Token;
use crate::cli::output::Format;

/// The help heading of the options every subcommand accepts.
const GLOBAL: &str = "Global options";

/// `ledgerctl`: the ARouter Ledger client for support staff and auditors, and `demo`, which
/// fills a running server with a sample organization.
///
/// Exit codes: 0 success; 1 a check failed (broken chain, checkpoint not extended,
/// inconsistent read model); 2 bad usage; 3 the server refused the call (gRPC error);
/// 4 the server could not be reached or a local file could not be used.
#[derive(Parser)]
#[command(name = "ledgerctl", version, about, long_about)]
pub struct Cli {
    /// The ledgerd gRPC address.
    #[arg(
        long,
        global = true,
        env = "LEDGER_SERVER",
        default_value = "http://127.0.0.1:50051",
        help_heading = GLOBAL
    )]
    pub server: String,
    /// The CA certificate (PEM) that signed ledgerd's TLS certificate, for an `https://`
    /// --server. Without it an `https://` server is refused: there are no system roots to trust.
    #[arg(long, global = true, env = "LEDGER_TLS_CA", help_heading = GLOBAL)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The bearer token of a support or auditor credential (`ledgerd credentials add`).
    /// Prefer the environment variable: command lines are visible to other local users.
    /// Never printed.
    #[arg(
        long,
        global = true,
        env = "LEDGER_TOKEN",
        hide_env_values = true,
        help_heading = GLOBAL
    )]
    pub token: Option<Token>,
    /// The acting staff member's UUID, sent as `x-actor-id`. Optional: a support credential acts
    /// as the staff member it is bound to, and a call naming anyone else is refused.
    #[arg(long, global = true, env = "LEDGER_STAFF_ID", help_heading = GLOBAL)]
    pub staff_id: Option<uuid::Uuid>,
    /// How results are printed: aligned columns, one JSON object per result (JSON Lines), or
    /// CSV with a header row.
    #[arg(
        long,
        global = true,
        env = "LEDGER_OUTPUT",
        value_enum,
        default_value_t = Format::Table,
        help_heading = GLOBAL
    )]
    pub output: Format,
    /// Same as `--output json`.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Subcommand)]
pub enum Command {
    /// Support: move credits from a member's personal account to an organization account,
    /// then show the position reached and both new balances.
    Transfer(TransferArgs),
    /// Support: set an organization's member limit (1..=10000, at least the member count).
    SetMemberLimit(SetMemberLimitArgs),
    /// Support: credit or debit an account by hand, with a reason and a ticket, then show its
    /// new balance.
    Adjust(AdjustArgs),
    /// Support: reverse a transfer (all of it) from the organization back to the personal
    /// account it came from, then show the organization's new balance.
    ReverseTransfer(ReverseTransferArgs),
    /// A user's personal account and organizations (the account switcher read model).
    Accounts(UserArgs),
    /// An account's balance, holds and totals.
    Balance(AccountArgs),
    /// An account's API keys.
    Keys(KeysArgs),
    /// An organization: name, account, member count and limit.
    Organization(OrganizationArgs),
    /// An organization's members and their roles.
    Members(OrganizationArgs),
    /// Audit: stream or export the event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Audit: verify the hash chain over a range of positions, in chunks.
    Verify(VerifyArgs),
    /// Audit: save the head as a checkpoint, or check the log still extends one.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Audit: an account's balance as of a position or a time (replay of its stream).
    BalanceAsOf(BalanceAsOfArgs),
    /// Audit: compare every read model with a fresh fold of the log.
    Consistency,
    /// An account's activity feed: its newest usage records.
    Activity(ActivityArgs),
    /// An account's usage analytics: spend, tokens and requests per day and group.
    Analytics(AnalyticsArgs),
    /// An account's activity as a CSV or PDF file.
    Export(UsageExportArgs),
    /// Fill a running server with a sample organization: three members with a key each, 500
    /// credits, and a few hundred requests over the last days billed as the gateway does.
    /// Acts as the identity service, the dashboard and the gateway: mint a token for each
    /// with `ledgerd credentials add --kind <kind> --name demo-<kind>`.
    Demo(DemoArgs),
    /// Support: erase a user's personal data (email, contacts); the log keeps only ids.
    EraseUser(UserArgs),
    /// The read models: their progress against the log, and rebuilding one (support).
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// An account's ledger: its postings, newest first, each with its counterpart.
    Ledger(LedgerArgs),
}

/// `projections ...`.
#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Every read model's position, the log's head and the lag.
    Status,
    /// Support: rebuild one read model from the log beside the live one and swap it in while
    /// the service keeps serving (a progress bar on a terminal).
    Rebuild(RebuildArgs),
}

/// The read models `projections rebuild` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectionArg {
    /// Balances, open holds and ledger entries.
    Balances,
    /// API keys.
    Keys,
    /// Users, organizations, members and invitations.
    Directory,
    /// The activity feed and usage rollups.
    Activity,
}

impl ProjectionArg {
    /// The name the server knows it by.
    pub fn name(self) -> &'static str {
        match self {
            ProjectionArg::Balances => "balances",
            ProjectionArg::Keys => "keys",
            ProjectionArg::Directory => "directory",
            ProjectionArg::Activity => "activity",
        }
    }
}

/// `projections rebuild`.
#[derive(Args)]
pub struct RebuildArgs {
    /// The read model to rebuild.
    #[arg(value_enum)]
    pub projection: ProjectionArg,
    /// Events folded per batch (one transaction each).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub batch_size: i32,
}

/// `ledger`.
#[derive(Args)]
pub struct LedgerArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// How many postings, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Postings at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Postings before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// `activity`.
#[derive(Args)]
pub struct ActivityArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// How many records, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only this API key (UUID).
    #[arg(long)]
    pub key: Option<String>,
    /// Only this member's usage (user UUID: the key's creator).
    #[arg(long)]
    pub member: Option<String>,
    /// Only records finished at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only records finished before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// What analytics are grouped by besides time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupByArg {
    /// The member the key belongs to.
    Member,
    /// The API key.
    Key,
    /// The model.
    Model,
}

/// `analytics`.
#[derive(Args)]
pub struct AnalyticsArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// Grouping besides the time bucket.
    #[arg(long, value_enum, default_value_t = GroupByArg::Model)]
    pub group_by: GroupByArg,
    /// Hourly buckets instead of daily.
    #[arg(long)]
    pub hourly: bool,
}

/// The format of an exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// Comma-separated values.
    Csv,
    /// A PDF report.
    Pdf,
}

/// `export`.
#[derive(Args)]
pub struct UsageExportArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// The file format.
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Csv)]
    pub format: ExportFormatArg,
    /// Where to write it; stdout without it.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// `demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// An identity credential's token (registers and verifies the sample users).
    #[arg(long, env = "LEDGER_IDENTITY_TOKEN", hide_env_values = true)]
    pub identity_token: Option<Token>,
    /// A dashboard credential's token (acts for the sample users).
    #[arg(long, env = "LEDGER_DASHBOARD_TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<Token>,
    /// A gateway credential's token (bills the requests).
    #[arg(long, env = "LEDGER_GATEWAY_TOKEN", hide_env_values = true)]
    pub gateway_token: Option<Token>,
    /// How many requests to bill.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub records: u32,
    /// Over how many days (ending now) the requests are spread.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub days: u32,
}

/// `transfer`.
#[derive(Args)]
pub struct TransferArgs {
    /// The member's personal account (UUID).
    #[arg(long)]
    pub from_account: String,
    /// The organization account (UUID).
    #[arg(long)]
    pub to_account: String,
    /// Credits to move: a positive decimal, at most 2 decimal places (e.g. 12.34).
    #[arg(long)]
    pub amount: String,
    /// Why, and under which ticket.
    #[command(flatten)]
    pub record: SupportRecord,
    /// The command id: pass the one printed by a failed attempt to retry it safely
    /// (the server applies a command id once). Generated when absent.
    #[arg(long)]
    pub command_id: Option<uuid::Uuid>,
}

/// What a support command records in the log beside the change: why, and the ticket.
#[derive(Args)]
pub struct SupportRecord {
    /// Why (1..=500 characters); recorded in the log.
    #[arg(long)]
    pub reason: String,
    /// The support ticket (1..=100 characters); recorded in the log.
    #[arg(long)]
    pub ticket: String,
}

/// `adjust`.
#[derive(Args)]
pub struct AdjustArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// `credit` adds credits, `debit` takes them away.
    #[arg(long, value_enum)]
    pub direction: DirectionArg,
    /// Credits: a positive decimal, at most 2 decimal places (e.g. 12.34).
    #[arg(long)]
    pub amount: String,
    /// Why, and under which ticket.
    #[command(flatten)]
    pub record: SupportRecord,
    /// A debit that recovers credits owed: allowed to take the account below zero.
    #[arg(long)]
    pub recovery: bool,
    /// The command id, to retry safely; generated (and printed) when absent.
    #[arg(long)]
    pub command_id: Option<uuid::Uuid>,
}

/// Which way an adjustment moves credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DirectionArg {
    /// Credits added to the account.
    Credit,
    /// Credits taken from the account.
    Debit,
}

/// `reverse-transfer`.
#[derive(Args)]
pub struct ReverseTransferArgs {
    /// The transfer (UUID), as `transfer` printed it.
    #[arg(long)]
    pub transfer: String,
    /// The organization account the transfer went to (UUID).
    #[arg(long)]
    pub account: String,
    /// Why, and under which ticket.
    #[command(flatten)]
    pub record: SupportRecord,
    /// The command id, to retry safely; generated (and printed) when absent.
    #[arg(long)]
    pub command_id: Option<uuid::Uuid>,
}

/// `set-member-limit`.
#[derive(Args)]
pub struct SetMemberLimitArgs {
    /// The organization (UUID).
    #[arg(long)]
    pub organization: String,
    /// The new member limit.
    #[arg(long)]
    pub limit: u32,
    /// The command id, to retry safely; generated (and printed) when absent.
    #[arg(long)]
    pub command_id: Option<uuid::Uuid>,
}

/// A user look-up.
#[derive(Args)]
pub struct UserArgs {
    /// The user (UUID).
    #[arg(long)]
    pub user: String,
}

/// An account look-up.
#[derive(Args)]
pub struct AccountArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
}

/// `keys`.
#[derive(Args)]
pub struct KeysArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// Also list deleted keys.
    #[arg(long)]
    pub include_deleted: bool,
}

/// An organization look-up.
#[derive(Args)]
pub struct OrganizationArgs {
    /// The organization (UUID).
    #[arg(long)]
    pub organization: String,
}

/// `events ...`.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// Show events (by default the last 20 of the log), optionally following the head.
    Tail(TailArgs),
    /// Write the events of a range as JSON Lines (one event per line, exactly as hashed).
    Export(ExportArgs),
}

/// `events tail`.
#[derive(Args)]
pub struct TailArgs {
    /// The first position to show (>= 1); without it, the last `--last` positions.
    #[arg(long)]
    pub from: Option<i64>,
    /// Without `--from`: start this many positions before the head.
    #[arg(long, default_value_t = 20)]
    pub last: i64,
    /// Only this stream (e.g. `account-<uuid>`).
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this event type (repeatable, e.g. `account.transferred_in`).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Keep streaming new events as they are appended (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
}

/// `events export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The first position to export (>= 1).
    #[arg(long, default_value_t = 1)]
    pub from: i64,
    /// The last position to export; default the head when the export starts.
    #[arg(long)]
    pub to: Option<i64>,
}

/// `verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The first position to verify (>= 1).
    #[arg(long, default_value_t = 1)]
    pub from: i64,
    /// The last position to verify; default the head.
    #[arg(long)]
    pub to: Option<i64>,
    /// Positions verified per call (a progress bar is drawn on a terminal between calls).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub chunk: i64,
}

/// `checkpoint ...`.
#[derive(Subcommand)]
pub enum CheckpointCommand {
    /// Write the head as `{ "position": N, "hash": "hex" }` to a file.
    Save(CheckpointFile),
    /// Check the log still extends the checkpoint in a file (exit 1 when it does not): the
    /// event at the checkpoint still has its hash, and the chain from it to the head verifies.
    Check(CheckArgs),
}

/// `checkpoint check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The checkpoint file.
    #[arg(long)]
    pub file: PathBuf,
}

/// A checkpoint file.
#[derive(Args)]
pub struct CheckpointFile {
    /// The checkpoint file.
    #[arg(long)]
    pub file: PathBuf,
}

/// `balance-as-of`.
#[derive(Args)]
pub struct BalanceAsOfArgs {
    /// The account (UUID).
    #[arg(long)]
    pub account: String,
    /// Replay events up to and including this global position.
    #[arg(long, required_unless_present = "time", conflicts_with = "time")]
    pub position: Option<i64>,
    /// Replay events recorded at or before this time (RFC 3339, e.g. 2026-11-28T12:00:00Z).
    #[arg(long)]
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn balance_as_of_needs_exactly_one_of_position_and_time() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["ledgerctl", "balance-as-of", "--account", "a"];
            args.extend(extra);
            Cli::try_parse_from(args)
        };
        assert!(parse(&[]).is_err());
        assert!(parse(&["--position", "3", "--time", "2026-01-01T00:00:00Z"]).is_err());
        assert!(parse(&["--time", "yesterday"]).is_err());
        let Ok(cli) = parse(&["--time", "2026-01-01T00:00:00Z"]) else {
            panic!("an RFC 3339 time is accepted");
        };
        assert!(matches!(cli.command, Command::BalanceAsOf(a) if a.time.is_some()));
    }

    #[test]
    fn a_transfer_needs_a_reason_and_a_ticket() {
        let base = [
            "ledgerctl",
            "transfer",
            "--from-account",
            "a",
            "--to-account",
            "b",
            "--amount",
            "1",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        let with_reason = [&base[..], &["--reason", "r"]].concat();
        assert!(Cli::try_parse_from(&with_reason).is_err());
        let full = [&with_reason[..], &["--ticket", "T-1"]].concat();
        assert!(Cli::try_parse_from(&full).is_ok());
    }
}
