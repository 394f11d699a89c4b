//! Ready for a distributed PostgreSQL (issue 9, Citus: tables distributed by `tenant_id`): every
//! SQL statement of the store names `tenant_id` — a request's statements are then routed to
//! its tenant's shard — except the ones listed here, each with why it spans tenants. Those are
//! the nodes' own work (background passes over every tenant's queue rows, the nodes' tables,
//! housekeeping), which Citus runs as multi-shard statements. A new statement that neither
//! names the tenant nor is listed fails this test.

use std::path::Path;

/// (a piece of the statement, why it does not name the tenant).
const SPANS_TENANTS: &[(&str, &str)] = &[
    ("FROM tenants", "the tenants themselves: a reference table"),
    ("INTO tenants", "the tenants themselves: a reference table"),
    ("jiesu_migrations", "the schema's own log"),
    ("index_nodes", "the nodes' table (a reference table)"),
    (
        "pii_keys",
        "the keys' fingerprints, shared by every tenant (a reference table)",
    ),
    (
        "FROM search_outbox",
        "each node's order index follows the outbox of every tenant",
    ),
    (
        "UPDATE {table} SET next_at = ",
        "a background pass claims rows; the list that follows names (tenant_id, id)",
    ),
    (
        "FROM event_outbox",
        "the fan-out pass and the queue depth read every tenant's rows",
    ),
    (
        "FROM webhook_deliveries WHERE status",
        "the queue depth of the node's delivery pass",
    ),
    (
        "FROM outbound_messages WHERE status",
        "the message pass and its queue depth read every tenant's rows",
    ),
    (
        "UPDATE orders SET {} FROM (VALUES ",
        "SQLite only (one writer's batch): the WHERE that follows matches orders.tenant_id to each row's tenant",
    ),
    (
        "UPDATE outbound_messages SET status = 'sent'",
        "the WHERE that follows names the tenant",
    ),
    (
        "FROM transfers WHERE state",
        "the queue depth of the node's transfer pass",
    ),
    (
        "SELECT COUNT(*) AS n FROM orders",
        "the progress bar of `jiesu reindex`, over every tenant",
    ),
    (
        "FROM orders o{by_due} WHERE ",
        "the list filter: its first condition is o.tenant_id",
    ),
    (
        "FROM orders o{hint} WHERE ",
        "the list filter: its first condition is o.tenant_id",
    ),
    (
        "SELECT COUNT(*) AS n FROM (",
        "the count of a unit's inbox: the statement within names fu.tenant_id",
    ),
    (
        "FROM kb_entries e WHERE {cond}",
        "the condition is built with e.tenant_id",
    ),
    (
        "SELECT name FROM regions UNION SELECT name FROM units",
        "the segmenter's dictionary of place names, shared by the node",
    ),
    (
        "DELETE FROM sessions WHERE expires_at",
        "hourly housekeeping over every tenant",
    ),
    (
        "SELECT nextval(pg_get_serial_sequence('orders', 'id'))",
        "ids for new orders from the sequence of orders.id (one sequence, no table read)",
    ),
    (
        "SELECT {TAKE_SHARD}",
        "a writing transaction's aggregate shard: an advisory lock, no table",
    ),
    // Last: it is a piece of others.
    ("SELECT 1", "a readiness probe"),
];

/// Files whose statements are not the running product's: the schema, and `jiesu copy`, which
/// reads catalogues and names its tenant through a placeholder for the key column.
const SKIPPED: &[&str] = &["migration.rs", "copy.rs"];

/// The string literals of `src` that begin an SQL statement, outside its test module.
fn statements(src: &str) -> Vec<(usize, String)> {
    let code = src.split("#[cfg(test)]").next().unwrap_or(src);
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                if bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let lit = &code[start..j.min(code.len())];
            let text: String = lit
                .split("\\\n")
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("");
            let head = text.trim_start();
            if ["SELECT ", "UPDATE ", "DELETE ", "INSERT ", "WITH "]
                .iter()
                .any(|v| head.starts_with(v))
            {
                out.push((code[..start].matches('\n').count() + 1, text));
            }
            i = j + 1;
        } else if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'/') {
            // A comment: skip to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i] == b'\'' && bytes.get(i + 2) == Some(&b'\'') {
            // A char literal such as '"'.
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_statement_names_its_tenant_or_says_why_not() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut unscoped = Vec::new();
    let mut used = vec![false; SPANS_TENANTS.len()];
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if SKIPPED.contains(&name) {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("source");
        for (line, sql) in statements(&src) {
            checked += 1;
            if sql.contains("tenant_id") {
                continue;
            }
            match SPANS_TENANTS
                .iter()
                .position(|(piece, _)| sql.contains(piece))
            {
                Some(k) => used[k] = true,
                None => unscoped.push(format!("{name}:{line}: {sql}")),
            }
        }
    }
    assert!(
        checked > 150,
        "only {checked} statements found: is the scan broken?"
    );
    assert!(
        unscoped.is_empty(),
        "statements that neither name tenant_id nor are listed as spanning tenants:\n{}",
        unscoped.join("\n")
    );
    let stale: Vec<_> = SPANS_TENANTS
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e.0)
        .collect();
    assert!(
        stale.is_empty(),
        "listed but no longer in the code: {stale:?}"
    );
}
