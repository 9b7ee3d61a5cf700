//! Creating and dropping databases, and building connection URLs.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::error::EmbeddedError;

/// The longest PostgreSQL identifier, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// How long one connection attempt may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLSTATE for "database already exists".
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE for a unique violation (two sessions creating the same database at once).
const UNIQUE_VIOLATION: &str = "23505";

/// Accepts names made of ASCII letters, digits and `_` (safe in URLs and as identifiers).
pub(crate) fn validate_name(name: &str) -> Result<(), EmbeddedError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_IDENTIFIER_BYTES
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(EmbeddedError::InvalidDatabaseName(name.to_owned()))
    }
}

/// Connects to `url`, giving up after [`CONNECT_TIMEOUT`].
pub(crate) async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        ))),
    }
}

/// Creates database `name` unless it exists; returns whether it was created.
///
/// `name` must have passed [`validate_name`].
pub(crate) async fn create_database_if_missing(
    conn: &mut PgConnection,
    name: &str,
) -> Result<bool, EmbeddedError> {
    validate_name(name)?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() {
        return Ok(false);
    }
    // The name is validated above: letters, digits and `_` only.
    let sql = format!("CREATE DATABASE \"{name}\"");
    match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(err))
            if matches!(
                err.code().as_deref(),
                Some(DUPLICATE_DATABASE | UNIQUE_VIOLATION)
            ) =>
        {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// Drops database `name` if it exists, disconnecting its sessions.
pub(crate) async fn drop_database(
    conn: &mut PgConnection,
    name: &str,
) -> Result<(), EmbeddedError> {
    validate_name(name)?;
    // The name is validated above: letters, digits and `_` only.
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces the database of a `postgres://…/db?params` URL by `db`.
///
/// Returns `None` when `url` is not a URL with a `://` scheme.
pub fn with_database(url: &str, db: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Some(format!("{scheme}://{authority}/{db}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_and_underscores() {
        assert!(validate_name("ledger_test_0a1b").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a\"; DROP").is_err());
        assert!(validate_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn the_database_of_a_url_is_replaced() {
        let cases = [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/x"),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/x?sslmode=disable",
            ),
            ("postgresql://h:1", "postgresql://h:1/x"),
            (
                "postgres://h?application_name=a",
                "postgres://h/x?application_name=a",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "x").as_deref(), Some(expected), "{url}");
        }
        assert_eq!(with_database("host=h dbname=d", "x"), None);
    }
}
