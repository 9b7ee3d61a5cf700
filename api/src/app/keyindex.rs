//! The in-memory index the gateway authenticates by: keyed secret hash → (account, key).
//!
//! Built at start-up from the `key_secret_hash` unique claims joined with the events that made
//! them, updated after every append that creates a key, and on a miss looked up once in the
//! database (another `ledgerd` may have created the key). A hash the database does not know
//! either is remembered as unknown for [`UNKNOWN_TTL`] (at most [`UNKNOWN_CAPACITY`] of them),
//! so guessed secrets repeated cost no query. Deleted keys stay indexed so that their secrets
//! are answered `KEY_DELETED`, not `UNKNOWN_KEY`.

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

/// Secret hash → (account, key).
pub struct KeyIndex {
    map: RwLock<HashMap<String, (AccountId, KeyId)>>,
    /// Hashes the database did not know, with when they stop being trusted as unknown.
    unknown: Mutex<HashMap<String, Instant>>,
}

const QUERY: &str = "SELECT e.payload FROM unique_claims c JOIN events e ON e.position = c.position \
     WHERE c.scope = 'key_secret_hash'";
const QUERY_ONE: &str = "SELECT e.payload FROM unique_claims c JOIN events e ON e.position = c.position \
     WHERE c.scope = 'key_secret_hash' AND c.value = $1";

fn entry(payload: &str) -> Option<(String, AccountId, KeyId)> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let event = Event::from_stored("account.key_created", 1, value).ok()?;
    match event {
        Event::Account(AccountEvent::KeyCreated(k)) => {
            Some((k.secret_hash.as_str().to_owned(), k.account_id, k.key_id))
        }
        _ => None,
    }
}

impl KeyIndex {
    /// Reads every key ever created.
    pub async fn build(pool: &PgPool) -> anyhow::Result<Self> {
        let rows = sqlx::query(QUERY).fetch_all(pool).await?;
        let mut map = HashMap::with_capacity(rows.len());
        for row in rows {
            let payload: String = row.try_get("payload")?;
            if let Some((hash, account, key)) = entry(&payload) {
                map.insert(hash, (account, key));
            }
        }
        tracing::info!(keys = map.len(), "key index built");
        Ok(Self {
            map: RwLock::new(map),
            unknown: Mutex::default(),
        })
    }

    /// Adds the keys an append created.
    pub fn record(&self, events: impl Iterator<Item = impl std::borrow::Borrow<Event>>) {
        for event in events {
            if let Event::Account(AccountEvent::KeyCreated(k)) = event.borrow() {
                let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
                map.insert(k.secret_hash.as_str().to_owned(), (k.account_id, k.key_id));
                self.unknown_hashes().remove(k.secret_hash.as_str());
            }
        }
    }

    /// The key with this secret hash, looked up in the database on a miss.
    pub async fn find(
        &self,
        pool: &PgPool,
        hash: &str,
    ) -> Result<Option<(AccountId, KeyId)>, AppError> {
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
        let payload: String = row.try_get("payload")?;
        Ok(entry(&payload).map(|(hash, account, key)| {
            let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
            map.insert(hash, (account, key));
            (account, key)
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
