//! The cookie-overflow incident on real systemd v241 as PID 1 (stock upstream, and with our
//! backport), moved to the edge by gdb on the live process: what `sdcookie reproduce`
//! claims, asserted on its JSON report. One run serves every test here (it boots each
//! PID 1 once); the tests only read its report.
//!
//! Needs root, gdb and the two PID 1s of `systemd-patch/build-pid1 241`; without them the
//! run fails and so does every test, with the reason.

use std::sync::OnceLock;
use std::time::Duration;

use sdbus_cookie_tests::{cgroups_named, host_mounts, pid1s, run, sdcookie, Output};
use serde_json::Value;

/// The client's deadline in the run (`--timeout`).
const DEADLINE: Duration = Duration::from_secs(5);
/// Lifecycles after the edge on the patched PID 1.
const LIFECYCLES: u64 = 1000;

struct Reproduced {
    out: Output,
    report: Value,
    mounts_before: Vec<String>,
    mounts_after: Vec<String>,
}

fn reproduced() -> &'static Reproduced {
    static RUN: OnceLock<Reproduced> = OnceLock::new();
    RUN.get_or_init(|| {
        let (stock, patched) = pid1s("241");
        let exe = sdcookie();
        let mounts_before = host_mounts();
        let timeout = format!("{}s", DEADLINE.as_secs());
        let lifecycles = LIFECYCLES.to_string();
        let out = run(
            &exe,
            &[
                "reproduce".as_ref(),
                "--stock".as_ref(),
                stock.as_os_str(),
                "--patched".as_ref(),
                patched.as_os_str(),
                "--timeout".as_ref(),
                timeout.as_ref(),
                "--lifecycles".as_ref(),
                lifecycles.as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
            ],
        );
        eprintln!("{}", out.stderr);
        let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sdcookie reproduce printed no JSON ({e}), exit {:?}:\n{}\n{}",
                out.code, out.stdout, out.stderr
            )
        });
        Reproduced {
            out,
            report,
            mounts_before,
            mounts_after: host_mounts(),
        }
    })
}

fn stock() -> &'static Value {
    &reproduced().report["stock"]
}

fn patched() -> &'static Value {
    &reproduced().report["patched"]
}

#[test]
fn report_has_exactly_the_documented_fields() {
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    let common = [
        "bus_responsive",
        "client_error",
        "cookie_set_to",
        "doctor_verdict",
        "failed_calls",
        "first_serial_after_edge",
        "last_serial_before_edge",
        "lifecycles_after_edge",
        "private_socket_responsive",
        "systemd_version",
    ];
    let mut want: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(keys(patched()), want);
    want.extend([
        "reexec".to_string(),
        "unbounded_caller_blocked_s".to_string(),
    ]);
    want.sort();
    assert_eq!(keys(stock()), want);
    assert_eq!(
        keys(&stock()["reexec"]),
        ["cookie", "doctor_verdict", "systemd_version"]
    );
    assert_eq!(keys(&reproduced().report), ["patched", "stock"]);
}

#[test]
fn both_runs_are_v241_with_the_cookie_moved_by_gdb_to_the_same_value() {
    for r in [stock(), patched()] {
        assert_eq!(r["systemd_version"], "241", "{r}");
        assert_eq!(r["cookie_set_to"], 0xffff_ff00u64, "{r}");
        assert_eq!(r["last_serial_before_edge"], 0xffff_ffffu64, "{r}");
    }
}

#[test]
fn stock_v241_sends_nothing_after_0xffffffff_and_the_client_times_out_typed() {
    let s = stock();
    assert_eq!(s["first_serial_after_edge"], Value::Null, "{s}");
    let e = s["client_error"].as_str().unwrap_or_default();
    assert!(e.starts_with("timeout"), "client_error {e:?}");
    assert!(e.contains("StartTransientUnit"), "client_error {e:?}");
    assert!(s["failed_calls"].as_u64() >= Some(1), "{s}");
}

#[test]
fn stock_v241_doctor_sees_the_bus_dead_and_the_private_socket_alive() {
    let s = stock();
    assert_eq!(s["bus_responsive"], false, "{s}");
    assert_eq!(s["private_socket_responsive"], true, "{s}");
    assert_eq!(s["doctor_verdict"], "critical", "{s}");
}

#[test]
fn stock_v241_caller_without_a_deadline_is_still_blocked_after_ten_client_deadlines() {
    let blocked = stock()["unbounded_caller_blocked_s"]
        .as_f64()
        .expect("a number");
    assert!(
        blocked >= (DEADLINE * 10).as_secs_f64(),
        "blocked {blocked} s; the run says: {}",
        reproduced().out.stderr
    );
}

#[test]
fn stock_v241_daemon_reexec_of_the_same_binary_restores_the_bus_and_the_same_client_recovers() {
    let x = &stock()["reexec"];
    assert_eq!(x["systemd_version"], "241", "{x}");
    assert_eq!(x["doctor_verdict"], "ok", "{x}");
    let cookie = x["cookie"].as_u64().expect("a cookie");
    assert!(
        cookie < 0x8000_0000,
        "a fresh connection's cookie: {cookie:#x}"
    );
    // The recovery lifecycles ran on the client that saw the timeout.
    assert!(
        stock()["lifecycles_after_edge"].as_u64() >= Some(1),
        "{}",
        stock()
    );
}

#[test]
fn patched_v241_cycles_to_0x80000000_and_a_thousand_lifecycles_all_succeed() {
    let p = patched();
    assert_eq!(p["first_serial_after_edge"], 0x8000_0000u64, "{p}");
    assert_eq!(p["client_error"], Value::Null, "{p}");
    assert_eq!(p["lifecycles_after_edge"], LIFECYCLES, "{p}");
    assert_eq!(p["failed_calls"], 0, "{p}");
    assert_eq!(p["bus_responsive"], true, "{p}");
    assert_eq!(p["doctor_verdict"], "ok", "{p}");
}

#[test]
fn every_claim_the_run_checks_itself_held() {
    let r = reproduced();
    assert_eq!(r.out.code, Some(0), "{}", r.out.stderr);
}

#[test]
fn host_is_left_as_found_no_mount_and_no_sandbox_cgroup() {
    let r = reproduced();
    assert_eq!(
        r.mounts_after, r.mounts_before,
        "the host's mount table changed"
    );
    // The run names each sandbox's cgroup ("... in cgroup sandbox-<id>, ...").
    let names: Vec<&str> = r
        .out
        .stderr
        .split_whitespace()
        .filter(|w| w.starts_with("sandbox-"))
        .map(|w| w.trim_end_matches(','))
        .collect();
    assert_eq!(names.len(), 2, "two boots named in: {}", r.out.stderr);
    for name in names {
        assert_eq!(
            cgroups_named(name),
            Vec::<std::path::PathBuf>::new(),
            "{name} left behind"
        );
    }
}
