//! Running a binary of this workspace as a user would, for the integration tests of
//! `sdcookie` (`crates/cli/tests/cli.rs`) and of `sdcookie-lab` (`crates/lab/tests/lab.rs`,
//! which includes this file by path): one harness for the two binaries that share their
//! exit-status and one-line-error conventions. Each test file uses part of it.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Not a timing assertion: a guard so that a hang fails the test instead of CI.
const HANG: Duration = Duration::from_secs(180);

/// A finished run: its exit code and both outputs.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Each of `lines` is a whole line of stdout.
    pub fn assert_lines(&self, lines: &[&str]) {
        for line in lines {
            assert!(
                self.stdout.lines().any(|l| l == *line),
                "no line {line:?}: {}",
                self.context()
            );
        }
    }

    /// Everything about the run, for an assertion's message.
    pub fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `exe args` to the end, without the caller's system-bus address; a run that takes
/// longer than [`HANG`] is killed by its pid and fails the test.
pub fn run(exe: &str, args: &[&str]) -> Run {
    let mut child = Command::new(exe)
        .args(args)
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {exe}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{exe} {args:?} hung for {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Bad input is exit 2 with exactly one line on stderr, `NAME: error: ...` (NAME the
/// binary's file name) mentioning `mentions`, and nothing on stdout.
pub fn assert_usage_error(exe: &str, args: &[&str], mentions: &str) {
    let r = run(exe, args);
    assert_eq!(r.code, Some(2), "{args:?}: {}", r.context());
    assert!(r.stdout.is_empty(), "{args:?}: {}", r.context());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {}", r.context());
    let name = std::path::Path::new(exe)
        .file_name()
        .unwrap()
        .to_string_lossy();
    assert!(
        lines[0].starts_with(&format!("{name}: error: ")),
        "{args:?}: {}",
        r.context()
    );
    assert!(
        lines[0].contains(mentions),
        "{args:?}: {:?} does not mention {mentions:?}",
        lines[0]
    );
}
