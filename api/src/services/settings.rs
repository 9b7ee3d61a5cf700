//! `SettingsService`: privacy and billing settings of an organization.

use ledger_domain::organization::{BillingSettingsInput, OrganizationCommand};
use ledger_domain::text::{CompanyName, PaymentMethodReference, PostalAddress, TaxId};
use ledger_domain::{Action, Email, OrganizationId};
use tonic::{Request, Response, Status};

use super::{Shared, answer, now};
use crate::app::authorized::created;
use crate::commands::{OnOrganization, SetBillingSettings};
use crate::error::{AppError, AtField};
use crate::input;
use crate::pb;
use crate::personal;

/// The settings service.
pub struct Settings(pub Shared);

fn org_id(text: &str) -> Result<OrganizationId, AppError> {
    input::id("organization_id", text, OrganizationId::from_uuid)
}

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
        company_name: s
            .company_name
            .as_deref()
            .map(|t| CompanyName::parse(t).at("settings.company_name"))
            .transpose()?,
        tax_id: s
            .tax_id
            .as_deref()
            .map(|t| TaxId::parse(t).at("settings.tax_id"))
            .transpose()?,
        address: s
            .postal_address
            .as_deref()
            .map(|t| PostalAddress::parse(t).at("settings.postal_address"))
            .transpose()?,
        payment_method_reference: s
            .payment_method_reference
            .as_deref()
            .map(|t| PaymentMethodReference::parse(t).at("settings.payment_method_reference"))
            .transpose()?,
    })
}

#[tonic::async_trait]
impl pb::settings_service_server::SettingsService for Settings {
    async fn set_privacy_settings(
        &self,
        request: Request<pb::SetPrivacySettingsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                Ok(OnOrganization {
                    organization: org_id(&req.organization_id)?,
                    command: OrganizationCommand::SetPrivacySettings {
                        retention_days: req.retention_days,
                        prompt_logging: req.prompt_logging,
                        at: now(),
                    },
                })
            })
            .await
    }

    async fn get_privacy_settings(
        &self,
        request: Request<pb::GetPrivacySettingsRequest>,
    ) -> Result<Response<pb::PrivacySettings>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let id = org_id(&req.organization_id)?;
                let state = self
                    .0
                    .app
                    .authorized_org(&cx.caller, id, Action::ReadPrivacy)
                    .await?;
                let org = created(&state)?;
                Ok(pb::PrivacySettings {
                    retention_days: org.privacy.retention_days,
                    prompt_logging: org.privacy.prompt_logging,
                })
            }
            .await,
        )
    }

    async fn set_billing_settings(
        &self,
        request: Request<pb::SetBillingSettingsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.0
            .command(request, |req, _| {
                let organization = org_id(&req.organization_id)?;
                let input = billing_input(req.settings.as_ref())?;
                let command = OrganizationCommand::SetBillingSettings {
                    input: input.clone(),
                    at: now(),
                };
                Ok(SetBillingSettings {
                    organization,
                    input,
                    command,
                })
            })
            .await
    }

    async fn get_billing_settings(
        &self,
        request: Request<pb::GetBillingSettingsRequest>,
    ) -> Result<Response<pb::BillingSettings>, Status> {
        let cx = self.0.caller(&request)?;
        let req = request.into_inner();
        answer(
            async {
                let org_id = org_id(&req.organization_id)?;
                let app = &self.0.app;
                let state = app
                    .authorized_org(&cx.caller, org_id, Action::ReadBilling)
                    .await?;
                let org = created(&state)?;
                let profile =
                    personal::billing(&self.0.app.pool, org_id, org.billing.profile_version)
                        .await?
                        .unwrap_or_default();
                Ok(pb::BillingSettings {
                    contacts: profile.0,
                    company_name: profile.1,
                    tax_id: profile.2,
                    postal_address: profile.3,
                    payment_method_reference: org
                        .billing
                        .payment_method_reference
                        .as_ref()
                        .map(ToString::to_string),
                })
            }
            .await,
        )
    }
}
