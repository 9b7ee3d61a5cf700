//! The consistency check finds what was changed behind the projectors' back, whatever the size
//! of the chunks it reads the log and the tables in, and lists a bounded number of differences.

use ledger_projections::{CheckLimits, Projection, check_within};

use crate::support::{Running, TINY_CHUNKS, World, caught_up, config, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_finds_rows_changed_behind_the_projectors_back() {
    let db = db().await;
    let running = Running::spawn(&db.pool, config(16));
    let mut world = World::new(db.appender.clone(), 7).await;
    world.run(80).await;
    caught_up(&db.pool, world.last_position).await;
    running.stop().await;

    let exec = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            let done = sqlx::query(sql).execute(&pool).await.unwrap();
            assert_eq!(done.rows_affected(), 1, "{sql}");
        }
    };
    // A feed row changed, one past the checkpoint that no event made, and a rollup bucket.
    exec(
        "UPDATE activity SET cost = cost + 1 WHERE position = (SELECT min(position) FROM activity)",
    )
    .await;
    exec(
        "INSERT INTO activity SELECT account_id, position + 1000000, key_id, user_id, hold_id, \
         generation_id, model, provider, prompt_tokens, completion_tokens, reasoning_tokens, \
         cached_tokens, cost, latency_ms, ttft_ms, status, started_at, finished_at, recorded_at \
         FROM activity WHERE position = (SELECT max(position) FROM activity)",
    )
    .await;
    exec("UPDATE usage_daily SET requests = requests + 1 WHERE ctid = (SELECT min(ctid) FROM usage_daily)").await;
    // One side of a movement gone, and a balance off by one.
    exec(
        "DELETE FROM ledger_entries WHERE (position, account) = \
         (SELECT position, account FROM ledger_entries WHERE kind = 'purchase' \
          ORDER BY position LIMIT 1)",
    )
    .await;
    exec(
        "UPDATE account_balances SET balance = balance + 1, purchased = purchased + 1 \
         WHERE account_id = \
         (SELECT account_id FROM account_balances ORDER BY account_id LIMIT 1)",
    )
    .await;

    for limits in [CheckLimits::default(), TINY_CHUNKS] {
        let feed = check_within(&db.pool, &db.read_models, Projection::Activity, limits)
            .await
            .unwrap();
        let tables: Vec<_> = feed.differences.iter().map(|d| d.table).collect();
        // The changed row, the row past the checkpoint, and the changed daily bucket.
        assert_eq!(
            tables,
            ["activity", "activity", "usage_daily"],
            "{limits:?}: {:#?}",
            feed.differences
        );

        let money = check_within(&db.pool, &db.read_models, Projection::Balances, limits)
            .await
            .unwrap();
        let tables: Vec<_> = money.differences.iter().map(|d| d.table).collect();
        assert!(tables.contains(&"ledger_entries"), "{tables:?}");
        assert!(tables.contains(&"account_balances"), "{tables:?}");
        let invariants: Vec<_> = money
            .differences
            .iter()
            .filter(|d| d.table == "invariant")
            .map(|d| d.key.as_str())
            .collect();
        assert!(
            invariants.iter().any(|k| k.contains("sums to zero")),
            "{invariants:?}"
        );
        assert!(
            invariants.iter().any(|k| k.contains("sum to its balance")),
            "{invariants:?}"
        );

        for projection in [Projection::Keys, Projection::Directory] {
            let report = check_within(&db.pool, &db.read_models, projection, limits)
                .await
                .unwrap();
            assert!(report.is_consistent(), "{:#?}", report.differences);
        }
    }

    // However many differences there are, the report lists at most `listed` and counts all.
    let listed = CheckLimits {
        listed: 1,
        ..TINY_CHUNKS
    };
    let money = check_within(&db.pool, &db.read_models, Projection::Balances, listed)
        .await
        .unwrap();
    assert!(money.found >= 4, "{money:#?}");
    assert_eq!(money.differences.len(), 1);
    assert!(!money.is_consistent());
}
