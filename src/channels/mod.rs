//! Messenger channels: WhatsApp Cloud API, Facebook Messenger, Telegram.
//!
//! - [`inbound`]: the events a webhook delivers, in Hafen's terms.
//! - [`parse`]: one parser per platform, raw verified body → events.

pub mod inbound;
pub mod media;
pub mod parse;
pub mod platform;
pub mod policy;
pub mod registry;
pub mod rejections;
pub mod send;
pub mod subscription;
pub mod verify;
pub mod webhook;

pub use registry::{Channel, Platform};
