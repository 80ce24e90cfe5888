//! `sdcookie doctor` against peers that mean harm, on both of its sockets at once (the bus
//! address and the private socket are Unix listeners of this test): one that claims a
//! 100 MiB message, one that never stops sending, one whose SASL line never ends, one that
//! sends half a message and falls silent. Each time the doctor must end within the bound
//! its deadlines give (about 3 × `--timeout`), with verdict unknown (exit 2) and a typed
//! error kind for each socket, and its peak RSS must stay under 32 MiB: it runs as root on
//! every node, in pods limited to 128 MiB. The peak is GNU time's `%M` (`/usr/bin/time`,
//! installed by scripts/install-deps): a child's own `ru_maxrss` would count the memory of
//! this test process, which the kernel carries into the child's maximum at exec; `time`
//! forks the doctor from its own small image. No systemd and no root needed.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sdcookie::report::{ProbeErrorKind, Report, Verdict};

const SDCOOKIE: &str = env!("CARGO_BIN_EXE_sdcookie");

/// The most the doctor may take with `--timeout 2s`: its documented bound (3 deadlines)
/// and a second of slack for starting the process.
const BOUND: Duration = Duration::from_secs(7);
/// The peak RSS the doctor must stay under.
const RSS_CAP_KIB: i64 = 32 * 1024;

/// What a hostile peer does once it has accepted a connection.
#[derive(Debug, Clone, Copy)]
enum Peer {
    /// `OK`, then a fixed header claiming a 100 MiB body, then zeros for ever.
    Claims100Mib,
    /// `OK`, then whole messages (signals, not replies) for ever.
    EndlessStream,
    /// One SASL line that never ends.
    EndlessSaslLine,
    /// `OK` and half a message, then silence with the connection open.
    HalfMessage,
}

const OK_LINE: &[u8] = b"OK 0123456789abcdef0123456789abcdef\r\n";

fn signal_message() -> Vec<u8> {
    zbus::message::Message::signal("/a", "a.b", "C")
        .unwrap()
        .build(&("x".repeat(4000),))
        .unwrap()
        .data()
        .to_vec()
}

/// Writes `bytes` again and again until the client hangs up.
fn endlessly(conn: &mut UnixStream, bytes: &[u8]) {
    while conn.write_all(bytes).is_ok() {}
}

impl Peer {
    fn serve(self, mut conn: UnixStream) {
        // Whatever the doctor sends is read and dropped, so its writes never block.
        let mut drain = conn.try_clone().unwrap();
        thread::spawn(move || {
            let _ = std::io::copy(&mut drain, &mut std::io::sink());
        });
        match self {
            Peer::Claims100Mib => {
                let mut head = b"l\x04\x01\x01".to_vec();
                head.extend_from_slice(&(100u32 << 20).to_le_bytes());
                head.extend_from_slice(&1u32.to_le_bytes());
                head.extend_from_slice(&0u32.to_le_bytes());
                let _ = conn.write_all(OK_LINE);
                let _ = conn.write_all(&head);
                endlessly(&mut conn, &[0; 64 * 1024]);
            }
            Peer::EndlessStream => {
                let _ = conn.write_all(OK_LINE);
                let msg = signal_message();
                endlessly(&mut conn, &msg);
            }
            Peer::EndlessSaslLine => endlessly(&mut conn, &[b'x'; 64 * 1024]),
            Peer::HalfMessage => {
                let msg = signal_message();
                let _ = conn.write_all(OK_LINE);
                let _ = conn.write_all(&msg[..msg.len() / 2]);
                // Silent, the connection open, until the client hangs up.
                let mut b = [0u8; 1];
                let _ = conn.try_clone().unwrap().read(&mut b);
                thread::sleep(BOUND);
            }
        }
    }
}

/// A directory of one test's own, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Listens at `dir/name` and serves every connection as `peer` does, on threads that
/// live as long as the test binary.
fn listen(dir: &TempDir, name: &str, peer: Peer) -> PathBuf {
    let path = dir.0.join(name);
    let listener = UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {path:?}: {e}"));
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || peer.serve(conn));
        }
    });
    path
}

/// What one run of the doctor gave.
struct Outcome {
    code: Option<i32>,
    took: Duration,
    max_rss_kib: i64,
    stdout: String,
    stderr: String,
}

/// GNU time, which measures the doctor's peak RSS.
const TIME: &str = "/usr/bin/time";

/// Runs the doctor against `peer` on both sockets, under GNU time.
fn doctor_against(peer: Peer) -> Outcome {
    assert!(
        std::path::Path::new(TIME).is_file(),
        "{TIME} is missing (Debian package `time`): run scripts/install-deps"
    );
    let dir =
        std::env::temp_dir().join(format!("sdcookie-hostile-{peer:?}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let bus = listen(&dir, "bus", peer);
    let private = listen(&dir, "private", peer);
    let rss_file = dir.0.join("max-rss");
    let start = Instant::now();
    let mut child = Command::new(TIME)
        .arg("--format=%M")
        .arg("--output")
        .arg(&rss_file)
        .arg(SDCOOKIE)
        .arg("doctor")
        .arg("--address")
        .arg(format!("unix:path={}", bus.display()))
        .arg("--private")
        .arg(&private)
        .args(["--timeout", "2s", "--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {TIME} {SDCOOKIE}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BOUND * 4 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the doctor against {peer:?} still runs after {:?}",
                BOUND * 4
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    // time writes "Command exited with non-zero status N" first, then the format's line.
    let measured = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let max_rss_kib = measured
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from {TIME}: {measured:?}"));
    Outcome {
        code: status.code(),
        took,
        max_rss_kib,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn assert_bounded(peer: Peer, private_kind: ProbeErrorKind) {
    let o = doctor_against(peer);
    let context = format!(
        "{peer:?}: exit {:?} after {:?}, peak RSS {} KiB\n--- stdout\n{}\n--- stderr\n{}",
        o.code, o.took, o.max_rss_kib, o.stdout, o.stderr
    );
    // The measurement, for the record (`cargo test -- --nocapture` shows it).
    eprintln!(
        "hostile peer {peer:?}: doctor exit {:?} after {:.2}s, peak RSS {} KiB",
        o.code,
        o.took.as_secs_f64(),
        o.max_rss_kib
    );
    assert_eq!(o.code, Some(2), "{context}");
    assert!(o.took < BOUND, "{context}");
    assert!(o.max_rss_kib > 0, "no rusage: {context}");
    assert!(o.max_rss_kib < RSS_CAP_KIB, "{context}");
    let v: Report = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {context}"));
    assert_eq!(v.verdict, Verdict::Unknown, "{context}");
    // Whatever the bus's listener does, zbus's handshake does not finish: a connect failure.
    assert_eq!(
        v.bus_error_kind,
        Some(ProbeErrorKind::ConnectFailed),
        "{context}"
    );
    assert_eq!(v.private_error_kind, Some(private_kind), "{context}");
}

#[test]
fn a_peer_that_claims_100_mib_is_refused_from_the_header() {
    assert_bounded(Peer::Claims100Mib, ProbeErrorKind::Malformed);
}

#[test]
fn a_peer_that_never_stops_sending_is_cut_off_by_the_deadline() {
    assert_bounded(Peer::EndlessStream, ProbeErrorKind::Timeout);
}

#[test]
fn a_never_ending_sasl_line_is_refused() {
    assert_bounded(Peer::EndlessSaslLine, ProbeErrorKind::Malformed);
}

#[test]
fn half_a_message_then_silence_is_a_timeout() {
    assert_bounded(Peer::HalfMessage, ProbeErrorKind::Timeout);
}
