//! The read models' database as a type of its own. With `--read-models-database-url` the
//! read models (their rows and their checkpoints) live in another database than the log; the
//! entry points that touch both (the runtime, a step, the check, a rebuild, the status) take
//! the log's `PgPool` and a [`ReadModelPool`], so neither can be handed the other by mistake.

use sqlx::PgPool;

/// Connections to the database holding the read models and their checkpoints: the log's own
/// database unless the read models were given one of their own.
#[derive(Debug, Clone)]
pub struct ReadModelPool(PgPool);

impl ReadModelPool {
    /// The read models' pool (the log's pool itself when they share its database).
    pub fn new(pool: PgPool) -> Self {
        ReadModelPool(pool)
    }

    /// The connections, for the read-model query functions of [`crate::models`].
    pub fn pool(&self) -> &PgPool {
        &self.0
    }
}
