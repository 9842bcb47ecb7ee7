//! `easel`: run the server (`easel serve`), repair access directly on the store
//! (`easel admin …`), or talk to a running server (`easel whoami`, `easel keys …`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use easel::{open_store, prepare, ServeOptions, DEFAULT_DATABASE_URL};
use easel_client::Client;
use easel_core::service::{BootstrapOutcome, BootstrapRequest};
use easel_core::{Easel, EaselConfig, OsRandom, SystemClock};
use easel_proto as proto;
use easel_server::HttpLimits;

#[derive(Parser)]
#[command(
    name = "easel",
    version,
    about = "Identity and API keys for multi-tenant platform APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Work directly on the store, without a server: bootstrap and recovery.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Show who the API key belongs to.
    Whoami(RemoteArgs),
    /// Manage API keys on a running server.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Args)]
struct StoreArgs {
    /// `sqlite://PATH` (the default, embedded) or `postgres://…`.
    #[arg(long, env = "EASEL_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "EASEL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// First start only: the first organisation's name (default `easel`).
    #[arg(long, env = "EASEL_TENANT_NAME")]
    tenant_name: Option<String>,
    /// First start only: the tenant admin's email (default `admin@easel.local`).
    #[arg(long, env = "EASEL_ADMIN_EMAIL")]
    admin_email: Option<String>,
    /// First start only: the tenant admin's password (generated and shown once if unset).
    #[arg(long, env = "EASEL_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Prefix of new API keys.
    #[arg(long, env = "EASEL_KEY_PREFIX", default_value = "easel")]
    key_prefix: String,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "EASEL_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Where people reach this server, for links in mail (default: http://<listen>).
    #[arg(long, env = "EASEL_PUBLIC_URL")]
    public_url: Option<String>,
    /// SMTP relay for mail: smtp://host:port, smtp://host:port?tls=required, smtps://…;
    /// without it, mail is disabled.
    #[arg(long, env = "EASEL_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of Easel's mail.
    #[arg(
        long,
        env = "EASEL_SMTP_FROM",
        default_value = "Easel <noreply@easel.local>"
    )]
    smtp_from: String,
    /// Absolute lifetime of a sign-in session, in hours (refreshes never go past it).
    #[arg(long, env = "EASEL_SESSION_LIFETIME_HOURS", default_value_t = 24)]
    session_lifetime_hours: i64,
    /// Let people sign up for a new organisation themselves (needs --smtp-url to be useful).
    #[arg(long, env = "EASEL_ALLOW_SIGNUP")]
    allow_signup: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "EASEL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "EASEL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Mark the token cookie `Secure` (set this when clients reach Easel over TLS; implied
    /// by --tls-cert).
    #[arg(long, env = "EASEL_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Serve Prometheus metrics on this address (a listener of its own).
    #[arg(long, env = "EASEL_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How many authenticated callers each node keeps in its verify cache (and how many key
    /// owners' names it keeps for key lists).
    #[arg(long, env = "EASEL_CACHE_CAPACITY", default_value_t = 100_000)]
    cache_capacity: usize,
    /// Seconds a cached caller is trusted at most before the store is asked again (each one
    /// somewhere in the last quarter of it): the bound on a change this node was not told
    /// about (changes are announced to other nodes at once).
    #[arg(long, env = "EASEL_CACHE_RECHECK_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    cache_recheck_secs: i64,
    /// Seconds between writes of counted key uses (use counts, last-used times) to the
    /// store: a crash loses at most this much of them, never a key.
    #[arg(long, env = "EASEL_USAGE_FLUSH_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    usage_flush_secs: u64,
    /// Seconds between folds of written key uses into the keys' use counts and last-use
    /// times (each write is journalled, and each key updated once per fold): reads show uses
    /// at most this plus --usage-flush-secs late.
    #[arg(long, env = "EASEL_USAGE_FOLD_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    usage_fold_secs: u64,
    /// Days audit rows are kept (deleted hourly after that); unset keeps them for good.
    #[arg(long, env = "EASEL_AUDIT_RETENTION_DAYS")]
    audit_retention_days: Option<u32>,
    /// Requests this node serves at once; more are answered 503 with `Retry-After`.
    #[arg(long, env = "EASEL_MAX_IN_FLIGHT", default_value_t = 1024)]
    max_in_flight: usize,
    /// Largest request headers (all names and values together), in bytes: more is a 431.
    #[arg(long, env = "EASEL_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    max_header_bytes: usize,
    /// Rate limits per source address and path prefix: `on` or `off` at start
    /// (`PATCH /v1/system/ratelimit` switches them at run time).
    #[arg(long, env = "EASEL_RATE_LIMITS", default_value = "on", value_parser = ["on", "off"])]
    rate_limits: String,
    /// The limit of every top-level prefix without a rule of its own: RATE/BURST, that is
    /// RATE requests a second with RATE×BURST at once.
    #[arg(long, env = "EASEL_RATE_LIMIT_DEFAULT", default_value = "10/5")]
    rate_limit_default: easel_server::ratelimit::Limit,
    /// A prefix with a limit of its own, PREFIX=RATE/BURST (repeatable; replaces the built-in
    /// rule of the same prefix).
    #[arg(long = "rate-limit", env = "EASEL_RATE_LIMIT", value_delimiter = ',')]
    rate_limit_prefixes: Vec<easel_server::ratelimit::PrefixLimit>,
    /// A limit per API key as well, RATE/BURST (none by default).
    #[arg(long, env = "EASEL_KEY_RATE_LIMIT")]
    key_rate_limit: Option<easel_server::ratelimit::Limit>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client
    /// (repeatable, or comma-separated); requests from anyone else count under their own
    /// address whatever they send.
    #[arg(long = "trusted-proxy", env = "EASEL_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Log format: `pretty` or `json`.
    #[arg(long, env = "EASEL_LOG_FORMAT", default_value = "pretty")]
    log_format: String,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print well-formed keys that no deployment issued (benchmarks of unknown keys).
    GenerateKeys {
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
    /// Bulk-load users and keys into a tenant (benchmarks), and write a sample of the keys.
    Seed {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 0)]
        users: usize,
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Write this many of the new keys' values here, one per line.
        #[arg(long)]
        keys_out: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
    },
    /// Create an API key for a user and print only the key.
    CreateApiKey {
        #[command(flatten)]
        store: StoreArgs,
        /// The user's email address.
        #[arg(long)]
        user: String,
        /// The organisation; may be left out when there is only one.
        #[arg(long)]
        tenant: Option<String>,
        /// Lifetime in days (default 30, at most the tenant's maximum).
        #[arg(long)]
        expires_in: Option<i64>,
    },
}

#[derive(Args)]
struct RemoteArgs {
    /// The server's base URL.
    #[arg(long, env = "EASEL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The API key to call with.
    #[arg(long, env = "EASEL_API_KEY", hide_env_values = true)]
    api_key: String,
}

impl RemoteArgs {
    fn client(&self) -> Client {
        Client::new(&self.server).with_api_key(&self.api_key)
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List keys: your own, or as tenant admin all of them (or one user's).
    List {
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        user: Option<String>,
    },
    /// Create a key and print it (it is never shown again).
    Create {
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// 7, 30, 60, 90 or any number of days.
        #[arg(long, default_value_t = 30)]
        expires_in: i64,
        /// The owner's uid (tenant admins only); yourself if left out.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key.
    Revoke {
        #[command(flatten)]
        remote: RemoteArgs,
        uid: String,
    },
    /// Re-activate a revoked, unexpired key.
    Activate {
        #[command(flatten)]
        remote: RemoteArgs,
        uid: String,
    },
    /// Delete a key.
    Delete {
        #[command(flatten)]
        remote: RemoteArgs,
        uid: String,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EASEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn print_bootstrap(outcome: &BootstrapOutcome, base: &str) {
    println!();
    println!("This database was empty, so Easel created a first organisation and its admin.");
    println!("These secrets are shown once and never again; keep them now.");
    println!();
    println!("  organisation  {}", outcome.tenant_name);
    println!("  admin email   {}", outcome.admin_email);
    match &outcome.generated_password {
        Some(password) => println!("  password      {password}"),
        None => println!("  password      (the one you set with --admin-password)"),
    }
    println!(
        "  API key       {}  (expires {})",
        outcome.api_key,
        outcome.api_key_expires_at.format("%Y-%m-%d")
    );
    println!();
    println!("Try it:");
    println!(
        "  curl -H 'ApiKey: {}' {base}/v1/users/info",
        outcome.api_key
    );
    println!();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let store = open_store(&args.store.database_url).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    if !(1..=24 * 366).contains(&args.session_lifetime_hours) {
        anyhow::bail!("--session-lifetime-hours must be between 1 and 8784");
    }
    let mailer: Option<Arc<dyn easel_core::mail::Mailer>> = match &args.smtp_url {
        Some(url) => Some(Arc::new(easel::mail::SmtpMailer::new(
            url,
            &args.smtp_from,
        )?)),
        None => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::Path| {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            };
            Some(
                easel_server::tls::acceptor(&read(cert)?, &read(key)?)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .context("setting up TLS")?,
            )
        }
        _ => None,
    };
    let bound = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{bound}")
        })
        .trim_end_matches('/')
        .to_owned();
    let rate_limits = rate_limit_config(&args);
    let options = ServeOptions {
        easel: EaselConfig {
            key_prefix: args.key_prefix,
            public_url,
            session_lifetime: chrono::Duration::hours(args.session_lifetime_hours),
            allow_signup: args.allow_signup,
            cache_capacity: args.cache_capacity.max(16),
            cache_recheck: chrono::Duration::seconds(args.cache_recheck_secs),
            audit_retention: args
                .audit_retention_days
                .map(|days| chrono::Duration::days(i64::from(days.max(1)))),
            ..EaselConfig::default()
        },
        mailer,
        secure_cookies: args.secure_cookies || tls.is_some(),
        usage_flush: Duration::from_secs(args.usage_flush_secs),
        usage_fold: Duration::from_secs(args.usage_fold_secs),
        refresh_cached_keys: true,
        bootstrap: BootstrapRequest {
            tenant_name: args.tenant_name,
            admin_email: args.admin_email,
            admin_password: args.admin_password,
        },
        limits: HttpLimits {
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            max_in_flight: args.max_in_flight,
            max_header_bytes: args.max_header_bytes,
            rate_limits,
            ..HttpLimits::default()
        },
    };
    let prepared = prepare(store.clone(), Arc::new(SystemClock), listener, options).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", prepared.address);
    if let Some(outcome) = &prepared.bootstrap {
        print_bootstrap(outcome, &base);
    }
    if let Some(address) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening for metrics on {address}"))?;
        tracing::info!(%address, "metrics on http://{address}/metrics");
        tokio::spawn(easel::serve_metrics(listener, prepared.easel.clone()));
    }
    tracing::info!(address = %prepared.address, "Easel is listening on {base}");
    let easel = prepared.easel.clone();
    match tls {
        Some(acceptor) => {
            easel_server::tls::serve(
                prepared.listener,
                prepared.router,
                acceptor,
                shutdown_signal(),
            )
            .await?
        }
        None => easel_server::serve(prepared.listener, prepared.router, shutdown_signal()).await?,
    }
    if let Err(e) = easel.flush_usage().await {
        tracing::warn!(error = %easel::detail(&e), "could not write the last key usage counts");
    }
    easel.drain_sign_ins().await;
    tracing::info!("stopped");
    Ok(())
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    let (store, user, tenant, expires_in) = match command {
        AdminCommand::CreateApiKey {
            store,
            user,
            tenant,
            expires_in,
        } => (store, user, tenant, expires_in),
        AdminCommand::GenerateKeys { count } => {
            let format = easel_core::apikey::KeyFormat::new(easel_core::apikey::DEFAULT_PREFIX)
                .map_err(|e| anyhow::anyhow!(e))?;
            for _ in 0..count {
                println!("{}", format.generate(&OsRandom).value);
            }
            return Ok(());
        }
        AdminCommand::Seed {
            store,
            tenant,
            users,
            keys,
            keys_out,
            sample,
        } => {
            let started = std::time::Instant::now();
            let store = open_store(&store.database_url).await?;
            let easel = Easel::new(
                store,
                Arc::new(SystemClock),
                Arc::new(OsRandom),
                EaselConfig::default(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(easel::detail(&e)))?;
            let sampled = easel
                .seed(tenant.as_deref(), users, keys, sample)
                .await
                .map_err(|e| anyhow::anyhow!(easel::detail(&e)))?;
            if let Some(path) = keys_out {
                std::fs::write(&path, sampled.join("\n") + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!(
                "seeded {users} users and {keys} keys in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
    };
    let store = open_store(&store.database_url).await?;
    let easel = Easel::new(
        store,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        EaselConfig::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!(easel::detail(&e)))?;
    let key = easel
        .admin_create_api_key(tenant.as_deref(), &user, expires_in)
        .await
        .map_err(|e| anyhow::anyhow!(easel::detail(&e)))?;
    println!("{key}");
    Ok(())
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List { remote, user } => {
            let client = remote.client();
            let mut query = proto::ApiKeyListQuery {
                user_uid: user,
                ..Default::default()
            };
            println!(
                "{:<24}  {:<24}  {:<20}  {:<9}  {:<10}  HINT",
                "UID", "NAME", "OWNER", "STATE", "EXPIRES"
            );
            loop {
                let page = client.list_api_keys(&query).await?;
                for key in &page.items {
                    println!(
                        "{:<24}  {:<24}  {:<20}  {:<9}  {:<10}  {}",
                        key.metadata.uid,
                        key.metadata.name.as_deref().unwrap_or_default(),
                        format!("{} {}", key.spec.user.first_name, key.spec.user.last_name),
                        key.status.state,
                        day(key.spec.expiry),
                        key.spec.hint
                    );
                }
                if page.listmeta.continue_token.is_empty() {
                    break;
                }
                query.continue_token = Some(page.listmeta.continue_token);
            }
        }
        KeysCommand::Create {
            remote,
            name,
            description,
            expires_in,
            user,
        } => {
            let client = remote.client();
            let now = client_now();
            let mut entity = proto::ApiKeyEntity::default();
            entity.metadata.name = Some(name);
            if let Some(d) = description {
                entity
                    .metadata
                    .annotations
                    .insert(proto::ANNOTATION_DESCRIPTION.into(), d);
            }
            entity.spec.expiry = Some(now + chrono::Duration::days(expires_in));
            entity.spec.user_uid = user.unwrap_or_default();
            let created = client.create_api_key(&entity).await?;
            eprintln!("created key {} (its value is shown once):", created.uid);
            println!("{}", created.api_key);
        }
        KeysCommand::Revoke { remote, uid } => {
            remote.client().set_api_key_active(&uid, false).await?;
            eprintln!("revoked {uid}");
        }
        KeysCommand::Activate { remote, uid } => {
            remote.client().set_api_key_active(&uid, true).await?;
            eprintln!("re-activated {uid}");
        }
        KeysCommand::Delete { remote, uid } => {
            remote.client().delete_api_key(&uid).await?;
            eprintln!("deleted {uid}");
        }
    }
    Ok(())
}

/// The CLI's own notion of now, for turning "in N days" into a date.
fn client_now() -> DateTime<Utc> {
    use easel_core::Clock;
    SystemClock.now()
}

/// mimalloc rather than the system allocator: every request allocates (headers, bodies,
/// futures), and glibc's malloc and free were a third of the instructions of an
/// authenticated request (bench/README: callgrind profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Admin(command) => admin(command).await,
        Command::Whoami(remote) => remote
            .client()
            .user_info()
            .await
            .map(|info| {
                println!(
                    "user {} in organisation {} ({})",
                    info.user_uid, info.org_name, info.tenant_uid
                )
            })
            .map_err(Into::into),
        Command::Keys(command) => keys(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("easel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// An address (a proxy of its own) or a CIDR range.
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
}

fn rate_limit_config(args: &ServeArgs) -> easel_server::ratelimit::RateLimitConfig {
    use easel_server::ratelimit::RateLimitConfig;
    let mut prefixes = RateLimitConfig::palette_defaults();
    for rule in &args.rate_limit_prefixes {
        prefixes.retain(|p| p.prefix != rule.prefix);
        prefixes.push(rule.clone());
    }
    RateLimitConfig {
        active: args.rate_limits == "on",
        default_limit: args.rate_limit_default,
        prefixes,
        per_key: args.key_rate_limit,
        trusted_proxies: args.trusted_proxies.clone(),
        ..RateLimitConfig::default()
    }
}

#[cfg(test)]
mod tests {
    /// A hit on the verify cache reads and writes the first 64 bytes of a cached caller's `Arc`
    /// block (`easel_core::Caller`'s layout test holds what is in them): one cache line only if
    /// the block starts on one. mimalloc starts the blocks of this size class on 64-byte
    /// boundaries; this holds the allocator the binary uses to that.
    #[test]
    fn cached_callers_start_on_a_cache_line() {
        const CALLER: usize = std::mem::size_of::<easel_core::Caller>();
        let callers: Vec<std::sync::Arc<[u64; CALLER / 8]>> = (0..1000)
            .map(|_| std::sync::Arc::new([0; CALLER / 8]))
            .collect();
        for caller in &callers {
            let counts = 2 * std::mem::size_of::<usize>();
            let block = std::sync::Arc::as_ptr(caller) as usize - counts;
            assert_eq!(block % 64, 0, "a caller's block at {block:#x}");
        }
    }
}
