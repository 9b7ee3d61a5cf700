//! Usage metadata: what one inference request cost and how it went. Never content.

use crate::error::{DomainError, Field, InputError};
use crate::ids::{GenerationId, KeyId, UserId};
use crate::money::Credits;
use crate::text::{ModelName, ProviderName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most tokens of one kind in one request.
pub const MAX_TOKENS: u64 = 100_000_000;
/// Longest latency accepted: one day.
pub const MAX_LATENCY_MS: u64 = 86_400_000;

/// How the request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageStatus {
    /// Completed.
    Success,
    /// Failed.
    Error,
    /// Cancelled by the client.
    Cancelled,
}

/// Token counts, each at most [`MAX_TOKENS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
    /// Cached prompt tokens.
    pub cached: u64,
}

/// What the gateway reports about a request (the key and its creator come from state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The provider's generation id; billed once per account.
    pub generation_id: GenerationId,
    /// The model.
    pub model: ModelName,
    /// The provider.
    pub provider: ProviderName,
    /// Token counts.
    pub tokens: Tokens,
    /// The actual cost (usage rules).
    pub cost: Credits,
    /// Total latency.
    pub latency_ms: u64,
    /// Time to first token, if streamed.
    pub time_to_first_token_ms: Option<u64>,
    /// How it ended.
    pub status: UsageStatus,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

impl UsageReport {
    /// Checks the numeric bounds and time order.
    pub fn validate(&self) -> Result<(), DomainError> {
        let t = self.tokens;
        if [t.prompt, t.completion, t.reasoning, t.cached]
            .iter()
            .any(|n| *n > MAX_TOKENS)
        {
            return Err(DomainError::invalid(
                Field::Tokens,
                InputError::OutOfRange {
                    min: 0,
                    max: MAX_TOKENS,
                },
            ));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(DomainError::invalid(
                Field::LatencyMs,
                InputError::OutOfRange {
                    min: 0,
                    max: MAX_LATENCY_MS,
                },
            ));
        }
        if let Some(ttft) = self.time_to_first_token_ms
            && ttft > self.latency_ms
        {
            return Err(DomainError::invalid(
                Field::TimeToFirstTokenMs,
                InputError::OutOfRange {
                    min: 0,
                    max: self.latency_ms,
                },
            ));
        }
        if self.finished_at < self.started_at {
            return Err(DomainError::invalid(
                Field::FinishedAt,
                InputError::BeforeStart,
            ));
        }
        Ok(())
    }

    /// The usage record for `key_id`, created by `user_id`.
    pub fn into_usage(self, key_id: KeyId, user_id: UserId) -> Usage {
        Usage {
            key_id,
            user_id,
            generation_id: self.generation_id,
            model: self.model,
            provider: self.provider,
            tokens: self.tokens,
            cost: self.cost,
            latency_ms: self.latency_ms,
            time_to_first_token_ms: self.time_to_first_token_ms,
            status: self.status,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }
}

/// One usage record as events carry it: metadata only, no prompt or response content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The key used.
    pub key_id: KeyId,
    /// The key's creator (the member the usage is attributed to).
    pub user_id: UserId,
    /// The provider's generation id.
    pub generation_id: GenerationId,
    /// The model.
    pub model: ModelName,
    /// The provider.
    pub provider: ProviderName,
    /// Token counts.
    pub tokens: Tokens,
    /// The cost billed.
    pub cost: Credits,
    /// Total latency.
    pub latency_ms: u64,
    /// Time to first token.
    pub time_to_first_token_ms: Option<u64>,
    /// How it ended.
    pub status: UsageStatus,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}
