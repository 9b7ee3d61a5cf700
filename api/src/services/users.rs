//! `UsersService`: registration, email verification, personal-data erasure.

use ledger_domain::user::{RegisterUser, VerifyEmail, register, verify_email};
use ledger_domain::{AccountId, Action, AuthContext, Email, UserId};
use tonic::{Request, Response, Status};

use super::directory::{user_account, user_organizations};
use super::projected::wait_budget;
use super::reads::allow;
use super::{Shared, answer, command_id, now};
use crate::app::{Decided, RetryCheck};
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
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let cmd = RegisterUser {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    personal_account_id: AccountId::from_uuid(input::uuid_or_derived(
                        "personal_account_id",
                        &req.personal_account_id,
                        command_id,
                    )?),
                    email: Email::parse(&req.email).at("email")?,
                    at: now(),
                };
                let cmd = &cmd;
                let reply = serde_json::json!({ "personal_account_id": cmd.personal_account_id });
                let reply = &reply;
                let done = app
                    .execute(
                        &cx,
                        "RegisterUser",
                        &req,
                        command_id,
                        &[],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.user(cmd.user_id).await?;
                                let decision = register(&state, &cx.caller, cmd)?;
                                personal::register_email(&app.pool, cmd.user_id, &cmd.email)
                                    .await?;
                                Ok(Decided {
                                    decision,
                                    reply: reply.clone(),
                                })
                            })
                        },
                    )
                    .await?;
                Ok(pb::RegisterUserResponse {
                    position: done.position,
                    personal_account_id: done.reply["personal_account_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
            .await,
        )
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        let app = &*self.0.app;
        answer(
            async {
                let command_id = command_id(&req.command_id)?;
                let cmd = VerifyEmail {
                    user_id: input::id("user_id", &req.user_id, UserId::from_uuid)?,
                    email: Email::parse(&req.email).at("email")?,
                    at: now(),
                };
                let cmd = &cmd;
                let done = app
                    .execute(
                        &cx,
                        "VerifyEmail",
                        &req,
                        command_id,
                        &[cmd.user_id.stream()],
                        RetryCheck::BeforeDeciding,
                        || {
                            Box::pin(async move {
                                let state = app.user(cmd.user_id).await?;
                                let decision = verify_email(&state, &cx.caller, cmd)?;
                                personal::verify_email(&app.pool, cmd.user_id, &cmd.email).await?;
                                Ok(Decided::new(decision))
                            })
                        },
                    )
                    .await?;
                Ok(pb::VerifyEmailResponse {
                    position: done.position,
                })
            }
            .await,
        )
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
