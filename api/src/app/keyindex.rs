//! The in-memory index the gateway authenticates by: keyed secret hash → (account, key, secret
//! generation).
//!
//! Built at start-up from the `key_secret_hash` unique claims joined with the events that made
//! them (`key_created`: generation 0; `key_rotated`: the generation it carries), updated after
//! every append that creates or rotates a key, and on a miss looked up once in the
//! database (another `ledgerd` may have created the key). A hash the database does not know
//! either is remembered as unknown for [`UNKNOWN_TTL`] (at most [`UNKNOWN_CAPACITY`] of them),
//! so guessed secrets repeated cost no query. Deleted keys stay indexed so that their secrets
//! are answered `KEY_DELETED`, not `UNKNOWN_KEY`, and rotated-out secrets stay indexed so
//! that the account state decides whether their grace period is over
//! (`Account::authenticate`): the index says which secret it is, never whether it works.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use ledger_domain::account::AccountEvent;
use ledger_domain::{AccountId, Event, KeyId};
use sqlx::{PgPool, Row};

use crate::error::AppError;

/// How long a hash the database did not know is answered unknown without asking again (a key
/// created meanwhile by another `ledgerd` has a secret no one could have sent before).
pub const UNKNOWN_TTL: Duration = Duration::from_secs(60);

/// Unknown hashes remembered at most; when full, expired ones go, and if none has, all do.
pub const UNKNOWN_CAPACITY: usize = 10_000;

/// The key a secret hash names, and which of the key's secrets it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedSecret {
    /// The key's account.
    pub account: AccountId,
    /// The key.
    pub key: KeyId,
    /// The secret's generation: 0 for the creation's, one more per rotation.
    pub generation: u32,
}

/// Secret hash → the key and the secret's generation.
pub struct KeyIndex {
    map: RwLock<HashMap<String, IndexedSecret>>,
    /// Hashes the database did not know, with when they stop being trusted as unknown.
    unknown: Mutex<HashMap<String, Instant>>,
}

const QUERY: &str = "SELECT e.event_type, e.schema_version, e.payload FROM unique_claims c \
     JOIN events e ON e.position = c.position WHERE c.scope = 'key_secret_hash'";
const QUERY_ONE: &str = "SELECT e.event_type, e.schema_version, e.payload FROM unique_claims c \
     JOIN events e ON e.position = c.position \
     WHERE c.scope = 'key_secret_hash' AND c.value = $1";

/// The secret an event gives a key: its hash and what it names.
fn secret_of(event: &Event) -> Option<(String, IndexedSecret)> {
    let (hash, account, key, generation) = match event {
        Event::Account(AccountEvent::KeyCreated(k)) => (&k.secret_hash, k.account_id, k.key_id, 0),
        Event::Account(AccountEvent::KeyRotated(k)) => {
            (&k.secret_hash, k.account_id, k.key_id, k.generation)
        }
        _ => return None,
    };
    let named = IndexedSecret {
        account,
        key,
        generation,
    };
    Some((hash.as_str().to_owned(), named))
}

/// The secret of the event a claim row joins.
fn entry(row: &sqlx::postgres::PgRow) -> Result<Option<(String, IndexedSecret)>, sqlx::Error> {
    let event_type: String = row.try_get("event_type")?;
    let version: i32 = row.try_get("schema_version")?;
    let payload: String = row.try_get("payload")?;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&payload) else {
        return Ok(None);
    };
    let version = u16::try_from(version).unwrap_or(0);
    Ok(Event::from_stored(&event_type, version, value)
        .ok()
        .and_then(|event| secret_of(&event)))
}

impl KeyIndex {
    /// Reads every key ever created.
    pub async fn build(pool: &PgPool) -> anyhow::Result<Self> {
        let rows = sqlx::query(QUERY).fetch_all(pool).await?;
        let mut map = HashMap::with_capacity(rows.len());
        for row in rows {
            if let Some((hash, named)) = entry(&row)? {
                map.insert(hash, named);
            }
        }
        tracing::info!(keys = map.len(), "key index built");
        Ok(Self {
            map: RwLock::new(map),
            unknown: Mutex::default(),
        })
    }

    /// Adds the secrets an append gave keys (created or rotated).
    pub fn record(&self, events: impl Iterator<Item = impl std::borrow::Borrow<Event>>) {
        for event in events {
            if let Some((hash, named)) = secret_of(event.borrow()) {
                self.unknown_hashes().remove(&hash);
                let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
                map.insert(hash, named);
            }
        }
    }

    /// The key with this secret hash, looked up in the database on a miss.
    pub async fn find(&self, pool: &PgPool, hash: &str) -> Result<Option<IndexedSecret>, AppError> {
        if let Some(found) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(hash) {
            return Ok(Some(*found));
        }
        let now = Instant::now();
        if self
            .unknown_hashes()
            .get(hash)
            .is_some_and(|until| *until > now)
        {
            return Ok(None);
        }
        let row = sqlx::query(QUERY_ONE)
            .bind(hash)
            .fetch_optional(pool)
            .await?;
        let Some(row) = row else {
            self.remember_unknown(hash, now);
            return Ok(None);
        };
        Ok(entry(&row)?.map(|(hash, named)| {
            let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
            map.insert(hash, named);
            named
        }))
    }
}

impl KeyIndex {
    fn unknown_hashes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.unknown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `hash` as unknown for [`UNKNOWN_TTL`], within [`UNKNOWN_CAPACITY`].
    fn remember_unknown(&self, hash: &str, now: Instant) {
        let mut unknown = self.unknown_hashes();
        if unknown.len() >= UNKNOWN_CAPACITY {
            unknown.retain(|_, until| *until > now);
            if unknown.len() >= UNKNOWN_CAPACITY {
                unknown.clear();
            }
        }
        unknown.insert(hash.to_owned(), now + UNKNOWN_TTL);
    }
}
