//! Restriction of processing (Art. 18 GDPR; § 35(3) BDSG where a retention duty prevents
//! erasure) and the end of the business relationship (a retention start point).
//!
//! A restricted contact's data is kept — retention still deletes it when its period ends —
//! but normal reads refuse it and nothing is sent to it. The DPO reads it through the
//! restricted export, naming one of the grounds Art. 18(2) allows; every such read is audited
//! with its ground.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Contacts;
use super::{binding, ContactView, TABLE};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::contacts;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

const MAX_REASON: usize = 2000;

/// Why restricted data may still be processed (Art. 18(2) GDPR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestrictedGround {
    /// With the data subject's consent.
    Consent,
    /// For the establishment, exercise or defence of legal claims.
    LegalClaims,
    /// For the protection of the rights of another person.
    ProtectionOfOthers,
    /// For reasons of important public interest.
    PublicInterest,
    /// To answer the data subject's own request (access, portability).
    DataSubjectRequest,
}

impl RestrictedGround {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::LegalClaims => "legal_claims",
            Self::ProtectionOfOthers => "protection_of_others",
            Self::PublicInterest => "public_interest",
            Self::DataSubjectRequest => "data_subject_request",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        [
            Self::Consent,
            Self::LegalClaims,
            Self::ProtectionOfOthers,
            Self::PublicInterest,
            Self::DataSubjectRequest,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
        .ok_or_else(|| {
            Error::invalid(
                "ground",
                "must be one of consent, legal_claims, protection_of_others, public_interest, data_subject_request (Art. 18(2) GDPR)",
            )
        })
    }
}

/// Refuses normal reads of a restricted contact's data.
pub fn refuse_if_restricted(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Result<()>, StoreError> {
    let restricted: Option<Option<i64>> = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .filter(contacts::id.eq(id::bind(contact)))
        .select(contacts::restricted_at)
        .first(conn)
        .optional()?;
    Ok(match restricted {
        Some(Some(_)) => Err(Error::Forbidden(
            "processing of this contact's data is restricted (Art. 18 GDPR); the DPO reads it through the restricted export"
                .into(),
        )),
        _ => Ok(()),
    })
}

impl Contacts {
    /// Restricts processing of a contact's data; `reason` (sealed) says why.
    pub async fn restrict(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        reason: &str,
    ) -> Result<ContactView> {
        actor.authorize(tenant, Permission::ManageHolds)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(Error::invalid(
                "reason",
                format!("must say why (1 to {MAX_REASON} characters)"),
            ));
        }
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let sealed = tenant_keys
            .seal
            .seal_str(&binding(tenant.as_str(), id, "restriction"), reason)?;
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "contact.restrict");
        self.update(tenant, id, event, move |conn, t, cid| {
            Ok(diesel::update(
                contacts::table
                    .filter(contacts::tenant_id.eq(id::bind(t)))
                    .filter(contacts::id.eq(id::bind(cid))),
            )
            .set((
                contacts::restricted_at.eq(Some(to_micros(now))),
                contacts::restriction_sealed.eq(Some(&sealed)),
            ))
            .execute(conn)?)
        })
        .await
    }

    pub async fn lift_restriction(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ContactView> {
        actor.authorize(tenant, Permission::ManageHolds)?;
        let event = AuditEvent::new(actor, "contact.restriction.lift");
        self.update(tenant, id, event, |conn, t, cid| {
            Ok(diesel::update(
                contacts::table
                    .filter(contacts::tenant_id.eq(id::bind(t)))
                    .filter(contacts::id.eq(id::bind(cid))),
            )
            .set((
                contacts::restricted_at.eq(None::<i64>),
                contacts::restriction_sealed.eq(None::<Vec<u8>>),
            ))
            .execute(conn)?)
        })
        .await
    }

    /// Marks the end (or, with None, the resumption) of the business relationship: the start
    /// point of `relationship_end` retention rules.
    pub async fn set_relationship_end(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<ContactView> {
        actor.authorize(tenant, Permission::ManageRetention)?;
        let now = self.infra.clock.now();
        if ended_at.is_some_and(|at| at > now) {
            return Err(Error::invalid("ended_at", "must not be in the future"));
        }
        let action = if ended_at.is_some() {
            "contact.close"
        } else {
            "contact.reopen"
        };
        let event = AuditEvent::new(actor, action);
        self.update(tenant, id, event, move |conn, t, cid| {
            Ok(diesel::update(
                contacts::table
                    .filter(contacts::tenant_id.eq(id::bind(t)))
                    .filter(contacts::id.eq(id::bind(cid))),
            )
            .set(contacts::closed_at.eq(ended_at.map(to_micros)))
            .execute(conn)?)
        })
        .await
    }

    /// Runs `update` on one contact with its audit entry in one write; NotFound when the
    /// update touched no row. Answers with the contact as it is now.
    async fn update(
        &self,
        tenant: &TenantId,
        id: &str,
        event: AuditEvent,
        mut update: impl FnMut(&mut DbConn, &str, &str) -> Result<usize, StoreError> + Send + 'static,
    ) -> Result<ContactView> {
        let now = self.infra.clock.now();
        let (t, cid) = (tenant.as_str().to_string(), id.to_string());
        let event = event.tenant(tenant).object(TABLE, id);
        self.infra
            .store
            .write(move |conn| {
                if update(conn, &t, &cid)? == 0 {
                    return Err(StoreError::from(Error::NotFound));
                }
                audit::append(conn, now, event.clone())
            })
            .await?;
        self.summary(tenant, id).await
    }

    /// The contact without opening anything (answers of the calls above).
    async fn summary(&self, tenant: &TenantId, id: &str) -> Result<ContactView> {
        let (t, cid) = (tenant.clone(), id.to_string());
        let row = self
            .infra
            .store
            .read(move |conn| super::find(conn, &t, &cid))
            .await?
            .ok_or(Error::NotFound)?;
        let mut view = ContactView::open_restricted(&row, None)?;
        view.erased = false;
        Ok(view)
    }
}
