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

    /// Our cap is 1 MiB, that length included; the specification's 2^27 is far above it.
    #[test]
    fn a_message_of_1_mib_is_framed_and_one_byte_more_is_refused() {
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
        assert_eq!(MAX_MESSAGE, 1_048_576);
        // A length near what the specification allows is refused from 16 bytes.
        assert_eq!(
            Fixed::read(&head(100 << 20)),
            Err(Malformed("message too long"))
        );
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

    #[test]
    fn a_protocol_version_other_than_1_is_refused() {
        let mut m = message(":1.5");
        for version in [0, 2, 255] {
            m[3] = version;
            assert_eq!(
                Fixed::read(&m),
                Err(Malformed("protocol version is not 1")),
                "{version}"
            );
        }
    }

    /// The fixed header and header-field array of a return with REPLY_SERIAL 7, then
    /// `extra` (fields already padded to 8), then SENDER ":1.5"; no body.
    fn with_fields(extra: &[u8]) -> Vec<u8> {
        let mut fields = vec![5, 1, b'u', 0, 7, 0, 0, 0];
        fields.extend_from_slice(extra);
        fields.extend_from_slice(&[7, 1, b's', 0, 4, 0, 0, 0, b':', b'1', b'.', b'5', 0]);
        let mut m = vec![b'l', METHOD_RETURN, 0, 1, 0, 0, 0, 0, 9, 0, 0, 0];
        m.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        m.extend_from_slice(&fields);
        m.resize(pad8(m.len()), 0);
        m
    }

    fn codes(m: &[u8]) -> Result<Vec<(u8, FieldValue)>, Malformed> {
        let f = Fixed::read(m).unwrap().unwrap();
        fields(m, &f)
            .map(|x| x.map(|x| (x.code, x.value)))
            .collect()
    }

    #[test]
    fn unknown_header_fields_of_any_type_are_skipped() {
        let sender = |m: &[u8]| {
            codes(m)
                .unwrap()
                .into_iter()
                .find(|(c, _)| *c == SENDER)
                .map(|(_, v)| v)
        };
        // Code 42, a(yv) holding one struct (y 1, v of u 2): the length 8, padding to
        // the struct's alignment, the struct.
        let array = [
            42, 5, b'a', b'(', b'y', b'v', b')', 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'u', 0, 2, 0, 0,
            0,
        ];
        // Code 200, a t (8-aligned: the code, sig "t", pad, then 8 bytes).
        let big = [200, 1, b't', 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        // Code 10, a variant inside: v holding s "hi".
        let var = [10, 1, b'v', 0, 1, b's', 0, 0, 2, 0, 0, 0, b'h', b'i', 0, 0];
        for extra in [&array[..], &big[..], &var[..]] {
            let m = with_fields(extra);
            let got = sender(&m);
            let Some(FieldValue::Text(at)) = got else {
                panic!("{extra:?}: {:?}", codes(&m))
            };
            assert_eq!(&m[at], b":1.5", "{extra:?}");
            assert!(codes(&m)
                .unwrap()
                .iter()
                .any(|(c, v)| *c == extra[0] && *v == FieldValue::Skipped));
        }
    }

    #[test]
    fn a_known_field_of_the_wrong_type_and_bad_signatures_are_refused() {
        // REPLY_SERIAL as a string.
        let wrong = [5, 1, b's', 0, 1, 0, 0, 0, b'x', 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            codes(&with_fields(&wrong)),
            Err(Malformed("a known header field of the wrong type"))
        );
        for sig in [&b"("[..], b"()", b"a", b"z", b"(y", b"{y"] {
            let mut f = vec![42, sig.len() as u8];
            f.extend_from_slice(sig);
            f.push(0);
            f.resize(16, 0);
            assert!(codes(&with_fields(&f)).is_err(), "{sig:?}");
        }
        // 65 nested arrays: beyond the specification's depth.
        let deep: Vec<u8> = std::iter::repeat_n(b'a', 65).chain([b'y']).collect();
        assert_eq!(
            complete_len(&deep, 0),
            Err(Malformed("types nested too deep"))
        );
        assert_eq!(complete_len(b"a(yv)u", 0), Ok(5));
        assert_eq!(complete_len(b"a{sv}", 0), Ok(5));
    }

    /// Each field the specification defines has its type: PATH `o`; INTERFACE, MEMBER,
    /// ERROR_NAME, DESTINATION, SENDER `s`; REPLY_SERIAL, UNIX_FDS `u`; SIGNATURE `g`.
    /// Given another type, the message is refused; given its own, the value is read.
    #[test]
    fn every_known_field_is_read_with_its_own_type_and_refused_with_another() {
        let s_field = |code: u8, t: u8| {
            let mut f = vec![code, 1, t, 0, 1, 0, 0, 0, b'x', 0];
            f.resize(16, 0);
            f
        };
        let u_field = |code: u8, t: u8| vec![code, 1, t, 0, 3, 0, 0, 0];
        let g_field = |code: u8, t: u8| vec![code, 1, t, 0, 1, b'y', 0, 0];
        for code in 1..=9u8 {
            type Field = fn(u8, u8) -> Vec<u8>;
            let (own, value): (u8, Field) = match code {
                1 => (b'o', |c, t| {
                    let mut f = vec![c, 1, t, 0, 1, 0, 0, 0, b'/', 0];
                    f.resize(16, 0);
                    f
                }),
                5 | 9 => (b'u', |c, t| vec![c, 1, t, 0, 3, 0, 0, 0]),
                8 => (b'g', |c, t| vec![c, 1, t, 0, 1, b'y', 0, 0]),
                _ => (b's', |c, t| {
                    let mut f = vec![c, 1, t, 0, 1, 0, 0, 0, b'x', 0];
                    f.resize(16, 0);
                    f
                }),
            };
            let m = with_fields(&value(code, own));
            let found = codes(&m).unwrap_or_else(|e| panic!("code {code}: {e:?}"));
            let (_, v) = found.iter().find(|(c, _)| *c == code).unwrap();
            assert_ne!(*v, FieldValue::Skipped, "code {code}");
            // The same code with a value of another type.
            let other = match own {
                b'u' => s_field(code, b's'),
                b'g' => u_field(code, b'u'),
                b'o' => s_field(code, b's'),
                _ => g_field(code, b'g'),
            };
            assert_eq!(
                codes(&with_fields(&other)),
                Err(Malformed("a known header field of the wrong type")),
                "code {code}"
            );
        }
        assert_eq!(
            codes(&with_fields(&u_field(0, b'u'))),
            Err(Malformed("header field code 0"))
        );
    }

    /// Skipping reads each value at its own alignment (2 for `q`, 4 for `u`, 8 for `t`):
    /// an array of one `(y T)` holds the padding between the two, and its length says so.
    #[test]
    fn skipped_values_are_read_at_their_alignment() {
        for (t, element) in [
            (b'q', &[1u8, 0, 7, 0][..]),
            (b'u', &[1, 0, 0, 0, 7, 0, 0, 0][..]),
            (b't', &[1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0][..]),
        ] {
            let mut f = vec![42, 5, b'a', b'(', b'y', t, b')', 0];
            f.extend_from_slice(&(element.len() as u32).to_le_bytes());
            f.extend_from_slice(&[0; 4]);
            f.extend_from_slice(element);
            f.resize(pad8(f.len()), 0);
            let m = with_fields(&f);
            let found = codes(&m).unwrap_or_else(|e| panic!("(y{}): {e:?}", t as char));
            assert!(found.iter().any(|(c, _)| *c == SENDER), "{}", t as char);
        }
    }

    /// Nesting is capped at 64 containers (the specification's 32 arrays and 32 structs,
    /// counted together): 64 is read, 65 is refused.
    #[test]
    fn nesting_of_64_is_read_and_65_refused() {
        let nested = |n: usize| -> Vec<u8> { std::iter::repeat_n(b'a', n).chain([b'y']).collect() };
        assert_eq!(complete_len(&nested(64), 0), Ok(65));
        assert_eq!(
            complete_len(&nested(65), 0),
            Err(Malformed("types nested too deep"))
        );
    }

    #[test]
    fn nested_structs_count_toward_the_cap_too() {
        let nested = |n: usize| -> Vec<u8> {
            let mut sig = vec![b'('; n];
            sig.push(b'y');
            sig.extend(std::iter::repeat_n(b')', n));
            sig
        };
        assert_eq!(complete_len(&nested(64), 0), Ok(129));
        assert_eq!(
            complete_len(&nested(65), 0),
            Err(Malformed("types nested too deep"))
        );
    }

    /// `k` variants, each holding the next, the last a `y`: a value whose depth only the
    /// bytes say, not the field's signature.
    fn variants(k: usize) -> Vec<u8> {
        let mut v = [1, b'v', 0].repeat(k);
        v.extend_from_slice(&[1, b'y', 0, 7]);
        v
    }

    /// An unknown field of type `sig`, `gap` zero bytes of padding, then `value`.
    fn field_with(sig: &[u8], gap: usize, value: &[u8]) -> Vec<u8> {
        let mut f = vec![42, sig.len() as u8];
        f.extend_from_slice(sig);
        f.push(0);
        f.extend(std::iter::repeat_n(0, gap));
        f.extend_from_slice(value);
        f.resize(pad8(f.len()), 0);
        f
    }

    /// Variants nested in the bytes count toward the cap, and so does every container
    /// around them: in a field of type `v`, 63 nested variants are read and 64 refused; in
    /// an array or a struct, one level less.
    #[test]
    fn variants_nested_in_the_bytes_are_capped_with_their_containers() {
        let deep = Err(Malformed("types nested too deep"));
        let in_v = |k| codes(&with_fields(&field_with(b"v", 0, &variants(k)))).map(|_| ());
        assert_eq!(in_v(63), Ok(()));
        assert_eq!(in_v(64), deep);
        let in_av = |k| {
            let value = variants(k);
            let mut array = (value.len() as u32).to_le_bytes().to_vec();
            array.extend_from_slice(&value);
            codes(&with_fields(&field_with(b"av", 3, &array))).map(|_| ())
        };
        assert_eq!(in_av(62), Ok(()));
        assert_eq!(in_av(63), deep);
        let in_struct = |k| codes(&with_fields(&field_with(b"(v)", 2, &variants(k)))).map(|_| ());
        assert_eq!(in_struct(62), Ok(()));
        assert_eq!(in_struct(63), deep);
    }

    #[test]
    fn a_skipped_signature_value_is_read_as_one() {
        // Code 42 of type g holding "ay", then the SENDER.
        let m = with_fields(&field_with(b"g", 0, &[2, b'a', b'y', 0]));
        assert!(codes(&m).unwrap().iter().any(|(c, _)| *c == SENDER));
    }

    #[test]
    fn an_array_longer_than_the_message_is_truncated_not_read_past() {
        let mut f = vec![42, 2, b'a', b'y', 0, 0, 0, 0];
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&[0; 4]);
        let m = with_fields(&f);
        assert!(codes(&m).is_err());
    }
}
