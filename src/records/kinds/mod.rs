//! Builds each kind of report from the register (what people entered) and the live state
//! (what Hafen runs). A field a person has not entered yet is shown as such, never left out:
//! a DPO sees at a glance what the record still lacks.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::report::{
    iso_date, iso_moment, iso_percent, Format, Kind, Report, Section, Table, ValueType,
};
use super::Records;
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::register::live::{self, ActivityRecord, InstallFacts, LiveMeasure, TenantFacts};
use crate::register::{
    Control, Document, EntryView, Measure, Party, Scope, Section as Part, SubProcessor,
};
use crate::retention::certificates::{self, CertificateView};
use crate::retention::rules::Category;
use crate::store::schema::consents;
use crate::tenants::TenantId;

mod art30;
mod avv;
mod consent_stats;
mod deletion;
mod toms;

use art30::*;
use avv::*;
use toms::*;

/// Everything one report is built from, loaded once.
struct Inputs {
    lang: Lang,
    now: DateTime<Utc>,
    install: InstallFacts,
    /// The running server's settings (`records::instances`), and whose they are.
    posture: super::instances::Reported,
    processor: Option<Party>,
    measures: Vec<Measure>,
}

struct TenantInputs {
    facts: TenantFacts,
    controller: Option<crate::register::Controller>,
    activities: Vec<crate::register::Activity>,
    subprocessors: Vec<SubProcessorRecord>,
    subprocessor_history: Vec<EntryView>,
    /// When each hand-entered activity appeared and last changed.
    activity_dates: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
}

/// A sub-processor as the annex lists it.
#[derive(Debug, Clone)]
pub struct SubProcessorRecord {
    pub entry: SubProcessor,
    /// Pre-filled from a platform in use, not yet confirmed in the register.
    pub pre_filled: bool,
    /// Since when the register lists it without interruption (the date the controller was
    /// told, from which its right to object runs).
    pub listed_since: Option<DateTime<Utc>>,
}

fn missing(lang: Lang) -> String {
    lang.pick("— nicht erfasst —", "— not entered —")
}

fn or_missing(value: Option<&str>, lang: Lang) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => missing(lang),
    }
}

fn join(items: &[String]) -> String {
    items.join("; ")
}

/// The canonical form of the German calendar day a moment falls on.
fn local_day(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| iso_date(crate::i18n::local_date(d)))
        .unwrap_or_default()
}

impl Records {
    /// Builds a report. Install-wide kinds need an install-wide actor; the rest a tenant.
    /// Every export is audited with its content hash.
    pub async fn report(
        &self,
        actor: &Actor,
        kind: Kind,
        tenant: Option<&TenantId>,
        lang: Lang,
        format: Format,
    ) -> Result<(Report, Vec<u8>)> {
        let report = match (kind.is_install_wide(), tenant) {
            (true, _) => {
                actor.authorize_processor(Permission::ExportRecords)?;
                self.processor_record(lang).await?
            }
            (false, Some(t)) => {
                actor.authorize(t, Permission::ExportRecords)?;
                self.infra.ensure_tenant(t).await?;
                self.tenant_report(kind, t, lang).await?
            }
            (false, None) => {
                return Err(Error::invalid("tenant", "this report is made per tenant"))
            }
        };
        // A tenant's request log or record of many years is seconds of layout as PDF or XLSX:
        // on the blocking pool, not in an HTTP worker.
        let (report, bytes) = tokio::task::spawn_blocking(move || {
            let bytes = report.render(format);
            (report, bytes)
        })
        .await
        .map_err(Error::internal)?;
        let bytes = bytes?;
        let mut event = AuditEvent::new(actor, "report.export")
            .object("report", kind.as_str())
            .detail(format!(
                "format={} lang={} register_version={} sha256={}",
                format.as_str(),
                lang.as_str(),
                report.register_version,
                report.content_sha256
            ));
        if let Some(t) = tenant.filter(|_| !kind.is_install_wide()) {
            event = event.tenant(t);
        }
        self.infra.record(event).await?;
        Ok((report, bytes))
    }

    async fn inputs(&self, lang: Lang) -> Result<Inputs> {
        let install = self.infra.store.read(live::install_facts).await?;
        let (now, fallback) = (self.infra.clock.now(), (*self.posture).clone());
        let posture = self
            .infra
            .store
            .read(move |conn| super::instances::reported(conn, now, &fallback, lang))
            .await?;
        let processor = match self
            .register
            .entry_internal(&Scope::Processor, Part::Processor)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Processor(p)),
                ..
            }) => Some(p),
            _ => None,
        };
        let measures = match self
            .register
            .entry_internal(&Scope::Processor, Part::Measures)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Measures(m)),
                ..
            }) => m,
            _ => Vec::new(),
        };
        Ok(Inputs {
            lang,
            now: self.infra.clock.now(),
            install,
            posture,
            processor,
            measures,
        })
    }

    async fn tenant_inputs(&self, tenant: &str, inputs: &Inputs) -> Result<TenantInputs> {
        let (t, now) = (tenant.to_string(), to_micros(inputs.now));
        let facts = self
            .infra
            .store
            .read(move |conn| live::tenant_facts(conn, &t, now))
            .await?
            .ok_or(Error::NotFound)?;
        let scope = Scope::Tenant(TenantId::parse(tenant)?);
        let controller = match self
            .register
            .entry_internal(&scope, Part::Controller)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Controller(c)),
                ..
            }) => Some(c),
            _ => None,
        };
        let activities = match self
            .register
            .entry_internal(&scope, Part::Activities)
            .await?
        {
            Some(EntryView {
                parsed: Some(Document::Activities(a)),
                ..
            }) => a,
            _ => Vec::new(),
        };
        let subprocessor_history = self
            .register
            .history_internal(&scope, Part::Subprocessors)
            .await?;
        let subprocessors = effective_subprocessors(&facts, &subprocessor_history, inputs.lang);
        let activity_dates = activity_dates(
            &self
                .register
                .history_internal(&scope, Part::Activities)
                .await?,
        );
        Ok(TenantInputs {
            activity_dates,
            facts,
            controller,
            activities,
            subprocessors,
            subprocessor_history,
        })
    }

    async fn register_version_all(&self) -> Result<i64> {
        use crate::store::schema::register_entries;
        Ok(self
            .infra
            .store
            .read(|conn| {
                let v: Option<i64> = register_entries::table
                    .select(diesel::dsl::max(register_entries::version))
                    .first(conn)?;
                Ok(v.unwrap_or(0))
            })
            .await?)
    }

    async fn tenant_report(&self, kind: Kind, tenant: &TenantId, lang: Lang) -> Result<Report> {
        let inputs = self.inputs(lang).await?;
        let ti = self.tenant_inputs(tenant.as_str(), &inputs).await?;
        let sections = match kind {
            Kind::ControllerRecord => self.controller_sections(&inputs, &ti),
            Kind::Toms => self.tom_sections(&inputs, &ti),
            Kind::Subprocessors => subprocessor_sections(&ti, lang),
            Kind::DeletionConcept => {
                self.deletion_concept_sections(&ti, &inputs.posture.posture, lang)
                    .await?
            }
            Kind::DeletionReport => self.deletion_report_sections(tenant, lang).await?,
            Kind::ConsentStatistics => self.consent_statistics_sections(&ti, lang).await?,
            Kind::RequestLog => {
                self.request_log_sections(tenant, &ti.facts.name, lang)
                    .await?
            }
            Kind::AvvTerms => avv_sections(&inputs, &ti),
            Kind::ProcessorRecord => return Err(Error::invalid("kind", "is install-wide")),
        };
        let version = self
            .register
            .version(&Scope::Tenant(tenant.clone()))
            .await?;
        let mut report = Report::new(
            kind,
            lang,
            inputs.now,
            version,
            Some(tenant.as_str().to_string()),
            sections,
        );
        report.letterhead = self.register.letterhead(tenant).await?;
        Ok(report)
    }
}
