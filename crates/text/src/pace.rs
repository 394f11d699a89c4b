//! Pacing of long background work (training the dispatch models, building the hot spots):
//! while requests come (one came within the last [`RECENT`]), a thread that [`limit`]s itself
//! runs for a short slice, then sleeps so that it keeps to a share of one core; on an idle
//! server it runs at full speed. The server calls [`busy`] for every request; the long loops
//! of this crate call [`point`] once per item, which on a thread that set no limit (a
//! request's) does nothing.
//!
//! The share follows the machine: while more than [`CALM`] of all its cores are busy (read
//! from `/proc/stat` every [`SAMPLE`]), it shrinks, down to [`CROWDED_SCALE`] of itself from
//! [`CROWDED`] up ([`share_when`]). A quarter of a core is little on an idle machine and much
//! on one that requests (or other processes) already keep 80% busy. Measured at 200 orders/s
//! on 2 cores it gave back 3–4 points of the server's CPU and left the tail as it was: there,
//! under the idle policy, a paced training already ran at a trickle (docs/design.md).
//!
//! Why not the scheduler alone: measured on a 2-core machine under a mixed load at half its
//! capacity, a background thread under Linux's idle policy that never sleeps raised the
//! requests' p99 from 17–19 ms to 46 ms (some windows 60–70 ms), while the same thread
//! running 5 ms in every 20 ms left it at 19 ms: a request hands work between threads many
//! times, and each hand-off to a core that something else holds costs more than one to an
//! idle core.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
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

/// How often the machine's load is read again.
pub const SAMPLE: Duration = Duration::from_millis(250);

/// Up to this share of the machine busy, paced work keeps to its whole share…
pub const CALM: f64 = 0.5;

/// …from this share up, to [`CROWDED_SCALE`] of it, and in proportion between the two.
pub const CROWDED: f64 = 0.75;

/// What is left of a share on a crowded machine (a quarter of a core becomes a twentieth).
pub const CROWDED_SCALE: f64 = 0.2;

/// Busy and total jiffies of all the machine's cores since it started (the first line of
/// `/proc/stat`; idle and I/O wait count as not busy); `None` where there is no such file.
pub fn machine_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

struct Load {
    at: Instant,
    jiffies: (u64, u64),
    /// The busy share between the last two readings (`None` until there are two).
    busy: Option<f64>,
}

static LOAD: Mutex<Option<Load>> = Mutex::new(None);

/// The share of the whole machine (all cores) that was busy between the last two readings of
/// `/proc/stat`, read again when the last is older than [`SAMPLE`]; `None` until two readings
/// [`SAMPLE`] apart exist or where the machine's load cannot be read.
pub fn machine_busy() -> Option<f64> {
    let mut g = LOAD.lock().ok()?;
    let now = Instant::now();
    if let Some(l) = g.as_ref()
        && now.duration_since(l.at) < SAMPLE
    {
        return l.busy;
    }
    let jiffies = machine_jiffies()?;
    let busy = g.as_ref().and_then(|l| {
        let total = jiffies.1.checked_sub(l.jiffies.1).filter(|t| *t > 0)?;
        let busy = jiffies.0.saturating_sub(l.jiffies.0);
        Some((busy as f64 / total as f64).min(1.0))
    });
    *g = Some(Load {
        at: now,
        jiffies,
        busy,
    });
    busy
}

/// The share of a core that paced work given `share` keeps to when `busy` of the machine is
/// busy (`None`: unknown, the whole share).
pub fn share_when(share: f64, busy: Option<f64>) -> f64 {
    let Some(busy) = busy else { return share };
    let crowded = ((busy - CALM) / (CROWDED - CALM)).clamp(0.0, 1.0);
    share * (1.0 - crowded * (1.0 - CROWDED_SCALE))
}

/// The pause that keeps a step of work that `ran` to `share` of a core (less on a busy
/// machine: [`share_when`]) while requests come (work that paces itself, such as an async
/// read between its pages); zero when none come (or `share` is 1 or more).
pub fn pause_after(ran: Duration, share: f64) -> Duration {
    if share <= 0.0 || share >= 1.0 || !requests_coming() {
        return Duration::ZERO;
    }
    let share = share_when(share, machine_busy());
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
        // Work that pauses by itself: at least three times a step at a quarter (more on a
        // busy machine), while requests come.
        let step = Duration::from_millis(8);
        assert!(pause_after(step, 0.25) >= Duration::from_millis(24));
        assert_eq!(pause_after(step, 1.0), Duration::ZERO);
        quiet();
        assert_eq!(pause_after(step, 0.25), Duration::ZERO);
    }

    #[test]
    fn the_share_shrinks_as_the_machine_fills() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(share_when(0.25, None), 0.25));
        assert!(close(share_when(0.25, Some(0.0)), 0.25));
        assert!(close(share_when(0.25, Some(CALM)), 0.25));
        assert!(close(share_when(0.25, Some(CROWDED)), 0.05));
        assert!(close(share_when(0.25, Some(1.0)), 0.05));
        // Halfway between: 0.25 × (1 − ½ × 0.8).
        let half = share_when(0.25, Some((CALM + CROWDED) / 2.0));
        assert!(close(half, 0.15), "{half}");
        // And the pause grows with it: a twentieth of a core sleeps 19 times what it ran.
        assert!(close(
            Duration::from_millis(10)
                .mul_f64((1.0 - share_when(0.25, Some(0.9))) / share_when(0.25, Some(0.9)))
                .as_secs_f64(),
            0.19
        ));
    }

    #[test]
    fn the_machine_load_is_read_from_proc_stat() {
        if !std::path::Path::new("/proc/stat").exists() {
            assert_eq!(machine_jiffies(), None);
            assert_eq!(machine_busy(), None);
            return;
        }
        let (busy, total) = machine_jiffies().unwrap();
        assert!(total > 0 && busy <= total, "{busy} {total}");
        // Two readings a sample apart, with one core kept busy in between: a share in (0, 1].
        machine_busy();
        let t = Instant::now();
        while t.elapsed() < SAMPLE + Duration::from_millis(50) {
            std::hint::black_box(t.elapsed());
        }
        let share = machine_busy().unwrap();
        assert!(share > 0.0 && share <= 1.0, "{share}");
        // Within a sample the same reading comes back.
        assert_eq!(machine_busy(), Some(share));
    }
}
