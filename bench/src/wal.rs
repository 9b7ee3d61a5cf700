//! The WAL a workload writes, read back from the WAL itself with `pg_walinspect`: records, bytes
//! and full-page images, broken down by relation and record type.
//!
//! Only this database's share is counted: records that touch one of its relations, and records
//! of transactions that did (their commits). `pg_stat_wal` would count every database of the
//! server, and the background records (checkpoints, running-transaction snapshots) that no
//! request causes. Full-page images depend on when checkpoints fall, so they are reported
//! beside the records, whose count does not depend on the machine.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{Connection, PgConnection, Row};

/// How long [`WalMeter::finish`] waits for the WAL it reads to be flushed (asynchronous commits
/// are flushed by the WAL writer within a few `wal_writer_delay`s).
const FLUSH_WITHIN: Duration = Duration::from_secs(5);

/// A measurement under way: where the WAL stood, and a temporary replication slot that keeps
/// the WAL from there until it is read (a checkpoint would otherwise recycle it).
pub struct WalMeter {
    connection: PgConnection,
    start_lsn: String,
}

/// One line of the breakdown: a relation (or `(no relation)`, e.g. commits) and a record type.
#[derive(Debug, Clone, Serialize)]
pub struct WalLine {
    /// The relation the record's first block belongs to.
    pub relation: String,
    /// Resource manager and record type, e.g. `Heap/INSERT`, `Btree/INSERT_LEAF`.
    pub kind: String,
    /// Records.
    pub records: u64,
    /// Bytes, full-page images included.
    pub bytes: u64,
    /// Full-page images.
    pub images: u64,
    /// Bytes of those images.
    pub image_bytes: u64,
}

/// What a measured stretch of work wrote to the WAL.
#[derive(Debug, Clone, Serialize)]
pub struct WalCost {
    /// Records of this database.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Full-page images among them.
    pub images: u64,
    /// Bytes of those images.
    pub image_bytes: u64,
    /// WAL bytes of the whole server over the same stretch (the LSN delta).
    pub server_bytes: u64,
    /// The breakdown, most records first.
    pub lines: Vec<WalLine>,
}

/// The breakdown of a stretch of WAL, with relations named as this database knows them.
const BREAKDOWN_SQL: &str = r"
WITH records AS (
    SELECT xid::text::bigint AS xid,
           resource_manager || '/' || record_type AS kind,
           record_length,
           fpi_length,
           (length(coalesce(block_ref, '')) - length(replace(coalesce(block_ref, ''), 'FPW', ''))) / 3
               AS images,
           regexp_match(block_ref, 'rel (\d+)/(\d+)/(\d+)') AS rel
    FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
), here AS (
    SELECT oid, dattablespace FROM pg_database WHERE datname = current_database()
), ours AS (
    SELECT DISTINCT r.xid FROM records r, here WHERE r.rel[2]::oid = here.oid AND r.xid <> 0
), lines AS (
    SELECT r.rel[1]::oid AS tablespace, r.rel[3]::oid AS filenode, r.kind,
           count(*) AS records, sum(r.record_length) AS bytes, sum(r.images) AS images,
           sum(r.fpi_length) AS image_bytes
    FROM records r, here
    WHERE r.rel[2]::oid = here.oid OR r.xid IN (SELECT xid FROM ours)
    GROUP BY 1, 2, 3
)
SELECT CASE WHEN l.filenode IS NULL THEN '(no relation)'
            ELSE coalesce(
                pg_filenode_relation(
                    CASE WHEN l.tablespace = here.dattablespace THEN 0 ELSE l.tablespace END,
                    l.filenode)::text,
                'filenode ' || l.filenode) END AS relation,
       l.kind,
       l.records::bigint AS records,
       l.bytes::bigint AS bytes,
       l.images::bigint AS images,
       l.image_bytes::bigint AS image_bytes
FROM lines l, here
ORDER BY l.records DESC, relation, l.kind
";

impl WalMeter {
    /// Starts measuring on the database at `url` (a superuser's connection: it installs
    /// `pg_walinspect` and creates a replication slot).
    pub async fn start(url: &str) -> anyhow::Result<WalMeter> {
        let mut connection = PgConnection::connect(url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            .execute(&mut connection)
            .await?;
        let slot = format!("ledger_bench_wal_{}", uuid::Uuid::new_v4().simple());
        // Temporary: the slot goes with this connection, however the run ends.
        sqlx::query("SELECT pg_create_physical_replication_slot($1, true, true)")
            .bind(&slot)
            .execute(&mut connection)
            .await?;
        let start_lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(&mut connection)
            .await?;
        Ok(WalMeter {
            connection,
            start_lsn,
        })
    }

    /// Ends the measurement: what was written since [`WalMeter::start`].
    pub async fn finish(mut self) -> anyhow::Result<WalCost> {
        let end_lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(&mut self.connection)
            .await?;
        let waited = Instant::now();
        // pg_walinspect reads only flushed WAL.
        while !sqlx::query_scalar::<_, bool>("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn")
            .bind(&end_lsn)
            .fetch_one(&mut self.connection)
            .await?
        {
            anyhow::ensure!(
                waited.elapsed() < FLUSH_WITHIN,
                "WAL up to {end_lsn} was not flushed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let server_bytes: i64 = sqlx::query_scalar("SELECT ($2::pg_lsn - $1::pg_lsn)::bigint")
            .bind(&self.start_lsn)
            .bind(&end_lsn)
            .fetch_one(&mut self.connection)
            .await?;
        // pg_walinspect refuses a range that starts at the flushed end: nothing was written.
        let rows = if server_bytes == 0 {
            Vec::new()
        } else {
            sqlx::query(BREAKDOWN_SQL)
                .bind(&self.start_lsn)
                .bind(&end_lsn)
                .fetch_all(&mut self.connection)
                .await?
        };
        let count = |row: &sqlx::postgres::PgRow, column: &str| -> anyhow::Result<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>(column)?)?)
        };
        let lines = rows
            .iter()
            .map(|row| {
                Ok(WalLine {
                    relation: row.try_get("relation")?,
                    kind: row.try_get("kind")?,
                    records: count(row, "records")?,
                    bytes: count(row, "bytes")?,
                    images: count(row, "images")?,
                    image_bytes: count(row, "image_bytes")?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.connection.close().await?;
        Ok(WalCost {
            records: lines.iter().map(|l| l.records).sum(),
            bytes: lines.iter().map(|l| l.bytes).sum(),
            images: lines.iter().map(|l| l.images).sum(),
            image_bytes: lines.iter().map(|l| l.image_bytes).sum(),
            server_bytes: u64::try_from(server_bytes)?,
            lines,
        })
    }
}

impl WalCost {
    /// The breakdown per `unit` (e.g. per billed request) as a markdown table, by relation,
    /// each relation's record types beside it.
    pub fn table(&self, units: u64, unit: &str) -> String {
        let per = |n: u64| n as f64 / units.max(1) as f64;
        let mut relations: Vec<(&str, u64, u64, u64, Vec<String>)> = Vec::new();
        for line in &self.lines {
            let kind = format!("{} {:.2}", line.kind, per(line.records));
            match relations.iter_mut().find(|r| r.0 == line.relation) {
                Some(relation) => {
                    relation.1 += line.records;
                    relation.2 += line.bytes;
                    relation.3 += line.images;
                    relation.4.push(kind);
                }
                None => relations.push((
                    &line.relation,
                    line.records,
                    line.bytes,
                    line.images,
                    vec![kind],
                )),
            }
        }
        relations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut text = format!(
            "| relation | records {unit} | bytes {unit} | full-page images {unit} | record types |\n\
             | --- | ---: | ---: | ---: | --- |\n"
        );
        for (relation, records, bytes, images, kinds) in &relations {
            text.push_str(&format!(
                "| {relation} | {:.2} | {:.0} | {:.2} | {} |\n",
                per(*records),
                per(*bytes),
                per(*images),
                kinds.join(", ")
            ));
        }
        text.push_str(&format!(
            "| **all** | **{:.2}** | **{:.0}** | **{:.2}** | images {:.0} bytes {unit}; whole server {:.0} bytes {unit} |\n",
            per(self.records),
            per(self.bytes),
            per(self.images),
            per(self.image_bytes),
            per(self.server_bytes),
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn execute(url: &str, statements: &[&str]) {
        let mut connection = PgConnection::connect(url).await.unwrap();
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*statement))
                .execute(&mut connection)
                .await
                .unwrap();
        }
        connection.close().await.unwrap();
    }

    fn records(cost: &WalCost, relation: &str, kind: &str) -> u64 {
        cost.lines
            .iter()
            .filter(|l| l.relation == relation && l.kind.starts_with(kind))
            .map(|l| l.records)
            .sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_meter_counts_this_databases_records_by_relation_and_no_other_databases() {
        let measured = ledger_pgembed::testing::fresh_database().await.unwrap();
        let other = ledger_pgembed::testing::fresh_database().await.unwrap();
        for db in [&measured, &other] {
            execute(db.url(), &["CREATE TABLE t (a int PRIMARY KEY, b text)"]).await;
        }
        let meter = WalMeter::start(measured.url()).await.unwrap();
        execute(
            measured.url(),
            &["INSERT INTO t SELECT g, 'x' FROM generate_series(1, 10) AS g"],
        )
        .await;
        execute(
            other.url(),
            &["INSERT INTO t SELECT g, 'y' FROM generate_series(1, 50) AS g"],
        )
        .await;
        let cost = meter.finish().await.unwrap();

        assert_eq!(records(&cost, "t", "Heap/INSERT"), 10, "{cost:#?}");
        assert_eq!(
            records(&cost, "t_pkey", "Btree/INSERT_LEAF"),
            10,
            "{cost:#?}"
        );
        assert_eq!(
            records(&cost, "(no relation)", "Transaction/COMMIT"),
            1,
            "only this database's transaction commits: {cost:#?}"
        );
        assert!(
            cost.lines
                .iter()
                .all(|l| !l.relation.starts_with("filenode")),
            "another database's relation was counted: {cost:#?}"
        );
        assert_eq!(
            cost.records,
            cost.lines.iter().map(|l| l.records).sum::<u64>()
        );
        assert!(cost.server_bytes >= cost.bytes);
    }
}
