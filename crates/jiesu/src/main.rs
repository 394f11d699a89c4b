use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use jiesu::app::admin::UserInput;
use jiesu::app::report::ReportKind;
use jiesu::config::{Config, Overrides};
use jiesu_core::role::RoleSet;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// jemalloc instead of the system's allocator. glibc's allocator was ~13% of the server's CPU
/// under load, kept the memory of each model training (hundreds of MiB, freed on a thread's
/// own arena) for good, and was ~12% of the write connection's thread in the soak. Built
/// unprefixed, jemalloc is the C code's `malloc` too, so the bundled SQLite allocates every
/// page, bound value and record through it. mimalloc, the allocator before, created orders as
/// fast, but on fast machines the server's memory rose through the whole of a 30-minute soak
/// while a heap profile showed the live heap flat over its last half: mimalloc kept what was
/// freed. jemalloc gives freed pages back after a few seconds and held ~100 MiB less in the
/// same soak; whether it costs the soak latency is not settled (docs/design.md, "jemalloc
/// instead of mimalloc"). Its options come from `MALLOC_CONF`.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Turns transparent huge pages off for the process, unless `JIESU_ALLOW_THP` is set (then the
/// system's setting applies). A huge page stays resident until the kernel splits it, so what
/// the allocator frees inside one is not given back at once: under mimalloc, which asked for
/// them, the server's memory rose the whole of a 30-minute soak (+12%, ~390 MiB of it in
/// huge pages at the end). With them off, the same soak on the same machine had ~100 MiB less
/// memory and 5 against 34 of 180 ten-second windows over 50 ms (docs/design.md,
/// "Transparent huge pages off"). jemalloc does not ask for them, but a system that gives
/// them to every process (`always`) would.
fn transparent_huge_pages_off() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("JIESU_ALLOW_THP").is_none() {
        // Fails only on kernels before 3.15; the process then runs as it would without.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

/// Whether transparent huge pages are off for the process.
fn transparent_huge_pages_are_off() -> bool {
    #[cfg(target_os = "linux")]
    return rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(false);
    #[cfg(not(target_os = "linux"))]
    false
}

/// Jiesu 接诉即办: the work-order platform of a 12345 government service hotline.
#[derive(Parser)]
#[command(name = "jiesu", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true)]
    config: Option<PathBuf>,
    /// Data directory (database, backups).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, global = true)]
    listen: Option<String>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: a SQLite file in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(
            self.config.as_deref(),
            &Overrides {
                data_dir: self.data_dir.clone(),
                listen: self.listen.clone(),
                database_url: self.database_url.clone(),
            },
        )?)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
    },
    /// Fill a fresh data directory with a demo city, print the logins, and serve it.
    Demo {
        #[command(flatten)]
        common: Common,
        /// Build the data and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Replace an existing demo database in the data directory.
        #[arg(long)]
        reset: bool,
    },
    /// Apply pending database migrations.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Create a tenant with its city centre, default categories and first administrator.
    Init {
        #[command(flatten)]
        common: Common,
        /// Tenant code, e.g. ordos.
        #[arg(long)]
        tenant: String,
        /// Platform name, e.g. 鄂尔多斯市12345政务服务便民热线.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "admin")]
        admin_username: String,
        /// Read from the JIESU_PASSWORD environment variable if not given.
        #[arg(long, env = "JIESU_PASSWORD", hide_env_values = true)]
        admin_password: String,
    },
    /// Manage staff accounts.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Import work orders from JSONL, CSV or XLSX.
    Import {
        #[command(flatten)]
        common: Common,
        /// The file to import.
        file: PathBuf,
        /// jsonl, csv or xlsx (default: from the file extension).
        #[arg(long)]
        format: Option<String>,
        /// Tenant code (default: the configured default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The account the orders are recorded as accepted by.
        #[arg(long, default_value = "admin")]
        as_user: String,
    },
    /// Write an online, consistent copy of the database.
    Backup {
        #[command(flatten)]
        common: Common,
        /// Destination file (default: DATA_DIR/backups/jiesu-<time>.db).
        #[arg(long, alias = "out")]
        to: Option<PathBuf>,
    },
    /// Restore a backup into a new data directory (or, for a pg_dump file, into the empty
    /// PostgreSQL database of --database-url), then verify every order's history.
    Restore {
        #[command(flatten)]
        common: Common,
        /// The backup file (`jiesu backup`).
        file: PathBuf,
    },
    /// Copy one tenant from the embedded SQLite database (the data directory's, or
    /// --database-url) to PostgreSQL, all or nothing, then check the copy.
    Copy {
        #[command(flatten)]
        common: Common,
        /// The tenant's code.
        #[arg(long)]
        tenant: String,
        /// The PostgreSQL database to copy into (postgres://…); migrated first.
        #[arg(long)]
        to: String,
    },
    /// Send every reminder and overdue mark due by now (or by --at) in one pass, and report.
    Scheduler {
        #[command(flatten)]
        common: Common,
        /// The time to run the pass as of (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        /// Stop after about this many orders (default: all that are due).
        #[arg(long)]
        budget: Option<u64>,
        /// Only count the orders with an alert due; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Knowledge base: import and export entries.
    Kb {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: KbCmd,
    },
    /// Rebuild the search indexes from the database (stop the server first).
    Reindex {
        #[command(flatten)]
        common: Common,
    },
    /// Citizens' personal data at rest: key rotation.
    Pii {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: PiiCmd,
    },
    /// Check every order's hash chain and state; exits 1 naming the first broken link.
    Verify {
        #[command(flatten)]
        common: Common,
    },
    /// The dispatch classifier, offline.
    Classifier {
        #[command(subcommand)]
        action: ClassifierCmd,
    },
    /// Reports (月报 …) written to a file.
    Report {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        kind: ReportCmd,
    },
    /// Hot spots of a JSONL file of requests (rows: id, title, content, time), offline:
    /// prints the clusters as JSON, largest first.
    Hotspots {
        file: PathBuf,
        /// Fewest requests in a cluster.
        #[arg(long, default_value_t = 2)]
        min_size: usize,
        /// At most this many clusters.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// Where a report goes and who makes it.
#[derive(clap::Args)]
struct ReportOut {
    /// The file to write: .xlsx (a workbook) or .pdf (printable).
    #[arg(long)]
    out: PathBuf,
    /// Tenant code (default: the configured default tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// The account the report is made as (a centre supervisor, leader or admin).
    #[arg(long, default_value = "admin")]
    as_user: String,
}

#[derive(Subcommand)]
enum ReportCmd {
    /// The daily report (日报) of one day.
    Daily {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[command(flatten)]
        to: ReportOut,
    },
    /// The weekly report (周报) of the Monday-to-Sunday week of a day.
    Weekly {
        /// A day of the week, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[command(flatten)]
        to: ReportOut,
    },
    /// The monthly report (月报): rates, volumes, rankings, hot spots, re-handled orders.
    Monthly {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        to: ReportOut,
    },
}

#[derive(Subcommand)]
enum ClassifierCmd {
    /// Train on one labelled JSONL file and score another (rows: title, content, category);
    /// prints one JSON line with accuracy, macro_f1, calibration_error and per-class figures.
    Eval {
        #[arg(long)]
        train: PathBuf,
        #[arg(long)]
        test: PathBuf,
    },
}

#[derive(Subcommand)]
enum PiiCmd {
    /// Add a new key to the key file (it seals from now on; running nodes take it within
    /// 10 s) and re-seal every order's phone and ID number under it. With --retire instead:
    /// re-seal what is left and remove the older keys once nothing is sealed with them.
    Rotate {
        /// Remove the older keys (run it after a rotation, once every node has the new key).
        #[arg(long)]
        retire: bool,
    },
    /// The keys of the key file and how many orders each seals.
    Status,
}

#[derive(Subcommand)]
enum KbCmd {
    /// Import entries from JSONL or XLSX (fields title, answer, questions, category, unit,
    /// region, tags, effective_from, effective_to) and publish them. The first bad line
    /// stops the import; nothing is stored then.
    Import {
        /// The file (.jsonl or .xlsx).
        file: PathBuf,
        /// Tenant code (default: the configured default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The account recorded as having imported them.
        #[arg(long, default_value = "admin")]
        as_user: String,
    },
    /// Export every entry (latest versions) to a .jsonl or .xlsx file that imports again.
    Export {
        /// The file to write (.jsonl or .xlsx).
        file: PathBuf,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account.
    Add {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read from the JIESU_PASSWORD environment variable if not given.
        #[arg(long, env = "JIESU_PASSWORD", hide_env_values = true)]
        password: String,
        /// Unit id (see GET /api/units).
        #[arg(long)]
        unit: i64,
        /// Comma-separated roles: agent,dispatcher,handler,unit_admin,callback,supervisor,leader,admin.
        #[arg(long)]
        roles: String,
    },
    /// Set a new password; ends the user's sessions.
    ResetPassword {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        username: String,
        #[arg(long, env = "JIESU_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_env("JIESU_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colours only on a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.listen_addr()?;
    let app = jiesu::open_app(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(
        %local,
        backend = ?app.store.backend(),
        huge_pages_off = transparent_huge_pages_are_off(),
        "serving"
    );
    println!("Jiesu is listening on http://{local}/  (API docs: http://{local}/api/docs/)");
    jiesu::launch(listener, app, jiesu::shutdown_signal()).await
}

fn main() {
    // First, before the memory the process keeps is allocated.
    transparent_huge_pages_off();
    let cli = Cli::parse();
    // The database writer (its thread and, on SQLite, its connection's thread) is started
    // from this thread and keeps the normal priority; the runtime's threads, which handle
    // requests and derive indexes and messages, run a little below it. Every acceptance
    // waits for the writer's next commit, a chain of hand-offs between those two threads:
    // on a busy machine each hand-off queued behind request work, and the writer, not the
    // processors, set the pace.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(lower_thread_priority)
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
    // The server has drained and the database writer has finished: derived data still
    // being computed in the background (models, hot spots) is rebuilt at the next start,
    // so it does not hold the process.
    std::process::exit(0);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Serve { common } => {
            let config = common.load()?;
            init_logging(&config.log_format);
            serve(config).await
        }
        Cmd::Demo {
            common,
            no_serve,
            reset,
        } => {
            let config = common.load()?;
            init_logging(&config.log_format);
            let logins = jiesu::demo::prepare(&config, reset).await?;
            print!("{logins}");
            if no_serve {
                return Ok(());
            }
            serve(config).await
        }
        Cmd::Migrate { common } => {
            let config = common.load()?;
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("data_dir {}", config.data_dir.display()))?;
            // The schema only: no personal-data key is made or recorded here, so that a
            // migration run from an operator's machine cannot put a key of its own into
            // the record the nodes are checked against.
            let store = jiesu_store::Store::open(
                &config.database_url(),
                &jiesu_store::StoreOptions::default(),
            )
            .await?;
            let applied = store.applied_migrations().await;
            store.close().await;
            let applied = applied?;
            println!(
                "database is at migration {}",
                applied.last().map(String::as_str).unwrap_or("none")
            );
            Ok(())
        }
        Cmd::Init {
            common,
            tenant,
            name,
            admin_username,
            admin_password,
        } => {
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let t =
                jiesu::demo::create_tenant(&app, &tenant, &name, &admin_username, &admin_password)
                    .await?;
            println!(
                "created tenant {tenant} (id {}) with administrator {admin_username}",
                t.0
            );
            app.store.close().await;
            Ok(())
        }
        Cmd::User { common, action } => {
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let r = user_command(&app, action).await;
            app.store.close().await;
            r
        }
        Cmd::Import {
            common,
            file,
            format,
            tenant,
            as_user,
        } => {
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let summary = jiesu::import::run(
                &app,
                &file,
                format.as_deref(),
                tenant.as_deref(),
                &as_user,
                true,
            )
            .await;
            app.store.close().await;
            let summary = summary?;
            print!("{}", summary.report());
            if summary.imported == 0 && summary.rejected.is_empty() {
                bail!("the file holds no rows");
            }
            Ok(())
        }
        Cmd::Kb { common, action } => {
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let r = kb_command(&app, action).await;
            app.store.close().await;
            r
        }
        Cmd::Reindex { common } => {
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let r = reindex(&app).await;
            app.store.close().await;
            r
        }
        Cmd::Backup { common, to } => {
            let config = common.load()?;
            let dest = match to {
                Some(p) => p,
                None => {
                    let dir = config.data_dir.join("backups");
                    std::fs::create_dir_all(&dir)?;
                    let ext = if config.database_url().starts_with("sqlite:") {
                        "db"
                    } else {
                        "pgdump"
                    };
                    dir.join(format!(
                        "jiesu-{}.{ext}",
                        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
                    ))
                }
            };
            if dest.exists() {
                bail!(
                    "{} already exists; choose another destination",
                    dest.display()
                );
            }
            let url = config.database_url();
            if !url.starts_with("sqlite:") {
                // PostgreSQL's own tool takes an online, consistent snapshot; restore it with
                // `pg_restore --dbname URL FILE`.
                let out = std::process::Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--file"])
                    .arg(&dest)
                    .arg("--dbname")
                    .arg(&url)
                    .output()
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot run pg_dump ({e}): install the PostgreSQL client tools"
                        )
                    })?;
                if !out.status.success() {
                    bail!(
                        "pg_dump failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                let bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
                println!(
                    "backup written to {} ({bytes} bytes, pg_dump custom format)",
                    dest.display()
                );
                return backup_keys(&config, &dest);
            }
            let app = jiesu::open_app(config.clone()).await?;
            let r = app.store.backup_to(&dest).await;
            app.store.close().await;
            let bytes = r?;
            println!("backup written to {} ({bytes} bytes)", dest.display());
            backup_keys(&config, &dest)
        }
        Cmd::Copy { common, tenant, to } => {
            let config = common.load()?;
            struct Bar(indicatif::ProgressBar);
            impl jiesu_store::copy::CopyProgress for Bar {
                fn total(&mut self, rows: u64) {
                    self.0.set_length(rows);
                }
                fn table(&mut self, name: &str, rows: u64) {
                    self.0.set_message(name.to_string());
                    self.0.inc(rows);
                }
            }
            let mut bar = Bar(indicatif::ProgressBar::new(0));
            let keys = std::sync::Arc::new(jiesu::pii_keys(&config)?);
            let r = jiesu_store::copy::copy_tenant(
                &config.database_url(),
                &to,
                &tenant,
                keys,
                &mut bar,
            )
            .await;
            bar.0.finish_and_clear();
            let report = r?;
            for (table, rows) in report.tables.iter().filter(|t| t.1 > 0) {
                println!("{table:<24} {rows:>10}");
            }
            println!(
                "copied tenant {tenant}: {} rows in {} tables; counts checked, {} orders' histories verified on the target",
                report.rows,
                report.tables.len(),
                report.orders_verified
            );
            Ok(())
        }
        Cmd::Scheduler {
            common,
            at,
            budget,
            dry_run,
        } => {
            let config = common.load()?;
            let now = match at {
                Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| anyhow::anyhow!("--at: “{s}” is not an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let app = jiesu::open_app(config).await?;
            let started = std::time::Instant::now();
            if dry_run {
                let due = app.count_due_alerts(now).await;
                let elapsed = started.elapsed();
                app.store.close().await;
                let due = due.map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "scheduler scan as of {now}: {due} orders due, in {:.1} ms (nothing sent)",
                    elapsed.as_secs_f64() * 1000.0
                );
                return Ok(());
            }
            let pass = app.run_scheduler(now, budget.unwrap_or(u64::MAX)).await;
            let elapsed = started.elapsed();
            app.store.close().await;
            let pass = pass.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "scheduler pass as of {now}: {} orders due, {} alerted, in {:.1} ms",
                pass.orders,
                pass.alerted,
                elapsed.as_secs_f64() * 1000.0
            );
            Ok(())
        }
        Cmd::Report { common, kind } => {
            let (kind, key, to) = match kind {
                ReportCmd::Daily { date, to } => (ReportKind::Daily, date, to),
                ReportCmd::Weekly { date, to } => (ReportKind::Weekly, date, to),
                ReportCmd::Monthly { month, to } => (ReportKind::Monthly, month, to),
            };
            let ext = to
                .out
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            let pdf = match ext.as_deref() {
                Some("xlsx") => false,
                Some("pdf") => true,
                _ => anyhow::bail!(
                    "--out {}: the report is written as .xlsx or .pdf",
                    to.out.display()
                ),
            };
            let config = common.load()?;
            let app = jiesu::open_app(config).await?;
            let r = async {
                let p = jiesu::import::principal(&app, to.tenant.as_deref(), &to.as_user).await?;
                let report = app
                    .report(&p, kind, &key)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", field_message(&e)))?;
                let bytes = if pdf {
                    jiesu::report_pdf::report_pdf(&report)
                } else {
                    jiesu::report::report_xlsx(&report)?
                };
                std::fs::write(&to.out, bytes)
                    .with_context(|| format!("cannot write {}", to.out.display()))?;
                println!(
                    "{} {}: {} orders accepted, written to {}",
                    report.name,
                    kind.label(),
                    report.figures.counts.accepted,
                    to.out.display()
                );
                anyhow::Ok(())
            }
            .await;
            app.store.close().await;
            r
        }
        Cmd::Hotspots {
            file,
            min_size,
            limit,
        } => {
            let clusters = jiesu::hotspotfile::hotspots_of_file(&file, min_size, limit)?;
            println!("{}", serde_json::to_string_pretty(&clusters)?);
            Ok(())
        }
        Cmd::Classifier {
            action: ClassifierCmd::Eval { train, test },
        } => {
            let report = jiesu::classifier::eval_files(&train, &test)?;
            println!("{report}");
            Ok(())
        }
        Cmd::Pii { common, action } => pii(common.load()?, action).await,
        Cmd::Verify { common } => verify(common.load()?).await,
        Cmd::Restore { common, file } => {
            let config = common.load()?;
            restore(&config, &file)?;
            verify(config).await
        }
    }
}

/// The key file that goes with a backup file.
fn keys_beside(backup: &std::path::Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// A backup's personal data stays sealed. Where the key file lives in the data directory
/// (the default) a copy goes beside the backup, so that the backup restores as a whole;
/// where it is kept elsewhere, the backup holds no key and restoring needs that file.
fn backup_keys(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let keys = config.pii_key_path();
    if !keys.exists() {
        println!(
            "no key file at {}: restore with the pii_key_file of the nodes",
            keys.display()
        );
        return Ok(());
    }
    if !keys.starts_with(&config.data_dir) {
        println!(
            "personal data is sealed with the keys of {}, which is not in the backup: restore with the same pii_key_file",
            keys.display()
        );
        return Ok(());
    }
    let to = keys_beside(dest);
    copy_owner_only(&keys, &to)?;
    println!(
        "keys written to {} (keep it as safe as the data: it opens the phone and ID numbers)",
        to.display()
    );
    Ok(())
}

/// Copies a key file, readable by its owner only.
fn copy_owner_only(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// `jiesu pii rotate` and `jiesu pii status`.
async fn pii(config: Config, action: PiiCmd) -> anyhow::Result<()> {
    let path = config.pii_key_path();
    let added = match &action {
        PiiCmd::Rotate { retire: false } => {
            if !path.exists() {
                bail!(
                    "no key file at {}: nothing is sealed yet (the server makes it on its first start)",
                    path.display()
                );
            }
            Some(jiesu_store::pii::add_key(&path)?)
        }
        _ => None,
    };
    let app = jiesu::open_app(config).await?;
    let r = pii_action(&app, &path, action, added).await;
    app.store.close().await;
    r
}

async fn pii_action(
    app: &jiesu::app::App,
    path: &std::path::Path,
    action: PiiCmd,
    added: Option<String>,
) -> anyhow::Result<()> {
    let ring = app.store.pii().ring();
    let current = ring.current_id().unwrap_or("-").to_string();
    let pass = |what: &'static str| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(what);
        bar
    };
    match action {
        PiiCmd::Status => {
            let bar = pass("counting");
            let usage = app.store.pii_key_usage(|n| bar.set_position(n)).await;
            bar.finish_and_clear();
            let usage = usage?;
            println!("key file {}", path.display());
            for id in ring.ids() {
                let mark = if id == current { " (seals)" } else { "" };
                println!(
                    "{id}{mark}: {} orders",
                    usage.get(&id).copied().unwrap_or(0)
                );
            }
            println!("not sealed: {} orders", usage.get("").copied().unwrap_or(0));
            Ok(())
        }
        PiiCmd::Rotate { retire: false } => {
            let bar = pass("re-sealing");
            let r = app.store.reseal_pii(|n| bar.set_position(n)).await;
            bar.finish_and_clear();
            let r = r?;
            println!(
                "key {} seals from now on; {} orders and {} events re-sealed of {} orders ({} changed meanwhile)",
                added.as_deref().unwrap_or(&current),
                r.orders_resealed,
                r.events_resealed,
                r.orders,
                r.changed_meanwhile
            );
            println!(
                "running nodes take the new key within 10 s; then `jiesu pii rotate --retire` removes the older keys"
            );
            Ok(())
        }
        PiiCmd::Rotate { retire: true } => {
            let older: Vec<String> = ring.ids().into_iter().filter(|k| *k != current).collect();
            if older.is_empty() {
                println!("only key {current} is in the key file: nothing to retire");
                return Ok(());
            }
            // Passes until one finds nothing left to re-seal.
            for _ in 0..3 {
                let bar = pass("re-sealing what is left");
                let r = app.store.reseal_pii(|n| bar.set_position(n)).await;
                bar.finish_and_clear();
                let r = r?;
                if r.settled() {
                    app.store.forget_pii_keys(&older).await?;
                    jiesu_store::pii::remove_keys(path, &older)?;
                    println!(
                        "retired {}: all {} orders are sealed with {current}",
                        older.join(", "),
                        r.orders
                    );
                    return Ok(());
                }
            }
            bail!(
                "orders are still being written under an older key: is every node reading {}? Nothing was retired; run it again",
                path.display()
            )
        }
    }
}

/// Checks every order's chain; exits with 1 naming the first broken link.
async fn verify(config: jiesu::config::Config) -> anyhow::Result<()> {
    let app = jiesu::open_app(config).await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("verifying order histories");
    let report = app.store.verify(|n| bar.set_position(n)).await;
    bar.finish_and_clear();
    app.store.close().await;
    let report = report?;
    println!(
        "checked {} orders and {} events",
        report.orders, report.events
    );
    if let Some(first) = report.problems.first() {
        for p in &report.problems {
            eprintln!(
                "BROKEN order {} (id {}, tenant {}) at event #{}: {}",
                p.number, p.order_id, p.tenant_id, p.seq, p.reason
            );
        }
        eprintln!(
            "first broken link: order {} event #{}",
            first.number, first.seq
        );
        std::process::exit(1);
    }
    println!("all chains intact");
    Ok(())
}

/// Puts a backup in place: a SQLite backup becomes the data directory's database (never over
/// one); a pg_dump file (`jiesu backup` on PostgreSQL) is restored with pg_restore into the
/// empty database of --database-url.
fn restore(config: &jiesu::config::Config, file: &std::path::Path) -> anyhow::Result<()> {
    restore_database(config, file)?;
    // The keys written beside the backup, where the node has none yet.
    let beside = keys_beside(file);
    let keys = config.pii_key_path();
    if beside.exists() && !keys.exists() {
        copy_owner_only(&beside, &keys)?;
        println!("keys restored to {}", keys.display());
    }
    Ok(())
}

fn restore_database(config: &jiesu::config::Config, file: &std::path::Path) -> anyhow::Result<()> {
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f =
            std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        f.read_exact(&mut head)
            .map_err(|_| anyhow::anyhow!("{} is not a backup (too short)", file.display()))?;
    }
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        let out = std::process::Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(&url)
            .arg(file)
            .output()
            .map_err(|e| {
                anyhow::anyhow!("cannot run pg_restore ({e}): install the PostgreSQL client tools")
            })?;
        if !out.status.success() {
            bail!(
                "pg_restore failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        println!("restored {} into the PostgreSQL database", file.display());
        return Ok(());
    }
    if &head != b"SQLite format 3\0" {
        bail!(
            "{} is not a SQLite backup (for a pg_dump file give --database-url postgres://…)",
            file.display()
        );
    }
    let path = std::path::PathBuf::from(
        url.trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or_default(),
    );
    if path.exists() {
        bail!(
            "{} already holds a database: restore into a new data directory",
            path.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Copied beside it, then renamed: never a half-written database under the real name.
    let partial = path.with_extension("db.restoring");
    std::fs::copy(file, &partial)?;
    std::fs::rename(&partial, &path)?;
    println!("restored {} to {}", file.display(), path.display());
    Ok(())
}

/// A terminal progress bar for a rebuild.
struct Bar(indicatif::ProgressBar);

impl jiesu::app::kb::Progress for Bar {
    fn total(&self, n: u64) {
        self.0.set_length(n);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

async fn reindex(app: &jiesu::app::App) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "indexing knowledge entries {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let n = app
        .kb_rebuild(&Bar(bar.clone()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    println!(
        "indexed {n} knowledge entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "indexing orders {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let n = app
        .rebuild_orders(&Bar(bar.clone()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    println!(
        "indexed {n} orders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    app.compact_indexes(jiesu::app::search::Compaction::Bulk)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "merged index segments in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn kb_command(app: &jiesu::app::App, action: KbCmd) -> anyhow::Result<()> {
    match action {
        KbCmd::Import {
            file,
            tenant,
            as_user,
        } => {
            let p = jiesu::import::principal(app, tenant.as_deref(), &as_user).await?;
            let format = jiesu::kbfile::format_of(&file.to_string_lossy())
                .context("the file must end in .jsonl or .xlsx")?;
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let org = app
                .org(p.tenant)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let refs = app
                .ref_data(p.tenant)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let items = jiesu::kbfile::parse(&data, format, &org, &refs)
                .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
            let n = app
                .kb_import_as(&p, items)
                .await
                .map_err(|e| anyhow::anyhow!("{}", field_message(&e)))?;
            println!("imported and published {n} knowledge entries");
            // The index follows the database: here at once, or, while a server holds the
            // index, through that server's catch-up within a second.
            match app.kb_catch_up().await {
                Ok(_) => println!("search index updated"),
                Err(jiesu::app::AppError::Conflict(m)) => {
                    println!("{m}; the running server indexes the new entries within seconds")
                }
                Err(e) => bail!("updating the search index: {e}"),
            }
            Ok(())
        }
        KbCmd::Export { file, tenant } => {
            let t = app
                .resolve_tenant(tenant.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("tenant: {e}"))?;
            let format = jiesu::kbfile::format_of(&file.to_string_lossy())
                .context("the file must end in .jsonl or .xlsx")?;
            let org = app.org(t).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut rows = Vec::new();
            loop {
                let f = jiesu_store::kb::KbFilter {
                    limit: 500,
                    offset: rows.len() as u64,
                    ..Default::default()
                };
                let (page, _) = app.store.kb_list(t, &f).await?;
                let n = page.len();
                rows.extend(page);
                if n < 500 {
                    break;
                }
            }
            let bytes = if format == "jsonl" {
                rows.iter()
                    .map(|r| jiesu::kbfile::export_json(r, &org) + "\n")
                    .collect::<String>()
                    .into_bytes()
            } else {
                let cells = rows
                    .iter()
                    .map(|r| jiesu::kbfile::export_row(r, &org))
                    .collect();
                jiesu::api::files::xlsx(
                    "知识库",
                    &jiesu::kbfile::EXPORT_HEADERS,
                    &jiesu::kbfile::EXPORT_WIDTHS,
                    cells,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            };
            std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
            println!(
                "exported {} knowledge entries to {}",
                rows.len(),
                file.display()
            );
            Ok(())
        }
    }
}

async fn user_command(app: &jiesu::app::App, action: UserCmd) -> anyhow::Result<()> {
    match action {
        UserCmd::Add {
            tenant,
            username,
            display_name,
            password,
            unit,
            roles,
        } => {
            let t = app
                .resolve_tenant(tenant.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("tenant: {e}"))?;
            let roles = RoleSet::parse_csv(&roles).map_err(|e| anyhow::anyhow!("--roles: {e}"))?;
            let id = app
                .add_user(
                    t,
                    UserInput {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username: username.clone(),
                        password: Some(password),
                        unit_id: jiesu_core::UnitId(unit),
                        roles,
                        system_account: false,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", field_message(&e)))?;
            println!("added user {username} (id {})", id.0);
            Ok(())
        }
        UserCmd::ResetPassword {
            tenant,
            username,
            password,
        } => {
            let t = app
                .resolve_tenant(tenant.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("tenant: {e}"))?;
            let user = app
                .store
                .user_by_name(t, &username)
                .await?
                .with_context(|| format!("no user named {username}"))?;
            app.set_user_password(t, user.id, password)
                .await
                .map_err(|e| anyhow::anyhow!("{}", field_message(&e)))?;
            println!("password of {username} changed; their sessions ended");
            Ok(())
        }
    }
}

fn field_message(e: &jiesu::app::AppError) -> String {
    match e {
        jiesu::app::AppError::Invalid(f) => {
            format!("--{}: {}", f.field.replace('_', "-"), f.message)
        }
        e => e.to_string(),
    }
}

/// Lowers the calling runtime thread's scheduling priority below the writer's.
fn lower_thread_priority() {
    jiesu::priority::set_thread_nice(jiesu::priority::RUNTIME_NICE);
}
