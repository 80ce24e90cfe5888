//! The reader thread: it builds the connection (off any tokio runtime), hands it over,
//! then routes every incoming message until the connection closes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::StreamExt;

use super::{Counters, Shared, State};
use crate::error::{Cause, Error, Result, Step};

/// Where the reader thread hands over the connection it built.
#[derive(Debug, Default)]
pub(super) struct Handover {
    pub(super) result: Option<Result<(zbus::Connection, Arc<Shared>)>>,
    /// The caller gave up (deadline or dropped future): the reader closes what it built.
    pub(super) abandoned: bool,
}

pub(super) struct HandoverGuard {
    pub(super) slot: Arc<(Mutex<Handover>, Event)>,
}

impl Drop for HandoverGuard {
    fn drop(&mut self) {
        let mut h = self.slot.0.lock().unwrap_or_else(|e| e.into_inner());
        h.abandoned = true;
        if let Some(Ok((_, shared))) = h.result.take() {
            // Built but never taken: the reader owns the socket and closes it.
            shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
            shared
                .lock()
                .close(Cause::Detail("abandoned during the handshake".into()));
            shared.shutdown.notify(usize::MAX);
        }
    }
}

/// What the reader thread connects to, and by when.
pub(super) struct Dial {
    pub(super) address: String,
    pub(super) direct: bool,
    pub(super) deadline: Instant,
    /// The handshake budget the deadline came from (for the error message).
    pub(super) timeout: Duration,
}

/// The reader thread: builds the connection (bounded by `deadline`), hands it over, then
/// routes every incoming message until the connection closes or the client shuts it down.
pub(super) fn build_and_read(
    dial: &Dial,
    counters: Arc<Counters>,
    slot: &(Mutex<Handover>, Event),
) {
    let (address, direct, deadline) = (dial.address.as_str(), dial.direct, dial.deadline);
    let hand = |r: Result<(zbus::Connection, Arc<Shared>)>| -> bool {
        let mut h = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        if h.abandoned {
            return false;
        }
        h.result = Some(r);
        drop(h);
        slot.1.notify(usize::MAX);
        true
    };
    let connect_err = |cause: Cause| Error::Connect {
        target: address.to_owned(),
        step: Step::Connect,
        cause,
    };
    let build = async {
        let builder = if direct {
            // Our own read half: see the private module for why.
            let socket = crate::private_socket::split::connect(address, true)
                .await
                .map_err(zbus::Error::from)?;
            zbus::connection::Builder::socket(socket)
        } else {
            zbus::connection::Builder::address(address)?
        };
        builder.p2p().build().await
    };
    // The timer first: a peer that keeps the handshake busy cannot starve it.
    let built = async_io::block_on(futures_lite::future::or(
        async {
            async_io::Timer::at(deadline).await;
            None
        },
        async { Some(build.await) },
    ));
    let zconn = match built {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            hand(Err(connect_err(Cause::bus(e))));
            return;
        }
        None => {
            hand(Err(connect_err(Cause::Detail(format!(
                "no handshake within {:?}",
                dial.timeout
            )))));
            return;
        }
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(direct)),
        event: Event::new(),
        shutdown: Event::new(),
        counters,
    });
    // The stream must exist before anything is sent, or replies could be missed.
    let stream = zbus::MessageStream::from(&zconn);
    shared.counters.connects.fetch_add(1, Ordering::Relaxed);
    if !hand(Ok((zconn.clone(), Arc::clone(&shared)))) {
        // Nobody will use it: count it closed, as every connection opened is.
        shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        shared
            .lock()
            .close(Cause::Detail("abandoned during the handshake".into()));
    }
    reader(stream, zconn, shared);
}

pub(super) fn reader(
    mut stream: zbus::MessageStream,
    zconn: zbus::Connection,
    shared: Arc<Shared>,
) {
    let why = async_io::block_on(async {
        let mut shutdown = shared.shutdown.listen();
        loop {
            if let Some(why) = shared.lock().closed.clone() {
                break why;
            }
            let next = futures_lite::future::or(
                async { Some(stream.next().await) },
                futures_lite::future::or(
                    async {
                        zconn.closed().await;
                        None
                    },
                    async {
                        (&mut shutdown).await;
                        Some(None)
                    },
                ),
            )
            .await;
            match next {
                Some(Some(Ok(msg))) => {
                    let mut st = shared.lock();
                    if st.dispatch(&shared.counters, msg) {
                        drop(st);
                        shared.wake();
                    }
                }
                Some(Some(Err(e))) => break Cause::bus(e),
                Some(None) => {
                    if let Some(why) = shared.lock().closed.clone() {
                        break why;
                    }
                    break Cause::Detail("connection closed by the peer".into());
                }
                None => break Cause::Detail("connection closed".into()),
            }
        }
    });
    let mut st = shared.lock();
    if st.closed.is_none() {
        shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
    }
    st.close(why);
    drop(st);
    shared.wake();
    // Close the socket here, on our own thread, so a client's drop never blocks.
    async_io::block_on(futures_lite::future::or(
        async {
            let _ = zconn.close().await;
        },
        async {
            async_io::Timer::after(Duration::from_secs(1)).await;
        },
    ));
}
