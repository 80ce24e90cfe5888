//! The side-by-side text report.

use super::runtimes::EdgeRun;
use super::Report;

pub(super) fn answers(b: bool) -> &'static str {
    if b {
        "answers"
    } else {
        "SILENT"
    }
}

pub(super) fn hex(v: Option<u32>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:#010x}"))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The side-by-side report.
pub fn text(r: &Report) -> String {
    let (s, p) = (&r.stock, &r.patched);
    let (sd, pd) = (&s.details, &p.details);
    let rows: Vec<(&str, String, String)> = vec![
        (
            "binary",
            sd.binary.display().to_string(),
            pd.binary.display().to_string(),
        ),
        (
            "systemd",
            s.systemd_version.clone(),
            p.systemd_version.clone(),
        ),
        (
            "boot",
            format!("{:.1} s", sd.boot_seconds),
            format!("{:.1} s", pd.boot_seconds),
        ),
        (
            "gdb: cookie found / set",
            format!("{} / {:#010x}", opt(sd.cookie_found), s.cookie_set_to),
            format!("{} / {:#010x}", opt(pd.cookie_found), p.cookie_set_to),
        ),
        (
            "lifecycles before edge",
            sd.lifecycles_before_edge.to_string(),
            pd.lifecycles_before_edge.to_string(),
        ),
        (
            "last serial before edge",
            hex(Some(s.last_serial_before_edge)),
            hex(Some(p.last_serial_before_edge)),
        ),
        (
            "first serial after edge",
            s.first_serial_after_edge
                .map_or("none (systemd silent)".into(), |v| hex(Some(v))),
            hex(p.first_serial_after_edge),
        ),
        (
            "client error",
            s.client_error.clone().unwrap_or("-".into()),
            p.client_error.clone().unwrap_or("-".into()),
        ),
        (
            "time to the error",
            sd.detect_seconds
                .map_or("-".into(), |t| format!("{t:.1} s")),
            "-".into(),
        ),
        (
            "systemd1 on the bus",
            format!(
                "after the failure: {}, after the doctor: {}",
                opt(sd.on_bus_after_failure),
                opt(sd.on_bus_after_doctor)
            ),
            "yes".into(),
        ),
        (
            "caller without deadline",
            sd.unbounded_end.clone().unwrap_or("-".into()),
            "-".into(),
        ),
        (
            "private socket (systemctl)",
            sd.private_systemctl.clone().unwrap_or("-".into()),
            "-".into(),
        ),
        (
            "doctor: bus / private",
            format!(
                "{} / {}",
                answers(s.bus_responsive),
                answers(s.private_socket_responsive)
            ),
            format!(
                "{} / {}",
                answers(p.bus_responsive),
                answers(p.private_socket_responsive)
            ),
        ),
        (
            "doctor: cycled",
            opt(sd.doctor_cycled),
            opt(pd.doctor_cycled),
        ),
        (
            "doctor: verdict",
            s.doctor_verdict.to_string(),
            p.doctor_verdict.to_string(),
        ),
        (
            "daemon-reexec",
            s.reexec.as_ref().map_or("-".into(), |x| {
                format!(
                    "systemd {} on the bus after {:.1} s, cookie {}, doctor {}",
                    opt(x.systemd_version.as_deref()),
                    sd.reexec_seconds.unwrap_or(0.0),
                    hex(x.cookie),
                    x.doctor_verdict
                )
            }),
            "-".into(),
        ),
        ("failed unit left behind", opt(sd.left_behind), "-".into()),
        (
            "lifecycles after edge",
            s.lifecycles_after_edge.to_string(),
            p.lifecycles_after_edge.to_string(),
        ),
        (
            "failed calls after edge",
            s.failed_calls.to_string(),
            p.failed_calls.to_string(),
        ),
        (
            "last serial seen",
            hex(Some(sd.last_serial)),
            hex(Some(pd.last_serial)),
        ),
        (
            "run",
            format!("{:.1} s", sd.seconds),
            format!("{:.1} s", pd.seconds),
        ),
    ];
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(24);
    let mut out = format!(
        "sdcookie reproduce: systemd {} as PID 1, its API-bus cookie moved by gdb\n\n{:<w0$}  {:<w1$}  {}\n",
        s.systemd_version, "", "stock", "patched (our backport)"
    );
    for (k, a, b) in rows {
        out += &format!("{k:<w0$}  {a:<w1$}  {b}\n");
    }
    out += &format!(
        "\nstock doctor:   {}\npatched doctor: {}\n",
        sd.doctor_message, pd.doctor_message
    );
    if let Some(m) = &sd.reexec_mount {
        out += &format!("way out prepared: {m}\n");
    }
    out += "\n";
    out += &runtimes_table(r);
    for (name, d) in [("stock", sd), ("patched", pd)] {
        for line in &d.systemd_log {
            out += &format!("{name} systemd log: {line}\n");
        }
    }
    for (name, d) in [("stock", sd), ("patched", pd)] {
        for c in &d.claims {
            out += &format!(
                "{name:<7} {} {}\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.what
            );
        }
    }
    out
}

/// One line per runtime and PID 1: healthy, the two ways past the edge, then the way out
/// (stock) or the containers after the edge (patched).
fn runtimes_table(r: &Report) -> String {
    let edge = |e: &EdgeRun| {
        let mut t = format!("{:?} {:.1} s", e.outcome, e.seconds).to_lowercase();
        if let Some(enough) = e.sigterm_was_enough {
            t += if enough {
                " (TERM ended it)"
            } else {
                " (needed KILL)"
            };
        }
        t + &format!(
            ", sdbus-cgroup {:?} {:.1} s",
            e.sdbus_cgroup.outcome, e.sdbus_cgroup.seconds
        )
        .to_lowercase()
    };
    let mut rows = vec![[
        "build".to_owned(),
        "runtime".to_owned(),
        "version".to_owned(),
        "healthy".to_owned(),
        "edge by a reply".to_owned(),
        "edge by its call".to_owned(),
        "list call".to_owned(),
        "after".to_owned(),
    ]];
    for (build, run) in [("stock", &r.stock), ("patched", &r.patched)] {
        for (name, rt) in &run.runtimes {
            let after = match (&rt.patched_containers_after_edge, rt.survived_reexec) {
                (Some(t), _) => format!(
                    "{} ok, {} failed, serial {:#010x}",
                    t.ok, t.failed, t.serial_after
                ),
                (None, Some(s)) => format!(
                    "daemon-reexec: {}",
                    if s { "survived" } else { "NOT survived" }
                ),
                (None, None) => "-".into(),
            };
            rows.push([
                build.to_owned(),
                name.clone(),
                rt.version.clone(),
                if rt.healthy_ok {
                    format!("ok ({})", rt.limits)
                } else {
                    format!("FAILED ({})", rt.limits)
                },
                edge(&rt.edge_by_reply),
                edge(&rt.edge_by_call),
                match (rt.list_blocked_s, rt.list_answered) {
                    (Some(s), Some(true)) => format!("answered {s:.1} s"),
                    (Some(s), _) => format!("blocked {s:.1} s"),
                    _ => "-".into(),
                },
                after,
            ]);
        }
    }
    if rows.len() == 1 {
        return String::new();
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::from("runtimes on the same PID 1s:\n");
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += line.join("  ").trim_end();
        out += "\n";
    }
    out + "\n"
}
