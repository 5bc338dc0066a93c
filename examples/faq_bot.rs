//! A chatbot for Hafen: answers questions about opening hours and hands the conversation over
//! to a person when asked (docs/channels.md, "Chatbots"). It is what a company's own bot looks
//! like from the outside: a small HTTPS service that receives signed `bot.message` events and
//! answers through Hafen's send API with its bot token.
//!
//! ```sh
//! # Register it (the answer holds the secret and the token, once):
//! curl -X POST https://hafen.example.de/v1/tenants/$TENANT/bots -H "Authorization: Bearer $ADMIN" \
//!   -d '{"channel_id":"…","name":"FAQ-Bot","url":"https://bot.example.de/hafen",
//!        "purpose":"Beantwortet Fragen zu Öffnungszeiten und verbindet mit Beschäftigten"}'
//! HAFEN_URL=https://hafen.example.de HAFEN_BOT_TOKEN=… HAFEN_BOT_SECRET=… \
//!   cargo run --release --example faq_bot -- 127.0.0.1:8090
//! ```
//!
//! Everything a bot must do is here: check the signature and the time before reading anything,
//! reply with an idempotency key (a delivery Hafen repeats sends the reply once), send its
//! reply before handing over (afterwards it may not send), and answer 2xx only when done.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// How old a delivery may be: older ones (or replays) are refused.
const MAX_AGE_SECS: i64 = 300;

pub struct FaqBot {
    /// Hafen's base URL, e.g. `https://hafen.example.de`.
    pub hafen: String,
    pub token: String,
    pub secret: String,
    pub opening_hours: String,
    pub client: reqwest::Client,
    /// Seconds since 1970; the system clock in production (a parameter, so tests set it).
    pub now: fn() -> i64,
}

/// What the bot does with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    OpeningHours,
    HandOver,
    Menu,
}

/// Reads what the person wants, from their words or the button they pressed.
pub fn answer(text: &str) -> Answer {
    let text = text.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if any(&[
        "mensch",
        "mitarbeiter",
        "berater",
        "person",
        "human",
        "agent",
    ]) {
        Answer::HandOver
    } else if any(&[
        "öffnungszeit",
        "geöffnet",
        "offen",
        "opening",
        "hours",
        "open",
    ]) {
        Answer::OpeningHours
    } else {
        Answer::Menu
    }
}

/// Checks `X-Hafen-Signature` (HMAC-SHA256 of `"<timestamp>.<body>"`) in constant time, and
/// that `X-Hafen-Timestamp` is recent.
pub fn verified(secret: &str, req: &HttpRequest, body: &[u8], now: i64) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) =
        (header("x-hafen-timestamp"), header("x-hafen-signature"))
    else {
        return false;
    };
    let Ok(at) = timestamp.parse::<i64>() else {
        return false;
    };
    let Some(Ok(given)) = signature.strip_prefix("sha256=").map(hex::decode) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    (now - at).abs() <= MAX_AGE_SECS && mac.verify_slice(&given).is_ok()
}

impl FaqBot {
    /// POSTs to Hafen with the bot's token; the status Hafen answered, or None on no answer.
    async fn call(&self, path: &str, body: Option<Value>) -> Option<u16> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.hafen))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.ok().map(|r| r.status().as_u16())
    }

    async fn reply(&self, event: &Value, text: &str) -> Option<u16> {
        let send = event["reply"]["send"].as_str()?;
        let key = format!(
            "{}:reply",
            event["delivery_id"].as_str().unwrap_or_default()
        );
        self.call(send, Some(json!({ "text": text, "idempotency_key": key })))
            .await
    }

    /// Handles one delivery; the status tells Hafen whether to deliver it again.
    pub async fn handle(&self, req: &HttpRequest, body: &[u8]) -> HttpResponse {
        if !verified(&self.secret, req, body, (self.now)()) {
            return HttpResponse::Unauthorized().finish();
        }
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            return HttpResponse::BadRequest().finish();
        };
        if event["event"] != "bot.message" {
            // Erasure notices and the like: nothing kept here, nothing to do.
            return HttpResponse::Ok().finish();
        }
        let content = &event["message"]["content"];
        let said = content["payload"]
            .as_str()
            .or(content["text"].as_str())
            .or(event["message"]["body"].as_str())
            .unwrap_or_default();
        let done = match answer(said) {
            Answer::OpeningHours => self.reply(&event, &self.opening_hours).await,
            Answer::HandOver => {
                let told = self
                    .reply(
                        &event,
                        "Gern, ich verbinde Sie mit einer Kollegin oder einem Kollegen. Wir melden uns hier.",
                    )
                    .await;
                match (told, event["reply"]["handover"].as_str()) {
                    (Some(200..=299), Some(handover)) => self.call(handover, None).await,
                    (other, _) => other,
                }
            }
            Answer::Menu => {
                self.reply(
                    &event,
                    "Ich kann Ihnen unsere Öffnungszeiten nennen oder Sie mit einem Menschen verbinden: schreiben Sie „Öffnungszeiten“ oder „Mensch“.",
                )
                .await
            }
        };
        match done {
            // 409: Hafen refused to send (the service window closed, a person took over):
            // repeating the delivery would not change that.
            Some(200..=299 | 409) => HttpResponse::Ok().finish(),
            _ => HttpResponse::BadGateway().finish(),
        }
    }
}

async fn receive(bot: web::Data<FaqBot>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    bot.handle(&req, &body).await
}

/// Runs the bot's HTTP endpoint (`POST /hafen`) on `listener` until stopped.
pub fn serve(
    bot: FaqBot,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let bot = web::Data::new(bot);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(bot.clone())
            .app_data(web::PayloadConfig::new(256 * 1024))
            .route("/hafen", web::post().to(receive))
    })
    .workers(1)
    .listen(listener)?
    .run())
}

// The bot's own clock: it runs outside Hafen, so Hafen's injected clock is not its time.
#[allow(clippy::disallowed_methods)]
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let env = |name: &str| {
        std::env::var(name).map_err(|_| std::io::Error::other(format!("{name} is not set")))
    };
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let bot = FaqBot {
        hafen: env("HAFEN_URL")?.trim_end_matches('/').to_string(),
        token: env("HAFEN_BOT_TOKEN")?,
        secret: env("HAFEN_BOT_SECRET")?,
        opening_hours: std::env::var("BOT_OPENING_HOURS").unwrap_or_else(|_| {
            "Wir sind Montag bis Freitag von 9 bis 18 Uhr für Sie da, samstags von 10 bis 14 Uhr.".into()
        }),
        client: reqwest::Client::new(),
        now: system_now,
    };
    let listener = std::net::TcpListener::bind(&listen)?;
    println!("faq_bot: listening on http://{listen}/hafen");
    actix_web::rt::System::new().block_on(serve(bot, listener)?)
}
