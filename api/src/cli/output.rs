//! Output: aligned tables for people, one JSON object per result for machines, and the
//! description of a gRPC error (code, message, field violations, reason).

use std::io::Write;

use tonic::Code;
use tonic_types::StatusExt;

use crate::cli::CliError;

/// Where and how results are printed (always stdout; diagnostics go to stderr).
pub struct Output {
    /// One JSON object per result instead of tables.
    pub json: bool,
}

impl Output {
    /// Prints one JSON object on its own line.
    pub fn json_line(&self, value: &serde_json::Value) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{value}").map_err(stdout_error)
    }

    /// Prints a table: a header row and rows, columns padded to their widest cell.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(render_table(header, rows).as_bytes())
            .map_err(stdout_error)
    }

    /// Prints `name  value` pairs, names aligned.
    pub fn fields(&self, pairs: &[(&str, String)]) -> Result<(), CliError> {
        let rows: Vec<Vec<String>> = pairs
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), v.clone()])
            .collect();
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(render_rows(&rows).as_bytes())
            .map_err(stdout_error)
    }

    /// Prints one plain line.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}").map_err(stdout_error)
    }
}

/// A failed write to stdout; a reader that went away (`| head`) is not an error.
pub fn stdout_error(error: std::io::Error) -> CliError {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::StdoutClosed
    } else {
        CliError::Local(format!("writing to stdout: {error}"))
    }
}

/// A table as text: the header, then the rows, columns separated by two spaces.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut all = Vec::with_capacity(rows.len() + 1);
    all.push(header.iter().map(|h| (*h).to_owned()).collect());
    all.extend(rows.iter().cloned());
    render_rows(&all)
}

fn render_rows(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The canonical gRPC name of a code (`INVALID_ARGUMENT`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A status as text: `CODE: message`, then the ErrorInfo reason and each field violation.
pub fn describe_status(status: &tonic::Status) -> String {
    let mut text = format!("{}: {}", code_name(status.code()), status.message());
    let details = status.get_error_details();
    if let Some(info) = details.error_info() {
        text.push_str(&format!("\n  reason: {}", info.reason));
    }
    if let Some(bad) = details.bad_request() {
        for violation in &bad.field_violations {
            text.push_str(&format!(
                "\n  field {}: {}",
                violation.field, violation.description
            ));
        }
    }
    match status.code() {
        Code::Unimplemented => {
            text.push_str("\n  (this server does not serve this call yet)");
        }
        Code::Unavailable | Code::Aborted => {
            text.push_str("\n  (retrying with the same --command-id is safe)");
        }
        Code::Unauthenticated => {
            text.push_str("\n  (check --token / LEDGER_TOKEN, and --staff-id for support)");
        }
        _ => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_every_column_but_the_last() {
        let text = render_table(
            &["account", "balance"],
            &[
                vec!["a".into(), "10".into()],
                vec!["bbbbbbbbb".into(), "2".into()],
            ],
        );
        assert_eq!(text, "account    balance\na          10\nbbbbbbbbb  2\n");
    }

    #[test]
    fn a_status_names_its_code_reason_and_fields() {
        let mut details = tonic_types::ErrorDetails::new();
        details.add_bad_request_violation("reason", "must not be empty");
        let status =
            tonic::Status::with_error_details(Code::InvalidArgument, "invalid request", details);
        assert_eq!(
            describe_status(&status),
            "INVALID_ARGUMENT: invalid request\n  field reason: must not be empty"
        );
    }
}
