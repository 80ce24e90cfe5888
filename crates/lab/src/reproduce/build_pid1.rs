//! The two PID 1s built by systemd-patch/build-pid1 of the source tree this binary was
//! built in.

use std::path::PathBuf;

use sdbus_sandbox::built::{build_pid1, Packages};

use super::{progress, ReproduceError};

/// Runs systemd-patch/build-pid1 RELEASE of the source tree this binary was built in,
/// streaming its progress, and takes the stock and the patched `systemd` from the manifest
/// it writes. As a person running the lab expects, it installs missing build packages.
pub(super) fn build(release: &str) -> Result<(PathBuf, PathBuf), ReproduceError> {
    let script = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .map(|d| d.join("systemd-patch/build-pid1"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            ReproduceError::Build(
                "no systemd-patch/build-pid1 above this binary; pass --stock and --patched".into(),
            )
        })?;
    progress(format!(
        "building with {} {release} (cached builds are reused)",
        script.display()
    ));
    let built = build_pid1(&script, release, Packages::Install)
        .map_err(|e| ReproduceError::Build(e.to_string()))?;
    Ok((built.stock.systemd, built.patched.systemd))
}
