//! Output: tables for people (through `comfy-table`, which measures display width, so wide
//! characters stay aligned), one JSON object per result, or CSV; and the description of a
//! gRPC error (code, message, field violations, reason).

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use tonic::Code;
use tonic_types::StatusExt;

use crate::cli::CliError;

/// How results are printed (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per result (JSON Lines for event streams).
    Json,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
}

/// Where and how results are printed (always stdout; diagnostics go to stderr).
pub struct Output {
    /// The format.
    pub format: Format,
    /// Shorthand for `format == Format::Json`: commands with a JSON shape of their own.
    pub json: bool,
}

impl Output {
    /// Output in `format`.
    pub fn new(format: Format) -> Self {
        Output {
            format,
            json: format == Format::Json,
        }
    }

    /// Prints one JSON object on its own line.
    pub fn json_line(&self, value: &serde_json::Value) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{value}").map_err(stdout_error)
    }

    /// Prints records: a table with a header row; CSV with a header row; or one JSON
    /// object per row keyed by the header (a blank header is `column<N>`).
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
        let text = match self.format {
            Format::Table => render_table(header, rows),
            Format::Csv => render_csv(header, rows)?,
            Format::Json => render_json_lines(header, rows),
        };
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes()).map_err(stdout_error)
    }

    /// Prints `name  value` pairs: aligned in a table, as one record otherwise.
    pub fn fields(&self, pairs: &[(&str, String)]) -> Result<(), CliError> {
        if self.format != Format::Table {
            let header: Vec<&str> = pairs.iter().map(|(name, _)| *name).collect();
            let row = pairs.iter().map(|(_, value)| value.clone()).collect();
            return self.table(&header, &[row]);
        }
        let rows: Vec<Vec<String>> = pairs
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), v.clone()])
            .collect();
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(render_rows(None, &rows).as_bytes())
            .map_err(stdout_error)
    }

    /// Prints one plain line: a message for people. In CSV output blank separator lines are
    /// left out; JSON output never calls it (commands print their own objects).
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        if self.format == Format::Csv && text.is_empty() {
            return Ok(());
        }
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

/// A table as text: the header, then the rows, columns separated by two spaces and padded
/// to their widest cell in display columns.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    render_rows(Some(header), rows)
}

fn render_rows(header: Option<&[&str]>, rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    if let Some(header) = header {
        table.set_header(header.iter().copied());
    }
    for row in rows {
        table.add_row(row.iter().map(String::as_str));
    }
    // The NOTHING preset pads each cell by one space on either side: drop the outer ones
    // and the trailing spaces of the last column.
    let mut text = String::new();
    for line in table.lines() {
        let line = line.strip_prefix(' ').unwrap_or(&line);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Records as CSV with a header row.
pub fn render_csv(header: &[&str], rows: &[Vec<String>]) -> Result<String, CliError> {
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    csv_records(std::iter::once(&header).chain(rows))
}

/// Records as CSV lines, quoted where needed (RFC 4180).
pub fn csv_records<'a>(
    records: impl IntoIterator<Item = &'a Vec<String>>,
) -> Result<String, CliError> {
    let failed = |e: String| CliError::Local(format!("writing CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer
            .write_record(record)
            .map_err(|e| failed(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| failed(e.to_string()))
}

/// Records as JSON Lines, each an object keyed by the header.
fn render_json_lines(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        let object: serde_json::Map<String, serde_json::Value> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let name = match header.get(c) {
                    Some(name) if !name.is_empty() => name.replace(' ', "_"),
                    _ => format!("column{}", c + 1),
                };
                (name, serde_json::Value::String(cell.clone()))
            })
            .collect();
        text.push_str(&serde_json::Value::Object(object).to_string());
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
    fn wide_characters_count_as_two_columns() {
        let text = render_table(
            &["name", "n"],
            &[
                vec!["陈静".into(), "1".into()],
                vec!["abcd".into(), "2".into()],
            ],
        );
        assert_eq!(text, "name  n\n陈静  1\nabcd  2\n");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let text =
            render_csv(&["a", "b"], &[vec!["x,y".into(), "say \"hi\"".into()]]).expect("csv");
        assert_eq!(text, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
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
