//! `ledgerd`: the ARouter Ledger server.

use clap::Parser;
use ledger_api::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    ledger_api::telemetry::init(config.log_format);
    match ledger_api::server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
