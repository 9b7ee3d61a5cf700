//! The customers the workloads bill: organizations with funded accounts and API keys, created
//! through the API (identity, dashboard) by many concurrent callers before the timed phases.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ledger_api::pb;
use ledger_tests::ledgerd::Clients;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::cluster::Cluster;

/// Credits bought for each organization: the most one purchase may be, far more than the
/// benchmark spends.
const FUNDING: &str = "1000000.00";

/// Concurrent callers while populating.
const SETUP_CALLERS: usize = 64;

/// An organization, its admin and keys, and dashboard clients acting as the admin.
pub struct Organization {
    /// The organization's account (the credit pool).
    pub account_id: String,
    /// Its keys.
    pub keys: Vec<Key>,
    /// Clients acting as its admin.
    pub admin: Clients,
    /// Clients acting as its admin for reads (on the read-only `ledgerd` when there is one).
    pub reader: Clients,
}

/// An API key the gateway presents.
pub struct Key {
    /// Its id.
    pub key_id: String,
    /// Its secret (shown once at creation).
    pub secret: String,
}

/// Everything the workloads bill.
pub struct Population {
    /// Organizations the spread workloads pick from.
    pub spread: Vec<Organization>,
    /// The one organization the hot workload loads.
    pub hot: Organization,
    /// How long creating it took.
    pub setup: Duration,
}

/// Creates `organizations` funded organizations with `keys_per_org` keys each, and one hot
/// organization with `hot_keys` keys.
pub async fn populate(
    cluster: &Arc<Cluster>,
    organizations: usize,
    keys_per_org: usize,
    hot_keys: usize,
) -> anyhow::Result<Population> {
    let started = Instant::now();
    let spread = concurrently(organizations, {
        let cluster = cluster.clone();
        move |n| {
            let cluster = cluster.clone();
            async move { organization(&cluster, n, keys_per_org).await }
        }
    })
    .await?;
    let hot = organization(cluster, organizations, 0).await?;
    let hot_key_list = concurrently(hot_keys, {
        let admin = hot.admin.clone();
        let account = hot.account_id.clone();
        move |n| {
            let (admin, account) = (admin.clone(), account.clone());
            async move { create_key(&admin, &account, n).await }
        }
    })
    .await?;
    Ok(Population {
        spread,
        hot: Organization {
            keys: hot_key_list,
            ..hot
        },
        setup: started.elapsed(),
    })
}

/// Runs `task(0..count)` on [`SETUP_CALLERS`] concurrent callers; results in index order.
async fn concurrently<T, F, Fut>(count: usize, task: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let task = Arc::new(task);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..SETUP_CALLERS.min(count.max(1)) {
        let (task, next) = (task.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(done);
                }
                done.push((n, task(n).await?));
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(worker) = workers.join_next().await {
        all.extend(worker??);
    }
    all.sort_by_key(|(n, _)| *n);
    Ok(all.into_iter().map(|(_, item)| item).collect())
}

/// Registers and verifies a user, who creates an organization, buys its credits and creates
/// `keys` keys.
async fn organization(cluster: &Cluster, n: usize, keys: usize) -> anyhow::Result<Organization> {
    let user = Uuid::new_v4();
    let email = format!("{user}@bench.example");
    let mut identity = cluster.clients("identity", None, n).users;
    identity
        .register_user(pb::RegisterUserRequest {
            command_id: id(),
            user_id: user.to_string(),
            personal_account_id: String::new(),
            email: email.clone(),
        })
        .await?;
    identity
        .verify_email(pb::VerifyEmailRequest {
            command_id: id(),
            user_id: user.to_string(),
            email,
        })
        .await?;
    let admin = cluster.clients("dashboard", Some(user), n);
    let reader = cluster.read_clients("dashboard", Some(user), n);
    let account_id = admin
        .orgs
        .clone()
        .create_organization(pb::CreateOrganizationRequest {
            command_id: id(),
            organization_id: id(),
            account_id: String::new(),
            name: format!("Bench org {n}"),
            details: None,
        })
        .await?
        .into_inner()
        .account_id;
    admin
        .credits
        .clone()
        .purchase_credits(pb::PurchaseCreditsRequest {
            command_id: id(),
            account_id: account_id.clone(),
            amount: FUNDING.into(),
            payment_reference: format!("bench-{n}"),
        })
        .await?;
    let mut created = Vec::with_capacity(keys);
    for k in 0..keys {
        created.push(create_key(&admin, &account_id, k).await?);
    }
    Ok(Organization {
        account_id,
        keys: created,
        admin,
        reader,
    })
}

/// Creates key number `n` of an account, without a limit.
pub async fn create_key(admin: &Clients, account_id: &str, n: usize) -> anyhow::Result<Key> {
    let key_id = id();
    let reply = admin
        .keys
        .clone()
        .create_key(pb::CreateKeyRequest {
            command_id: id(),
            account_id: account_id.to_owned(),
            key_id: key_id.clone(),
            name: format!("bench key {n}"),
            limit: None,
            expires_at: None,
        })
        .await?
        .into_inner();
    Ok(Key {
        key_id,
        secret: reply.secret,
    })
}

/// A fresh UUID as a string (command, hold and generation ids).
pub fn id() -> String {
    Uuid::new_v4().to_string()
}
