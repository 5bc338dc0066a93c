//! Messenger channels: WhatsApp Cloud API, Facebook Messenger, Telegram.
//!
//! - [`inbound`]: the events a webhook delivers, in Hafen's terms.
//! - [`parse`]: one parser per platform, raw verified body → events.

pub mod inbound;
pub mod parse;
pub mod registry;
pub mod verify;
pub mod webhook;

pub use registry::{Channel, Platform};
