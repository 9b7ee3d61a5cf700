//! Reading `postmaster.pid`, which a running server keeps in its data directory.
//!
//! Line 1 is the postmaster's pid and line 4 its port (PostgreSQL's `LOCK_FILE_LINE_*`).

use std::path::Path;

/// The file name inside the data directory.
pub(crate) const FILE_NAME: &str = "postmaster.pid";

/// What we need from `postmaster.pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PidFile {
    /// The postmaster's process id.
    pub(crate) pid: u32,
    /// The TCP port it listens on.
    pub(crate) port: u16,
}

impl PidFile {
    /// Reads the pid file of `data_dir`; `None` when absent or not (yet) complete.
    pub(crate) fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.join(FILE_NAME)).ok()?;
        Self::parse(&text)
    }

    /// Parses the file's text.
    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let port = lines.nth(2)?.trim().parse().ok()?;
        Some(Self { pid, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_and_port_come_from_lines_one_and_four() {
        let text = "4242\n/tmp/data\n1700000000\n54321\n\n127.0.0.1\n  1234  5678\nready   \n";
        assert_eq!(
            PidFile::parse(text),
            Some(PidFile {
                pid: 4242,
                port: 54321
            })
        );
    }

    #[test]
    fn a_half_written_file_is_ignored() {
        assert_eq!(PidFile::parse("4242\n/tmp/data\n"), None);
        assert_eq!(PidFile::parse(""), None);
    }
}
