//! The one place errors become `tonic::Status`: codes, `google.rpc.BadRequest` field
//! violations, `google.rpc.ErrorInfo` reasons and, on the codes a caller should retry
//! (`UNAVAILABLE`, `ABORTED`, `RESOURCE_EXHAUSTED`), `google.rpc.RetryInfo`. Internal details
//! are logged, never sent.

use std::collections::HashMap;
use std::time::Duration;

use ledger_domain::{DomainError, ErrorKind, Field};
use ledger_projections::ProjectionError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::AppError;

/// The `ErrorInfo.domain` of every reason.
pub const REASON_DOMAIN: &str = "ledger.arouter.ai";

/// The machine-readable reason of a domain error (documented in docs/api.md).
pub fn reason(error: &DomainError) -> &'static str {
    use DomainError as E;
    match error {
        E::InvalidInput { .. } => "INVALID_INPUT",
        E::Denied(_) => "PERMISSION_DENIED",
        E::UserAlreadyRegistered => "USER_ALREADY_REGISTERED",
        E::UserNotFound => "USER_NOT_FOUND",
        E::EmailNotVerified => "EMAIL_NOT_VERIFIED",
        E::OrganizationAlreadyExists => "ORGANIZATION_ALREADY_EXISTS",
        E::OrganizationNotFound => "ORGANIZATION_NOT_FOUND",
        E::InvitationNotFound(_) => "INVITATION_NOT_FOUND",
        E::InvitationAlreadyExists(_) => "INVITATION_ALREADY_EXISTS",
        E::InvitationExpired { .. } => "INVITATION_EXPIRED",
        E::InvitationEmailMismatch => "INVITATION_EMAIL_MISMATCH",
        E::TooManyPendingInvitations { .. } => "TOO_MANY_PENDING_INVITATIONS",
        E::AlreadyMember(_) => "ALREADY_MEMBER",
        E::MemberNotFound(_) => "MEMBER_NOT_FOUND",
        E::MemberLimitReached { .. } => "MEMBER_LIMIT_REACHED",
        E::LastAdmin => "LAST_ADMIN",
        E::MemberLimitBelowMemberCount { .. } => "MEMBER_LIMIT_BELOW_MEMBER_COUNT",
        E::AccountNotFound => "ACCOUNT_NOT_FOUND",
        E::OrganizationStateRequired => "ORGANIZATION_STATE_REQUIRED",
        E::AccountStateRequired => "ACCOUNT_STATE_REQUIRED",
        E::TransferDirection => "TRANSFER_DIRECTION",
        E::OwnerNotMemberOfTarget => "OWNER_NOT_MEMBER_OF_TARGET",
        E::InsufficientAvailableBalance { .. } => "INSUFFICIENT_CREDITS",
        E::KeyLimitExceeded { .. } => "KEY_LIMIT_REACHED",
        E::KeyNotFound(_) => "UNKNOWN_KEY",
        E::KeyAlreadyExists(_) => "KEY_ALREADY_EXISTS",
        E::KeyDisabled(_) => "KEY_DISABLED",
        E::KeyAlreadyEnabled(_) => "KEY_ALREADY_ENABLED",
        E::KeyDeleted(_) => "KEY_DELETED",
        E::KeyExpired { .. } => "KEY_EXPIRED",
        E::TooManyKeys { .. } => "TOO_MANY_KEYS",
        E::HoldAlreadyExists(_) => "HOLD_ALREADY_EXISTS",
        E::HoldNotOpen(_) => "HOLD_NOT_OPEN",
        E::HoldNotExpired { .. } => "HOLD_NOT_EXPIRED",
        E::TooManyOpenHolds { .. } => "TOO_MANY_OPEN_HOLDS",
        E::GenerationAlreadyRecorded(_) => "GENERATION_ALREADY_RECORDED",
        E::PaymentReferenceReused(_) => "PAYMENT_REFERENCE_REUSED",
        E::OrgBudgetReached { .. } => "ORG_BUDGET_REACHED",
        E::MemberSpendCapReached { .. } => "MEMBER_SPEND_CAP_REACHED",
        E::KeyLimitAboveDefault { .. } => "KEY_LIMIT_ABOVE_DEFAULT",
        E::KeySecretRotated { .. } => "KEY_SECRET_ROTATED",
        E::TooManyRotations { .. } => "TOO_MANY_ROTATIONS",
        E::InvitationEmailErased(_) => "INVITATION_EMAIL_ERASED",
        E::AdjustmentBelowZero { .. } => "ADJUSTMENT_BELOW_ZERO",
        E::TransferNotFound(_) => "TRANSFER_NOT_FOUND",
        E::TransferAlreadyReversed(_) => "TRANSFER_ALREADY_REVERSED",
        E::PurchaseNotFound(_) => "PURCHASE_NOT_FOUND",
        E::PurchaseAlreadyRefunded(_) => "PURCHASE_ALREADY_REFUNDED",
    }
}

/// The proto field a domain field is reported under (where the names differ).
fn proto_field(field: Field) -> &'static str {
    match field {
        Field::OrganizationName => "name",
        Field::OrganizationDetails => "details",
        Field::KeyName => "name",
        Field::KeyLimit => "limit.amount",
        Field::InvitationExpiry => "expires_in_s",
        Field::Cost => "usage.cost",
        Field::Model => "usage.model",
        Field::Provider => "usage.provider",
        Field::Tokens => "usage.tokens",
        Field::LatencyMs => "usage.latency_ms",
        Field::TimeToFirstTokenMs => "usage.time_to_first_token_ms",
        Field::FinishedAt => "usage.finished_at",
        Field::GenerationId => "usage.generation_id",
        Field::BillingContacts => "settings.contacts",
        Field::TransferTarget => "to_account_id",
        Field::Budget => "budget.reset",
        Field::SpendCap => "cap.reset",
        other => other.as_str(),
    }
}

fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidArgument { .. } => Code::InvalidArgument,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Internal => Code::Internal,
    }
}

/// How long a caller should wait before retrying a call answered with `code`, where waiting
/// helps: the database coming back or a read model catching up (`UNAVAILABLE`), the contended
/// streams settling (`ABORTED`), holds settling or expiring (`RESOURCE_EXHAUSTED`).
pub fn retry_delay(code: Code) -> Option<Duration> {
    match code {
        Code::Unavailable => Some(Duration::from_secs(1)),
        Code::Aborted => Some(Duration::from_millis(100)),
        Code::ResourceExhausted => Some(Duration::from_secs(1)),
        _ => None,
    }
}

/// A status with `details`, plus `RetryInfo` when [`retry_delay`] has a delay for `code`.
fn detailed(code: Code, message: impl Into<String>, mut details: ErrorDetails) -> Status {
    if let Some(delay) = retry_delay(code) {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, message, details)
}

/// A bad-request status naming `field`.
pub fn bad_request(field: &str, description: &str) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, description);
    detailed(
        Code::InvalidArgument,
        format!("invalid {field}: {description}"),
        details,
    )
}

/// A `PERMISSION_DENIED` status with its `ErrorInfo` reason.
fn permission_denied(message: &str) -> Status {
    let details = ErrorDetails::with_error_info("PERMISSION_DENIED", REASON_DOMAIN, HashMap::new());
    detailed(Code::PermissionDenied, message, details)
}

/// A `RESOURCE_EXHAUSTED` status, reason `RATE_LIMITED`, with `RetryInfo` saying how long to
/// wait.
fn rate_limited(message: &str, wait: std::time::Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(wait));
    details.set_error_info("RATE_LIMITED", REASON_DOMAIN, HashMap::new());
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// The machine-readable reason of an application error, if it has one.
pub fn app_reason(error: &AppError) -> &'static str {
    match error {
        AppError::Domain(domain) => reason(domain),
        AppError::Invalid { .. } => "INVALID_INPUT",
        AppError::UnknownKey => "UNKNOWN_KEY",
        AppError::IdTaken(_) => "ID_ALREADY_IN_USE",
        AppError::Forbidden(_) | AppError::NoAccess => "PERMISSION_DENIED",
        AppError::CommandIdReused => "COMMAND_ID_REUSED",
        AppError::SecretNoLongerShown(_) => "KEY_SECRET_NO_LONGER_SHOWN",
        AppError::RateLimited { .. } => "RATE_LIMITED",
        AppError::ReadOnlyReplica => "READ_ONLY_REPLICA",
        _ => "",
    }
}

impl From<AppError> for Status {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Domain(DomainError::InvalidInput { field, reason }) => {
                bad_request(proto_field(field), &reason.to_string())
            }
            AppError::Domain(domain) => {
                let details =
                    ErrorDetails::with_error_info(reason(&domain), REASON_DOMAIN, HashMap::new());
                let message = if domain.kind() == ErrorKind::Internal {
                    tracing::error!(detail = %domain, "internal error");
                    "internal error".to_owned()
                } else {
                    domain.to_string()
                };
                detailed(code_of(domain.kind()), message, details)
            }
            AppError::Invalid { field, description } => bad_request(&field, &description),
            AppError::Forbidden(message) => permission_denied(message),
            AppError::NoAccess => permission_denied(&error.to_string()),
            AppError::IdTaken(stream) => {
                let kind = stream.split('-').next().unwrap_or("stream").to_owned();
                let details = ErrorDetails::with_error_info(
                    "ID_ALREADY_IN_USE",
                    REASON_DOMAIN,
                    HashMap::new(),
                );
                detailed(
                    Code::AlreadyExists,
                    format!("the {kind} id is already in use; choose another"),
                    details,
                )
            }
            AppError::UnknownKey => {
                let details =
                    ErrorDetails::with_error_info("UNKNOWN_KEY", REASON_DOMAIN, HashMap::new());
                detailed(Code::NotFound, "unknown key", details)
            }
            AppError::Unauthenticated(message) => Status::unauthenticated(message),
            AppError::CommandIdReused => {
                let details = ErrorDetails::with_error_info(
                    "COMMAND_ID_REUSED",
                    REASON_DOMAIN,
                    HashMap::new(),
                );
                detailed(
                    Code::AlreadyExists,
                    "command id reused for a different request",
                    details,
                )
            }
            AppError::SecretNoLongerShown(_) => {
                let details = ErrorDetails::with_error_info(
                    "KEY_SECRET_NO_LONGER_SHOWN",
                    REASON_DOMAIN,
                    HashMap::new(),
                );
                detailed(Code::FailedPrecondition, error.to_string(), details)
            }
            AppError::RateLimited { wait, .. } => rate_limited(&error.to_string(), wait),
            AppError::Contended => detailed(Code::Aborted, error.to_string(), ErrorDetails::new()),
            AppError::Unavailable => {
                detailed(Code::Unavailable, error.to_string(), ErrorDetails::new())
            }
            AppError::Busy(_) => detailed(
                Code::ResourceExhausted,
                error.to_string(),
                ErrorDetails::new(),
            ),
            AppError::Unimplemented(_) => Status::unimplemented(error.to_string()),
            AppError::Projection(error) => projection_status(error),
            AppError::ReadOnlyReplica => {
                let details = ErrorDetails::with_error_info(
                    "READ_ONLY_REPLICA",
                    REASON_DOMAIN,
                    HashMap::new(),
                );
                detailed(Code::Unavailable, error.to_string(), details)
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// A read-model error: behind → `UNAVAILABLE` (retry shortly), foreign page token →
/// `INVALID_ARGUMENT` naming `page_token`, database unreachable → `UNAVAILABLE`, anything else
/// → `INTERNAL` (logged here, once).
fn projection_status(error: ProjectionError) -> Status {
    match error {
        ProjectionError::NotYetAtPosition {
            projection,
            reached,
            wanted,
            waited,
        } => detailed(
            Code::Unavailable,
            format!(
                "the {projection} read model has reached position {reached}, not yet \
                 min_position {wanted}, after {} ms; retry shortly",
                waited.as_millis()
            ),
            ErrorDetails::new(),
        ),
        ProjectionError::InvalidCursor => {
            bad_request("page_token", "is not a token this listing issued")
        }
        ProjectionError::LogBehindCheckpoint {
            projection,
            head,
            checkpoint,
        } => detailed(
            Code::Unavailable,
            format!(
                "this replica's log has reached position {head}, the {projection} read model                  {checkpoint}; retry shortly"
            ),
            ErrorDetails::new(),
        ),
        ProjectionError::Database(_) | ProjectionError::Store(_) => {
            tracing::warn!(%error, "read model unavailable");
            detailed(
                Code::Unavailable,
                "the ledger is temporarily unavailable; retry",
                ErrorDetails::new(),
            )
        }
        other => {
            tracing::error!(error = %other, "read model error");
            Status::internal("internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_the_application_failed_to_load_is_internal_and_keeps_its_detail_to_the_log() {
        for (error, expected_reason) in [
            (
                DomainError::OrganizationStateRequired,
                "ORGANIZATION_STATE_REQUIRED",
            ),
            (DomainError::AccountStateRequired, "ACCOUNT_STATE_REQUIRED"),
        ] {
            let status = Status::from(AppError::Domain(error));
            assert_eq!(status.code(), Code::Internal);
            assert_eq!(status.message(), "internal error");
            let info = status.get_details_error_info();
            assert_eq!(info.map(|i| i.reason), Some(expected_reason.to_owned()));
            assert!(status.get_details_retry_info().is_none());
        }
    }

    #[test]
    fn the_codes_worth_retrying_carry_retry_info_and_keep_their_reason() {
        let aborted = Status::from(AppError::Contended);
        assert_eq!(aborted.code(), Code::Aborted);
        let unavailable = Status::from(AppError::Unavailable);
        assert_eq!(unavailable.code(), Code::Unavailable);
        let exhausted = Status::from(AppError::Domain(DomainError::TooManyOpenHolds { max: 1 }));
        assert_eq!(exhausted.code(), Code::ResourceExhausted);
        assert_eq!(
            exhausted.get_details_error_info().map(|i| i.reason),
            Some("TOO_MANY_OPEN_HOLDS".to_owned())
        );
        for status in [aborted, unavailable, exhausted] {
            let delay = status.get_details_retry_info().and_then(|r| r.retry_delay);
            assert_eq!(delay, retry_delay(status.code()), "{status:?}");
            assert!(delay.is_some_and(|d| d > Duration::ZERO), "{status:?}");
        }
        let refused = Status::from(AppError::CommandIdReused);
        assert!(refused.get_details_retry_info().is_none());
    }
}
