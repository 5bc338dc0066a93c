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
    /// The TLS certificate, reloaded on SIGHUP.
    certificates: Option<std::sync::Arc<http::tls::CertificateSource>>,
    /// This server as the records name it (`records::instances`).
    instance: crate::records::instances::Instance,
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
        let (tls, certificates) = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => {
                let (tls, source) = http::tls::server_config(cert, key)?;
                (Some(tls), Some(source))
            }
            _ => (None, None),
        };
        if tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS (allow_plain_http_on_public_address = true): \
                 tokens and personal data cross the network unencrypted unless a TLS proxy on this host fronts Hafen"
            );
        }
        let data = web::Data::new(hafen.clone());
        let patience = std::time::Duration::from_secs(config.client_timeout_secs);
        let limit = BodyLimit(config.max_body_bytes, patience);
        let webhook_rate =
            web::Data::new(http::limits::IpRateLimit::new(config.webhook_rate_per_ip));
        // Sign-in attempts per address and second; lockout per name is in `accounts::users`.
        let sign_in_rate = web::Data::new(http::ui::SignInRate(http::limits::IpRateLimit::new(5)));
        let public_url = web::Data::new(http::ui::PublicUrl(config.public_base()?));
        let with_tls = tls.is_some();
        let transport = http::forwarded::Transport::new(with_tls, &config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!(e))?;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(limit)
                .app_data(webhook_rate.clone())
                .app_data(sign_in_rate.clone())
                .app_data(transport.clone())
                .app_data(public_url.clone())
                .wrap(http::security_headers(with_tls))
                .wrap(from_fn(http::frame_options))
                .wrap(Compress::default())
                .wrap(from_fn(http::access_log))
                .configure(http::routes)
                .default_service(web::to(http::not_found))
        })
        .shutdown_timeout(30)
        // Slow and idle clients: a deadline for the request head, idle keep-alive closed, and a
        // cap on open connections per worker (the body's deadline is in `raw_body`).
        .client_request_timeout(patience)
        .keep_alive(std::time::Duration::from_secs(config.keep_alive_secs))
        .max_connections(config.max_connections);
        let server = match config.workers {
            Some(n) => server.workers(n.max(1)),
            None => server,
        };
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        let schedules = crate::jobs::Schedules::from_config(config);
        let scheduler = match schedules.any() {
            false => None,
            true => Some(crate::jobs::start(hafen.clone(), &schedules, config.clone()).await?),
        };
        // The records describe this server's settings, whoever asks for them.
        let instance = crate::records::instances::Instance::new();
        hafen.records.announce_instance(&instance).await?;
        tokio::spawn(index_contact_names(hafen.clone()));
        Ok(Self {
            scheduler,
            addr,
            tls: with_tls,
            port,
            server,
            hafen,
            admin_token: opened.admin_token,
            certificates,
            instance,
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
        let due_work = tokio::spawn(crate::jobs::run_when_asked(self.hafen.clone()));
        let supervision = tokio::spawn(supervise(
            self.hafen.clone(),
            self.certificates.clone(),
            self.instance.clone(),
        ));
        // systemd (Type=notify): ready once bound and serving.
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        let result = self.server.await;
        supervision.abort();
        due_work.abort();
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        if let Some(mut scheduler) = self.scheduler {
            let _ = scheduler.shutdown().await;
        }
        if let Err(e) = self.hafen.records.instance_stopped(&self.instance).await {
            tracing::warn!(error = %crate::telemetry::chain(&e), "could not record the stop");
        }
        let store = self.hafen.store().clone();
        drop(self.hafen);
        tokio::task::spawn_blocking(move || store.close())
            .await
            .ok();
        result
    }
}

/// While serving: reloads the TLS certificate on SIGHUP and, under a systemd watchdog, pings
/// it as long as the database answers (a wedged store gets the service restarted).
/// Contacts stored before names were indexed become findable by name, in the background.
async fn index_contact_names(hafen: Hafen) {
    loop {
        match hafen.contacts.index_names(500).await {
            Ok(0) => return,
            Ok(n) => tracing::info!(contacts = n, "indexed the names of earlier contacts"),
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "could not index contact names; a restart tries again");
                return;
            }
        }
    }
}

async fn supervise(
    hafen: Hafen,
    certificates: Option<std::sync::Arc<http::tls::CertificateSource>>,
    instance: crate::records::instances::Instance,
) {
    let interval = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: reload is off");
            None
        }
    };
    let mut tick = tokio::time::interval(interval.unwrap_or(std::time::Duration::from_secs(3600)));
    let mut heartbeat = tokio::time::interval(
        crate::records::instances::HEARTBEAT
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60)),
    );
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if let Err(e) = hafen.records.instance_heartbeat(&instance).await {
                    tracing::warn!(error = %crate::telemetry::chain(&e), "could not record the heartbeat");
                }
            }
            _ = tick.tick(), if interval.is_some() => {
                let alive = hafen
                    .store()
                    .read(|conn| {
                        use diesel::connection::SimpleConnection;
                        conn.batch_execute("SELECT 1").map_err(Into::into)
                    })
                    .await;
                match alive {
                    Ok(()) => { let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]); }
                    Err(e) => tracing::error!(error = %crate::telemetry::chain(&e), "watchdog: the database does not answer"),
                }
            }
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                match &certificates {
                    Some(c) => match c.reload() {
                        Ok(()) => tracing::info!("reload: TLS certificate re-read"),
                        Err(e) => tracing::error!(error = format!("{e:#}"), "reload: the new TLS certificate was refused; the old one stays in use"),
                    },
                    None => tracing::info!("reload: no TLS certificate configured; other settings take effect on restart"),
                }
            }
        }
    }
}
