//! `ledgerctl`: the ARouter Ledger client for support staff and auditors.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    ledger_api::cli::main().await
}
