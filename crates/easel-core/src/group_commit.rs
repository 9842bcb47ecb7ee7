//! Group commit for sign-ins: their audit rows, and the sessions of password sign-ins.
//!
//! A password sign-in writes a session and its audit row, and the answer must not leave
//! before they are durable: another node may be asked about the token next. One durable
//! commit per sign-in would cap the rate at the disk's flushes per second, so concurrent
//! requests share commits instead: each hands its rows to one writer task and waits; the
//! writer takes everything that queued up while the previous commit was being flushed and
//! writes it in one transaction. Nothing waits for a timer: a lone request is written at once,
//! and under load the batches grow by themselves.
//!
//! Trading an API key for a token writes no session (the token carries it, see
//! [`crate::token::Claims::key`]), only an audit row, and that request does not wait for the
//! commit: it is answered once its row is queued. The queue is bounded, so a writer that falls
//! behind slows requests down rather than growing memory; a crash loses at most the rows of
//! the commit in progress and those queued behind it, never a key or a session. Shutdown
//! drains the queue ([`SignInWriter::drain`]).
//!
//! A batch is all-or-nothing, so one bad row (say, a session whose user was deleted a moment
//! earlier) would fail its neighbours: when a batch fails, each of its rows is retried alone
//! and gets its own answer. While the store is unavailable, rows nobody waits for are kept
//! (up to [`MAX_KEPT`]) and retried with the next batch.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::model::{AuditEntry, Session, SignIn};
use crate::store::Store;

/// The most rows one commit takes; more wait for the next.
const MAX_BATCH: usize = 512;
/// Rows nobody waits for, kept across a store outage; older ones beyond this are dropped
/// (and counted in the log) so that an outage cannot grow memory without bound.
const MAX_KEPT: usize = MAX_BATCH * 8;
/// The pause after a failed commit before the next, so that an outage is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

// Rows are nearly every job and barriers rare: boxing the row to shrink the enum would
// cost an allocation per sign-in to save bytes on a handful of barriers.
#[allow(clippy::large_enum_variant)]
enum Job {
    Row {
        row: SignIn,
        /// `None`: nobody waits for this row (an API-key sign-in's audit row).
        done: Option<oneshot::Sender<Result<()>>>,
    },
    /// Answered once every row queued before it has been written (or given up on).
    Barrier(oneshot::Sender<()>),
}

/// The handle requests use; the writer task ends when the last handle is dropped.
pub struct SignInWriter {
    queue: mpsc::Sender<Job>,
}

impl SignInWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> SignInWriter {
        let (queue, mut incoming) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(MAX_BATCH);
            let mut kept: Vec<SignIn> = Vec::new();
            while incoming.recv_many(&mut jobs, MAX_BATCH).await > 0 {
                let unavailable =
                    write_batch(store.as_ref(), std::mem::take(&mut jobs), &mut kept).await;
                if unavailable {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
            if !kept.is_empty() {
                tracing::error!(
                    rows = kept.len(),
                    "sign-in audit rows lost: the store stayed unavailable"
                );
            }
        });
        SignInWriter { queue }
    }

    fn stopped() -> Error {
        Error::Unavailable("the sign-in writer has stopped".to_owned())
    }

    /// Writes a session and its audit row durably, sharing the commit with whatever else is
    /// waiting.
    pub async fn write(&self, session: Session, audit: AuditEntry) -> Result<()> {
        let (done, answer) = oneshot::channel();
        let row = SignIn {
            session: Some(session),
            audit,
        };
        self.queue
            .send(Job::Row {
                row,
                done: Some(done),
            })
            .await
            .map_err(|_| Self::stopped())?;
        answer.await.map_err(|_| Self::stopped())?
    }

    /// Queues an audit row for the next commit and returns without waiting for it. Waits
    /// only while the queue is full.
    pub async fn record(&self, audit: AuditEntry) -> Result<()> {
        let row = SignIn {
            session: None,
            audit,
        };
        self.queue
            .send(Job::Row { row, done: None })
            .await
            .map_err(|_| Self::stopped())
    }

    /// Returns once every row queued before the call has been written (or given up on).
    pub async fn drain(&self) {
        let (done, answer) = oneshot::channel();
        if self.queue.send(Job::Barrier(done)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// Writes one batch (with the rows kept from failed batches first) and answers its waiters.
/// Returns whether the store was unavailable.
async fn write_batch(store: &dyn Store, jobs: Vec<Job>, kept: &mut Vec<SignIn>) -> bool {
    let mut rows = std::mem::take(kept);
    let mut waiters: Vec<Option<oneshot::Sender<Result<()>>>> =
        std::iter::repeat_with(|| None).take(rows.len()).collect();
    let mut barriers = Vec::new();
    for job in jobs {
        match job {
            Job::Row { row, done } => {
                rows.push(row);
                waiters.push(done);
            }
            Job::Barrier(done) => barriers.push(done),
        }
    }
    let mut unavailable = false;
    if !rows.is_empty() {
        let written = store.write_sign_ins(&rows).await;
        tracing::debug!(
            rows = rows.len(),
            ok = written.is_ok(),
            "sign-in batch written"
        );
        match written {
            Ok(()) => {
                for done in waiters.into_iter().flatten() {
                    // A waiter that went away (its client hung up) needs no answer.
                    let _ = done.send(Ok(()));
                }
            }
            Err(Error::Unavailable(detail)) => {
                unavailable = true;
                for (row, done) in rows.into_iter().zip(waiters) {
                    match done {
                        Some(done) => {
                            let _ = done.send(Err(Error::Unavailable(detail.clone())));
                        }
                        None => kept.push(row),
                    }
                }
                if kept.len() > MAX_KEPT {
                    let dropped = kept.len() - MAX_KEPT;
                    kept.drain(..dropped);
                    tracing::error!(
                        rows = dropped,
                        "sign-in audit rows dropped: the store is unavailable"
                    );
                }
            }
            Err(_) => {
                for (row, done) in rows.into_iter().zip(waiters) {
                    let alone = store.write_sign_ins(std::slice::from_ref(&row)).await;
                    match done {
                        Some(done) => {
                            let _ = done.send(alone);
                        }
                        None => {
                            if let Err(e) = alone {
                                tracing::error!(error = %e, action = %row.audit.action, "a sign-in audit row could not be written");
                            }
                        }
                    }
                }
            }
        }
    }
    for done in barriers {
        let _ = done.send(());
    }
    unavailable
}
