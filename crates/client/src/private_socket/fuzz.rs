//! The driver of the `private_frame` fuzz target (crates/client/fuzz), and the replay of
//! its saved inputs: bytes as a peer on the private socket would send them, through the
//! code that reads them — the doctor's inbox (authentication line, then whole messages,
//! parsed), the fixed header, the header-field walk and the direct connection's sender
//! rewrite. Whatever the bytes, nothing panics and the caps hold: the inbox never holds
//! more than `MAX_MESSAGE` (1 MiB), no framed message is longer, every field's range lies
//! inside the message, and the rewrite changes at most the 24 bytes of a SENDER that was
//! exactly `org.freedesktop.systemd1`.
//!
//! Public only with the `fuzzing` feature (for the fuzz crate), and hidden from the docs.

use super::ask::fuzz_inbox;
use super::frame::{fields, FieldValue, Fixed, MAX_MESSAGE};
use super::split::fuzz_rewrite_sender;

/// Runs `data` through the private socket's framing. The first byte sets how the rest is
/// split into reads (1 to 256 bytes each); the rest is what the peer sends.
pub fn private_frame(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    fuzz_inbox(stream, usize::from(chunk) + 1);
    if let Ok(Some(fixed)) = Fixed::read(stream) {
        assert!(fixed.len() <= MAX_MESSAGE, "framed past the cap: {fixed:?}");
        let msg = &stream[..fixed.len().min(stream.len())];
        for field in fields(msg, &fixed).map_while(Result::ok) {
            if let FieldValue::Text(at) = field.value {
                assert!(at.end <= msg.len() && at.start <= at.end, "{at:?}");
            }
        }
    }
    let mut copy = stream.to_vec();
    fuzz_rewrite_sender(&mut copy);
    assert_eq!(copy.len(), stream.len());
    let changed: Vec<usize> = (0..copy.len()).filter(|&i| copy[i] != stream[i]).collect();
    if let (Some(&first), Some(&last)) = (changed.first(), changed.last()) {
        assert!(last - first < 24, "rewrite changed {first}..={last}");
        assert_eq!(
            &stream[first..][..1],
            b"o",
            "the rewrite starts at systemd's name"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every saved input under crates/client/fuzz/regressions/private_frame/ (each named for
    /// what it exercises or broke) still runs through the driver.
    #[test]
    fn every_saved_private_frame_input_still_holds_the_caps() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/private_frame");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            private_frame(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "no saved inputs in {}", dir.display());
    }

    #[test]
    fn an_ok_line_then_a_reply_in_one_byte_reads() {
        let mut data = vec![0u8];
        data.extend_from_slice(b"OK 0123456789abcdef0123456789abcdef\r\n");
        data.extend_from_slice(b"l\x02\x01\x01\x00\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00");
        data.extend_from_slice(&[5, 1, b'u', 0, 1, 0, 0, 0]);
        private_frame(&data);
    }
}
