//! Parsers for the command line's values: sizes, durations, percentages, cpu lists, counts.
//!
//! Each returns a one-line message on bad input; clap puts it after the option's name, and
//! `main` prints that single line and exits 2. Nothing here touches the system.

use std::time::Duration;

/// A byte count: `512`, `64K`, `256M`, `2G`, `1T` (binary multiples, 1K = 1024 bytes), or
/// `infinity`. Any other suffix is rejected rather than guessed at.
pub fn size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("infinity") {
        return Ok(u64::MAX);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "'{s}' is not a size (expected e.g. 512, 64K, 256M, 2G or infinity)"
        ));
    }
    let shift = match suffix {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        other => {
            return Err(format!(
                "unknown size suffix '{other}' in '{s}' (use K, M, G or T)"
            ));
        }
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{s}' is too large"))?;
    n.checked_mul(1u64 << shift)
        .filter(|&v| v != u64::MAX)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// A duration: `250ms`, `5s`, `2m`, `1h`, `1d`; a bare number is seconds. Fractions are
/// allowed (`1.5s`). Zero is allowed here; callers that need a positive one check.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (expected e.g. 500ms, 5s, 2m, 1h)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' in '{s}' (use ms, s, m, h or d)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is out of range"))
}

/// A duration that must be greater than zero (deadlines, intervals).
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}' must be greater than zero"));
    }
    Ok(d)
}

/// A maximum number of tasks: a positive integer or `infinity` (`u64::MAX`). Zero would
/// forbid even the command itself, so it is refused.
pub fn tasks(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("infinity") {
        return Ok(u64::MAX);
    }
    let n: u64 = t
        .parse()
        .map_err(|_| format!("'{s}' is not a task count (a positive integer or infinity)"))?;
    if n == 0 {
        return Err("zero tasks would not even allow the command itself; use 1 or more".into());
    }
    Ok(n)
}

/// A cgroup v2 CPU weight, 1..=10000 (systemd's `CPUWeight=` range), checked by the client's
/// own validation of [`sdbus_cgroup::Resources::cpu_weight`], the one it applies before
/// sending.
pub fn cpu_weight(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a CPU weight (an integer in 1..=10000)"))?;
    let only_weight = sdbus_cgroup::Resources::new().cpu_weight(n);
    only_weight.validate().map_err(|e| e.to_string())?;
    Ok(n)
}

/// A CPU quota in percent of one CPU, like systemd's `CPUQuota=`: `50`, `50%`, `200%`.
/// Returned as whole percent, at least 1.
pub fn cpu_quota(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix('%').unwrap_or(t);
    let n: u64 = t
        .parse()
        .map_err(|_| format!("'{s}' is not a CPU quota (a percentage such as 50 or 150%)"))?;
    if n == 0 {
        return Err("a CPU quota of 0% would never let the command run; use 1 or more".into());
    }
    if n > 100_000 {
        return Err(format!("CPU quota {n}% is too large"));
    }
    Ok(n)
}

/// A cpuset list as in `cpuset.cpus`: `0`, `0-3`, `0,2,4-7`, checked by the client's own
/// parser ([`sdbus_cgroup::convert::cpuset_to_bits`], the one that turns it into `AllowedCPUs=`), so
/// the command line takes exactly the lists the client sends: none empty (systemd would read
/// an empty set as "no restriction", the opposite of what someone typing a list meant), no
/// CPU above systemd's limit of 8191. Kept as typed, without the surrounding whitespace.
pub fn cpu_list(s: &str) -> Result<CpuList, String> {
    let t = s.trim();
    sdbus_cgroup::convert::cpuset_to_bits(t).map_err(|e| e.to_string())?;
    Ok(CpuList(t.to_owned()))
}

/// A cpuset list the client's parser accepted; only [`cpu_list`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(String);

impl CpuList {
    /// The list as typed, for the client's `Resources::cpus`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `--address`: only `unix:path=` with an absolute path and no other key. The doctor runs
/// as root on every node: it must not be pointed at a TCP peer, an abstract socket or a
/// launcher (`autolaunch:`, `unixexec:`), and the path is all it needs.
pub fn bus_address(s: &str) -> Result<String, String> {
    let path = s.strip_prefix("unix:path=").ok_or_else(|| {
        format!("'{s}' is not a unix:path= address (the only kind taken: unix:path=/ABSOLUTE/PATH)")
    })?;
    if !path.starts_with('/') {
        return Err(format!("'{s}': the path must be absolute"));
    }
    if path.contains([',', ';', '\0']) {
        return Err(format!(
            "'{s}': one unix:path= address and nothing else (no ',', ';' or NUL)"
        ));
    }
    Ok(s.to_owned())
}

/// A unit name for `scope`: the `.scope` suffix is added when missing, and the name is
/// checked by the client's own rule ([`sdbus_cgroup::names::check_scope_name`], systemd's
/// `unit_name_is_valid`), the one it applies before anything is sent.
pub fn scope_name(s: &str) -> Result<String, String> {
    let name = if s.ends_with(".scope") {
        s.to_owned()
    } else {
        format!("{s}.scope")
    };
    sdbus_cgroup::names::check_scope_name(&name).map_err(|e| e.to_string())?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes_and_reject_others() {
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("64K"), Ok(64 << 10));
        assert_eq!(size("256M"), Ok(256 << 20));
        assert_eq!(size("2G"), Ok(2 << 30));
        assert_eq!(size("1T"), Ok(1 << 40));
        assert_eq!(size("infinity"), Ok(u64::MAX));
        assert!(size("10X").unwrap_err().contains("unknown size suffix 'X'"));
        assert!(size("10MB").unwrap_err().contains("unknown size suffix"));
        assert!(size("").is_err());
        assert!(size("M").is_err());
        assert!(size("99999999999999999999").is_err());
        assert!(size("16777216T").is_err());
    }

    #[test]
    fn durations_take_units_and_bare_seconds() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(duration("5y").is_err());
        assert!(duration("abc").is_err());
        assert!(positive_duration("0s").is_err());
    }

    #[test]
    fn zero_tasks_is_refused() {
        assert!(tasks("0").is_err());
        assert_eq!(tasks("1"), Ok(1));
        assert_eq!(tasks("infinity"), Ok(u64::MAX));
    }

    #[test]
    fn cpu_lists_parse_ranges_and_reject_empty() {
        assert_eq!(cpu_list("0").unwrap().as_str(), "0");
        assert_eq!(cpu_list(" 0-3,8,2 ").unwrap().as_str(), "0-3,8,2");
        assert!(cpu_list("").is_err());
        assert!(cpu_list(" ").is_err());
        assert!(cpu_list(",").is_err());
        assert!(cpu_list("3-1").is_err());
        assert!(cpu_list("a").is_err());
    }

    #[test]
    fn quota_and_weight_ranges() {
        assert_eq!(cpu_quota("50%"), Ok(50));
        assert_eq!(cpu_quota("150"), Ok(150));
        assert!(cpu_quota("0").is_err());
        assert!(cpu_weight("0").is_err());
        assert!(cpu_weight("10001").is_err());
        assert_eq!(cpu_weight("100"), Ok(100));
    }

    #[test]
    fn scope_names_get_their_suffix_and_are_checked() {
        assert_eq!(scope_name("job1"), Ok("job1.scope".into()));
        assert_eq!(scope_name("job1.scope"), Ok("job1.scope".into()));
        assert!(scope_name("a b").is_err());
        assert!(scope_name(".scope").is_err());
    }
}
