//! [`Table`]: how a read model's rows are read, shared by every model: the row of a key, the
//! rows a batch touches, and every row (the consistency check).

use sqlx::postgres::PgRow;
use sqlx::{Encode, FromRow, PgExecutor, Postgres, Type};
use uuid::Uuid;

use super::{PgQuery, sql};
use crate::error::Result;
use crate::projection::Schema;

/// A read-model table: its name, the columns a row is read from, and how a row is decoded.
pub(crate) struct Table<T> {
    /// The table's name, unqualified.
    pub(crate) name: &'static str,
    /// The columns `decode` reads, in `SELECT` order.
    pub(crate) columns: &'static str,
    /// Decodes one row.
    pub(crate) decode: fn(&PgRow) -> Result<T>,
}

impl<T> Table<T> {
    /// The row of the live table whose `key` column equals `value`, if any.
    pub(crate) async fn find<'e, V>(
        &self,
        executor: impl PgExecutor<'e>,
        key: &str,
        value: V,
    ) -> Result<Option<T>>
    where
        V: for<'v> Encode<'v, Postgres> + Type<Postgres>,
    {
        let row = sqlx::query(sql(format!(
            "SELECT {} FROM {} WHERE {key} = $1",
            self.columns, self.name
        )))
        .bind(value)
        .fetch_optional(executor)
        .await?;
        row.as_ref().map(self.decode).transpose()
    }

    /// The rows of `schema`'s copy whose `key` column is one of `ids`: the rows a batch
    /// touches.
    pub(crate) async fn any_of<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        schema: &Schema,
        key: &str,
        ids: &[Uuid],
    ) -> Result<Vec<T>> {
        let select = self.select(schema, &format!(" WHERE {key} = ANY($1)"));
        self.fetch(executor, sqlx::query(sql(select)).bind(ids))
            .await
    }

    /// Every row of `schema`'s copy (the consistency check).
    pub(crate) async fn all<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        schema: &Schema,
    ) -> Result<Vec<T>> {
        let select = self.select(schema, "");
        self.fetch(executor, sqlx::query(sql(select))).await
    }

    /// `SELECT` of the columns from `schema`'s copy, then `rest`.
    pub(crate) fn select(&self, schema: &Schema, rest: &str) -> String {
        let columns = self.columns;
        format!("SELECT {columns} FROM {}{rest}", schema.table(self.name))
    }

    /// Runs `query` and decodes its rows.
    pub(crate) async fn fetch<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        query: PgQuery,
    ) -> Result<Vec<T>> {
        let rows = query.fetch_all(executor).await?;
        rows.iter().map(self.decode).collect()
    }
}

/// Decodes a row into a type whose fields are named as its columns.
pub(crate) fn from_row<T: for<'r> FromRow<'r, PgRow>>(row: &PgRow) -> Result<T> {
    Ok(T::from_row(row)?)
}
