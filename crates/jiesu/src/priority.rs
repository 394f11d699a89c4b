//! Thread priorities. The database writer runs at the default priority, the runtime's threads
//! (requests) a little below it, and work no request waits for (training the dispatch models,
//! building the hot spots) far below: on a busy machine it takes what requests leave, so its
//! bursts do not show in their latency. On Linux a thread's niceness is its own.

/// Niceness of the runtime's threads, relative to the writer's 0.
pub const RUNTIME_NICE: i32 = 6;
/// Niceness of background work above that of the thread that starts it (the server's
/// runtime threads: 6 + 10 = 16, about an eighth of the weight of a runtime thread when both
/// want the CPU).
pub const BACKGROUND_NICE_ABOVE: i32 = 10;

/// Sets the calling thread's niceness (only lowering its priority needs no privilege).
pub fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, nice) {
        tracing::debug!(error = %e, nice, "cannot change the priority of a thread");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// The calling thread's niceness (0 where it cannot be read).
pub fn thread_nice() -> i32 {
    #[cfg(target_os = "linux")]
    return rustix::process::getpriority_process(None).unwrap_or(0);
    #[cfg(not(target_os = "linux"))]
    0
}

/// Runs `f` on a thread of its own at background priority (`BACKGROUND_NICE_ABOVE` the
/// caller's niceness, at most 19) and waits for its result; `Err` with a message where the
/// thread could not start or `f` panicked.
pub async fn in_background<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let nice = (thread_nice() + BACKGROUND_NICE_ABOVE).min(19);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            set_thread_nice(nice);
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
    rx.await.map_err(|_| format!("the {name} thread failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_runs_at_background_priority_and_returns_its_result() {
        let caller = thread_nice();
        let got = in_background("test-background", || (thread_nice(), 6 * 7))
            .await
            .unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(got, ((caller + BACKGROUND_NICE_ABOVE).min(19), 42));
        #[cfg(not(target_os = "linux"))]
        assert_eq!(got, (caller, 42));
        let failed = in_background("test-panic", || -> i32 { panic!("boom") }).await;
        assert!(failed.is_err());
    }
}
