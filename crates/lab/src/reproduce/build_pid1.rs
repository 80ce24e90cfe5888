//! The two PID 1s built by systemd-patch/build-pid1 of the source tree this binary was
//! built in.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{progress, ReproduceError};

/// Runs systemd-patch/build-pid1 RELEASE of the source tree this binary was built in,
/// streaming its progress; its last two lines are `stock: PATH` and `patched: PATH`.
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
    let mut child = Command::new(&script)
        .arg(release)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ReproduceError::Build(format!("running {}: {e}", script.display())))?;
    let lines: Vec<String> = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).lines().map_while(Result::ok).collect())
        .unwrap_or_default();
    let status = child
        .wait()
        .map_err(|e| ReproduceError::Build(format!("waiting for {}: {e}", script.display())))?;
    if !status.success() {
        return Err(ReproduceError::Build(format!(
            "{} {release} failed: {status}",
            script.display()
        )));
    }
    parse_build_output(&lines).ok_or_else(|| {
        ReproduceError::Build(format!(
            "{} did not end with the lines 'stock: PATH' and 'patched: PATH' (got {:?})",
            script.display(),
            &lines[lines.len().saturating_sub(2)..]
        ))
    })
}

/// The two paths from build-pid1's last two lines.
pub fn parse_build_output(lines: &[String]) -> Option<(PathBuf, PathBuf)> {
    let [.., a, b] = lines else { return None };
    let stock = a.strip_prefix("stock: ")?;
    let patched = b.strip_prefix("patched: ")?;
    let abs = |p: &str| Some(PathBuf::from(p)).filter(|p| p.is_absolute());
    Some((abs(stock)?, abs(patched)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_paths_come_from_the_last_two_lines_only() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_build_output(&l(&["noise", "stock: /a/systemd", "patched: /b/systemd"])),
            Some(("/a/systemd".into(), "/b/systemd".into()))
        );
        assert_eq!(
            parse_build_output(&l(&["stock: /a/systemd", "patched: /b/systemd", "done"])),
            None
        );
        assert_eq!(
            parse_build_output(&l(&["stock: a/systemd", "patched: /b/systemd"])),
            None
        );
        assert_eq!(parse_build_output(&l(&["patched: /b/systemd"])), None);
    }
}
