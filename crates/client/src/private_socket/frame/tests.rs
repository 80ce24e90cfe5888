//! The framing of messages on the private socket: the fixed header, the walk over the
//! header fields, and the caps on length, nesting and types.

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
        42, 5, b'a', b'(', b'y', b'v', b')', 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'u', 0, 2, 0, 0, 0,
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
