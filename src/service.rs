//! [`Hafen`], the composition root: one service per domain on one [`Infra`], what handlers,
//! the CLI and the scheduler hold (`hafen.retention.preview(…)`; docs/architecture.md).

use std::sync::Arc;

use crate::{
    accounts::Accounts, accounts::Tenants, audit::Audit, bots::Bots, channels::send::SendGate,
    channels::Channels, clock::SharedClock, consent::Consent, contacts::Contacts, events::Events,
    inbound::Inbound, infra::Infra, messages::Messages, overview::Overview, periods::PeriodKeys,
    records::Records, register::Register, requests::Requests, retention::Retention,
    settings::Settings, store::Store,
};

/// A handle on the services: a clone (every handler and job holds one) shares them.
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
    pub register: Register,
    pub requests: Requests,
    pub retention: Retention,
    pub tenants: Tenants,
}

impl Hafen {
    /// Bottom-up: each service is given the ones below it, so dependencies only point down.
    pub fn new(infra: Infra, settings: Settings) -> Self {
        let i = || infra.clone();
        infra.due.set_on(settings.due_work_on_arrival);
        let accounts = Accounts::new(i(), settings.token_policy);
        let (periods, contacts) = (PeriodKeys::new(i()), Contacts::new(i()));
        let messages = Messages::new(i(), periods.clone(), crate::bots::events_for);
        let gate = SendGate::new(crate::bots::sender_of_token, crate::consent::confirmed);
        let (size, client) = (settings.max_media_bytes, settings.platforms);
        let channels = Channels::new(i(), periods.clone(), size, client, gate);
        let events = Events::new(i());
        let bots = Bots::new(i(), channels.clone(), events.clone(), accounts.clone());
        let (c, m) = (contacts.clone(), messages.clone());
        let consent = Consent::new(i(), channels.clone(), c, m, settings.broadcast_rate);
        let inbound = Inbound::new(i(), channels.clone(), messages.clone(), consent.clone());
        let (register, wording) = (Register::new(i()), Arc::new(settings.letter_wording));
        let (c, m, r) = (contacts.clone(), messages.clone(), register.clone());
        let requests = Requests::new(i(), consent.clone(), c, m, r, periods.clone(), wording);
        let retention =
            Retention::new(i(), periods, Arc::new(requests.clone()), settings.retention);
        let records = Records::new(i(), Arc::new(settings.posture), register.clone());
        let overview = Overview::new(i(), requests.clone(), retention.clone());
        let (audit, tenants) = (Audit::new(infra.store.clone()), Tenants::new(i()));
        let services = Services {
            infra,
            accounts,
            audit,
            bots,
            channels,
            consent,
            contacts,
            events,
            inbound,
            messages,
            overview,
            records,
            register,
            requests,
            retention,
            tenants,
        };
        Self(Arc::new(services))
    }

    pub fn store(&self) -> &Store {
        &self.infra.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.infra.clock
    }
}
