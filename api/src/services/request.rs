//! The fields many request messages share, each read through one trait, so a handler asks
//! for "the account of the request" rather than naming the field again.

use crate::pb;

/// A request message that carries a command id.
pub trait CommandRequest: prost::Message + Send + Sync + 'static {
    /// The command id as sent.
    fn command_id(&self) -> &str;
}

/// A request about one account.
pub trait AccountRequest {
    /// The `account_id` field as sent.
    fn account_id(&self) -> &str;
}

/// A request about one organization.
pub trait OrganizationRequest {
    /// The `organization_id` field as sent.
    fn organization_id(&self) -> &str;
}

/// Implements a trait whose one method returns the string field of the same name, for each
/// request message listed (prost generates plain structs, with no such accessors).
macro_rules! string_field {
    ($field:ident of $trait:ident for $($request:ident),+ $(,)?) => {
        $(impl $trait for pb::$request {
            fn $field(&self) -> &str {
                &self.$field
            }
        })+
    };
}

string_field!(
    command_id of CommandRequest for
    RegisterUserRequest,
    VerifyEmailRequest,
    CreateOrganizationRequest,
    RenameOrganizationRequest,
    UpdateOrganizationDetailsRequest,
    InviteMemberRequest,
    RevokeInvitationRequest,
    AcceptInvitationRequest,
    RemoveMemberRequest,
    ChangeMemberRoleRequest,
    LeaveOrganizationRequest,
    PurchaseCreditsRequest,
    CreateKeyRequest,
    RenameKeyRequest,
    ChangeKeyLimitRequest,
    KeyCommandRequest,
    PlaceHoldRequest,
    SettleHoldRequest,
    VoidHoldRequest,
    RecordUsageRequest,
    TransferCreditsRequest,
    SetMemberLimitRequest,
    SetPrivacySettingsRequest,
    SetBillingSettingsRequest,
);

string_field!(
    account_id of AccountRequest for
    PurchaseCreditsRequest,
    RenameKeyRequest,
    ChangeKeyLimitRequest,
    PlaceHoldRequest,
    SettleHoldRequest,
    VoidHoldRequest,
    RecordUsageRequest,
    GetAccountBalanceRequest,
    ListLedgerEntriesRequest,
    ListKeysRequest,
    ListActivityRequest,
    GetUsageAnalyticsRequest,
    ExportActivityRequest,
    ExportAnalyticsRequest,
);

string_field!(
    organization_id of OrganizationRequest for
    RenameOrganizationRequest,
    UpdateOrganizationDetailsRequest,
    RevokeInvitationRequest,
    ChangeMemberRoleRequest,
    SetMemberLimitRequest,
    SetPrivacySettingsRequest,
    GetOrganizationRequest,
    ListMembersRequest,
    ListInvitationsRequest,
    GetPrivacySettingsRequest,
    GetBillingSettingsRequest,
);

string_field!(
    command_id of CommandRequest for
    SetOrganizationBudgetRequest,
    SetMemberSpendCapRequest,
    SetDefaultKeyLimitRequest,
);

string_field!(
    account_id of AccountRequest for
    SetOrganizationBudgetRequest,
    SetMemberSpendCapRequest,
    SetDefaultKeyLimitRequest,
    GetSpendingControlsRequest,
);
// Key rotation and expiry.
string_field!(command_id of CommandRequest for RotateKeyRequest, ChangeKeyExpiryRequest);
string_field!(account_id of AccountRequest for RotateKeyRequest, ChangeKeyExpiryRequest);
// Money corrections and receipts.
string_field!(
    command_id of CommandRequest for
    AdjustCreditsRequest,
    ReverseTransferRequest,
    RefundPurchaseRequest,
);
string_field!(
    account_id of AccountRequest for
    AdjustCreditsRequest,
    RefundPurchaseRequest,
    GetPurchaseReceiptRequest,
);
// Notifications.
string_field!(command_id of CommandRequest for SetLowBalanceThresholdRequest);
string_field!(account_id of AccountRequest for SetLowBalanceThresholdRequest);

/// The position a read must reflect (`min_position`; 0 for requests without one). On a
/// read-only `ledgerd` every query first waits until the replica's log has reached it, so that
/// reads served from the log (balances, organizations, key authentication) keep the meaning
/// of `min_position` that the read models' checkpoints give the others.
pub trait ReadsAt {
    /// `min_position`, or 0.
    fn min_position(&self) -> i64 {
        0
    }
}

/// `ReadsAt` from the request's `min_position` field.
macro_rules! reads_at {
    ($($request:ident),+ $(,)?) => {
        $(impl ReadsAt for pb::$request {
            fn min_position(&self) -> i64 {
                self.min_position
            }
        })+
    };
}

/// `ReadsAt` for requests without `min_position`.
macro_rules! reads_now {
    ($($request:ident),+ $(,)?) => {
        $(impl ReadsAt for pb::$request {})+
    };
}

reads_at!(
    ListActivityRequest,
    GetUsageAnalyticsRequest,
    ExportActivityRequest,
    ExportAnalyticsRequest,
    GetAccountBalanceRequest,
    ListLedgerEntriesRequest,
    AuthenticateKeyRequest,
    GetKeyRequest,
    ListKeysRequest,
    GetOrganizationRequest,
    ListMembersRequest,
    ListInvitationsRequest,
    GetPrivacySettingsRequest,
    GetBillingSettingsRequest,
    GetSpendingControlsRequest,
    GetUserAccountRequest,
    ListUserOrganizationsRequest,
    ListUserInvitationsRequest,
    ListBookEntriesRequest,
    GetPurchaseReceiptRequest,
);

reads_now!(
    RebuildProjectionRequest,
    SubscribeRequest,
    GetHeadRequest,
    VerifyChainRequest,
    VerifyCheckpointRequest,
    StreamEventsRequest,
    BalanceAsOfRequest,
    ConsistencyCheckRequest,
    GetProjectionStatusRequest,
    EraseUserRequest,
    CreateKeyRequest,
    RotateKeyRequest,
    SettleBatchRequest,
    RecordUsageBatchRequest,
    PlaceHoldBatchRequest,
    VoidHoldBatchRequest,
    AuthorizeAndHoldRequest,
);
