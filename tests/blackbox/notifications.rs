//! Notifications through the real server: each notice kind arrives with its content, written
//! in the same transaction as the events that caused it; a consumer resumes from its last
//! cursor after a disconnect and after `ledgerd` is killed and restarted, with nothing
//! skipped; an open stream does not hold the SIGTERM drain open.

use std::time::Duration;

use ledger_api::pb;
use ledger_tests::client::{
    AccountId, Api, Dashboard, Notifier, World, id, next_notices, stays_quiet,
};
use pb::notification::Notice;
use tonic::Code;
use uuid::Uuid;

/// The cursors of every notice in the outbox, read straight from the database: what a
/// consumer that skipped nothing has seen.
async fn outbox_cursors(world: &World) -> Vec<(i64, i32)> {
    sqlx::query_as("SELECT position, index FROM outbox ORDER BY position, index")
        .fetch_all(&world.pool)
        .await
        .unwrap()
}

fn cursors(notices: &[pb::Notification]) -> Vec<(i64, i32)> {
    notices
        .iter()
        .map(|n| {
            let cursor = n.cursor.expect("every notice has its cursor");
            (cursor.position, cursor.index)
        })
        .collect()
}

fn kind(notice: &pb::Notification) -> &'static str {
    match notice.notice {
        Some(Notice::LowBalance(_)) => "low_balance",
        Some(Notice::KeyLimitReached(_)) => "key_limit_reached",
        Some(Notice::BudgetThresholdReached(_)) => "budget_threshold_reached",
        Some(Notice::InvitationCreated(_)) => "invitation_created",
        Some(Notice::MemberRemoved(_)) => "member_removed",
        None => "none",
    }
}

/// `n` low-balance notices: a threshold above the balance, set and cleared `n` times.
async fn low_balance_notices(dashboard: &Dashboard, account: &AccountId, n: usize) {
    for _ in 0..n {
        dashboard
            .set_low_balance_threshold(account, Some("1000000"))
            .await;
        dashboard.set_low_balance_threshold(account, None).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_notice_arrives_with_its_content() {
    let world = World::start().await;
    let mut stream = world.notifier().subscribe(None).await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let gateway = world.gateway();
    dashboard.buy(&org.account, "100").await;
    dashboard
        .set_low_balance_threshold(&org.account, Some("50"))
        .await;
    let daily = pb::LimitPeriod::Daily;
    let limited = dashboard
        .create_key_with_limit(&org.account, "limited", "10", daily)
        .await;
    let open = dashboard.create_key(&org.account, "open").await;
    gateway.record_usage(&limited, &id(), "10").await;
    dashboard
        .set_budget(&org.account, "20", pb::LimitPeriod::Monthly)
        .await;
    gateway.record_usage(&open, &id(), "6").await;
    gateway.record_usage(&open, &id(), "40").await;
    let invitee = format!("{}@example.test", Uuid::new_v4());
    let invitation = dashboard.invite(&org, &invitee, pb::Role::Admin).await;
    let member = world.some_user().await;
    world.join(&admin, &org, &member).await;
    let member_key = world
        .dashboard(&member)
        .create_key(&org.account, "member's")
        .await;
    dashboard.remove_member(&org, &member).await;

    let notices = next_notices(&mut stream, 7).await;
    let kinds: Vec<&str> = notices.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "key_limit_reached",
            "budget_threshold_reached",
            "budget_threshold_reached",
            "low_balance",
            "invitation_created",
            "invitation_created",
            "member_removed",
        ]
    );
    let account = org.account.to_string();
    let Some(Notice::KeyLimitReached(reached)) = &notices[0].notice else {
        unreachable!()
    };
    assert_eq!(
        (&reached.account_id, &reached.key_id, &reached.created_by),
        (&account, &limited.id.to_string(), &admin.id.to_string())
    );
    let limit = reached.limit.as_ref().unwrap();
    assert_eq!((limit.amount.as_str(), limit.reset()), ("10", daily));
    assert_eq!(reached.spent, "10");
    let budget: Vec<(u32, &str)> = notices[1..3]
        .iter()
        .map(|n| match &n.notice {
            Some(Notice::BudgetThresholdReached(b)) => {
                assert_eq!(b.account_id, account);
                assert_eq!(b.budget.as_ref().unwrap().amount, "20");
                assert!(b.period_start.is_some());
                (b.threshold_percent, b.spent.as_str())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(budget, [(80, "16"), (100, "56")]);
    let Some(Notice::LowBalance(low)) = &notices[3].notice else {
        unreachable!()
    };
    assert_eq!(
        (
            low.account_id.as_str(),
            low.threshold.as_str(),
            low.balance.as_str()
        ),
        (account.as_str(), "50", "44")
    );
    assert_eq!(
        notices[2].cursor.unwrap().position,
        notices[3].cursor.unwrap().position,
        "one usage, two notices: one position, two indexes"
    );
    let Some(Notice::InvitationCreated(invited)) = &notices[4].notice else {
        unreachable!()
    };
    assert_eq!(invited.organization_id, org.id.to_string());
    assert_eq!(invited.invitation_id, invitation.id.to_string());
    assert_eq!(invited.role(), pb::Role::Admin);
    assert_eq!(invited.invited_by, admin.id.to_string());
    assert!(invited.expires_at.is_some());
    assert_eq!(invited.email.as_deref(), Some(invitee.as_str()));
    let Some(Notice::InvitationCreated(joined)) = &notices[5].notice else {
        unreachable!()
    };
    assert_eq!(joined.email.as_deref(), Some(member.email.as_str()));
    let Some(Notice::MemberRemoved(removed)) = &notices[6].notice else {
        unreachable!()
    };
    assert_eq!(
        (
            &removed.organization_id,
            &removed.user_id,
            &removed.removed_by
        ),
        (
            &org.id.to_string(),
            &member.id.to_string(),
            &admin.id.to_string()
        )
    );
    assert_eq!(removed.account_id, account);
    assert_eq!(removed.disabled_key_ids, [member_key.id.to_string()]);

    assert!(notices.iter().all(|n| n.recorded_at.is_some()));
    assert_eq!(cursors(&notices), outbox_cursors(&world).await);
    assert!(
        stays_quiet(&mut stream, Duration::from_millis(500)).await,
        "nothing else was noticed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_invitees_email_is_read_when_sent_and_left_out_once_erased() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let invitee = world
        .identity()
        .register(&format!("{}@example.test", Uuid::new_v4()))
        .await;
    world
        .dashboard(&admin)
        .invite(&org, &invitee.email, pb::Role::Member)
        .await;
    let outbox: Vec<String> = sqlx::query_scalar("SELECT payload FROM outbox")
        .fetch_all(&world.pool)
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert!(
        !outbox[0].contains('@'),
        "the outbox stores no email: {outbox:?}"
    );

    let notifier = world.notifier();
    let before = next_notices(&mut notifier.subscribe(None).await, 1).await;
    let Some(Notice::InvitationCreated(sent)) = &before[0].notice else {
        unreachable!()
    };
    assert_eq!(sent.email.as_deref(), Some(invitee.email.as_str()));

    world.identity().erase(&invitee).await;
    let after = next_notices(&mut notifier.subscribe(None).await, 1).await;
    let Some(Notice::InvitationCreated(sent)) = &after[0].notice else {
        unreachable!()
    };
    assert_eq!(sent.email, None, "erased: the notice goes without it");
    assert_eq!(sent.invitation_id, {
        let Some(Notice::InvitationCreated(first)) = &before[0].notice else {
            unreachable!()
        };
        first.invitation_id.clone()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_resumes_after_a_disconnect_from_its_last_cursor_with_nothing_skipped() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let notifier = world.notifier();
    let mut stream = notifier.subscribe(None).await;
    low_balance_notices(&dashboard, &org.account, 5).await;
    let mut seen = next_notices(&mut stream, 3).await;
    drop(stream);
    // Written while nobody listens.
    low_balance_notices(&dashboard, &org.account, 5).await;
    let last = seen.last().unwrap().cursor;
    let mut resumed = notifier.subscribe(last).await;
    seen.extend(next_notices(&mut resumed, 7).await);
    // And what follows arrives on the resumed stream as it commits.
    low_balance_notices(&dashboard, &org.account, 2).await;
    seen.extend(next_notices(&mut resumed, 2).await);
    assert!(stays_quiet(&mut resumed, Duration::from_millis(500)).await);
    assert_eq!(cursors(&seen), outbox_cursors(&world).await);
    assert!(seen.iter().all(|n| kind(n) == "low_balance"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_resumes_after_ledgerd_is_killed_and_restarted_with_nothing_skipped() {
    let mut world = World::start().await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    let notifier = world.notifier();
    let mut stream = notifier.subscribe(None).await;
    low_balance_notices(&dashboard, &org.account, 4).await;
    let mut seen = next_notices(&mut stream, 2).await;

    world.ledgerd.kill();
    let broken = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the stream breaks with the server");
    assert!(
        broken.is_some(),
        "a killed server cannot end the stream cleanly"
    );
    world.ledgerd.restart().await;

    low_balance_notices(&dashboard, &org.account, 3).await;
    let mut resumed = notifier.subscribe(seen.last().unwrap().cursor).await;
    seen.extend(next_notices(&mut resumed, 5).await);
    assert!(stays_quiet(&mut resumed, Duration::from_millis(500)).await);
    assert_eq!(cursors(&seen), outbox_cursors(&world).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_stream_ends_unavailable_on_sigterm_and_does_not_hold_the_drain_open() {
    let mut world = World::start().await;
    let (admin, org) = world.organization().await;
    low_balance_notices(&world.dashboard(&admin), &org.account, 1).await;
    let mut stream = world.notifier().subscribe(None).await;
    next_notices(&mut stream, 1).await;
    world.ledgerd.send_sigterm();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends with the drain");
    let status = end.expect_err("the stream ends with a status to resume on");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let exited = world.ledgerd.wait_for_exit(Duration::from_secs(20)).await;
    assert!(
        exited.is_some_and(|status| status.success()),
        "ledgerd drained and exited cleanly: {exited:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_threshold_is_validated_and_read_back_and_a_negative_cursor_is_refused() {
    let world = World::start().await;
    let (admin, org) = world.organization().await;
    let dashboard = world.dashboard(&admin);
    for bad in ["0", "-1", "1.234", "abc", "10000000000"] {
        dashboard
            .set_low_balance_threshold(&org.account, Some(bad))
            .refused_field("threshold")
            .await;
    }
    let set = dashboard
        .set_low_balance_threshold(&org.account, Some("25.50"))
        .await;
    let controls = dashboard
        .after(set.position)
        .spending_controls(&org.account)
        .await;
    assert_eq!(controls.low_balance_threshold.as_deref(), Some("25.5"));
    let cleared = dashboard
        .set_low_balance_threshold(&org.account, None)
        .await;
    let controls = dashboard
        .after(cleared.position)
        .spending_controls(&org.account)
        .await;
    assert_eq!(controls.low_balance_threshold, None);

    let notifier: Notifier = world.notifier();
    for (cursor, field) in [((-1, 0), "after.position"), ((0, -1), "after.index")] {
        notifier
            .subscribe(Some(pb::NotificationCursor {
                position: cursor.0,
                index: cursor.1,
            }))
            .refused_field(field)
            .await;
    }
}
