//! A read-model table read in position order through a server-side cursor, so that the check
//! compares the tables with one row per event chunk by chunk instead of holding them whole.

use std::collections::VecDeque;
use std::fmt::Debug;

use sqlx::PgConnection;

use super::{Difference, Differences};
use crate::error::Result;
use crate::models::sql;
use crate::models::table::Table;
use crate::projection::Schema;

/// The rows of one live table, ordered by the event position they come from.
pub(super) struct RowCursor<T: 'static> {
    table: &'static Table<T>,
    position: fn(&T) -> i64,
    fetch: i64,
    /// Fetched rows not handed out yet (their position is past the last chunk asked for).
    ahead: VecDeque<T>,
    exhausted: bool,
}

impl<T: Debug> RowCursor<T> {
    /// Declares the cursor in the snapshot `conn` holds (it lives until the transaction ends).
    pub(super) async fn open(
        conn: &mut PgConnection,
        table: &'static Table<T>,
        order: &str,
        position: fn(&T) -> i64,
        fetch: i64,
    ) -> Result<Self> {
        let select = table.select(&Schema::live(), &format!(" ORDER BY {order}"));
        let declare = format!("DECLARE check_{} NO SCROLL CURSOR FOR {select}", table.name);
        sqlx::query(sql(declare)).execute(&mut *conn).await?;
        Ok(Self {
            table,
            position,
            fetch,
            ahead: VecDeque::new(),
            exhausted: false,
        })
    }

    /// The rows whose position is at most `upto` and that were not handed out yet.
    pub(super) async fn up_to(&mut self, conn: &mut PgConnection, upto: i64) -> Result<Vec<T>> {
        let mut rows = Vec::new();
        loop {
            while let Some(row) = self.ahead.pop_front() {
                if (self.position)(&row) > upto {
                    self.ahead.push_front(row);
                    return Ok(rows);
                }
                rows.push(row);
            }
            if self.exhausted {
                return Ok(rows);
            }
            self.fill(conn).await?;
        }
    }

    /// Reports every row left (past the checkpoint `position`, so none should exist).
    pub(super) async fn beyond(
        mut self,
        conn: &mut PgConnection,
        position: i64,
        out: &mut Differences,
    ) -> Result<()> {
        loop {
            for row in self.ahead.drain(..) {
                out.push(Difference {
                    table: self.table.name,
                    key: format!("after checkpoint {position}"),
                    expected: None,
                    actual: Some(format!("{row:?}")),
                });
            }
            if self.exhausted {
                return Ok(());
            }
            self.fill(conn).await?;
        }
    }

    async fn fill(&mut self, conn: &mut PgConnection) -> Result<()> {
        let fetch = format!(
            "FETCH FORWARD {} FROM check_{}",
            self.fetch, self.table.name
        );
        let rows = sqlx::query(sql(fetch)).fetch_all(&mut *conn).await?;
        self.exhausted = (rows.len() as i64) < self.fetch;
        for row in &rows {
            self.ahead.push_back((self.table.decode)(row)?);
        }
        Ok(())
    }
}
