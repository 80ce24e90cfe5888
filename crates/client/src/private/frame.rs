//! D-Bus messages framed by hand: a message's length from its fixed header, and a walk of
//! its header fields. Pure functions over bytes, shared by the rewriting read half
//! ([`super::split`]) and the one-question exchange ([`super::ask`]).
//!
//! The layout (D-Bus specification, "Message Format"): a 16-byte fixed header (endianness
//! `l`/`B`, type, flags, version, body length, serial, length of the header-field array),
//! the array of header fields, each `(code, variant)` starting 8-aligned, padding to 8, then
//! the body. Every length read from the peer is checked before it is used, so garbage is
//! an error, never a panic.

use std::ops::Range;

/// The longest message D-Bus allows (128 MiB); a longer one is garbage.
pub(crate) const MAX_MESSAGE: usize = 128 << 20;
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
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The field code ([`SENDER`], [`REPLY_SERIAL`], ...).
    pub code: u8,
    /// The type of its value: `s`, `o`, `g` or `u` (the only ones header fields use).
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
    let sig = c.signature()?;
    let sig = match c.buf[sig] {
        [s] => s,
        _ => return Err(Malformed("unexpected header field type")),
    };
    let value = match sig {
        b's' | b'o' => FieldValue::Text(c.string()?),
        b'g' => FieldValue::Text(c.signature()?),
        b'u' => FieldValue::U32(c.u32()?),
        _ => return Err(Malformed("unexpected header field type")),
    };
    Ok(Field { code, sig, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A return with a SENDER and a REPLY_SERIAL field, marshalled by zbus.
    fn message(sender: &str) -> Vec<u8> {
        message_in(zbus::zvariant::Endian::Little, sender)
    }

    fn message_in(endian: zbus::zvariant::Endian, sender: &str) -> Vec<u8> {
        let call = zbus::message::Message::method_call("/x", "Get")
            .unwrap()
            .serial(7.try_into().unwrap())
            .build(&())
            .unwrap();
        zbus::message::Message::method_return(&call.header())
            .unwrap()
            .endian(endian)
            .sender(sender)
            .unwrap()
            .serial(9.try_into().unwrap())
            .build(&("v",))
            .unwrap()
            .data()
            .to_vec()
    }

    #[test]
    fn the_fixed_header_gives_the_whole_length_and_the_serial() {
        let m = message(":1.5");
        assert_eq!(Fixed::read(&m[..FIXED_LEN - 1]), Ok(None));
        let f = Fixed::read(&m).unwrap().unwrap();
        assert_eq!(
            (f.len(), f.kind, f.serial, f.big),
            (m.len(), METHOD_RETURN, 9, false)
        );
        assert_eq!(f.body_start() % 8, 0);
        let mut bad = m.clone();
        bad[0] = b'x';
        assert_eq!(Fixed::read(&bad), Err(Malformed("unknown endianness")));
    }

    #[test]
    fn a_big_endian_message_reads_the_same() {
        let m = message_in(zbus::zvariant::Endian::Big, ":1.5");
        assert_eq!(m[0], b'B');
        let f = Fixed::read(&m).unwrap().unwrap();
        assert_eq!((f.len(), f.serial, f.big), (m.len(), 9, true));
        let reply = fields(&m, &f)
            .map(Result::unwrap)
            .find(|x| x.code == REPLY_SERIAL)
            .unwrap();
        assert_eq!(reply.value, FieldValue::U32(7));
    }

    /// The D-Bus specification's limit is 2^27 bytes, that length included.
    #[test]
    fn a_message_of_128_mib_is_framed_and_one_byte_more_is_refused() {
        let head = |body_len: u32| {
            let mut h = vec![b'l', METHOD_RETURN, 0, 1];
            h.extend_from_slice(&body_len.to_le_bytes());
            h.extend_from_slice(&1u32.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h
        };
        let at_limit = (MAX_MESSAGE - FIXED_LEN) as u32;
        let f = Fixed::read(&head(at_limit)).unwrap().unwrap();
        assert_eq!(f.len(), MAX_MESSAGE);
        assert_eq!(
            Fixed::read(&head(at_limit + 1)),
            Err(Malformed("message too long"))
        );
        assert_eq!(MAX_MESSAGE, 134_217_728);
    }

    #[test]
    fn the_walk_finds_every_field_and_its_value() {
        let m = message(":1.5");
        let f = Fixed::read(&m).unwrap().unwrap();
        let fields: Vec<Field> = fields(&m, &f).collect::<Result<_, _>>().unwrap();
        let sender = fields.iter().find(|x| x.code == SENDER).unwrap();
        assert_eq!(sender.sig, b's');
        let FieldValue::Text(r) = sender.value.clone() else {
            panic!("{sender:?}")
        };
        assert_eq!(&m[r], b":1.5");
        let reply = fields.iter().find(|x| x.code == REPLY_SERIAL).unwrap();
        assert_eq!(reply.value, FieldValue::U32(7));
        let sig = fields.iter().find(|x| x.code == SIGNATURE).unwrap();
        assert_eq!(sig.sig, b'g');
    }

    #[test]
    fn a_walk_of_a_truncated_header_ends_in_an_error_not_a_panic() {
        let m = message(":1.5");
        let f = Fixed::read(&m).unwrap().unwrap();
        for n in FIXED_LEN..f.fields_end() {
            let last = fields(&m[..n], &f).last();
            assert!(matches!(last, Some(Err(_))), "{n}: {last:?}");
        }
    }
}
