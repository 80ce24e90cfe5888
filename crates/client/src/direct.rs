//! The socket under a direct (peer-to-peer) connection to systemd's private socket.
//!
//! sd-bus stamps every message systemd sends on `/run/systemd/private` with the sender
//! `org.freedesktop.systemd1` (a well-known name: there is no bus to assign a unique one).
//! zbus 5's header parser only accepts unique names there and panics in its reader task
//! (cf. zbus#965), so this read half frames the incoming messages itself and rewrites that
//! one field, in place and with the same length, to [`DIRECT_SENDER`], a valid unique
//! name. Nothing else is touched; the dispatcher treats [`DIRECT_SENDER`] like no sender.
//!
//! Framing starts after the SASL handshake: until the server's `OK` line has been handed
//! to zbus, bytes are passed through line by line; the first byte after it that is an
//! endianness mark (`l`/`B`, which no SASL reply starts with) switches to message mode.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use async_io::Async;
use zbus::connection::socket::{BoxedSplit, ReadHalf, Split, WriteHalf};

/// What the rewritten sender reads as (24 bytes, like `org.freedesktop.systemd1`).
pub(crate) const DIRECT_SENDER: &str = ":org.freedesktop.systemd";
const SD_SENDER: &[u8] = b"org.freedesktop.systemd1";
/// D-Bus caps a message at 128 MiB.
const MAX_MESSAGE: usize = 128 << 20;

#[derive(Debug)]
struct Reader {
    inner: Arc<Async<UnixStream>>,
    /// Bytes read from the socket, not yet framed.
    pending: Vec<u8>,
    /// Framed bytes ready for zbus, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    fds: Vec<OwnedFd>,
    saw_ok: bool,
    messages: bool,
}

impl Reader {
    async fn fill(&mut self, want: usize) -> io::Result<bool> {
        while self.pending.len() < want {
            let mut buf = vec![0u8; (want - self.pending.len()).max(4096)];
            let (n, fds) = self.inner.recvmsg(&mut buf).await?;
            self.fds.extend(fds);
            if n == 0 {
                return Ok(false);
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
        Ok(true)
    }

    /// Produces the next chunk into `out`; false at end of stream.
    async fn produce(&mut self) -> io::Result<bool> {
        if !self.messages {
            if self.saw_ok {
                if !self.fill(1).await? {
                    return Ok(false);
                }
                if matches!(self.pending[0], b'l' | b'B') {
                    self.messages = true;
                }
            }
            if !self.messages {
                loop {
                    if let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
                        let line: Vec<u8> = self.pending.drain(..i + 2).collect();
                        if line.starts_with(b"OK ") {
                            self.saw_ok = true;
                        }
                        self.out = line;
                        self.out_pos = 0;
                        return Ok(true);
                    }
                    let have = self.pending.len();
                    if !self.fill(have + 1).await? {
                        return Ok(false);
                    }
                }
            }
        }
        if !self.fill(16).await? {
            return Ok(false);
        }
        let little = self.pending[0] == b'l';
        let u32_at = |b: &[u8], i: usize| {
            let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            (if little {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }) as usize
        };
        let body_len = u32_at(&self.pending, 4);
        let fields_len = u32_at(&self.pending, 12);
        let header_len = 16 + fields_len;
        let total = header_len.div_ceil(8) * 8 + body_len;
        if total > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message larger than 128 MiB",
            ));
        }
        if !self.fill(total).await? {
            return Ok(false);
        }
        let mut msg: Vec<u8> = self.pending.drain(..total).collect();
        rewrite_sender(&mut msg[..header_len], little);
        self.out = msg;
        self.out_pos = 0;
        Ok(true)
    }
}

/// Replaces the value of a SENDER header field (code 7, signature `s`) that is exactly
/// `org.freedesktop.systemd1` with [`DIRECT_SENDER`]. Fields start 8-aligned.
fn rewrite_sender(header: &mut [u8], little: bool) {
    let len = (SD_SENDER.len() as u32).to_le_bytes();
    let len = if little {
        len
    } else {
        (SD_SENDER.len() as u32).to_be_bytes()
    };
    let mut i = 16;
    while i + 8 + SD_SENDER.len() <= header.len() {
        if header[i..i + 4] == [7, 1, b's', 0] && header[i + 4..i + 8] == len {
            let name = &mut header[i + 8..i + 8 + SD_SENDER.len()];
            if name == SD_SENDER {
                name.copy_from_slice(DIRECT_SENDER.as_bytes());
            }
            return;
        }
        i += 8;
    }
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

    fn can_pass_unix_fd(&self) -> bool {
        true
    }

    async fn peer_credentials(&mut self) -> io::Result<zbus::fdo::ConnectionCredentials> {
        ReadHalf::peer_credentials(&mut self.inner).await
    }
}

/// Connects to a `unix:path=` address and returns the split socket for zbus.
pub(crate) fn connect(address: &str) -> io::Result<BoxedSplit> {
    let path = address
        .strip_prefix("unix:path=")
        .map(|p| p.split(',').next().unwrap_or(p))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a direct connection needs a unix:path= address",
            )
        })?;
    let stream = Arc::new(Async::new(UnixStream::connect(path)?)?);
    let reader = Reader {
        inner: Arc::clone(&stream),
        pending: Vec::new(),
        out: Vec::new(),
        out_pos: 0,
        fds: Vec::new(),
        saw_ok: false,
        messages: false,
    };
    Ok(Split::new(
        Box::new(reader) as Box<dyn ReadHalf>,
        Box::new(stream) as Box<dyn WriteHalf>,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sender_field_with_systemds_name_is_rewritten() {
        // Primary header (16 bytes) + one REPLY_SERIAL field + one SENDER field.
        let mut h = vec![b'l', 2, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        h.extend_from_slice(&[5, 1, b'u', 0, 9, 0, 0, 0]);
        h.extend_from_slice(&[7, 1, b's', 0, 24, 0, 0, 0]);
        h.extend_from_slice(SD_SENDER);
        h.push(0);
        let mut other = h.clone();
        rewrite_sender(&mut h, true);
        assert_eq!(&h[32..56], DIRECT_SENDER.as_bytes());
        assert_eq!(&h[..32], &other[..32]);
        // A different name is left alone.
        other[40] = b'O';
        let before = other.clone();
        rewrite_sender(&mut other, true);
        assert_eq!(other, before);
        assert!(zbus::names::UniqueName::try_from(DIRECT_SENDER).is_ok());
        assert_eq!(DIRECT_SENDER.len(), SD_SENDER.len());
    }
}
