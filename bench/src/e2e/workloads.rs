//! The operations each workload repeats, as the inference gateway and the dashboard send them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ledger_api::pb;
use ledger_api::pb::bill_reply::Reply;
use ledger_api::pb::bill_request::Call;
use ledger_tests::ledgerd::Clients;

use super::cluster::Cluster;
use super::population::{Organization, Population, create_key, id};
use super::stream::BillStreams;

/// Estimated cost held before a request runs.
const ESTIMATE: &str = "0.01";
/// Actual cost billed when it settles (well under the estimate, as the gateway's are).
const COST: &str = "0.0042";
/// Hold time-to-live: the gateway settles within it.
const HOLD_TTL_S: u32 = 60;
/// Items in one batched call (the API's maximum).
pub const BATCH_ITEMS: usize = 100;

/// Shared state of the workloads: who to bill and connections to do it on.
pub struct Workloads {
    population: Population,
    /// Gateway clients, one per connection.
    gateways: Vec<Clients>,
    /// Gateway clients for reads (key authentications outside an inference request), one per
    /// connection of the read-only `ledgerd` when there is one, else as `gateways`.
    read_gateways: Vec<Clients>,
    /// A `Bill` stream per connection.
    streams: BillStreams,
}

impl Workloads {
    /// Workloads billing `population` through `cluster`.
    pub async fn new(cluster: &Cluster, population: Population) -> anyhow::Result<Arc<Workloads>> {
        let gateways = (0..cluster.connections())
            .map(|n| cluster.clients("gateway", None, n))
            .collect();
        let read_gateways = (0..cluster.connections())
            .map(|n| cluster.read_clients("gateway", None, n))
            .collect();
        Ok(Arc::new(Workloads {
            population,
            gateways,
            read_gateways,
            streams: BillStreams::open(cluster).await?,
        }))
    }

    fn gateway(&self, n: u64) -> Clients {
        self.gateways[n as usize % self.gateways.len()].clone()
    }

    fn read_gateway(&self, n: u64) -> Clients {
        self.read_gateways[n as usize % self.read_gateways.len()].clone()
    }

    fn spread_org(&self, n: u64) -> &Organization {
        let orgs = &self.population.spread;
        &orgs[scramble(n) as usize % orgs.len()]
    }

    /// gateway: one inference request on a key of a random organization.
    pub async fn gateway_request(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        let org = self.spread_org(n);
        self.billed_request(org, n).await
    }

    /// hot: one inference request, always on the hot organization.
    pub async fn hot_request(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        self.billed_request(&self.population.hot, n).await
    }

    /// Authenticate the key, hold the estimate, settle the actual cost: what the gateway does
    /// for every inference request.
    async fn billed_request(&self, org: &Organization, n: u64) -> Result<u32, tonic::Status> {
        let key = &org.keys[(scramble(n ^ 0x5eed) as usize) % org.keys.len()];
        let mut gateway = self.gateway(n).gateway;
        let authenticated = gateway
            .authenticate_key(pb::AuthenticateKeyRequest {
                secret: key.secret.clone(),
                min_position: 0,
            })
            .await?
            .into_inner();
        let hold_id = id();
        gateway
            .place_hold(pb::PlaceHoldRequest {
                command_id: id(),
                account_id: authenticated.account_id.clone(),
                key_id: authenticated.key_id,
                hold_id: hold_id.clone(),
                estimate: ESTIMATE.into(),
                ttl_s: HOLD_TTL_S,
            })
            .await?;
        gateway
            .settle_hold(pb::SettleHoldRequest {
                command_id: id(),
                account_id: authenticated.account_id,
                hold_id,
                usage: Some(usage_report()),
            })
            .await?;
        Ok(1)
    }

    /// gateway-stream: one inference request on a key of a random organization, as a gateway
    /// keeping a `Bill` stream per connection sends it: `AuthorizeAndHold`, then `SettleHold`.
    pub async fn gateway_stream_request(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        let org = self.spread_org(n);
        let key = &org.keys[(scramble(n ^ 0x5eed) as usize) % org.keys.len()];
        let hold_id = id();
        let held = self
            .streams
            .call(
                n,
                Call::AuthorizeAndHold(pb::AuthorizeAndHoldRequest {
                    command_id: id(),
                    secret: key.secret.clone(),
                    hold_id: hold_id.clone(),
                    estimate: ESTIMATE.into(),
                    ttl_s: HOLD_TTL_S,
                }),
            )
            .await?;
        let Reply::AuthorizeAndHold(held) = held else {
            return Err(tonic::Status::internal("not an AuthorizeAndHold reply"));
        };
        self.streams
            .call(
                n,
                Call::SettleHold(pb::SettleHoldRequest {
                    command_id: id(),
                    account_id: held.account_id,
                    hold_id,
                    usage: Some(usage_report()),
                }),
            )
            .await?;
        Ok(1)
    }

    /// batched: 100 usage records over random organizations in one call; counts the rows billed.
    pub async fn usage_batch(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        let items = (0..BATCH_ITEMS as u64)
            .map(|i| {
                let org = self.spread_org(n.wrapping_mul(BATCH_ITEMS as u64) + i);
                let key = &org.keys[(scramble(n ^ i) as usize) % org.keys.len()];
                pb::RecordUsageRequest {
                    command_id: id(),
                    account_id: org.account_id.clone(),
                    key_id: key.key_id.clone(),
                    usage: Some(usage_report()),
                }
            })
            .collect();
        let reply = self
            .gateway(n)
            .gateway
            .record_usage_batch(pb::RecordUsageBatchRequest { items })
            .await?
            .into_inner();
        if let Some(failed) = reply.results.iter().find(|result| result.code != 0) {
            return Err(tonic::Status::new(
                tonic::Code::from(failed.code),
                format!("batch item: {}", failed.message),
            ));
        }
        Ok(u32::try_from(reply.results.len()).unwrap_or(u32::MAX))
    }

    /// read: a key authentication or a balance query, half each. Reads here and in `mixed` go
    /// to the read-only `ledgerd` when there is one, without `min_position`: none reads a write
    /// of its own (the inference request's authentication goes with its hold, to the primary).
    pub async fn read(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        if n.is_multiple_of(2) {
            self.authenticate(n).await
        } else {
            self.balance(n).await
        }
    }

    async fn authenticate(&self, n: u64) -> Result<u32, tonic::Status> {
        let org = self.spread_org(n);
        let key = &org.keys[(scramble(n ^ 0xa7) as usize) % org.keys.len()];
        self.read_gateway(n)
            .gateway
            .authenticate_key(pb::AuthenticateKeyRequest {
                secret: key.secret.clone(),
                min_position: 0,
            })
            .await?;
        Ok(0)
    }

    async fn balance(&self, n: u64) -> Result<u32, tonic::Status> {
        let org = self.spread_org(n);
        org.reader
            .credits
            .clone()
            .get_account_balance(pb::GetAccountBalanceRequest {
                account_id: org.account_id.clone(),
                min_position: 0,
            })
            .await?;
        Ok(0)
    }

    /// mixed: in 100 operations, 70 inference requests (35 through unary calls, 35 through the
    /// `Bill` streams), 10 key authentications, 5 balance queries, 5 activity-feed pages, 3
    /// purchases, 3 key renames, 2 key creations and 2 key listings: a gateway-dominated day with
    /// dashboards open, and both gateway protocols in the mix the memory run watches.
    pub async fn mixed(self: Arc<Self>, n: u64) -> Result<u32, tonic::Status> {
        let org = self.spread_org(n);
        match scramble(n ^ 0x3141) % 100 {
            0..35 => self.billed_request(org, n).await,
            35..70 => self.gateway_stream_request(n).await,
            70..80 => self.authenticate(n).await,
            80..85 => self.balance(n).await,
            85..90 => {
                org.reader
                    .activity
                    .clone()
                    .list_activity(pb::ListActivityRequest {
                        account_id: org.account_id.clone(),
                        min_position: 0,
                        page_size: 20,
                        page_token: String::new(),
                        filter: None,
                    })
                    .await?;
                Ok(0)
            }
            90..93 => {
                org.admin
                    .credits
                    .clone()
                    .purchase_credits(pb::PurchaseCreditsRequest {
                        command_id: id(),
                        account_id: org.account_id.clone(),
                        amount: "25.00".into(),
                        payment_reference: format!("bench-mixed-{}", id()),
                    })
                    .await?;
                Ok(0)
            }
            93..96 => {
                let key = &org.keys[(scramble(n ^ 0x77) as usize) % org.keys.len()];
                org.admin
                    .keys
                    .clone()
                    .rename_key(pb::RenameKeyRequest {
                        command_id: id(),
                        account_id: org.account_id.clone(),
                        key_id: key.key_id.clone(),
                        name: format!("renamed {n}"),
                    })
                    .await?;
                Ok(0)
            }
            96..98 => {
                create_key(&org.admin, &org.account_id, n as usize)
                    .await
                    .map_err(|error| tonic::Status::unknown(error.to_string()))?;
                Ok(0)
            }
            _ => {
                org.reader
                    .keys
                    .clone()
                    .list_keys(pb::ListKeysRequest {
                        account_id: org.account_id.clone(),
                        min_position: 0,
                        page_size: 50,
                        page_token: String::new(),
                        include_deleted: false,
                    })
                    .await?;
                Ok(0)
            }
        }
    }
}

/// The usage metadata of one finished inference request.
fn usage_report() -> pb::UsageReport {
    let finished = SystemTime::now();
    let started = finished - Duration::from_millis(900);
    pb::UsageReport {
        generation_id: id(),
        model: "bench-model".into(),
        provider: "bench-provider".into(),
        tokens: Some(pb::Tokens {
            prompt: 800,
            completion: 200,
            reasoning: 0,
            cached: 100,
        }),
        cost: COST.into(),
        latency_ms: 900,
        time_to_first_token_ms: Some(150),
        status: pb::UsageStatus::Success.into(),
        started_at: Some(started.into()),
        finished_at: Some(finished.into()),
    }
}

/// A well-mixed 64-bit value of `n` (splitmix64): spreads consecutive operations over
/// organizations and keys without a random number generator.
pub fn scramble(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
