//! Starting servers for tests.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use easel::{open_store, prepare, ServeOptions};
use easel_client::Client;
use easel_core::service::BootstrapRequest;
use easel_core::{Easel, ManualClock};
use easel_proto as proto;
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
}

/// A fixed start for every test's clock, so that expiry arithmetic is repeatable.
pub fn test_epoch() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

pub async fn start(backend: Backend) -> TestServer {
    let db = TestDb::new(backend).await;
    let clock = Arc::new(ManualClock::new(test_epoch()));
    let (server, bootstrap) = launch(backend, db, clock).await;
    let key = bootstrap.expect("a fresh database is bootstrapped");
    server.with_admin_key(key).await
}

/// Starts a server on `db`; returns the bootstrap key if this start created one.
pub async fn launch(
    backend: Backend,
    db: TestDb,
    clock: Arc<ManualClock>,
) -> (TestServer, Option<String>) {
    let store = open_store(&db.url).await.expect("opening the test store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let options = ServeOptions {
        bootstrap: BootstrapRequest {
            tenant_name: Some(TENANT.into()),
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
        },
        ..ServeOptions::default()
    };
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

/// Declares a test that runs once on SQLite and once on PostgreSQL, each on a fresh server:
///
/// ```ignore
/// on_both_stores! {
///     async fn name(server) { … }
/// }
/// ```
macro_rules! on_both_stores {
    ($(async fn $name:ident($server:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[allow(unused_imports)]
                use crate::harness::*;

                async fn run($server: TestServer) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(start(Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(start(Backend::Postgres).await).await
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;
