//! The shared embedded test cluster in `<target dir>/ledger-test-pg`.

use std::fs::File;
use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use super::error::TestDbError;
use crate::cluster::EmbeddedPostgres;
use crate::config::EmbeddedConfig;

/// Directory name of the shared cluster inside the target directory.
const DATA_DIR_NAME: &str = "ledger-test-pg";
/// Lock file next to it, held while a process starts or checks the cluster.
const LOCK_FILE_NAME: &str = "ledger-test-pg.lock";

/// The superuser URL of the shared cluster's `postgres` database, once known in this process.
static ADMIN_URL: OnceCell<String> = OnceCell::const_new();

/// Starts or reuses the shared cluster; returns its superuser URL to the `postgres` database.
pub(crate) async fn admin_url() -> Result<String, TestDbError> {
    ADMIN_URL.get_or_try_init(start).await.cloned()
}

/// Starts (or finds running) the shared cluster while holding the lock file.
async fn start() -> Result<String, TestDbError> {
    let target = target_dir();
    std::fs::create_dir_all(&target).map_err(|source| TestDbError::Lock {
        path: target.clone(),
        source,
    })?;
    let _lock = lock(&target.join(LOCK_FILE_NAME)).await?;
    let config = EmbeddedConfig::new(target.join(DATA_DIR_NAME)).durable(false);
    let pg = EmbeddedPostgres::start(config).await?;
    Ok(pg.database_url("postgres"))
    // The lock is released when `_lock` is closed; the server keeps running on purpose.
}

/// Opens and exclusively locks `path`, waiting for other processes; closing the file unlocks.
async fn lock(path: &Path) -> Result<File, TestDbError> {
    let owned = path.to_owned();
    let locked = tokio::task::spawn_blocking(move || {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&owned)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|join| std::io::Error::other(join.to_string()))
    .and_then(|result| result);
    locked.map_err(|source| TestDbError::Lock {
        path: path.to_owned(),
        source,
    })
}

/// The cargo target directory: an absolute `CARGO_TARGET_DIR`, else the ancestor of the
/// running test binary named `target` or holding cargo's `CACHEDIR.TAG`, else the temp dir.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir;
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = target_ancestor(&exe)
    {
        return dir.to_owned();
    }
    let fallback = std::env::temp_dir();
    tracing::debug!(dir = %fallback.display(), "no cargo target directory; using the temp dir");
    fallback
}

/// The nearest ancestor of `exe` that is a cargo target directory.
fn target_ancestor(exe: &Path) -> Option<&Path> {
    exe.ancestors().skip(1).find(|dir| {
        dir.file_name().is_some_and(|name| name == "target") || dir.join("CACHEDIR.TAG").is_file()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_lives_under_the_target_directory() {
        let exe = Path::new("/work/ledger/target/debug/deps/pgembed-0123");
        assert_eq!(target_ancestor(exe), Some(Path::new("/work/ledger/target")));
    }
}
