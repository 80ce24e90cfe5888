//! The cgroup v2 property names (IO limits and weights, `CPUWeight=0` for `cpu.idle`,
//! `MemorySwapMax`) accepted by a real systemd 252 booted unified, read back over D-Bus.
//!
//! As in `freeze_unified.rs`, the outer test re-runs this binary in a private mount
//! namespace whose `/sys/fs/cgroup` is a fresh cgroup2 mount. On a hybrid host the resource
//! controllers stay bound to v1, so the cgroup2 files (`io.max`, `cpu.idle`) do not exist
//! there: this test checks what systemd accepted and keeps; `io_devices.rs` checks the
//! files of the host's own layout.

mod common;

use common::*;
use sdbus_cgroup::{IoDeviceLimit, Resources, Scope};

#[test]
fn v2_properties_are_accepted_by_systemd_on_a_unified_sandbox() {
    run_in_unified_namespace("unified_properties_helper", "UNIFIED PROPERTIES OK");
}

#[test]
#[ignore = "helper: run by v2_properties_are_accepted_by_systemd_on_a_unified_sandbox"]
fn unified_properties_helper() {
    let (sb, c) = unified_sandbox_and_client();
    assert_eq!(c.version().unwrap(), 252, "the sandbox's systemd");
    let dev = "/dev/null"; // any node: systemd stores the path as given
    let mut child = sleeper(&sb);
    let unit = "v2.scope";
    let mut scope = Scope::new(unit, vec![child.pid()]);
    scope.resources = Resources::new()
        .memory_limit(64 << 20)
        .memory_swap_max(0)
        .cpu_idle(true)
        .cpu_weight(300)
        .oom_kill_group(true)
        .io_read_bps(vec![IoDeviceLimit::new(dev, 1 << 20)])
        .io_write_bps(vec![IoDeviceLimit::new(dev, 0)])
        .io_read_iops(vec![IoDeviceLimit::new(dev, 100)])
        .io_write_iops(vec![IoDeviceLimit::new(dev, 200)])
        .blkio_weight_device(vec![IoDeviceLimit::new(dev, 1000)]);
    let started = c.start_scope(&scope).expect("start_scope");
    // OOMPolicy for scopes arrived in systemd 253: reported, not sent.
    let skipped: Vec<_> = started.skipped.iter().map(|s| s.property).collect();
    assert_eq!(skipped, ["OOMPolicy"]);
    assert_eq!(u64_prop(&c, unit, "MemoryMax"), 64 << 20);
    assert_eq!(u64_prop(&c, unit, "MemorySwapMax"), 0);
    // cpu.idle = 1 is CPUWeight=0, which systemd 252 keeps as 0 (its "idle" value).
    assert_eq!(u64_prop(&c, unit, "CPUWeight"), 0);
    assert_eq!(
        pairs(&c, unit, "IOReadBandwidthMax"),
        [(dev.to_owned(), 1 << 20)]
    );
    // Rate 0 is "no limit": we send u64::MAX, systemd's infinity, which it stores as
    // the default and so does not list (property_get_io_device_limits() in its
    // src/core/dbus-cgroup.c skips limits equal to cgroup_io_limit_defaults).
    assert_eq!(pairs(&c, unit, "IOWriteBandwidthMax"), []);
    assert_eq!(pairs(&c, unit, "IOReadIOPSMax"), [(dev.to_owned(), 100)]);
    assert_eq!(pairs(&c, unit, "IOWriteIOPSMax"), [(dev.to_owned(), 200)]);
    // blkio 1000 -> io 10000 (runc's ConvertBlkIOToIOWeightValue).
    assert_eq!(
        pairs(&c, unit, "IODeviceWeight"),
        [(dev.to_owned(), 10_000)]
    );

    c.stop(unit).unwrap();
    child.wait().unwrap();
    assert_eq!(c.unit_path(unit).unwrap(), None);
    drop(c);
    sb.shutdown().unwrap();
    println!("UNIFIED PROPERTIES OK");
}
