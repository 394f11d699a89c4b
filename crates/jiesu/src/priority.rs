//! Thread priorities. The database writer runs at the default priority, the runtime's threads
//! (requests) a little below it, and work no request waits for (training the dispatch models,
//! building the hot spots) under the idle policy: it takes only what requests leave, and a
//! request thread that wakes takes its core at once, so its bursts do not show in their
//! latency. On Linux a thread's niceness and policy are its own.

/// Niceness of the runtime's threads, relative to the writer's 0.
pub const RUNTIME_NICE: i32 = 6;
/// Niceness of background work above that of the thread that starts it, where the idle
/// policy is not available (the server's runtime threads: 6 + 10 = 16). A low weight alone
/// is not enough: the scheduler lets a running thread finish its slice (a few ms) before a
/// woken one of higher weight takes the core, and a request waits for several wake-ups (one
/// per database statement); an idle-policy thread gives way at once.
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

/// Puts the calling thread under the idle scheduling policy (Linux's `SCHED_IDLE`: it runs
/// only on a core nothing else wants); false where that is not possible.
pub fn set_thread_idle() -> bool {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        // The policy is set first; the niceness that follows (meaningless under it) may be
        // refused without privilege, so the outcome is read back.
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::debug!(error = ?e, "setting the idle policy of a thread");
        }
        thread_is_idle()
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Whether the calling thread is under the idle scheduling policy.
pub fn thread_is_idle() -> bool {
    #[cfg(target_os = "linux")]
    return matches!(
        thread_priority::thread_schedule_policy(),
        Ok(thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Idle
        ))
    );
    #[cfg(not(target_os = "linux"))]
    false
}

/// Runs `f` on a thread of its own at background priority (the idle policy; where that is
/// not available, `BACKGROUND_NICE_ABOVE` the caller's niceness, at most 19) and waits for
/// its result; `Err` with a message where the thread could not start or `f` panicked.
pub async fn in_background<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let nice = (thread_nice() + BACKGROUND_NICE_ABOVE).min(19);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if !set_thread_idle() {
                set_thread_nice(nice);
            }
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
    rx.await.map_err(|_| format!("the {name} thread failed"))
}

/// The share of a core that paced background work keeps to while requests are served, on a
/// machine at most half busy; less on a busier one, down to a fifth of it (see
/// `jiesu_text::pace`: the idle policy alone does not keep a busy background thread from
/// slowing requests).
pub const BACKGROUND_SHARE: f64 = 0.25;

/// [`in_background`], paced: while requests are served, `f` keeps to [`BACKGROUND_SHARE`] of a
/// core at its pacing points; on an idle server it runs at full speed.
pub async fn paced_in_background<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    in_background(name, move || {
        jiesu_text::pace::limit(BACKGROUND_SHARE);
        f()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_runs_at_background_priority_and_returns_its_result() {
        let caller = thread_nice();
        assert!(!thread_is_idle());
        let got = in_background("test-background", || {
            (thread_is_idle(), thread_nice(), 6 * 7)
        })
        .await
        .unwrap();
        assert_eq!(got.2, 42);
        // Under the idle policy; where a sandbox refuses it, at the fallback niceness.
        #[cfg(target_os = "linux")]
        assert!(
            got.0 || got.1 == (caller + BACKGROUND_NICE_ABOVE).min(19),
            "neither idle nor niced: {got:?}"
        );
        #[cfg(not(target_os = "linux"))]
        assert_eq!(got, (false, caller, 42));
        // The fallback on its own.
        let nice = in_background("test-nice", move || {
            set_thread_nice((caller + BACKGROUND_NICE_ABOVE).min(19));
            thread_nice()
        })
        .await
        .unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(nice, (caller + BACKGROUND_NICE_ABOVE).min(19));
        #[cfg(not(target_os = "linux"))]
        assert_eq!(nice, caller);
        // The caller's own thread keeps its policy.
        assert!(!thread_is_idle());
        let failed = in_background("test-panic", || -> i32 { panic!("boom") }).await;
        assert!(failed.is_err());
    }
}
