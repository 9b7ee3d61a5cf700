//! `UsersService`: registration, email verification, personal-data erasure.

use ledger_domain::user;
use ledger_domain::{AccountId, Action, AuthContext, CommandId, Email, UserId};
use tonic::{Request, Response, Status};

use super::directory::{user_account, user_organizations};
use super::projected::wait_budget;
use super::{Shared, answer, now};
use crate::app::allow;
use crate::commands::{RegisterUser, VerifyEmail};
use crate::error::AtField;
use crate::input;
use crate::pb;
use crate::personal;

/// The users service.
pub struct Users(pub Shared);

#[tonic::async_trait]
impl pb::users_service_server::UsersService for Users {
    async fn register_user(
        &self,
        request: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        let register = |req: &pb::RegisterUserRequest, command_id: CommandId| {
            Ok(RegisterUser(user::RegisterUser {
                user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                personal_account_id: AccountId::from_uuid(input::uuid_or_derived(
                    "personal_account_id",
                    &req.personal_account_id,
                    command_id.as_uuid(),
                )?),
                email: Email::parse(&req.email).at("email")?,
                at: now(),
            }))
        };
        self.0
            .run(request, register, |done| pb::RegisterUserResponse {
                position: done.position,
                personal_account_id: done.reply.personal_account_id.to_string(),
            })
            .await
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let verify = |req: &pb::VerifyEmailRequest, _| {
            Ok(VerifyEmail(user::VerifyEmail {
                user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                email: Email::parse(&req.email).at("email")?,
                at: now(),
            }))
        };
        self.0
            .run(request, verify, |done| pb::VerifyEmailResponse {
                position: done.position,
            })
            .await
    }

    async fn erase_user(
        &self,
        request: Request<pb::EraseUserRequest>,
    ) -> Result<Response<pb::EraseUserResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                allow(&cx.caller, Action::EraseUser, &AuthContext::GLOBAL)?;
                let user = input::id("user_id", &req.user_id, UserId::from_uuid)?;
                let rows_erased = personal::erase_user(&self.0.app.pool, user).await?;
                tracing::info!(%user, rows_erased, caller = cx.kind_name(), "personal data erased");
                Ok(pb::EraseUserResponse { rows_erased })
            }
            .await,
        )
    }

    async fn get_user_account(
        &self,
        request: Request<pb::GetUserAccountRequest>,
    ) -> Result<Response<pb::GetUserAccountResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let budget = wait_budget(request.metadata());
        let req = request.into_inner();
        answer(user_account(&self.0.app, &cx.caller, &req, budget).await)
    }

    async fn list_user_organizations(
        &self,
        request: Request<pb::ListUserOrganizationsRequest>,
    ) -> Result<Response<pb::ListUserOrganizationsResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let budget = wait_budget(request.metadata());
        let req = request.into_inner();
        answer(user_organizations(&self.0.app, &cx.caller, &req, budget).await)
    }
}
