//! systemd's private socket, `/run/systemd/private`: D-Bus peer to peer with PID 1 (no
//! dbus-daemon, no `Hello`, `AUTH EXTERNAL` only, root only), a connection and a cookie of
//! its own. It answers when the API bus does not, which is why the client can use it
//! ([`Target::SystemdPrivate`](crate::Target::SystemdPrivate)) and why `sdcookie doctor`
//! asks it.
//!
//! zbus cannot read what systemd sends there unaided: sd-bus stamps every message PID 1
//! sends on that socket with `SENDER=org.freedesktop.systemd1` (`sd_bus_set_sender()` in
//! systemd's `src/core/dbus.c`; there is no bus to assign a unique name), and zbus 5's
//! header parser only accepts a unique name in that field: its reader task panics
//! ("Invalid field reconstruction: InvalidName", cf. zbus#965) and the call never
//! completes. This module is the one way around it, in three parts:
//!
//! - `frame`: a message's length from its fixed header and a walk of its header fields
//!   (SENDER, REPLY_SERIAL, ERROR_NAME, SIGNATURE), written once for both users below;
//! - `split`: the socket under the client's long-lived direct connection, whose read half
//!   frames each message and rewrites that SENDER to a unique name zbus accepts; without the
//!   rewrite it is [`capped_bus`], the doctor's bus connection;
//! - [`Peer`]: one question (`Properties.Get`) and its answer, by hand, for a PID 1 that
//!   may be deaf: a v219 PID 1 whose API-bus event source is disabled at the cookie
//!   ceiling acts on a new connection only when bytes arrive, which no zbus handshake
//!   survives (see [`Peer`]).
//!
//! What a peer can make them buffer is capped: a message over 1 MiB (`frame::MAX_MESSAGE`)
//! or a SASL line over 4 KiB is refused from its header, and reads go through fixed
//! buffers.

mod ask;
mod frame;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod split;

pub use ask::{Peer, PeerError, Reply};
pub use split::capped_bus;

/// The zbus crate [`capped_bus`] builds its connection with, re-exported so a caller names
/// the same version: `capped_bus` hands out a `zbus::Connection`, the one zbus type in this
/// crate's API, for a caller that talks to the bus itself (the doctor). Nothing else in
/// the API depends on it.
pub use zbus;
