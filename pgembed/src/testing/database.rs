//! [`TestDatabase`]: one test's database, dropped with it.

use crate::error::EmbeddedError;
use crate::sql;

/// A database created for one test by [`super::fresh_database`].
///
/// Dropping it drops the database (`DROP DATABASE … WITH (FORCE)`, disconnecting any
/// sessions left), from a helper thread with its own runtime, so it works inside or outside
/// tokio. Failures are logged and ignored. Call [`TestDatabase::keep`] to keep it.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    name: String,
    admin_url: String,
    keep: bool,
}

impl TestDatabase {
    /// Wraps a database that was just created.
    pub(crate) fn new(url: String, name: String, admin_url: String) -> Self {
        Self {
            url,
            name,
            admin_url,
            keep: false,
        }
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name, `ledger_test_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps the database after the test, for debugging; prints its URL to stderr.
    #[must_use]
    pub fn keep(mut self) -> Self {
        eprintln!("keeping test database {} at {}", self.name, self.url);
        self.keep = true;
        self
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let spawned = std::thread::Builder::new()
            .name("pgembed-drop-db".to_owned())
            .spawn(move || drop_database(&admin_url, &name));
        let outcome = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("the drop thread panicked".to_owned())),
            Err(err) => Err(format!("could not start the drop thread: {err}")),
        };
        if let Err(err) = outcome {
            tracing::warn!(database = %self.name, error = %err, "could not drop test database");
        }
    }
}

/// Drops `name` on the server at `admin_url`, on a fresh current-thread runtime.
fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("could not build a runtime: {err}"))?;
    runtime
        .block_on(async {
            let mut conn = sql::connect(admin_url).await?;
            sql::drop_database(&mut conn, name).await?;
            // Closing politely is best effort: the database is gone either way.
            let _ = sqlx::Connection::close(conn).await;
            Ok::<_, EmbeddedError>(())
        })
        .map_err(|err| err.to_string())
}
