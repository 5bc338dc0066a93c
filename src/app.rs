//! [`Application`]: opens the install, binds, serves. `main` and the tests share this path.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::bootstrap::{self, InitPolicy};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::{self, extract::BodyLimit};
use crate::sensitive::Sensitive;
use crate::service::Hafen;

pub struct Application {
    scheduler: Option<tokio_cron_scheduler::JobScheduler>,
    addr: std::net::SocketAddr,
    tls: bool,
    port: u16,
    server: Server,
    hafen: Hafen,
    admin_token: Option<Sensitive<String>>,
}

impl Application {
    /// Opens (initialising on first start) and binds. Port 0 picks a free port.
    pub async fn build(config: &Config, clock: SharedClock) -> anyhow::Result<Self> {
        config.validate()?;
        let opened = bootstrap::open(config, clock, InitPolicy::IfMissing).await?;
        let hafen = opened.hafen;
        let addr = config.listen_addr()?;
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener.local_addr()?.port();
        let tls = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => Some(http::tls::server_config(cert, key)?),
            _ => None,
        };
        if tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS (allow_plain_http_on_public_address = true): \
                 tokens and personal data cross the network unencrypted unless a TLS proxy on this host fronts Hafen"
            );
        }
        let data = web::Data::new(hafen.clone());
        let limit = BodyLimit(config.max_body_bytes);
        let with_tls = tls.is_some();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(limit)
                .app_data(http::widget::WidgetTransport { https: with_tls })
                .wrap(http::security_headers(with_tls))
                .wrap(Compress::default())
                .wrap(from_fn(http::access_log))
                .configure(http::routes)
                .default_service(web::to(http::not_found))
        })
        .shutdown_timeout(30);
        let server = match config.workers {
            Some(n) => server.workers(n.max(1)),
            None => server,
        };
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        let scheduler = match config.retry_interval_secs {
            0 => None,
            secs => Some(
                crate::jobs::start(
                    hafen.clone(),
                    std::time::Duration::from_secs(secs),
                    Some(config.retention_schedule.trim()).filter(|s| !s.is_empty()),
                    Some(config.clone()).filter(|c| !c.backup_schedule.trim().is_empty()),
                )
                .await?,
            ),
        };
        Ok(Self {
            scheduler,
            addr,
            tls: with_tls,
            port,
            server,
            hafen,
            admin_token: opened.admin_token,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn hafen(&self) -> &Hafen {
        &self.hafen
    }

    /// The first admin token, present only when this start initialised the install.
    pub fn take_admin_token(&mut self) -> Option<Sensitive<String>> {
        self.admin_token.take()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle), then lets queued writes commit.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(
            addr = %self.addr,
            port = self.port,
            tls = self.tls,
            database = %self.hafen.store().url().redacted(),
            "Hafen is listening"
        );
        let result = self.server.await;
        if let Some(mut scheduler) = self.scheduler {
            let _ = scheduler.shutdown().await;
        }
        let store = self.hafen.store().clone();
        drop(self.hafen);
        tokio::task::spawn_blocking(move || store.close())
            .await
            .ok();
        result
    }
}
