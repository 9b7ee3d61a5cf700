//! `ActivityService`: served from the read models (activity feed, usage rollups), which land
//! with the projections; until then every RPC answers UNIMPLEMENTED with a clear message.

use tonic::{Request, Response, Status};

use super::Shared;
use crate::error::AppError;
use crate::pb;

/// The activity service (not yet wired to its read models).
pub struct Activity(pub Shared);

#[tonic::async_trait]
impl pb::activity_service_server::ActivityService for Activity {
    async fn list_activity(
        &self,
        request: Request<pb::ListActivityRequest>,
    ) -> Result<Response<pb::ListActivityResponse>, Status> {
        self.0.caller(&request)?;
        Err(AppError::Unimplemented("ListActivity").into())
    }

    async fn get_usage_analytics(
        &self,
        request: Request<pb::GetUsageAnalyticsRequest>,
    ) -> Result<Response<pb::GetUsageAnalyticsResponse>, Status> {
        self.0.caller(&request)?;
        Err(AppError::Unimplemented("GetUsageAnalytics").into())
    }

    async fn export_activity(
        &self,
        request: Request<pb::ExportActivityRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<pb::ExportChunk>>, Status> {
        self.0.caller(&request)?;
        Err(AppError::Unimplemented("ExportActivity").into())
    }

    async fn export_analytics(
        &self,
        request: Request<pb::ExportAnalyticsRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<pb::ExportChunk>>, Status> {
        self.0.caller(&request)?;
        Err(AppError::Unimplemented("ExportAnalytics").into())
    }
}
