//! IO bandwidth/IOPS limits, per-device IO weights and major:minor device rules against a
//! real systemd in a sandbox: what systemd reports back over D-Bus and what it wrote to
//! the host's cgroup files (this host's layout; the unified names are checked in
//! `unified_properties.rs`).

mod common;

use common::*;
use sdbus_cgroup::{CgroupMode, DeviceAllow, DevicePolicy, IoDeviceLimit, Resources, Scope};

/// The first whole disk of this host: its /dev node and MAJ:MIN.
fn a_disk() -> (String, String) {
    for e in std::fs::read_dir("/sys/dev/block")
        .expect("/sys/dev/block")
        .flatten()
    {
        let uevent = std::fs::read_to_string(e.path().join("uevent")).unwrap_or_default();
        if uevent.lines().any(|l| l == "DEVTYPE=disk") {
            let name = uevent
                .lines()
                .find_map(|l| l.strip_prefix("DEVNAME="))
                .expect("DEVNAME");
            return (
                format!("/dev/{name}"),
                e.file_name().to_string_lossy().into_owned(),
            );
        }
    }
    panic!("this test needs a block device (none in /sys/dev/block)");
}

#[test]
fn io_limits_and_device_rules_land_over_dbus_and_in_host_cgroup_files() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let (dev, majmin) = a_disk();
    let mut child = sleeper(&sb);
    let unit = "io.scope";
    let mut scope = Scope::new(unit, vec![child.pid()]);
    scope.resources = Resources::new()
        .io_read_bps(vec![IoDeviceLimit::new(&dev, 1 << 20)])
        .io_write_bps(vec![IoDeviceLimit::new(&dev, 2 << 20)])
        .io_read_iops(vec![IoDeviceLimit::new(&dev, 100)])
        .io_write_iops(vec![IoDeviceLimit::new(&dev, 200)])
        .blkio_weight_device(vec![IoDeviceLimit::new(&dev, 500)])
        .device_policy(DevicePolicy::Strict)
        .device_allow(vec![
            DeviceAllow::new("/dev/char/1:3", "rw"),
            DeviceAllow::new("char-136", "rwm"),
        ]);
    let started = c.start_scope(&scope).expect("start_scope");
    let cg = c.control_group(unit).unwrap();
    let read = |file: &str| {
        sb.read_cgroup_file(&cg, file)
            .unwrap_or_else(|e| panic!("reading {file} of {cg}: {e}"))
    };
    if c.cgroup_mode() == CgroupMode::Unified {
        assert!(started.skipped.is_empty(), "{:?}", started.skipped);
        assert_eq!(
            pairs(&c, unit, "IOReadBandwidthMax"),
            [(dev.clone(), 1 << 20)]
        );
        assert_eq!(pairs(&c, unit, "IOWriteIOPSMax"), [(dev.clone(), 200)]);
        // blkio 500 -> io 4950 (runc's ConvertBlkIOToIOWeightValue, worked by hand).
        assert_eq!(pairs(&c, unit, "IODeviceWeight"), [(dev.clone(), 4950)]);
        let io = read("io.max");
        assert!(
            io.contains(&format!(
                "{majmin} rbps=1048576 wbps=2097152 riops=100 wiops=200"
            )),
            "io.max: {io:?}"
        );
    } else {
        // systemd has no IOPS limit on cgroup v1: reported, not silently dropped.
        let skipped: Vec<_> = started.skipped.iter().map(|s| s.property).collect();
        assert_eq!(skipped, ["IOReadIOPSMax", "IOWriteIOPSMax"]);
        assert_eq!(
            pairs(&c, unit, "BlockIOReadBandwidth"),
            [(dev.clone(), 1 << 20)]
        );
        assert_eq!(
            pairs(&c, unit, "BlockIOWriteBandwidth"),
            [(dev.clone(), 2 << 20)]
        );
        assert_eq!(pairs(&c, unit, "BlockIODeviceWeight"), [(dev.clone(), 500)]);
        let r = read("blkio.throttle.read_bps_device");
        assert!(
            r.lines().any(|l| l == format!("{majmin} 1048576")),
            "read_bps_device: {r:?}"
        );
        let w = read("blkio.throttle.write_bps_device");
        assert!(
            w.lines().any(|l| l == format!("{majmin} 2097152")),
            "write_bps_device: {w:?}"
        );
        // systemd 252 parses /dev/char/M:m and char-M from the string (>= 240).
        let devices = read("devices.list");
        assert!(
            devices.lines().any(|l| l == "c 1:3 rw"),
            "devices.list: {devices:?}"
        );
        assert!(
            devices.lines().any(|l| l == "c 136:* rwm"),
            "devices.list: {devices:?}"
        );
    }
    let mut allow: Vec<(String, String)> = c
        .cgroup_property(unit, "DeviceAllow")
        .unwrap()
        .try_into()
        .unwrap();
    // systemd keeps its list newest first.
    allow.sort();
    assert_eq!(
        allow,
        [
            ("/dev/char/1:3".to_owned(), "rw".to_owned()),
            ("char-136".to_owned(), "rwm".to_owned())
        ]
    );

    // Update at runtime: a new read limit replaces the old one.
    let update = Resources::new().io_read_bps(vec![IoDeviceLimit::new(&dev, 4 << 20)]);
    c.set_resources(unit, &update).expect("set_resources");
    if c.cgroup_mode() == CgroupMode::Legacy {
        let r = read("blkio.throttle.read_bps_device");
        assert!(
            r.lines().any(|l| l == format!("{majmin} 4194304")),
            "read_bps_device: {r:?}"
        );
    }

    c.stop(unit).unwrap();
    let _ = child.kill();
    assert_eq!(c.unit_path(unit).unwrap(), None);
}
