//! The client's health report: connection, cookies both ways, reply checks.

use crate::conn::PeerSerials;

/// Client health: cookies both ways and the reply checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// A connection is open now.
    pub connected: bool,
    /// Connections opened so far (1 + reconnects).
    pub connects: u64,
    /// Connections lost or closed.
    pub disconnects: u64,
    /// Method calls sent.
    pub calls: u64,
    /// Replies delivered to their caller.
    pub replies: u64,
    /// Replies whose reply-serial matched no pending call (counted, dropped).
    pub unmatched_replies: u64,
    /// Replies to a pending serial from a sender other than the callee (counted, dropped).
    pub wrong_sender_replies: u64,
    /// Replies that arrived after their caller's deadline (they release the quarantine).
    pub late_replies: u64,
    /// Calls and job waits that hit their deadline.
    pub timeouts: u64,
    /// `JobRemoved` signals from someone other than systemd (counted, dropped).
    pub foreign_signals: u64,
    /// `JobRemoved` signals seen from systemd.
    pub jobs_removed: u64,
    /// Our connection's cookie: the last serial handed out or sealed (0 before any).
    pub cookie: u64,
    /// `0xffffffff - cookie`: sends left before our cookie cycles.
    pub cookie_headroom: u64,
    /// Our cookie is in the cycled half (`>= 0x80000000`), where pending cookies are skipped.
    pub cookie_cycled: bool,
    /// Times our cookie jumped from the ceiling back to `0x80000000`.
    pub cookie_wraps: u64,
    /// Cookies awaiting a reply (including quarantined ones).
    pub pending: usize,
    /// Cookies of calls that timed out locally, reserved until their late reply.
    pub quarantined: usize,
    /// Calls waiting for their reply right now (0 when idle: nothing leaked).
    pub waiting_calls: usize,
    /// `JobRemoved` signals buffered for a caller that has not picked them up yet.
    pub buffered_jobs: usize,
    /// Our unique name on the bus (None on a direct connection).
    pub unique_name: Option<String>,
    /// systemd's unique name on the bus (None on a direct connection).
    pub systemd_owner: Option<String>,
    /// systemd's version, read once per connection.
    pub systemd_version: Option<u32>,
    /// systemd's own serials as seen on this connection.
    pub peer: PeerWatch,
}

/// The peer (systemd) serial watch. On the API bus, systemd's serial *is* PID 1's sd-bus
/// cookie for its bus connection — the counter that overflowed in systemd#11809. On a
/// direct (private socket) connection it is the counter of that one connection instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PeerWatch {
    /// Messages from systemd seen on the current connection.
    pub messages: u64,
    /// Last serial seen.
    pub last_serial: u32,
    /// `0xffffffff - last_serial`.
    pub headroom: u32,
    /// systemd's cookie is in the cycled half, or was seen wrapping.
    pub cycled: bool,
    /// Times it was seen going down (a wrap).
    pub wraps: u64,
}

impl PeerWatch {
    pub(super) fn from_serials(p: PeerSerials) -> PeerWatch {
        PeerWatch {
            messages: p.messages,
            last_serial: p.last,
            headroom: sdbus_cookie::Config::DEFAULT.ceiling() - p.last,
            cycled: p.last >= sdbus_cookie::Config::DEFAULT.cycled() || p.wraps > 0,
            wraps: p.wraps,
        }
    }
}
