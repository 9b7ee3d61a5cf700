//! The activity feed filtered by member, model and time range; analytics by hour and by day
//! grouped by model, for an admin and for a member; and the analytics export's records, all
//! through the real ledgerd and checked against the usage the gateway recorded.

use std::collections::HashMap;

use ledger_api::pb;
use ledger_tests::client::{Api, Dashboard, Gateway, Key, Org, User, World, id, usage};

/// 2026-05-29T00:00:00Z: the first day of the usage below.
const DAY: i64 = 1_780_012_800;
const HOUR: i64 = 3_600;

fn at(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// Records usage with `key`: `model` finishing at `finished` (started a second before),
/// costing `cost`, under `generation`; the position reached.
async fn record(
    gateway: &Gateway,
    key: &Key,
    generation: &str,
    model: &str,
    finished: i64,
    cost: &str,
) -> i64 {
    let report = pb::UsageReport {
        model: model.into(),
        started_at: Some(at(finished - 1)),
        finished_at: Some(at(finished)),
        ..usage(generation, cost)
    };
    gateway
        .rpc()
        .record_usage(pb::RecordUsageRequest {
            command_id: id(),
            account_id: key.account.to_string(),
            key_id: key.id.to_string(),
            usage: Some(report),
        })
        .await
        .position
}

/// Alice (admin) and Bob (member) of an organization, a key each, and five usage records over
/// two days in two models:
///
/// | generation | key   | model    | finished         | cost  |
/// |------------|-------|----------|------------------|-------|
/// | r1         | Alice | gpt-x    | day 1, 10:15     | 0.5   |
/// | r2         | Bob   | claude-y | day 1, 10:45     | 0.25  |
/// | r3         | Alice | claude-y | day 1, 11:05     | 1     |
/// | r4         | Bob   | gpt-x    | day 1, 11:30     | 2     |
/// | r5         | Alice | gpt-x    | day 2, 09:00     | 0.125 |
struct Usage {
    world: World,
    alice: User,
    bob: User,
    org: Org,
    last: i64,
}

async fn usage_over_two_days() -> Usage {
    let world = World::start().await;
    let (alice, org) = world.organization().await;
    let bob = world.some_user().await;
    world.join(&alice, &org, &bob).await;
    world.dashboard(&alice).buy(&org.account, "100").await;
    let alice_key = world.dashboard(&alice).create_key(&org.account, "a").await;
    let bob_key = world.dashboard(&bob).create_key(&org.account, "b").await;
    let gateway = world.gateway();
    let records = [
        (&alice_key, "r1", "gpt-x", DAY + 10 * HOUR + 15 * 60, "0.5"),
        (
            &bob_key,
            "r2",
            "claude-y",
            DAY + 10 * HOUR + 45 * 60,
            "0.25",
        ),
        (&alice_key, "r3", "claude-y", DAY + 11 * HOUR + 5 * 60, "1"),
        (&bob_key, "r4", "gpt-x", DAY + 11 * HOUR + 30 * 60, "2"),
        (
            &alice_key,
            "r5",
            "gpt-x",
            DAY + 24 * HOUR + 9 * HOUR,
            "0.125",
        ),
    ];
    let mut last = 0;
    for (key, generation, model, finished, cost) in records {
        last = record(&gateway, key, generation, model, finished, cost).await;
    }
    Usage {
        world,
        alice,
        bob,
        org,
        last,
    }
}

impl Usage {
    fn dashboard(&self, user: &User) -> Dashboard {
        self.world.dashboard(user).after(self.last)
    }

    /// The generations of the organization's feed as `user` sees it through `filter`.
    async fn feed(&self, user: &User, filter: pb::ActivityFilter) -> Vec<String> {
        let page = self
            .dashboard(user)
            .rpc()
            .list_activity(self.feed_request(filter))
            .await;
        assert!(page.next_page_token.is_empty());
        page.items.into_iter().map(|i| i.generation_id).collect()
    }

    fn feed_request(&self, filter: pb::ActivityFilter) -> pb::ListActivityRequest {
        pb::ListActivityRequest {
            account_id: self.org.account.to_string(),
            min_position: self.last,
            page_size: 0,
            page_token: String::new(),
            filter: Some(filter),
        }
    }

    fn analytics(
        &self,
        granularity: pb::Granularity,
        from: i64,
        to: i64,
    ) -> pb::GetUsageAnalyticsRequest {
        pb::GetUsageAnalyticsRequest {
            account_id: self.org.account.to_string(),
            min_position: self.last,
            granularity: granularity.into(),
            group_by: pb::GroupBy::Model.into(),
            from: Some(at(from)),
            to: Some(at(to)),
            ..Default::default()
        }
    }

    /// The analytics rows `user` gets, as (bucket start, model, spend, requests, prompt tokens).
    async fn rows(
        &self,
        user: &User,
        request: pb::GetUsageAnalyticsRequest,
    ) -> Vec<(i64, String, String, u64, u64)> {
        let reply = self
            .dashboard(user)
            .rpc()
            .get_usage_analytics(request)
            .await;
        assert!(reply.next_page_token.is_empty());
        reply
            .rows
            .into_iter()
            .map(|r| {
                (
                    r.bucket_start.unwrap().seconds,
                    r.group,
                    r.spend,
                    r.requests,
                    r.tokens.unwrap().prompt,
                )
            })
            .collect()
    }
}

fn gens(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_filters_by_member_model_and_a_half_open_time_range_alone_and_together() {
    let u = usage_over_two_days().await;
    let (alice, bob) = (&u.alice, &u.bob);
    let filter = pb::ActivityFilter::default;

    assert_eq!(
        u.feed(alice, filter()).await,
        gens(&["r5", "r4", "r3", "r2", "r1"])
    );
    let by_member = |user: &User| pb::ActivityFilter {
        user_id: Some(user.id.to_string()),
        ..filter()
    };
    assert_eq!(u.feed(alice, by_member(bob)).await, gens(&["r4", "r2"]));
    assert_eq!(
        u.feed(alice, by_member(alice)).await,
        gens(&["r5", "r3", "r1"])
    );
    let by_model = |model: &str| pb::ActivityFilter {
        model: Some(model.into()),
        ..filter()
    };
    assert_eq!(
        u.feed(alice, by_model("claude-y")).await,
        gens(&["r3", "r2"])
    );
    assert!(u.feed(alice, by_model("no-such-model")).await.is_empty());

    // From 10:30 (inclusive) to 11:30 (exclusive): r4 finished at 11:30 exactly is out.
    let range = |from: i64, to: i64| pb::ActivityFilter {
        from: Some(at(from)),
        to: Some(at(to)),
        ..filter()
    };
    let morning = range(DAY + 10 * HOUR + 30 * 60, DAY + 11 * HOUR + 30 * 60);
    assert_eq!(u.feed(alice, morning).await, gens(&["r3", "r2"]));
    let only_from = pb::ActivityFilter {
        from: Some(at(DAY + 11 * HOUR + 30 * 60)),
        ..filter()
    };
    assert_eq!(u.feed(alice, only_from).await, gens(&["r5", "r4"]));
    let only_to = pb::ActivityFilter {
        to: Some(at(DAY + 10 * HOUR + 45 * 60)),
        ..filter()
    };
    assert_eq!(u.feed(alice, only_to).await, gens(&["r1"]));

    // Together: Alice's gpt-x usage on day 1 only.
    let together = pb::ActivityFilter {
        model: Some("gpt-x".into()),
        ..range(DAY, DAY + 24 * HOUR)
    };
    assert_eq!(u.feed(alice, together.clone()).await, gens(&["r4", "r1"]));
    let alices = pb::ActivityFilter {
        user_id: Some(alice.id.to_string()),
        ..together
    };
    assert_eq!(u.feed(alice, alices.clone()).await, gens(&["r1"]));
    // A member reads the organization's feed with the same filters.
    assert_eq!(u.feed(bob, alices).await, gens(&["r1"]));

    // Pages of a filtered feed hold only matching rows and skip none.
    let rpc = u.dashboard(alice).rpc().clone();
    let mut request = u.feed_request(by_model("gpt-x"));
    request.page_size = 2;
    let first = rpc.list_activity(request.clone()).await;
    request.page_token = first.next_page_token.clone();
    let second = rpc.list_activity(request.clone()).await;
    let paged: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|i| i.generation_id.clone())
        .collect();
    assert_eq!(paged, gens(&["r5", "r4", "r1"]));
    assert!(second.next_page_token.is_empty());

    // Malformed filters name their field.
    let bad_user = pb::ActivityFilter {
        user_id: Some("not-a-uuid".into()),
        ..filter()
    };
    rpc.list_activity(u.feed_request(bad_user))
        .refused_field("filter.user_id")
        .await;
    let backwards = range(DAY + HOUR, DAY);
    rpc.list_activity(u.feed_request(backwards))
        .refused_field("filter.to")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn analytics_by_hour_and_by_day_grouped_by_model_sum_the_usage_in_each_bucket() {
    let u = usage_over_two_days().await;
    let (alice, bob) = (&u.alice, &u.bob);
    let row = |bucket: i64, model: &str, spend: &str, requests: u64| {
        (
            bucket,
            model.to_owned(),
            spend.to_owned(),
            requests,
            100 * requests,
        )
    };

    // Day 1 by hour: one row per (hour, model), ordered by hour then model.
    let hourly = u.analytics(pb::Granularity::Hour, DAY, DAY + 24 * HOUR);
    assert_eq!(
        u.rows(alice, hourly.clone()).await,
        [
            row(DAY + 10 * HOUR, "claude-y", "0.25", 1),
            row(DAY + 10 * HOUR, "gpt-x", "0.5", 1),
            row(DAY + 11 * HOUR, "claude-y", "1", 1),
            row(DAY + 11 * HOUR, "gpt-x", "2", 1),
        ]
    );
    // A member sees only the usage of their own keys.
    assert_eq!(
        u.rows(bob, hourly).await,
        [
            row(DAY + 10 * HOUR, "claude-y", "0.25", 1),
            row(DAY + 11 * HOUR, "gpt-x", "2", 1),
        ]
    );
    // An hour range that starts mid-hour starts at that hour's bucket; `to` is exclusive.
    let eleven = u.analytics(
        pb::Granularity::Hour,
        DAY + 11 * HOUR + 10 * 60,
        DAY + 12 * HOUR,
    );
    assert_eq!(
        u.rows(alice, eleven).await,
        [
            row(DAY + 11 * HOUR, "claude-y", "1", 1),
            row(DAY + 11 * HOUR, "gpt-x", "2", 1),
        ]
    );

    // Both days by day.
    let daily = u.analytics(pb::Granularity::Day, DAY, DAY + 48 * HOUR);
    assert_eq!(
        u.rows(alice, daily).await,
        [
            row(DAY, "claude-y", "1.25", 2),
            row(DAY, "gpt-x", "2.5", 2),
            row(DAY + 24 * HOUR, "gpt-x", "0.125", 1),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_analytics_export_holds_the_rows_of_the_period_as_csv_records() {
    let u = usage_over_two_days().await;
    let hourly = u.analytics(pb::Granularity::Hour, DAY, DAY + 24 * HOUR);
    let records = export(&u, &u.alice, hourly.clone()).await;
    let fields = |r: &HashMap<String, String>| {
        [
            "bucket_start",
            "group",
            "spend",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
        ]
        .map(|name| r[name].clone())
    };
    let got: Vec<[String; 7]> = records.iter().map(fields).collect();
    let want = |bucket: &str, model: &str, spend: &str| {
        [bucket, model, spend, "1", "100", "50", "10"].map(str::to_owned)
    };
    assert_eq!(
        got,
        [
            want("2026-05-29T10:00:00Z", "claude-y", "0.25"),
            want("2026-05-29T10:00:00Z", "gpt-x", "0.5"),
            want("2026-05-29T11:00:00Z", "claude-y", "1"),
            want("2026-05-29T11:00:00Z", "gpt-x", "2"),
        ]
    );
    // The export says what GetUsageAnalytics says, row for row.
    let rows = u.rows(&u.alice, hourly.clone()).await;
    assert_eq!(rows.len(), records.len());
    for ((_, model, spend, ..), record) in rows.iter().zip(&records) {
        assert_eq!((model, spend), (&record["group"], &record["spend"]));
    }
    // A member's export holds only their own keys' rows.
    let bobs = export(&u, &u.bob, hourly).await;
    let got: Vec<[String; 7]> = bobs.iter().map(fields).collect();
    assert_eq!(
        got,
        [
            want("2026-05-29T10:00:00Z", "claude-y", "0.25"),
            want("2026-05-29T11:00:00Z", "gpt-x", "2"),
        ]
    );
}

/// The analytics of `period` exported as CSV by `user`, each record by column name.
async fn export(
    u: &Usage,
    user: &User,
    period: pb::GetUsageAnalyticsRequest,
) -> Vec<HashMap<String, String>> {
    let chunks = u
        .dashboard(user)
        .rpc()
        .export_analytics(pb::ExportAnalyticsRequest {
            account_id: period.account_id,
            min_position: period.min_position,
            format: pb::ExportFormat::Csv.into(),
            granularity: period.granularity,
            group_by: period.group_by,
            from: period.from,
            to: period.to,
        })
        .all()
        .await;
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    csv::Reader::from_reader(bytes.as_slice())
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("well-formed CSV")
}
