//! Caller authentication: bearer tokens checked against a credentials file of SHA-256
//! digests (constant-time comparison), mapped to the domain's `Caller`.
//!
//! The file is a JSON list of `{ "name", "kind", "token_sha256" }`; tokens are never stored
//! or logged. `ledgerd credentials add` mints one. The acting user (dashboard) or staff member
//! (support) travels in `x-actor-id`; `x-correlation-id` is optional.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use ledger_domain::{Caller, StaffId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::error::AppError;

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
    /// Support staff, acting as the staff member in `x-actor-id`.
    Support,
    /// Auditors.
    Auditor,
}

/// One credential as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    /// A name for operators and logs.
    pub name: String,
    /// Which caller it authenticates.
    pub kind: CredentialKind,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
}

/// Who is calling, with the ids recorded in event metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    /// The caller as the domain sees it.
    pub caller: Caller,
    /// Ties together everything one user action caused (`x-correlation-id`, else random).
    pub correlation_id: Uuid,
}

impl CallContext {
    /// The acting user or staff id, as text, for event metadata and request hashes.
    pub fn actor(&self) -> Option<String> {
        match self.caller {
            Caller::Dashboard { user } => Some(user.to_string()),
            Caller::Support { staff } => Some(staff.to_string()),
            _ => None,
        }
    }

    /// The caller kind, snake_case, for event metadata.
    pub fn kind_name(&self) -> &'static str {
        match self.caller {
            Caller::Dashboard { .. } => "dashboard",
            Caller::Gateway => "gateway",
            Caller::Identity => "identity",
            Caller::Support { .. } => "support",
            Caller::Auditor => "auditor",
            Caller::System => "system",
        }
    }
}

struct Loaded {
    digests: Vec<([u8; 32], CredentialKind)>,
    modified: Option<SystemTime>,
}

/// The credentials in force; re-read when the file changes (checked at most once a second, and
/// at once on an unknown token so a new credential works immediately).
pub struct Credentials {
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
    next_check: Mutex<Instant>,
}

/// How often the credentials file is looked at for changes (revocations take effect within it).
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Every byte is folded in before the one comparison; black_box keeps the optimizer from
    // turning the fold back into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads a credentials file; a missing file is an empty list.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<Credential>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Vec::new()),
        Ok(text) => Ok(serde_json::from_str(&text)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error.into()),
    }
}

fn parse(list: &[Credential]) -> anyhow::Result<Vec<([u8; 32], CredentialKind)>> {
    list.iter()
        .map(|c| {
            let bytes = hex::decode(&c.token_sha256)?;
            let digest: [u8; 32] = bytes.try_into().map_err(|_| {
                anyhow::anyhow!("credential {}: token_sha256 is not 32 bytes", c.name)
            })?;
            Ok((digest, c.kind))
        })
        .collect()
}

impl Credentials {
    /// Loads the file (missing = no credentials: every call is refused).
    pub fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let (digests, modified) = match &path {
            Some(p) => (parse(&read_file(p)?)?, modified(p)),
            None => (Vec::new(), None),
        };
        if digests.is_empty() {
            tracing::warn!("no credentials configured: every call will be UNAUTHENTICATED");
        }
        Ok(Self {
            path,
            loaded: RwLock::new(Loaded { digests, modified }),
            next_check: Mutex::new(Instant::now() + RELOAD_CHECK_INTERVAL),
        })
    }

    fn find(&self, digest: &[u8; 32]) -> Option<CredentialKind> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        // Compare against every entry, in constant time each, so timing reveals nothing.
        let mut found = None;
        for (candidate, kind) in &loaded.digests {
            if constant_time_eq(candidate, digest) {
                found = Some(*kind);
            }
        }
        found
    }

    fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let now = modified(path);
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if loaded.modified == now {
                return;
            }
        }
        match read_file(path).and_then(|list| parse(&list)) {
            Ok(digests) => {
                tracing::info!(credentials = digests.len(), "credentials file reloaded");
                let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
                *loaded = Loaded {
                    digests,
                    modified: now,
                };
            }
            Err(error) => {
                tracing::warn!(%error, "credentials file unreadable; keeping the old list")
            }
        }
    }

    /// Looks at the file again once the check interval has passed, so a credential removed
    /// from it stops working within that interval without a restart.
    fn reload_if_due(&self) {
        let Ok(mut next_check) = self.next_check.try_lock() else {
            return; // another request is checking right now
        };
        let now = Instant::now();
        if now < *next_check {
            return;
        }
        *next_check = now + RELOAD_CHECK_INTERVAL;
        drop(next_check);
        self.reload_if_changed();
    }

    /// Authenticates a request's metadata.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<CallContext, AppError> {
        self.reload_if_due();
        let token = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::Unauthenticated("missing bearer token"))?;
        let digest = digest(token.trim());
        let kind = match self.find(&digest) {
            Some(kind) => kind,
            None => {
                self.reload_if_changed();
                self.find(&digest)
                    .ok_or(AppError::Unauthenticated("unknown credential"))?
            }
        };
        let actor = metadata.get("x-actor-id").and_then(|v| v.to_str().ok());
        let caller = match kind {
            CredentialKind::Dashboard => Caller::Dashboard {
                user: actor.and_then(|a| UserId::parse(a).ok()).ok_or(
                    AppError::Unauthenticated(
                        "dashboard calls need x-actor-id: the acting user's UUID",
                    ),
                )?,
            },
            CredentialKind::Support => Caller::Support {
                staff: actor.and_then(|a| StaffId::parse(a).ok()).ok_or(
                    AppError::Unauthenticated(
                        "support calls need x-actor-id: the staff member's UUID",
                    ),
                )?,
            },
            CredentialKind::Gateway => Caller::Gateway,
            CredentialKind::Identity => Caller::Identity,
            CredentialKind::Auditor => Caller::Auditor,
        };
        let correlation_id = metadata
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
            .unwrap_or_else(Uuid::new_v4);
        Ok(CallContext {
            caller,
            correlation_id,
        })
    }
}

/// Mints a credential: returns the token (shown once) and appends its digest to the file.
pub fn add_credential(path: &Path, kind: CredentialKind, name: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let token = format!(
        "lt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let mut list = read_file(path)?;
    list.push(Credential {
        name: name.to_owned(),
        kind,
        token_sha256: hex::encode(digest(&token)),
    });
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&list)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comparison_depends_on_every_byte() {
        let token = digest("lt_example");
        assert!(constant_time_eq(&token, &token));
        for position in [0, 15, 31] {
            let mut other = token;
            other[position] ^= 0x01;
            assert!(!constant_time_eq(&token, &other), "byte {position}");
        }
    }

    #[test]
    fn every_credential_is_compared_and_the_match_is_found_wherever_it_is() {
        let path = std::env::temp_dir().join(format!("credentials-{}.json", Uuid::new_v4()));
        let tokens: Vec<String> = [CredentialKind::Auditor, CredentialKind::Gateway]
            .into_iter()
            .map(|kind| add_credential(&path, kind, "test").unwrap())
            .collect();
        let credentials = Credentials::load(Some(path.clone())).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            credentials.find(&digest(&tokens[1])),
            Some(CredentialKind::Gateway)
        );
        assert_eq!(
            credentials.find(&digest(&tokens[0])),
            Some(CredentialKind::Auditor)
        );
        assert_eq!(credentials.find(&digest("lt_unknown")), None);
    }
}
