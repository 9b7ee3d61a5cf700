//! Running PostgreSQL tools, as the server user when we are root.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::error::EmbeddedError;
use crate::user::ServerUser;

/// The longest any tool may run; `pg_ctl` waits are shorter (see `server.rs`), `initdb` of
/// an empty cluster takes a few seconds.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The most output of a failed tool we keep in an error message.
const MAX_OUTPUT_BYTES: usize = 4_000;

/// Builds a command for `program` that runs as `user` (or as ourselves when `user` is `None`).
///
/// The working directory is `/`, so a tool running as another user never trips over a
/// current directory it cannot read. Standard input is closed.
pub(crate) fn command(program: &Path, user: Option<&ServerUser>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
        cmd.env("HOME", &user.home).env("USER", &user.name);
        cmd.env("LOGNAME", &user.name);
    }
    cmd
}

/// Runs `program args…` and returns its standard output, or an error carrying its output.
pub(crate) async fn run<I, S>(
    program: &Path,
    user: Option<&ServerUser>,
    args: I,
) -> Result<String, EmbeddedError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = command(program, user);
    cmd.args(args);
    let failed = |status: String| EmbeddedError::CommandFailed {
        program: program.display().to_string(),
        status,
        output: String::new(),
    };
    // On timeout the future is dropped and `kill_on_drop` kills the tool.
    let output = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .map_err(|_| failed(format!("no exit within {} s", COMMAND_TIMEOUT.as_secs())))?
        .map_err(|err| failed(format!("could not start: {err}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(EmbeddedError::CommandFailed {
        program: program.display().to_string(),
        status: output.status.to_string(),
        output: truncate(format!("{}\n{}", stderr.trim(), stdout.trim()).trim()),
    })
}

/// Keeps the last [`MAX_OUTPUT_BYTES`] of `text`, on a character boundary.
fn truncate(text: &str) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.to_owned();
    }
    let mut start = text.len() - MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(truncate("abc"), "abc");
    }

    #[test]
    fn long_output_keeps_its_end() {
        let text = "é".repeat(MAX_OUTPUT_BYTES);
        let cut = truncate(&text);
        assert!(cut.len() <= MAX_OUTPUT_BYTES + "…".len());
        assert!(cut.ends_with('é'));
    }
}
