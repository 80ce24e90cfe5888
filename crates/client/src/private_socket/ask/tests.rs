//! The one-question exchange with PID 1 on its private socket, against a peer played by
//! the test: what goes out, what is read back, and every limit and deadline on the way.

use super::*;
use std::path::PathBuf;

/// What systemd 252 sent on its private socket, byte for byte (seen with strace):
/// serial 1, REPLY_SERIAL 1, SENDER org.freedesktop.systemd1, body v(s).
const SYSTEMD_252_REPLY: &[u8] = b"l\x02\x01\x01\x19\0\0\0\x01\0\0\x007\0\0\0\
\x05\x01u\0\x01\0\0\0\x07\x01s\0\x18\0\0\0org.freedesktop.systemd1\0\0\0\0\0\0\0\0\
\x08\x01g\0\x01v\0\0\x01s\0\0\x10\0\0\x00252.38-1~deb12u1\0";

#[test]
fn parses_systemd_reply_with_well_known_sender() {
    let p = parse(SYSTEMD_252_REPLY).unwrap();
    assert_eq!(p.kind, METHOD_RETURN);
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

fn get_call(serial: u32) -> zbus::message::Message {
    zbus::message::Message::method_call("/org/freedesktop/systemd1", "Get")
        .unwrap()
        .destination("org.freedesktop.systemd1")
        .unwrap()
        .interface("org.freedesktop.DBus.Properties")
        .unwrap()
        .serial(serial.try_into().unwrap())
        .build(&("org.freedesktop.systemd1.Manager", "Version"))
        .unwrap()
}

#[test]
fn auth_and_begin_go_out_in_one_piece() {
    assert_eq!(auth_begin("0"), b"\0AUTH EXTERNAL 30\r\nBEGIN\r\n");
    assert_eq!(auth_begin("1000"), b"\0AUTH EXTERNAL 31303030\r\nBEGIN\r\n");
}

#[test]
fn inbox_takes_only_whole_lines_and_messages_whatever_the_chunking() {
    let mut stream = b"OK 0123456789abcdef0123456789abcdef\r\n".to_vec();
    stream.extend_from_slice(SYSTEMD_252_REPLY);
    stream.extend_from_slice(SYSTEMD_252_REPLY);
    for chunk in [1, 2, 7, 16, 64, stream.len()] {
        let mut inbox = Inbox::new();
        let (mut lines, mut messages) = (Vec::new(), Vec::new());
        for piece in stream.chunks(chunk) {
            inbox.push(piece);
            if lines.is_empty() {
                lines.extend(inbox.take_line().unwrap());
            }
            if !lines.is_empty() {
                while let Some(m) = inbox.take_message().unwrap() {
                    messages.push(m);
                }
            }
        }
        assert_eq!(
            lines,
            ["OK 0123456789abcdef0123456789abcdef"],
            "chunk {chunk}"
        );
        let reply = parse(SYSTEMD_252_REPLY).unwrap();
        assert_eq!(messages.len(), 2, "chunk {chunk}");
        assert!(messages.iter().all(|m| *m == reply), "chunk {chunk}");
        assert_eq!(inbox.len, 0);
    }
}

#[test]
fn inbox_rejects_a_line_without_end_and_a_message_beyond_the_limit() {
    let mut inbox = Inbox::new();
    inbox.push(&[b'x'; MAX_LINE + 1]);
    assert!(matches!(inbox.take_line(), Err(PeerError::Malformed(_))));
    let mut inbox = Inbox::new();
    inbox.push(b"l\x02\x01\x01\xff\xff\xff\x7f\x01\0\0\0\x08\0\0\0");
    assert!(matches!(inbox.take_message(), Err(PeerError::Malformed(_))));
}

/// Not a timing assertion: the deadline of the calls in tests whose peer answers.
const PATIENCE: Duration = Duration::from_secs(10);

/// Reads from `conn` until `want` bytes have come, however they are split.
fn read_at_least(conn: &mut std::os::unix::net::UnixStream, want: usize) -> Vec<u8> {
    use std::io::Read;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.len() < want {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "client hung up after {} bytes", got.len());
        got.extend_from_slice(&chunk[..n]);
    }
    got
}

/// A directory of one test's own, removed when the test ends, whether it passed or
/// panicked (a failing test, or a mutant under mutation testing, leaves nothing behind).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A socket listening in a directory of this test's own (`name` and our pid): the
/// directory's guard and the socket's path.
fn listen(name: &str) -> (TempDir, PathBuf, std::os::unix::net::UnixListener) {
    let dir = std::env::temp_dir().join(format!("sdbus-cgroup-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let path = dir.0.join("private");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    (dir, path, listener)
}

/// A server that, like v219 PID 1 with its prepare callbacks stalled, does nothing
/// after reading `AUTH`, `BEGIN` and the call until more bytes arrive. The client must
/// not wait for `OK` before `BEGIN`, and must send again when nothing comes.
#[test]
fn a_server_that_moves_only_on_input_answers_after_the_call_is_sent_again() {
    use std::io::Write;
    let (_dir, path, listener) = listen("ask");
    let call_len = get_call(1).data().len();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // A client that never sends what this server waits for fails the test, not hangs it.
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head = auth_begin(&nix::unistd::geteuid().as_raw().to_string());
        let first = read_at_least(&mut conn, head.len() + call_len);
        assert_eq!(&first[..head.len()], &head[..], "AUTH and BEGIN first");
        // Stalled until the client speaks again: that is the repeated call (unless it
        // already came with the first).
        if first.len() == head.len() + call_len {
            read_at_least(&mut conn, 1);
        }
        let reply = zbus::message::Message::method_return(&get_call(1).header())
            .unwrap()
            .build(&zbus::zvariant::Value::from("219"))
            .unwrap();
        conn.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")
            .unwrap();
        conn.write_all(&reply.data()[..]).unwrap();
    });
    let reply = async_io::block_on(async {
        let mut peer = Peer::connect(&path, PATIENCE).await.unwrap();
        peer.get_property(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "Version",
            PATIENCE,
        )
        .await
    });
    server.join().unwrap();
    let reply = reply.unwrap();
    assert_eq!(reply.string.as_deref(), Some("219"));
}

#[test]
fn a_rejected_auth_is_an_auth_error() {
    use std::io::Write;
    let (_dir, path, listener) = listen("ask-rej");
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        read_at_least(&mut conn, 1);
        conn.write_all(b"REJECTED EXTERNAL\r\nERROR\r\n").unwrap();
    });
    let err = async_io::block_on(async {
        let mut peer = Peer::connect(&path, PATIENCE).await.unwrap();
        peer.get_property("a.b", "/a", "a.b", "C", PATIENCE).await
    });
    server.join().unwrap();
    assert!(
        matches!(err, Err(PeerError::CredentialsRejected(line)) if line == "REJECTED EXTERNAL")
    );
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
    assert_eq!(p.kind, ERROR);
    assert_eq!(p.reply_serial, Some(7));
    assert_eq!(p.error_name.as_deref(), Some("org.example.Oops"));
    assert_eq!(p.error_message.as_deref(), Some("it broke"));
    let e = PeerError::Dbus {
        name: p.error_name.unwrap(),
        message: p.error_message,
    };
    assert_eq!(e.to_string(), "D-Bus error org.example.Oops: it broke");
}

#[test]
fn a_socket_error_is_the_source_and_not_repeated_in_the_message() {
    use std::error::Error as _;
    let e = PeerError::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset",
    ));
    assert_eq!(e.to_string(), "I/O on the socket failed");
    let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionReset)
    );
}

/// A server that accepts one connection, reads what the client sends (on a thread of
/// its own, so the client's writes never block) and sends `talk`'s bytes until the
/// client hangs up; then the client's result and how long the call took.
fn against(
    name: &str,
    talk: impl FnOnce(&mut std::os::unix::net::UnixStream) + Send + 'static,
    timeout: Duration,
) -> (Result<Reply, PeerError>, Duration) {
    let (_dir, path, listener) = listen(name);
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut drain = conn.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut drain, &mut std::io::sink());
        });
        talk(&mut conn);
    });
    let start = Instant::now();
    let result = async_io::block_on(async {
        let mut peer = Peer::connect(&path, timeout).await?;
        peer.get_property("a.b", "/a", "a.b", "C", timeout).await
    });
    let took = start.elapsed();
    server.join().unwrap();
    (result, took)
}

const OK_LINE: &[u8] = b"OK 0123456789abcdef0123456789abcdef\r\n";

/// Writes `bytes` again and again until the client hangs up.
fn endlessly(conn: &mut std::os::unix::net::UnixStream, bytes: &[u8]) {
    use std::io::Write;
    while conn.write_all(bytes).is_ok() {}
}

#[test]
fn a_peer_that_never_stops_sending_is_cut_off_at_the_deadline() {
    use std::io::Write;
    // Whole messages that are not our reply, as fast as the socket takes them.
    let other = zbus::message::Message::signal("/a", "a.b", "C")
        .unwrap()
        .build(&("x".repeat(1000),))
        .unwrap()
        .data()
        .to_vec();
    let timeout = Duration::from_millis(500);
    let (result, took) = against(
        "ask-flood",
        move |conn| {
            conn.write_all(OK_LINE).unwrap();
            endlessly(conn, &other);
        },
        timeout,
    );
    assert!(
        matches!(result, Err(PeerError::Timeout { call: "get_property", after }) if after == timeout),
        "{result:?}"
    );
    // Not a timing assertion on the machine's speed: a deadline that fired at all.
    assert!(took < timeout * 20, "{took:?}");
}

#[test]
fn a_peer_that_claims_100_mib_is_refused_from_the_header() {
    use std::io::Write;
    let mut head = b"l\x02\x01\x01".to_vec();
    head.extend_from_slice(&(100u32 << 20).to_le_bytes());
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    let (result, _) = against(
        "ask-huge",
        move |conn| {
            conn.write_all(OK_LINE).unwrap();
            conn.write_all(&head).unwrap();
            endlessly(conn, &[0; 4096]);
        },
        PATIENCE,
    );
    assert!(
        matches!(result, Err(PeerError::Malformed("message too long"))),
        "{result:?}"
    );
}

#[test]
fn a_never_ending_authentication_line_is_refused() {
    let (result, _) = against("ask-line", |conn| endlessly(conn, &[b'x'; 4096]), PATIENCE);
    assert!(
        matches!(
            result,
            Err(PeerError::Malformed("authentication line too long"))
        ),
        "{result:?}"
    );
}

#[test]
fn half_a_message_then_silence_is_a_timeout() {
    use std::io::Write;
    let timeout = Duration::from_millis(300);
    let half = &SYSTEMD_252_REPLY[..SYSTEMD_252_REPLY.len() / 2];
    let (result, _) = against(
        "ask-half",
        move |conn| {
            conn.write_all(OK_LINE).unwrap();
            conn.write_all(half).unwrap();
            // Silent until the client hangs up.
            let mut b = [0u8; 1];
            let _ = std::io::Read::read(&mut conn.try_clone().unwrap(), &mut b);
            std::thread::sleep(timeout * 4);
        },
        timeout,
    );
    assert!(
        matches!(result, Err(PeerError::Timeout { .. })),
        "{result:?}"
    );
}

#[test]
fn the_call_asks_not_to_start_anything() {
    let (_dir, path, listener) = listen("ask-flags");
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head = auth_begin(&nix::unistd::geteuid().as_raw().to_string());
        let got = read_at_least(&mut conn, head.len() + FIXED_LEN_FOR_TEST);
        got[head.len() + 2]
    });
    let _ = async_io::block_on(async {
        let mut peer = Peer::connect(&path, PATIENCE).await?;
        peer.get_property("a.b", "/a", "a.b", "C", Duration::from_millis(200))
            .await
    });
    let flags = server.join().unwrap();
    assert_eq!(flags & 0x2, 0x2, "NO_AUTO_START in flags {flags:#x}");
}

const FIXED_LEN_FOR_TEST: usize = 16;
