//! SQLite's default page cache (`pcache1`) with one change: truncating a cache where it holds
//! no page at or above the limit does nothing.
//!
//! At the end of every write transaction SQLite truncates the connection's page cache to the
//! database's size (`pager_end_transaction` → `sqlite3PcacheTruncate`). `pcache1` remembers the
//! largest key it has held since its last truncation and, where that lies more than its hash
//! table's length above the limit, walks the **whole** hash table. A B-tree rebalance
//! (`balance_nonroot`) that puts new sibling pages in order swaps two of them through a
//! temporary key, the lock-byte page's number (262,145 with 4 KiB pages), so after every such
//! commit the next truncation walks every slot of the cache to drop nothing: with the group
//! commit writer's 64 MiB cache (16,384 pages) that was `pcache1TruncateUnsafe`, 15–20% of the
//! writer thread's time and 7% of the whole server's in the soak (docs/design.md).
//!
//! The wrapper knows which keys its cache can hold: the highest key it fetched since the last
//! truncation, and the keys above that which pages were moved to (`xRekey`) and not moved away
//! from again. A truncation above all of them is skipped; every other call goes to `pcache1`,
//! which keeps the pages, the memory, the eviction and the cache size as before.
//!
//! [`install`] must run before SQLite initialises, i.e. before the process opens its first
//! connection (`jiesu-store` calls it before it connects); later it changes nothing and says so.
//!
//! The crate also holds the one file control the store needs and rusqlite has no safe call
//! for: [`set_chunk_size`], the database file grown in chunks.

mod chunk;
pub use chunk::set_chunk_size;

use rusqlite::ffi;
use std::ffi::{c_int, c_uint};
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// SQLite's default page cache methods, to which every call is passed on.
struct Default(ffi::sqlite3_pcache_methods2);

// SAFETY: the struct holds function pointers into SQLite and the argument SQLite gave them;
// SQLite calls page cache methods from any thread (a cache from one connection at a time) and
// `pcache1` locks what it shares.
unsafe impl Send for Default {}
// SAFETY: as above; the struct is never changed after it is set.
unsafe impl Sync for Default {}

static DEFAULT: OnceLock<Default> = OnceLock::new();
static STATUS: OnceLock<Status> = OnceLock::new();
static SKIPPED: AtomicU64 = AtomicU64::new(0);
static PASSED: AtomicU64 = AtomicU64::new(0);
static MOVED_UP: AtomicU64 = AtomicU64::new(0);

/// Whether the wrapper serves this process's SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    /// SQLite had initialised before [`install`] (a connection was opened first): its default
    /// cache stays.
    TooLate,
    /// SQLite refused the configuration with this result code.
    Refused(c_int),
}

/// Puts the wrapper in front of SQLite's default page cache, once per process; every later
/// call answers what the first did.
pub fn install() -> Status {
    *STATUS.get_or_init(install_now)
}

/// What [`install`] answered, if it has run (it changes nothing, unlike calling it).
pub fn status() -> Option<Status> {
    STATUS.get().copied()
}

/// What the wrapper did, over all caches since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Truncations skipped: nothing at or above the limit.
    pub skipped: u64,
    /// Truncations passed on to `pcache1`.
    pub passed: u64,
    /// Pages moved above every key fetched (a rebalance's temporary key, mostly).
    pub moved_up: u64,
}

pub fn counts() -> Counts {
    Counts {
        skipped: SKIPPED.load(Ordering::Relaxed),
        passed: PASSED.load(Ordering::Relaxed),
        moved_up: MOVED_UP.load(Ordering::Relaxed),
    }
}

fn install_now() -> Status {
    let mut current = MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
    // SAFETY: `SQLITE_CONFIG_GETPCACHE2` takes one pointer to a methods struct and writes the
    // methods in force (the default ones unless configured) into it.
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, current.as_mut_ptr()) };
    if rc == ffi::SQLITE_MISUSE {
        return Status::TooLate;
    }
    if rc != ffi::SQLITE_OK {
        return Status::Refused(rc);
    }
    // SAFETY: zeroed is a valid value of the struct (null pointers, `None` functions), and
    // SQLite filled it on success.
    let current = unsafe { current.assume_init() };
    let complete = current.xCreate.is_some()
        && current.xCachesize.is_some()
        && current.xPagecount.is_some()
        && current.xFetch.is_some()
        && current.xUnpin.is_some()
        && current.xRekey.is_some()
        && current.xTruncate.is_some()
        && current.xDestroy.is_some();
    if !complete {
        return Status::Refused(ffi::SQLITE_ERROR);
    }
    let ours = ffi::sqlite3_pcache_methods2 {
        iVersion: current.iVersion,
        // Initialisation and shutdown are pcache1's own, with its own argument.
        pArg: current.pArg,
        xInit: current.xInit,
        xShutdown: current.xShutdown,
        xCreate: Some(create),
        xCachesize: Some(cachesize),
        xPagecount: Some(pagecount),
        xFetch: Some(fetch),
        xUnpin: Some(unpin),
        xRekey: Some(rekey),
        xTruncate: Some(truncate),
        xDestroy: Some(destroy),
        xShrink: current.xShrink.map(|_| shrink as unsafe extern "C" fn(_)),
    };
    if DEFAULT.set(Default(current)).is_err() {
        // Only `install_now` sets it, and it runs once.
        return Status::Refused(ffi::SQLITE_ERROR);
    }
    // SAFETY: `SQLITE_CONFIG_PCACHE2` takes one pointer to a methods struct and copies it.
    // Our methods only ever receive caches that `create` made, and pass them on as pcache1's.
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_PCACHE2,
            &ours as *const ffi::sqlite3_pcache_methods2,
        )
    };
    match rc {
        ffi::SQLITE_OK => Status::Active,
        ffi::SQLITE_MISUSE => Status::TooLate,
        rc => Status::Refused(rc),
    }
}

/// A cache as SQLite holds it: pcache1's, and what is known of its keys.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// No page fetched since the last truncation has a higher key.
    top: c_uint,
    /// Keys above `top` that pages were moved to and may still be at (a handful at most: a
    /// rebalance moves a page up and back within one call).
    moved: Vec<c_uint>,
}

fn methods() -> &'static ffi::sqlite3_pcache_methods2 {
    // Our methods are installed only after `DEFAULT` is set (`install_now`).
    match DEFAULT.get() {
        Some(d) => &d.0,
        None => unreachable!("the page cache wrapper runs without SQLite's default methods"),
    }
}

/// The wrapper of a cache SQLite hands back.
///
/// # Safety
/// `p` must be a cache made by [`create`] and not yet destroyed, used by no other call at
/// the same time (SQLite calls a cache's methods from its one connection, one at a time).
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    // SAFETY: see the function's contract.
    unsafe { &mut *p.cast::<Cache>() }
}

unsafe extern "C" fn create(
    size_page: c_int,
    size_extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let Some(create) = methods().xCreate else {
        return std::ptr::null_mut();
    };
    // SAFETY: pcache1's constructor, with SQLite's arguments.
    let inner = unsafe { create(size_page, size_extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    Box::into_raw(Box::new(Cache {
        inner,
        top: 0,
        moved: Vec::new(),
    }))
    .cast()
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    if let Some(f) = methods().xCachesize {
        // SAFETY: pcache1's method on its own cache.
        unsafe { f(c.inner, pages) }
    }
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    match methods().xPagecount {
        // SAFETY: pcache1's method on its own cache.
        Some(f) => unsafe { f(c.inner) },
        None => 0,
    }
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    let Some(f) = methods().xFetch else {
        return std::ptr::null_mut();
    };
    // SAFETY: pcache1's method on its own cache.
    let page = unsafe { f(c.inner, key, create) };
    if !page.is_null() && key > c.top {
        c.top = key;
    }
    page
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    if let Some(f) = methods().xUnpin {
        // SAFETY: pcache1's method on its own cache and one of its pages.
        unsafe { f(c.inner, page, discard) }
    }
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    if let Some(f) = methods().xRekey {
        // SAFETY: pcache1's method on its own cache and one of its pages.
        unsafe { f(c.inner, page, old, new) }
    }
    if let Some(i) = c.moved.iter().position(|k| *k == old) {
        c.moved.swap_remove(i);
    }
    if new > c.top && !c.moved.contains(&new) {
        MOVED_UP.fetch_add(1, Ordering::Relaxed);
        c.moved.push(new);
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    if c.top < limit && c.moved.iter().all(|k| *k < limit) {
        // Nothing at or above the limit: pcache1 would drop nothing (and might walk every slot
        // of its hash table to find that out).
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    PASSED.fetch_add(1, Ordering::Relaxed);
    if let Some(f) = methods().xTruncate {
        // SAFETY: pcache1's method on its own cache.
        unsafe { f(c.inner, limit) }
    }
    c.top = c.top.min(limit.saturating_sub(1));
    c.moved.retain(|k| *k < limit);
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite passes a cache `create` made, for the last time: it is ours to free.
    let c = unsafe { Box::from_raw(p.cast::<Cache>()) };
    if let Some(f) = methods().xDestroy {
        // SAFETY: pcache1's destructor on its own cache, called once.
        unsafe { f(c.inner) }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite passes a cache `create` made.
    let c = unsafe { cache(p) };
    if let Some(f) = methods().xShrink {
        // SAFETY: pcache1's method on its own cache.
        unsafe { f(c.inner) }
    }
}
