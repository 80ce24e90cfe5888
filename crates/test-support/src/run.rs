//! Running a binary of this workspace as a user would, to its end, with a deadline that
//! turns a hang into a failed test (not a timing assertion): one harness for `sdcookie` and
//! `sdcookie-lab`, which share their exit-status and one-line-error conventions, and for
//! the end-to-end tests.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long [`run`] lets a binary take before it counts as hung.
pub const HANG: Duration = Duration::from_secs(180);

/// A finished run: its exit code and both outputs.
#[derive(Debug)]
pub struct Run {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    /// What it wrote on stdout.
    pub stdout: String,
    /// What it wrote on stderr.
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
    let mut cmd = Command::new(exe);
    cmd.args(args).env_remove("DBUS_SYSTEM_BUS_ADDRESS");
    let out = run_with_deadline(&mut cmd, HANG);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
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

/// A child that is killed by its pid and reaped when dropped (a no-op once it exited).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `cmd` (stdin closed) to completion and collects its output; running longer than
/// `hang` fails the test, after the process is killed by its pid.
pub fn run_with_deadline(cmd: &mut Command, hang: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            pipe.read_to_end(&mut buf).unwrap();
            buf
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let mut child = Killed(child);
    let deadline = Instant::now() + hang;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{cmd:?} hung for {hang:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A finished command's status and both outputs, for an assertion's message.
pub fn show(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
