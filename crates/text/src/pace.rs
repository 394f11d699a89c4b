//! Pacing of long background work (training the dispatch models, building the hot spots):
//! while requests come (one came within the last [`RECENT`]), a thread that [`limit`]s itself
//! runs for a short slice, then sleeps so that it keeps to a share of one core; on an idle
//! server it runs at full speed. The server calls [`busy`] for every request; the long loops
//! of this crate call [`point`] once per item, which on a thread that set no limit (a
//! request's) does nothing.
//!
//! Why not the scheduler alone: measured on a 2-core machine under a mixed load at half its
//! capacity, a background thread under Linux's idle policy that never sleeps raised the
//! requests' p99 from 17–19 ms to 46 ms (some windows 60–70 ms), while the same thread
//! running 5 ms in every 20 ms left it at 19 ms: a request hands work between threads many
//! times, and each hand-off to a core that something else holds costs more than one to an
//! idle core.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a paced thread runs before it pauses.
pub const SLICE: Duration = Duration::from_millis(5);

/// Requests that came this long ago still count as coming.
pub const RECENT: Duration = Duration::from_millis(100);

/// When the last request came: milliseconds since [`epoch`], plus one (0: none yet).
static LAST_REQUEST: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

#[derive(Clone, Copy)]
struct Limit {
    /// The share of a core kept to (0 < share < 1).
    share: f64,
    /// When the slice began.
    since: Instant,
}

thread_local! {
    static LIMIT: Cell<Option<Limit>> = const { Cell::new(None) };
    static SLEPT: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// A request came: paced threads keep to their share for the next [`RECENT`].
#[inline]
pub fn busy() {
    LAST_REQUEST.store(now_ms(), Ordering::Relaxed);
}

/// Whether a request came within the last [`RECENT`].
pub fn requests_coming() -> bool {
    let last = LAST_REQUEST.load(Ordering::Relaxed);
    last != 0 && now_ms().saturating_sub(last) <= RECENT.as_millis() as u64
}

/// The pause that keeps a step of work that `ran` to `share` of a core while requests come
/// (work that paces itself, such as an async read between its pages); zero when none come
/// (or `share` is 1 or more).
pub fn pause_after(ran: Duration, share: f64) -> Duration {
    if share <= 0.0 || share >= 1.0 || !requests_coming() {
        return Duration::ZERO;
    }
    ran.mul_f64((1.0 - share) / share)
}

/// From now on the calling thread keeps to `share` of a core (0 < share < 1; otherwise no
/// limit) at its [`point`]s while requests are served.
pub fn limit(share: f64) {
    let l = (share > 0.0 && share < 1.0).then(|| Limit {
        share,
        since: Instant::now(),
    });
    LIMIT.with(|c| c.set(l));
}

/// The calling thread's share of a core while requests are served (1: not paced).
pub fn share() -> f64 {
    LIMIT.with(|c| c.get().map_or(1.0, |l| l.share))
}

/// How long the calling thread has paused at its points so far.
pub fn slept() -> Duration {
    SLEPT.with(Cell::get)
}

/// A point where paced work may pause: after a slice of work, while requests come, it sleeps
/// for what keeps the thread to its share.
#[inline]
pub fn point() {
    LIMIT.with(|c| {
        let Some(mut l) = c.get() else { return };
        let ran = l.since.elapsed();
        if ran < SLICE {
            return;
        }
        let pause = pause_after(ran, l.share);
        if !pause.is_zero() {
            std::thread::sleep(pause);
            SLEPT.with(|s| s.set(s.get() + pause));
        }
        l.since = Instant::now();
        c.set(Some(l));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` milliseconds of work, with a point after each (and a request coming, if
    /// `serving`).
    fn work(ms: u32, serving: bool) -> Duration {
        let t = Instant::now();
        for _ in 0..ms {
            let slice = Instant::now();
            while slice.elapsed() < Duration::from_millis(1) {}
            if serving {
                busy();
            }
            point();
        }
        t.elapsed()
    }

    /// Long enough for the last request to stop counting.
    fn quiet() {
        std::thread::sleep(RECENT + Duration::from_millis(50));
        assert!(!requests_coming());
    }

    #[test]
    fn a_paced_thread_keeps_to_its_share_while_requests_come_and_others_are_not_paced() {
        std::thread::spawn(|| {
            assert_eq!(share(), 1.0);
            limit(0.25);
            assert!((share() - 0.25).abs() < 1e-9);
            // 40 ms of work at a quarter of a core: three times that asleep (but for the
            // slice begun last).
            let wall = work(40, true);
            let slept = slept();
            assert!(slept >= Duration::from_millis(40 * 3 - 15), "{slept:?}");
            assert!(
                wall >= Duration::from_millis(40) + slept,
                "{wall:?} {slept:?}"
            );
            // No requests: full speed.
            quiet();
            work(40, false);
            assert_eq!(super::slept(), slept, "no requests: no pause");
            limit(1.0);
            assert_eq!(share(), 1.0);
            work(40, true);
            assert_eq!(super::slept(), slept, "no limit: no pause");
        })
        .join()
        .unwrap();
        // This thread set no limit.
        work(20, true);
        assert_eq!(slept(), Duration::ZERO);
        // Work that pauses by itself: three times a step at a quarter, while requests come.
        let step = Duration::from_millis(8);
        assert_eq!(pause_after(step, 0.25), Duration::from_millis(24));
        assert_eq!(pause_after(step, 1.0), Duration::ZERO);
        quiet();
        assert_eq!(pause_after(step, 0.25), Duration::ZERO);
    }
}
