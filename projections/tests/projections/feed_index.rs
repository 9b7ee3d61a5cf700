//! The activity feed at 1,000,000 rows in one account: the first page and a deep page are
//! served by an index, unfiltered and filtered by key, member or model, each by its own index
//! (asserted on the plan, not on time). Every index of the feed is written for every billed
//! request, so each must be the one a query needs.

use chrono::{TimeZone, Utc};
use ledger_projections::models::activity::feed::{
    ActivityFilter, activity, activity_cursor, activity_plan,
};
use ledger_projections::models::activity::prune_account;
use uuid::Uuid;

use crate::support::db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_of_a_million_rows_pages_by_index_first_and_deep() {
    let db = db().await;
    let account = Uuid::from_u128(0xACC);
    // One statement: 1,000,000 usage rows, 20 keys, 5 members, 10 models, one per second.
    sqlx::query(
        "INSERT INTO activity (account_id, position, key_id, user_id, hold_id, generation_id, \
           model, provider, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, \
           cost, latency_ms, ttft_ms, status, started_at, finished_at, recorded_at) \
         SELECT $1, g, ('00000000-0000-0000-0000-0000000000' || lpad(to_hex(g % 20), 2, '0'))::uuid, \
           ('00000000-0000-0000-0000-0000000001' || lpad(to_hex(g % 5), 2, '0'))::uuid, NULL, \
           'gen-' || g, 'model-' || (g % 10), 'openai', 100, 50, 0, 10, 0.001, 900, 120, 'success', \
           $2 + g * interval '1 second', $2 + g * interval '1 second', $2 + g * interval '1 second' \
         FROM generate_series(1, 1000000) AS g",
    )
    .bind(account)
    .bind(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE activity")
        .execute(&db.pool)
        .await
        .unwrap();

    let key = Uuid::from_u128(0x07);
    let filter = ActivityFilter {
        key_id: Some(key),
        ..ActivityFilter::default()
    };
    let first = activity(&db.pool, account, &filter, None, 50)
        .await
        .unwrap();
    assert_eq!(first.rows.len(), 50);
    assert!(first.rows.iter().all(|r| r.key_id == key));
    assert_eq!(first.rows[0].position, 999_987, "newest first");

    // A deep page: 40,000 rows of this key further down.
    let deep_at =
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(200_007);
    let cursor = activity_cursor(deep_at, 200_007);
    let deep = activity(&db.pool, account, &filter, Some(&cursor), 50)
        .await
        .unwrap();
    assert_eq!(deep.rows.len(), 50);
    assert_eq!(deep.rows[0].position, 199_987);
    assert!(deep.next_cursor.is_some());

    let filters = [
        (
            "unfiltered",
            ActivityFilter::default(),
            "activity_account_time_position",
        ),
        ("by key", filter.clone(), "activity_account_key_time"),
        (
            "by member",
            ActivityFilter {
                user_id: Some(Uuid::from_u128(0x0103)),
                ..ActivityFilter::default()
            },
            "activity_account_user_time",
        ),
        (
            "by model",
            ActivityFilter {
                model: Some("model-3".into()),
                ..ActivityFilter::default()
            },
            "activity_account_model_time",
        ),
    ];
    for (filtered, filter, index) in &filters {
        for (page, cursor) in [("first page", None), ("deep page", Some(cursor.as_str()))] {
            let text = activity_plan(&db.pool, account, filter, cursor, 50)
                .await
                .unwrap();
            let name = format!("{page} {filtered}");
            assert!(
                text.contains(index),
                "{name} plan does not use {index}:\n{text}"
            );
            assert!(
                !text.contains("Seq Scan"),
                "{name} plan scans the table:\n{text}"
            );
            assert!(!text.contains("Sort"), "{name} plan sorts:\n{text}");
        }
    }

    // Retention: the prune deletes the old rows it picked through the feed's own index (which
    // rows it picks is the planner's choice: with one account here, any old row will do).
    let prune = sqlx::query_scalar::<_, String>(
        "EXPLAIN DELETE FROM activity WHERE account_id = $1 AND (finished_at, position) IN \
         (SELECT finished_at, position FROM activity \
          WHERE account_id = $1 AND finished_at < $2 LIMIT $3)",
    )
    .bind(account)
    .bind(deep_at)
    .bind(1000_i64)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .join("\n");
    assert!(
        prune.contains("Index Scan using activity_account_time_position on activity "),
        "the prune deletes without the index:\n{prune}"
    );
    let deleted = prune_account(&db.pool, account, 0, deep_at, 1000)
        .await
        .unwrap();
    assert_eq!(deleted, 1000);
}
