//! Documents for people: the GDPR register a DPO keeps (`register`), what Hafen knows about
//! its own processing (`live`), the reports built from both (`kinds`, rendered by `report` as
//! JSON, CSV, XLSX and PDF through `crate::documents`).

pub mod instances;
pub mod kinds;
pub mod live;
pub mod register;
pub mod report;
pub mod request_log;

use std::sync::Arc;

use crate::infra::Infra;

/// The records service: the register a DPO keeps, the reports built from it and from what
/// Hafen runs, the instances that run it.
#[derive(Debug, Clone)]
pub struct Records {
    pub(crate) infra: Infra,
    /// What the configuration switches on, for the TOM annex.
    pub(crate) posture: Arc<live::Posture>,
}

impl Records {
    pub fn new(infra: Infra, posture: Arc<live::Posture>) -> Self {
        Self { infra, posture }
    }
}
