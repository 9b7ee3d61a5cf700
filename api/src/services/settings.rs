//! `SettingsService`: privacy and billing settings of an organization.

use ledger_domain::organization::{BillingSettingsInput, OrganizationCommand};
use ledger_domain::text::{CompanyName, PaymentMethodReference, PostalAddress, TaxId};
use ledger_domain::{Action, CommandId, Email};
use tonic::{Request, Response, Status};

use super::{Query, Shared, now, spending};
use crate::app::authorized::created;
use crate::commands::{BillingContacts, OnOrganization};
use crate::error::{AppError, AtField};
use crate::input::{self, optional_text};
use crate::pb;
use crate::personal;

/// The settings service.
pub struct Settings(pub Shared);

fn billing_input(settings: Option<&pb::BillingSettings>) -> Result<BillingSettingsInput, AppError> {
    let s = settings.ok_or_else(|| AppError::invalid("settings", "is required"))?;
    let contacts = s
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| Email::parse(c).at(&format!("settings.contacts[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BillingSettingsInput {
        contacts,
        company_name: optional_text(
            "settings.company_name",
            s.company_name.as_deref(),
            CompanyName::parse,
        )?,
        tax_id: optional_text("settings.tax_id", s.tax_id.as_deref(), TaxId::parse)?,
        address: optional_text(
            "settings.postal_address",
            s.postal_address.as_deref(),
            PostalAddress::parse,
        )?,
        payment_method_reference: optional_text(
            "settings.payment_method_reference",
            s.payment_method_reference.as_deref(),
            PaymentMethodReference::parse,
        )?,
    })
}

fn set_privacy(req: &pb::SetPrivacySettingsRequest) -> Result<OrganizationCommand, AppError> {
    Ok(OrganizationCommand::SetPrivacySettings {
        retention_days: req.retention_days,
        prompt_logging: req.prompt_logging,
        at: now(),
    })
}

fn set_billing(
    req: &pb::SetBillingSettingsRequest,
    _: CommandId,
) -> Result<OnOrganization<BillingContacts>, AppError> {
    let organization = input::organization_id(&req.organization_id)?;
    let input = billing_input(req.settings.as_ref())?;
    let command = OrganizationCommand::SetBillingSettings {
        input: input.clone(),
        at: now(),
    };
    Ok(OnOrganization {
        organization,
        command,
        outside_log: BillingContacts(input),
    })
}

async fn privacy_settings(
    q: Query<pb::GetPrivacySettingsRequest>,
) -> Result<pb::PrivacySettings, AppError> {
    let state = q.organization(Action::ReadPrivacy).await?;
    let org = created(&state)?;
    Ok(pb::PrivacySettings {
        retention_days: org.privacy.retention_days,
        prompt_logging: org.privacy.prompt_logging,
    })
}

async fn billing_settings(
    q: Query<pb::GetBillingSettingsRequest>,
) -> Result<pb::BillingSettings, AppError> {
    let state = q.organization(Action::ReadBilling).await?;
    let org = created(&state)?;
    let (contacts, company_name, tax_id, postal_address) =
        personal::billing(&q.app.log, org.id, org.billing.profile_version)
            .await?
            .unwrap_or_default();
    Ok(pb::BillingSettings {
        contacts,
        company_name,
        tax_id,
        postal_address,
        payment_method_reference: org
            .billing
            .payment_method_reference
            .as_ref()
            .map(ToString::to_string),
    })
}

#[tonic::async_trait]
impl pb::settings_service_server::SettingsService for Settings {
    async fn set_privacy_settings(
        &self,
        request: Request<pb::SetPrivacySettingsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.organization_command(request, set_privacy).await
    }

    async fn get_privacy_settings(
        &self,
        request: Request<pb::GetPrivacySettingsRequest>,
    ) -> Result<Response<pb::PrivacySettings>, Status> {
        self.0.query(request, privacy_settings).await
    }

    async fn set_billing_settings(
        &self,
        request: Request<pb::SetBillingSettingsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.command(request, set_billing).await
    }

    async fn get_billing_settings(
        &self,
        request: Request<pb::GetBillingSettingsRequest>,
    ) -> Result<Response<pb::BillingSettings>, Status> {
        self.0.query(request, billing_settings).await
    }

    async fn set_organization_budget(
        &self,
        request: Request<pb::SetOrganizationBudgetRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0.account_command(request, spending::set_budget).await
    }

    async fn set_member_spend_cap(
        &self,
        request: Request<pb::SetMemberSpendCapRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .account_command(request, spending::set_member_cap)
            .await
    }

    async fn set_default_key_limit(
        &self,
        request: Request<pb::SetDefaultKeyLimitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .account_command(request, spending::set_default_key_limit)
            .await
    }

    async fn set_low_balance_threshold(
        &self,
        request: Request<pb::SetLowBalanceThresholdRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .account_command(request, spending::set_low_balance_threshold)
            .await
    }

    async fn get_spending_controls(
        &self,
        request: Request<pb::GetSpendingControlsRequest>,
    ) -> Result<Response<pb::SpendingControls>, Status> {
        self.0.query(request, spending::spending_controls).await
    }
}
