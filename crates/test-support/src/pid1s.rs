//! The stock and the patched PID 1 of a systemd release, from `systemd-patch/build-pid1`.

use std::path::PathBuf;
use std::sync::Mutex;

use sdbus_sandbox::built::{build_pid1, Packages};

use crate::bins::repo;

/// The stock and the patched PID 1 of `release` (or a distribution tree such as
/// `debian-10`): runs `systemd-patch/build-pid1 --no-install --manifest FILE RELEASE`
/// (cached, so cheap on a rerun) and reads the manifest. Once per release and test binary:
/// the tests of one binary run in parallel, and two builds of the same release into one
/// cache must not.
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
    // Tests never install packages: scripts/install-deps does, and a missing one fails here
    // with its name.
    let built = build_pid1(&script, release, Packages::MustBeThere)
        .unwrap_or_else(|e| panic!("the PID 1s of {release}: {e}"));
    (built.stock.systemd, built.patched.systemd)
}
