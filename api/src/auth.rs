//! Caller authentication: bearer tokens checked against the credentials file's SHA-256
//! digests (constant-time comparison), mapped to the domain's `Caller`.
//!
//! Tokens are never stored or logged (`crate::credentials` manages the file). The acting user
//! of a dashboard call travels in `x-actor-id`; a support call acts as the staff member its
//! credential is bound to. `x-correlation-id` is optional. [`layer`] authenticates every call
//! from its headers before its body is decoded; [`rate`] limits calls per credential and per
//! API key.

pub mod assertion;
pub mod layer;
pub mod rate;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use ledger_domain::{Caller, StaffId, UserId};
use uuid::Uuid;

use crate::credentials::{self, Credential, CredentialKind, token_digest};
use crate::error::AppError;
use assertion::AssertionCheck;

/// Who is calling, with the ids recorded in event metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The caller as the domain sees it.
    pub caller: Caller,
    /// Ties together everything one user action caused (`x-correlation-id`, else random).
    pub correlation_id: Uuid,
    /// The name of the credential the call authenticated with (`None` for the system's own
    /// commands), recorded in the metadata of every event the call appends.
    pub credential: Option<Arc<str>>,
}

impl CallContext {
    /// The context of a command `ledgerd` makes itself (hold expiry).
    pub fn system() -> Self {
        CallContext {
            caller: Caller::System,
            correlation_id: Uuid::new_v4(),
            credential: None,
        }
    }

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
            Caller::Notifier => "notifier",
        }
    }
}

/// A credential in force: its digest, and what a call made with it is.
struct Entry {
    digest: [u8; 32],
    name: Arc<str>,
    kind: CredentialKind,
    staff_id: Option<StaffId>,
}

struct Loaded {
    entries: Vec<Arc<Entry>>,
    /// What the file looked like when last read: its modification time and length.
    seen: Option<(SystemTime, u64)>,
}

/// The credentials in force; re-read when the file changes (checked at most once a second, and
/// at once on an unknown token so a new credential works immediately).
///
/// A file that no longer parses (edited by hand) keeps the last list that did in force: every
/// inference request of the platform is authenticated here, and a typo must not refuse them
/// all. It is not silent: each failed reload is logged as an error and counted, and
/// `ledger_credentials_file_valid` reads 0 until the file parses again. The `ledgerd
/// credentials` commands write atomically and never leave a file that does not parse.
pub struct Credentials {
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
    next_check: Mutex<Instant>,
    file_valid: AtomicBool,
    failed_reloads: AtomicU64,
    /// When set, dashboard calls must carry a signed actor assertion for their user.
    assertion: Option<AssertionCheck>,
}

/// How the credentials file fares, for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsHealth {
    /// Whether the file parsed the last time it was read.
    pub file_valid: bool,
    /// Reloads that failed since start.
    pub failed_reloads: u64,
    /// Credentials in force.
    pub in_force: usize,
}

/// How often the credentials file is looked at for changes (revocations take effect within it).
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Every byte is folded in before the one comparison; black_box keeps the optimizer from
    // turning the fold back into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

fn seen(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

fn parse(list: &[Credential]) -> anyhow::Result<Vec<Arc<Entry>>> {
    list.iter()
        .map(|c| {
            let bytes = hex::decode(&c.token_sha256)?;
            let digest: [u8; 32] = bytes.try_into().map_err(|_| {
                anyhow::anyhow!("credential {}: token_sha256 is not 32 bytes", c.name)
            })?;
            if c.kind == CredentialKind::Support && c.staff_id.is_none() {
                tracing::error!(
                    credential = c.name,
                    "support credential without a staff id: its calls are refused; mint one \
                     with `ledgerd credentials add --kind support --staff-id`"
                );
            }
            Ok(Arc::new(Entry {
                digest,
                name: Arc::from(c.name.as_str()),
                kind: c.kind,
                staff_id: c.staff_id,
            }))
        })
        .collect()
}

/// The token of an `authorization` header value: the `Bearer` scheme matched without regard
/// to case (RFC 9110 §11.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Credentials {
    /// Loads the file (missing = no credentials: every call is refused; not parsing = an
    /// error, so `ledgerd` does not start on a broken file).
    pub fn load(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let (entries, seen) = match &path {
            Some(p) => (parse(&credentials::read(p)?)?, seen(p)),
            None => (Vec::new(), None),
        };
        if entries.is_empty() {
            tracing::warn!("no credentials configured: every call will be UNAUTHENTICATED");
        }
        Ok(Self {
            path,
            loaded: RwLock::new(Loaded { entries, seen }),
            next_check: Mutex::new(Instant::now() + RELOAD_CHECK_INTERVAL),
            file_valid: AtomicBool::new(true),
            failed_reloads: AtomicU64::new(0),
            assertion: None,
        })
    }

    /// Requires a signed actor assertion on every dashboard call, checked by `check`.
    pub fn requiring_assertions(mut self, check: Option<AssertionCheck>) -> Self {
        self.assertion = check;
        self
    }

    /// How the file fares.
    pub fn health(&self) -> CredentialsHealth {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        CredentialsHealth {
            file_valid: self.file_valid.load(Ordering::Relaxed),
            failed_reloads: self.failed_reloads.load(Ordering::Relaxed),
            in_force: loaded.entries.len(),
        }
    }

    fn find(&self, digest: &[u8; 32]) -> Option<Arc<Entry>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        // Compare against every entry, in constant time each, so timing reveals nothing.
        let mut found = None;
        for entry in &loaded.entries {
            if constant_time_eq(&entry.digest, digest) {
                found = Some(Arc::clone(entry));
            }
        }
        found
    }

    fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let now = seen(path);
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if loaded.seen == now {
                return;
            }
        }
        match credentials::read(path) {
            Ok(list) => match parse(&list) {
                Ok(entries) => {
                    tracing::info!(credentials = entries.len(), "credentials file reloaded");
                    self.file_valid.store(true, Ordering::Relaxed);
                    let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
                    *loaded = Loaded { entries, seen: now };
                }
                Err(error) => self.reload_failed(&error, now, true),
            },
            Err(error @ credentials::CredentialsError::Malformed { .. }) => {
                self.reload_failed(&error, now, true);
            }
            // Unreadable for now (permissions, descriptors): read again at the next check.
            Err(error) => self.reload_failed(&error, now, false),
        }
    }

    /// A reload that left the last good list in force: loud and counted. A file that does not
    /// parse (`settled`) is not read again until it changes once more.
    fn reload_failed(
        &self,
        error: &dyn std::fmt::Display,
        now: Option<(SystemTime, u64)>,
        settled: bool,
    ) {
        self.file_valid.store(false, Ordering::Relaxed);
        self.failed_reloads.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            %error,
            "credentials file not usable; the last list that was stays in force, so a \
             credential removed by this change still works"
        );
        if settled {
            let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
            loaded.seen = now;
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

    /// Authenticates a request by its headers (no body needed).
    pub fn authenticate(&self, metadata: &http::HeaderMap) -> Result<CallContext, AppError> {
        self.reload_if_due();
        let token = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or(AppError::Unauthenticated("missing bearer token"))?;
        let digest = token_digest(token);
        let entry = match self.find(&digest) {
            Some(entry) => entry,
            None => {
                self.reload_if_changed();
                self.find(&digest)
                    .ok_or(AppError::Unauthenticated("unknown credential"))?
            }
        };
        let actor = metadata.get("x-actor-id").and_then(|v| v.to_str().ok());
        let caller = match entry.kind {
            CredentialKind::Dashboard => Caller::Dashboard {
                user: self.dashboard_user(metadata, actor)?,
            },
            CredentialKind::Support => Caller::Support {
                staff: bound_staff(&entry, actor)?,
            },
            CredentialKind::Gateway => Caller::Gateway,
            CredentialKind::Identity => Caller::Identity,
            CredentialKind::Auditor => Caller::Auditor,
            CredentialKind::Notifier => Caller::Notifier,
        };
        let correlation_id = metadata
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
            .unwrap_or_else(Uuid::new_v4);
        let context = CallContext {
            caller,
            correlation_id,
            credential: Some(Arc::clone(&entry.name)),
        };
        crate::access::note_caller(&context);
        Ok(context)
    }
}

impl Credentials {
    /// The acting user of a dashboard call: `x-actor-id`, vouched for by `x-actor-assertion`
    /// when assertions are required.
    fn dashboard_user(
        &self,
        metadata: &http::HeaderMap,
        actor: Option<&str>,
    ) -> Result<UserId, AppError> {
        let user = actor
            .and_then(|a| UserId::parse(a).ok())
            .ok_or(AppError::Unauthenticated(
                "dashboard calls need x-actor-id: the acting user's UUID",
            ))?;
        if let Some(check) = &self.assertion {
            let assertion = metadata
                .get("x-actor-assertion")
                .and_then(|v| v.to_str().ok());
            let now_s = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            check.verify(assertion, user, now_s)?;
        }
        Ok(user)
    }
}

/// The staff member of a support call: the one its credential is bound to. `x-actor-id` may
/// repeat it; naming anyone else is refused, so a support token cannot act as another member.
fn bound_staff(entry: &Entry, actor: Option<&str>) -> Result<StaffId, AppError> {
    let staff = entry.staff_id.ok_or(AppError::Unauthenticated(
        "this support credential is bound to no staff member; mint one with --staff-id",
    ))?;
    match actor {
        Some(actor) if StaffId::parse(actor).ok() != Some(staff) => Err(AppError::Unauthenticated(
            "x-actor-id is not the staff member of this credential",
        )),
        _ => Ok(staff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comparison_depends_on_every_byte() {
        let token = token_digest("lt_example");
        assert!(constant_time_eq(&token, &token));
        for position in [0, 15, 31] {
            let mut other = token;
            other[position] ^= 0x01;
            assert!(!constant_time_eq(&token, &other), "byte {position}");
        }
    }

    fn kind_of(credentials: &Credentials, token: &str) -> Option<CredentialKind> {
        credentials
            .find(&token_digest(token))
            .map(|entry| entry.kind)
    }

    #[test]
    fn every_credential_is_compared_and_the_match_is_found_wherever_it_is() {
        let path = std::env::temp_dir().join(format!("credentials-{}.json", Uuid::new_v4()));
        let tokens: Vec<String> = [CredentialKind::Auditor, CredentialKind::Gateway]
            .into_iter()
            .map(|kind| credentials::add(&path, kind, kind.name(), None).unwrap())
            .collect();
        let credentials = Credentials::load(Some(path.clone())).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            kind_of(&credentials, &tokens[1]),
            Some(CredentialKind::Gateway)
        );
        assert_eq!(
            kind_of(&credentials, &tokens[0]),
            Some(CredentialKind::Auditor)
        );
        assert_eq!(kind_of(&credentials, "lt_unknown"), None);
    }

    #[test]
    fn the_bearer_scheme_is_matched_without_regard_to_case() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
