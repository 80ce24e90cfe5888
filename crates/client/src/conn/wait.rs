//! What callers share with the reader thread, and how they wait on it: under a deadline,
//! with the serial quarantined when a waiting future is dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use event_listener::Event;

use super::{Counters, State};
use crate::error::Cause;

#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Fired after every change a waiter may be waiting for.
    pub event: Event,
    /// Fired once, when the client closes the connection: the reader closes the socket.
    pub shutdown: Event,
    pub counters: Arc<Counters>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for counting.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn wake(&self) {
        self.event.notify(usize::MAX);
    }

    /// Runs `check` under the lock until it returns `Some`, waiting for changes in between;
    /// at `deadline` it runs once more with `expired = true` and must return `Some` then.
    /// A listener is registered under the lock before waiting, so no change is missed.
    pub(crate) async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&mut State, bool) -> Option<T>,
    ) -> T {
        loop {
            let listener = {
                let mut st = self.lock();
                if let Some(v) = check(&mut st, false) {
                    return v;
                }
                self.event.listen()
            };
            let expired = futures_lite::future::or(
                async {
                    listener.await;
                    false
                },
                async {
                    async_io::Timer::at(deadline).await;
                    true
                },
            )
            .await;
            if expired {
                let mut st = self.lock();
                if let Some(v) = check(&mut st, false) {
                    return v;
                }
                return check(&mut st, true).expect("check answers once expired");
            }
        }
    }
}

/// Quarantines a call's serial if its future is dropped while the reply is outstanding, so
/// the cookie is neither reused nor leaked (the late reply or the disconnect releases it).
/// Dropped in the middle of sending, it closes the connection: part of a message may be on
/// the socket, and nothing can follow it.
pub(super) struct PendingGuard<'a> {
    pub(super) shared: &'a Shared,
    pub(super) serial: u32,
    pub(super) armed: bool,
    pub(super) sending: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut st = self.shared.lock();
        if self.sending && st.closed.is_none() {
            self.shared
                .counters
                .disconnects
                .fetch_add(1, Ordering::Relaxed);
            st.close(Cause::Detail("a send was abandoned mid-message".into()));
            self.shared.wake();
            self.shared.shutdown.notify(usize::MAX);
        }
        if st.closed.is_some() {
            st.calls.abandon(self.serial);
        } else {
            st.calls.time_out(self.serial);
        }
    }
}
