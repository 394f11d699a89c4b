//! Group commit: one task takes every pending write job, runs each in its own savepoint inside
//! one transaction, commits once, then answers every caller. A job that fails is rolled back to
//! its savepoint without disturbing the others; if the commit fails, every caller hears so.
//! No caller is answered before its data is durable.

use crate::{Result, StoreError};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

type Output = Box<dyn Any + Send>;
pub(crate) type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Output>> + Send + 'a>>;
type JobFn = Box<dyn for<'a> FnOnce(&'a DatabaseTransaction) -> JobFuture<'a> + Send>;

struct Job {
    run: JobFn,
    reply: oneshot::Sender<Result<Output>>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    pub jobs: u64,
    pub commits: u64,
}

#[derive(Default)]
struct Counters {
    jobs: AtomicU64,
    commits: AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Handle {
    tx: Arc<RwLock<Option<mpsc::Sender<Job>>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    counters: Arc<Counters>,
}

pub(crate) fn spawn(db: DatabaseConnection, writers: usize, max_batch: usize) -> Handle {
    // Bounded: when the disk falls behind, callers wait instead of memory growing.
    let (tx, rx) = mpsc::channel::<Job>(max_batch * 8);
    let rx = Arc::new(Mutex::new(rx));
    let counters = Arc::new(Counters::default());
    let tasks = (0..writers.max(1))
        .map(|_| {
            tokio::spawn(run(
                db.clone(),
                rx.clone(),
                max_batch.max(1),
                counters.clone(),
            ))
        })
        .collect();
    Handle {
        tx: Arc::new(RwLock::new(Some(tx))),
        tasks: Arc::new(Mutex::new(tasks)),
        counters,
    }
}

impl Handle {
    /// Runs `f` inside the next group commit and returns its result once committed.
    pub(crate) async fn submit<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>
            + Send
            + 'static,
    {
        let sender = self
            .tx
            .read()
            .map_err(|_| StoreError::WriterGone)?
            .clone()
            .ok_or(StoreError::WriterGone)?;
        let (reply, rx) = oneshot::channel();
        let run: JobFn = Box::new(move |txn| {
            let fut = f(txn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Output) })
        });
        sender
            .send(Job { run, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let out = rx.await.map_err(|_| StoreError::WriterGone)??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Corrupt("writer returned a value of the wrong type".into()))
    }

    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            jobs: self.counters.jobs.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }

    /// Refuses new jobs, lets the queued ones commit, and waits for the writers to stop.
    pub(crate) async fn close(&self) {
        if let Ok(mut g) = self.tx.write() {
            g.take();
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().await);
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn run(
    db: DatabaseConnection,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    counters: Arc<Counters>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    loop {
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        commit_batch(&db, &mut batch, &counters).await;
    }
}

async fn commit_batch(db: &DatabaseConnection, batch: &mut Vec<Job>, counters: &Counters) {
    let txn = match db.begin().await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(StoreError::Db(e.clone())));
            }
            return;
        }
    };
    let mut results: Vec<(oneshot::Sender<Result<Output>>, Result<Output>)> =
        Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let outcome = match txn.begin().await {
            Ok(sp) => match (job.run)(&sp).await {
                Ok(v) => sp.commit().await.map(|_| v).map_err(StoreError::Db),
                Err(e) => {
                    let _ = sp.rollback().await;
                    Err(e)
                }
            },
            Err(e) => Err(StoreError::Db(e)),
        };
        results.push((job.reply, outcome));
    }
    let n = results.len() as u64;
    match txn.commit().await {
        Ok(()) => {
            counters.jobs.fetch_add(n, Ordering::Relaxed);
            counters.commits.fetch_add(1, Ordering::Relaxed);
            for (reply, outcome) in results {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = n, "group commit failed");
            for (reply, _) in results {
                let _ = reply.send(Err(StoreError::Db(e.clone())));
            }
        }
    }
}
