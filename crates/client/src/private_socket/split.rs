//! The socket under the client's long-lived direct connection to the private socket: a
//! zbus [`Split`] whose read half frames incoming messages ([`super::frame`]) and rewrites
//! one header field, in place and with the same length: a SENDER that is exactly
//! `org.freedesktop.systemd1` becomes [`DIRECT_SENDER`], a valid unique name (see the
//! module docs of [`super`] for why). Nothing else is touched; the dispatcher treats
//! [`DIRECT_SENDER`] like no sender.
//!
//! Framing starts after the SASL handshake: bytes are passed through line by line (each
//! at most [`MAX_LINE`] bytes) up to the server's `OK` and, when descriptor passing is
//! negotiated, the one line that answers it (`AGREE_UNIX_FD` or `ERROR`); everything after
//! that is messages. zbus reads handshake lines without a cap, so it never sees a byte of a
//! line longer than ours. Bytes are read through one fixed buffer and kept only as
//! they arrive, and a message whose fixed header claims more than
//! [`MAX_MESSAGE`](super::frame::MAX_MESSAGE) is an `InvalidData` error before any of it is
//! kept, so what zbus buffers above is bounded by that cap, whatever length a peer claims.
//!
//! The same read half without the rewrite ([`connect`]'s `rewrite_sender: false`) is how
//! `sdcookie doctor` reads the system bus: zbus alone would take a 128 MiB message or an
//! endless SASL line from whoever listens at the address.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use async_io::Async;
use zbus::connection::socket::{BoxedSplit, ReadHalf, Split, WriteHalf};

use super::frame::{fields, Field, FieldValue, Fixed, SENDER};

/// What the rewritten sender reads as (24 bytes, like `org.freedesktop.systemd1`).
pub(crate) const DIRECT_SENDER: &str = ":org.freedesktop.systemd";
const SD_SENDER: &[u8] = b"org.freedesktop.systemd1";

/// The longest SASL line taken from the server (an `OK <guid>` line is 35 bytes).
pub(crate) const MAX_LINE: usize = 4096;
/// The fixed buffer every read goes through.
const CHUNK: usize = 16 * 1024;

#[derive(Debug)]
struct Reader {
    inner: Arc<Async<UnixStream>>,
    /// Every read lands here first; it never grows.
    chunk: Box<[u8]>,
    /// Bytes read from the socket, not yet framed: at most a line, or a message's fixed
    /// header and the part of it that arrived.
    pending: Vec<u8>,
    /// Framed bytes ready for zbus, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    saw_ok: bool,
    /// Handshake lines still to come after `OK`: 1 while `AGREE_UNIX_FD` is awaited.
    lines_after_ok: u8,
    messages: bool,
    /// Whether a SENDER of `org.freedesktop.systemd1` is rewritten (the direct connection).
    rewrite: bool,
    /// Whether descriptor passing is negotiated and received descriptors go to zbus.
    fds_wanted: bool,
    fds: Vec<OwnedFd>,
}

impl Reader {
    /// Reads until `want` bytes are pending (never more than one chunk beyond it); false
    /// at end of stream.
    async fn fill(&mut self, want: usize) -> io::Result<bool> {
        while self.pending.len() < want {
            let (n, fds) = self.inner.recvmsg(&mut self.chunk).await?;
            // Without negotiation, descriptors a peer passes anyway are closed here.
            if self.fds_wanted {
                self.fds.extend(fds);
            }
            if n == 0 {
                return Ok(false);
            }
            self.pending.extend_from_slice(&self.chunk[..n]);
        }
        Ok(true)
    }

    /// Produces the next chunk into `out`; false at end of stream.
    async fn produce(&mut self) -> io::Result<bool> {
        if !self.messages {
            if self.saw_ok && self.lines_after_ok == 0 {
                self.messages = true;
            }
            if !self.messages {
                loop {
                    if let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
                        let line: Vec<u8> = self.pending.drain(..i + 2).collect();
                        if self.saw_ok {
                            self.lines_after_ok -= 1;
                        } else if line.starts_with(b"OK ") {
                            self.saw_ok = true;
                        }
                        self.out = line;
                        self.out_pos = 0;
                        return Ok(true);
                    }
                    let have = self.pending.len();
                    if have > MAX_LINE {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "authentication line too long",
                        ));
                    }
                    if !self.fill(have + 1).await? {
                        return Ok(false);
                    }
                }
            }
        }
        if !self.fill(super::frame::FIXED_LEN).await? {
            return Ok(false);
        }
        let fixed = Fixed::read(&self.pending)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?
            .expect("the fixed header is there");
        let total = fixed.len();
        if !self.fill(total).await? {
            return Ok(false);
        }
        let mut msg: Vec<u8> = self.pending.drain(..total).collect();
        if self.rewrite {
            rewrite_sender(&mut msg);
        }
        self.out = msg;
        self.out_pos = 0;
        Ok(true)
    }
}

/// Replaces the value of the SENDER header field of `msg` when it is exactly
/// `org.freedesktop.systemd1` with [`DIRECT_SENDER`]. A message whose header does not walk
/// is left as it is, for zbus to refuse.
fn rewrite_sender(msg: &mut [u8]) {
    let Ok(Some(fixed)) = Fixed::read(msg) else {
        return;
    };
    let sender = fields(msg, &fixed)
        .map_while(Result::ok)
        .find_map(|f| match f {
            Field {
                code: SENDER,
                sig: b's',
                value: FieldValue::Text(at),
            } => Some(at),
            _ => None,
        });
    if let Some(at) = sender {
        let name = &mut msg[at];
        if name == SD_SENDER {
            name.copy_from_slice(DIRECT_SENDER.as_bytes());
        }
    }
}

/// [`rewrite_sender`] for the fuzz driver.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_rewrite_sender(msg: &mut [u8]) {
    rewrite_sender(msg);
}

#[async_trait::async_trait]
impl ReadHalf for Reader {
    async fn recvmsg(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        if self.out_pos >= self.out.len() && !self.produce().await? {
            return Ok((0, std::mem::take(&mut self.fds)));
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok((n, std::mem::take(&mut self.fds)))
    }

    /// Negotiated on the direct connection, as zbus always did there: its round trip
    /// keeps the first call out of the read that carries `BEGIN`, which systemd 252 can
    /// leave unprocessed until more bytes come (see `ask`'s module docs). Not on the
    /// doctor's bus connection, which needs no descriptor.
    fn can_pass_unix_fd(&self) -> bool {
        self.fds_wanted
    }

    async fn peer_credentials(&mut self) -> io::Result<zbus::fdo::ConnectionCredentials> {
        ReadHalf::peer_credentials(&mut self.inner).await
    }
}

/// Connects (non-blocking) to a `unix:path=` address and returns the split socket for
/// zbus, whose read half caps lines and messages; `rewrite_sender` for systemd's private
/// socket (see the module docs), which also negotiates descriptor passing as zbus does.
pub(crate) async fn connect(address: &str, rewrite_sender: bool) -> io::Result<BoxedSplit> {
    let path = unix_path(address).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a capped connection needs a unix:path= address",
        )
    })?;
    let stream = Arc::new(Async::<UnixStream>::connect(path).await?);
    let reader = Reader {
        inner: Arc::clone(&stream),
        chunk: vec![0; CHUNK].into_boxed_slice(),
        pending: Vec::new(),
        out: Vec::new(),
        out_pos: 0,
        saw_ok: false,
        lines_after_ok: u8::from(rewrite_sender),
        messages: false,
        rewrite: rewrite_sender,
        fds_wanted: rewrite_sender,
        fds: Vec::new(),
    };
    Ok(Split::new(
        Box::new(reader) as Box<dyn ReadHalf>,
        Box::new(stream) as Box<dyn WriteHalf>,
    ))
}

/// The path of a `unix:path=PATH[,guid=...]` address.
fn unix_path(address: &str) -> Option<&str> {
    let rest = address.strip_prefix("unix:path=")?;
    Some(rest.split(',').next().unwrap_or(rest))
}

/// A connection to the bus at `address` (`unix:path=` only) whose reads are capped as the
/// private socket's are (see the module docs): for a caller that must not buffer what a
/// hostile listener sends, such as `sdcookie doctor`. The handshake and `Hello` are
/// zbus's; the caller bounds them with its deadline.
///
/// # Errors
///
/// zbus's error when the address is not `unix:path=`, the socket cannot be connected, or
/// the authentication or `Hello` fails.
pub async fn capped_bus(address: &str) -> zbus::Result<zbus::Connection> {
    let socket = connect(address, false).await.map_err(zbus::Error::from)?;
    zbus::connection::Builder::socket(socket).build().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What zbus would read from a reader over a socket whose peer sent `sent` and hung up:
    /// the bytes handed over, and the error that ended it, if any.
    fn read_all(sent: &[u8], rewrite: bool) -> (Vec<u8>, Option<io::Error>) {
        use std::io::Write;
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let sent = sent.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = theirs.write_all(&sent);
        });
        let mut reader = Reader {
            inner: Arc::new(Async::new(ours).unwrap()),
            chunk: vec![0; CHUNK].into_boxed_slice(),
            pending: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            saw_ok: false,
            lines_after_ok: u8::from(rewrite),
            messages: false,
            rewrite,
            fds_wanted: rewrite,
            fds: Vec::new(),
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let end = async_io::block_on(async {
            loop {
                match reader.recvmsg(&mut buf).await {
                    Ok((0, _)) => return None,
                    Ok((n, _)) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return Some(e),
                }
            }
        });
        writer.join().unwrap();
        (got, end)
    }

    const OK: &[u8] = b"OK 0123456789abcdef0123456789abcdef\r\n";

    #[test]
    fn handshake_lines_pass_through_and_a_line_past_the_cap_is_refused() {
        let mut sent = OK.to_vec();
        sent.extend_from_slice(b"AGREE_UNIX_FD\r\n");
        let (got, end) = read_all(&sent, true);
        assert_eq!(got, sent);
        // The hang-up after them is the socket's end (zbus's read says BrokenPipe).
        assert_ne!(end.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
        let (got, end) = read_all(&[b'x'; 3 * MAX_LINE], false);
        assert!(got.is_empty());
        assert_eq!(end.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    /// After `OK`, a peer that sends a message where the answer to NEGOTIATE_UNIX_FD is due
    /// is held to the line cap, not handed to zbus's uncapped line reader.
    #[test]
    fn a_message_where_a_handshake_line_is_due_is_refused() {
        let mut sent = OK.to_vec();
        sent.extend(std::iter::repeat_n(b'l', 2 * MAX_LINE));
        let (got, end) = read_all(&sent, true);
        assert_eq!(got, OK);
        assert_eq!(end.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    #[test]
    fn a_message_claiming_100_mib_is_refused_from_its_header() {
        let mut sent = OK.to_vec();
        sent.extend_from_slice(b"l\x02\x01\x01");
        sent.extend_from_slice(&(100u32 << 20).to_le_bytes());
        sent.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        sent.extend(std::iter::repeat_n(0, 64 * 1024));
        let (got, end) = read_all(&sent, false);
        assert_eq!(got, OK);
        assert_eq!(end.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    #[test]
    fn only_the_sender_field_with_systemds_name_is_rewritten() {
        // Primary header (16 bytes, 41 bytes of fields) + one REPLY_SERIAL field + one
        // SENDER field.
        let mut h = vec![b'l', 2, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 41, 0, 0, 0];
        h.extend_from_slice(&[5, 1, b'u', 0, 9, 0, 0, 0]);
        h.extend_from_slice(&[7, 1, b's', 0, 24, 0, 0, 0]);
        h.extend_from_slice(SD_SENDER);
        h.push(0);
        let mut other = h.clone();
        rewrite_sender(&mut h);
        assert_eq!(&h[32..56], DIRECT_SENDER.as_bytes());
        assert_eq!(&h[..32], &other[..32]);
        // A different name is left alone.
        other[40] = b'O';
        let before = other.clone();
        rewrite_sender(&mut other);
        assert_eq!(other, before);
        assert!(zbus::names::UniqueName::try_from(DIRECT_SENDER).is_ok());
        assert_eq!(DIRECT_SENDER.len(), SD_SENDER.len());
    }
}
