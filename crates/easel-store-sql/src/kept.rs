//! Connections a store keeps out of its pool for the query it serves most often (a page of
//! API keys), so that giving one back costs nothing.
//!
//! sqlx 0.8 pings every connection its pool takes back ("testing the connection on
//! release"), whatever the pool's options say: every query is followed by a round trip of
//! its own (on PostgreSQL an empty statement, on SQLite a message to the connection's worker
//! thread and back). A page of keys on PostgreSQL ran about a tenth faster without it (the
//! same build with the ping taken out of sqlx, docs/performance.md, round 22). The pool's
//! other guarantees are kept here by hand:
//! - a connection idle for over a second is pinged before use, as the pool's own
//!   (`crate::ping_when_idle`), so that one that sat through a database restart is not
//!   handed out;
//! - a connection whose query did not finish (its future dropped: the client went away, the
//!   request timed out) or failed is closed, never reused: it may be mid-exchange;
//! - a connection is closed after [`MAX_LIFETIME`], as the pool closes its own after 30
//!   minutes;
//! - at most `max` connections are kept out of the pool at once; past that, a query takes a
//!   pooled connection as any other does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool};

/// How long a kept connection is used before it is closed (sqlx's pool default).
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A bounded set of connections taken out of `pool` for good.
pub struct KeptConnections<DB: Database> {
    pool: Pool<DB>,
    idle: Mutex<Vec<Kept<DB>>>,
    /// Connections kept out of the pool now, idle or in use.
    open: AtomicUsize,
    max: usize,
    /// Set by [`KeptConnections::close`]: no connection is kept any more.
    closed: AtomicBool,
}

struct Kept<DB: Database> {
    connection: DB::Connection,
    opened: Instant,
    last_used: Instant,
}

/// A connection for one query ([`KeptConnections::take`]). Give it back with
/// [`Taken::give_back`] once the query has finished; dropped otherwise, it is closed (a kept
/// one) or goes back to the pool (a pooled one, which sqlx then pings).
pub struct Taken<'a, DB: Database> {
    connection: Option<Either<DB>>,
    home: &'a KeptConnections<DB>,
}

enum Either<DB: Database> {
    Kept(Kept<DB>),
    Pooled(PoolConnection<DB>),
}

impl<DB: Database> KeptConnections<DB> {
    /// Keeps at most `max` connections taken out of `pool`.
    pub fn new(pool: Pool<DB>, max: usize) -> KeptConnections<DB> {
        KeptConnections {
            pool,
            idle: Mutex::new(Vec::with_capacity(max)),
            open: AtomicUsize::new(0),
            max,
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the idle kept connections, and from now on every connection given back (the
    /// store is closing with its pools).
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let idle = std::mem::take(&mut *self.lock_idle());
        // Uncounted before any is closed: a close cut short drops the rest, closed all the same.
        self.open.fetch_sub(idle.len(), Ordering::Relaxed);
        for kept in idle {
            // Closing is polite (it tells the server); a failure leaves nothing to undo.
            let _ = kept.connection.close().await;
        }
    }

    /// A connection for one query: an idle kept one (pinged first if it sat idle for over
    /// [`crate::IDLE_BEFORE_PING`]), else a new one taken out of the pool if fewer than
    /// `max` are, else a pooled one.
    pub async fn take(&self) -> Result<Taken<'_, DB>, sqlx::Error> {
        loop {
            let Some(kept) = self.lock_idle().pop() else {
                break;
            };
            let stale = kept.last_used.elapsed() > crate::IDLE_BEFORE_PING;
            // Held as taken while it is pinged: if this take is cut short (its request gone)
            // during the ping, the connection is closed and no longer counted as kept.
            let mut taken = self.taken(Either::Kept(kept));
            if stale && taken.ping().await.is_err() {
                // Dead (a restarted database, a killed backend): closed, and the next tried.
                drop(taken);
                continue;
            }
            return Ok(taken);
        }
        let connection = self.pool.acquire().await?;
        let below_max = !self.closed.load(Ordering::Relaxed)
            && self
                .open
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                    (open < self.max).then_some(open + 1)
                })
                .is_ok();
        Ok(self.taken(if below_max {
            let now = Instant::now();
            Either::Kept(Kept {
                connection: connection.detach(),
                opened: now,
                last_used: now,
            })
        } else {
            Either::Pooled(connection)
        }))
    }

    /// How many connections are kept out of the pool now, idle or in use.
    pub fn kept(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// For the stores' tests: waits until the idle kept connections are due a ping, then
    /// starts a take and drops it after its first poll, as a request that goes away while
    /// the connection is pinged does. (Should the ping be answered within that poll, the
    /// connection taken is dropped unfinished instead.) Returns how many connections are
    /// kept then, and after a take that runs to the end and gives its connection back.
    #[doc(hidden)]
    pub async fn cut_a_take_short_while_pinging(&self) -> Result<(usize, usize), sqlx::Error> {
        tokio::time::sleep(crate::IDLE_BEFORE_PING + Duration::from_millis(100)).await;
        let mut taking = Box::pin(self.take());
        let noop = &mut std::task::Context::from_waker(std::task::Waker::noop());
        drop(std::future::Future::poll(taking.as_mut(), noop));
        drop(taking);
        let after_cut = self.kept();
        self.take().await?.give_back();
        Ok((after_cut, self.kept()))
    }

    fn taken(&self, connection: Either<DB>) -> Taken<'_, DB> {
        Taken {
            connection: Some(connection),
            home: self,
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Kept<DB>>> {
        // The list is only pushed to and popped from; a panic elsewhere cannot leave it
        // half-changed.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<DB: Database> Taken<'_, DB> {
    /// Gives the connection back after a query that finished: a kept one to the idle set
    /// (closed instead past [`MAX_LIFETIME`]), a pooled one to the pool.
    pub fn give_back(mut self) {
        match self.connection.take() {
            Some(Either::Kept(mut kept)) => {
                if kept.opened.elapsed() < MAX_LIFETIME && !self.home.closed.load(Ordering::Relaxed)
                {
                    kept.last_used = Instant::now();
                    self.home.lock_idle().push(kept);
                } else {
                    self.home.open.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Some(Either::Pooled(pooled)) => drop(pooled),
            None => {}
        }
    }
}

impl<DB: Database> Drop for Taken<'_, DB> {
    fn drop(&mut self) {
        // Not given back: its query did not finish or failed. A kept connection is closed
        // (dropping it closes its socket or its worker thread); a pooled one goes back to
        // the pool, whose ping on release tells whether it is still usable.
        if let Some(Either::Kept(_)) = self.connection.take() {
            self.home.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<DB: Database> std::ops::Deref for Taken<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match &self.connection {
            Some(Either::Kept(kept)) => &kept.connection,
            Some(Either::Pooled(pooled)) => pooled,
            // Only `give_back` (which consumes the value) and `drop` take it.
            None => unreachable!("a connection is held until it is given back or dropped"),
        }
    }
}

impl<DB: Database> std::ops::DerefMut for Taken<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match &mut self.connection {
            Some(Either::Kept(kept)) => &mut kept.connection,
            Some(Either::Pooled(pooled)) => pooled,
            None => unreachable!("a connection is held until it is given back or dropped"),
        }
    }
}
