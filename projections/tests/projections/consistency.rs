//! Random valid histories: every read model equals the fold of the log.

use ledger_projections::RuntimeConfig;
use ledger_projections::models::{activity::feed, balances, directory::queries, keys, ledger};

use crate::support::{Running, World, assert_consistent, caught_up, config, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_model_equals_the_fold_of_random_histories() {
    // 8 seeded histories; small and odd batch sizes put batch boundaries everywhere.
    let mut corrections = 0;
    for seed in 1..=8_u64 {
        let db = db().await;
        let running = Running::spawn(
            &db.pool,
            RuntimeConfig {
                // Shared windows smaller than a batch, about one, and far larger, and none.
                recent_events: [0, 3, 50, 4_096][seed as usize % 4],
                ..config(1 + (seed as i64 * 7) % 40)
            },
        );
        let mut world = World::new(db.appender.clone(), seed).await;
        world.run(60).await;
        world.administer().await;
        world.run(60).await;
        caught_up(&db.pool, world.last_position).await;
        assert_consistent(&db.pool).await;
        corrections += world.corrections;

        // A few concrete expectations beside the check.
        let org = world.accounts[&world.org_account].account.clone().unwrap();
        let row = balances::balance(&db.pool, world.org_account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.balance, org.balance, "seed {seed}");
        assert_eq!(row.available(), org.available(), "seed {seed}");
        let sum = ledger::entries_sum(&db.pool, &world.org_account.to_string())
            .await
            .unwrap();
        assert_eq!(sum, org.balance, "seed {seed}: entries sum to the balance");
        let listed = keys::list_keys(
            &db.pool,
            world.org_account.as_uuid(),
            &keys::KeyFilter {
                created_by: None,
                include_deleted: true,
            },
            None,
            500,
        )
        .await
        .unwrap();
        assert_eq!(listed.keys.len(), org.keys.len(), "seed {seed}");
        for key in &listed.keys {
            let domain = &org.keys[&ledger_domain::KeyId::from_uuid(key.key_id)];
            assert_eq!(key.status, domain.status);
            assert_eq!(key.total_spend(), domain.spend.lifetime);
            let by_hash = keys::key_by_secret_hash(&db.pool, &key.secret_hash)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(by_hash.key_id, key.key_id);
        }
        let mut rows = 0;
        for account in world.accounts.keys() {
            let mut cursor = None;
            loop {
                let page = feed::activity(
                    &db.pool,
                    account.as_uuid(),
                    &feed::ActivityFilter::default(),
                    cursor.as_deref(),
                    7,
                )
                .await
                .unwrap();
                assert!(
                    page.rows
                        .windows(2)
                        .all(|w| (w[0].finished_at, w[0].position)
                            > (w[1].finished_at, w[1].position))
                );
                rows += page.rows.len();
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        assert_eq!(
            rows, world.usage_events,
            "seed {seed}: one feed row per usage record"
        );
        let organization = queries::organization(&db.pool, world.org.as_uuid())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(organization.retention_days, 90);
        assert_eq!(organization.member_count, 2);
        let members = queries::members(&db.pool, world.org.as_uuid(), None, 500)
            .await
            .unwrap();
        assert_eq!(members.rows.len(), 2);
        let switcher = queries::accounts_of_user(&db.pool, world.users[1].as_uuid())
            .await
            .unwrap();
        assert_eq!(switcher.len(), 2, "personal and the organization");
        let leaver = queries::accounts_of_user(&db.pool, world.users[2].as_uuid())
            .await
            .unwrap();
        assert_eq!(leaver.len(), 1, "a leaver keeps only the personal account");
        let invitations =
            queries::pending_invitations(&db.pool, world.org.as_uuid(), world.now, None, 500)
                .await
                .unwrap();
        let pending = world
            .org_state
            .organization
            .as_ref()
            .unwrap()
            .invitations
            .values()
            .filter(|i| i.expires_at > world.now)
            .count();
        assert_eq!(invitations.rows.len(), pending, "seed {seed}");

        running.stop().await;
    }
    assert!(
        corrections > 0,
        "the histories include adjustments, reversals and refunds"
    );
}
