//! Group commit for new sessions.
//!
//! Trading a key for a token writes a session and its audit row, and the answer must not
//! leave before they are durable: another node may be asked about the token next. One
//! durable commit per token would cap the rate at the disk's flushes per second, so
//! concurrent requests share commits instead: each hands its rows to one writer task and
//! waits; the writer takes everything that queued up while the previous commit was being
//! flushed and writes it in one transaction. Nothing waits for a timer: a lone request is
//! written at once, and under load the batches grow by themselves.
//!
//! A batch is all-or-nothing, so one bad row (say, a session whose user was deleted a moment
//! earlier) would fail its neighbours: when a batch fails, each of its rows is retried alone
//! and gets its own answer.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::model::{AuditEntry, Session};
use crate::store::Store;

/// The most rows one commit takes; more wait for the next.
const MAX_BATCH: usize = 512;

struct Pending {
    session: Session,
    audit: AuditEntry,
    done: oneshot::Sender<Result<()>>,
}

/// The handle requests use; the writer task ends when the last handle is dropped.
pub struct SessionWriter {
    queue: mpsc::Sender<Pending>,
}

impl SessionWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> SessionWriter {
        let (queue, mut incoming) = mpsc::channel::<Pending>(MAX_BATCH * 4);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
                write_batch(store.as_ref(), std::mem::take(&mut batch)).await;
            }
        });
        SessionWriter { queue }
    }

    /// Writes a session and its audit row durably, sharing the commit with whatever else is
    /// waiting.
    pub async fn write(&self, session: Session, audit: AuditEntry) -> Result<()> {
        let (done, answer) = oneshot::channel();
        let stopped = || Error::Unavailable("the session writer has stopped".to_owned());
        self.queue
            .send(Pending {
                session,
                audit,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batch(store: &dyn Store, batch: Vec<Pending>) {
    let (rows, waiters): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|p| ((p.session, p.audit), p.done))
        .unzip();
    let written = store.insert_sessions(&rows).await;
    tracing::debug!(rows = rows.len(), "session batch written");
    match written {
        Ok(()) => {
            for done in waiters {
                // A waiter that went away (its client hung up) needs no answer.
                let _ = done.send(Ok(()));
            }
        }
        Err(_) if rows.len() > 1 => {
            for (row, done) in rows.into_iter().zip(waiters) {
                let _ = done.send(store.insert_sessions(std::slice::from_ref(&row)).await);
            }
        }
        Err(e) => {
            for done in waiters {
                let _ = done.send(Err(copy_of(&e)));
            }
        }
    }
}

/// The error for one waiter (errors are not `Clone`: their details are for logs).
fn copy_of(error: &Error) -> Error {
    match error {
        Error::Unavailable(detail) => Error::Unavailable(detail.clone()),
        other => Error::Internal(other.to_string()),
    }
}
