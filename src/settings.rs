//! [`Settings`]: what the configuration tells the services, built by `bootstrap` from
//! `Config` and given to `Hafen::new`.

use crate::accounts::TokenPolicy;
use crate::channels::platform::PlatformClient;
use crate::register::live::Posture;
use crate::requests::wording::LetterWording;
use crate::retention::RetentionSettings;

/// What the configuration tells the services. Given before they are put together, so a
/// service held by another sees the same settings as the one the handlers call.
#[derive(Debug)]
pub struct Settings {
    pub token_policy: TokenPolicy,
    /// Letters to data subjects in the install's own wording (`templates_dir`).
    pub letter_wording: LetterWording,
    /// Facts about the configuration the records report (TLS, recovery keys, backend, …).
    pub posture: Posture,
    /// The largest file downloaded from a platform.
    pub max_media_bytes: usize,
    /// Every request to a platform's API goes through this one client (endpoints, egress
    /// policy, timeouts; tests point it at a stand-in platform).
    pub platforms: PlatformClient,
    /// Broadcast messages per second (0: as fast as the platform answers).
    pub broadcast_rate: u32,
    pub retention: RetentionSettings,
    /// Whether a write that queued work starts it at once (the scheduler retries either way).
    pub due_work_on_arrival: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_policy: Default::default(),
            letter_wording: Default::default(),
            posture: Default::default(),
            max_media_bytes: 64 * 1024 * 1024,
            platforms: PlatformClient::default(),
            broadcast_rate: 20,
            retention: Default::default(),
            due_work_on_arrival: true,
        }
    }
}
