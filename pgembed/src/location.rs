//! Where a cluster's data actually lives: the requested directory, or a reachable stand-in.
//!
//! As root the server runs as the `postgres` user, which often cannot traverse the requested
//! path (a checkout under `/root`, mode 0700). Then the cluster lives in a directory that user
//! can reach, named after a hash of the requested path so that the same request finds the
//! same data after a restart:
//!
//! 1. `/var/lib/arouter-ledger/<name>-<hash>`, else (when `/var/lib` is read-only)
//! 2. `/tmp/arouter-ledger-root/<name>-<hash>`.
//!
//! The rule is stable across restarts: a cluster already in the requested directory is used
//! there (and an unreachable one is an error, never silently replaced by an empty cluster);
//! else a cluster already at the stand-in is used; else the requested directory when
//! reachable; else the stand-in.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::EmbeddedError;
use crate::user::{self, ServerUser};

/// Parent directories of relocated clusters, best first.
const RELOCATION_ROOTS: [&str; 2] = ["/var/lib/arouter-ledger", "/tmp/arouter-ledger-root"];
/// Hex digits of the path hash kept in a relocated directory's name.
const HASH_HEX_DIGITS: usize = 16;

/// The directory the cluster of `requested` (absolute) lives in, for the tools run as `user`
/// (`None`: ourselves, who can reach our own paths). Creates `requested` if it is missing.
pub(crate) fn resolve(
    requested: &Path,
    user: Option<&ServerUser>,
) -> Result<PathBuf, EmbeddedError> {
    std::fs::create_dir_all(requested)
        .map_err(|err| EmbeddedError::io("creating", requested, err))?;
    let Some(user) = user else {
        return Ok(requested.to_owned());
    };
    let reachable = user::check_reachable(requested, user);
    if holds_cluster(requested) {
        return reachable.map(|()| requested.to_owned());
    }
    let mut unusable = Vec::new();
    for root in RELOCATION_ROOTS {
        let candidate = Path::new(root).join(stand_in_name(requested));
        if holds_cluster(&candidate) {
            log_relocation(requested, &candidate);
            return Ok(candidate);
        }
        if reachable.is_ok() {
            continue;
        }
        match prepare_root(Path::new(root), user) {
            Ok(()) => {
                log_relocation(requested, &candidate);
                return Ok(candidate);
            }
            Err(err) => unusable.push(err.to_string()),
        }
    }
    match reachable {
        Ok(()) => Ok(requested.to_owned()),
        Err(err) => {
            tracing::error!(tried = ?unusable, "no reachable directory for the cluster");
            Err(err)
        }
    }
}

/// Whether `dir` holds an initialised cluster.
fn holds_cluster(dir: &Path) -> bool {
    dir.join("PG_VERSION").is_file()
}

/// `<last component of requested>-<first hex digits of SHA-256 of the whole path>`.
fn stand_in_name(requested: &Path) -> String {
    let digest = Sha256::digest(requested.as_os_str().as_encoded_bytes());
    let hash = hex::encode(digest);
    let base: String = requested
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() {
        "cluster".to_owned()
    } else {
        base
    };
    format!("{base}-{}", &hash[..HASH_HEX_DIGITS])
}

/// Creates `root` (mode 0755, ours) if missing and checks it is safe and reachable: owned by
/// us, writable by nobody else (a directory planted in `/tmp` by another user is refused),
/// and traversable by `user`.
fn prepare_root(root: &Path, user: &ServerUser) -> Result<(), EmbeddedError> {
    match std::fs::DirBuilder::new().mode(0o755).create(root) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(EmbeddedError::io("creating", root, err)),
    }
    let meta = std::fs::symlink_metadata(root)
        .map_err(|err| EmbeddedError::io("inspecting", root, err))?;
    // Only root relocates (an ordinary user runs the server as itself).
    let ours = meta.is_dir() && meta.uid() == 0;
    if !ours || meta.mode() & 0o022 != 0 {
        return Err(EmbeddedError::UnsafeDirectory(root.to_owned()));
    }
    user::check_reachable(&root.join("x"), user)
}

/// Says where the cluster of `requested` really is.
fn log_relocation(requested: &Path, actual: &Path) {
    tracing::warn!(
        requested = %requested.display(),
        actual = %actual.display(),
        "the user running PostgreSQL cannot reach the requested data directory; \
         the cluster lives in a reachable directory instead"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_name_is_stable_and_tells_paths_apart() {
        let a = stand_in_name(Path::new("/root/ledger/.ledgerd/pgdata"));
        assert_eq!(a, stand_in_name(Path::new("/root/ledger/.ledgerd/pgdata")));
        assert!(a.starts_with("pgdata-"));
        assert_eq!(a.len(), "pgdata-".len() + HASH_HEX_DIGITS);
        assert_ne!(a, stand_in_name(Path::new("/root/other/.ledgerd/pgdata")));
        assert!(stand_in_name(Path::new("/root/a b/é x")).starts_with("__x-"));
        assert!(stand_in_name(Path::new("/")).starts_with("cluster-"));
    }
}
