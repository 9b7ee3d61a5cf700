//! `ActivityService`: the activity feed and usage analytics, served from the `activity` read
//! model (feed rows and daily/hourly rollups), and their CSV exports. Every RPC authorises
//! through the domain's policy on the account's aggregate state first, then waits (bounded)
//! for `min_position`.

use ledger_domain::Action;
use ledger_projections::Projection;
use ledger_projections::models::activity::ActivityRow;
use ledger_projections::models::activity::feed::{ActivityFilter, activity};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::analytics::analytics_rows;
use super::export::{export_activity, export_analytics};
use super::projected::{optional_time, page_size, token};
use super::{Query, Shared};
use crate::error::AppError;
use crate::input;
use crate::pb;

/// The activity service.
pub struct Activity(pub Shared);

/// The feed filter of a request (`filter.*` fields).
pub fn feed_filter(filter: Option<&pb::ActivityFilter>) -> Result<ActivityFilter, AppError> {
    let Some(filter) = filter else {
        return Ok(ActivityFilter::default());
    };
    let id = |field: &str, text: &Option<String>| {
        text.as_deref().map(|t| input::uuid(field, t)).transpose()
    };
    let filter = ActivityFilter {
        key_id: id("filter.key_id", &filter.key_id)?,
        user_id: id("filter.user_id", &filter.user_id)?,
        model: filter.model.clone().filter(|m| !m.is_empty()),
        from: optional_time("filter.from", filter.from.as_ref())?,
        until: optional_time("filter.to", filter.to.as_ref())?,
    };
    if let (Some(from), Some(until)) = (filter.from, filter.until)
        && until <= from
    {
        return Err(AppError::invalid("filter.to", "must be after filter.from"));
    }
    Ok(filter)
}

/// The status of a feed row as in the proto.
pub fn status_pb(text: &str) -> pb::UsageStatus {
    match text {
        "success" => pb::UsageStatus::Success,
        "error" => pb::UsageStatus::Error,
        "cancelled" => pb::UsageStatus::Cancelled,
        _ => pb::UsageStatus::Unspecified,
    }
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// One feed row as an `ActivityItem` (metadata only; there is no content to leak).
pub fn item(row: &ActivityRow) -> pb::ActivityItem {
    pb::ActivityItem {
        position: row.position,
        key_id: row.key_id.to_string(),
        user_id: row.user_id.to_string(),
        generation_id: row.generation_id.clone(),
        model: row.model.clone(),
        provider: row.provider.clone(),
        tokens: Some(pb::Tokens {
            prompt: unsigned(row.prompt_tokens),
            completion: unsigned(row.completion_tokens),
            reasoning: unsigned(row.reasoning_tokens),
            cached: unsigned(row.cached_tokens),
        }),
        cost: row.cost.normalize().to_string(),
        latency_ms: unsigned(row.latency_ms),
        time_to_first_token_ms: row.ttft_ms.map(unsigned),
        status: status_pb(&row.status).into(),
        started_at: Some(input::timestamp(row.started_at)),
        finished_at: Some(input::timestamp(row.finished_at)),
    }
}

/// `ListActivity`: a page of the filtered feed, newest first.
async fn list_activity(
    q: Query<pb::ListActivityRequest>,
) -> Result<pb::ListActivityResponse, AppError> {
    let req = &q.req;
    let filter = feed_filter(req.filter.as_ref())?;
    let size = page_size(req.page_size)?;
    let (account, _) = q.account(Action::ReadActivity).await?;
    q.caught_up(Projection::Activity, req.min_position).await?;
    let account = account.as_uuid();
    let page = activity(
        q.app.read_models.pool(),
        account,
        &filter,
        token(&req.page_token),
        size,
    )
    .await?;
    Ok(pb::ListActivityResponse {
        items: page.rows.iter().map(item).collect(),
        next_page_token: page.next_cursor.unwrap_or_default(),
    })
}

/// `GetUsageAnalytics`: a page of the analytics rows of the period.
async fn usage_analytics(
    q: Query<pb::GetUsageAnalyticsRequest>,
) -> Result<pb::GetUsageAnalyticsResponse, AppError> {
    let page = input::page(q.req.page_size, &q.req.page_token)?;
    let rows = analytics_rows(&q).await?;
    let (rows, next_page_token) = input::page_of(rows.into_iter(), page, |row| row);
    Ok(pb::GetUsageAnalyticsResponse {
        rows,
        next_page_token,
    })
}

#[tonic::async_trait]
impl pb::activity_service_server::ActivityService for Activity {
    async fn list_activity(
        &self,
        request: Request<pb::ListActivityRequest>,
    ) -> Result<Response<pb::ListActivityResponse>, Status> {
        self.0.query(request, list_activity).await
    }

    async fn get_usage_analytics(
        &self,
        request: Request<pb::GetUsageAnalyticsRequest>,
    ) -> Result<Response<pb::GetUsageAnalyticsResponse>, Status> {
        self.0.query(request, usage_analytics).await
    }

    async fn export_activity(
        &self,
        request: Request<pb::ExportActivityRequest>,
    ) -> Result<Response<BoxStream<pb::ExportChunk>>, Status> {
        self.0.query(request, export_activity).await
    }

    async fn export_analytics(
        &self,
        request: Request<pb::ExportAnalyticsRequest>,
    ) -> Result<Response<BoxStream<pb::ExportChunk>>, Status> {
        self.0.query(request, export_analytics).await
    }
}
