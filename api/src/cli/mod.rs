//! `ledgerctl`, the command-line client for support staff and auditors: argument parsing,
//! the connection, one module per group of commands, and output (tables, JSON Lines or CSV).

pub mod args;
pub mod audit;
pub mod connect;
mod corrections;
pub mod demo;
pub mod ledger;
pub mod output;
pub mod progress;
pub mod projections;
pub mod support;
pub mod usage;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::args::{Cli, Command};
use crate::cli::output::Output;

/// Why a command failed; each maps to an exit code (see `ledgerctl --help`).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error: printed with its code and details; fix the cause
    /// (or, for UNAVAILABLE and ABORTED, retry with the same command id).
    #[error("{}", output::describe_status(.0))]
    Status(Box<tonic::Status>),
    /// The server could not be reached: check `--server` and that ledgerd runs.
    #[error("{0}")]
    Connect(String),
    /// A local file could not be read or written, or a server reply made no sense.
    #[error("{0}")]
    Local(String),
    /// A value on the command line is unusable.
    #[error("{0}")]
    Usage(String),
    /// Whoever read stdout stopped reading (`ledgerctl events export | head`): stop quietly.
    #[error("stdout closed")]
    StdoutClosed,
    /// A check ran and failed (broken chain, checkpoint not extended, differences); the
    /// result was printed already.
    #[error("{0}")]
    CheckFailed(String),
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        CliError::Status(Box::new(status))
    }
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::StdoutClosed => 0,
            CliError::CheckFailed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Status(_) => 3,
            CliError::Connect(_) | CliError::Local(_) => 4,
        }
    }
}

/// Parses the command line, runs the command, prints errors to stderr; the exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) | Err(CliError::StdoutClosed) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Output::new(if cli.json {
        output::Format::Json
    } else {
        cli.output
    });
    let tls_ca = cli.tls_ca.as_deref();
    if let Command::Demo(a) = cli.command {
        let channel = connect::connect(&cli.server, tls_ca, true).await?;
        return demo::demo(channel, &out, a).await;
    }
    let auth = connect::Auth::new(cli.token.as_ref(), cli.staff_id)?;
    let channel = connect::connect(&cli.server, tls_ca, cli.token.is_some()).await?;
    let mut clients = connect::Clients::new(&channel, auth);
    let c = &mut clients;
    match cli.command {
        Command::Demo(_) => Ok(()),
        Command::Activity(a) => usage::activity(c, &out, a).await,
        Command::Analytics(a) => usage::analytics(c, &out, a).await,
        Command::Export(a) => usage::export(c, a).await,
        Command::Transfer(a) => support::transfer(c, &out, a).await,
        Command::SetMemberLimit(a) => support::set_member_limit(c, &out, a).await,
        Command::Adjust(a) => corrections::adjust(c, &out, a).await,
        Command::ReverseTransfer(a) => corrections::reverse_transfer(c, &out, a).await,
        Command::Accounts(a) => support::accounts(c, &out, a).await,
        Command::Balance(a) => support::balance(c, &out, a).await,
        Command::Keys(a) => support::keys(c, &out, a).await,
        Command::Organization(a) => support::organization(c, &out, a).await,
        Command::Members(a) => support::members(c, &out, a).await,
        Command::Events(a) => audit::events(c, &out, a).await,
        Command::Verify(a) => audit::verify(c, &out, a).await,
        Command::Checkpoint(a) => audit::checkpoint(c, &out, a).await,
        Command::BalanceAsOf(a) => audit::balance_as_of(c, &out, a).await,
        Command::Consistency => audit::consistency(c, &out).await,
        Command::EraseUser(a) => support::erase_user(c, &out, a).await,
        Command::Projections(a) => projections::projections(c, &out, a).await,
        Command::Ledger(a) => ledger::ledger(c, &out, a).await,
    }
}

/// A fresh command id, or the one given; announced on stderr first, so that a failed or
/// interrupted attempt can be retried with it.
pub fn command_id(given: Option<uuid::Uuid>) -> String {
    let id = given.unwrap_or_else(uuid::Uuid::new_v4).to_string();
    eprintln!("command id: {id} (to retry safely: --command-id {id})");
    id
}
