//! Per-tenant caches of reference data (the organisation tree, categories and regions, time
//! rules, Open311 services): read from the database and kept a few seconds, so that a change
//! made on another node is seen within that time.
//!
//! When an entry expires under load, one caller reads it again while the others go on with
//! the value they had (for a while: a refresh that never finishes does not keep it forever).
//! Without that, every request arriving during the read would read it too: hundreds of
//! identical reads each time an entry expires, each slower for the others.

use super::AppResult;
use jiesu_core::TenantId;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a value is used before it is read again.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(5);
/// How long an expired value is still handed out while another caller reads it again.
const STALE_WHILE_READ: Duration = Duration::from_secs(15);

struct Entry<T> {
    read_at: Instant,
    value: Arc<T>,
    /// A caller is reading it again.
    refreshing: bool,
}

pub(crate) struct TenantCache<T> {
    map: Mutex<HashMap<TenantId, Entry<T>>>,
}

impl<T> Default for TenantCache<T> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> TenantCache<T> {
    /// The tenant's value: the cached one while fresh (or while another caller reads it
    /// again), else `load`'s. A value read while `generation` moved (an invalidation
    /// happened meanwhile) is returned but not kept: it may predate the change.
    pub(crate) async fn get<F, Fut>(
        &self,
        tenant: TenantId,
        generation: &AtomicU64,
        load: F,
    ) -> AppResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        if let Ok(mut g) = self.map.lock()
            && let Some(e) = g.get_mut(&tenant)
        {
            let age = e.read_at.elapsed();
            if age < CACHE_TTL || (e.refreshing && age < STALE_WHILE_READ) {
                return Ok(e.value.clone());
            }
            e.refreshing = true;
        }
        let seen = generation.load(Ordering::SeqCst);
        let loaded = load().await;
        let Ok(mut g) = self.map.lock() else {
            return loaded.map(Arc::new);
        };
        match loaded {
            Ok(v) => {
                let v = Arc::new(v);
                if generation.load(Ordering::SeqCst) == seen {
                    g.insert(
                        tenant,
                        Entry {
                            read_at: Instant::now(),
                            value: v.clone(),
                            refreshing: false,
                        },
                    );
                } else if let Some(e) = g.get_mut(&tenant) {
                    e.refreshing = false;
                }
                Ok(v)
            }
            Err(e) => {
                if let Some(entry) = g.get_mut(&tenant) {
                    entry.refreshing = false;
                }
                Err(e)
            }
        }
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        if let Ok(mut g) = self.map.lock() {
            g.remove(&tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn one_caller_reads_an_expired_value_again_while_the_others_use_it() {
        let cache: TenantCache<u32> = TenantCache::default();
        let generation = AtomicU64::new(0);
        let reads = AtomicUsize::new(0);
        let t = TenantId(1);
        let load = |v: u32| {
            reads.fetch_add(1, Ordering::SeqCst);
            async move { Ok(v) }
        };
        assert_eq!(*cache.get(t, &generation, || load(1)).await.unwrap(), 1);
        assert_eq!(*cache.get(t, &generation, || load(2)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Expired: the first caller starts reading it again; until it is done, another caller
        // gets the value it had.
        if let Ok(mut g) = cache.map.lock() {
            g.get_mut(&t).unwrap().read_at = Instant::now() - CACHE_TTL;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let slow = cache.get(t, &generation, || async move {
            let _ = rx.await;
            Ok(3)
        });
        tokio::pin!(slow);
        assert!(futures::poll!(&mut slow).is_pending());
        assert_eq!(*cache.get(t, &generation, || load(4)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1, "no second read meanwhile");
        let _ = tx.send(());
        assert_eq!(*slow.await.unwrap(), 3);
        assert_eq!(*cache.get(t, &generation, || load(5)).await.unwrap(), 3);
        // A refresh that never finishes holds the old value only for a while.
        if let Ok(mut g) = cache.map.lock() {
            let e = g.get_mut(&t).unwrap();
            e.read_at = Instant::now() - STALE_WHILE_READ;
            e.refreshing = true;
        }
        assert_eq!(*cache.get(t, &generation, || load(6)).await.unwrap(), 6);
    }

    #[tokio::test]
    async fn a_value_read_across_an_invalidation_is_not_kept() {
        let cache: TenantCache<u32> = TenantCache::default();
        let generation = AtomicU64::new(0);
        let t = TenantId(1);
        let v = cache
            .get(t, &generation, || async {
                generation.fetch_add(1, Ordering::SeqCst);
                Ok(1)
            })
            .await
            .unwrap();
        assert_eq!(*v, 1);
        assert_eq!(
            *cache.get(t, &generation, || async { Ok(2) }).await.unwrap(),
            2
        );
        cache.forget(t);
        assert_eq!(
            *cache.get(t, &generation, || async { Ok(3) }).await.unwrap(),
            3
        );
    }
}
