//! Just enough D-Bus, by hand, to ask systemd one question over its private socket.
//!
//! Why not zbus here: on `/run/systemd/private` systemd stamps every message it sends with
//! `SENDER=org.freedesktop.systemd1` (a well-known name, `sd_bus_set_sender()` in
//! `src/core/dbus.c`), and zbus 5.19 assumes a sender is a unique name: its reader panics
//! ("Invalid field reconstruction: InvalidName") and the call never completes. So the
//! doctor speaks the protocol itself: SASL `AUTH EXTERNAL`, `BEGIN`, one method call (built
//! and marshalled by zbus, which is fine), and a reader that looks at only the fixed header,
//! the `REPLY_SERIAL`/`ERROR_NAME` fields and a `v`-of-`s` body.
//!
//! Every read and write is non-blocking and awaited, so the caller's deadline bounds it.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// What went wrong talking to the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RawError {
    /// Socket-level failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer did not accept our credentials.
    #[error("authentication rejected: {0}")]
    Auth(String),
    /// The peer sent something that is not D-Bus as we know it.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The call was answered with a D-Bus error.
    #[error("D-Bus error {0}")]
    Error(String),
    /// Building our message failed.
    #[error("{0}")]
    Build(#[from] zbus::Error),
}

/// A reply: its serial (the sender's cookie) and, for a `v` holding an `s`, the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The serial in the reply's header.
    pub serial: u32,
    /// The body's string, if the body is a variant holding a string.
    pub string: Option<String>,
}

/// A peer-to-peer connection that has finished authentication.
#[derive(Debug)]
pub struct Peer {
    stream: Async<UnixStream>,
    next_serial: u32,
}

impl Peer {
    /// Connects to `path` and authenticates with `EXTERNAL` (our uid, hex-encoded as ASCII).
    pub async fn connect(path: &Path) -> Result<Peer, RawError> {
        let mut stream = Async::<UnixStream>::connect(path).await?;
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        stream
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
            .await?;
        let line = read_line(&mut stream).await?;
        if !line.starts_with("OK ") {
            return Err(RawError::Auth(line));
        }
        stream.write_all(b"BEGIN\r\n").await?;
        Ok(Peer {
            stream,
            next_serial: 1,
        })
    }

    /// Calls `Properties.Get(interface, property)` on `path` of `destination` and waits
    /// for the reply to that call (other messages are skipped).
    pub async fn get_property(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        property: &str,
    ) -> Result<Reply, RawError> {
        // systemd 252 sometimes leaves a call that arrives right after BEGIN in its read
        // buffer without processing it until more bytes come (sd-bus's server stays in its
        // auth state; compare systemd#17425 and PR #24875). So if nothing arrives soon, the
        // call is sent again with a new serial, which wakes it; any of our calls' replies
        // will do. Waiting for readability is cancel-safe, unlike a half-read message.
        let mut sent = Vec::new();
        let mut patience = Duration::from_millis(25);
        loop {
            let serial = self.next_serial;
            self.next_serial += 1;
            let msg = zbus::message::Message::method_call(path, "Get")?
                .destination(destination)?
                .interface("org.freedesktop.DBus.Properties")?
                .serial(
                    serial
                        .try_into()
                        .map_err(|_| RawError::Malformed("serial 0"))?,
                )
                .build(&(interface, property))?;
            self.stream.write_all(&msg.data()[..]).await?;
            sent.push(serial);
            let readable = futures_lite::future::or(
                async { self.stream.readable().await.map(|()| true) },
                async {
                    Timer::after(patience).await;
                    Ok(false)
                },
            )
            .await?;
            if readable {
                break;
            }
            patience = (patience * 2).min(Duration::from_secs(1));
        }
        loop {
            let raw = read_message(&mut self.stream).await?;
            let parsed = parse(&raw)?;
            if !parsed.reply_serial.is_some_and(|r| sent.contains(&r)) {
                continue;
            }
            return match parsed.kind {
                MSG_RETURN => Ok(Reply {
                    serial: parsed.serial,
                    string: parsed.variant_string,
                }),
                MSG_ERROR => Err(RawError::Error(parsed.error_name.unwrap_or_default())),
                _ => Err(RawError::Malformed(
                    "a reply that is neither a return nor an error",
                )),
            };
        }
    }
}

const MSG_RETURN: u8 = 2;
const MSG_ERROR: u8 = 3;
/// The longest message D-Bus allows (128 MiB); anything longer is garbage.
const MAX_MESSAGE: usize = 128 << 20;

async fn read_line(stream: &mut Async<UnixStream>) -> Result<String, RawError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // One byte at a time: the server's next bytes after the line are D-Bus messages we
    // must not swallow, and the auth exchange is a handful of short lines.
    while !line.ends_with(b"\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(RawError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        line.push(byte[0]);
        if line.len() > 4096 {
            return Err(RawError::Malformed("authentication line too long"));
        }
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| RawError::Malformed("authentication line not UTF-8"))
}

fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

async fn read_message(stream: &mut Async<UnixStream>) -> Result<Vec<u8>, RawError> {
    let mut buf = vec![0u8; 16];
    stream.read_exact(&mut buf).await?;
    let u32_at = |b: &[u8], i: usize| -> Result<u32, RawError> {
        let bytes: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
        match b[0] {
            b'l' => Ok(u32::from_le_bytes(bytes)),
            b'B' => Ok(u32::from_be_bytes(bytes)),
            _ => Err(RawError::Malformed("unknown endianness")),
        }
    };
    let body = u32_at(&buf, 4)? as usize;
    let fields = u32_at(&buf, 12)? as usize;
    let total = pad8(16 + fields) + body;
    if total > MAX_MESSAGE {
        return Err(RawError::Malformed("message too long"));
    }
    buf.resize(total, 0);
    stream.read_exact(&mut buf[16..]).await?;
    Ok(buf)
}

/// The parts of a message the doctor needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    kind: u8,
    serial: u32,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    variant_string: Option<String>,
}

/// A cursor over a marshalled message with D-Bus alignment rules.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    big: bool,
}

impl Cursor<'_> {
    fn align(&mut self, n: usize) -> Result<(), RawError> {
        self.pos = self.pos.div_ceil(n) * n;
        if self.pos > self.buf.len() {
            return Err(RawError::Malformed("truncated"));
        }
        Ok(())
    }
    fn take(&mut self, n: usize) -> Result<&[u8], RawError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(RawError::Malformed("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, RawError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, RawError> {
        self.align(4)?;
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn string(&mut self) -> Result<String, RawError> {
        let n = self.u32()? as usize;
        let s = self.take(n + 1)?;
        String::from_utf8(s[..n].to_vec()).map_err(|_| RawError::Malformed("string not UTF-8"))
    }
    fn signature(&mut self) -> Result<String, RawError> {
        let n = self.u8()? as usize;
        let s = self.take(n + 1)?;
        String::from_utf8(s[..n].to_vec()).map_err(|_| RawError::Malformed("signature not UTF-8"))
    }
    /// Skips or reads one basic value of type `sig` (only the types header fields use).
    fn value(&mut self, sig: &str) -> Result<Option<Value>, RawError> {
        Ok(Some(match sig {
            "s" | "o" => Value::Str(self.string()?),
            "g" => Value::Str(self.signature()?),
            "u" => Value::U32(self.u32()?),
            _ => return Ok(None),
        }))
    }
}

enum Value {
    Str(String),
    U32(u32),
}

fn parse(buf: &[u8]) -> Result<Parsed, RawError> {
    let big = match buf.first() {
        Some(b'l') => false,
        Some(b'B') => true,
        _ => return Err(RawError::Malformed("unknown endianness")),
    };
    let mut c = Cursor { buf, pos: 1, big };
    let kind = c.u8()?;
    let _flags = c.u8()?;
    let _version = c.u8()?;
    let _body_len = c.u32()?;
    let serial = c.u32()?;
    let fields_len = c.u32()? as usize;
    let fields_end = 16 + fields_len;
    let mut p = Parsed {
        kind,
        serial,
        ..Parsed::default()
    };
    let mut body_sig = String::new();
    while c.pos < fields_end {
        c.align(8)?;
        let code = c.u8()?;
        let sig = c.signature()?;
        match (code, c.value(&sig)?) {
            (4, Some(Value::Str(s))) => p.error_name = Some(s),
            (5, Some(Value::U32(n))) => p.reply_serial = Some(n),
            (8, Some(Value::Str(s))) => body_sig = s,
            (_, Some(_)) => {}
            (_, None) => return Err(RawError::Malformed("unexpected header field type")),
        }
    }
    c.pos = pad8(fields_end);
    if body_sig == "v" {
        if c.signature()? == "s" {
            p.variant_string = Some(c.string()?);
        }
    } else if body_sig.starts_with('s') && kind == MSG_ERROR {
        // Error replies carry their message as the first string; keep it with the name.
        let text = c.string()?;
        p.error_name = Some(format!("{}: {text}", p.error_name.unwrap_or_default()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What systemd 252 sent on its private socket, byte for byte (seen with strace):
    /// serial 1, REPLY_SERIAL 1, SENDER org.freedesktop.systemd1, body v(s).
    const SYSTEMD_252_REPLY: &[u8] = b"l\x02\x01\x01\x19\0\0\0\x01\0\0\x007\0\0\0\
\x05\x01u\0\x01\0\0\0\x07\x01s\0\x18\0\0\0org.freedesktop.systemd1\0\0\0\0\0\0\0\0\
\x08\x01g\0\x01v\0\0\x01s\0\0\x10\0\0\x00252.38-1~deb12u1\0";

    #[test]
    fn parses_systemd_reply_with_well_known_sender() {
        let p = parse(SYSTEMD_252_REPLY).unwrap();
        assert_eq!(p.kind, MSG_RETURN);
        assert_eq!(p.serial, 1);
        assert_eq!(p.reply_serial, Some(1));
        assert_eq!(p.variant_string.as_deref(), Some("252.38-1~deb12u1"));
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        for n in 0..SYSTEMD_252_REPLY.len() {
            let _ = parse(&SYSTEMD_252_REPLY[..n]);
        }
        assert!(parse(&SYSTEMD_252_REPLY[..40]).is_err());
    }

    #[test]
    fn parses_zbus_marshalled_error_reply() {
        let call = zbus::message::Message::method_call("/x", "Get")
            .unwrap()
            .serial(7.try_into().unwrap())
            .build(&())
            .unwrap();
        let err = zbus::message::Message::error(&call.header(), "org.example.Oops")
            .unwrap()
            .build(&("it broke",))
            .unwrap();
        let p = parse(&err.data()[..]).unwrap();
        assert_eq!(p.kind, MSG_ERROR);
        assert_eq!(p.reply_serial, Some(7));
        assert_eq!(p.error_name.as_deref(), Some("org.example.Oops: it broke"));
    }
}
