//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`).
//!
//! Order: an explicit directory; `initdb` on `PATH` (symlinks resolved, so Debian's
//! `/usr/local/bin` links lead to the real directory); `pg_config --bindir`; the highest
//! version under `/usr/lib/postgresql/*/bin`. A candidate counts only if all three tools
//! are in the same directory and answer `--version` with the same version, which weeds out
//! wrapper scripts that do not work.

use std::path::{Path, PathBuf};

use crate::command;
use crate::error::EmbeddedError;

/// Where distributions install versioned server binaries, as `<root>/<version>/bin`.
const VERSIONED_ROOTS: [&str; 1] = ["/usr/lib/postgresql"];

/// The three server tools, all from one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The `--version` line they share, e.g. `initdb (PostgreSQL) 15.14`.
    pub version: String,
}

impl PgBinaries {
    /// Path to `initdb`.
    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    /// Path to `pg_ctl`.
    pub fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }

    /// Path to `pg_basebackup` (installed beside the server tools; used to make a standby).
    pub fn pg_basebackup(&self) -> PathBuf {
        self.dir.join("pg_basebackup")
    }

    /// Locates the binaries: in `bin_dir` only when given, else by the search described in
    /// the module documentation.
    ///
    /// # Errors
    /// [`EmbeddedError::BinariesNotFound`] when no candidate directory works.
    pub async fn locate(bin_dir: Option<&Path>) -> Result<Self, EmbeddedError> {
        if let Some(dir) = bin_dir {
            return probe(dir)
                .await
                .ok_or_else(|| EmbeddedError::BinariesNotFound {
                    searched: format!("looked only in the configured directory {}", dir.display()),
                });
        }
        for dir in candidates().await {
            if let Some(found) = probe(&dir).await {
                tracing::debug!(dir = %found.dir.display(), version = %found.version, "found PostgreSQL");
                return Ok(found);
            }
        }
        Err(EmbeddedError::BinariesNotFound {
            searched: "looked on PATH, at `pg_config --bindir` and under /usr/lib/postgresql/*/bin"
                .to_owned(),
        })
    }
}

/// Candidate directories, best first, without the explicit one.
async fn candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(initdb) = find_on_path("initdb")
        && let Ok(real) = std::fs::canonicalize(&initdb)
        && let Some(parent) = real.parent()
    {
        dirs.push(parent.to_owned());
    }
    if let Some(pg_config) = find_on_path("pg_config")
        && let Ok(out) = command::run(&pg_config, None, ["--bindir"]).await
    {
        dirs.push(PathBuf::from(out.trim()));
    }
    for root in VERSIONED_ROOTS {
        dirs.extend(versioned_dirs(Path::new(root)));
    }
    dirs.dedup();
    dirs
}

/// The first `name` that is a file in a `PATH` directory.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `<root>/<version>/bin` directories, highest numeric version first.
fn versioned_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().to_string_lossy())?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// Parses `15` or `9.6` into its numeric parts.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Checks that `dir` has working `initdb`, `pg_ctl` and `postgres` of one version.
async fn probe(dir: &Path) -> Option<PgBinaries> {
    let mut versions = Vec::with_capacity(3);
    for tool in ["initdb", "pg_ctl", "postgres"] {
        let path = dir.join(tool);
        if !path.is_file() {
            return None;
        }
        let out = command::run(&path, None, ["--version"]).await.ok()?;
        // "initdb (PostgreSQL) 15.14 (Debian 15.14-1)": compare from the version on.
        let version = out.trim().split_once(") ")?.1.to_owned();
        versions.push((out.trim().to_owned(), version));
    }
    let (first_line, first_version) = versions.first()?.clone();
    versions
        .iter()
        .all(|(_, version)| *version == first_version)
        .then(|| PgBinaries {
            dir: dir.to_owned(),
            version: first_line,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(parse_version("15") > parse_version("9.6"));
        assert_eq!(parse_version("main"), None);
    }
}
