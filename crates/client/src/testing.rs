//! What tests and the lab need to drive a connection to the edge of the 32-bit cookie
//! space, and nothing a runtime needs: compiled only with the `test-support` feature, which
//! this repository's test and lab crates enable and a runtime never should.
//!
//! [`Ping`] sends a diagnostic call whose serial the caller may choose: sealed with cookie
//! `k`, the connection adopts it the way sd-bus does (`cookie = max(cookie, k)`).

use std::time::Duration;

pub use crate::client::PingTarget;
use crate::{AsyncClient, Client, Result};

/// A diagnostic call on the client's own connection.
pub trait Ping {
    /// Pings `target` (systemd's `Peer.Ping`, or the bus driver's `GetId`), sealed with
    /// cookie `sealed` when given, within `timeout`. Returns the serial used.
    ///
    /// # Errors
    ///
    /// The connection's errors ([`Error::Connect`](crate::Error::Connect),
    /// [`Error::Timeout`](crate::Error::Timeout),
    /// [`Error::Disconnected`](crate::Error::Disconnected)); [`Error::Cookie`](crate::Error::Cookie)
    /// when the allocator refuses `sealed`; [`Error::Unsupported`](crate::Error::Unsupported)
    /// for a bus ping on a direct connection.
    fn ping(&self, target: PingTarget, sealed: Option<u32>, timeout: Duration) -> Result<u32>;
}

impl Ping for Client {
    fn ping(&self, target: PingTarget, sealed: Option<u32>, timeout: Duration) -> Result<u32> {
        async_io::block_on(self.as_async().ping(target, sealed, timeout))
    }
}

/// [`Ping::ping`] as a future, for an [`AsyncClient`].
///
/// # Errors
///
/// As [`Ping::ping`].
pub async fn ping_async(
    client: &AsyncClient,
    target: PingTarget,
    sealed: Option<u32>,
    timeout: Duration,
) -> Result<u32> {
    client.ping(target, sealed, timeout).await
}
