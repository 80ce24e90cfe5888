//! `sdcookie doctor`: how close is PID 1's API-bus cookie to 0xffffffff?
//!
//! The serial in the header of every message systemd sends on its bus connection *is* that
//! connection's cookie (sd-bus seals each message with `++cookie`), so the serial of
//! systemd's reply to one cheap call, `Properties.Get(Manager, Version)`, reads the cookie
//! without gdb or debug symbols. The same call over the private socket
//! (`/run/systemd/private`: peer to peer, no `Hello`, a connection and cookie of its own)
//! tells whether systemd itself still answers when the bus does not, which is the
//! signature of the pre-v242 overflow (systemd#11809: sealing fails with `-EOPNOTSUPP` on
//! the bus connection only).
//!
//! When systemd answers on its private socket but not on the bus, what callers on the bus
//! meet depends on the release, and the doctor tells the two apart by asking dbus-daemon
//! whether `org.freedesktop.systemd1` still has an owner: v219's PID 1 keeps its name and
//! reads nothing more (sd-bus's `io_callback()` returns the failed seal to sd-event, which
//! disables the connection's source), so callers without a deadline hang; from v237 on
//! PID 1 closes the connection (systemd commit 5ae37ad833, "sd-bus: when attached to an
//! sd-event loop, disconnect on processing errors") and its name has no owner.
//!
//! Invariants: every network step runs under a deadline and the two sockets are asked at
//! the same time, so the whole probe is bounded by about `3 × deadline + interval` (bus:
//! connect, ask, wait, ask again — or, when systemd did not answer, ask dbus-daemon for the
//! name's owner; private socket: connect, ask); the verdict is a pure function of what was
//! observed ([`assess`]), tested without a systemd.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use serde::Serialize;
use zbus::connection::Builder;
use zbus::Connection;

use crate::rawbus::{Peer, RawError};

/// The last cookie a 32-bit D-Bus serial can carry.
pub const CEILING: u32 = 0xffff_ffff;
/// Where v242+ continues after the ceiling; also the "cycled" mark (bit 31).
pub const CYCLED: u32 = 0x8000_0000;
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

const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// What to probe and how long each step may take.
#[derive(Debug, Clone)]
pub struct Options {
    /// A D-Bus address of the system bus; `None` = `DBUS_SYSTEM_BUS_ADDRESS` or the default.
    pub address: Option<String>,
    /// systemd's private socket.
    pub private: PathBuf,
    /// Sample the bus twice this far apart to measure the rate.
    pub interval: Option<Duration>,
    /// The deadline of each step (connect, call).
    pub timeout: Duration,
}

/// The overall answer, in node-problem-detector's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do.
    Ok,
    /// Act within weeks: a vulnerable systemd is getting close.
    Warning,
    /// Act now: the overflow has happened or is imminent.
    Critical,
    /// No systemd could be asked.
    Unknown,
}

impl Verdict {
    /// node-problem-detector's custom-plugin exit status: 0 ok, 1 problem, 2 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning | Verdict::Critical => 1,
            Verdict::Unknown => 2,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One answer from systemd: the serial of its reply and the `Version` it reported.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The reply's serial = systemd's cookie on that connection.
    pub serial: u32,
    /// `Manager.Version`, e.g. `252.38-1~deb12u1`.
    pub version: String,
    /// When the reply arrived.
    pub at: Instant,
}

/// Everything the probe saw; [`assess`] turns it into a [`Report`].
#[derive(Debug, Clone)]
pub struct Observation {
    /// The first answer on the bus, or why there was none.
    pub bus: Result<Answer, String>,
    /// The second answer on the bus (with `--interval`), or why there was none.
    pub bus_again: Option<Result<Answer, String>>,
    /// The answer on the private socket, or why there was none.
    pub private: Result<Answer, String>,
    /// When systemd did not answer on the bus: whether dbus-daemon said
    /// `org.freedesktop.systemd1` has an owner. `None` if not asked or not answered.
    pub name_owned: Option<bool>,
}

/// The doctor's findings; serialised as the `--format json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Major version (`252`), if systemd answered anywhere.
    pub systemd_version: Option<u32>,
    /// `Manager.Version` as systemd spells it.
    pub systemd_version_string: Option<String>,
    /// PID 1's API-bus cookie (the latest reply serial on the bus).
    pub cookie: Option<u32>,
    /// 0xffffffff.
    pub ceiling: u32,
    /// `ceiling - cookie`.
    pub headroom: Option<u32>,
    /// Cookie in the cycled half (bit 31 set), like the allocator's `has_cycled()`; on v242+
    /// harmless, on older versions it means less than 2^31 messages are left.
    pub cycled: Option<bool>,
    /// Messages per second systemd sent on the bus between two samples (our own second
    /// reply excluded).
    pub rate_per_sec: Option<f64>,
    /// Seconds until the cookie reaches the ceiling at that rate.
    pub eta_seconds: Option<u64>,
    /// Version before 242.
    pub vulnerable: Option<bool>,
    /// systemd answered on the system bus.
    pub bus_responsive: bool,
    /// systemd answered on its private socket.
    pub private_responsive: bool,
    /// systemd's cookie on our private connection (a fresh connection, so small).
    pub private_cookie: Option<u32>,
    /// Why the bus did not answer.
    pub bus_error: Option<String>,
    /// When systemd did not answer on the bus: whether its name still had an owner there
    /// (PID 1 deaf on the bus) or not (PID 1 left the bus); null if unknown.
    pub name_owned: Option<bool>,
    /// Why the private socket did not answer.
    pub private_error: Option<String>,
    /// ok, warning, critical, unknown.
    pub verdict: Verdict,
    /// One line for humans and node-problem-detector.
    pub message: String,
}

/// A step that failed or ran out of time, naming the step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The step did not finish before its deadline.
    #[error("{step}: no answer within {after:?}")]
    Timeout {
        /// Which step.
        step: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The step failed on the D-Bus level.
    #[error("{step}: {source}")]
    Dbus {
        /// Which step.
        step: &'static str,
        /// What zbus said.
        source: zbus::Error,
    },
    /// The step failed on the private socket.
    #[error("{step}: {source}")]
    Raw {
        /// Which step.
        step: &'static str,
        /// What went wrong.
        source: RawError,
    },
}

/// Runs `fut` with a deadline.
async fn within<T, E>(
    step: &'static str,
    after: Duration,
    fut: impl Future<Output = Result<T, E>>,
    wrap: impl FnOnce(&'static str, E) -> StepError,
) -> Result<T, StepError> {
    futures_lite::future::or(async { fut.await.map_err(|e| wrap(step, e)) }, async {
        Timer::after(after).await;
        Err(StepError::Timeout { step, after })
    })
    .await
}

fn dbus(step: &'static str, source: zbus::Error) -> StepError {
    StepError::Dbus { step, source }
}

/// One `Properties.Get(Manager, Version)`; the reply's serial is systemd's cookie.
async fn ask(
    conn: &Connection,
    step: &'static str,
    timeout: Duration,
) -> Result<Answer, StepError> {
    let reply = within(
        step,
        timeout,
        conn.call_method(
            Some(SYSTEMD),
            SYSTEMD_PATH,
            Some(PROPERTIES),
            "Get",
            &(MANAGER, "Version"),
        ),
        dbus,
    )
    .await?;
    let at = Instant::now();
    let serial = reply.primary_header().serial_num().get();
    let value: zbus::zvariant::OwnedValue =
        reply.body().deserialize().map_err(|e| dbus(step, e))?;
    let version = String::try_from(value).map_err(|e| dbus(step, e.into()))?;
    Ok(Answer {
        serial,
        version,
        at,
    })
}

async fn connect_bus(address: Option<&str>, timeout: Duration) -> Result<Connection, StepError> {
    let builder = match address {
        Some(a) => Builder::address(a),
        None => Builder::system(),
    }
    .map_err(|e| dbus("parse bus address", e))?;
    within("connect to the system bus", timeout, builder.build(), dbus).await
}

/// Whether `org.freedesktop.systemd1` has an owner, as dbus-daemon (not systemd) answers.
async fn name_owned(conn: &Connection, timeout: Duration) -> Result<bool, StepError> {
    let step = "ask the bus whether systemd holds its name";
    let reply = within(
        step,
        timeout,
        conn.call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &(SYSTEMD,),
        ),
        dbus,
    )
    .await?;
    reply.body().deserialize().map_err(|e| dbus(step, e))
}

/// The bus's answers, and when systemd gave none, whether it still holds its name there.
type BusProbe = (
    Result<Answer, String>,
    Option<Result<Answer, String>>,
    Option<bool>,
);

async fn probe_bus(opts: &Options) -> BusProbe {
    let conn = match connect_bus(opts.address.as_deref(), opts.timeout).await {
        Ok(c) => c,
        Err(e) => return (Err(e.to_string()), None, None),
    };
    let first = ask(&conn, "ask systemd on the bus", opts.timeout)
        .await
        .map_err(|e| e.to_string());
    if first.is_err() {
        // An unanswered daemon leaves it unknown; the verdict does not rest on it.
        let owned = name_owned(&conn, opts.timeout).await.ok();
        return (first, None, owned);
    }
    let second = match (&first, opts.interval) {
        (Ok(_), Some(interval)) => {
            Timer::after(interval).await;
            Some(
                ask(&conn, "ask systemd on the bus again", opts.timeout)
                    .await
                    .map_err(|e| e.to_string()),
            )
        }
        _ => None,
    };
    (first, second, None)
}

/// The private socket speaks D-Bus peer to peer (EXTERNAL auth, no Hello, no daemon); see
/// [`crate::rawbus`] for why this is not zbus.
async fn probe_private(opts: &Options) -> Result<Answer, String> {
    let raw = |step, e| StepError::Raw { step, source: e };
    let mut peer = within(
        "connect to the private socket",
        opts.timeout,
        Peer::connect(&opts.private),
        raw,
    )
    .await
    .map_err(|e| e.to_string())?;
    let step = "ask systemd on the private socket";
    let reply = within(
        step,
        opts.timeout,
        peer.get_property(SYSTEMD, SYSTEMD_PATH, MANAGER, "Version"),
        raw,
    )
    .await
    .map_err(|e| e.to_string())?;
    let version = reply
        .string
        .ok_or_else(|| format!("{step}: Version is not a string"))?;
    Ok(Answer {
        serial: reply.serial,
        version,
        at: Instant::now(),
    })
}

/// Probes the bus and the private socket (at the same time) and assesses the result.
pub fn run(opts: &Options) -> Report {
    let ((bus, bus_again, name_owned), private) = async_io::block_on(futures_lite::future::zip(
        probe_bus(opts),
        probe_private(opts),
    ));
    assess(&Observation {
        bus,
        bus_again,
        private,
        name_owned,
    })
}

/// Messages per second between two answers on the same connection. Our own second
/// request caused one of them, so it is subtracted. A cookie that went down is a wrap
/// (v242+: from the ceiling to 0x80000000) or, on older versions, a new connection
/// (daemon-reexec), for which there is no rate.
fn rate(first: &Answer, second: &Answer, fixed: bool) -> Option<f64> {
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

fn percent(headroom: u32) -> f64 {
    f64::from(headroom) * 100.0 / (f64::from(CEILING) + 1.0)
}

/// Human form of a number of seconds: `3d 4h`, `5h 10m`, `42s`.
pub fn human_secs(s: u64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
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
        .and_then(sdbus_cgroup::parse_version);
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
    let private_responsive = obs.private.is_ok();
    let bus_error = match (&obs.bus, &obs.bus_again) {
        (Err(e), _) | (_, Some(Err(e))) => Some(e.clone()),
        _ => None,
    };
    let private_error = obs.private.as_ref().err().cloned();
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
        if vulnerable == Some(false) {
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
        let refused = private_error
            .as_deref()
            .is_some_and(|e| e.contains("reset by peer") || e.contains("Broken pipe"));
        let rejected = private_error
            .as_deref()
            .is_some_and(|e| e.contains("authentication rejected"));
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
        private_responsive,
        private_cookie: obs.private.as_ref().ok().map(|a| a.serial),
        bus_error,
        name_owned: obs.name_owned,
        private_error,
        verdict,
        message,
    }
}

/// What callers on the bus meet when PID 1 no longer answers there. What dbus-daemon said
/// about the name decides; without that, the release's known behaviour is named as such.
fn off_the_bus(name_owned: Option<bool>, version: Option<u32>) -> String {
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

/// The default, human output.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let version = match (&r.systemd_version_string, r.vulnerable) {
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
        out += &format!(" ({e})");
    }
    out += "\n";
    out += &format!("private socket:    {}", yes(r.private_responsive));
    if let Some(e) = &r.private_error {
        out += &format!(" ({e})");
    }
    out += "\n";
    out += &format!("verdict:           {}: {}\n", r.verdict.as_str(), r.message);
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
    format!("{}: {}", r.verdict.as_str(), r.message.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(serial: u32, version: &str, at: Instant) -> Answer {
        Answer {
            serial,
            version: version.into(),
            at,
        }
    }

    fn obs(bus: Result<Answer, String>, private: Result<Answer, String>) -> Observation {
        Observation {
            bus,
            bus_again: None,
            private,
            name_owned: None,
        }
    }

    #[test]
    fn fixed_version_with_room_is_ok() {
        let now = Instant::now();
        let r = assess(&obs(
            Ok(answer(1234, "252.38-1~deb12u1", now)),
            Ok(answer(3, "252.38-1~deb12u1", now)),
        ));
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(r.systemd_version, Some(252));
        assert_eq!(r.vulnerable, Some(false));
        assert_eq!(r.headroom, Some(CEILING - 1234));
        assert_eq!(r.cycled, Some(false));
        assert!(r.bus_responsive && r.private_responsive);
    }

    #[test]
    fn fixed_version_in_cycled_half_is_still_ok() {
        let now = Instant::now();
        let r = assess(&obs(
            Ok(answer(0xfffffff0, "252", now)),
            Ok(answer(3, "252", now)),
        ));
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(r.cycled, Some(true));
    }

    #[test]
    fn vulnerable_version_thresholds_on_headroom() {
        let now = Instant::now();
        let at =
            |c: u32| assess(&obs(Ok(answer(c, "241", now)), Ok(answer(2, "241", now)))).verdict;
        assert_eq!(at(1000), Verdict::Ok);
        assert_eq!(at(CEILING - WARN_HEADROOM), Verdict::Ok);
        assert_eq!(at(CEILING - WARN_HEADROOM + 1), Verdict::Warning);
        assert_eq!(at(CEILING - CRIT_HEADROOM + 1), Verdict::Critical);
    }

    #[test]
    fn vulnerable_version_thresholds_on_eta() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(10);
        // 0x40000000 headroom left is far above 10%, but 1e4 msgs/s reaches it in ~1.2 days.
        let c0 = CEILING - 0x4000_0000 - 100_001;
        let mut o = obs(Ok(answer(c0, "241", t0)), Ok(answer(2, "241", t1)));
        o.bus_again = Some(Ok(answer(c0 + 100_001, "241", t1)));
        let r = assess(&o);
        assert_eq!(r.rate_per_sec, Some(10_000.0));
        assert_eq!(r.eta_seconds, Some(0x4000_0000 / 10_000));
        assert_eq!(r.verdict, Verdict::Warning);
        // The same numbers on a fixed version are fine.
        let mut o = obs(Ok(answer(c0, "252", t0)), Ok(answer(2, "252", t1)));
        o.bus_again = Some(Ok(answer(c0 + 100_001, "252", t1)));
        assert_eq!(assess(&o).verdict, Verdict::Ok);
    }

    #[test]
    fn wrap_to_cycled_counts_as_progress_on_fixed_versions() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut o = obs(Ok(answer(CEILING - 9, "252", t0)), Ok(answer(2, "252", t1)));
        o.bus_again = Some(Ok(answer(CYCLED + 10, "252", t1)));
        // 9 up to the ceiling, 11 from 0x80000000 to +10, minus our own reply.
        assert_eq!(assess(&o).rate_per_sec, Some(19.0));
    }

    #[test]
    fn private_answering_while_bus_silent_is_the_overflow_signature() {
        let now = Instant::now();
        let r = assess(&obs(Err("timeout".into()), Ok(answer(2, "241", now))));
        assert_eq!(r.verdict, Verdict::Critical);
        assert!(
            r.message.contains("cookie-overflow signature"),
            "{}",
            r.message
        );
        assert!(!r.bus_responsive && r.private_responsive);
        assert_eq!(r.systemd_version, Some(241));
    }

    /// v219 at the edge keeps its name on the bus and reads nothing; v237+ leaves the bus.
    /// What dbus-daemon says about the name decides, whatever the version says.
    #[test]
    fn silent_bus_says_deaf_when_systemd_holds_its_name_and_left_when_not() {
        let now = Instant::now();
        for (version, owned, want, not) in [
            (
                "219",
                Some(true),
                "PID 1 is deaf on the bus, callers without a deadline hang",
                "left the bus",
            ),
            (
                "241",
                Some(true),
                "PID 1 is deaf on the bus, callers without a deadline hang",
                "left the bus",
            ),
            ("241", Some(false), "PID 1 left the bus", "deaf"),
            ("219", Some(false), "PID 1 left the bus", "deaf"),
            (
                "219",
                None,
                "PID 1 is deaf on the bus, callers without a deadline hang (as v219 does",
                "left the bus",
            ),
            ("241", None, "PID 1 left the bus", "deaf"),
            ("237", None, "PID 1 left the bus", "deaf"),
        ] {
            let mut o = obs(Err("timeout".into()), Ok(answer(2, version, now)));
            o.name_owned = owned;
            let r = assess(&o);
            assert_eq!(r.verdict, Verdict::Critical);
            assert_eq!(r.name_owned, owned);
            assert!(
                r.message.contains(want),
                "{version} {owned:?}: {}",
                r.message
            );
            assert!(
                !r.message.contains(not),
                "{version} {owned:?}: {}",
                r.message
            );
            assert!(
                r.message.contains("'systemctl daemon-reexec'"),
                "{}",
                r.message
            );
        }
    }

    #[test]
    fn a_rejected_private_socket_says_where_to_run() {
        let now = Instant::now();
        let r = assess(&obs(
            Ok(answer(9, "219", now)),
            Err("ask systemd on the private socket: authentication rejected: REJECTED".into()),
        ));
        assert_eq!(r.verdict, Verdict::Ok);
        assert!(
            r.message
                .contains("rejected our credentials: run sdcookie in systemd's PID namespace"),
            "{}",
            r.message
        );
    }

    #[test]
    fn nothing_answering_is_unknown() {
        let r = assess(&obs(
            Err("connect: no such file".into()),
            Err("connect: no such file".into()),
        ));
        assert_eq!(r.verdict, Verdict::Unknown);
        assert_eq!(r.verdict.exit_code(), 2);
        assert!(r.message.starts_with("no systemd reachable"));
    }

    #[test]
    fn prometheus_output_has_one_sample_per_metric() {
        let now = Instant::now();
        let r = assess(&obs(Ok(answer(77, "252", now)), Ok(answer(3, "252", now))));
        let p = prometheus(&r, UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
        assert!(p.contains("\nsdcookie_systemd_cookie 77\n"));
        assert!(p.contains("\nsdcookie_doctor_last_run_timestamp_seconds 1700000000.250\n"));
        assert!(p.contains("sdcookie_doctor_verdict{verdict=\"ok\"} 1\n"));
        assert!(!p.contains("eta_seconds"), "unknown values are left out");
    }
}
