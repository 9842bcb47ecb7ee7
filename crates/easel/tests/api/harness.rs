//! Starting servers for tests.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use easel::{open_store, prepare, ServeOptions};
use easel_client::Client;
use easel_core::service::BootstrapRequest;
use easel_core::{Easel, ManualClock};
use easel_proto as proto;
use easel_server::HttpLimits;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_EMAIL: &str = "admin@acme.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const TENANT: &str = "acme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where PostgreSQL is: `EASEL_TEST_POSTGRES_URL`, or the machine's own on 127.0.0.1:5432.
pub fn postgres_admin_url() -> String {
    std::env::var("EASEL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

/// A database that lives as long as the test: a temporary SQLite file, or a PostgreSQL
/// database of a random name, dropped afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}/easel.db", dir.path().display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("easel_test_{}", random_hex(16));
                let mut conn = connect_admin(&admin).await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("creating the test database");
                let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres_name: Some(name),
                }
            }
        }
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    match sqlx::PgConnection::connect(url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {url}: {e}.\n\
             Every storage test runs on PostgreSQL as well as SQLite, so the suite needs it: \
             start it (on this machine: pg_ctlcluster --skip-systemctl-redirect \
             $(ls /etc/postgresql) main start) or point EASEL_TEST_POSTGRES_URL elsewhere."
        ),
    }
}

impl TestDb {
    /// The same database, for a second server: it does not drop the database when done.
    pub fn shared(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
            postgres_name: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside async code; a short-lived runtime on its own thread does the
        // clean-up without blocking the test's runtime.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running server with a tenant `acme` whose admin holds `admin_key`.
pub struct TestServer {
    pub backend: Backend,
    /// A client without credentials.
    pub anonymous: Client,
    /// A client with the tenant admin's key.
    pub admin: Client,
    pub admin_key: String,
    pub admin_info: proto::UserInfo,
    pub clock: Arc<ManualClock>,
    pub easel: Arc<Easel>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub db: TestDb,
    /// The SMTP server that receives this server's mail, for `start_with_mail`.
    pub mail: Option<MailSink>,
}

/// A fixed start for every test's clock, so that expiry arithmetic is repeatable.
pub fn test_epoch() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

pub async fn start(backend: Backend) -> TestServer {
    start_with(backend, None, false).await
}

/// The limits tests run under unless they say otherwise: the defaults, with rate limits
/// switched off, because most tests make hundreds of requests from one address in a second.
pub fn test_limits() -> HttpLimits {
    let mut limits = HttpLimits::default();
    limits.rate_limits.active = false;
    limits
}

/// A server with limits of the test's choosing.
pub async fn start_with_limits(backend: Backend, limits: HttpLimits) -> TestServer {
    start_configured(backend, |options| options.limits = limits).await
}

/// A server whose options (limits, service configuration) the test adjusts.
pub async fn start_configured(
    backend: Backend,
    configure: impl FnOnce(&mut ServeOptions),
) -> TestServer {
    let db = TestDb::new(backend).await;
    let clock = Arc::new(ManualClock::new(test_epoch()));
    let (server, bootstrap) = launch_with(backend, db, clock, None, false, configure).await;
    let key = bootstrap.expect("a fresh database is bootstrapped");
    server.with_admin_key(key).await
}

/// A server whose mail goes to a real SMTP server on loopback (`server.mail`).
pub async fn start_with_mail(backend: Backend) -> TestServer {
    let sink = MailSink::start().await;
    start_with(backend, Some(sink), false).await
}

/// As `start_with_mail`, with self-service sign-up open.
pub async fn start_with_signup(backend: Backend) -> TestServer {
    let sink = MailSink::start().await;
    start_with(backend, Some(sink), true).await
}

async fn start_with(backend: Backend, mail: Option<MailSink>, allow_signup: bool) -> TestServer {
    let db = TestDb::new(backend).await;
    let clock = Arc::new(ManualClock::new(test_epoch()));
    let (mut server, bootstrap) =
        launch_with(backend, db, clock, mail.as_ref(), allow_signup, |_| {}).await;
    server.mail = mail;
    let key = bootstrap.expect("a fresh database is bootstrapped");
    server.with_admin_key(key).await
}

/// A second node on `first`'s database, with its own clock, signed in as `first`'s admin.
pub async fn second_node(first: &TestServer, clock: Arc<ManualClock>) -> TestServer {
    let (second, _) = launch(Backend::Postgres, first.db.shared(), clock).await;
    second.with_admin_key(first.admin_key.clone()).await
}

/// Asks `check` until it says yes, `tries` times at most with `pause` between; whether it
/// did. For what happens in its own time: a notification from another node, background work.
pub async fn eventually<F, Fut>(tries: u32, pause: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(pause).await;
    }
    false
}

/// Starts a server on `db`; returns the bootstrap key if this start created one.
pub async fn launch(
    backend: Backend,
    db: TestDb,
    clock: Arc<ManualClock>,
) -> (TestServer, Option<String>) {
    launch_with(backend, db, clock, None, false, |_| {}).await
}

async fn launch_with(
    backend: Backend,
    db: TestDb,
    clock: Arc<ManualClock>,
    mail: Option<&MailSink>,
    allow_signup: bool,
    configure: impl FnOnce(&mut ServeOptions),
) -> (TestServer, Option<String>) {
    let store = open_store(&db.url).await.expect("opening the test store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    let mut options = ServeOptions {
        bootstrap: BootstrapRequest {
            tenant_name: Some(TENANT.into()),
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
        },
        limits: test_limits(),
        // The tests' clock moves only when they move it; those of the refresh run it.
        refresh_cached_keys: false,
        ..ServeOptions::default()
    };
    options.easel.public_url = format!("http://{address}");
    options.easel.allow_signup = allow_signup;
    configure(&mut options);
    if let Some(sink) = mail {
        let mailer = easel::mail::SmtpMailer::new(&sink.url(), "Easel <noreply@easel.test>")
            .expect("an SMTP mailer");
        options.mailer = Some(Arc::new(mailer));
    }
    let prepared = prepare(store, clock.clone(), listener, options)
        .await
        .expect("starting the server");
    let base = format!("http://{}", prepared.address);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = easel_server::serve(prepared.listener, prepared.router, async {
            let _ = rx.await;
        })
        .await;
    });
    let key = prepared.bootstrap.map(|b| b.api_key);
    let anonymous = Client::new(base);
    (
        TestServer {
            backend,
            admin: anonymous.clone(),
            anonymous,
            admin_key: String::new(),
            admin_info: proto::UserInfo {
                org_name: String::new(),
                tenant_uid: String::new(),
                user_uid: String::new(),
            },
            clock,
            easel: prepared.easel,
            shutdown: Some(tx),
            task: Some(task),
            db,
            mail: None,
        },
        key,
    )
}

impl TestServer {
    pub async fn with_admin_key(mut self, key: String) -> TestServer {
        self.admin = self.anonymous.with_api_key(&key);
        self.admin_key = key;
        self.admin_info = self.admin.user_info().await.expect("the admin key works");
        self
    }

    /// Stops the server, waiting for it to finish, and hands back its database.
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        std::mem::replace(
            &mut self.db,
            TestDb {
                url: String::new(),
                _dir: None,
                postgres_name: None,
            },
        )
    }

    pub fn tenant_uid(&self) -> &str {
        &self.admin_info.tenant_uid
    }

    /// Creates a user (no roles unless given) and returns its uid.
    pub async fn create_user(&self, email: &str, roles: &[&str]) -> String {
        let entity = user_entity(email, "Test", "User", roles);
        self.admin
            .create_user(&entity)
            .await
            .expect("creating a user")
            .uid
    }

    /// Creates a user and a key for them; returns (uid, a client holding the key).
    pub async fn user_with_key(&self, email: &str) -> (String, Client) {
        let uid = self.create_user(email, &[]).await;
        let key = self.admin_create_key_for(&uid, "user key").await;
        (uid, self.anonymous.with_api_key(key.api_key))
    }

    pub async fn admin_create_key_for(
        &self,
        owner: &str,
        name: &str,
    ) -> proto::ApiKeyCreateResponse {
        self.admin
            .create_api_key(&key_entity(name, owner, None))
            .await
            .expect("creating a key")
    }

    /// A second tenant in the same database, with an admin holding a key.
    pub async fn other_tenant(&self, name: &str) -> Client {
        let email = format!("admin@{name}.test");
        self.easel
            .create_tenant(name, &email, "Other", "Admin")
            .await
            .expect("creating a second tenant");
        let key = self
            .easel
            .admin_create_api_key(Some(name), &email, None)
            .await
            .expect("a key for the second tenant's admin");
        self.anonymous.with_api_key(key)
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        // API-key sign-ins queue their audit rows without waiting for the commit.
        self.easel.drain_sign_ins().await;
        let tenant = easel_core::Uid::parse(self.tenant_uid()).expect("a tenant uid");
        self.easel
            .store()
            .audit_entries(&tenant, 1000)
            .await
            .expect("reading the audit log")
            .into_iter()
            .map(|a| a.action)
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn user_entity(email: &str, first: &str, last: &str, roles: &[&str]) -> proto::UserEntity {
    let mut entity = proto::UserEntity::default();
    entity.metadata.name = Some(format!("{first} {last}"));
    entity.spec.email_id = email.into();
    entity.spec.first_name = first.into();
    entity.spec.last_name = last.into();
    entity.spec.roles = roles.iter().map(|r| r.to_string()).collect();
    entity
}

pub fn key_entity(
    name: &str,
    owner: &str,
    expiry: Option<chrono::DateTime<Utc>>,
) -> proto::ApiKeyEntity {
    let mut entity = proto::ApiKeyEntity::default();
    entity.metadata.name = Some(name.into());
    entity.spec.user_uid = owner.into();
    entity.spec.expiry = expiry;
    entity
}

/// Asserts that a call failed with this status and error code.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(result: easel_client::Result<T>, status: u16, code: &str) {
    match result {
        Err(e) => {
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e}");
            assert_eq!(e.code(), Some(code), "{e}");
        }
        Ok(v) => panic!("expected {status} {code}, got success: {v:?}"),
    }
}

/// A real SMTP server (aiosmtpd, from PyPI, installed by `scripts/test.sh`) on a free
/// loopback port, delivering into a Maildir that the test reads.
pub struct MailSink {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

fn test_python() -> String {
    if let Ok(python) = std::env::var("EASEL_TEST_PYTHON") {
        return python;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python");
    if std::path::Path::new(venv).exists() {
        return venv.to_owned();
    }
    panic!(
        "the mail tests need aiosmtpd (a real SMTP server from PyPI): run ./scripts/test.sh, \
         which installs it into .venv, or set EASEL_TEST_PYTHON to a Python that has it"
    );
}

/// One received message, decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl ReceivedMail {
    /// The first link in the body that contains `fragment`.
    pub fn link(&self, fragment: &str) -> String {
        self.body
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(fragment))
            .unwrap_or_else(|| panic!("no link with {fragment} in {}", self.body))
            .to_owned()
    }

    /// The token a password link carries in its fragment.
    pub fn token(&self, fragment: &str) -> String {
        let link = self.link(fragment);
        link.split("#token=")
            .nth(1)
            .expect("a token in the link")
            .to_owned()
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = bytes.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mail(raw: &str) -> ReceivedMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continued header lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let encoding = header("Content-Transfer-Encoding").to_ascii_lowercase();
    let body = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("a base64 body"),
            )
            .into_owned()
        }
        _ => body.to_owned(),
    };
    ReceivedMail {
        to: header("To"),
        subject: header("Subject"),
        body,
    }
}

impl MailSink {
    pub async fn start() -> MailSink {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("an address").port()
        };
        let dir = tempfile::tempdir().expect("a Maildir");
        let child = std::process::Command::new(test_python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting aiosmtpd");
        let sink = MailSink { port, dir, child };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start listening on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.path().join("maildir").join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(raw) = std::fs::read_to_string(entry.path()) {
                    out.push(parse_mail(&raw));
                }
            }
        }
        out
    }

    /// Waits (up to 20 s) until `count` messages to `to` have arrived, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<ReceivedMail> {
        for _ in 0..400 {
            let got: Vec<ReceivedMail> = self
                .messages()
                .into_iter()
                .filter(|m| m.to.contains(to))
                .collect();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "{count} message(s) to {to} did not arrive; have {:?}",
            self.messages()
        );
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, each on a fresh server:
///
/// ```ignore
/// on_both_stores! {
///     async fn name(server) { … }
/// }
/// ```
macro_rules! on_both_stores {
    (@with $start:ident; $(async fn $name:ident($server:ident) $body:block)*) => {
        $crate::harness::on_both_stores!(@expand $start; $(async fn $name($server) $body)*);
    };
    ($(async fn $name:ident($server:ident) $body:block)*) => {
        $crate::harness::on_both_stores!(@expand start; $(async fn $name($server) $body)*);
    };
    (@expand $start:ident; $(async fn $name:ident($server:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[allow(unused_imports)]
                use crate::harness::*;

                async fn run($server: TestServer) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($start(Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($start(Backend::Postgres).await).await
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;
