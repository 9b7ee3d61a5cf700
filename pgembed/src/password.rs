//! The superuser's password and the cluster's `pg_hba.conf`: SCRAM-SHA-256, never `trust`.
//!
//! `initdb` sets a random password (given through a 0600 file that is removed afterwards)
//! and the password is kept in `<data dir>/ledger.password` (mode 0600, owned by the user
//! that owns the cluster). `pg_hba.conf` is managed: it is rewritten whenever it differs
//! from [`MANAGED_HBA`]. A cluster made before (with `trust`) is upgraded on its next start:
//! its password is set over the still-trusting connection, then `pg_hba.conf` is replaced
//! and the server reloaded.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::EmbeddedError;
use crate::user::{self, ServerUser};

/// The file in the data directory that holds the superuser's password.
pub(crate) const PASSWORD_FILE: &str = "ledger.password";
/// Random bytes in a password (shown as twice as many hex digits, safe in URLs and SQL).
const PASSWORD_BYTES: usize = 24;
/// The managed `pg_hba.conf`: SCRAM for every connection, local socket (disabled by the
/// start settings, see `server.rs`) and loopback alike, and for streaming replication by the
/// superuser over loopback (what a standby made by `EmbeddedPostgres::start_standby` uses).
pub(crate) const MANAGED_HBA: &str = "\
# Managed by ledger-pgembed and rewritten at start: SCRAM-SHA-256 only.
# The superuser's password is in ledger.password (mode 0600) in this directory.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
host replication ledger 127.0.0.1/32 scram-sha-256
";

/// A new random password.
pub(crate) fn generate() -> Result<String, EmbeddedError> {
    let mut bytes = [0_u8; PASSWORD_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| {
        EmbeddedError::io(
            "generating a password for",
            PASSWORD_FILE,
            std::io::Error::other(err.to_string()),
        )
    })?;
    Ok(hex::encode(bytes))
}

/// The password kept in `data_dir`, if there is one.
pub(crate) fn read(data_dir: &Path) -> Result<Option<String>, EmbeddedError> {
    let path = data_dir.join(PASSWORD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(EmbeddedError::io("reading", path, err)),
    }
}

/// Writes `text` to `path` with mode 0600, owned by `owner` when given, replacing it
/// atomically (a temporary file beside it, then a rename).
pub(crate) fn write_private(
    path: &Path,
    text: &str,
    owner: Option<&ServerUser>,
) -> Result<(), EmbeddedError> {
    let temp = with_suffix(path, ".tmp");
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|err| EmbeddedError::io("creating", &temp, err))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|err| EmbeddedError::io("writing", &temp, err))?;
    if let Some(owner) = owner {
        user::chown(&temp, owner)?;
    }
    std::fs::rename(&temp, path).map_err(|err| EmbeddedError::io("replacing", path, err))
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether `data_dir`'s `pg_hba.conf` is the managed one.
pub(crate) fn hba_is_managed(data_dir: &Path) -> bool {
    std::fs::read_to_string(data_dir.join("pg_hba.conf")).is_ok_and(|text| text == MANAGED_HBA)
}

/// Writes the managed `pg_hba.conf` into `data_dir`.
pub(crate) fn write_hba(data_dir: &Path, owner: Option<&ServerUser>) -> Result<(), EmbeddedError> {
    write_private(&data_dir.join("pg_hba.conf"), MANAGED_HBA, owner)
}

/// The statements that give `role` the password `password` as a SCRAM verifier.
///
/// `password` must come from [`generate`] (hex digits only), `role` is a constant.
pub(crate) fn set_password_sql(role: &str, password: &str) -> String {
    assert!(
        password.bytes().all(|b| b.is_ascii_hexdigit()),
        "generated passwords are hex"
    );
    format!(
        "SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{role}\" PASSWORD '{password}'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_hex() {
        let a = generate().expect("random");
        assert_eq!(a.len(), 2 * PASSWORD_BYTES);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, generate().expect("random"));
    }

    #[test]
    fn the_managed_hba_trusts_nobody() {
        assert!(
            MANAGED_HBA
                .lines()
                .filter(|line| !line.starts_with('#'))
                .all(|line| line.ends_with("scram-sha-256"))
        );
    }
}
