#![allow(clippy::unwrap_used)]
//! The test harness: `spawn_app` starts the real server on an ephemeral port with a fresh
//! database (a SQLite file in a temporary directory, or a new PostgreSQL database created for
//! the test and dropped after), seeded with a small organisation and one user per role.

#![allow(dead_code)]

use jiesu::app::App;
use jiesu::app::admin::UserInput;
use jiesu::config::{Config, Overrides};
use jiesu_core::org::UnitKind;
use jiesu_core::role::{Role, RoleSet};
use jiesu_core::{TenantId, UnitId};
use jiesu_store::catalog::Region;
use jiesu_store::org::UnitInput;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "test-password-1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests may use: `JIESU_TEST_POSTGRES_URL`, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`. Without it the PostgreSQL variant of a test is
/// skipped with a message, except under CI (`CI=true`), where that is a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var("JIESU_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "JIESU_TEST_POSTGRES_URL is not set: under CI the PostgreSQL tests must run"
                );
            }
            eprintln!("SKIPPED: PostgreSQL variant (set JIESU_TEST_POSTGRES_URL to run it)");
            None
        }
    }
}

/// A fresh PostgreSQL database, dropped when this is dropped.
pub struct PgDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create(base: &str) -> PgDb {
        use sqlx::Connection;
        let name = format!("jiesu_t_{}_{}", std::process::id(), rand_suffix());
        let mut c = sqlx::PgConnection::connect(base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .expect("create test database");
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => panic!("JIESU_TEST_POSTGRES_URL must end in /DATABASE"),
        };
        PgDb {
            admin_url: base.to_string(),
            name,
            url,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // Drop from a separate runtime: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            }
        })
        .join();
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", n % 0xffff_ffff_ffff)
}

/// The seeded organisation: ids by short name.
pub struct Seed {
    pub tenant: TenantId,
    pub units: HashMap<&'static str, UnitId>,
}

/// A test application whose server is down (see [`TestApp::restart_stopped`]).
pub struct Stopped {
    pub seed: Seed,
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    pub pg: Option<PgDb>,
}

impl Stopped {
    /// Starts a new server on the same database.
    pub async fn start(self, config: Config) -> TestApp {
        let app = jiesu::open_app(config.clone()).await.expect("reopen app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server_app = app.clone();
        let server = tokio::spawn(async move {
            let _ = jiesu::launch(listener, server_app, async {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            base: format!("http://{addr}"),
            app,
            config,
            seed: self.seed,
            backend: self.backend,
            data_dir: self.data_dir,
            shutdown: Some(tx),
            server: Some(server),
            _pg: self.pg,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub app: Arc<App>,
    pub config: Config,
    pub seed: Seed,
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _pg: Option<PgDb>,
}

/// The `id` of every entry of the array `key` of `v` (a list's `items`, an order's
/// `repeat_of`).
pub fn ids_in(v: &serde_json::Value, key: &str) -> Vec<i64> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn unit(&self, name: &str) -> i64 {
        self.seed.units[name].0
    }

    /// A client logged in as `username` (cookie session).
    pub async fn login(&self, username: &str) -> Client {
        self.login_tenant(username, "t1").await
    }

    /// A client logged in as `username` of the tenant with code `tenant`.
    pub async fn login_tenant(&self, username: &str, tenant: &str) -> Client {
        let c = Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let r = c
            .post(self.url("/api/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD, "tenant": tenant}))
            .send()
            .await
            .expect("login request");
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "login as {username}: {}",
            r.text().await.unwrap_or_default()
        );
        c
    }

    /// Accepts an order as `agent` with sensible defaults overridden by `fields`.
    pub async fn accept(&self, agent: &Client, fields: Value) -> Value {
        let mut body = json!({
            "channel": "phone",
            "request_type": "complaint",
            "content": "小区楼下烧烤店油烟扰民，晚上十二点还在营业，请有关部门处理。",
            "citizen": {"name": "张三", "phone": "13800138000"},
            "address": "A区一街道幸福小区",
            "region_code": "990101001",
        });
        if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = agent
            .post(self.url("/api/orders"))
            .json(&body)
            .send()
            .await
            .expect("accept");
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap_or_default()
        );
        r.json().await.expect("json")
    }

    /// Stops the server and starts a new one on the same database, as after downtime.
    pub async fn restart(self, config: Config) -> TestApp {
        self.restart_stopped().await.start(config).await
    }

    /// Stops the server and lets go of the application (its database pools stay open in
    /// other handles; its search index is released).
    pub async fn restart_stopped(mut self) -> Stopped {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        let TestApp {
            app,
            seed,
            backend,
            data_dir,
            _pg,
            ..
        } = self;
        drop(app);
        // The aborted background tasks drop their handles on their next poll.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Stopped {
            seed,
            backend,
            data_dir,
            pg: _pg,
        }
    }

    /// Runs `sql` on the test's database beside the server (to set up a state the API does
    /// not make, or to spoil one).
    pub async fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let url = format!(
                    "sqlite://{}",
                    self.data_dir.path().join("jiesu.db").display()
                );
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.config.database_url)
                    .await
                    .unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
        }
    }

    /// The agent of the seeded tenant, for calling use cases directly.
    pub async fn agent_principal(&self) -> jiesu::app::Principal {
        let u = self
            .app
            .store
            .user_by_name(self.seed.tenant, "agent")
            .await
            .expect("store")
            .expect("agent");
        jiesu::app::Principal {
            tenant: self.seed.tenant,
            user_id: u.id,
            username: u.username,
            display_name: u.display_name,
            unit_id: u.unit_id,
            roles: u.roles,
            token_scopes: None,
        }
    }

    /// Shuts the server down and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }
}

/// Percent-encodes a query value (Chinese search text).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn post(c: &Client, url: String, body: Value) -> Response {
    c.post(url).json(&body).send().await.expect("request")
}

/// Posts and returns (status, body).
pub async fn call(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = post(c, url, body).await;
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn put(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = c.put(url).json(&body).send().await.expect("put");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn get(c: &Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.expect("request");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Tests drive the scheduler themselves (`run_scheduler_once` at chosen times).
pub fn test_config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    let mut c = Config::load(
        None,
        &Overrides {
            data_dir: Some(dir.to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
            database_url,
        },
    )
    .expect("config");
    c.scheduler_interval_ms = 0;
    // Webhook retries in tens of milliseconds, not seconds: the failure tests stay short.
    c.webhook_timeout_ms = 400;
    c.webhook_retry_base_ms = 50;
    c
}

async fn unit(
    app: &App,
    t: TenantId,
    parent: Option<UnitId>,
    kind: UnitKind,
    name: &str,
    region: Option<&str>,
) -> UnitId {
    app.store
        .create_unit(
            t,
            &UnitInput {
                parent_id: parent,
                kind,
                name: name.into(),
                region_code: region.map(str::to_string),
                active: true,
            },
        )
        .await
        .expect("unit")
}

async fn user(app: &App, t: TenantId, name: &str, roles: &[Role], unit: UnitId) {
    app.add_user(
        t,
        UserInput {
            username: name.into(),
            display_name: name.into(),
            password: Some(PASSWORD.into()),
            unit_id: unit,
            roles: RoleSet::of(roles),
            system_account: false,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("user {name}: {e}"));
}

/// Tenant t1: city centre → district centre D (towns T1, T2; community C under T1) and
/// departments P1, P2; one user per role plus unit staff. Tenant t2: a second platform.
pub async fn seed(app: &App) -> Seed {
    let t = jiesu::demo::create_tenant(app, "t1", "测试市12345热线", "admin", PASSWORD)
        .await
        .expect("tenant");
    let root = app.store.units(t).await.expect("units")[0].id;
    app.store
        .insert_regions(
            t,
            &[
                Region {
                    code: "990100".into(),
                    name: "测试市".into(),
                    level: 2,
                    parent_code: None,
                },
                Region {
                    code: "990101".into(),
                    name: "A区".into(),
                    level: 3,
                    parent_code: Some("990100".into()),
                },
                Region {
                    code: "990101001".into(),
                    name: "一街道".into(),
                    level: 4,
                    parent_code: Some("990101".into()),
                },
                Region {
                    code: "990101002".into(),
                    name: "二街道".into(),
                    level: 4,
                    parent_code: Some("990101".into()),
                },
                Region {
                    code: "990102".into(),
                    name: "B区".into(),
                    level: 3,
                    parent_code: Some("990100".into()),
                },
            ],
        )
        .await
        .expect("regions");
    let d = unit(
        app,
        t,
        Some(root),
        UnitKind::DistrictCentre,
        "A区分中心",
        Some("990101"),
    )
    .await;
    let t1 = unit(app, t, Some(d), UnitKind::Town, "一街道", Some("990101001")).await;
    let t2 = unit(app, t, Some(d), UnitKind::Town, "二街道", Some("990101002")).await;
    let c = unit(app, t, Some(t1), UnitKind::Community, "幸福社区", None).await;
    let p1 = unit(app, t, Some(root), UnitKind::Department, "住建局", None).await;
    let p2 = unit(app, t, Some(root), UnitKind::Department, "城管局", None).await;
    let p1a = unit(app, t, Some(p1), UnitKind::Department, "住建局物业科", None).await;
    app.invalidate_caches(t);
    for (name, roles, u) in [
        ("agent", vec![Role::Agent], root),
        ("dispatcher", vec![Role::Dispatcher], root),
        ("callback", vec![Role::Callback], root),
        ("supervisor", vec![Role::Supervisor], root),
        ("leader", vec![Role::Leader], root),
        ("handler", vec![Role::Handler], p1),
        ("unit_admin", vec![Role::UnitAdmin], p1),
        ("handler2", vec![Role::Handler], p2),
        ("district", vec![Role::Dispatcher, Role::Handler], d),
        ("town1", vec![Role::Handler], t1),
        ("town2", vec![Role::Handler], t2),
        ("community", vec![Role::Handler], c),
    ] {
        user(app, t, name, &roles, u).await;
    }
    // A second platform on the same server.
    let t2id = jiesu::demo::create_tenant(app, "t2", "另一市12345热线", "admin2", PASSWORD)
        .await
        .expect("tenant 2");
    let root2 = app.store.units(t2id).await.expect("units")[0].id;
    user(app, t2id, "agent2", &[Role::Agent], root2).await;
    let mut units = HashMap::new();
    for (k, v) in [
        ("root", root),
        ("D", d),
        ("T1", t1),
        ("T2", t2),
        ("C", c),
        ("P1", p1),
        ("P1a", p1a),
        ("P2", p2),
        ("root2", root2),
    ] {
        units.insert(k, v);
    }
    Seed { tenant: t, units }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDb::create(&postgres_url()?).await),
    };
    let config = test_config(data_dir.path(), pg.as_ref().map(|p| p.url.clone()));
    let app = jiesu::open_app(config.clone()).await.expect("open app");
    let seed = seed(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        let _ = jiesu::launch(listener, server_app, async {
            let _ = rx.await;
        })
        .await;
    });
    Some(TestApp {
        base: format!("http://{addr}"),
        app,
        config,
        seed,
        backend,
        data_dir,
        shutdown: Some(tx),
        server: Some(server),
        _pg: pg,
    })
}

/// Defines `<name>_on_sqlite` and `<name>_on_postgres` running `scenario(&TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $scenario:path),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = $crate::common::spawn_app($crate::common::Backend::Sqlite).await.expect("sqlite");
                    $scenario(&t).await;
                    t.stop().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(t) = $crate::common::spawn_app($crate::common::Backend::Postgres).await else { return };
                    $scenario(&t).await;
                    t.stop().await;
                }
            )+
        }
    };
}
