//! The credentials file: a JSON list of `{ name, kind, token_sha256, staff_id? }`, managed by
//! `ledgerd credentials add | list | remove | rotate`, never by hand.
//!
//! Tokens are shown once and stored only as SHA-256 digests. Every change takes an exclusive
//! lock on `<file>.lock` (two operators cannot lose each other's change), writes a new file with
//! mode 0600 beside the old one, syncs it and renames it over the old one, so a running
//! `ledgerd` only ever reads a whole list.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ledger_domain::StaffId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Kinds of credentials, one per caller kind that may call from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// The dashboard backend, acting for the user in `x-actor-id`.
    Dashboard,
    /// The inference gateway.
    Gateway,
    /// The identity service.
    Identity,
    /// One support staff member, the one the credential is bound to.
    Support,
    /// Auditors.
    Auditor,
    /// The service that emails and pages people (streams the notifications outbox).
    Notifier,
}

impl CredentialKind {
    /// The kind as written in the file and in listings.
    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::Dashboard => "dashboard",
            CredentialKind::Gateway => "gateway",
            CredentialKind::Identity => "identity",
            CredentialKind::Support => "support",
            CredentialKind::Auditor => "auditor",
            CredentialKind::Notifier => "notifier",
        }
    }
}

/// One credential as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Unique within the file; recorded in the metadata of every event its calls append.
    pub name: String,
    /// Which caller it authenticates.
    pub kind: CredentialKind,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// The staff member a support credential acts as (support calls take their staff id from
    /// here, never from the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<StaffId>,
}

/// Why a credentials change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Names identify credentials for `remove` and `rotate`, and in event metadata.
    #[error("a credential named {0:?} exists already")]
    NameTaken(String),
    /// `remove` or `rotate` of a name the file does not hold.
    #[error("no credential named {0:?}")]
    UnknownName(String),
    /// A support credential must name its staff member; no other kind may.
    #[error("--staff-id is required for support credentials and allowed for no other kind")]
    StaffIdMisplaced,
    /// Names are 1..=100 printable characters.
    #[error("a credential name is 1 to 100 characters without control characters")]
    BadName,
    /// The file does not parse: nothing was changed; fix or restore it by hand.
    #[error("{path}: not a credentials file: {source}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The system has no randomness to mint a token with.
    #[error("no randomness: {0}")]
    NoRandomness(String),
}

type Result<T> = std::result::Result<T, CredentialsError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CredentialsError + '_ {
    move |source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The SHA-256 of a token, as authentication compares it.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The hex SHA-256 of a token, as the file stores it.
fn stored_digest(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// Reads a credentials file; a missing or empty file is an empty list.
pub fn read(path: &Path) -> Result<Vec<Credential>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Vec::new()),
        Ok(text) => serde_json::from_str(&text).map_err(|source| CredentialsError::Malformed {
            path: path.to_owned(),
            source,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(io(path)(error)),
    }
}

/// Mints a credential: returns its token (shown once) and stores its digest.
pub fn add(
    path: &Path,
    kind: CredentialKind,
    name: &str,
    staff_id: Option<StaffId>,
) -> Result<String> {
    let name_ok = (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    if !name_ok {
        return Err(CredentialsError::BadName);
    }
    if (kind == CredentialKind::Support) != staff_id.is_some() {
        return Err(CredentialsError::StaffIdMisplaced);
    }
    update(path, |list| {
        if list.iter().any(|c| c.name == name) {
            return Err(CredentialsError::NameTaken(name.to_owned()));
        }
        let token = mint_token()?;
        list.push(Credential {
            name: name.to_owned(),
            kind,
            token_sha256: stored_digest(&token),
            staff_id,
        });
        Ok(token)
    })
}

/// Removes the credential `name`; a running `ledgerd` refuses its token within a second.
pub fn remove(path: &Path, name: &str) -> Result<Credential> {
    update(path, |list| {
        let index = position(list, name)?;
        Ok(list.remove(index))
    })
}

/// Gives the credential `name` a new token (returned, shown once); the old token stops working
/// within a second, everything else about the credential stays.
pub fn rotate(path: &Path, name: &str) -> Result<String> {
    update(path, |list| {
        let index = position(list, name)?;
        let token = mint_token()?;
        list[index].token_sha256 = stored_digest(&token);
        Ok(token)
    })
}

fn position(list: &[Credential], name: &str) -> Result<usize> {
    list.iter()
        .position(|c| c.name == name)
        .ok_or_else(|| CredentialsError::UnknownName(name.to_owned()))
}

fn mint_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| CredentialsError::NoRandomness(e.to_string()))?;
    Ok(format!(
        "lt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Reads, changes and writes the file under its lock; nothing is written when `change` fails.
fn update<T>(path: &Path, change: impl FnOnce(&mut Vec<Credential>) -> Result<T>) -> Result<T> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let lock_path = sibling(path, "lock");
    let lock = private_file(&lock_path, false)?;
    lock.lock().map_err(io(&lock_path))?;
    let mut list = read(path)?;
    let outcome = change(&mut list)?;
    write(path, &list)?;
    // The lock is released when `lock` is closed.
    Ok(outcome)
}

fn write(path: &Path, list: &[Credential]) -> Result<()> {
    let text =
        serde_json::to_string_pretty(list).map_err(|source| CredentialsError::Malformed {
            path: path.to_owned(),
            source,
        })?;
    let tmp = sibling(path, "tmp");
    let mut file = private_file(&tmp, true)?;
    keep_owner(path, &file).map_err(io(&tmp))?;
    file.write_all(text.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    // The rename is durable once the directory is synced.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}

/// Gives the new file the owner of the one it replaces, so an operator running the command as
/// root (`sudo ledgerd credentials remove …`) does not leave a file the service user cannot
/// read, which would keep the removed credential in force.
fn keep_owner(path: &Path, new: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(old) => std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `<file>.<extension>` beside `path` (`credentials.json` → `credentials.json.lock`).
fn sibling(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// Opens (creating with mode 0600) a file only its owner may read; `truncate` empties it.
fn private_file(path: &Path, truncate: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(io(path))?;
    // `mode` applies only when the file is created; a file left by an older version is
    // tightened too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        std::env::temp_dir()
            .join(format!("credentials-{}", uuid::Uuid::new_v4()))
            .join("credentials.json")
    }

    fn staff() -> StaffId {
        StaffId::from_uuid(uuid::Uuid::new_v4())
    }

    #[test]
    fn add_list_rotate_remove() {
        let path = scratch();
        let token = add(&path, CredentialKind::Gateway, "gw-1", None).unwrap();
        let staff = staff();
        add(&path, CredentialKind::Support, "ana", Some(staff)).unwrap();
        let list = read(&path).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].token_sha256, stored_digest(&token));
        assert_eq!(list[1].staff_id, Some(staff));

        let rotated = rotate(&path, "gw-1").unwrap();
        assert_ne!(rotated, token);
        let list = read(&path).unwrap();
        assert_eq!(list[0].token_sha256, stored_digest(&rotated));
        assert_eq!(
            (list[0].kind, list[0].name.as_str()),
            (CredentialKind::Gateway, "gw-1")
        );

        assert_eq!(remove(&path, "ana").unwrap().staff_id, Some(staff));
        assert_eq!(read(&path).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn refusals_change_nothing() {
        let path = scratch();
        add(&path, CredentialKind::Auditor, "audit", None).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            add(&path, CredentialKind::Gateway, "audit", None),
            Err(CredentialsError::NameTaken(_))
        ));
        assert!(matches!(
            add(&path, CredentialKind::Support, "s", None),
            Err(CredentialsError::StaffIdMisplaced)
        ));
        assert!(matches!(
            add(&path, CredentialKind::Gateway, "g", Some(staff())),
            Err(CredentialsError::StaffIdMisplaced)
        ));
        assert!(matches!(
            add(&path, CredentialKind::Gateway, "", None),
            Err(CredentialsError::BadName)
        ));
        assert!(matches!(
            remove(&path, "nobody"),
            Err(CredentialsError::UnknownName(_))
        ));
        assert!(matches!(
            rotate(&path, "nobody"),
            Err(CredentialsError::UnknownName(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_malformed_file_is_never_overwritten() {
        let path = scratch();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[{ not json").unwrap();
        assert!(matches!(
            add(&path, CredentialKind::Gateway, "gw", None),
            Err(CredentialsError::Malformed { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[{ not json");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let path = scratch();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[]").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        add(&path, CredentialKind::Gateway, "gw", None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn concurrent_adds_keep_every_credential() {
        let path = scratch();
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let path = path.clone();
                std::thread::spawn(move || {
                    add(&path, CredentialKind::Gateway, &format!("gw-{n}"), None).unwrap()
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(read(&path).unwrap().len(), 8);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
