//! `AuditService`: the log head, chain and checkpoint verification (from the event store);
//! event streaming, replays and consistency checks land with the projections.

use ledger_domain::{Action, AuthContext};
use ledger_eventstore::{CheckpointStatus, head, verify_checkpoint, verify_range};
use tonic::{Request, Response, Status};

use super::reads::allow;
use super::{Shared, answer};
use crate::error::AppError;
use crate::pb;

/// The audit service.
pub struct Audit(pub Shared);

impl Audit {
    fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let cx = self.0.caller(request)?;
        allow(&cx.caller, Action::ReadEventLog, &AuthContext::GLOBAL).map_err(Status::from)
    }
}

fn hash32(field: &str, text: &str) -> Result<[u8; 32], AppError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AppError::invalid(field, "must be 64 hex digits"))
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for Audit {
    async fn get_head(
        &self,
        request: Request<pb::GetHeadRequest>,
    ) -> Result<Response<pb::GetHeadResponse>, Status> {
        self.check(&request)?;
        answer(
            async {
                let head = head(&self.0.app.pool).await?;
                Ok(pb::GetHeadResponse {
                    position: head.position,
                    hash: hex::encode(head.hash),
                })
            }
            .await,
        )
    }

    async fn verify_chain(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        self.check(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let to = (req.to_position > 0).then_some(req.to_position);
                let v =
                    verify_range(&self.0.app.pool, req.from_position.max(1), to, |_| {}).await?;
                Ok(pb::VerifyChainResponse {
                    ok: v.is_intact(),
                    verified_through: v.to,
                    break_position: v.first_break.map_or(0, |b| b.position),
                    break_reason: v
                        .first_break
                        .map(|b| format!("{:?}", b.reason))
                        .unwrap_or_default(),
                })
            }
            .await,
        )
    }

    async fn verify_checkpoint(
        &self,
        request: Request<pb::VerifyCheckpointRequest>,
    ) -> Result<Response<pb::VerifyCheckpointResponse>, Status> {
        self.check(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let hash = hash32("hash", &req.hash)?;
                let status = verify_checkpoint(&self.0.app.pool, req.position, hash).await?;
                let (extends, detail) = match status {
                    CheckpointStatus::Extends { head } => (true, format!("extends to head {head}")),
                    CheckpointStatus::Missing => (false, "no event at that position".to_owned()),
                    CheckpointStatus::HashDiffers { stored } => {
                        (false, format!("stored hash is {}", hex::encode(stored)))
                    }
                    CheckpointStatus::ChainBroken(b) => (
                        false,
                        format!("chain breaks at {} ({:?})", b.position, b.reason),
                    ),
                };
                Ok(pb::VerifyCheckpointResponse { extends, detail })
            }
            .await,
        )
    }

    async fn balance_as_of(
        &self,
        request: Request<pb::BalanceAsOfRequest>,
    ) -> Result<Response<pb::BalanceAsOfResponse>, Status> {
        self.check(&request)?;
        Err(AppError::Unimplemented("BalanceAsOf").into())
    }

    async fn consistency_check(
        &self,
        request: Request<pb::ConsistencyCheckRequest>,
    ) -> Result<Response<pb::ConsistencyCheckResponse>, Status> {
        self.check(&request)?;
        Err(AppError::Unimplemented("ConsistencyCheck").into())
    }
}
