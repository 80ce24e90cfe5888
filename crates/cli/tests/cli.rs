//! End-to-end tests of the `sdcookie` binary, run as a user would run it. Tests that need
//! systemd boot the real one in a sandbox (`sdcookie sandbox -- ...`): they need root, as
//! CI has; without it they fail with the sandbox's reason, they do not skip.

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sdcookie");

/// Not a timing assertion: a guard so that a hang fails the test instead of CI.
const HANG: Duration = Duration::from_secs(180);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Each of `lines` is a whole line of stdout.
    fn assert_lines(&self, lines: &[&str]) {
        for line in lines {
            assert!(
                self.stdout.lines().any(|l| l == *line),
                "no line {line:?}: {}",
                self.context()
            );
        }
    }

    fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(args: &[&str]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sdcookie");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sdcookie {args:?} hung for {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Bad input is exit 2 with exactly one line on stderr and nothing on stdout.
fn assert_usage_error(args: &[&str], mentions: &str) {
    let r = run(args);
    assert_eq!(r.code, Some(2), "{args:?}: {}", r.context());
    assert!(r.stdout.is_empty(), "{args:?}: {}", r.context());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {}", r.context());
    assert!(
        lines[0].starts_with("sdcookie: error: "),
        "{args:?}: {}",
        r.context()
    );
    assert!(
        lines[0].contains(mentions),
        "{args:?}: {:?} does not mention {mentions:?}",
        lines[0]
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let scope = |extra: &[&'static str]| {
        let mut v = vec!["scope", "run", "--name", "t"];
        v.extend_from_slice(extra);
        v
    };
    assert_usage_error(
        &scope(&["--memory-max", "10X", "--", "true"]),
        "unknown size suffix 'X'",
    );
    assert_usage_error(
        &scope(&["--memory-high", "1MB", "--", "true"]),
        "unknown size suffix 'MB'",
    );
    assert_usage_error(&scope(&["--tasks-max", "0", "--", "true"]), "zero tasks");
    assert_usage_error(
        &scope(&["--allowed-cpus", "", "--", "true"]),
        "CPU list is empty",
    );
    assert_usage_error(
        &scope(&["--cpu-weight", "0", "--", "true"]),
        "outside 1..=10000",
    );
    assert_usage_error(&scope(&[]), "<CMD>");
    assert_usage_error(&["sandbox"], "<CMD>");
    assert_usage_error(&["doctor", "--interval", "5y"], "unknown duration unit 'y'");
    assert_usage_error(&["doctor", "--format", "xml"], "xml");
    assert_usage_error(
        &["scope", "run", "--name", "a b", "--", "true"],
        "not a valid unit name",
    );
    assert_usage_error(&["scope", "update", "t"], "at least one limit");
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn help_documents_exit_codes() {
    let r = run(&["--help"]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.contains("Exit codes:"), "{}", r.context());
    let r = run(&["doctor", "--help"]);
    assert!(r.stdout.contains("0 ok, 1 problem"), "{}", r.context());
}

#[test]
fn doctor_without_systemd_is_unknown_exit_2() {
    let r = run(&[
        "doctor",
        "--address",
        "unix:path=/nonexistent",
        "--private",
        "/nonexistent",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.context());
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["bus_responsive"], false);
    assert_eq!(v["private_responsive"], false);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("no systemd reachable"));

    let r = run(&[
        "doctor",
        "--address",
        "unix:path=/nonexistent",
        "--private",
        "/nonexistent",
        "--npd",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.context());
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.context());
    assert!(r.stdout.starts_with("unknown: "), "{}", r.context());
}

/// A peer that accepts connections and never says a word: the doctor must give up at its
/// deadline (unknown, exit 2) instead of waiting forever, on both sockets.
#[test]
fn doctor_against_a_silent_peer_gives_up_at_its_deadline() {
    let dir = std::env::temp_dir().join(format!("sdcookie-silent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bus = dir.join("bus");
    let private = dir.join("private");
    let _ = std::fs::remove_file(&bus);
    let _ = std::fs::remove_file(&private);
    let _l1 = UnixListener::bind(&bus).unwrap();
    let _l2 = UnixListener::bind(&private).unwrap();
    let address = format!("unix:path={}", bus.display());
    let r = run(&[
        "doctor",
        "--address",
        &address,
        "--private",
        private.to_str().unwrap(),
        "--timeout",
        "1s",
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, Some(2), "{}", r.context());
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(v["verdict"], "unknown");
    assert!(
        v["bus_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1s"),
        "{}",
        r.context()
    );
    assert!(
        v["private_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1s"),
        "{}",
        r.context()
    );
}

#[test]
fn doctor_in_sandbox_reads_a_rising_cookie_and_says_ok() {
    let script = format!("{BIN} doctor --format json && {BIN} doctor --format json");
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    let reports: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&r.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(reports.len(), 2, "{}", r.context());
    let cookie = |v: &serde_json::Value| v["cookie"].as_u64().expect("cookie is a number");
    for v in &reports {
        assert!(cookie(v) > 0, "{v}");
        assert!(cookie(v) < 0xffff_ffff, "{v}");
        assert_eq!(v["ceiling"], 0xffff_ffffu64, "{v}");
        assert_eq!(v["headroom"].as_u64(), Some(0xffff_ffff - cookie(v)), "{v}");
        assert_eq!(v["bus_responsive"], true, "{v}");
        assert_eq!(v["private_responsive"], true, "{v}");
        assert!(v["systemd_version"].as_u64().unwrap() >= 242, "{v}");
        assert_eq!(v["vulnerable"], false, "{v}");
        assert_eq!(v["cycled"], false, "{v}");
        assert_eq!(v["verdict"], "ok", "{v}");
    }
    assert!(cookie(&reports[1]) > cookie(&reports[0]), "{}", r.context());
}

#[test]
fn doctor_interval_reports_rate_and_prometheus_format() {
    let script = format!("{BIN} doctor --interval 200ms --format prometheus");
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
        "{BIN} scope run --name sdc-t1 --memory-max 64M --tasks-max 7 --cpu-quota 50% --cpu-weight 200 --timeout 20s -- sh -c '{probe}'; \
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

#[test]
fn scope_run_of_a_missing_command_is_127_and_leaves_no_unit() {
    let script = format!(
        "{BIN} scope run --name sdc-t2 -- /nonexistent/cmd; echo status=$?; systemctl show -p LoadState sdc-t2.scope"
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
        "{BIN} scope run --name sdc-u1 --memory-max 64M -- sleep 600 & run=$!\n{}",
        probe.replace("BIN", BIN)
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
/// doctor says `critical` (exit 1) and, on a fixed systemd, points at dbus-daemon.
#[test]
fn doctor_with_bus_down_and_private_up_is_critical() {
    let script = format!(
        "systemctl stop dbus.socket dbus.service; {BIN} doctor --timeout 2s --format json; echo rc=$?"
    );
    let r = run(&["sandbox", "--", "sh", "-c", &script]);
    assert_eq!(r.code, Some(0), "{}", r.context());
    assert!(r.stdout.lines().any(|l| l == "rc=1"), "{}", r.context());
    let json = &r.stdout[..r.stdout.rfind("rc=").unwrap()];
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {}", r.context()));
    assert_eq!(v["verdict"], "critical", "{v}");
    assert_eq!(v["bus_responsive"], false, "{v}");
    assert_eq!(v["private_responsive"], true, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("dbus-daemon"),
        "{v}"
    );
}

/// No systemd: `scope run` fails with 125 and one line, and the command never runs.
#[test]
fn scope_run_without_systemd_is_125_and_never_runs_the_command() {
    let marker = std::env::temp_dir().join(format!("sdcookie-never-{}", std::process::id()));
    let marker = marker.to_str().unwrap();
    let r = run(&[
        "scope",
        "run",
        "--address",
        "unix:path=/nonexistent",
        "--timeout",
        "2s",
        "--name",
        "x",
        "--",
        "touch",
        marker,
    ]);
    assert_eq!(r.code, Some(125), "{}", r.context());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.context());
    assert!(
        r.stderr
            .starts_with("sdcookie: error: connecting to unix:path=/nonexistent"),
        "{}",
        r.context()
    );
    assert!(!std::path::Path::new(marker).exists(), "the command ran");
}
