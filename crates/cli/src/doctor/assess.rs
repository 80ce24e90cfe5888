//! The verdict: a pure function of what the probe observed, with the documented thresholds.

use super::render::human_secs;
use super::{Answer, Observation, ProbeErrorKind, Report, Verdict};

/// The last cookie a 32-bit D-Bus serial can carry (0xffffffff).
pub const CEILING: u32 = sdbus_cookie::Config::DEFAULT.ceiling();
/// Where v242+ continues after the ceiling; also the "cycled" mark (bit 31, 0x80000000).
pub const CYCLED: u32 = sdbus_cookie::Config::DEFAULT.cycled();
/// The first systemd release with the fix (PR #11818, "sd-bus: deal with cookie overruns").
pub const FIXED_IN: u32 = 242;

/// Below this headroom a vulnerable systemd gets `warning`: 10% of 2^32.
pub const WARN_HEADROOM: u32 = 429_496_729;
/// Below this headroom a vulnerable systemd gets `critical`: 1% of 2^32.
pub const CRIT_HEADROOM: u32 = 42_949_672;
/// A vulnerable systemd expected to hit the ceiling within this many seconds gets `warning`.
pub const WARN_ETA_SECS: u64 = 30 * 86_400;
/// ... and within this many seconds, `critical`.
pub const CRIT_ETA_SECS: u64 = 86_400;

/// Messages per second between two answers on the same connection. Our own second
/// request caused one of them, so it is subtracted. A cookie that went down is a wrap
/// (v242+: from the ceiling to 0x80000000) or, on older versions, a new connection
/// (daemon-reexec), for which there is no rate.
pub(super) fn rate(first: &Answer, second: &Answer, fixed: bool) -> Option<f64> {
    let (a, b) = (u64::from(first.serial), u64::from(second.serial));
    let delta = if b >= a {
        b - a
    } else if fixed && second.serial >= CYCLED {
        (u64::from(CEILING) - a) + (b - u64::from(CYCLED) + 1)
    } else {
        return None;
    };
    let secs = second.at.saturating_duration_since(first.at).as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    Some(delta.saturating_sub(1) as f64 / secs)
}

pub(super) fn percent(headroom: u32) -> f64 {
    f64::from(headroom) * 100.0 / (f64::from(CEILING) + 1.0)
}

/// Turns what was seen into a verdict and a message. Thresholds (documented in the
/// README): a vulnerable systemd (before v242) is `warning` below 10% headroom or less
/// than 30 days to the ceiling, `critical` below 1% or less than a day; the bus silent while
/// the private socket answers is `critical` on any version; nothing answering is `unknown`.
pub fn assess(obs: &Observation) -> Report {
    let latest = match &obs.bus_again {
        Some(Ok(a)) => Some(a),
        _ => obs.bus.as_ref().ok(),
    };
    let version_string = latest
        .or(obs.private.as_ref().ok())
        .map(|a| a.version.clone());
    let version = version_string
        .as_deref()
        .and_then(sdbus_cgroup::releases::parse_version);
    let vulnerable = version.map(|v| v < FIXED_IN);
    let cookie = latest.map(|a| a.serial);
    let headroom = cookie.map(|c| CEILING - c);
    let rate_per_sec = match (&obs.bus, &obs.bus_again) {
        (Ok(a), Some(Ok(b))) => rate(a, b, vulnerable == Some(false)),
        _ => None,
    };
    let eta_seconds = match (headroom, rate_per_sec) {
        (Some(h), Some(r)) if r > 0.0 => Some((f64::from(h) / r) as u64),
        _ => None,
    };
    let bus_responsive = latest.is_some();
    // The overflow signature needs a bus that accepted the connection.
    let bus_reachable = !matches!(&obs.bus, Err(e) if e.kind == ProbeErrorKind::ConnectFailed);
    let private_responsive = obs.private.is_ok();
    let bus_failure = match (&obs.bus, &obs.bus_again) {
        (Err(e), _) | (_, Some(Err(e))) => Some(e),
        _ => None,
    };
    let bus_error = bus_failure.map(|e| e.message.clone());
    let private_failure = obs.private.as_ref().err().map(|e| e.kind);
    let private_error = obs.private.as_ref().err().map(|e| e.message.clone());
    let name = match (version, &version_string) {
        (Some(v), _) => format!("systemd {v}"),
        (None, Some(s)) => format!("systemd '{s}'"),
        (None, None) => "systemd".to_string(),
    };

    let (verdict, message) = if !bus_responsive && !private_responsive {
        (
            Verdict::Unknown,
            format!(
                "no systemd reachable: bus: {}; private socket: {}",
                bus_error.as_deref().unwrap_or("no answer"),
                private_error.as_deref().unwrap_or("no answer")
            ),
        )
    } else if !bus_responsive {
        let why = bus_error.as_deref().unwrap_or("no answer");
        if !bus_reachable {
            (
                Verdict::Critical,
                format!(
                    "{name} answers on its private socket, but the system bus cannot be reached \
                     ({why}): dbus-daemon is down or its socket is missing or not ours to open, \
                     so callers on the bus (runc, kubelet) fail; not the cookie-overflow \
                     signature, which needs a bus that accepts us; check 'systemctl status \
                     dbus.socket dbus.service'"
                ),
            )
        } else if vulnerable == Some(false) {
            (
                Verdict::Critical,
                format!(
                    "{name} answers on its private socket but not on the system bus ({why}): \
                     the cookie-overflow signature (systemd#11809), although {name} should carry \
                     the fix (v242+): check for a downgraded or patched sd-bus, and dbus-daemon; \
                     'systemctl daemon-reexec' reconnects PID 1 with a fresh cookie"
                ),
            )
        } else {
            (
                Verdict::Critical,
                format!(
                    "{name} answers on its private socket but not on the system bus ({why}): \
                     {}, the cookie-overflow signature (systemd#11809); run 'systemctl \
                     daemon-reexec' now to reconnect PID 1 with a fresh cookie",
                    off_the_bus(obs.name_owned, version)
                ),
            )
        }
    } else {
        // The bus answered, so there is a cookie.
        let c = cookie.unwrap_or(0);
        let h = headroom.unwrap_or(0);
        let eta = eta_seconds
            .map(|s| format!(", ceiling in {}", human_secs(s)))
            .unwrap_or_default();
        let refused = private_failure == Some(ProbeErrorKind::Reset);
        let rejected = private_failure == Some(ProbeErrorKind::CredentialsRejected);
        let private_note = if private_responsive {
            ""
        } else if refused {
            // Seen with systemd 252: it drops private-socket peers from another PID namespace.
            " (the private socket hung up on us: run sdcookie in systemd's PID namespace)"
        } else if rejected {
            // Seen with systemd 219: a peer from another PID namespace has no valid
            // SCM_CREDENTIALS there, so `AUTH EXTERNAL` is rejected.
            " (the private socket rejected our credentials: run sdcookie in systemd's PID namespace)"
        } else {
            " (private socket not reachable)"
        };
        let at_risk = vulnerable != Some(false);
        let worry = |headroom_limit: u32, eta_limit: u64| {
            h < headroom_limit || eta_seconds.is_some_and(|s| s < eta_limit)
        };
        let state = format!("cookie {c:#010x}, headroom {h} ({:.2}%){eta}", percent(h));
        if at_risk && worry(CRIT_HEADROOM, CRIT_ETA_SECS) {
            (
                Verdict::Critical,
                format!(
                    "{name} is vulnerable to the cookie overflow (fixed in v242) and about to hit \
                     0xffffffff: {state}; run 'systemctl daemon-reexec' now{private_note}"
                ),
            )
        } else if at_risk && worry(WARN_HEADROOM, WARN_ETA_SECS) {
            (
                Verdict::Warning,
                format!(
                    "{name} is vulnerable to the cookie overflow (fixed in v242) and getting \
                     close: {state}; plan 'systemctl daemon-reexec' or an upgrade{private_note}"
                ),
            )
        } else if at_risk {
            let what = if vulnerable.is_some() {
                "is vulnerable to"
            } else {
                "may be exposed to (version unknown)"
            };
            (
                Verdict::Ok,
                format!("{name} {what} the cookie overflow (fixed in v242) but has room: {state}{private_note}"),
            )
        } else {
            let cycled = if c >= CYCLED {
                "; in the cycled half, which v242+ handles"
            } else {
                ""
            };
            (
                Verdict::Ok,
                format!(
                    "{name} has the cookie-overflow fix (v242+): {state}{cycled}{private_note}"
                ),
            )
        }
    };

    Report {
        systemd_version: version,
        systemd_version_string: version_string,
        cookie,
        ceiling: CEILING,
        headroom,
        cycled: cookie.map(|c| c >= CYCLED),
        rate_per_sec,
        eta_seconds,
        vulnerable,
        bus_responsive,
        bus_reachable,
        private_responsive,
        private_cookie: obs.private.as_ref().ok().map(|a| a.serial),
        bus_error,
        name_owned: obs.name_owned,
        private_error,
        bus_error_kind: bus_failure.map(|e| e.kind),
        private_error_kind: private_failure,
        verdict,
        message,
    }
}

/// What callers on the bus meet when PID 1 no longer answers there. What dbus-daemon said
/// about the name decides; without that, the release's known behaviour is named as such.
pub(super) fn off_the_bus(name_owned: Option<bool>, version: Option<u32>) -> String {
    const DEAF: &str = "PID 1 is deaf on the bus, callers without a deadline hang";
    const LEFT: &str = "PID 1 left the bus, callers fail at once or after dbus-daemon's \
                        activation timeout";
    match (name_owned, version) {
        (Some(true), _) => format!("{DEAF} (it still holds org.freedesktop.systemd1)"),
        (Some(false), _) => format!("{LEFT} (org.freedesktop.systemd1 has no owner)"),
        // The first release whose sd-bus disconnects on a processing error
        // (systemd commit 5ae37ad833).
        (None, Some(v)) if v < 237 => format!("{DEAF} (as v{v} does; the bus did not say)"),
        (None, Some(v)) => format!("{LEFT} (as v{v} does; the bus did not say)"),
        (None, None) => {
            format!("before v237 {DEAF}; from v237 on {LEFT} (the bus did not say which)")
        }
    }
}
