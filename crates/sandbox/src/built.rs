//! The PID 1s `systemd-patch/build-pid1` builds (a stock and a patched systemd of one
//! release or distribution tree), read from the JSON manifest it writes with `--manifest`
//! rather than from the lines it prints for people.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

/// One built PID 1.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuiltPid1 {
    /// The `systemd` binary to boot (an absolute path).
    pub systemd: PathBuf,
    /// The `systemctl` beside it.
    pub systemctl: PathBuf,
    /// The first line of its `--version`, e.g. `systemd 241 (241)`.
    pub version: String,
    /// Whether the build was already in the cache.
    pub cached: bool,
}

/// What one run of `build-pid1` built.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuiltPid1s {
    /// The name it was asked for: `241`, or a distribution tree such as `debian-10`.
    pub tree: String,
    /// The upstream release that is: `241` for `debian-10`.
    pub release: String,
    /// Built from the unmodified sources.
    pub stock: BuiltPid1,
    /// With the fix patch and the allocator linked in.
    pub patched: BuiltPid1,
}

/// Whether `build-pid1` may install the build packages it finds missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packages {
    /// Install them (apt-get), as a person running the lab expects.
    Install,
    /// Fail, naming them: tests never install (scripts/install-deps does).
    MustBeThere,
}

/// `build-pid1` could not be run, failed, or wrote no usable manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// Runs `script` (a `systemd-patch/build-pid1`) for `tree`, its progress going to this
/// process's stderr, and reads the manifest it wrote. Both binaries of the result exist and
/// their paths are absolute.
pub fn build_pid1(script: &Path, tree: &str, packages: Packages) -> Result<BuiltPid1s, BuildError> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let manifest = std::env::temp_dir().join(format!(
        "sdbus-cookie-pid1s-{}-{}.json",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = Command::new(script);
    if packages == Packages::MustBeThere {
        cmd.arg("--no-install");
    }
    let status = cmd
        .arg("--manifest")
        .arg(&manifest)
        .arg(tree)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| BuildError(format!("running {}: {e}", script.display())));
    let text = std::fs::read_to_string(&manifest);
    let _ = std::fs::remove_file(&manifest);
    let status = status?;
    if !status.success() {
        return Err(BuildError(format!(
            "{} {tree} failed: {status}",
            script.display()
        )));
    }
    let text = text.map_err(|e| {
        BuildError(format!(
            "{} {tree} wrote no manifest {}: {e}",
            script.display(),
            manifest.display()
        ))
    })?;
    parse_manifest(&text)
        .map_err(|e| BuildError(format!("{} {tree}: its manifest: {e}", script.display())))
}

/// A manifest's text, checked: absolute paths of files that exist.
pub fn parse_manifest(text: &str) -> Result<BuiltPid1s, String> {
    let built: BuiltPid1s = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for p in [&built.stock, &built.patched] {
        for f in [&p.systemd, &p.systemctl] {
            if !f.is_absolute() || !f.is_file() {
                return Err(format!("{} is not an absolute path of a file", f.display()));
            }
        }
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(systemd: &str) -> String {
        format!(
            r#"{{"tree": "debian-10", "release": "241",
              "stock": {{"systemd": "{systemd}", "systemctl": "/bin/true", "version": "systemd 241 (241)", "cached": true}},
              "patched": {{"systemd": "/bin/true", "systemctl": "/bin/true", "version": "systemd 241 (241)", "cached": false}}}}"#
        )
    }

    #[test]
    fn a_manifest_is_read_with_its_paths_checked() {
        let built = parse_manifest(&manifest("/bin/sh")).unwrap();
        assert_eq!(built.tree, "debian-10");
        assert_eq!(built.release, "241");
        assert_eq!(built.stock.systemd, PathBuf::from("/bin/sh"));
        assert!(built.stock.cached && !built.patched.cached);
    }

    #[test]
    fn relative_or_missing_paths_are_refused() {
        assert!(parse_manifest(&manifest("bin/sh")).is_err());
        assert!(parse_manifest(&manifest("/no/such/systemd")).is_err());
        assert!(parse_manifest("{}").is_err());
    }
}
