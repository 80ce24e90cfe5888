//! End-to-end tests of `sdcookie-lab`, run as a user would run it, and of the operator's
//! `sdcookie` (doctor, scope) against a real systemd: inside `sdcookie-lab sandbox -- ...`.
//! They need root, as CI has; without it they fail with the sandbox's reason, they do not
//! skip. `demo` runs the doctor from the `sdcookie` beside `sdcookie-lab`, so that binary is
//! built first, with the same cargo and profile (cargo builds only this package's binaries
//! for its tests).

mod sdcookie_bin;

use sdbus_test_support::run::{self as support, Run};
use sdcookie::report::{ProbeErrorKind, Report, Verdict};

const LAB: &str = env!("CARGO_BIN_EXE_sdcookie-lab");

/// The operator's binary beside `sdcookie-lab`, built once per test binary.
fn sdcookie() -> String {
    sdcookie_bin::sdcookie(LAB)
}

fn run(args: &[&str]) -> Run {
    if args.first() == Some(&"demo") {
        sdcookie();
    }
    support::run(LAB, args)
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let usage = |args: &[&str], mentions| support::assert_usage_error(LAB, args, mentions);
    usage(&["sandbox"], "<CMD>");
    usage(&["demo", "--systemd"], "--systemd");
    usage(&["reproduce", "--release", "237"], "237");
    usage(&["reproduce", "--cookie", "1"], "between 2 and 0xfffffffd");
    usage(&["reproduce", "--stock", "/x"], "--patched");
    // The doctor is the operator's binary, not this one's.
    usage(&["doctor"], "doctor");
}

#[test]
fn help_documents_exit_codes() {
    let r = run(&["--help"]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.contains("Exit codes:"), "{}", r.context());
    let r = run(&["reproduce", "--help"]);
    assert!(
        r.stdout
            .contains("0 every claim held, 1 a claim did not hold"),
        "{}",
        r.context()
    );
}

/// Without the operator's binary beside it, demo and reproduce stop before booting
/// anything, naming the path they looked at and how to build it.
#[test]
fn without_sdcookie_beside_it_demo_and_reproduce_say_where_and_how_to_build() {
    let dir = std::env::temp_dir().join(format!("sdcookie-lab-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alone = dir.join("sdcookie-lab");
    std::fs::copy(LAB, &alone).unwrap();
    let expected = format!("{}: no such file", dir.join("sdcookie").display());
    let alone = alone.to_str().unwrap();
    let demo = support::run(alone, &["demo"]);
    let reproduce = support::run(alone, &["reproduce", "--stock", "/x", "--patched", "/y"]);
    std::fs::remove_dir_all(&dir).unwrap();
    for (r, code) in [(demo, 1), (reproduce, 125)] {
        assert_eq!(r.code, Some(code), "{}", r.context());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.context());
        assert!(r.stderr.contains(&expected), "{}", r.context());
        assert!(
            r.stderr.contains("cargo build --release -p sdcookie"),
            "{}",
            r.context()
        );
    }
}

#[test]
fn doctor_in_sandbox_reads_a_rising_cookie_and_says_ok() {
    let bin = sdcookie();
    let script = format!("{bin} doctor --format json && {bin} doctor --format json");
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    let reports: Vec<Report> = serde_json::Deserializer::from_str(&r.stdout)
        .into_iter::<Report>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(reports.len(), 2, "{}", r.context());
    // The type is the format: two real reports, read back and written again, are the same
    // bytes the doctor printed.
    let again: String = reports
        .iter()
        .map(|v| serde_json::to_string_pretty(v).unwrap() + "\n")
        .collect();
    assert_eq!(
        again, r.stdout,
        "the JSON report round-trips through Report"
    );
    let cookie = |v: &Report| v.cookie.expect("the bus answered with a cookie");
    for v in &reports {
        assert!(cookie(v) > 0, "{v:?}");
        assert!(cookie(v) < 0xffff_ffff, "{v:?}");
        assert_eq!(v.ceiling, 0xffff_ffff, "{v:?}");
        assert_eq!(v.headroom, Some(0xffff_ffff - cookie(v)), "{v:?}");
        assert!(v.bus_responsive, "{v:?}");
        assert!(v.private_responsive, "{v:?}");
        assert!(v.systemd_version.unwrap() >= 242, "{v:?}");
        assert_eq!(v.vulnerable, Some(false), "{v:?}");
        assert_eq!(v.cycled, Some(false), "{v:?}");
        assert_eq!(v.verdict, Verdict::Ok, "{v:?}");
    }
    assert!(cookie(&reports[1]) > cookie(&reports[0]), "{}", r.context());
}

#[test]
fn doctor_interval_reports_rate_and_prometheus_format() {
    let bin = sdcookie();
    let script = format!("{bin} doctor --interval 200ms --format prometheus");
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    for metric in [
        "\nsdcookie_systemd_cookie ",
        "\nsdcookie_systemd_cookie_rate_per_second ",
        "\nsdcookie_systemd_private_responsive 1\n",
        "\nsdcookie_doctor_verdict{verdict=\"ok\"} 1\n",
    ] {
        assert!(
            r.stdout.contains(metric),
            "missing {metric:?}: {}",
            r.context()
        );
    }
}

#[test]
fn scope_run_sets_limits_in_cgroup_files_and_passes_status() {
    let bin = sdcookie();
    // Inside the sandbox the command reads its own scope's cgroup files (v1 or v2 layout),
    // exits 3; afterwards the unit must be gone. (No single quotes: it goes inside '...'.)
    let probe = r#"
cg=/sys/fs/cgroup; s=system.slice/sdc-t1.scope
grep -q sdc-t1.scope /proc/self/cgroup && echo inscope
if [ -d $cg/memory ]; then
  echo "mem=$(cat $cg/memory/$s/memory.limit_in_bytes)"
  echo "pids=$(cat $cg/pids/$s/pids.max)"
  echo "quota=$(cat $cg/cpu/$s/cpu.cfs_quota_us)"
  [ "$(cat $cg/cpu/$s/cpu.shares)" = 2048 ] && echo cpuweight=ok
else
  echo "mem=$(cat $cg/$s/memory.max)"
  echo "pids=$(cat $cg/$s/pids.max)"
  read quota period < $cg/$s/cpu.max; echo "quota=$quota"
  [ "$(cat $cg/$s/cpu.weight)" = 200 ] && echo cpuweight=ok
fi
exit 3"#;
    let script = format!(
        "{bin} scope run --name sdc-t1 --memory-max 64M --tasks-max 7 --cpu-quota 50% --cpu-weight 200 --timeout 20s -- sh -c '{probe}'; \
         echo status=$?; systemctl show -p LoadState sdc-t1.scope"
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    r.assert_lines(&[
        "inscope",
        "mem=67108864",
        "pids=7",
        "quota=50000",
        "status=3",
        "LoadState=not-found",
    ]);
}

/// A scope's Description is world-readable and written into its unit file: argv (which
/// may hold secrets, or a newline) is not put there.
#[test]
fn scope_run_keeps_argv_out_of_the_description() {
    let bin = sdcookie();
    let script = format!(
        "{bin} scope run --name sdc-desc --timeout 20s -- sh -c 'systemctl show -p Description sdc-desc.scope; : SECRET-TOKEN'"
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    r.assert_lines(&["Description=a command run by sdcookie scope run"]);
    assert!(!r.stdout.contains("SECRET-TOKEN"), "{}", r.context());
}

#[test]
fn scope_run_of_a_missing_command_is_127_and_leaves_no_unit() {
    let bin = sdcookie();
    let script = format!(
        "{bin} scope run --name sdc-t2 -- /nonexistent/cmd; echo status=$?; systemctl show -p LoadState sdc-t2.scope"
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.contains("status=127"), "{}", r.context());
    assert!(r.stdout.contains("LoadState=not-found"), "{}", r.context());
    assert!(r.stderr.contains("command not found"), "{}", r.context());
}

#[test]
fn sandbox_passes_exit_status_through() {
    let r = run(&[
        "sandbox",
        "--",
        "sh",
        "-c",
        "test -S /run/systemd/private && exit 42",
    ]);
    assert_eq!(r.code, Some(42), "{}", r.context());
    let r = run(&["sandbox", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(r.code, Some(128 + 9), "{}", r.context());
}

#[test]
fn demo_shows_everything_and_exits_0() {
    let r = run(&["demo"]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    for needle in [
        "[4/4]",
        "0x80000000",
        "0x80000003",
        "Summary",
        "as set",
        "verdict ok",
    ] {
        assert!(
            r.stdout.contains(needle),
            "demo output lacks {needle:?}: {}",
            r.context()
        );
    }
}

#[test]
fn scope_update_and_stop_act_on_a_running_scope() {
    let bin = sdcookie();
    // `scope run` in the background; wait until systemd has the unit; update; read back;
    // stop: the command is killed (SIGTERM, 143) and the unit is gone.
    let probe = r#"
cg=/sys/fs/cgroup; s=system.slice/sdc-u1.scope
i=0; until systemctl is-active -q sdc-u1.scope || [ $i -ge 300 ]; do i=$((i+1)); sleep 0.1; done
BIN scope update sdc-u1 --memory-max 128M --tasks-max 9; echo update=$?
if [ -d $cg/memory ]; then
  echo "mem=$(cat $cg/memory/$s/memory.limit_in_bytes)"; echo "pids=$(cat $cg/pids/$s/pids.max)"
else
  echo "mem=$(cat $cg/$s/memory.max)"; echo "pids=$(cat $cg/$s/pids.max)"
fi
BIN scope stop sdc-u1; echo stop=$?
wait $run; echo run=$?
systemctl show -p LoadState sdc-u1.scope
"#;
    let script = format!(
        "{bin} scope run --name sdc-u1 --memory-max 64M -- sleep 600 & run=$!\n{}",
        probe.replace("BIN", &bin)
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    r.assert_lines(&[
        "update=0",
        "mem=134217728",
        "pids=9",
        "stop=0",
        "run=143",
        "LoadState=not-found",
    ]);
}

/// The bus goes away while systemd itself is fine: the private socket still answers, so the
/// doctor says `critical` (exit 1), but the bus's socket is gone, which is a connect failure
/// and not the overflow signature: it points at dbus-daemon, not at daemon-reexec.
#[test]
fn doctor_with_bus_down_and_private_up_is_critical() {
    let bin = sdcookie();
    let script = format!(
        "systemctl stop dbus.socket dbus.service; {bin} doctor --timeout 2s --format json; echo rc=$?"
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.lines().any(|l| l == "rc=1"), "{}", r.context());
    let json = &r.stdout[..r.stdout.rfind("rc=").unwrap()];
    let v: Report = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(
        serde_json::to_string_pretty(&v).unwrap() + "\n",
        json,
        "the JSON report round-trips through Report"
    );
    assert_eq!(v.verdict, Verdict::Critical, "{v:?}");
    assert!(!v.bus_responsive, "{v:?}");
    assert!(v.private_responsive, "{v:?}");
    assert!(!v.bus_reachable, "{v:?}");
    assert_eq!(
        v.bus_error_kind,
        Some(ProbeErrorKind::ConnectFailed),
        "{v:?}"
    );
    assert!(v.message.contains("dbus-daemon"), "{v:?}");
    assert!(!v.message.contains("daemon-reexec"), "{v:?}");
}
