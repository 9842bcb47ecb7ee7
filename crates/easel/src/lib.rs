//! The `easel` binary's library half: opening the configured store and running the server,
//! so that the integration tests start exactly what `easel serve` starts, with their own
//! clock and a port of their choosing.

pub mod mail;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use easel_core::mail::Mailer;
use easel_core::service::{BootstrapOutcome, BootstrapRequest};
use easel_core::{Clock, Easel, EaselConfig, OsRandom, Store};
use easel_server::{AppState, HttpLimits};
use easel_store_postgres::PostgresStore;
use easel_store_sqlite::SqliteStore;
use tokio::net::TcpListener;

/// Where the embedded default keeps its data, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://easel-data/easel.db";

/// Opens the store a database URL names: `postgres://…` (or `postgresql://…`) for
/// PostgreSQL, `sqlite://…` or a file path for SQLite.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("{}", detail(&e)))
            .context("opening the PostgreSQL store")?;
        Ok(Arc::new(store))
    } else {
        let store = SqliteStore::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("{}", detail(&e)))
            .context("opening the SQLite store")?;
        Ok(Arc::new(store))
    }
}

/// The full text of an error, for the operator's terminal (never for an HTTP client).
pub fn detail(e: &easel_core::Error) -> String {
    match e {
        easel_core::Error::Internal(d) | easel_core::Error::Unavailable(d) => d.clone(),
        other => other.to_string(),
    }
}

/// Everything `easel serve` needs besides the store and the clock.
#[derive(Clone)]
pub struct ServeOptions {
    pub easel: EaselConfig,
    pub bootstrap: BootstrapRequest,
    pub limits: HttpLimits,
    /// Where mail goes; `None` disables mail.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Whether the token cookie is marked `Secure`.
    pub secure_cookies: bool,
    /// How often counted key uses are written to the store: a crash loses at most this much
    /// of them (never a key).
    pub usage_flush: std::time::Duration,
    /// How often written uses, which the store journals, are added to the keys: how stale a
    /// key's use count and last use may be in reads, at most this plus
    /// [`ServeOptions::usage_flush`].
    pub usage_fold: std::time::Duration,
    /// Whether cached keys in use are read again in the background before their re-check is
    /// due ([`Easel::refresh_cached_keys`]). Off, each is re-read on its first request after
    /// the re-check instead. (Tests turn it off: their clock moves only when they move it.)
    pub refresh_cached_keys: bool,
}

/// The default of [`ServeOptions::usage_flush`].
pub const USAGE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);
/// The default of [`ServeOptions::usage_fold`].
pub const USAGE_FOLD: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            easel: EaselConfig::default(),
            bootstrap: BootstrapRequest::default(),
            limits: HttpLimits::default(),
            mailer: None,
            secure_cookies: false,
            usage_flush: USAGE_FLUSH,
            usage_fold: USAGE_FOLD,
            refresh_cached_keys: true,
        }
    }
}

/// A server bound to its listener and ready to run.
pub struct Prepared {
    pub easel: Arc<Easel>,
    pub listener: TcpListener,
    pub address: SocketAddr,
    /// What the first start created; `None` on every later start.
    pub bootstrap: Option<BootstrapOutcome>,
    pub router: easel_server::App,
}

/// How often audit rows past their retention are deleted (when a retention is set).
const AUDIT_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// The work a node does besides answering requests: writing key-usage counts in batches and
/// folding them into the keys, reading the cached keys in use again before their re-check is
/// due, deleting old audit rows, and applying the changes other nodes announce (PostgreSQL
/// only).
async fn start_background_tasks(
    easel: &Arc<Easel>,
    usage_flush: std::time::Duration,
    usage_fold: std::time::Duration,
    refresh_cached_keys: bool,
) -> anyhow::Result<()> {
    let floor = std::time::Duration::from_millis(100);
    let flush = usage_flush.max(floor);
    every(easel, flush, flush, |easel| async move {
        if let Err(e) = easel.write_usage().await {
            tracing::warn!(error = %detail(&e), "could not write key usage counts");
        }
    });
    let fold = usage_fold.max(floor);
    every(easel, fold, fold, |easel| async move {
        if let Err(e) = easel.fold_usage().await {
            // The journal keeps them; the next fold adds them.
            tracing::warn!(error = %detail(&e), "could not add key usage counts to the keys");
        }
    });
    if refresh_cached_keys {
        let period = easel.key_refresh_interval();
        every(easel, period, period, |easel| async move {
            if let Err(e) = easel.refresh_cached_keys().await {
                // Their next requests read them, as they would without the refresh.
                tracing::warn!(error = %detail(&e), "could not read cached keys again");
            }
        });
    }
    // At start-up too: a node that was down for a while deletes what expired meanwhile.
    every(
        easel,
        std::time::Duration::ZERO,
        AUDIT_SWEEP,
        |easel| async move {
            match easel.sweep_audits().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit rows past their retention deleted"),
                Err(e) => tracing::warn!(error = %detail(&e), "could not delete old audit rows"),
            }
        },
    );
    let feed = easel
        .store()
        .subscribe()
        .await
        .map_err(|e| anyhow::anyhow!("{}", detail(&e)))
        .context("listening for other nodes' changes")?;
    if let Some(mut changes) = feed {
        let listener = Arc::downgrade(easel);
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                let Some(easel) = listener.upgrade() else {
                    return;
                };
                easel.apply_remote_change(&change);
            }
        });
    }
    Ok(())
}

/// Runs `work` `first` from now and every `period` after, for as long as the node lives (a
/// round that overruns its period delays the next rather than crowding it).
fn every<Work, Round>(
    easel: &Arc<Easel>,
    first: std::time::Duration,
    period: std::time::Duration,
    work: Work,
) where
    Work: Fn(Arc<Easel>) -> Round + Send + 'static,
    Round: std::future::Future<Output = ()> + Send,
{
    let node = Arc::downgrade(easel);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(easel) = node.upgrade() else {
                return;
            };
            work(easel).await;
        }
    });
}

/// Serves the node's counters in Prometheus' text format on a listener of their own, so that
/// metrics are never exposed on the API's address by accident.
pub async fn serve_metrics(listener: TcpListener, easel: Arc<Easel>) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let easel = easel.clone();
            async move {
                let s = easel.cache_stats();
                format!(
                    "# TYPE easel_auth_cache_hits_total counter\neasel_auth_cache_hits_total {}\n\
                     # TYPE easel_auth_cache_misses_total counter\neasel_auth_cache_misses_total {}\n\
                     # TYPE easel_auth_store_lookups_total counter\neasel_auth_store_lookups_total {}\n\
                     # TYPE easel_auth_cache_invalidations_total counter\neasel_auth_cache_invalidations_total {}\n\
                     # TYPE easel_auth_cache_refreshes_total counter\neasel_auth_cache_refreshes_total {}\n\
                     # TYPE easel_auth_cache_entries gauge\neasel_auth_cache_entries {}\n",
                    s.hits,
                    s.misses,
                    s.store_lookups,
                    s.invalidations,
                    s.refreshes,
                    easel.cache_len(),
                )
            }
        }),
    );
    axum::serve(listener, app).await
}

/// Builds the service on `store`, bootstraps an empty database, and binds `listener`.
pub async fn prepare(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    options: ServeOptions,
) -> anyhow::Result<Prepared> {
    let mut easel = Easel::new(store, clock.clone(), Arc::new(OsRandom), options.easel)
        .await
        .map_err(|e| anyhow::anyhow!("{}", detail(&e)))
        .context("starting the service")?;
    match options.mailer {
        Some(mailer) => easel = easel.with_mailer(mailer),
        None => tracing::info!("mail is disabled (no --smtp-url): mails are not sent"),
    }
    let bootstrap = easel
        .bootstrap(options.bootstrap)
        .await
        .map_err(|e| anyhow::anyhow!("{}", detail(&e)))
        .context("bootstrapping the first tenant")?;
    let easel = Arc::new(easel);
    start_background_tasks(
        &easel,
        options.usage_flush,
        options.usage_fold,
        options.refresh_cached_keys,
    )
    .await?;
    let router = easel_server::app(
        AppState::new(easel_server::Shared {
            easel: easel.clone(),
            secure_cookies: options.secure_cookies,
            limiter: Arc::new(easel_server::ratelimit::RateLimiter::new(
                options.limits.rate_limits.clone(),
                clock,
            )),
        }),
        &options.limits,
    );
    let address = listener.local_addr()?;
    Ok(Prepared {
        easel,
        listener,
        address,
        bootstrap,
        router,
    })
}
