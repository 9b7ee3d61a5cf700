//! `GetPurchaseReceipt`: a PDF receipt of one purchase, with the organization's invoicing
//! details from its billing settings. The purchase (and its refund, if any) comes from the
//! `balances` read model's ledger entries, found by the payment reference.

use chrono::{DateTime, Utc};
use ledger_domain::account::AccountOwner;
use ledger_domain::text::PaymentReference;
use ledger_domain::{Action, DomainError};
use ledger_projections::Projection;
use ledger_projections::models::ledger::{Entry, payment_entries};

use super::Query;
use crate::error::{AppError, AtField};
use crate::pb;
use crate::pdf::{self, Block, Column, Report, Table};
use crate::personal::{self, BillingProfile};

/// Who the receipt is made out to.
#[derive(Debug, Default)]
pub struct BillTo {
    /// The organization's name, or the personal account's owner id.
    pub name: String,
    /// The invoicing details: company name, tax id, postal address, contacts (organizations
    /// with billing settings only).
    pub details: Option<BillingProfile>,
}

/// The purchase a receipt is for.
#[derive(Debug)]
pub struct Purchased {
    /// The account credited.
    pub account: String,
    /// The provider's payment reference.
    pub payment_reference: String,
    /// Credits bought.
    pub amount: String,
    /// When.
    pub at: DateTime<Utc>,
    /// When the provider refunded it, if it did.
    pub refunded_at: Option<DateTime<Utc>>,
}

fn shown(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The receipt's content: who it is for, the purchase as a one-line table with its total, and
/// a refund notice when the purchase was refunded.
pub fn receipt(bill_to: &BillTo, purchase: &Purchased) -> Report {
    let mut about = vec![format!("Billed to: {}", bill_to.name)];
    if let Some((contacts, company, tax_id, address)) = &bill_to.details {
        about.extend(company.iter().map(|c| format!("Company: {c}")));
        about.extend(tax_id.iter().map(|t| format!("Tax id: {t}")));
        if let Some(address) = address {
            about.extend(address.lines().map(|l| format!("Address: {l}")));
        }
        if !contacts.is_empty() {
            about.push(format!("Billing contacts: {}", contacts.join(", ")));
        }
    }
    about.push(format!("Account: {}", purchase.account));
    let mut figures = vec![
        (
            "Payment reference".to_owned(),
            purchase.payment_reference.clone(),
        ),
        ("Date".to_owned(), shown(purchase.at)),
        ("Amount (credits)".to_owned(), purchase.amount.clone()),
    ];
    if let Some(refunded_at) = purchase.refunded_at {
        figures.push(("Refunded".to_owned(), shown(refunded_at)));
    }
    let table = Table {
        title: "Purchase".to_owned(),
        columns: vec![
            Column::text("Date", 0.3),
            Column::text("Description", 0.3),
            Column::text("Payment reference", 0.25),
            Column::number("Credits", 0.15),
        ],
        rows: vec![vec![
            shown(purchase.at),
            "Prepaid credits".to_owned(),
            purchase.payment_reference.clone(),
            purchase.amount.clone(),
        ]],
        total: Some(vec![
            "Total".to_owned(),
            String::new(),
            String::new(),
            purchase.amount.clone(),
        ]),
    };
    Report {
        title: "Receipt".to_owned(),
        about,
        figures,
        blocks: vec![Block::Table(table)],
    }
}

/// The purchase among `entries` (those of one account under one payment reference), and its
/// refund's time.
fn purchased(account: String, reference: &str, entries: &[Entry]) -> Option<Purchased> {
    let purchase = entries.iter().find(|e| e.kind == "purchase")?;
    Some(Purchased {
        account,
        payment_reference: reference.to_owned(),
        amount: purchase.amount.normalize().to_string(),
        at: purchase.at,
        refunded_at: entries.iter().find(|e| e.kind == "refund").map(|e| e.at),
    })
}

/// A file name safe on every system: the reference's letters, digits, `-` and `_`.
fn file_name(reference: &str) -> String {
    let safe: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("receipt-{safe}.pdf")
}

/// Authorises (`ReadBilling`: personal owners and organization admins, support, auditors),
/// waits for `min_position`, and renders the receipt. A reference never credited to the
/// account is `PURCHASE_NOT_FOUND`.
pub async fn purchase_receipt(
    q: Query<pb::GetPurchaseReceiptRequest>,
) -> Result<pb::GetPurchaseReceiptResponse, AppError> {
    let reference = PaymentReference::parse(&q.req.payment_reference).at("payment_reference")?;
    let (id, account) = q.account(Action::ReadBilling).await?;
    q.caught_up(Projection::Balances, q.req.min_position)
        .await?;
    let entries = payment_entries(q.app.read_models.pool(), id, reference.as_str()).await?;
    let purchase = purchased(id.to_string(), reference.as_str(), &entries)
        .ok_or_else(|| DomainError::PurchaseNotFound(reference.clone()))?;
    let owner = account
        .view
        .state
        .account
        .as_ref()
        .map(|a| a.owner)
        .ok_or(DomainError::AccountNotFound)?;
    let bill_to = match (owner, account.organization.as_deref()) {
        (AccountOwner::Organization { .. }, Some(state)) => {
            let org = state
                .organization
                .as_ref()
                .ok_or(DomainError::OrganizationNotFound)?;
            BillTo {
                name: org.name.as_str().to_owned(),
                details: personal::billing(&q.app.log, org.id, org.billing.profile_version).await?,
            }
        }
        (AccountOwner::User { user_id }, _) => BillTo {
            name: format!("personal account of user {user_id}"),
            details: None,
        },
        (AccountOwner::Organization { organization_id }, None) => BillTo {
            name: format!("organization {organization_id}"),
            details: None,
        },
    };
    let pdf = pdf::render(&receipt(&bill_to, &purchase))
        .map_err(|e| AppError::Internal(format!("receipt does not render: {e}")))?;
    Ok(pb::GetPurchaseReceiptResponse {
        pdf,
        file_name: file_name(reference.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_shows_the_invoicing_details_the_purchase_and_its_refund() {
        let bill_to = BillTo {
            name: "Acme".into(),
            details: Some((
                vec!["billing@acme.test".into()],
                Some("Acme GmbH".into()),
                Some("DE123".into()),
                Some("1 Main St\nBerlin".into()),
            )),
        };
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let purchase = Purchased {
            account: "acc".into(),
            payment_reference: "pay_1".into(),
            amount: "12.5".into(),
            at,
            refunded_at: Some(at),
        };
        let report = receipt(&bill_to, &purchase);
        let about = report.about.join("\n");
        for expected in ["Acme", "Acme GmbH", "DE123", "Berlin", "billing@acme.test"] {
            assert!(about.contains(expected), "{expected} missing from {about}");
        }
        assert!(report.figures.iter().any(|(l, _)| l == "Refunded"));
        assert_eq!(file_name("pay/1 x"), "receipt-pay_1_x.pdf");
    }
}
