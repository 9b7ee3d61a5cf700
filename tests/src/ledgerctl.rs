//! Runs the real `ledgerctl` binary against a running `ledgerd`, as support staff and
//! auditors do.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;

use crate::ledgerd::Ledgerd;

/// The `ledgerctl` binary of this build, built first if needed.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| crate::binaries::path("ledgerctl"))
}

/// What one `ledgerctl` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `ledgerctl args...` against `ledgerd` with `token` (given in `LEDGER_TOKEN`, as
/// operators should) and, for support, `staff` in `LEDGER_STAFF_ID`.
pub async fn run(ledgerd: &Ledgerd, token: &str, staff: Option<uuid::Uuid>, args: &[&str]) -> Run {
    let staff = staff.map(|id| id.to_string());
    let env: Vec<(&str, &str)> = staff
        .iter()
        .map(|id| ("LEDGER_STAFF_ID", id.as_str()))
        .collect();
    run_with_env(ledgerd, token, &env, args).await
}

/// Runs `ledgerctl args...` against `ledgerd` with `token` in `LEDGER_TOKEN` and the
/// variables `env` (e.g. the demo's `LEDGER_GATEWAY_TOKEN`).
pub async fn run_with_env(
    ledgerd: &Ledgerd,
    token: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut command = tokio::process::Command::new(binary());
    command
        .args(args)
        .env("LEDGER_SERVER", ledgerd.url())
        .env("LEDGER_TOKEN", token)
        .env_remove("LEDGER_STAFF_ID")
        .env_remove("LEDGER_OUTPUT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("ledgerctl finishes within a minute")
        .expect("ledgerctl runs");
    Run::from_output(output)
}
