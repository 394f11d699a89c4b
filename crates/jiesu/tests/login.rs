#![allow(clippy::unwrap_used)]
//! Login lockout (issue 10): repeated wrong passwords lock the name for a while, with a clear
//! message, whether or not the user exists; the right password does not open a locked name;
//! other users are not affected; once the lock has passed, a good login clears the count.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn login(t: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(t.url("/api/auth/login"))
        .json(&json!({"username": username, "password": password, "tenant": "t1"}))
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Runs `sql` on the test's database (SQLite file or PostgreSQL).
async fn exec(t: &TestApp, sql: &str) {
    match t.backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", t.data_dir.path().join("jiesu.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&t.config.database_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

async fn repeated_failures_lock_the_name_for_a_while(t: &TestApp) {
    let max = t.config.login_max_failures;
    assert_eq!(max, 5, "the default");
    for i in 1..max {
        let (s, e) = login(t, "agent", "wrong-password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}: {e}");
        assert_eq!(e["error"]["code"], "bad_credentials");
    }
    let (s, e) = login(t, "agent", "wrong-password").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("锁定") && msg.contains("15 分钟"), "{msg}");
    // The right password does not open a locked name.
    let (s, _) = login(t, "agent", PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Others log in as before; an unknown name is counted the same way (no enumeration).
    let (s, _) = login(t, "dispatcher", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 1..max {
        assert_eq!(login(t, "nobody", "x").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login(t, "nobody", "x").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The lock has passed (and with it the window): the right password works and clears
    // the count, so four more failures do not lock again.
    exec(
        t,
        "UPDATE login_failures SET locked_until = 1, window_start = 1 WHERE username = 'agent'",
    )
    .await;
    let (s, e) = login(t, "agent", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    for _ in 1..max {
        assert_eq!(
            login(t, "agent", "wrong-password").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login(t, "agent", PASSWORD).await.0, StatusCode::OK);
}

on_both_backends! {
    repeated_failures_lock_the_name_for_a_while => super::repeated_failures_lock_the_name_for_a_while,
}
