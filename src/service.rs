//! [`Hafen`]: the composition root. It puts one service per domain together on one
//! [`Infra`] — each service holding the services it calls, so every dependency points one way
//! (docs/architecture.md, "Services") — and is what the HTTP handlers, the CLI and the
//! scheduler hold: `hafen.contacts.find(…)`, `hafen.retention.preview(…)`.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::bots::Bots;
use crate::channels::Channels;
use crate::clock::SharedClock;
use crate::consent::Consent;
use crate::contacts::Contacts;
use crate::events::Events;
use crate::inbound::Inbound;
use crate::infra::Infra;
use crate::messages::Messages;
use crate::records::Records;
use crate::requests::Requests;
use crate::retention::{keys::PeriodKeys, Retention};
use crate::settings::Settings;
use crate::store::Store;
use crate::tenants::Tenants;
use crate::ui::dashboard::Overview;

/// A handle on the services: cloning it (every handler, job and background task holds one)
/// shares them.
#[derive(Clone, Debug)]
pub struct Hafen(Arc<Services>);

impl std::ops::Deref for Hafen {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// One service per domain, each holding the services it calls (docs/architecture.md).
#[derive(Debug)]
pub struct Services {
    pub(crate) infra: Infra,
    pub accounts: Accounts,
    pub audit: Audit,
    pub bots: Bots,
    pub channels: Channels,
    pub consent: Consent,
    pub contacts: Contacts,
    pub events: Events,
    pub inbound: Inbound,
    pub messages: Messages,
    pub overview: Overview,
    pub records: Records,
    pub requests: Requests,
    pub retention: Retention,
    pub tenants: Tenants,
}

impl Hafen {
    pub fn new(infra: Infra, settings: Settings) -> Self {
        infra.due.set_on(settings.due_work_on_arrival);
        let accounts = Accounts::new(infra.clone(), settings.token_policy);
        let periods = PeriodKeys::new(infra.clone());
        let contacts = Contacts::new(infra.clone());
        let messages = Messages::new(infra.clone(), periods.clone());
        let channels = Channels::new(infra.clone(), periods.clone(), settings.max_media_bytes);
        let events = Events::new(infra.clone());
        let records = Records::new(infra.clone(), Arc::new(settings.posture));
        let consent = Consent::new(
            infra.clone(),
            channels.clone(),
            contacts.clone(),
            messages.clone(),
            settings.broadcast_rate,
        );
        let requests = Requests::new(
            infra.clone(),
            consent.clone(),
            contacts.clone(),
            messages.clone(),
            records.clone(),
            periods.clone(),
            Arc::new(settings.letter_wording),
        );
        let retention =
            Retention::new(infra.clone(), periods, requests.clone(), settings.retention);
        Self(Arc::new(Services {
            audit: Audit::new(infra.clone()),
            bots: Bots::new(
                infra.clone(),
                channels.clone(),
                events.clone(),
                accounts.clone(),
            ),
            inbound: Inbound::new(
                infra.clone(),
                channels.clone(),
                messages.clone(),
                consent.clone(),
            ),
            overview: Overview::new(infra.clone(), requests.clone(), retention.clone()),
            tenants: Tenants::new(infra.clone()),
            accounts,
            channels,
            consent,
            contacts,
            events,
            messages,
            records,
            requests,
            retention,
            infra,
        }))
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.infra.metrics
    }

    pub fn store(&self) -> &Store {
        &self.infra.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.infra.clock
    }
}
