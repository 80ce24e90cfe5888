//! The report for people (text), for node-problem-detector (one line) and for Prometheus'
//! textfile collector.

use std::time::{SystemTime, UNIX_EPOCH};

use super::assess::{percent, FIXED_IN};
use super::{Report, Verdict};

/// Human form of a number of seconds: `3d 4h`, `5h 10m`, `42s`.
pub fn human_secs(s: u64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `s` with every control character escaped (`\n`, `\u{1b}`, ...): the version string and
/// the errors carry what a peer sent (a D-Bus error's name and message, a SASL line), which
/// must not add lines to node-problem-detector's one line or move a terminal's cursor.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The default, human output.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let version = r.systemd_version_string.as_deref().map(printable);
    let version = match (&version, r.vulnerable) {
        (Some(s), Some(true)) => format!("{s} (vulnerable: before v{FIXED_IN})"),
        (Some(s), Some(false)) => format!("{s} (has the fix of v{FIXED_IN})"),
        (Some(s), None) => format!("{s} (version not understood)"),
        (None, _) => "unknown".into(),
    };
    out += &format!("systemd version:   {version}\n");
    match (r.cookie, r.headroom) {
        (Some(c), Some(h)) => {
            out += &format!(
                "API-bus cookie:    {c} ({c:#010x}) of {:#010x}\n",
                r.ceiling
            );
            out += &format!("headroom:          {h} ({:.2}%)\n", percent(h));
        }
        _ => out += "API-bus cookie:    unknown\n",
    }
    if let Some(rate) = r.rate_per_sec {
        out += &format!("rate:              {rate:.1} messages/s\n");
    }
    if let Some(eta) = r.eta_seconds {
        out += &format!("ceiling in:        {} ({eta} s)\n", human_secs(eta));
    }
    let yes = |b: bool| if b { "answers" } else { "NO ANSWER" };
    out += &format!("system bus:        {}", yes(r.bus_responsive));
    if let Some(e) = &r.bus_error {
        out += &format!(" ({})", printable(e));
    }
    out += "\n";
    out += &format!("private socket:    {}", yes(r.private_responsive));
    if let Some(e) = &r.private_error {
        out += &format!(" ({})", printable(e));
    }
    out += "\n";
    out += &format!(
        "verdict:           {}: {}\n",
        r.verdict.as_str(),
        printable(&r.message)
    );
    out
}

/// Prometheus text exposition format (for node_exporter's textfile collector). Values that
/// are unknown are left out, as Prometheus expects, except the verdict, responsiveness and
/// `generated`: the time the report was made, which lets an alert tell a stale textfile
/// (the doctor stopped running) from a fresh one.
pub fn prometheus(r: &Report, generated: SystemTime) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: Option<String>| {
        if let Some(v) = value {
            out += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        }
    };
    let b = |v: bool| Some(u8::from(v).to_string());
    gauge(
        "sdcookie_systemd_cookie",
        "systemd's current API-bus cookie (serial of its latest reply on the system bus).",
        r.cookie.map(|v| v.to_string()),
    );
    gauge(
        "sdcookie_systemd_cookie_ceiling",
        "Largest cookie a D-Bus serial can carry.",
        Some(r.ceiling.to_string()),
    );
    gauge(
        "sdcookie_systemd_cookie_headroom",
        "Cookies left before the ceiling.",
        r.headroom.map(|v| v.to_string()),
    );
    gauge(
        "sdcookie_systemd_cookie_cycled",
        "1 if the cookie has bit 31 set.",
        r.cycled.and_then(b),
    );
    gauge(
        "sdcookie_systemd_cookie_rate_per_second",
        "Messages per second systemd sent on the bus between two samples.",
        r.rate_per_sec.map(|v| format!("{v}")),
    );
    gauge(
        "sdcookie_systemd_cookie_eta_seconds",
        "Seconds until the cookie reaches the ceiling at the measured rate.",
        r.eta_seconds.map(|v| v.to_string()),
    );
    gauge(
        "sdcookie_systemd_version",
        "Major version of systemd.",
        r.systemd_version.map(|v| v.to_string()),
    );
    gauge(
        "sdcookie_systemd_vulnerable",
        "1 if this systemd predates the cookie-overflow fix (v242).",
        r.vulnerable.and_then(b),
    );
    gauge(
        "sdcookie_systemd_bus_responsive",
        "1 if systemd answered on the system bus.",
        b(r.bus_responsive),
    );
    gauge(
        "sdcookie_systemd_bus_reachable",
        "1 if the system bus accepted the doctor's connection.",
        b(r.bus_reachable),
    );
    gauge(
        "sdcookie_systemd_private_responsive",
        "1 if systemd answered on its private socket.",
        b(r.private_responsive),
    );
    let generated = generated
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    gauge(
        "sdcookie_doctor_last_run_timestamp_seconds",
        "Unix time at which the doctor made this report.",
        Some(format!("{generated:.3}")),
    );
    out += "# HELP sdcookie_doctor_verdict 1 for the doctor's current verdict.\n";
    out += "# TYPE sdcookie_doctor_verdict gauge\n";
    for v in [
        Verdict::Ok,
        Verdict::Warning,
        Verdict::Critical,
        Verdict::Unknown,
    ] {
        out += &format!(
            "sdcookie_doctor_verdict{{verdict=\"{}\"}} {}\n",
            v.as_str(),
            u8::from(v == r.verdict)
        );
    }
    out
}

/// node-problem-detector's one line: the verdict and the message.
pub fn npd_line(r: &Report) -> String {
    format!("{}: {}", r.verdict.as_str(), printable(&r.message))
}
