//! Which operating-system user runs the server: ourselves, or `postgres` when we are root.
//!
//! PostgreSQL refuses to run as root. When our effective uid is 0 the tools run as the
//! `postgres` system user instead, which must be able to reach and own the data directory.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::EmbeddedError;

/// The system user the server runs as when we are root.
pub(crate) const SERVER_USER_NAME: &str = "postgres";

/// A system user to run the PostgreSQL tools as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUser {
    /// Login name.
    pub(crate) name: String,
    /// User id.
    pub(crate) uid: u32,
    /// Primary group id (supplementary groups are dropped when switching user).
    pub(crate) gid: u32,
    /// Home directory, for `HOME`.
    pub(crate) home: PathBuf,
}

/// Returns the user to switch to: `None` to run as ourselves, the `postgres` user when root.
pub(crate) async fn server_user() -> Result<Option<ServerUser>, EmbeddedError> {
    if effective_uid().await? != 0 {
        return Ok(None);
    }
    match lookup(SERVER_USER_NAME).await {
        Some(user) => Ok(Some(user)),
        None => Err(EmbeddedError::NoServerUser {
            user: SERVER_USER_NAME.to_owned(),
        }),
    }
}

/// Our effective uid, from `/proc/self/status`, else from `id -u`.
async fn effective_uid() -> Result<u32, EmbeddedError> {
    if let Ok(status) = tokio::fs::read_to_string("/proc/self/status").await
        && let Some(uid) = parse_status_euid(&status)
    {
        return Ok(uid);
    }
    let out = crate::command::run(Path::new("id"), None, ["-u"]).await?;
    out.trim()
        .parse()
        .map_err(|_| EmbeddedError::CommandFailed {
            program: "id -u".to_owned(),
            status: "unexpected output".to_owned(),
            output: out.clone(),
        })
}

/// The effective uid: the second number of the `Uid:` line of `/proc/<pid>/status`.
fn parse_status_euid(status: &str) -> Option<u32> {
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Looks `name` up in `/etc/passwd`, else with `getent passwd` (NSS: LDAP and friends).
async fn lookup(name: &str) -> Option<ServerUser> {
    if let Ok(passwd) = tokio::fs::read_to_string("/etc/passwd").await
        && let Some(user) = passwd
            .lines()
            .find_map(|line| parse_passwd_line(line, name))
    {
        return Some(user);
    }
    let out = crate::command::run(Path::new("getent"), None, ["passwd", name])
        .await
        .ok()?;
    out.lines().find_map(|line| parse_passwd_line(line, name))
}

/// Parses one `name:x:uid:gid:gecos:home:shell` line if it is for `name`.
fn parse_passwd_line(line: &str, name: &str) -> Option<ServerUser> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 7 || fields[0] != name {
        return None;
    }
    Some(ServerUser {
        name: name.to_owned(),
        uid: fields[2].parse().ok()?,
        gid: fields[3].parse().ok()?,
        home: PathBuf::from(fields[5]),
    })
}

/// Checks that `user` may traverse every ancestor of the absolute path `dir`.
///
/// Uses the permission bits with the user's primary group only, which is exact for the
/// tools we start (switching user drops supplementary groups); ACLs are not consulted.
pub(crate) fn check_reachable(dir: &Path, user: &ServerUser) -> Result<(), EmbeddedError> {
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    for ancestor in ancestors {
        let meta = std::fs::metadata(ancestor)
            .map_err(|err| EmbeddedError::io("inspecting", ancestor, err))?;
        let search_bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if meta.mode() & search_bit == 0 {
            return Err(EmbeddedError::DirectoryNotReachable {
                dir: dir.to_owned(),
                blocked: ancestor.to_owned(),
                user: user.name.clone(),
            });
        }
    }
    Ok(())
}

/// Gives `path` to `user` (when we run the server as someone else).
pub(crate) fn chown(path: &Path, user: &ServerUser) -> Result<(), EmbeddedError> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .map_err(|err| EmbeddedError::io("changing the owner of", path, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_the_second_number() {
        let status = "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(parse_status_euid(status), Some(0));
    }

    #[test]
    fn a_passwd_line_gives_uid_gid_and_home() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash";
        let user = parse_passwd_line(line, "postgres").expect("parsed");
        assert_eq!((user.uid, user.gid), (101, 104));
        assert_eq!(user.home, PathBuf::from("/var/lib/postgresql"));
        assert_eq!(parse_passwd_line(line, "ledger"), None);
        assert_eq!(parse_passwd_line("postgres:x:oops:1:::", "postgres"), None);
    }
}
