//! Every RPC of the API as it is on the wire: a prost request in, a [`Call`] out. The typed
//! roles are built on these; tests that send what the roles would never send (malformed input,
//! a retry with the same command id, a call by the wrong kind of caller) use them directly.

use ledger_api::pb;
use tonic::Response;
use tonic::transport::Channel;

use super::call::Call;
use crate::ledgerd::Clients;

/// One caller (a token, and an acting user or staff member where its kind needs one), able to
/// call every RPC.
#[derive(Clone)]
pub struct Rpc {
    clients: Clients,
}

impl Rpc {
    /// A caller on `channel` sending `token` and, when given, `actor` as `x-actor-id`.
    pub fn new(channel: Channel, token: &str, actor: Option<uuid::Uuid>) -> Rpc {
        Rpc {
            clients: Clients::new(channel, token, actor),
        }
    }

    /// Opens a `Bill` stream sending `items`; the call answers with the stream of replies.
    pub fn bill(
        &self,
        items: impl tokio_stream::Stream<Item = pb::BillRequest> + Send + 'static,
    ) -> Call<tonic::Streaming<pb::BillReply>> {
        let mut client = self.clients.gateway.clone();
        Call::new("Bill", async move {
            client.bill(items).await.map(Response::into_inner)
        })
    }

    /// The generated clients underneath, for what a [`Call`] does not cover.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }
}

/// `service.method(Request) -> Reply` for each RPC: a method of [`Rpc`] named after it.
macro_rules! rpcs {
    ($($service:ident . $method:ident ($request:ident) -> $reply:ty;)*) => {
        impl Rpc {
            $(
                #[doc = concat!("`", stringify!($method), "` with `request` as given.")]
                pub fn $method(&self, request: pb::$request) -> Call<$reply> {
                    let mut client = self.clients.$service.clone();
                    Call::new(stringify!($method), async move {
                        client.$method(request).await.map(Response::into_inner)
                    })
                }
            )*
        }
    };
}

rpcs! {
    users.register_user(RegisterUserRequest) -> pb::RegisterUserResponse;
    users.verify_email(VerifyEmailRequest) -> pb::VerifyEmailResponse;
    users.erase_user(EraseUserRequest) -> pb::EraseUserResponse;
    users.get_user_account(GetUserAccountRequest) -> pb::GetUserAccountResponse;
    users.list_user_organizations(ListUserOrganizationsRequest)
        -> pb::ListUserOrganizationsResponse;
    orgs.create_organization(CreateOrganizationRequest) -> pb::CreateOrganizationResponse;
    orgs.rename_organization(RenameOrganizationRequest) -> pb::CommandResponse;
    orgs.update_organization_details(UpdateOrganizationDetailsRequest) -> pb::CommandResponse;
    orgs.invite_member(InviteMemberRequest) -> pb::InviteMemberResponse;
    orgs.revoke_invitation(RevokeInvitationRequest) -> pb::CommandResponse;
    orgs.accept_invitation(AcceptInvitationRequest) -> pb::CommandResponse;
    orgs.remove_member(RemoveMemberRequest) -> pb::CommandResponse;
    orgs.change_member_role(ChangeMemberRoleRequest) -> pb::CommandResponse;
    orgs.leave_organization(LeaveOrganizationRequest) -> pb::CommandResponse;
    orgs.get_organization(GetOrganizationRequest) -> pb::GetOrganizationResponse;
    orgs.list_members(ListMembersRequest) -> pb::ListMembersResponse;
    orgs.list_invitations(ListInvitationsRequest) -> pb::ListInvitationsResponse;
    credits.purchase_credits(PurchaseCreditsRequest) -> pb::CommandResponse;
    credits.get_account_balance(GetAccountBalanceRequest) -> pb::GetAccountBalanceResponse;
    credits.list_ledger_entries(ListLedgerEntriesRequest) -> pb::ListLedgerEntriesResponse;
    keys.create_key(CreateKeyRequest) -> pb::CreateKeyResponse;
    keys.rename_key(RenameKeyRequest) -> pb::CommandResponse;
    keys.change_key_limit(ChangeKeyLimitRequest) -> pb::CommandResponse;
    keys.disable_key(KeyCommandRequest) -> pb::CommandResponse;
    keys.enable_key(KeyCommandRequest) -> pb::CommandResponse;
    keys.delete_key(KeyCommandRequest) -> pb::CommandResponse;
    keys.get_key(GetKeyRequest) -> pb::ApiKey;
    keys.list_keys(ListKeysRequest) -> pb::ListKeysResponse;
    gateway.authenticate_key(AuthenticateKeyRequest) -> pb::AuthenticateKeyResponse;
    gateway.place_hold(PlaceHoldRequest) -> pb::PlaceHoldResponse;
    gateway.settle_hold(SettleHoldRequest) -> pb::CommandResponse;
    gateway.void_hold(VoidHoldRequest) -> pb::CommandResponse;
    gateway.record_usage(RecordUsageRequest) -> pb::CommandResponse;
    gateway.settle_batch(SettleBatchRequest) -> pb::BatchResponse;
    gateway.record_usage_batch(RecordUsageBatchRequest) -> pb::BatchResponse;
    gateway.place_hold_batch(PlaceHoldBatchRequest) -> pb::BatchResponse;
    gateway.void_hold_batch(VoidHoldBatchRequest) -> pb::BatchResponse;
    gateway.authorize_and_hold(AuthorizeAndHoldRequest) -> pb::AuthorizeAndHoldResponse;
    settings.set_privacy_settings(SetPrivacySettingsRequest) -> pb::CommandResponse;
    settings.get_privacy_settings(GetPrivacySettingsRequest) -> pb::PrivacySettings;
    settings.set_billing_settings(SetBillingSettingsRequest) -> pb::CommandResponse;
    settings.get_billing_settings(GetBillingSettingsRequest) -> pb::BillingSettings;
    support.transfer_credits(TransferCreditsRequest) -> pb::CommandResponse;
    support.set_member_limit(SetMemberLimitRequest) -> pb::CommandResponse;
    activity.list_activity(ListActivityRequest) -> pb::ListActivityResponse;
    activity.get_usage_analytics(GetUsageAnalyticsRequest) -> pb::GetUsageAnalyticsResponse;
    activity.export_activity(ExportActivityRequest) -> tonic::Streaming<pb::ExportChunk>;
    activity.export_analytics(ExportAnalyticsRequest) -> tonic::Streaming<pb::ExportChunk>;
    audit.stream_events(StreamEventsRequest) -> tonic::Streaming<pb::LogEvent>;
    audit.verify_chain(VerifyChainRequest) -> pb::VerifyChainResponse;
    audit.get_head(GetHeadRequest) -> pb::GetHeadResponse;
    audit.verify_checkpoint(VerifyCheckpointRequest) -> pb::VerifyCheckpointResponse;
    audit.balance_as_of(BalanceAsOfRequest) -> pb::BalanceAsOfResponse;
    audit.consistency_check(ConsistencyCheckRequest) -> pb::ConsistencyCheckResponse;
    audit.stream_consistency_check(ConsistencyCheckRequest)
        -> tonic::Streaming<pb::ProjectionCheck>;
    audit.get_projection_status(GetProjectionStatusRequest) -> pb::GetProjectionStatusResponse;
}

rpcs! {
    settings.set_organization_budget(SetOrganizationBudgetRequest) -> pb::CommandResponse;
    settings.set_member_spend_cap(SetMemberSpendCapRequest) -> pb::CommandResponse;
    settings.set_default_key_limit(SetDefaultKeyLimitRequest) -> pb::CommandResponse;
    settings.get_spending_controls(GetSpendingControlsRequest) -> pb::SpendingControls;
}

// Key rotation and expiry, the invitee's invitations.
rpcs! {
    keys.rotate_key(RotateKeyRequest) -> pb::RotateKeyResponse;
    keys.change_key_expiry(ChangeKeyExpiryRequest) -> pb::CommandResponse;
    users.list_user_invitations(ListUserInvitationsRequest) -> pb::ListUserInvitationsResponse;
}

// Rebuilding a read model.
rpcs! {
    audit.rebuild_projection(RebuildProjectionRequest) -> tonic::Streaming<pb::RebuildProgress>;
}

// Money corrections, receipts and the system books.
rpcs! {
    support.adjust_credits(AdjustCreditsRequest) -> pb::CommandResponse;
    support.reverse_transfer(ReverseTransferRequest) -> pb::CommandResponse;
    credits.refund_purchase(RefundPurchaseRequest) -> pb::CommandResponse;
    credits.get_purchase_receipt(GetPurchaseReceiptRequest) -> pb::GetPurchaseReceiptResponse;
    audit.list_book_entries(ListBookEntriesRequest) -> pb::ListLedgerEntriesResponse;
}

// Notifications and the low-balance threshold.
rpcs! {
    settings.set_low_balance_threshold(SetLowBalanceThresholdRequest) -> pb::CommandResponse;
    notifications.subscribe(SubscribeRequest) -> tonic::Streaming<pb::Notification>;
}
