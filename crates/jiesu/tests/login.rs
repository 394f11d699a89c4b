#![allow(clippy::unwrap_used)]
//! Login lockout (issue 10): repeated wrong passwords lock the name for a while, with a clear
//! message, whether or not the user exists; the right password does not open a locked name;
//! other users are not affected; once the lock has passed, a good login clears the count. A
//! password spray (many names, one guess each, from one address) is stopped by its address.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn login(t: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    login_via(t, username, password, None).await
}

/// A login through the load balancer (`X-Forwarded-For: client`), or straight.
async fn login_via(
    t: &TestApp,
    username: &str,
    password: &str,
    client: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(t.url("/api/auth/login"))
        .json(&json!({"username": username, "password": password, "tenant": "t1"}));
    if let Some(c) = client {
        req = req.header("x-forwarded-for", c);
    }
    let r = req.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Runs `sql` on the test's database (SQLite file or PostgreSQL).
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
    t.exec("UPDATE login_failures SET locked_until = 1, window_start = 1 WHERE username = 'agent'")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_spray_from_one_address_is_stopped_by_the_address() {
    let t = spawn_app(Backend::Sqlite).await.unwrap();
    let mut config = t.config.clone();
    config.login_ip_max_failures = 6;
    // The test client stands for the centre's load balancer.
    config.trusted_proxies = vec!["127.0.0.1".into()];
    let t = t.restart(config).await;
    let spray = Some("198.51.100.9");
    // One guess at each of six names: no name is locked by that.
    for name in [
        "agent",
        "dispatcher",
        "handler",
        "callback",
        "leader",
        "nobody",
    ] {
        let (s, e) = login_via(&t, name, "Summer2026!", spray).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {e}");
    }
    // The address is stopped now, with a clear message, even with a right password.
    let (s, e) = login_via(&t, "supervisor", "Summer2026!", spray).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("网络地址") && msg.contains("15 分钟"), "{msg}");
    assert_eq!(
        login_via(&t, "agent", PASSWORD, spray).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Everyone else — other addresses behind the same balancer — logs in as before, and the
    // names the spray tried are not locked.
    let (s, e) = login_via(&t, "agent", PASSWORD, Some("203.0.113.20")).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(login(&t, "dispatcher", PASSWORD).await.0, StatusCode::OK);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let t = spawn_app(Backend::Sqlite).await.unwrap();
    let mut config = t.config.clone();
    config.login_ip_max_failures = 2;
    let t = t.restart(config).await;
    // A client that makes up a new address for each guess is still one address.
    for (i, fake) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let (s, _) = login_via(&t, &format!("user{i}"), "guess-guess", Some(fake)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _) = login_via(&t, "agent", PASSWORD, Some("198.51.100.3")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    t.stop().await;
}
