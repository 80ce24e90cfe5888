// Shared by several test binaries; each uses the part its releases need.
#![allow(dead_code, unused_macros)]

//! The checks of `sdcookie-lab reproduce` on one release, shared by the per-release test
//! binaries (`reproduce_v219.rs`, `reproduce_v241.rs`): `reproduce_tests!("N", "...")` runs
//! the reproduction once on the two PID 1s of `systemd-patch/build-pid1 N` (stock upstream,
//! and with our backport), its API-bus cookie moved by gdb on the live process, and asserts
//! every claim on its JSON report. Each release is its own test binary, so the two never
//! run at once (the tests of one binary run in parallel, binaries one after the other).
//!
//! Needs root, gdb and the two PID 1s; without them the run fails and so does every test,
//! with the reason.

use std::time::Duration;

use sdbus_cookie_tests::{host_mounts, pid1s, run, sdcookie_lab, Output};
use serde_json::Value;

/// The client's deadline in the run (`--timeout`).
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Lifecycles after the edge on the patched PID 1.
pub const LIFECYCLES: u64 = 1000;
/// Where gdb puts PID 1's API-bus cookie (`--cookie`'s default).
pub const COOKIE: u64 = 0xffff_ff00;
/// How long a runtime's command may run at the edge before the run ends it.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// Containers each runtime creates past the edge on the patched PID 1.
pub const CONTAINERS: u64 = 20;

/// One run's output and report, and the host's mount table around it.
pub struct Reproduced {
    pub release: &'static str,
    /// `Manager.Version` of its PID 1s.
    pub version: &'static str,
    /// The runtimes driven (none: `--no-runtimes`).
    pub runtimes: Vec<&'static str>,
    pub out: Output,
    pub report: Value,
    pub mounts_before: Vec<String>,
    pub mounts_after: Vec<String>,
}

impl Reproduced {
    pub fn stock(&self) -> &Value {
        &self.report["stock"]
    }

    pub fn patched(&self) -> &Value {
        &self.report["patched"]
    }
}

/// `sdcookie-lab reproduce --stock S --patched P --format json` on the two PID 1s of
/// `release` (a tag or a distribution's tree), with `runtimes` ("" for `--no-runtimes`).
pub fn reproduce(
    release: &'static str,
    version: &'static str,
    runtimes: &'static str,
) -> Reproduced {
    let (stock, patched) = pid1s(release);
    let exe = sdcookie_lab();
    let mounts_before = host_mounts();
    let timeout = format!("{}s", DEADLINE.as_secs());
    let lifecycles = LIFECYCLES.to_string();
    let patience = format!("{}s", PATIENCE.as_secs());
    let containers = CONTAINERS.to_string();
    let mut args: Vec<&std::ffi::OsStr> = vec![
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
    ];
    if runtimes.is_empty() {
        args.push("--no-runtimes".as_ref());
    } else {
        args.extend::<[&std::ffi::OsStr; 6]>([
            "--runtimes".as_ref(),
            runtimes.as_ref(),
            "--runtime-patience".as_ref(),
            patience.as_ref(),
            "--containers".as_ref(),
            containers.as_ref(),
        ]);
    }
    let out = run(&exe, &args);
    eprintln!("{}", out.stderr);
    let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sdcookie-lab reproduce printed no JSON ({e}), exit {:?}:\n{}\n{}",
            out.code, out.stdout, out.stderr
        )
    });
    Reproduced {
        release,
        version,
        runtimes: runtimes.split(',').filter(|r| !r.is_empty()).collect(),
        out,
        report,
        mounts_before,
        mounts_after: host_mounts(),
    }
}

pub fn report_has_exactly_the_documented_fields(r: &Reproduced) {
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
        "runtimes",
        "systemd_version",
    ];
    let mut want: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(keys(r.patched()), want);
    want.extend([
        "reexec".to_string(),
        "unbounded_caller_blocked_s".to_string(),
    ]);
    want.sort();
    assert_eq!(keys(r.stock()), want);
    assert_eq!(
        keys(&r.stock()["reexec"]),
        ["cookie", "doctor_verdict", "systemd_version"]
    );
    assert_eq!(keys(&r.report), ["patched", "stock"]);
}

pub fn both_runs_are_the_release_with_the_cookie_moved_by_gdb_to_the_same_value(r: &Reproduced) {
    for v in [r.stock(), r.patched()] {
        assert_eq!(v["systemd_version"], r.version, "{v}");
        assert_eq!(v["cookie_set_to"], COOKIE, "{v}");
        assert_eq!(v["last_serial_before_edge"], 0xffff_ffffu64, "{v}");
    }
}

pub fn stock_sends_nothing_after_0xffffffff_and_the_client_times_out_typed(r: &Reproduced) {
    let s = r.stock();
    assert_eq!(s["first_serial_after_edge"], Value::Null, "{s}");
    let e = s["client_error"].as_str().unwrap_or_default();
    assert!(e.starts_with("timeout"), "client_error {e:?}");
    assert!(e.contains("StartTransientUnit"), "client_error {e:?}");
    assert!(s["failed_calls"].as_u64() >= Some(1), "{s}");
}

pub fn stock_doctor_sees_the_bus_dead_and_the_private_socket_alive(r: &Reproduced) {
    let s = r.stock();
    assert_eq!(s["bus_responsive"], false, "{s}");
    assert_eq!(s["private_socket_responsive"], true, "{s}");
    assert_eq!(s["doctor_verdict"], "critical", "{s}");
}

/// What the release does at the edge (the run's table, which it checks as a claim): the
/// claim's line on stderr, as the operator reads it.
pub fn stock_does_at_the_edge_what_the_table_says(r: &Reproduced, at_the_edge: &str) {
    let want = format!(
        "[stock] ok   after the doctor's probe systemd {} {at_the_edge}:",
        r.version
    );
    assert!(
        r.out.stderr.lines().any(|l| l.contains(&want)),
        "no '{want}' in: {}",
        r.out.stderr
    );
}

pub fn stock_caller_without_a_deadline_is_still_blocked_after_ten_client_deadlines(r: &Reproduced) {
    let blocked = r.stock()["unbounded_caller_blocked_s"]
        .as_f64()
        .expect("a number");
    assert!(
        blocked >= (DEADLINE * 10).as_secs_f64(),
        "blocked {blocked} s; the run says: {}",
        r.out.stderr
    );
}

pub fn stock_daemon_reexec_of_the_same_binary_restores_the_bus_and_the_same_client_recovers(
    r: &Reproduced,
) {
    let x = &r.stock()["reexec"];
    assert_eq!(x["systemd_version"], r.version, "{x}");
    assert_eq!(x["doctor_verdict"], "ok", "{x}");
    let cookie = x["cookie"].as_u64().expect("a cookie");
    assert!(
        cookie < 0x8000_0000,
        "a fresh connection's cookie: {cookie:#x}"
    );
    // The recovery lifecycles ran on the client that saw the timeout.
    assert!(
        r.stock()["lifecycles_after_edge"].as_u64() >= Some(1),
        "{}",
        r.stock()
    );
}

pub fn patched_cycles_to_0x80000000_and_a_thousand_lifecycles_all_succeed(r: &Reproduced) {
    let p = r.patched();
    assert_eq!(p["first_serial_after_edge"], 0x8000_0000u64, "{p}");
    assert_eq!(p["client_error"], Value::Null, "{p}");
    assert_eq!(p["lifecycles_after_edge"], LIFECYCLES, "{p}");
    assert_eq!(p["failed_calls"], 0, "{p}");
    assert_eq!(p["bus_responsive"], true, "{p}");
    assert_eq!(p["doctor_verdict"], "ok", "{p}");
}

pub fn every_claim_the_run_checks_itself_held(r: &Reproduced) {
    assert_eq!(r.out.code, Some(0), "{}", r.out.stderr);
}

pub fn host_is_left_as_found_no_mount_and_no_sandbox_cgroup(r: &Reproduced) {
    assert_eq!(
        r.mounts_after, r.mounts_before,
        "the host's mount table changed"
    );
    let names = sandbox_names(r);
    // Two boots for the incident, four per runtime (two ways past the edge, two builds).
    assert_eq!(
        names.len(),
        2 + 4 * r.runtimes.len(),
        "boots named in: {}",
        r.out.stderr
    );
    for name in names {
        assert_eq!(
            sdbus_cookie_tests::cgroups_named(name),
            Vec::<std::path::PathBuf>::new(),
            "{name} left behind"
        );
    }
}

/// The cgroup name of every sandbox the run booted ("... in cgroup sandbox-<id>, ...").
fn sandbox_names(r: &Reproduced) -> Vec<&str> {
    r.out
        .stderr
        .split_whitespace()
        .filter(|w| w.starts_with("sandbox-"))
        .map(|w| w.trim_end_matches(','))
        .collect()
}

/// The runtimes of the run, on `build` ("stock" or "patched").
fn runtimes_of<'a>(r: &'a Reproduced, build: &str) -> Vec<(&'static str, &'a Value)> {
    let map = &r.report[build]["runtimes"];
    let mut keys: Vec<&str> = map
        .as_object()
        .expect("runtimes")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = r.runtimes.clone();
    want.sort_unstable();
    assert_eq!(keys, want, "{build}: the runtimes reported");
    r.runtimes.iter().map(|&n| (n, &map[n])).collect()
}

pub fn every_runtime_creates_a_healthy_container_whose_limits_read_back(r: &Reproduced) {
    for build in ["stock", "patched"] {
        for (name, rt) in runtimes_of(r, build) {
            assert_eq!(rt["healthy_ok"], true, "{build} {name}: {rt}");
            assert!(
                rt["version"].as_str().is_some_and(|v| !v.is_empty()),
                "{build} {name}: {rt}"
            );
        }
    }
}

pub fn patched_every_runtime_keeps_creating_containers_past_the_edge(r: &Reproduced) {
    for (name, rt) in runtimes_of(r, "patched") {
        for edge in ["edge_by_reply", "edge_by_call"] {
            assert_eq!(rt[edge]["outcome"], "ok", "patched {name} {edge}: {rt}");
            assert_eq!(
                rt[edge]["sdbus_cgroup"]["outcome"], "ok",
                "patched {name} {edge}: {rt}"
            );
        }
        let t = &rt["patched_containers_after_edge"];
        assert_eq!(t["ok"], CONTAINERS, "patched {name}: {t}");
        assert_eq!(t["failed"], 0, "patched {name}: {t}");
        let serial = t["serial_after"].as_u64().expect("a serial");
        assert!(
            (0x8000_0000..0xc000_0000).contains(&serial),
            "patched {name}: serial {serial:#x}"
        );
    }
}

pub fn stock_sdbus_cgroup_beside_every_runtime_is_bounded_by_its_deadline(r: &Reproduced) {
    let bound = DEADLINE.as_secs_f64() + 2.0;
    for (name, rt) in runtimes_of(r, "stock") {
        for edge in ["edge_by_reply", "edge_by_call"] {
            let b = &rt[edge]["sdbus_cgroup"];
            let s = b["seconds"].as_f64().expect("seconds");
            assert!(
                s <= bound,
                "stock {name} {edge}: sdbus-cgroup took {s} s: {b}"
            );
            assert_ne!(b["outcome"], "blocked", "stock {name} {edge}: {b}");
            assert!(
                rt[edge]["seconds"].as_f64() <= Some(PATIENCE.as_secs_f64() + 1.0),
                "stock {name} {edge}: {rt}"
            );
        }
        // The runtime's own call is the one past the edge: it gets no answer in time.
        assert_ne!(rt["edge_by_call"]["outcome"], "ok", "stock {name}: {rt}");
    }
}

pub fn stock_daemon_reexec_keeps_every_runtimes_container_and_the_runtime_works_again(
    r: &Reproduced,
) {
    for (name, rt) in runtimes_of(r, "stock") {
        assert_eq!(rt["survived_reexec"], true, "stock {name}: {rt}");
    }
}

pub fn every_process_the_runtimes_started_is_gone(r: &Reproduced) {
    // Every process the run started inside a sandbox (and the nsenter before it) was in
    // that sandbox's cgroups; their command lines name the run's folder on its /run.
    let names = sandbox_names(r);
    assert!(
        names.len() > 2 && !r.runtimes.is_empty(),
        "{}",
        r.out.stderr
    );
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cgroup")).is_ok_and(|cg| {
                names
                    .iter()
                    .any(|n| cg.contains(&format!("/{n}/")) || cg.contains(&format!("/{n}\n")))
            })
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// The tests of one release: `reproduce_tests!("219", "stays on the bus, deaf")`, the
/// second argument being what the run's table says the release does at the edge.
macro_rules! reproduce_tests {
    ($release:literal, $at_the_edge:literal) => {
        reproduce_tests!($release, $release, $at_the_edge, "");
    };
    ($release:literal, $version:literal, $at_the_edge:literal, $runtimes:literal) => {
        fn reproduced() -> &'static reproduce::Reproduced {
            static RUN: std::sync::OnceLock<reproduce::Reproduced> = std::sync::OnceLock::new();
            RUN.get_or_init(|| reproduce::reproduce($release, $version, $runtimes))
        }

        #[test]
        fn report_has_exactly_the_documented_fields() {
            reproduce::report_has_exactly_the_documented_fields(reproduced());
        }

        #[test]
        fn both_runs_are_the_release_with_the_cookie_moved_by_gdb_to_the_same_value() {
            reproduce::both_runs_are_the_release_with_the_cookie_moved_by_gdb_to_the_same_value(
                reproduced(),
            );
        }

        #[test]
        fn stock_sends_nothing_after_0xffffffff_and_the_client_times_out_typed() {
            reproduce::stock_sends_nothing_after_0xffffffff_and_the_client_times_out_typed(
                reproduced(),
            );
        }

        #[test]
        fn stock_doctor_sees_the_bus_dead_and_the_private_socket_alive() {
            reproduce::stock_doctor_sees_the_bus_dead_and_the_private_socket_alive(reproduced());
        }

        #[test]
        fn stock_does_at_the_edge_what_the_table_says() {
            reproduce::stock_does_at_the_edge_what_the_table_says(reproduced(), $at_the_edge);
        }

        #[test]
        fn stock_caller_without_a_deadline_is_still_blocked_after_ten_client_deadlines() {
            reproduce::stock_caller_without_a_deadline_is_still_blocked_after_ten_client_deadlines(
                reproduced(),
            );
        }

        #[test]
        fn stock_daemon_reexec_of_the_same_binary_restores_the_bus_and_the_same_client_recovers(
        ) {
            reproduce::stock_daemon_reexec_of_the_same_binary_restores_the_bus_and_the_same_client_recovers(
                reproduced(),
            );
        }

        #[test]
        fn patched_cycles_to_0x80000000_and_a_thousand_lifecycles_all_succeed() {
            reproduce::patched_cycles_to_0x80000000_and_a_thousand_lifecycles_all_succeed(
                reproduced(),
            );
        }

        #[test]
        fn every_claim_the_run_checks_itself_held() {
            reproduce::every_claim_the_run_checks_itself_held(reproduced());
        }

        #[test]
        fn host_is_left_as_found_no_mount_and_no_sandbox_cgroup() {
            reproduce::host_is_left_as_found_no_mount_and_no_sandbox_cgroup(reproduced());
        }
    };
}

/// The runtimes' tests, for a release whose `reproduce_tests!` names runtimes.
macro_rules! runtime_tests {
    () => {
        #[test]
        fn every_runtime_creates_a_healthy_container_whose_limits_read_back() {
            reproduce::every_runtime_creates_a_healthy_container_whose_limits_read_back(
                reproduced(),
            );
        }

        #[test]
        fn patched_every_runtime_keeps_creating_containers_past_the_edge() {
            reproduce::patched_every_runtime_keeps_creating_containers_past_the_edge(reproduced());
        }

        #[test]
        fn stock_sdbus_cgroup_beside_every_runtime_is_bounded_by_its_deadline() {
            reproduce::stock_sdbus_cgroup_beside_every_runtime_is_bounded_by_its_deadline(
                reproduced(),
            );
        }

        #[test]
        fn stock_daemon_reexec_keeps_every_runtimes_container_and_the_runtime_works_again() {
            reproduce::stock_daemon_reexec_keeps_every_runtimes_container_and_the_runtime_works_again(
                reproduced(),
            );
        }

        #[test]
        fn every_process_the_runtimes_started_is_gone() {
            reproduce::every_process_the_runtimes_started_is_gone(reproduced());
        }
    };
}
