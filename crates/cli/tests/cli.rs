//! End-to-end tests of the `sdcookie` binary, run as a user would run it, where no systemd
//! is needed: bad input, help, and the doctor and `scope run` with nothing to talk to. The
//! doctor and `scope` against a real systemd are in `crates/lab/tests/lab.rs` (the binary
//! inside `sdcookie-lab sandbox`) and in the `tests/` crate.

use std::os::unix::net::UnixListener;

use sdbus_test_support::run::{self as support, Run};
use sdcookie::report::{Report, Verdict};

const BIN: &str = env!("CARGO_BIN_EXE_sdcookie");

fn run(args: &[&str]) -> Run {
    support::run(BIN, args)
}

fn assert_usage_error(args: &[&str], mentions: &str) {
    support::assert_usage_error(BIN, args, mentions);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let scope = |extra: &[&'static str]| {
        let mut v = vec!["scope", "run", "--name", "t"];
        v.extend_from_slice(extra);
        v
    };
    assert_usage_error(
        &scope(&["--memory-max", "10X", "--", "true"]),
        "unknown size suffix 'X'",
    );
    assert_usage_error(
        &scope(&["--memory-high", "1MB", "--", "true"]),
        "unknown size suffix 'MB'",
    );
    assert_usage_error(&scope(&["--tasks-max", "0", "--", "true"]), "zero tasks");
    assert_usage_error(
        &scope(&["--allowed-cpus", "", "--", "true"]),
        "invalid cpuset \"\": empty set",
    );
    assert_usage_error(
        &scope(&["--cpu-weight", "0", "--", "true"]),
        "outside 1..=10000",
    );
    assert_usage_error(&scope(&[]), "<CMD>");
    assert_usage_error(&["doctor", "--interval", "5y"], "unknown duration unit 'y'");
    assert_usage_error(&["doctor", "--format", "xml"], "xml");
    assert_usage_error(
        &["scope", "run", "--name", "a b", "--", "true"],
        "invalid unit name \"a b.scope\": invalid character",
    );
    assert_usage_error(&["scope", "update", "t"], "at least one limit");
    assert_usage_error(&["frobnicate"], "frobnicate");
    assert_usage_error(&["doctor", "--every", "5m"], "--output");
    assert_usage_error(&["relay", "/run/sdcookie/npd"], "--max-age");
    assert_usage_error(
        &["relay", "--max-age", "0s", "/run/sdcookie/npd"],
        "greater than zero",
    );
}

#[test]
fn relay_of_a_missing_report_is_unknown_exit_2_with_one_line() {
    let r = run(&["relay", "--max-age", "15m", "/nonexistent/sdcookie/npd"]);
    assert_eq!(r.code, Some(2), "{}", r.context());
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.context());
    assert!(
        r.stdout
            .starts_with("unknown: cannot read the doctor's report /nonexistent/sdcookie/npd: "),
        "{}",
        r.context()
    );
}

#[test]
fn help_documents_exit_codes() {
    let r = run(&["--help"]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.contains("Exit codes:"), "{}", r.context());
    let r = run(&["doctor", "--help"]);
    assert!(r.stdout.contains("0 ok, 1 problem"), "{}", r.context());
}

#[test]
fn doctor_without_systemd_is_unknown_exit_2() {
    let r = run(&[
        "doctor",
        "--address",
        "unix:path=/nonexistent",
        "--private",
        "/nonexistent",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.context());
    let v: Report =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(!v.bus_responsive);
    assert!(!v.private_responsive);
    assert!(v.message.contains("no systemd reachable"));
    // The type is the format: read back and written again, the report is the same bytes.
    assert_eq!(
        serde_json::to_string_pretty(&v).unwrap() + "\n",
        r.stdout,
        "the JSON report round-trips through sdcookie::report::Report"
    );

    let r = run(&[
        "doctor",
        "--address",
        "unix:path=/nonexistent",
        "--private",
        "/nonexistent",
        "--npd",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.context());
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.context());
    assert!(r.stdout.starts_with("unknown: "), "{}", r.context());
}

/// A peer that accepts connections and never says a word: the doctor must give up at its
/// deadline (unknown, exit 2) instead of waiting forever, on both sockets.
#[test]
fn doctor_against_a_silent_peer_gives_up_at_its_deadline() {
    let dir = std::env::temp_dir().join(format!("sdcookie-silent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bus = dir.join("bus");
    let private = dir.join("private");
    let _ = std::fs::remove_file(&bus);
    let _ = std::fs::remove_file(&private);
    let _l1 = UnixListener::bind(&bus).unwrap();
    let _l2 = UnixListener::bind(&private).unwrap();
    let address = format!("unix:path={}", bus.display());
    let r = run(&[
        "doctor",
        "--address",
        &address,
        "--private",
        private.to_str().unwrap(),
        "--timeout",
        "1s",
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, Some(2), "{}", r.context());
    let v: Report =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(
        v.bus_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within 1s")),
        "{}",
        r.context()
    );
    assert!(
        v.private_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within 1s")),
        "{}",
        r.context()
    );
}

/// No systemd: `scope run` fails with 125 and one line, and the command never runs.
#[test]
fn scope_run_without_systemd_is_125_and_never_runs_the_command() {
    let marker = std::env::temp_dir().join(format!("sdcookie-never-{}", std::process::id()));
    let marker = marker.to_str().unwrap();
    let r = run(&[
        "scope",
        "run",
        "--address",
        "unix:path=/nonexistent",
        "--timeout",
        "2s",
        "--name",
        "x",
        "--",
        "touch",
        marker,
    ]);
    assert_eq!(r.code, Some(125), "{}", r.context());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.context());
    assert!(
        r.stderr
            .starts_with("sdcookie: error: connecting to unix:path=/nonexistent"),
        "{}",
        r.context()
    );
    assert!(!std::path::Path::new(marker).exists(), "the command ran");
}
