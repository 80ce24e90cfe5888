//! `deploy/` end to end, on real components and on loopback only: a sandboxed systemd runs
//! the shipped `sdcookie-textfile.service`, which writes the doctor's gauges into a
//! textfile directory; a real node_exporter on 127.0.0.1 serves them; a real Prometheus
//! on 127.0.0.1 scrapes it, evaluates `deploy/prometheus/sdcookie-alerts.yml`, and its
//! HTTP API says which alerts fire. The shipped node-problem-detector command line runs
//! in the same sandbox.
//!
//! Each node state under test is a [`Target`]: how to boot the sandbox, what to do to its
//! systemd before the doctor runs, and what must come out (verdict, firing alerts). A new
//! state (a vulnerable systemd pushed to the edge with gdb, for instance) is one more
//! `Target` and one more `#[test]`, as the stock v241 at the edge is.
//!
//! Invariants: every server listens on 127.0.0.1 on a port the kernel just handed out,
//! is ended by its pid when the test ends (also when it panics), and every file the test
//! made is removed. A component that is missing (promtool, prometheus,
//! prometheus-node-exporter: `scripts/install-deps`; the `sdcookie` binary: `cargo build
//! --release -p sdcookie`) fails the test with that reason. Waits have a deadline that only
//! turns a hang into a failure; nothing here measures time.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sdbus_sandbox::{Sandbox, SandboxOptions};

/// Not a timing assertion: how long any wait may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(120);

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The paths in the shipped systemd units that the test points elsewhere.
const SHIPPED_BIN: &str = "/usr/local/bin/sdcookie";
const SHIPPED_TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";
const SHIPPED_NPD_BIN: &str = "/opt/sdcookie/bin/sdcookie";
const TEXTFILE: &str = "sdcookie.prom";
/// Where, inside the sandbox, the binary and the textfile directory go. The sandbox's /run
/// is its own tmpfs, which the shipped unit's PrivateTmp= and ProtectHome= leave visible
/// wherever the repository is checked out (under /tmp or /root, they would hide it).
const INSIDE: &str = "/run/sdcookie-e2e";

/// A node state the pipeline is run on.
struct Target {
    /// Names the scratch directory.
    name: &'static str,
    /// How to boot its systemd.
    options: fn() -> SandboxOptions,
    /// What to do to the booted systemd before the doctor runs.
    prepare: fn(&Sandbox),
    /// `sdcookie_doctor_verdict{verdict=...}` that must be 1 in the textfile.
    verdict: &'static str,
    /// The alerts that must be firing, and no other alert may be firing or pending.
    firing: &'static [&'static str],
}

/// Debian 12's systemd 252 as it is: the fix is in and the bus answers.
#[test]
fn healthy_systemd_252_exports_ok_and_no_alert_fires() {
    run_pipeline(&Target {
        name: "healthy-252",
        options: SandboxOptions::default,
        prepare: |_| {},
        verdict: "ok",
        firing: &[],
    });
}

/// systemd 252 with dbus-daemon stopped: systemd answers on its private socket, and the
/// bus's socket is gone. That is not the overflow signature (the bus never accepted the
/// connection), so the bus-unreachable alert fires through the whole chain, and the
/// overflow alert does not.
#[test]
fn systemd_252_with_bus_stopped_fires_the_bus_unreachable_alert() {
    run_pipeline(&Target {
        name: "bus-stopped-252",
        options: SandboxOptions::default,
        prepare: |sandbox| {
            let out = sandbox_run(
                sandbox,
                "systemctl",
                &["stop", "dbus.socket", "dbus.service"],
            );
            assert!(
                out.status.success(),
                "stop the bus: {}",
                sdbus_cookie_tests::show(&out)
            );
        },
        verdict: "critical",
        firing: &["SystemdBusUnreachable"],
    });
}

/// Stock upstream v241 (Debian 10's release, which has the cookie overflow) with its API-bus
/// cookie moved to 0xffffff00 by gdb on the live PID 1, as `sdcookie-lab reproduce` does: about
/// 250 cookies of headroom, far under 1 % of 2^32. The critical headroom alert must fire
/// through the whole chain, with its warning counterpart (the rules route by severity). The
/// sandbox's systemd is otherwise idle: between the doctor's two samples only the doctor's
/// own call moved the cookie, which it does not count, so there is no rate and no ETA alert.
#[test]
fn vulnerable_v241_at_the_edge_fires_the_critical_alerts() {
    run_pipeline(&Target {
        name: "edge-241",
        options: || SandboxOptions::default().systemd(sdbus_cookie_tests::pid1s("241").0),
        prepare: |sandbox| {
            let systemd = sdbus_cgroup::Client::new(
                sdbus_cgroup::Target::Address {
                    address: sandbox.bus_address(),
                    direct: false,
                },
                sdbus_cgroup::Options::default(),
            );
            sandbox
                .set_api_bus_cookie(0xffff_ff00, || {
                    // Any reply systemd sends on its bus makes it seal a message there.
                    let _ = systemd.unit_state("dbus.service", "ActiveState");
                })
                .unwrap_or_else(|e| panic!("move the cookie of the v241 PID 1: {e}"));
        },
        verdict: "critical",
        firing: &[
            "SystemdBusCookieHeadroomCritical",
            "SystemdBusCookieHeadroomLow",
        ],
    });
}

/// The bad-input rule of the textfile: a doctor that runs into its deadlines (peers that
/// accept and never answer) still replaces the file with a whole, valid report — verdict
/// unknown, no cookie gauges, a fresh timestamp — and leaves no temporary file; a target
/// it cannot write is exit 125 with one line on stderr.
#[test]
fn doctor_that_times_out_still_writes_a_whole_valid_textfile() {
    let scratch = Scratch::new("timeout");
    let dir = scratch.path.join("textfile");
    fs::create_dir(&dir).unwrap();
    let file = dir.join(TEXTFILE);
    fs::write(&file, "sdcookie_systemd_cookie 1\n").unwrap();
    let bus = scratch.path.join("bus");
    let private = scratch.path.join("private");
    let _silent_bus = std::os::unix::net::UnixListener::bind(&bus).unwrap();
    let _silent_private = std::os::unix::net::UnixListener::bind(&private).unwrap();
    // The doctor against those silent peers, writing its report to `output`.
    let doctor_into = |output: &Path| {
        sdbus_cookie_tests::run_with_deadline(
            Command::new(sdbus_cookie_tests::sdcookie())
                .args(["doctor", "--timeout", "1s", "--format", "prometheus"])
                .arg("--address")
                .arg(format!("unix:path={}", bus.display()))
                .arg("--private")
                .arg(&private)
                .arg("--output")
                .arg(output),
            HANG,
        )
    };
    let before = unix_now();
    let out = doctor_into(&file);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        sdbus_cookie_tests::show(&out)
    );
    assert!(
        out.stdout.is_empty(),
        "--output leaves stdout empty: {}",
        sdbus_cookie_tests::show(&out)
    );
    assert_eq!(entries(&dir), [TEXTFILE], "no temporary file is left");
    let text = fs::read_to_string(&file).unwrap();
    promtool_check_metrics(&text);
    let samples = parse_samples(&text);
    assert_eq!(
        samples[r#"sdcookie_doctor_verdict{verdict="unknown"}"#], 1.0,
        "{text}"
    );
    assert_eq!(samples["sdcookie_systemd_bus_responsive"], 0.0, "{text}");
    assert!(!samples.contains_key("sdcookie_systemd_cookie"), "{text}");
    assert!(
        samples["sdcookie_doctor_last_run_timestamp_seconds"] >= before,
        "{text}"
    );

    let out = doctor_into(&scratch.path.join("missing-dir").join(TEXTFILE));
    assert_eq!(
        out.status.code(),
        Some(125),
        "{}",
        sdbus_cookie_tests::show(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().count(),
        1,
        "{}",
        sdbus_cookie_tests::show(&out)
    );
    assert!(
        stderr.starts_with("sdcookie: error: cannot write "),
        "{}",
        sdbus_cookie_tests::show(&out)
    );
}

fn run_pipeline(target: &Target) {
    let scratch = Scratch::new(target.name);
    let inside_bin = format!("{INSIDE}/sdcookie");
    let inside_textfile_dir = format!("{INSIDE}/textfile");

    // The shipped units, pointed at the binary under test and a textfile directory in the
    // sandbox's own /run.
    let service = shipped_unit(
        "sdcookie-textfile.service",
        &[
            (SHIPPED_BIN, &inside_bin),
            (SHIPPED_TEXTFILE_DIR, &inside_textfile_dir),
        ],
    );
    let timer = shipped_unit("sdcookie-textfile.timer", &[]);
    let sandbox = Sandbox::boot(
        (target.options)()
            .unit("sdcookie-textfile.service", service)
            .unit("sdcookie-textfile.timer", timer),
    )
    .unwrap_or_else(|e| panic!("boot the sandbox: {e}"));
    // The host's view of the sandbox's /run: it goes away with the sandbox.
    let host_view = |inside: &str| PathBuf::from(format!("/proc/{}/root{inside}", sandbox.pid()));
    let textfile_dir = host_view(&inside_textfile_dir);
    fs::create_dir_all(&textfile_dir).unwrap();
    fs::copy(sdbus_cookie_tests::sdcookie(), host_view(&inside_bin)).unwrap();

    // The timer is not started (its runs would change the file while it is compared);
    // systemd must load it and see what it triggers.
    let out = sandbox_run(
        &sandbox,
        "systemctl",
        &[
            "show",
            "-p",
            "LoadState,Triggers",
            "sdcookie-textfile.timer",
        ],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.lines().any(|l| l == "LoadState=loaded")
            && shown
                .lines()
                .any(|l| l == "Triggers=sdcookie-textfile.service"),
        "the timer: {}",
        sdbus_cookie_tests::show(&out)
    );

    (target.prepare)(&sandbox);

    // The DaemonSet's two halves, as they run there (the host's PID namespace being the
    // sandbox's here): the doctor container's command line once (without `--every`, which
    // would run on) writes its report; then node-problem-detector's plugin from the shipped
    // monitor config relays it as NPD's user, which is not root.
    let npd = npd_rule();
    fs::create_dir_all(host_view(&npd.report_dir)).unwrap();
    let out = sandbox_run(&sandbox, &inside_bin, &npd.doctor_args);
    assert_eq!(
        out.status.code(),
        Some(npd_exit_code(target.verdict)),
        "the DaemonSet's doctor: {}",
        sdbus_cookie_tests::show(&out)
    );
    let mut relay = vec![
        format!("--reuid={}", npd.uid),
        format!("--regid={}", npd.gid),
        "--clear-groups".to_owned(),
        inside_bin.clone(),
    ];
    relay.extend(npd.args.iter().cloned());
    let out = sandbox_run(&sandbox, "setpriv", &relay);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(npd_exit_code(target.verdict)),
        "NPD plugin: {}",
        sdbus_cookie_tests::show(&out)
    );
    assert!(
        line.lines().count() == 1 && line.starts_with(&format!("{}: ", target.verdict)),
        "NPD plugin output: {}",
        sdbus_cookie_tests::show(&out)
    );

    // The doctor writes the textfile as the shipped service runs it.
    let before = unix_now();
    let out = sandbox_run(
        &sandbox,
        "systemctl",
        &["start", "sdcookie-textfile.service"],
    );
    let status = sandbox_run(
        &sandbox,
        "systemctl",
        &["show", "-p", "Result", "sdcookie-textfile.service"],
    );
    assert!(
        out.status.success(),
        "start the service: {}\n{}\nsystemd log:\n{}",
        sdbus_cookie_tests::show(&out),
        sdbus_cookie_tests::show(&status),
        sandbox.log()
    );
    // A warning, critical or unknown verdict is a report like ok (SuccessExitStatus=1 2).
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status_text.lines().any(|l| l == "Result=success"),
        "the service: {}",
        sdbus_cookie_tests::show(&status)
    );
    assert_eq!(
        entries(&textfile_dir),
        [TEXTFILE],
        "only the textfile, no temporary file"
    );
    let text = fs::read_to_string(textfile_dir.join(TEXTFILE)).unwrap();
    promtool_check_metrics(&text);
    let written = parse_samples(&text);
    assert_eq!(
        written.get(&format!(
            "sdcookie_doctor_verdict{{verdict=\"{}\"}}",
            target.verdict
        )),
        Some(&1.0),
        "verdict in the textfile:\n{text}"
    );
    assert!(
        written["sdcookie_doctor_last_run_timestamp_seconds"] >= before,
        "{text}"
    );

    // node_exporter serves exactly what the doctor wrote.
    let node_exporter = Server::start(&scratch, "prometheus-node-exporter", "/metrics", |port| {
        vec![
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults".into(),
            "--collector.textfile".into(),
            format!("--collector.textfile.directory={}", textfile_dir.display()),
        ]
    });
    let served = parse_samples(&node_exporter.get("/metrics"));
    for (series, value) in &written {
        assert_eq!(
            served.get(series),
            Some(value),
            "node_exporter serves {series} as the doctor wrote it"
        );
    }
    assert_eq!(served.get("node_textfile_scrape_error"), Some(&0.0));

    // Prometheus scrapes it and evaluates the shipped rules.
    let rules = Path::new(REPO).join("deploy/prometheus/sdcookie-alerts.yml");
    let config = scratch.path.join("prometheus.yml");
    fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            rules.display(),
            node_exporter.port
        ),
    )
    .unwrap();
    let data = scratch.path.join("prometheus-data");
    let prometheus = Server::start(&scratch, "prometheus", "/-/ready", |port| {
        vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ]
    });
    let seen = wait_for("Prometheus to have scraped the doctor's report", || {
        let v =
            prometheus.try_api("/api/v1/query?query=sdcookie_doctor_last_run_timestamp_seconds")?;
        let result = v["data"]["result"].as_array()?;
        let value: f64 = result.first()?["value"][1].as_str()?.parse().ok()?;
        (value == written["sdcookie_doctor_last_run_timestamp_seconds"]).then(unix_now)
    });
    // A rule evaluation that started after the sample was queryable has seen it.
    wait_for("a rule evaluation after the scrape", || {
        let own = parse_samples(&prometheus.try_get("/metrics")?);
        let last = own
            .iter()
            .find(|(k, _)| {
                k.starts_with("prometheus_rule_group_last_evaluation_timestamp_seconds{")
                    && k.contains(";sdcookie\"")
            })
            .map(|(_, v)| *v)?;
        (last > seen).then_some(())
    });

    let groups = prometheus.api("/api/v1/rules");
    let rules: Vec<&serde_json::Value> = groups["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(rules.len(), 9, "every shipped rule is loaded: {groups}");
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "rule evaluated without error: {rule}");
    }
    // {__name__=~"sdcookie_.*"}: every series the doctor wrote, with its value.
    let values = prometheus.api("/api/v1/query?query=%7B__name__%3D~%22sdcookie_.*%22%7D");
    let values = values["data"]["result"].as_array().unwrap();
    assert_eq!(
        values.len(),
        written.len(),
        "Prometheus has every series: {values:?}"
    );
    for sample in values {
        let series = series_key(&sample["metric"]);
        let value: f64 = sample["value"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(
            written.get(&series),
            Some(&value),
            "Prometheus has {series} as written"
        );
    }

    let alerts = prometheus.api("/api/v1/alerts");
    let mut firing: Vec<&str> = Vec::new();
    for alert in alerts["data"]["alerts"].as_array().unwrap() {
        assert_eq!(alert["state"], "firing", "no alert is pending: {alert}");
        assert_eq!(
            alert["labels"]["instance"],
            format!("127.0.0.1:{}", node_exporter.port),
            "{alert}"
        );
        firing.push(alert["labels"]["alertname"].as_str().unwrap());
    }
    firing.sort_unstable();
    assert_eq!(firing, target.firing, "firing alerts: {alerts}");

    drop(prometheus);
    drop(node_exporter);
    sandbox
        .shutdown()
        .unwrap_or_else(|e| panic!("sandbox teardown: {e}"));
}

/// A shipped unit file with each `(from, to)` replaced; every `from` must occur in it, so
/// a unit that changes its paths fails here instead of testing something else.
fn shipped_unit(name: &str, replace: &[(&str, &str)]) -> String {
    let path = Path::new(REPO).join("deploy/systemd").join(name);
    let mut text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replace {
        assert!(text.contains(from), "{name} no longer mentions {from}");
        text = text.replace(from, to);
    }
    text
}

/// The node-problem-detector rule and the DaemonSet's doctor that feeds it, checked
/// against each other: the plugin relays the file the doctor writes, as NPD's user.
struct NpdRule {
    /// The plugin's arguments (`relay ...`).
    args: Vec<String>,
    /// The doctor container's arguments without `--every DUR` (one run).
    doctor_args: Vec<String>,
    /// The directory the report is written to.
    report_dir: String,
    /// NPD's container user and group.
    uid: u64,
    gid: u64,
}

fn npd_rule() -> NpdRule {
    let path = Path::new(REPO).join("deploy/node-problem-detector/sdcookie-monitor.json");
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let rules = config["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{config}");
    let rule = &rules[0];
    assert_eq!(rule["path"], SHIPPED_NPD_BIN, "{rule}");
    assert_eq!(
        rule["condition"], config["conditions"][0]["type"],
        "the rule sets the declared condition"
    );
    let args = sdbus_cookie_tests::strings(&rule["args"]);
    let ds = sdbus_cookie_tests::daemonset();
    let doctor = sdbus_cookie_tests::strings(
        &sdbus_cookie_tests::daemonset_container(&ds, "doctor")["command"],
    );
    let npd = sdbus_cookie_tests::daemonset_container(&ds, "node-problem-detector");
    let flag = |args: &[String], name: &str| {
        let i = args
            .iter()
            .position(|a| a == name)
            .unwrap_or_else(|| panic!("{name} missing in {args:?}"));
        args[i + 1].clone()
    };
    let report = flag(&doctor, "--output");
    assert_eq!(args.first().map(String::as_str), Some("relay"), "{args:?}");
    assert_eq!(
        args.last(),
        Some(&report),
        "the plugin relays the doctor's file"
    );
    // A healthy doctor replaces the file at least every `--every` plus one run, at most
    // 3 x --timeout + --interval (its documented bound); the relay must believe that file
    // and NPD must not kill the relay, whose work is one small read.
    let bound = 3 * seconds(&flag(&doctor, "--timeout")) + seconds(&flag(&doctor, "--interval"));
    let every = seconds(&flag(&doctor, "--every"));
    let max_age = seconds(&flag(&args, "--max-age"));
    let rule_timeout = seconds(rule["timeout"].as_str().unwrap());
    let plugin_timeout = seconds(config["pluginConfig"]["timeout"].as_str().unwrap());
    let interval = seconds(config["pluginConfig"]["invoke_interval"].as_str().unwrap());
    assert!(
        every + bound < max_age && rule_timeout <= plugin_timeout && plugin_timeout < interval,
        "doctor every {every}s + bound {bound}s < max age {max_age}s; rule timeout \
         {rule_timeout}s <= plugin timeout {plugin_timeout}s < invoke interval {interval}s"
    );
    let i = doctor.iter().position(|a| a == "--every").unwrap();
    let doctor_args = doctor[1..i]
        .iter()
        .chain(&doctor[i + 2..])
        .cloned()
        .collect();
    let security = &npd["securityContext"];
    let uid = security["runAsUser"].as_u64().expect("NPD's runAsUser");
    assert_ne!(uid, 0, "NPD runs as root");
    NpdRule {
        args,
        doctor_args,
        report_dir: Path::new(&report)
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
        uid,
        gid: security["runAsGroup"].as_u64().expect("NPD's runAsGroup"),
    }
}

/// node-problem-detector's custom-plugin protocol: 0 ok, 1 problem, 2 unknown.
fn npd_exit_code(verdict: &str) -> i32 {
    match verdict {
        "ok" => 0,
        "warning" | "critical" => 1,
        "unknown" => 2,
        other => panic!("verdict {other:?}"),
    }
}

/// `30s`, `1m`, `5m` → seconds (the forms the shipped config uses).
fn seconds(d: &str) -> u64 {
    let (n, unit) = d.split_at(d.len() - 1);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {d:?}"));
    match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => panic!("duration {d:?}"),
    }
}

/// `promtool check metrics` on a textfile: valid exposition format, no lint problems.
fn promtool_check_metrics(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run promtool (scripts/install-deps installs it): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n--- input\n{text}",
        sdbus_cookie_tests::show(&out)
    );
}

/// Samples of a Prometheus text exposition, keyed `name{labels as written}`.
fn parse_samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("line {l:?}"));
            let value = value.parse().unwrap_or_else(|_| panic!("value in {l:?}"));
            (series.to_owned(), value)
        })
        .collect()
}

/// The key [`parse_samples`] gives a series that Prometheus' API returns as a label map,
/// without the labels the scrape added.
fn series_key(metric: &serde_json::Value) -> String {
    let map = metric.as_object().unwrap();
    let name = map["__name__"].as_str().unwrap();
    let labels: Vec<String> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "instance" | "job"))
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap()))
        .collect();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

/// Runs `program` inside the sandbox and collects its output; a hang fails the test.
fn sandbox_run(sandbox: &Sandbox, program: &str, args: &[impl AsRef<str>]) -> Output {
    let mut cmd = sandbox.command(program);
    cmd.args(args.iter().map(AsRef::as_ref));
    // nsenter itself, which waits for the command and exits with its status (the
    // sandbox's own spawn() looks for the forked pid, which a quick command may not
    // leave time for).
    sdbus_cookie_tests::run_with_deadline(cmd.as_std_mut(), HANG)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Polls `probe` until it yields a value; a hang guard, not a timing assertion.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A directory of this test's own under Cargo's scratch area, removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("deploy-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("remove {}: {e}", self.path.display());
        }
    }
}

/// A server started on a free port of 127.0.0.1, ended by its pid on drop.
struct Server {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Server {
    /// Starts `program` with the arguments `args(port)` and waits until `ready` answers
    /// 200. The port is free when the kernel hands it out; should another process take it
    /// before the server binds, the server exits and the next port is tried.
    fn start(
        scratch: &Scratch,
        program: &'static str,
        ready: &str,
        args: impl Fn(u16) -> Vec<String>,
    ) -> Server {
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let log = scratch.path.join(format!("{program}-{port}.log"));
            let child = Command::new(program)
                .args(args(port))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("start {program} (scripts/install-deps installs it): {e}")
                });
            let mut server = Server {
                name: program,
                port,
                child,
            };
            let deadline = Instant::now() + HANG;
            loop {
                if let Some(status) = server.child.try_wait().unwrap() {
                    eprintln!(
                        "{program} on port {port} exited ({status}): {}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                if server.try_get(ready).is_some() {
                    return server;
                }
                assert!(
                    Instant::now() < deadline,
                    "{program} did not answer on 127.0.0.1:{port}: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("{program} could not start on three free ports");
    }

    /// The body of a 200 answer; `None` for anything else (not up yet, not ready).
    fn try_get(&self, path: &str) -> Option<String> {
        match http_get(self.port, path) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    fn get(&self, path: &str) -> String {
        match http_get(self.port, path) {
            Ok((200, body)) => body,
            other => panic!("{} GET {path}: {other:?}", self.name),
        }
    }

    /// A Prometheus API answer with status success, or `None` while it is not there yet.
    fn try_api(&self, path: &str) -> Option<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&self.try_get(path)?).ok()?;
        (v["status"] == "success").then_some(v)
    }

    fn api(&self, path: &str) -> serde_json::Value {
        let body = self.get(path);
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{} GET {path}: not JSON ({e}): {body}", self.name));
        assert_eq!(v["status"], "success", "{} GET {path}: {v}", self.name);
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this pid only; then reap it.
        if let Err(e) = self.child.kill() {
            eprintln!("kill {} ({}): {e}", self.name, self.child.id());
        }
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 GET on 127.0.0.1 (the server closes the connection after the body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("status line {head:?}")))?;
    Ok((status, body.to_owned()))
}
