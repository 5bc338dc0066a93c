//! Hafen: an on-premises, encrypted home for messenger data.
//!
//! See `docs/architecture.md` for the picture; each module's doc comment says what it owns.

// Library code reports errors; it never panics on input. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod accounts;
pub mod address;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod bots;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod consent;
pub mod contacts;
pub mod crypto;
pub mod doctor;
pub mod documents;
pub mod egress;
pub mod error;
pub mod events;
pub mod http;
pub mod i18n;
pub mod inbound;
pub mod infra;
pub mod jobs;
pub mod messages;
pub mod metrics;
pub mod overview;
pub mod page;
pub mod periods;
pub mod records;
pub mod register;
pub mod requests;
pub mod retention;
pub mod rotation;
pub mod sensitive;
pub mod service;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod tenants;

pub use app::Application;
pub use config::Config;
pub use service::Hafen;
