//! One question to systemd over its private socket and its answer, by hand: SASL
//! `AUTH EXTERNAL`, `BEGIN`, one method call (built and marshalled by zbus, which is fine),
//! and a reader of the fixed header, the `REPLY_SERIAL`/`ERROR_NAME` fields and a
//! `v`-of-`s` body ([`super::frame`]). Why not zbus: [`super`].
//!
//! Every public call takes a deadline of its own and checks it before each read and write,
//! so a peer that keeps sending (junk, other messages, an endless line) cannot keep it
//! running: its timer is polled before the socket. The connect is non-blocking. Bytes are
//! read into one fixed buffer of [`MAX_MESSAGE`] bytes allocated at connect; a message whose
//! fixed header claims more, or an authentication line longer than [`MAX_LINE`], is refused
//! before it is read, so no length a peer claims is ever allocated. The call goes out with
//! `NO_AUTO_START`: it asks the one PID 1 that is there and never starts anything.
//!
//! The exchange is written for a server that acts only when bytes arrive. systemd before
//! v237 can be such a server: once its API-bus event source is disabled (the failed seal
//! at the cookie ceiling), v219's `event_prepare()` (src/libsystemd/sd-event/sd-event.c)
//! stops at that disabled source, which `prepare_prioq_compare()` sorts first for good, so
//! a new private connection has its `prepare_callback()` (src/libsystemd/sd-bus/sd-bus.c,
//! which sets the epoll mask from `sd_bus_get_events()`) run once and never again. If that
//! one run came before the server read our `AUTH`, the mask stays `POLLIN`: the server
//! reads `AUTH`, queues `OK`, and nothing wakes it to write — and `io_callback()` runs one
//! `sd_bus_process()` step per wake-up, so every later step (write `OK`, leave the auth
//! state on `BEGIN`, read the call) needs unread input too. Hence:
//!
//! - `AUTH` and `BEGIN` go out together without waiting for `OK`, as sd-bus's own client
//!   sends them (`bus_socket_start_auth_client()` in src/libsystemd/sd-bus/bus-socket.c);
//!   the server never reads the bytes after `BEGIN` as auth lines: with `OK` still
//!   unwritten `bus_socket_auth_verify_server()` stops at `BEGIN` and keeps it, and after
//!   `BEGIN` it switches to reading messages;
//! - the call follows at once, and is sent again (a new serial, the same read-only
//!   question) whenever nothing arrives for a while: the unread bytes of the repeat are
//!   what wake such a server for each of its remaining steps. A reply to any of our calls
//!   answers the question. systemd 252 needs the same nudge once in a while: it can leave a
//!   call that came with `BEGIN` in its read buffer until more bytes arrive (compare
//!   systemd#17425 and PR #24875).

use std::fmt;
use std::future::Future;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use super::frame::{
    fields, Cursor, FieldValue, Fixed, Malformed, ERROR, ERROR_NAME, MAX_MESSAGE, METHOD_RETURN,
    REPLY_SERIAL, SIGNATURE,
};

/// The first wait for an answer before the call is sent again; it doubles up to
/// [`MAX_PATIENCE`]. Short, because a server that needs the nudge needs it every step.
const FIRST_PATIENCE: Duration = Duration::from_millis(25);
/// The longest wait between two sends of the call.
const MAX_PATIENCE: Duration = Duration::from_secs(1);

/// What went wrong asking the peer. The variants are the kinds a caller decides on;
/// [`std::error::Error::source`] returns the I/O or zbus error inside.
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerError {
    /// The socket failed; its [`std::io::ErrorKind`] says how (`ConnectionReset` or
    /// `BrokenPipe`: the peer hung up on us; `UnexpectedEof`: it closed the connection).
    Io(std::io::Error),
    /// The peer did not accept our credentials: the line it answered `AUTH` with (e.g.
    /// `REJECTED EXTERNAL`).
    CredentialsRejected(String),
    /// The peer sent something that is not D-Bus as we read it: what was wrong.
    Malformed(&'static str),
    /// The call was answered with a D-Bus error.
    Dbus {
        /// The error name, e.g. `org.freedesktop.DBus.Error.UnknownProperty`.
        name: String,
        /// The error's message, when its body starts with a string.
        message: Option<String>,
    },
    /// Building our message failed.
    Build(crate::BusError),
    /// The call did not finish within its deadline (whether or not the peer was sending).
    Timeout {
        /// `connect` or `get_property`.
        call: &'static str,
        /// The deadline it was given.
        after: Duration,
    },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The error underneath is the source, not repeated here.
            PeerError::Io(_) => f.write_str("I/O on the socket failed"),
            PeerError::CredentialsRejected(line) => write!(f, "authentication rejected: {line}"),
            PeerError::Malformed(what) => write!(f, "malformed message: {what}"),
            PeerError::Dbus { name, message } => {
                write!(f, "D-Bus error {name}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            PeerError::Build(_) => f.write_str("building the call failed"),
            PeerError::Timeout { call, after } => write!(f, "{call}: no answer within {after:?}"),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Io(e) => Some(e),
            PeerError::Build(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for PeerError {
    fn from(e: std::io::Error) -> PeerError {
        PeerError::Io(e)
    }
}

impl PeerError {
    fn build(e: zbus::Error) -> PeerError {
        PeerError::Build(crate::BusError::new(e))
    }
}

impl From<Malformed> for PeerError {
    fn from(e: Malformed) -> PeerError {
        PeerError::Malformed(e.0)
    }
}

/// A reply: its serial (the sender's cookie) and, for a `v` holding an `s`, the string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The serial in the reply's header.
    pub serial: u32,
    /// The body's string, if the body is a variant holding a string.
    pub string: Option<String>,
}

/// A peer-to-peer connection to systemd's private socket whose `AUTH` and `BEGIN` are
/// sent; the server's `OK` is read with the first reply. Written for a server that acts
/// only when bytes arrive (a deaf v219 PID 1): `AUTH`, `BEGIN` and the call go out without
/// waiting, and the call is sent again while nothing comes back.
#[derive(Debug)]
pub struct Peer {
    stream: Async<UnixStream>,
    inbox: Inbox,
    /// The server's `OK` line has been read; what follows are messages.
    authenticated: bool,
    next_serial: u32,
}

impl Peer {
    /// Connects to `path` (non-blocking) and sends `AUTH EXTERNAL` (our uid, hex-encoded as
    /// ASCII) and `BEGIN` in one write, all within `timeout`. Whether the server accepted
    /// is known at the first call.
    ///
    /// # Errors
    ///
    /// [`PeerError`]: the socket fails ([`PeerError::Io`]), the peer rejects our
    /// credentials, or the deadline passes ([`PeerError::Timeout`]).
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Peer, PeerError> {
        let deadline = Deadline::new("connect", timeout);
        let mut stream = deadline.run(Async::<UnixStream>::connect(path)).await??;
        let uid = nix::unistd::geteuid().as_raw().to_string();
        deadline.run(stream.write_all(&auth_begin(&uid))).await??;
        Ok(Peer {
            stream,
            inbox: Inbox::new(),
            authenticated: false,
            next_serial: 1,
        })
    }

    /// Calls `Properties.Get(interface, property)` on `path` of `destination` with
    /// `NO_AUTO_START` and waits up to `timeout` for the reply to that call (other messages
    /// are skipped). The call is sent again while nothing arrives (see the module docs);
    /// the first reply to any of them counts.
    ///
    /// # Errors
    ///
    /// [`PeerError`]: the socket fails, the answer is malformed or a D-Bus error
    /// ([`PeerError::Dbus`]), or the deadline passes ([`PeerError::Timeout`]).
    pub async fn get_property(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        property: &str,
        timeout: Duration,
    ) -> Result<Reply, PeerError> {
        let deadline = Deadline::new("get_property", timeout);
        let mut sent = Vec::new();
        let mut patience = FIRST_PATIENCE;
        loop {
            let serial = self.next_serial;
            self.next_serial += 1;
            let serial_nz = serial
                .try_into()
                .map_err(|_| PeerError::Malformed("serial 0"))?;
            let msg = (|| {
                zbus::message::Message::method_call(path, "Get")?
                    .with_flags(zbus::message::Flags::NoAutoStart)?
                    .destination(destination)?
                    .interface("org.freedesktop.DBus.Properties")?
                    .serial(serial_nz)
                    .build(&(interface, property))
            })()
            .map_err(PeerError::build)?;
            if let Err(e) = deadline.run(self.stream.write_all(&msg.data()[..])).await? {
                return Err(self.rejection_after_hangup().unwrap_or(e.into()));
            }
            sent.push(serial);
            let resend_at = Instant::now() + patience;
            loop {
                if let Some(reply) = self.take_reply(&sent)? {
                    return reply;
                }
                // Checked on every turn: a peer that always has bytes ready never lets a
                // read be pending, and would otherwise keep this loop going for ever.
                deadline.check()?;
                if Instant::now() >= resend_at {
                    break;
                }
                // Cancel-safe: a read that loses the race to the timer has taken no bytes.
                let stream = &mut self.stream;
                let space = self.inbox.space()?;
                let got = futures_lite::future::or(
                    async {
                        Timer::at(resend_at.min(deadline.at)).await;
                        Ok(None)
                    },
                    async { stream.read(space).await.map(Some) },
                )
                .await;
                let got = match got {
                    Ok(got) => got,
                    Err(e) => return Err(self.rejection_after_hangup().unwrap_or(e.into())),
                };
                match got {
                    Some(0) => return Err(PeerError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                    Some(n) => self.inbox.filled(n),
                    None => {}
                }
            }
            patience = (patience * 2).min(MAX_PATIENCE);
        }
    }

    /// After a write failed because the server hung up: its rejection line, if it sent one
    /// before it did (what it said is a better error than the broken pipe).
    fn rejection_after_hangup(&mut self) -> Option<PeerError> {
        use std::io::Read;
        // The socket is non-blocking: this reads what is buffered and stops (or when the
        // inbox is full, which a line of at most MAX_LINE bytes never makes it).
        loop {
            let space = self.inbox.space().ok()?;
            match self.stream.get_ref().read(space) {
                Ok(n @ 1..) => self.inbox.filled(n),
                _ => break,
            }
        }
        if self.authenticated {
            return None;
        }
        match self.inbox.take_line() {
            Ok(Some(line)) if !line.starts_with("OK ") => {
                Some(PeerError::CredentialsRejected(line))
            }
            _ => None,
        }
    }

    /// The answer to one of the calls in `sent`, once the inbox holds it: the `OK` line
    /// first, then messages (others than our replies are skipped).
    fn take_reply(&mut self, sent: &[u32]) -> Result<Option<Result<Reply, PeerError>>, PeerError> {
        if !self.authenticated {
            match self.inbox.take_line()? {
                None => return Ok(None),
                Some(line) if line.starts_with("OK ") => self.authenticated = true,
                Some(line) => return Err(PeerError::CredentialsRejected(line)),
            }
        }
        while let Some(parsed) = self.inbox.take_message()? {
            if !parsed.reply_serial.is_some_and(|r| sent.contains(&r)) {
                continue;
            }
            return Ok(Some(match parsed.kind {
                METHOD_RETURN => Ok(Reply {
                    serial: parsed.serial,
                    string: parsed.variant_string,
                }),
                ERROR => Err(PeerError::Dbus {
                    name: parsed.error_name.unwrap_or_default(),
                    message: parsed.error_message,
                }),
                _ => Err(PeerError::Malformed(
                    "a reply that is neither a return nor an error",
                )),
            }));
        }
        Ok(None)
    }
}

/// A public call's deadline: checked on every turn of a loop, and raced (polled first)
/// against every wait.
struct Deadline {
    call: &'static str,
    after: Duration,
    at: Instant,
}

impl Deadline {
    fn new(call: &'static str, after: Duration) -> Deadline {
        Deadline {
            call,
            after,
            at: Instant::now() + after,
        }
    }

    fn expired(&self) -> PeerError {
        PeerError::Timeout {
            call: self.call,
            after: self.after,
        }
    }

    fn check(&self) -> Result<(), PeerError> {
        if Instant::now() >= self.at {
            return Err(self.expired());
        }
        Ok(())
    }

    /// `fut`, unless the deadline comes first; the timer is polled first, so a future that
    /// is always ready cannot starve it.
    async fn run<T>(&self, fut: impl Future<Output = T>) -> Result<T, PeerError> {
        self.check()?;
        futures_lite::future::or(
            async {
                Timer::at(self.at).await;
                Err(self.expired())
            },
            async { Ok(fut.await) },
        )
        .await
    }
}

/// What the client says before its first message: the NUL byte, `AUTH EXTERNAL` with
/// `uid` hex-encoded as ASCII, and `BEGIN`, each line ending in CRLF.
fn auth_begin(uid: &str) -> Vec<u8> {
    let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
    format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").into_bytes()
}

/// The longest authentication line we accept from the server (an `OK <guid>` line is 35
/// bytes).
const MAX_LINE: usize = 4096;

/// Bytes read from the server and not yet taken, in one buffer of [`MAX_MESSAGE`] bytes
/// that never grows: first one authentication line, then whole messages. Taking never
/// consumes part of a line or a message; what is taken is moved out of the buffer's front.
#[derive(Debug)]
struct Inbox {
    buf: Box<[u8]>,
    len: usize,
}

impl Inbox {
    fn new() -> Inbox {
        Inbox {
            buf: vec![0; MAX_MESSAGE].into_boxed_slice(),
            len: 0,
        }
    }

    /// Where the next read goes. Never empty while a line or message is incomplete: a
    /// line is refused past MAX_LINE and a message past MAX_MESSAGE (by its fixed header).
    fn space(&mut self) -> Result<&mut [u8], PeerError> {
        if self.len == self.buf.len() {
            return Err(PeerError::Malformed(
                "more than 1 MiB without a whole message",
            ));
        }
        Ok(&mut self.buf[self.len..])
    }

    /// `n` bytes were read into [`space`](Self::space).
    fn filled(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }

    #[cfg(test)]
    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn held(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Drops the first `n` bytes.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// The next CRLF-terminated line, without its CRLF.
    fn take_line(&mut self) -> Result<Option<String>, PeerError> {
        let held = &self.held()[..self.len.min(MAX_LINE + 2)];
        let Some(end) = held.windows(2).position(|w| w == b"\r\n") else {
            return if self.len > MAX_LINE {
                Err(PeerError::Malformed("authentication line too long"))
            } else {
                Ok(None)
            };
        };
        let line = String::from_utf8(held[..end].to_vec())
            .map_err(|_| PeerError::Malformed("authentication line not UTF-8"));
        self.consume(end + 2);
        line.map(Some)
    }

    /// The next whole message, by the lengths in its fixed header, parsed.
    fn take_message(&mut self) -> Result<Option<Parsed>, PeerError> {
        let Some(fixed) = Fixed::read(self.held())? else {
            return Ok(None);
        };
        let total = fixed.len();
        if self.len < total {
            return Ok(None);
        }
        let parsed = parse(&self.held()[..total]);
        self.consume(total);
        parsed.map(Some)
    }
}

/// The fuzz driver's way into the inbox: `stream` pushed `chunk` bytes at a time, taken
/// as [`Peer`] takes it (the authentication line, then messages), until the peer's bytes
/// end or an error ends the exchange. The inbox must never hold more than its buffer.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_inbox(stream: &[u8], chunk: usize) {
    let mut inbox = Inbox::new();
    let mut authenticated = false;
    for piece in stream.chunks(chunk) {
        let mut piece = piece;
        while !piece.is_empty() {
            let Ok(space) = inbox.space() else {
                return;
            };
            let n = space.len().min(piece.len());
            space[..n].copy_from_slice(&piece[..n]);
            inbox.filled(n);
            piece = &piece[n..];
            assert!(inbox.len <= MAX_MESSAGE);
            if !authenticated {
                match inbox.take_line() {
                    Ok(Some(line)) if line.starts_with("OK ") => authenticated = true,
                    Ok(None) => continue,
                    _ => return,
                }
            }
            loop {
                match inbox.take_message() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    }
}

/// The parts of a message the doctor needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    kind: u8,
    serial: u32,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    /// An error's message: the body's first string.
    error_message: Option<String>,
    variant_string: Option<String>,
}

fn text(buf: &[u8], at: std::ops::Range<usize>, what: &'static str) -> Result<String, Malformed> {
    String::from_utf8(buf[at].to_vec()).map_err(|_| Malformed(what))
}

fn parse(buf: &[u8]) -> Result<Parsed, PeerError> {
    let fixed = Fixed::read(buf)?.ok_or(Malformed("truncated"))?;
    let mut p = Parsed {
        kind: fixed.kind,
        serial: fixed.serial,
        ..Parsed::default()
    };
    let mut body_sig = String::new();
    for field in fields(buf, &fixed) {
        let field = field?;
        match (field.code, field.value) {
            (ERROR_NAME, FieldValue::Text(at)) => {
                p.error_name = Some(text(buf, at, "string not UTF-8")?);
            }
            (REPLY_SERIAL, FieldValue::U32(n)) => p.reply_serial = Some(n),
            (SIGNATURE, FieldValue::Text(at)) => body_sig = text(buf, at, "signature not UTF-8")?,
            _ => {}
        }
    }
    let mut c = Cursor::new(buf, fixed.body_start(), fixed.big);
    if body_sig == "v" {
        let sig = c.signature()?;
        if buf[sig] == *b"s" {
            let at = c.string()?;
            p.variant_string = Some(text(buf, at, "string not UTF-8")?);
        }
    } else if body_sig.starts_with('s') && fixed.kind == ERROR {
        // Error replies carry their message as the first string; keep it with the name.
        let at = c.string()?;
        p.error_message = Some(text(buf, at, "string not UTF-8")?);
    }
    Ok(p)
}

#[cfg(test)]
mod tests;
