//! Folding organization events into state, asserting it never loses its last admin.

use super::{
    BillingSettings, DEFAULT_MEMBER_LIMIT, DEFAULT_RETENTION_DAYS, Organization, OrganizationEvent,
    OrganizationState, PendingInvitation, PrivacySettings,
};
use crate::role::Role;
use std::collections::BTreeMap;

impl OrganizationState {
    /// Folds events into a fresh state.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a OrganizationEvent>) -> Self {
        crate::event::fold(events, Self::evolve)
    }

    /// Folds one event. Panics on events that could not have been decided (programmer error).
    pub fn evolve(&mut self, event: &OrganizationEvent) {
        if let OrganizationEvent::Created(e) = event {
            assert!(self.organization.is_none(), "organization created twice");
            self.organization = Some(Organization {
                id: e.organization_id,
                account_id: e.account_id,
                name: e.name.clone(),
                details: e.details.clone(),
                members: BTreeMap::from([(e.created_by, Role::Admin)]),
                invitations: BTreeMap::new(),
                member_limit: DEFAULT_MEMBER_LIMIT,
                privacy: PrivacySettings {
                    retention_days: DEFAULT_RETENTION_DAYS,
                    prompt_logging: false,
                },
                billing: BillingSettings::default(),
            });
        } else {
            let org = self
                .organization
                .as_mut()
                .expect("event on an organization not created");
            assert_eq!(
                org.id,
                event.organization_id(),
                "event of another organization"
            );
            org.apply(event);
        }
        self.version += 1;
        if let Some(org) = &self.organization {
            assert!(
                org.admin_count() >= 1,
                "an organization lost its last admin"
            );
        }
    }
}

impl Organization {
    fn apply(&mut self, event: &OrganizationEvent) {
        use OrganizationEvent as E;
        match event {
            E::Created(_) => unreachable!("handled by evolve"),
            E::Renamed(e) => self.name = e.name.clone(),
            E::DetailsUpdated(e) => self.details = e.details.clone(),
            E::MemberInvited(e) => {
                // Expired invitations are forgotten once a new one is sent (bounded state).
                self.invitations.retain(|_, i| i.expires_at > e.at);
                let invitation = PendingInvitation {
                    role: e.role,
                    expires_at: e.expires_at,
                };
                assert!(
                    self.invitations
                        .insert(e.invitation_id, invitation)
                        .is_none(),
                    "invitation twice"
                );
            }
            E::InvitationAccepted(e) => {
                self.invitations
                    .remove(&e.invitation_id)
                    .expect("accepting an unknown invitation");
                assert!(
                    self.members.insert(e.user_id, e.role).is_none(),
                    "member joined twice"
                );
            }
            E::InvitationRevoked(e) => {
                self.invitations
                    .remove(&e.invitation_id)
                    .expect("revoking an unknown invitation");
            }
            E::MemberRemoved(e) => {
                self.members
                    .remove(&e.user_id)
                    .expect("removing a non-member");
            }
            E::MemberLeft(e) => {
                self.members.remove(&e.user_id).expect("a non-member left");
            }
            E::MemberRoleChanged(e) => {
                *self
                    .members
                    .get_mut(&e.user_id)
                    .expect("role of a non-member") = e.role;
            }
            E::MemberLimitSet(e) => self.member_limit = e.member_limit,
            E::PrivacySettingsSet(e) => {
                self.privacy = PrivacySettings {
                    retention_days: e.retention_days,
                    prompt_logging: e.prompt_logging,
                };
            }
            E::BillingSettingsSet(e) => {
                assert_eq!(
                    e.billing_profile_version,
                    self.billing.profile_version + 1,
                    "profile version skipped"
                );
                self.billing = BillingSettings {
                    profile_version: e.billing_profile_version,
                    payment_method_reference: e.payment_method_reference.clone(),
                };
            }
        }
    }
}
