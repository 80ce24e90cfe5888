//! Putting the booted binary at the path `daemon-reexec` executes, in the sandbox's own
//! mount namespace.

use std::path::Path;

use super::drive::Ctx;
use super::{ReproduceError, LIBEXEC_DIR, SYSTEMD_BINARY_PATH};

/// Makes `/usr/lib/systemd/systemd` in the sandbox's mount namespace the booted binary,
/// and proves it runs from there (`--version`) before PID 1 would exec it. A binary that
/// finds its libraries relative to itself (`$ORIGIN`, as a meson build tree does) cannot
/// run from another directory; then its whole directory is mounted there instead.
pub(super) fn bind_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
    let binary = cx.booted_binary()?;
    let bind = |src: &Path, dst: &str| {
        cx.in_sandbox("mount", &["--bind".as_ref(), src.as_os_str(), dst.as_ref()])
    };
    bind(&binary, SYSTEMD_BINARY_PATH)?;
    if let Some(v) = cx.reexec_path_version()? {
        return Ok(format!(
            "{SYSTEMD_BINARY_PATH} bind-mounted to {} ({v})",
            binary.display()
        ));
    }
    cx.in_sandbox("umount", &[SYSTEMD_BINARY_PATH.as_ref()])?;
    let dir = binary.parent().unwrap_or(Path::new("/"));
    bind(dir, LIBEXEC_DIR)?;
    match cx.reexec_path_version()? {
        Some(v) => Ok(format!(
            "{LIBEXEC_DIR} bind-mounted to {} (the binary finds its libraries relative to itself; {v})",
            dir.display()
        )),
        None => Err(cx.tool_err(format!(
            "{SYSTEMD_BINARY_PATH} does not run in the sandbox even with {} mounted on {LIBEXEC_DIR}: daemon-reexec would kill PID 1",
            dir.display()
        ))),
    }
}

/// Makes `/usr/lib/systemd/systemd` in the sandbox's mount namespace the booted binary
/// through a read-only overlay on `/usr/lib/systemd` whose top layer holds only a symlink
/// named `systemd` to it ([`BinaryAt::OverlaySymlink`](super::release::BinaryAt::OverlaySymlink)
/// says why not a bind mount). The top layer lives on the sandbox's own `/run` (a tmpfs
/// that dies with it); the host's files in `/usr/lib/systemd` stay visible below.
pub(super) fn overlay_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
    let binary = cx.booted_binary()?;
    let top = "/run/sdcookie-reexec";
    let link = format!("{top}/systemd");
    cx.in_sandbox("mkdir", &["-p".as_ref(), top.as_ref()])?;
    cx.in_sandbox("ln", &["-sfn".as_ref(), binary.as_os_str(), link.as_ref()])?;
    let layers = format!("lowerdir={top}:{LIBEXEC_DIR}");
    cx.in_sandbox(
        "mount",
        &[
            "-t".as_ref(),
            "overlay".as_ref(),
            "overlay".as_ref(),
            "-o".as_ref(),
            layers.as_ref(),
            LIBEXEC_DIR.as_ref(),
        ],
    )?;
    match cx.reexec_path_version()? {
        Some(v) => Ok(format!(
            "overlay on {LIBEXEC_DIR} ({layers}), {link} -> {} ({v})",
            binary.display()
        )),
        None => Err(cx.tool_err(format!(
            "{SYSTEMD_BINARY_PATH} does not run in the sandbox through the overlay ({link} -> {}): daemon-reexec would kill PID 1",
            binary.display()
        ))),
    }
}
