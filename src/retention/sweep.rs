//! A retention run: per tenant, each category's due items deleted in batches (holds re-read
//! each batch), period keys shredded, a certificate kept; the lock that keeps runs apart.

use super::*;

/// What one sweep did (or, dry, would do) per tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub run_id: String,
    pub dry_run: bool,
    /// False when another instance was sweeping: nothing was done.
    pub ran: bool,
    pub tenants: Vec<TenantRun>,
    /// Oldest audit entries removed (install-wide runs only; see `audit_retention_years`).
    pub audit_entries_pruned: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantRun {
    pub tenant_id: String,
    /// The certificate, for a real run.
    pub certificate: Option<CertificateView>,
    /// What is due, for a dry run.
    pub forecast: Option<Forecast>,
}

/// The right to sweep: this process's mutex and, on PostgreSQL, the advisory lock held by a
/// dedicated connection.
pub struct SweepLock {
    pub(super) _local: tokio::sync::OwnedMutexGuard<()>,
    pub(super) conn: Option<crate::store::conn::PooledConn>,
}

impl SweepLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let released =
                tokio::task::spawn_blocking(move || backend::release_retention_lock(&mut conn))
                    .await;
            if !matches!(released, Ok(Ok(()))) {
                tracing::warn!("could not release the retention lock; it goes with the connection");
            }
        }
    }
}

impl Drop for SweepLock {
    fn drop(&mut self) {
        // Not released explicitly (a panic or cancellation): release here rather than return
        // a locked connection to the pool.
        if let Some(mut conn) = self.conn.take() {
            let _ = backend::release_retention_lock(&mut conn);
        }
    }
}

impl Retention {
    /// Runs retention for one tenant or all. A dry run lists what is due and changes
    /// nothing. A real run takes the sweep lock; when another instance holds it, nothing is
    /// done and `ran` is false.
    pub async fn run(
        &self,
        actor: &Actor,
        tenant: Option<&TenantId>,
        dry_run: bool,
    ) -> Result<RunReport> {
        match tenant {
            Some(t) => actor.authorize(t, Permission::ManageRetention)?,
            None => actor.authorize_install(Permission::ManageTenants)?,
        }
        let tenant_ids: Vec<String> = match tenant {
            Some(t) => {
                self.infra.ensure_tenant(t).await?;
                vec![t.as_str().to_string()]
            }
            None => {
                self.infra
                    .store
                    .read(|conn| {
                        Ok(tenants::table
                            .select(tenants::id)
                            .order(tenants::id)
                            .load(conn)?)
                    })
                    .await?
            }
        };
        let run_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let now = self.infra.clock.now();
        if dry_run {
            let mut report = RunReport {
                run_id,
                dry_run,
                ran: true,
                tenants: Vec::new(),
                audit_entries_pruned: 0,
            };
            for t in tenant_ids {
                let id = t.clone();
                let forecast = self
                    .infra
                    .store
                    .read(move |conn| {
                        let (set, _) = rules_in_force(conn, &id)?;
                        run::forecast(conn, &id, &set, now, None)
                    })
                    .await?;
                report.tenants.push(TenantRun {
                    tenant_id: t,
                    certificate: None,
                    forecast: Some(forecast),
                });
            }
            return Ok(report);
        }
        let Some(lock) = self.sweep_lock().await? else {
            tracing::info!("another instance is running retention; skipped");
            return Ok(RunReport {
                run_id,
                dry_run,
                ran: false,
                tenants: Vec::new(),
                audit_entries_pruned: 0,
            });
        };
        let result = self.sweep(actor, &run_id, tenant_ids, now).await;
        let pruned = match (&result, tenant) {
            (Ok(_), None) => self.prune_audit_log(now).await,
            _ => Ok(0),
        };
        lock.release().await;
        let tenants = result?;
        Ok(RunReport {
            run_id,
            dry_run,
            ran: true,
            tenants,
            audit_entries_pruned: pruned?,
        })
    }

    pub(super) async fn sweep(
        &self,
        actor: &Actor,
        run_id: &str,
        tenant_ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TenantRun>> {
        let closed = self
            .infra
            .store
            .write(move |conn| certificates::close_interrupted(conn, now))
            .await?;
        if closed > 0 {
            tracing::warn!(
                runs = closed,
                "closed the certificates of interrupted retention runs"
            );
        }
        self.refresh_statistics().await;
        let mut runs = Vec::with_capacity(tenant_ids.len());
        let mut all_ok = true;
        for tenant in tenant_ids {
            let (certificate, left) = self.sweep_tenant(actor, run_id, &tenant, now).await?;
            let left = Category::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), left.get(c).copied().unwrap_or(0)))
                .collect();
            self.infra.metrics.record_overdue(&tenant, left);
            all_ok &= certificate.errors.is_empty();
            runs.push(TenantRun {
                tenant_id: tenant,
                certificate: Some(certificate),
                forecast: None,
            });
        }
        self.infra
            .metrics
            .retention_last_run
            .set(self.infra.clock.now().timestamp());
        if all_ok {
            self.infra
                .metrics
                .retention_last_success
                .set(self.infra.clock.now().timestamp());
        }
        // Housekeeping, not part of the proof: the run answers now, space comes back meanwhile.
        let retention = self.clone();
        tokio::spawn(async move { retention.reclaim_space().await });
        Ok(runs)
    }

    pub(super) async fn sweep_tenant(
        &self,
        actor: &Actor,
        run_id: &str,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<(CertificateView, BTreeMap<Category, u64>)> {
        let t = tenant.to_string();
        let (set, version) = self
            .infra
            .store
            .read(move |conn| rules_in_force(conn, &t))
            .await?;
        let versions = serde_json::json!({ "tenant_rules": version }).to_string();
        let mut progress = CertificateProgress::new(run_id, tenant, versions, now);
        let started = progress.clone();
        self.infra
            .store
            .write(move |conn| certificates::start(conn, &started))
            .await?;
        if let Err(e) = self
            .shred_whole_periods(tenant, &set, now, &mut progress)
            .await
        {
            tracing::error!(error = %crate::telemetry::chain(&e), "shredding whole expired months failed; their rows are deleted first instead");
            progress.errors.push(format!("period keys: {e}"));
        }
        let holds_now = holds::ActiveHolds::default();
        let batch = self.settings.batch.max(1);
        let mut overdue: BTreeMap<Category, u64> = BTreeMap::new();
        for (category, selection) in run::selections(tenant, &set, &holds_now, now, None) {
            let mut after: Option<String> = None;
            loop {
                let (sel, p, from) = (selection.clone(), progress.clone(), after.clone());
                let batch_started = std::time::Instant::now();
                let outcome = self
                    .infra
                    .store
                    .write_apart(move |conn| {
                        let mut p = p.clone();
                        let (n, last) = run::delete_batch(
                            conn,
                            category,
                            &sel,
                            from.as_deref(),
                            batch,
                            now,
                            &mut p,
                        )?;
                        Ok((n, last, p))
                    })
                    .await;
                match outcome {
                    Ok((_, None, _)) => break,
                    Ok((n, last, p)) => {
                        after = last;
                        tracing::debug!(
                            category = category.as_str(),
                            deleted = n,
                            ms = batch_started.elapsed().as_millis() as u64,
                            "retention batch committed"
                        );
                        progress = p;
                        self.infra
                            .metrics
                            .retention_deleted
                            .get_or_create(&crate::metrics::CategoryLabels {
                                category: category.as_str().into(),
                            })
                            .inc_by(n);
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        tracing::error!(
                            error = %crate::telemetry::chain(&e),
                            category = category.as_str(),
                            "retention batch failed; the next run continues"
                        );
                        progress.errors.push(format!("{}: {e}", category.as_str()));
                        // What this rule leaves due (counted up to one batch).
                        let left = self
                            .infra
                            .store
                            .read(move |conn| Ok(selection.page(conn, None, batch)?.len()))
                            .await
                            .unwrap_or(0);
                        *overdue.entry(category).or_default() += left as u64;
                        break;
                    }
                }
            }
        }
        // What erasure requests kept back and whose end has now passed (each with its own
        // certificate, naming the request).
        if let Err(e) = self.kept.erase_due(tenant, run_id, now).await {
            tracing::error!(error = %crate::telemetry::chain(&e), "erasing kept items failed; the next run continues");
            progress.errors.push(format!("erasure requests: {e}"));
        }
        let t = tenant.to_string();
        let destroyed = self
            .infra
            .store
            .write(move |conn| keys::destroy_unused(conn, &t, now))
            .await;
        match destroyed {
            Ok(ids) => {
                for id in &ids {
                    let owner = KeyOwner::Period(id.clone());
                    self.infra.keys.forget(&owner);
                    progress.keys_shredded.push(owner);
                }
                self.periods.forget(&ids);
            }
            Err(e) => progress
                .errors
                .push(format!("period keys: {}", Error::from(e))),
        }
        for key in &progress.keys_shredded {
            if let KeyOwner::Contact(_) = key {
                self.infra.keys.forget(key);
            }
        }
        let state = if progress.errors.is_empty() {
            certificates::COMPLETED
        } else {
            certificates::FAILED
        };
        let finished_at = self.infra.clock.now();
        let counts = progress
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let tenant_id = TenantId::parse(tenant)?;
        let event = AuditEvent::new(actor, "retention.run")
            .tenant(&tenant_id)
            .object("retention_certificate", &progress.id)
            .detail(format!(
                "{state}; {counts}; keys shredded {}",
                progress.keys_shredded.len()
            ));
        let row = self
            .infra
            .store
            .write(move |conn| {
                let row =
                    certificates::finish(conn, &progress.id, state, finished_at, Some(&progress))?;
                audit::append(conn, finished_at, event.clone())?;
                Ok(row)
            })
            .await?;
        Ok((row.into(), overdue))
    }

    /// Destroys the period keys of whole expired months (`shred`) in one write with the
    /// certificate's progress: from that commit on their data is unreadable; the batches then
    /// delete the rows.
    async fn shred_whole_periods(
        &self,
        tenant: &str,
        rules: &RuleSet,
        now: DateTime<Utc>,
        progress: &mut CertificateProgress,
    ) -> Result<()> {
        let (t, rules, p) = (tenant.to_string(), rules.clone(), progress.clone());
        let (destroyed, p) = self
            .infra
            .store
            .write(move |conn| {
                let expired: Vec<String> = super::shred::whole_expired(conn, &t, &rules, now)?
                    .into_iter()
                    .map(|m| m.key)
                    .collect();
                let destroyed = keys::destroy(conn, &expired, now)?;
                let mut p = p.clone();
                p.keys_shredded
                    .extend(destroyed.iter().cloned().map(KeyOwner::Period));
                if !destroyed.is_empty() {
                    certificates::save_progress(conn, &p)?;
                }
                Ok((destroyed, p))
            })
            .await?;
        if !destroyed.is_empty() {
            for id in &destroyed {
                self.infra.keys.forget(&KeyOwner::Period(id.clone()));
            }
            self.periods.forget(&destroyed);
            tracing::info!(
                keys = destroyed.len(),
                "period keys of whole expired months destroyed before their rows"
            );
        }
        *progress = p;
        Ok(())
    }

    /// Removes audit entries older than `audit_years` after the end of their year, oldest
    /// first, leaving an anchor so the rest of the chain still verifies.
    pub(super) async fn prune_audit_log(&self, now: DateTime<Utc>) -> Result<u64> {
        if self.settings.audit_years == 0 {
            return Ok(0);
        }
        // Audit entries are kept for whole years after the year they were written in.
        let Some(cutoff) = rules::Period::years(self.settings.audit_years).cutoff(now, true) else {
            return Ok(0);
        };
        let batch = self.settings.batch.max(1);
        let mut total = 0u64;
        loop {
            let at = self.infra.clock.now();
            let n = self
                .infra
                .store
                .write(move |conn| audit::prune_batch(conn, cutoff.before, batch, at))
                .await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }

    /// Lets PostgreSQL plan the run's statements on what the tables hold now
    /// ([`backend::analyze_stale`]). A failure costs only speed: logged, and the run goes on.
    async fn refresh_statistics(&self) {
        let tables = retention_tables();
        let started = std::time::Instant::now();
        match self
            .infra
            .store
            .read(move |conn| backend::analyze_stale(conn, &tables))
            .await
        {
            Ok(analyzed) if !analyzed.is_empty() => {
                tracing::info!(
                    tables = %analyzed.join(", "),
                    ms = started.elapsed().as_millis() as u64,
                    "statistics refreshed before the retention run"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "could not refresh the statistics before retention; the run goes on");
            }
        }
    }

    /// Gives freed space back: PostgreSQL vacuums the tables retention deletes from; SQLite
    /// returns free pages to the file system in small steps between other writes.
    pub(super) async fn reclaim_space(&self) {
        let started = std::time::Instant::now();
        let tables = retention_tables();
        if let Err(e) = self
            .infra
            .store
            .read(move |conn| backend::vacuum(conn, &tables))
            .await
        {
            tracing::warn!(error = %crate::telemetry::chain(&e), "could not vacuum after retention");
        }
        for _ in 0..10_000 {
            match self
                .infra
                .store
                .write(|conn| backend::reclaim_space(conn, 256))
                .await
            {
                Ok(0) => {
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "free pages reclaimed"
                    );
                    return;
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not reclaim free space after retention");
                    return;
                }
            }
        }
    }

    /// The tenant's deletion certificates, oldest first.
    pub async fn certificates(
        &self,
        actor: &Actor,
        tenant: &TenantId,
    ) -> Result<(Vec<CertificateView>, ChainReport)> {
        actor.authorize(tenant, Permission::ViewRetention)?;
        self.infra.ensure_tenant(tenant).await?;
        let t = tenant.as_str().to_string();
        let (list, report) = self
            .infra
            .store
            .read(move |conn| Ok((certificates::list(conn, &t)?, certificates::verify(conn)?)))
            .await?;
        self.infra
            .record(
                AuditEvent::new(actor, "retention.certificates.export")
                    .tenant(tenant)
                    .detail(format!("{} certificates", list.len())),
            )
            .await?;
        Ok((list, report))
    }

    pub async fn verify_certificates(&self) -> Result<ChainReport> {
        Ok(self.infra.store.read(certificates::verify).await?)
    }

    pub(super) async fn sweep_lock(&self) -> Result<Option<SweepLock>> {
        let local = match self.settings.local_lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => return Ok(None),
        };
        let store = self.infra.store.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut conn = store.dedicated_blocking()?;
            let got = backend::try_retention_lock(&mut conn)?;
            Ok::<_, StoreError>(got.then_some(conn))
        })
        .await
        .map_err(Error::internal)??;
        Ok(conn.map(|conn| SweepLock {
            _local: local,
            conn: Some(conn),
        }))
    }

    /// Takes the sweep lock as a sweep would (tests: a second instance must then skip).
    pub async fn hold_sweep_lock(&self) -> Result<Option<SweepLock>> {
        self.sweep_lock().await
    }
}

/// The tables retention deletes from (those with sealed columns): analyzed before a run,
/// vacuumed after it.
fn retention_tables() -> Vec<&'static str> {
    super::coverage::SEALED_TABLES
        .iter()
        .map(|t| t.table)
        .collect()
}
