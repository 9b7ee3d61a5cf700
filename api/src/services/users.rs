//! `UsersService`: registration, email verification, personal-data erasure.

use ledger_domain::user;
use ledger_domain::{AccountId, Action, AuthContext, CommandId, Email};
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::directory::{user_account, user_invitations, user_organizations};
use super::{Query, Shared, now};
use crate::app::{Done, allow};
use crate::commands::user::UserRegistered;
use crate::commands::{EraseUser, RegisterUser, VerifyEmail};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::personal;

/// The users service.
pub struct Users(pub Shared);

/// `EraseUser`: first `user.personal_data_erased` names who erases (the identity service, or
/// the support caller's staff member; the metadata names the credential), then the personal
/// data goes. Each call is recorded under a command id of its own: a repeated erasure is
/// recorded again and erases what is left.
async fn erase_user(q: Query<pb::EraseUserRequest>) -> Result<pb::EraseUserResponse, AppError> {
    allow(&q.cx.caller, Action::EraseUser, &AuthContext::GLOBAL)?;
    let user = input::user_id(&q.req.user_id)?;
    let command = EraseUser(user::EraseUser {
        user_id: user,
        at: now(),
    });
    let command_id = CommandId::from_uuid(Uuid::new_v4());
    q.app
        .run(&q.cx, command_id, &q.req.encode_to_vec(), command)
        .await?;
    let rows_erased = personal::erase_user(&q.app.log, user).await?;
    tracing::info!(%user, rows_erased, caller = q.cx.kind_name(), "personal data erased");
    Ok(pb::EraseUserResponse { rows_erased })
}

fn register(
    req: &pb::RegisterUserRequest,
    command_id: CommandId,
) -> Result<RegisterUser, AppError> {
    Ok(RegisterUser(user::RegisterUser {
        user_id: input::user_id(&req.user_id)?,
        personal_account_id: AccountId::from_uuid(input::uuid_or_derived(
            "personal_account_id",
            &req.personal_account_id,
            command_id.as_uuid(),
        )?),
        email: Email::parse(&req.email).at("email")?,
        at: now(),
    }))
}

impl From<Done<UserRegistered>> for pb::RegisterUserResponse {
    fn from(done: Done<UserRegistered>) -> Self {
        Self {
            position: done.position,
            personal_account_id: done.reply.personal_account_id.to_string(),
        }
    }
}

fn verify(req: &pb::VerifyEmailRequest, _: CommandId) -> Result<VerifyEmail, AppError> {
    Ok(VerifyEmail(user::VerifyEmail {
        user_id: input::user_id(&req.user_id)?,
        email: Email::parse(&req.email).at("email")?,
        at: now(),
    }))
}

impl From<Done<()>> for pb::VerifyEmailResponse {
    fn from(done: Done<()>) -> Self {
        Self {
            position: done.position,
        }
    }
}

#[tonic::async_trait]
impl pb::users_service_server::UsersService for Users {
    async fn register_user(
        &self,
        request: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        self.0.command(request, register).await
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        self.0.command(request, verify).await
    }

    async fn erase_user(
        &self,
        request: Request<pb::EraseUserRequest>,
    ) -> Result<Response<pb::EraseUserResponse>, Status> {
        self.0.query(request, erase_user).await
    }

    async fn get_user_account(
        &self,
        request: Request<pb::GetUserAccountRequest>,
    ) -> Result<Response<pb::GetUserAccountResponse>, Status> {
        self.0.query(request, user_account).await
    }

    async fn list_user_organizations(
        &self,
        request: Request<pb::ListUserOrganizationsRequest>,
    ) -> Result<Response<pb::ListUserOrganizationsResponse>, Status> {
        self.0.query(request, user_organizations).await
    }

    async fn list_user_invitations(
        &self,
        request: Request<pb::ListUserInvitationsRequest>,
    ) -> Result<Response<pb::ListUserInvitationsResponse>, Status> {
        self.0.query(request, user_invitations).await
    }
}
