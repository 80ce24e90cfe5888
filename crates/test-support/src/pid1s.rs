//! The stock and the patched PID 1 of a systemd release, from `systemd-patch/build-pid1`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::bins::repo;

/// The stock and the patched PID 1 of `release`: runs `systemd-patch/build-pid1 RELEASE`
/// (cached, so cheap on a rerun) and takes its last two lines, `stock: PATH` and
/// `patched: PATH`. Once per release and test binary: the tests of one binary run in
/// parallel, and two builds of the same release into one cache must not.
pub fn pid1s(release: &str) -> (PathBuf, PathBuf) {
    type Built = Vec<(String, (PathBuf, PathBuf))>;
    static BUILT: Mutex<Built> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, paths)) = built.iter().find(|(r, _)| r == release) {
        return paths.clone();
    }
    let paths = build_pid1s(release);
    built.push((release.to_owned(), paths.clone()));
    paths
}

fn build_pid1s(release: &str) -> (PathBuf, PathBuf) {
    let script = repo().join("systemd-patch/build-pid1");
    let out = Command::new(&script)
        .arg(release)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {release} failed: {}",
        script.display(),
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let (stock, patched) = parse_build_output(&lines).unwrap_or_else(|| {
        panic!(
            "{} {release} did not end with 'stock: PATH' and 'patched: PATH': {lines:?}",
            script.display()
        )
    });
    for p in [&stock, &patched] {
        assert!(
            p.is_file(),
            "build-pid1 printed {}, which is no file",
            p.display()
        );
    }
    (stock, patched)
}

/// The two paths from build-pid1's last two lines, `stock: PATH` and `patched: PATH`; `None`
/// when its output does not end with them.
pub fn parse_build_output(lines: &[&str]) -> Option<(PathBuf, PathBuf)> {
    match lines {
        [.., a, b] => a
            .strip_prefix("stock: ")
            .zip(b.strip_prefix("patched: "))
            .map(|(s, p)| (PathBuf::from(s), PathBuf::from(p))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_come_from_the_last_two_lines_only() {
        assert_eq!(
            parse_build_output(&["noise", "stock: /a/systemd", "patched: /b/systemd"]),
            Some(("/a/systemd".into(), "/b/systemd".into()))
        );
        assert_eq!(
            parse_build_output(&["stock: /a/systemd", "patched: /b/systemd", "done"]),
            None
        );
        assert_eq!(parse_build_output(&["patched: /b/systemd"]), None);
    }
}
