//! The arguments of `sdcookie-lab reproduce` and their parsers.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use sdcookie::Format;

use crate::CEILING;

use super::release;
use super::runtimes::RuntimeName;

/// `sdcookie-lab reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The stock PID 1 [default: built (or reused) by systemd-patch/build-pid1 RELEASE of
    /// the source tree sdcookie was built in].
    #[arg(long, value_name = "PATH", requires = "patched")]
    pub stock: Option<PathBuf>,
    /// The PID 1 with our backport (same release as --stock).
    #[arg(long, value_name = "PATH", requires = "stock")]
    pub patched: Option<PathBuf>,
    /// The systemd release or distribution tree systemd-patch/build-pid1 builds when no
    /// paths are given: 219 (the post-mortem's release), 241, xcp-ng-8.3 (XCP-ng 8.3 /
    /// XenServer 8's 219-57.5) or debian-10 (241-7~deb10u8).
    #[arg(long, value_name = "N", default_value = "219", value_parser = parse_release)]
    pub release: String,
    /// The value gdb writes into PID 1's API-bus cookie.
    #[arg(long, value_name = "N", default_value = "0xffffff00", value_parser = parse_cookie)]
    pub cookie: u32,
    /// Scope lifecycles after the edge on the patched PID 1.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub lifecycles: u32,
    /// Deadline of every client call and job wait, and of each doctor step.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = sdcookie::parse::positive_duration)]
    pub timeout: Duration,
    /// The runtimes driven on both PID 1s, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_value = "runc,crun,containerd,dockerd"
    )]
    pub runtimes: Vec<RuntimeName>,
    /// Drive no runtime: only sdbus-cgroup, busctl and the doctor.
    #[arg(long, conflicts_with = "runtimes")]
    pub no_runtimes: bool,
    /// How long a runtime's command may run before it is ended by its pid (SIGTERM, then
    /// SIGKILL 5 s later).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = sdcookie::parse::positive_duration)]
    pub runtime_patience: Duration,
    /// Containers each runtime creates, starts and deletes after the edge on the patched PID 1.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub containers: u32,
    /// Report format (text: side by side; json: one object, for scripts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A release in the table (what it does at the edge was measured), as its number.
pub(super) fn parse_release(s: &str) -> Result<String, String> {
    match release::find(release::upstream_of(s)) {
        Some(r) if r.number == release::upstream_of(s) => Ok(s.to_owned()),
        _ => Err(format!(
            "{s}: one of the releases whose edge was measured here: {}",
            release::known()
        )),
    }
}

/// A cookie gdb may write: at least 2 (the next one must not be 0 or 1, which systemd's
/// first messages use) and at most `0xffffffff - 2` (so the edge is still ahead).
pub(super) fn parse_cookie(s: &str) -> Result<u32, String> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))?;
    if !(2..=CEILING - 2).contains(&v) {
        return Err(format!("{s}: must be between 2 and 0xfffffffd"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parses_hex_and_decimal_and_rejects_what_leaves_no_edge_ahead() {
        assert_eq!(parse_cookie("0xffffff00"), Ok(0xffff_ff00));
        assert_eq!(parse_cookie("4294967040"), Ok(0xffff_ff00));
        assert!(parse_cookie("0").is_err());
        assert!(parse_cookie("1").is_err());
        assert!(parse_cookie("0xfffffffe").is_err());
        assert!(parse_cookie("0x100000000").is_err());
        assert!(parse_cookie("edge").is_err());
    }

    #[test]
    fn release_is_one_the_table_knows_by_its_number() {
        assert_eq!(parse_release("241"), Ok("241".into()));
        assert_eq!(parse_release("219"), Ok("219".into()));
        assert_eq!(parse_release("xcp-ng-8.3"), Ok("xcp-ng-8.3".into()));
        assert_eq!(parse_release("debian-10"), Ok("debian-10".into()));
        assert!(parse_release("debian-9").is_err());
        assert!(parse_release("v241").is_err());
        assert!(parse_release("241.1").is_err());
        assert!(parse_release("237").is_err());
        assert!(parse_release("").is_err());
    }
}
