//! D-Bus messages framed by hand: a message's length from its fixed header, and a walk of
//! its header fields. Pure functions over bytes, shared by the rewriting read half
//! ([`super::split`]) and the one-question exchange ([`super::ask`]).
//!
//! The layout (D-Bus specification, "Message Format"): a 16-byte fixed header (endianness
//! `l`/`B`, type, flags, version, body length, serial, length of the header-field array),
//! the array of header fields, each `(code, variant)` starting 8-aligned, padding to 8, then
//! the body. Every length read from the peer is checked before it is used, so garbage is
//! an error, never a panic: a message longer than [`MAX_MESSAGE`] or of another protocol
//! version than 1 is refused from its fixed header alone, before any of it is buffered.
//! Header fields this crate does not use are skipped by their signature, as the
//! specification asks ("unknown header fields must be accepted and ignored"), up to the
//! specification's nesting limits; a known field of the wrong type is refused.

use std::ops::Range;

/// The longest message taken on systemd's private socket: 1 MiB. D-Bus allows 128 MiB,
/// but nothing asked there comes near (the doctor's `Version` reply is about 100 bytes; the
/// client's largest replies and the signals PID 1 sends every direct connection are a few
/// KiB), and the doctor runs in pods whose memory limit is 128 MiB: a peer must not be able
/// to make it buffer what the specification allows.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;
/// The only D-Bus protocol version there is.
pub(crate) const PROTOCOL_VERSION: u8 = 1;
/// How deep containers may nest: the specification's 32 arrays and 32 structs, counted
/// together (a bound on the recursion, not a full check of the two limits).
const MAX_DEPTH: u8 = 64;
/// The fixed header's length.
pub(crate) const FIXED_LEN: usize = 16;

/// Message type of a method return.
pub(crate) const METHOD_RETURN: u8 = 2;
/// Message type of an error.
pub(crate) const ERROR: u8 = 3;

/// Header field `ERROR_NAME` (`s`).
pub(crate) const ERROR_NAME: u8 = 4;
/// Header field `REPLY_SERIAL` (`u`).
pub(crate) const REPLY_SERIAL: u8 = 5;
/// Header field `SENDER` (`s`).
pub(crate) const SENDER: u8 = 7;
/// Header field `SIGNATURE` (`g`): the body's signature.
pub(crate) const SIGNATURE: u8 = 8;

/// The type the specification gives each known header field (codes 1 to 9: PATH,
/// INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL, DESTINATION, SENDER, SIGNATURE,
/// UNIX_FDS); `None` for codes it does not define, whose fields are skipped.
fn known_type(code: u8) -> Option<u8> {
    Some(match code {
        1 => b'o',
        2..=4 | 6 | 7 => b's',
        5 | 9 => b'u',
        8 => b'g',
        _ => return None,
    })
}

/// Bytes that are not a D-Bus message as we read it; says what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// `n` rounded up to a multiple of 8.
pub(crate) fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// A message's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    /// Big-endian (`B`) rather than little-endian (`l`).
    pub big: bool,
    /// The message type (1 call, 2 return, 3 error, 4 signal).
    pub kind: u8,
    /// The sender's serial (its cookie).
    pub serial: u32,
    body_len: usize,
    fields_len: usize,
}

impl Fixed {
    /// The fixed header at the start of `buf`; `None` while fewer than 16 bytes are there.
    /// A message longer than [`MAX_MESSAGE`] is an error.
    pub fn read(buf: &[u8]) -> Result<Option<Fixed>, Malformed> {
        let Some(head) = buf.get(..FIXED_LEN) else {
            return Ok(None);
        };
        let big = match head[0] {
            b'l' => false,
            b'B' => true,
            _ => return Err(Malformed("unknown endianness")),
        };
        if head[3] != PROTOCOL_VERSION {
            return Err(Malformed("protocol version is not 1"));
        }
        let u32_at = |i: usize| {
            let b: [u8; 4] = head[i..i + 4].try_into().expect("4 bytes");
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let fixed = Fixed {
            big,
            kind: head[1],
            body_len: u32_at(4) as usize,
            serial: u32_at(8),
            fields_len: u32_at(12) as usize,
        };
        if fixed.len() > MAX_MESSAGE {
            return Err(Malformed("message too long"));
        }
        Ok(Some(fixed))
    }

    /// Where the header-field array ends.
    pub fn fields_end(&self) -> usize {
        FIXED_LEN + self.fields_len
    }

    /// Where the body starts.
    pub fn body_start(&self) -> usize {
        pad8(self.fields_end())
    }

    /// The whole message's length.
    pub fn len(&self) -> usize {
        self.body_start().saturating_add(self.body_len)
    }
}

/// A cursor over a marshalled message with D-Bus alignment rules (offsets from the
/// message's first byte).
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pub pos: usize,
    big: bool,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` in `buf`, reading numbers big- or little-endian.
    pub fn new(buf: &'a [u8], pos: usize, big: bool) -> Cursor<'a> {
        Cursor { buf, pos, big }
    }

    /// Moves to the next multiple of `n`; a position past the end fails at the next take.
    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }

    fn take(&mut self, n: usize) -> Result<Range<usize>, Malformed> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(Malformed("truncated"))?;
        let r = self.pos..end;
        self.pos = end;
        Ok(r)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.buf[self.take(1)?.start])
    }

    /// A `u`.
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        self.align(4);
        let r = self.take(4)?;
        let b: [u8; 4] = self.buf[r].try_into().expect("4 bytes");
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Where the bytes of an `s` or `o` are (without its NUL).
    pub fn string(&mut self) -> Result<Range<usize>, Malformed> {
        let n = self.u32()? as usize;
        let r = self.take(n.checked_add(1).ok_or(Malformed("truncated"))?)?;
        Ok(r.start..r.end - 1)
    }

    /// Where the bytes of a `g` are (without its NUL).
    pub fn signature(&mut self) -> Result<Range<usize>, Malformed> {
        let n = self.u8()? as usize;
        let r = self.take(n + 1)?;
        Ok(r.start..r.end - 1)
    }
}

/// The value of a header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldValue {
    /// An `s`, `o` or `g`: where its bytes are in the message.
    Text(Range<usize>),
    /// A `u`.
    U32(u32),
    /// A field this crate does not know, skipped.
    Skipped,
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The field code ([`SENDER`], [`REPLY_SERIAL`], ...).
    pub code: u8,
    /// The type of its value: `s`, `o`, `g` or `u` for the known fields; for a skipped
    /// one, the first byte of its signature.
    pub sig: u8,
    /// Its value.
    pub value: FieldValue,
}

/// The header fields of `msg`, whose fixed header is `fixed`, in order. A field of another
/// type than the four header fields use, or one that runs past the buffer, is an error
/// and ends the walk.
pub(crate) fn fields<'a>(
    msg: &'a [u8],
    fixed: &Fixed,
) -> impl Iterator<Item = Result<Field, Malformed>> + 'a {
    let end = fixed.fields_end();
    let mut c = Cursor::new(msg, FIXED_LEN, fixed.big);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || c.pos >= end {
            return None;
        }
        let field = next_field(&mut c);
        failed = field.is_err();
        Some(field)
    })
}

fn next_field(c: &mut Cursor<'_>) -> Result<Field, Malformed> {
    c.align(8);
    let code = c.u8()?;
    let buf = c.buf;
    let sig = &buf[c.signature()?];
    let Some(want) = known_type(code) else {
        if code == 0 {
            return Err(Malformed("header field code 0"));
        }
        if !skip(c, sig, 0)?.is_empty() {
            return Err(Malformed(
                "a header field's variant holds more than one type",
            ));
        }
        let first = sig.first().copied().unwrap_or(0);
        return Ok(Field {
            code,
            sig: first,
            value: FieldValue::Skipped,
        });
    };
    if sig != [want] {
        return Err(Malformed("a known header field of the wrong type"));
    }
    let value = match want {
        b's' | b'o' => FieldValue::Text(c.string()?),
        b'g' => FieldValue::Text(c.signature()?),
        _ => FieldValue::U32(c.u32()?),
    };
    Ok(Field {
        code,
        sig: want,
        value,
    })
}

/// The alignment of values of the type that starts with `t`.
fn alignment(t: u8) -> usize {
    match t {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b'h' | b's' | b'o' | b'a' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1,
    }
}

/// The length of the single complete type at the start of `sig`.
fn complete_len(sig: &[u8], depth: u8) -> Result<usize, Malformed> {
    if depth > MAX_DEPTH {
        return Err(Malformed("types nested too deep"));
    }
    match sig.first() {
        Some(b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's')
        | Some(b'o' | b'g' | b'v') => Ok(1),
        Some(b'a') => Ok(1 + complete_len(&sig[1..], depth + 1)?),
        Some(&open @ (b'(' | b'{')) => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut at = 1;
            while sig.get(at).is_some_and(|&t| t != close) {
                at += complete_len(&sig[at..], depth + 1)?;
            }
            if sig.get(at) != Some(&close) || at == 1 {
                return Err(Malformed("bad signature"));
            }
            Ok(at + 1)
        }
        _ => Err(Malformed("bad signature")),
    }
}

/// Skips one value of the single complete type at the start of `sig`, checking every
/// length against the buffer; returns the rest of `sig`.
fn skip<'s>(c: &mut Cursor<'_>, sig: &'s [u8], depth: u8) -> Result<&'s [u8], Malformed> {
    // complete_len refuses a depth past MAX_DEPTH, so the recursion below is bounded.
    let len = complete_len(sig, depth)?;
    let (this, rest) = sig.split_at(len);
    let t = this[0];
    c.align(alignment(t));
    match t {
        b'y' => {
            c.take(1)?;
        }
        b'n' | b'q' => {
            c.take(2)?;
        }
        b'b' | b'i' | b'u' | b'h' => {
            c.take(4)?;
        }
        b'x' | b't' | b'd' => {
            c.take(8)?;
        }
        b's' | b'o' => {
            c.string()?;
        }
        b'g' => {
            c.signature()?;
        }
        b'v' => {
            let buf = c.buf;
            let inner = &buf[c.signature()?];
            if !skip(c, inner, depth + 1)?.is_empty() {
                return Err(Malformed("a variant holds more than one type"));
            }
        }
        b'a' => {
            let n = c.u32()? as usize;
            let elem = &this[1..];
            c.align(alignment(elem[0]));
            let end = c.pos.checked_add(n).filter(|&e| e <= c.buf.len());
            let end = end.ok_or(Malformed("truncated"))?;
            // Every value takes at least one byte, so this ends.
            while c.pos < end {
                skip(c, elem, depth + 1)?;
            }
            if c.pos != end {
                return Err(Malformed("an array's length does not match its elements"));
            }
        }
        _ => {
            // A struct or dict entry: its fields in order.
            let mut fields = &this[1..len - 1];
            while !fields.is_empty() {
                fields = skip(c, fields, depth + 1)?;
            }
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests;
