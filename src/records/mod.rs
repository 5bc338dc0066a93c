//! Documents for people: the GDPR register a DPO keeps (`register`), what Hafen knows about
//! its own processing (`live`), the reports built from both (`kinds`, rendered by `report` as
//! JSON, CSV, XLSX and PDF through `crate::documents`).

pub mod instances;
pub mod kinds;
pub mod report;
pub mod request_log;

use std::sync::Arc;

use crate::infra::Infra;
use crate::register::live::Posture;
use crate::register::Register;

/// The records service: the register a DPO keeps, the reports built from it and from what
/// Hafen runs, the instances that run it.
#[derive(Debug, Clone)]
pub struct Records {
    pub(crate) infra: Infra,
    /// What the configuration switches on, for the TOM annex.
    pub(crate) posture: Arc<Posture>,
    /// The register the reports are built from.
    pub(crate) register: Register,
}

impl Records {
    pub fn new(infra: Infra, posture: Arc<Posture>, register: Register) -> Self {
        Self {
            infra,
            posture,
            register,
        }
    }
}
