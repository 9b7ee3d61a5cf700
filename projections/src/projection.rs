//! The projections: their names, their tables, their advisory-lock keys, and how a batch of
//! decoded events is applied to them inside one transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::Event;
use ledger_eventstore::RecordedEvent;
use sqlx::{Postgres, Transaction};

use crate::error::{ProjectionError, Result};
use crate::models::{activity, balances, directory, keys};

/// A projection of the log: a set of read-model tables with one checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    /// `account_balances`, `open_holds`, `ledger_entries`.
    Balances,
    /// `api_keys`.
    Keys,
    /// `users`, `organizations`, `organization_members`, `organization_invitations`.
    Directory,
    /// `activity`, `usage_daily`, `usage_hourly`.
    Activity,
}

impl Projection {
    /// Every projection, in the order the runtime starts them.
    pub const ALL: [Projection; 4] = [
        Projection::Balances,
        Projection::Keys,
        Projection::Directory,
        Projection::Activity,
    ];

    /// The stable name, also the checkpoint row's key.
    pub const fn name(self) -> &'static str {
        match self {
            Projection::Balances => "balances",
            Projection::Keys => "keys",
            Projection::Directory => "directory",
            Projection::Activity => "activity",
        }
    }

    /// Parses a name as given by [`Projection::name`].
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection(name.to_owned()))
    }

    /// The tables this projection owns (rebuilt and swapped together).
    pub const fn tables(self) -> &'static [&'static str] {
        match self {
            Projection::Balances => &["account_balances", "open_holds", "ledger_entries"],
            Projection::Keys => &["api_keys"],
            Projection::Directory => &[
                "users",
                "organizations",
                "organization_members",
                "organization_invitations",
            ],
            Projection::Activity => &["activity", "usage_daily", "usage_hourly"],
        }
    }

    /// Key of the session advisory lock held by the one active runner.
    pub(crate) const fn runner_lock_key(self) -> i64 {
        0x4c45_4447_0000 + self as i64
    }

    /// Key of the session advisory lock held by a rebuild.
    pub(crate) const fn rebuild_lock_key(self) -> i64 {
        0x4c45_4447_1000 + self as i64
    }

    /// Applies decoded events (in position order) to the tables in `schema`.
    pub(crate) async fn apply(
        self,
        tx: &mut Transaction<'_, Postgres>,
        schema: &Schema,
        events: &[Arc<Applied>],
    ) -> Result<()> {
        match self {
            Projection::Balances => balances::apply(tx, schema, events).await,
            Projection::Keys => keys::apply(tx, schema, events).await,
            Projection::Directory => directory::apply(tx, schema, events).await,
            Projection::Activity => activity::apply(tx, schema, events).await,
        }
    }
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The schema a batch is applied to: `public` for the live tables, a side schema while
/// rebuilding. Names are internal constants, never user input.
#[derive(Debug, Clone)]
pub(crate) struct Schema(String);

impl Schema {
    /// The live tables.
    pub(crate) fn live() -> Self {
        Schema("public".to_owned())
    }

    /// A named schema (rebuild side schemas).
    pub(crate) fn named(name: String) -> Self {
        Schema(name)
    }

    /// The schema's name.
    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    /// A schema-qualified table name.
    pub(crate) fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }
}

/// An event decoded through the domain's upcasters, with where and when the log recorded it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Global position.
    pub position: i64,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The domain event.
    pub event: Event,
}

/// Decodes recorded events; an undecodable event is an error (never skipped).
pub(crate) fn decode(events: &[RecordedEvent]) -> Result<Vec<Arc<Applied>>> {
    events
        .iter()
        .map(|recorded| {
            let event = ledger_codec::decode(recorded).map_err(|e| ProjectionError::Decode {
                position: e.position,
                reason: e.reason,
            })?;
            Ok(Arc::new(Applied {
                position: recorded.position,
                recorded_at: recorded.recorded_at,
                event,
            }))
        })
        .collect()
}
