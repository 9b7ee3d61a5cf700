//! Verification of the hash chain, and of checkpoints auditors keep.

use sqlx::PgPool;

use crate::error::StoreError;
use crate::hash::{GENESIS_HASH, canonical_bytes, chain_hash};
use crate::model::{Head, RecordedEvent, limits};
use crate::read::{head, read_all};

/// Why the chain breaks at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// No event at this position although later ones exist or the head is past it.
    Missing,
    /// The stored previous hash is not the hash of the event before.
    PrevHashMismatch,
    /// The stored hash is not the hash of the stored bytes.
    HashMismatch,
    /// The head row does not name the last event's position and hash.
    HeadMismatch,
}

impl BreakReason {
    /// The reason as the audit API names it (`VerifyChainResponse.break_reason`).
    pub fn name(self) -> &'static str {
        match self {
            BreakReason::Missing => "Missing",
            BreakReason::PrevHashMismatch => "PrevHashMismatch",
            BreakReason::HashMismatch => "HashMismatch",
            BreakReason::HeadMismatch => "HeadMismatch",
        }
    }
}

/// The first position at which the log is not what its hashes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// The first bad position.
    pub position: i64,
    /// What is wrong there.
    pub reason: BreakReason,
}

/// The result of walking the chain over a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// First position checked.
    pub from: i64,
    /// Last position checked (the end of the range, or where the walk stopped).
    pub to: i64,
    /// Events whose hash was recomputed.
    pub checked: i64,
    /// The first break, if any; the walk stops there.
    pub first_break: Option<Break>,
}

impl Verification {
    /// Whether every checked event matched.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks the chain from `from` to `to` (inclusive; `None` = the head), recomputing each hash.
///
/// A range that starts after position 1 takes the stored hash of the event before it as given;
/// only a walk from 1 proves the whole history. `progress` is called with each page's last
/// position, for progress bars.
#[tracing::instrument(skip(pool, progress), err)]
pub async fn verify_range(
    pool: &PgPool,
    from: i64,
    to: Option<i64>,
    mut progress: impl FnMut(i64),
) -> Result<Verification, StoreError> {
    let from = from.max(1);
    let Head {
        position: head_position,
        hash: head_hash,
    } = head(pool).await?;
    let to = to.unwrap_or(head_position).min(head_position);
    let mut prev_hash = if from == 1 {
        GENESIS_HASH
    } else {
        match read_all(pool, from - 2, 1).await?.first() {
            Some(event) if event.position == from - 1 => event.hash,
            _ => return Ok(broken(from, to, 0, from - 1, BreakReason::Missing)),
        }
    };
    let mut checked = 0;
    let mut position = from - 1;
    while position < to {
        let page = read_all(pool, position, (to - position).min(limits::MAX_READ_LIMIT)).await?;
        if page.is_empty() {
            return Ok(broken(
                from,
                to,
                checked,
                position + 1,
                BreakReason::Missing,
            ));
        }
        for event in page.iter().take_while(|event| event.position <= to) {
            if let Some(reason) = check_event(event, position + 1, &prev_hash) {
                let at = if reason == BreakReason::Missing {
                    position + 1
                } else {
                    event.position
                };
                return Ok(broken(from, to, checked, at, reason));
            }
            prev_hash = event.hash;
            position = event.position;
            checked += 1;
        }
        progress(position);
    }
    if to == head_position && checked > 0 && prev_hash != head_hash {
        return Ok(broken(from, to, checked, to, BreakReason::HeadMismatch));
    }
    Ok(Verification {
        from,
        to,
        checked,
        first_break: None,
    })
}

fn check_event(
    event: &RecordedEvent,
    expected_position: i64,
    prev_hash: &[u8; 32],
) -> Option<BreakReason> {
    if event.position != expected_position {
        return Some(BreakReason::Missing);
    }
    if &event.prev_hash != prev_hash {
        return Some(BreakReason::PrevHashMismatch);
    }
    let bytes = canonical_bytes(
        event.position,
        event.event_id,
        &event.stream_id,
        event.stream_version,
        &event.event_type,
        event.schema_version,
        event.recorded_at,
        &event.payload,
        &event.metadata,
    );
    (chain_hash(prev_hash, &bytes) != event.hash).then_some(BreakReason::HashMismatch)
}

fn broken(from: i64, to: i64, checked: i64, position: i64, reason: BreakReason) -> Verification {
    Verification {
        from,
        to,
        checked,
        first_break: Some(Break { position, reason }),
    }
}

/// How the log stands against a checkpoint `(position, hash)` an auditor recorded earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// The event at the checkpoint has the recorded hash and the whole chain to the head
    /// re-hashes correctly: the log still extends the checkpoint.
    Extends {
        /// The head the chain was verified to.
        head: i64,
    },
    /// The log has no event at the checkpoint's position.
    Missing,
    /// The event at the checkpoint's position has another hash: history was rewritten.
    HashDiffers {
        /// The hash stored now.
        stored: [u8; 32],
    },
    /// The hash at the checkpoint matches but the chain breaks somewhere (before or after it).
    ChainBroken(Break),
}

/// Checks that the log still extends a checkpoint: every event from 1 to the head re-hashes
/// to its stored hash, and the hash at the checkpoint's position is the recorded one.
///
/// The whole log is walked: the stored hash at the checkpoint alone proves nothing about the
/// bytes of the events up to it (a payload can be altered while its stored hash is left
/// alone), and only re-hashing them does.
#[tracing::instrument(skip(pool, hash, progress), err)]
pub async fn verify_checkpoint(
    pool: &PgPool,
    position: i64,
    hash: [u8; 32],
    progress: impl FnMut(i64),
) -> Result<CheckpointStatus, StoreError> {
    if position < 1 {
        if hash != GENESIS_HASH {
            return Ok(CheckpointStatus::HashDiffers {
                stored: GENESIS_HASH,
            });
        }
    } else {
        match read_all(pool, position - 1, 1).await?.first() {
            Some(event) if event.position == position => {
                if event.hash != hash {
                    return Ok(CheckpointStatus::HashDiffers { stored: event.hash });
                }
            }
            _ => return Ok(CheckpointStatus::Missing),
        }
    }
    let verification = verify_range(pool, 1, None, progress).await?;
    Ok(match verification.first_break {
        Some(at) => CheckpointStatus::ChainBroken(at),
        None => CheckpointStatus::Extends {
            head: verification.to.max(position),
        },
    })
}
