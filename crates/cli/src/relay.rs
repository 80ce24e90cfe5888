//! `sdcookie relay FILE --max-age DUR`: node-problem-detector's custom plugin without
//! privileges. In the DaemonSet only the doctor's container runs as root (systemd's private
//! socket serves uid 0 only); it writes its one-line verdict with `doctor --npd --output
//! FILE --every DUR` into a volume that NPD's non-root container mounts read-only, and NPD
//! runs this to turn the file back into the plugin protocol: the line on stdout, 0 ok,
//! 1 problem, 2 unknown.
//!
//! Invariants: the file is believed only when its first line starts with one of the
//! doctor's four verdicts and holds nothing but printable characters (it becomes a node
//! condition's message); at most [`MAX_READ`] bytes are read, whatever the file's size;
//! a file that is missing, unreadable, malformed or older than `--max-age` is `unknown`
//! (exit 2) with the reason, never the last verdict repeated: a doctor that stopped must
//! not leave a node marked healthy.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What is read of the file at most. The doctor's line is a few hundred bytes, and NPD
/// keeps 512 of a plugin's output (`max_output_length`).
pub const MAX_READ: u64 = 4096;

/// The line to print and the exit code, from the file's bytes and age.
pub fn judge(contents: &[u8], age: Duration, max_age: Duration, file: &Path) -> (String, u8) {
    let unknown = |why: String| (format!("unknown: {why}"), 2);
    if age > max_age {
        return unknown(format!(
            "the doctor's report {} is {} s old, more than {} s: is the doctor's container running?",
            file.display(),
            age.as_secs(),
            max_age.as_secs()
        ));
    }
    let line = contents.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = match std::str::from_utf8(line) {
        Ok(l) if !l.chars().any(char::is_control) => l,
        _ => {
            return unknown(format!(
                "the doctor's report {} is not one printable line",
                file.display()
            ))
        }
    };
    let code = match line.split_once(": ").map(|(verdict, _)| verdict) {
        Some("ok") => 0,
        Some("warning" | "critical") => 1,
        Some("unknown") => 2,
        _ => {
            return unknown(format!(
                "the doctor's report {} has no verdict",
                file.display()
            ))
        }
    };
    (line.to_owned(), code)
}

/// Reads `file` (at most [`MAX_READ`] bytes) and judges it at time `now`.
pub fn relay(file: &Path, max_age: Duration, now: SystemTime) -> (String, u8) {
    let read = || -> std::io::Result<(Vec<u8>, SystemTime)> {
        let f = File::open(file)?;
        let modified = f.metadata()?.modified()?;
        let mut contents = Vec::new();
        f.take(MAX_READ).read_to_end(&mut contents)?;
        Ok((contents, modified))
    };
    match read() {
        // A modification time ahead of the clock (a skewed clock) counts as fresh.
        Ok((contents, modified)) => judge(
            &contents,
            now.duration_since(modified).unwrap_or_default(),
            max_age,
            file,
        ),
        Err(e) => (
            format!(
                "unknown: cannot read the doctor's report {}: {e}",
                file.display()
            ),
            2,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/run/sdcookie/npd";
    const MIN: Duration = Duration::from_secs(60);

    fn judged(contents: &str, age: Duration) -> (String, u8) {
        judge(contents.as_bytes(), age, 15 * MIN, Path::new(FILE))
    }

    #[test]
    fn each_verdict_exits_with_the_plugin_code_and_prints_its_line() {
        for (line, code) in [
            ("ok: systemd 252 has the fix", 0),
            ("warning: headroom 10%", 1),
            ("critical: deaf on the bus", 1),
            ("unknown: no systemd answered", 2),
        ] {
            assert_eq!(judged(&format!("{line}\n"), MIN), (line.to_owned(), code));
        }
    }

    #[test]
    fn a_report_older_than_max_age_is_unknown_not_its_verdict() {
        let (line, code) = judged("ok: fine\n", 15 * MIN + Duration::from_secs(1));
        assert_eq!(code, 2);
        assert!(
            line.starts_with(
                "unknown: the doctor's report /run/sdcookie/npd is 901 s old, more than 900 s"
            ),
            "{line}"
        );
        // At exactly max-age it is still believed.
        assert_eq!(judged("ok: fine\n", 15 * MIN).1, 0);
    }

    #[test]
    fn only_the_first_line_counts() {
        assert_eq!(
            judged("critical: x\nok: y\n", MIN),
            ("critical: x".to_owned(), 1)
        );
    }

    #[test]
    fn a_line_without_a_known_verdict_is_unknown() {
        for bad in [
            "",
            "\n",
            "ok",
            "ok:x",
            "OK: fine",
            "fine: ok",
            "healthy: yes",
        ] {
            let (line, code) = judged(bad, MIN);
            assert_eq!(code, 2, "{bad:?}");
            assert_eq!(
                line,
                "unknown: the doctor's report /run/sdcookie/npd has no verdict"
            );
        }
    }

    #[test]
    fn control_characters_and_invalid_utf8_are_not_relayed() {
        for bad in [&b"ok: a\tb"[..], b"ok: \x1b[31mred", b"ok: \xff"] {
            let (line, code) = judge(bad, MIN, 15 * MIN, Path::new(FILE));
            assert_eq!(code, 2, "{bad:?}");
            assert_eq!(
                line,
                "unknown: the doctor's report /run/sdcookie/npd is not one printable line"
            );
        }
    }

    #[test]
    fn a_missing_file_is_unknown_with_the_reason() {
        let (line, code) = relay(
            Path::new("/nonexistent/sdcookie-npd"),
            MIN,
            SystemTime::now(),
        );
        assert_eq!(code, 2);
        assert!(
            line.starts_with(
                "unknown: cannot read the doctor's report /nonexistent/sdcookie-npd: "
            ),
            "{line}"
        );
    }

    #[test]
    fn at_most_max_read_bytes_are_read() {
        let dir = std::env::temp_dir().join(format!("sdcookie-relay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("npd");
        // A first line longer than MAX_READ has no end within what is read; it is still
        // judged by its prefix and comes back cut at MAX_READ bytes.
        let long = format!("ok: {}", "x".repeat(2 * MAX_READ as usize));
        std::fs::write(&file, &long).unwrap();
        let (line, code) = relay(&file, MIN, SystemTime::now());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((line.len() as u64, code), (MAX_READ, 0));
    }
}
