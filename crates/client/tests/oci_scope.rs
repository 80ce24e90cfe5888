//! The `oci_scope` example against a real systemd in a sandbox: a bundle's config.json
//! in, a scope with its limits out (read back from the host's cgroup files), the
//! unconverted fields listed, and nothing left once its standard input closes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use sdbus_cgroup::CgroupMode;

/// The example binary, built by `cargo test` next to this test's executable.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join("examples").join("oci_scope");
    assert!(path.exists(), "{} not built", path.display());
    path
}

/// The first whole-disk block device of this host, as (major, minor).
fn a_disk() -> (u32, u32) {
    for e in std::fs::read_dir("/sys/dev/block")
        .expect("/sys/dev/block")
        .flatten()
    {
        let uevent = std::fs::read_to_string(e.path().join("uevent")).unwrap_or_default();
        if uevent.lines().any(|l| l == "DEVTYPE=disk") {
            let name = e.file_name().to_string_lossy().into_owned();
            let (a, b) = name.split_once(':').unwrap();
            return (a.parse().unwrap(), b.parse().unwrap());
        }
    }
    panic!("this test needs a block device (none in /sys/dev/block)");
}

/// The bundle's folder, removed when dropped: also when the test fails half-way.
struct BundleDir(std::path::PathBuf);

impl BundleDir {
    fn new() -> BundleDir {
        let dir = std::env::temp_dir().join(format!("sdbus-cgroup-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        BundleDir(dir)
    }
}

impl Drop for BundleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn oci_scope_example_starts_a_scope_with_the_bundles_limits_and_cleans_up() {
    let sb = boot();
    let mode = mode(&sb);
    let (major, minor) = a_disk();
    let bundle_dir = BundleDir::new();
    let bundle = &bundle_dir.0;
    let config = format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{ "args": ["sh"], "cwd": "/", "user": {{ "uid": 0, "gid": 0 }} }},
  "root": {{ "path": "rootfs" }},
  "linux": {{
    "cgroupsPath": "system.slice:ocitest:c1",
    "resources": {{
      "memory": {{ "limit": 67108864 }},
      "cpu": {{ "shares": 512, "quota": 20000, "period": 100000 }},
      "pids": {{ "limit": 33 }},
      "blockIO": {{ "throttleReadBpsDevice": [{{ "major": {major}, "minor": {minor}, "rate": 1048576 }}] }},
      "hugepageLimits": [{{ "pageSize": "2MB", "limit": 0 }}]
    }}
  }}
}}"#
    );
    std::fs::write(bundle.join("config.json"), config).unwrap();

    let mut child = sb
        .command(example())
        .arg(bundle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning oci_scope in the sandbox");
    let mut lines = BufReader::new(child.std_child_mut().stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("oci_scope ended early").unwrap();
    let cgroup_line = next();
    let cg = cgroup_line
        .strip_prefix("cgroup: ")
        .unwrap_or_else(|| panic!("first line: {cgroup_line:?}"))
        .to_owned();
    assert_eq!(cg, "/system.slice/ocitest-c1.scope");
    assert_eq!(
        next(),
        "unconverted: linux.resources.hugepageLimits[0] = 2MB 0 (systemd has no hugetlb property)"
    );

    let read = |file: &str| {
        sb.read_cgroup_file(&cg, file)
            .unwrap_or_else(|e| panic!("reading {file} of {cg}: {e}"))
    };
    assert_eq!(read("pids.max"), "33");
    let throttle = format!("{major}:{minor} 1048576");
    if mode == CgroupMode::Unified {
        assert_eq!(read("memory.max"), "67108864");
        // 512 shares -> weight 59 (worked in resources.rs from runc's formula).
        assert_eq!(read("cpu.weight"), "59");
        // 20000/100000 -> 200000 µs per second -> cpu.max 20000 100000.
        assert_eq!(read("cpu.max"), "20000 100000");
        let io = read("io.max");
        assert!(
            io.contains(&format!("{major}:{minor} rbps=1048576")),
            "io.max: {io:?}"
        );
    } else {
        assert_eq!(read("memory.limit_in_bytes"), "67108864");
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_quota_us"), "20000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
        let bps = read("blkio.throttle.read_bps_device");
        assert!(
            bps.lines().any(|l| l == throttle),
            "read_bps_device: {bps:?}"
        );
    }

    // Closing its standard input stops the scope; it exits 0 and leaves nothing.
    child.std_child_mut().stdin.take().unwrap().flush().unwrap();
    let status = child.wait().expect("waiting for oci_scope");
    assert!(status.success(), "oci_scope exited {status:?}");
    let c = client(&sb, options(&sb));
    assert_eq!(c.unit_path("ocitest-c1.scope").unwrap(), None);
    assert!(scope_cgroups(&sb).is_empty(), "{:?}", scope_cgroups(&sb));
    drop(bundle_dir);
}
