#![allow(clippy::unwrap_used)]
//! The `jiesu` command line: init, user, import, backup, verify, migrate, demo, and its errors.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_jiesu");
const PW: &str = "cli-test-password";

fn jiesu(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("JIESU_PASSWORD", PW)
        .output()
        .expect("run jiesu")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn init(data: &Path) {
    let o = jiesu(data, &["init", "--tenant", "cli", "--name", "命令行测试市"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = jiesu(
        data,
        &[
            "user",
            "add",
            "--username",
            "agent",
            "--display-name",
            "话务员",
            "--unit",
            "1",
            "--roles",
            "agent",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn users_are_added_and_bad_arguments_exit_nonzero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let o = jiesu(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "agent",
            "--unit",
            "1",
            "--roles",
            "agent",
        ],
    );
    assert!(!o.status.success(), "duplicate username");
    assert!(text(&o).contains("已存在"), "{}", text(&o));
    let o = jiesu(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "x1",
            "--unit",
            "1",
            "--roles",
            "boss",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--roles"), "{}", text(&o));
    let o = jiesu(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "x2",
            "--unit",
            "999",
            "--roles",
            "agent",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--unit-id") || text(&o).contains("单位"),
        "{}",
        text(&o)
    );
    let o = Command::new(BIN)
        .args([
            "user",
            "add",
            "--username",
            "x3",
            "--unit",
            "1",
            "--roles",
            "agent",
            "--password",
            "short",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("--password"), "{}", text(&o));
    let o = jiesu(
        dir.path(),
        &["user", "reset-password", "--username", "agent"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = jiesu(
        dir.path(),
        &["user", "reset-password", "--username", "nobody"],
    );
    assert!(!o.status.success());
    // Configuration errors name the key.
    let o = Command::new(BIN)
        .args(["migrate", "--listen", "nowhere", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("`listen`"), "{}", text(&o));
    let o = Command::new(BIN)
        .args(["migrate", "--database-url", "mysql://x", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("database_url"), "{}", text(&o));
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap();
    let o = Command::new(BIN)
        .args(["migrate", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("listen_port"), "{}", text(&o));
    let o = jiesu(dir.path(), &["migrate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("database is at migration m0"),
        "{}",
        text(&o)
    );
    // A migration makes no personal-data key (the nodes' key file is theirs to bring).
    let fresh = tempfile::tempdir().unwrap();
    let o = jiesu(fresh.path(), &["migrate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(fresh.path().join("jiesu.db").exists());
    assert!(!fresh.path().join("keys").join("pii.json").exists());
}

#[test]
fn imports_take_jsonl_csv_and_xlsx_and_report_rejected_rows_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let jsonl = dir.path().join("orders.jsonl");
    std::fs::write(
        &jsonl,
        [
            r#"{"channel":"web","request_type":"complaint","content":"路灯不亮","external_ref":"OLD-1","accepted_at":"2026-05-06 09:30:00"}"#,
            r#"{"channel":"电话","诉求类型":"咨询","content":"如何办理居住证","external_ref":"OLD-2"}"#,
            r#"{"channel":"phone","request_type":"complaint","content":"","external_ref":"OLD-3"}"#,
            r#"{"channel":"phone","request_type":"complaint","content":"x","citizen_phone":"123"}"#,
            r#"not json"#,
            r#"{"channel":"phone","request_type":"complaint","content":"x","shoe_size":42}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let o = jiesu(
        dir.path(),
        &["import", jsonl.to_str().unwrap(), "--as-user", "agent"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("imported 2 orders, rejected 4 rows"), "{out}");
    assert!(out.contains("row 3: content"), "{out}");
    assert!(out.contains("row 4: citizen.phone"), "{out}");
    assert!(out.contains("row 5:"), "{out}");
    assert!(out.contains("row 6: shoe_size"), "{out}");
    // Re-running is safe: rows already imported are refused by their source id.
    let o = jiesu(
        dir.path(),
        &["import", jsonl.to_str().unwrap(), "--as-user", "agent"],
    );
    assert!(
        text(&o).contains("imported 0 orders, rejected 6 rows"),
        "{}",
        text(&o)
    );

    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, "渠道,诉求类型,诉求内容,联系电话,受理时间\n电话,投诉,夜间施工噪音,13800138000,2026-06-01 20:15:00\n电话,求助,,13800138000,\n").unwrap();
    let o = jiesu(
        dir.path(),
        &["import", csv.to_str().unwrap(), "--as-user", "agent"],
    );
    assert!(
        text(&o).contains("imported 1 orders, rejected 1 rows"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("row 2: content"), "{}", text(&o));

    let xlsx = dir.path().join("orders.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "channel",
        "request_type",
        "content",
        "citizen_name",
        "urgency",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in [
        ["web", "suggestion", "建议增设公交线路", "李四", "normal"],
        ["web", "suggestion", "建议", "王五", "extreme"],
    ]
    .iter()
    .enumerate()
    {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    wb.save(&xlsx).unwrap();
    let o = jiesu(
        dir.path(),
        &["import", xlsx.to_str().unwrap(), "--as-user", "agent"],
    );
    assert!(
        text(&o).contains("imported 1 orders, rejected 1 rows"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("row 2: urgency"), "{}", text(&o));

    let o = jiesu(
        dir.path(),
        &["import", xlsx.to_str().unwrap(), "--as-user", "admin"],
    );
    assert!(!o.status.success(), "the admin may not accept orders");
    let o = jiesu(
        dir.path(),
        &["import", "/nonexistent.jsonl", "--as-user", "agent"],
    );
    assert!(!o.status.success());
    let o = jiesu(dir.path(), &["verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("checked 4 orders"), "{}", text(&o));
}

#[test]
fn backups_are_consistent_copies_and_verify_names_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let jsonl = dir.path().join("o.jsonl");
    let lines: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"channel":"phone","request_type":"help","content":"求助 {i}"}}"#))
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let o = jiesu(
        dir.path(),
        &["import", jsonl.to_str().unwrap(), "--as-user", "agent"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let dest = dir.path().join("copy.db");
    let o = jiesu(dir.path(), &["backup", "--out", dest.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = jiesu(dir.path(), &["backup", "--to", dest.to_str().unwrap()]);
    assert!(!o.status.success(), "never overwrites a backup");
    // Restored into a new directory, the copy is a working database that verifies.
    let restored = tempfile::tempdir().unwrap();
    let o = jiesu(restored.path(), &["restore", dest.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("checked 20 orders"), "{}", text(&o));
    assert!(text(&o).contains("all chains intact"), "{}", text(&o));
    let o = jiesu(restored.path(), &["verify"]);
    assert!(o.status.success(), "{}", text(&o));
    // Never over a database, never from a file that is not a backup.
    let o = jiesu(restored.path(), &["restore", dest.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already holds a database"),
        "{}",
        text(&o)
    );
    let o = jiesu(
        tempfile::tempdir().unwrap().path(),
        &["restore", jsonl.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("not a SQLite backup"), "{}", text(&o));

    // Tamper with one event of the restored copy: verify fails and names it.
    let url = format!("sqlite://{}", restored.path().join("jiesu.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE order_events SET payload = replace(payload, '求助 7', '求助 8') WHERE payload LIKE '%求助 7%'")
            .execute(&mut c)
            .await
            .unwrap();
    });
    let o = jiesu(restored.path(), &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("first broken link"), "{}", text(&o));
    assert!(text(&o).contains("event #1"), "{}", text(&o));
}

#[test]
fn the_demo_builds_a_city_with_orders_in_every_state_and_a_login_per_role() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for role in [
        "admin",
        "agent",
        "dispatcher",
        "handler",
        "unit_admin",
        "callback",
        "supervisor",
        "leader",
    ] {
        assert!(
            out.contains(&format!("    {role} ")),
            "login for {role} in {out}"
        );
    }
    assert!(out.contains("jiesu-demo"));
    let url = format!("sqlite://{}", dir.path().join("jiesu.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let statuses: Vec<(String, i64)> = rt.block_on(async {
        use sqlx::{Connection, Row};
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>("status"), r.get::<i64, _>("n")))
            .collect()
    });
    let have: Vec<&str> = statuses.iter().map(|(s, _)| s.as_str()).collect();
    for s in [
        "pending_review",
        "dispatched",
        "handling",
        "replied",
        "callback_pending",
        "closed",
        "withdrawn",
        "invalid",
    ] {
        assert!(have.contains(&s), "no demo order is {s}: {statuses:?}");
    }
    let total: i64 = statuses.iter().map(|(_, n)| n).sum();
    assert!(total > 1500, "{total}");
    // Running it again keeps the data.
    let o = Command::new(BIN)
        .args(["demo", "--no-serve", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(text(&o).contains("already present"), "{}", text(&o));
    let o = jiesu(dir.path(), &["verify"]);
    assert!(o.status.success(), "{}", text(&o));
    // The monthly report of the demo's last full month, as a workbook; bad arguments named.
    let month = (chrono::Utc::now() - chrono::Duration::days(35))
        .format("%Y-%m")
        .to_string();
    let out = dir.path().join("report.xlsx");
    let o = jiesu(
        dir.path(),
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("orders accepted"), "{}", text(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
    // … and as a printable PDF, its pages readable.
    let pdf = dir.path().join("report.pdf");
    let o = jiesu(
        dir.path(),
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            &pdf.to_string_lossy(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc = lopdf::Document::load(&pdf).unwrap();
    assert!(!doc.get_pages().is_empty());
    let o = jiesu(
        dir.path(),
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            &dir.path().join("report.doc").to_string_lossy(),
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains(".pdf"), "{}", text(&o));
    let o = jiesu(
        dir.path(),
        &[
            "report",
            "monthly",
            "--month",
            "2026-13",
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--month"), "{}", text(&o));
}

#[test]
fn knowledge_entries_import_export_and_reindex_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let file = dir.path().join("kb.jsonl");
    // A bad line stops the import, names the line and field, and stores nothing.
    std::fs::write(
        &file,
        "{\"title\":\"公积金提取\",\"answer\":\"凭购房合同提取。\"}\n{\"title\":\"x\",\"answer\":\"y\",\"unit\":\"不存在的局\"}\n",
    )
    .unwrap();
    let o = jiesu(dir.path(), &["kb", "import", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("line 2: unit"), "{}", text(&o));
    std::fs::write(
        &file,
        "{\"title\":\"公积金提取\",\"answer\":\"凭购房合同和身份证到公积金中心提取。\",\"questions\":[\"买房能取公积金吗\"],\"effective_to\":\"2099-12-31\"}\n\
         {\"title\":\"占道经营投诉\",\"answer\":\"由城管部门依法查处。\"}\n",
    )
    .unwrap();
    let o = jiesu(dir.path(), &["kb", "import", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported and published 2"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("search index updated"), "{}", text(&o));
    let o = jiesu(dir.path(), &["reindex"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("indexed 2 knowledge entries"),
        "{}",
        text(&o)
    );
    let out = dir.path().join("out.xlsx");
    let o = jiesu(dir.path(), &["kb", "export", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(&std::fs::read(&out).unwrap()[..2], b"PK");
    // The export imports again.
    let o = jiesu(dir.path(), &["kb", "import", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported and published 2"),
        "{}",
        text(&o)
    );
}

/// `jiesu hotspots FILE.jsonl`: clusters of one issue at one place, largest first, with the
/// ids as given; a bad row names its line and field.
#[test]
fn hotspots_of_a_file_are_printed_largest_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("requests.jsonl");
    let rows = [
        (
            1,
            "丽发新城小区搅拌站噪音扰民",
            "丽发新城小区旁边的搅拌站日夜施工，噪音很大。",
            "2026/11/01 09:00:00",
        ),
        (
            2,
            "路灯不亮",
            "幸福路路灯坏了一个月。",
            "2026/11/01 10:00:00",
        ),
        (
            3,
            "丽发新城小区附近搅拌站噪音大",
            "丽发新城小区附近搅拌站晚上还在作业，噪音扰民。",
            "2026-11-02 08:00:00",
        ),
        (
            4,
            "湘府华城小区停车难",
            "湘府华城小区车位不够，停车难。",
            "2026-11-02 09:00:00",
        ),
        (
            5,
            "投诉丽发新城小区搅拌站噪音",
            "丽发新城小区搅拌站噪音严重扰民。",
            "2026-11-03T01:00:00Z",
        ),
        (
            6,
            "湘府华城小区停车难问题",
            "湘府华城小区车位不够，停车太难。",
            "2026-11-04 09:00:00",
        ),
    ];
    let text: Vec<String> = rows
        .iter()
        .map(|(id, title, content, time)| {
            serde_json::json!({"id": format!("M{id}"), "title": title, "content": content, "time": time})
                .to_string()
        })
        .collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    let o = Command::new(BIN)
        .arg("hotspots")
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let clusters: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let clusters = clusters.as_array().unwrap();
    assert_eq!(clusters.len(), 2, "{clusters:?}");
    assert_eq!(clusters[0]["size"], 3);
    assert_eq!(clusters[0]["ids"], serde_json::json!(["M1", "M3", "M5"]));
    assert!(clusters[0]["place"].as_str().unwrap().contains("丽发新城"));
    assert_eq!(clusters[0]["first"], "2026-11-01 09:00:00");
    assert_eq!(clusters[0]["last"], "2026-11-03 09:00:00");
    assert_eq!(clusters[1]["ids"], serde_json::json!(["M4", "M6"]));
    assert!(clusters[1]["title"].as_str().unwrap().contains("湘府华城"));

    std::fs::write(
        &file,
        format!("{}\n{{\"id\": 9, \"title\": \"x\"}}", text[0]),
    )
    .unwrap();
    let o = Command::new(BIN)
        .arg("hotspots")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("requests.jsonl:2") && err.contains("time"),
        "{err}"
    );
}
