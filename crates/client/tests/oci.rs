//! OCI runtime spec → systemd properties. The inputs are the `linux.resources` of the
//! runtime-spec's example configuration (config.md, "Configuration Schema Example") and of
//! `runc spec`'s default, plus runc's conversion edge cases. Every expected value is a
//! literal taken from runc (opencontainers/cgroups `utils_test.go`, `systemd/common.go`,
//! `devices/systemd.go`) or systemd, or worked by hand from their formulas in the comment
//! beside it — never computed by the code under test.

use std::collections::HashMap;

use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResources, Spec};
use sdbus_cgroup::PropertyValue as Value;
use sdbus_cgroup::{
    parse_cgroups_path, CgroupMode, DeviceAllow, DevicePolicy, InputError, IoDeviceLimit,
    PropertyPlan, Resources,
};

fn spec(name: &str) -> Spec {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    Spec::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn resources(s: &Spec) -> LinuxResources {
    s.linux().as_ref().unwrap().resources().clone().unwrap()
}

/// The example's devices, by number, as a host would have them.
fn sd_devices(major: i64, minor: i64) -> Option<String> {
    match (major, minor) {
        (8, 0) => Some("/dev/sda".into()),
        (8, 16) => Some("/dev/sdb".into()),
        _ => None,
    }
}

fn get(p: &PropertyPlan, name: &str) -> Value {
    p.get(name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", p.properties()))
}

fn pairs(v: &[(&str, u64)]) -> Value {
    Value::PathU64s(v.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect())
}

fn cpu(shares: Option<u64>, quota: Option<i64>, period: Option<u64>) -> LinuxResources {
    let mut b = LinuxCpuBuilder::default();
    if let Some(s) = shares {
        b = b.shares(s);
    }
    if let Some(q) = quota {
        b = b.quota(q);
    }
    if let Some(p) = period {
        b = b.period(p);
    }
    let mut r = LinuxResources::default();
    r.set_cpu(Some(b.build().unwrap()));
    r
}

fn unified(kv: &[(&str, &str)]) -> LinuxResources {
    let mut r = LinuxResources::default();
    r.set_unified(Some(
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    ));
    r
}

fn field_of(e: InputError) -> String {
    match e {
        InputError::InvalidOciField { field, .. } => field,
        other => panic!("expected InvalidOciField, got {other:?}"),
    }
}

#[test]
fn runtime_spec_example_converts_and_lists_what_systemd_cannot_take() {
    let s = spec("runtime-spec-example.json");
    let o = Resources::from_oci_with(&resources(&s), &sd_devices).unwrap();
    let r = &o.resources;
    assert_eq!(r.memory_limit, Some(536_870_912));
    assert_eq!(r.memory_reservation, Some(536_870_912));
    assert_eq!(r.memory_swap, Some(536_870_912));
    assert_eq!(r.pids_limit, Some(32_771));
    assert_eq!(
        r.device_policy,
        Some(DevicePolicy::Strict),
        "deny-all first: an allow list"
    );
    // runc's devices/systemd.go: fixed devices become /dev/{char,block}/MAJ:MIN.
    assert_eq!(
        r.device_allow,
        vec![
            DeviceAllow::new("/dev/char/10:229", "rw"),
            DeviceAllow::new("/dev/block/8:0", "r"),
        ]
    );
    assert_eq!(
        r.blkio_weight_device,
        vec![
            IoDeviceLimit::new("/dev/sda", 500),
            IoDeviceLimit::new("/dev/sdb", 500)
        ]
    );
    assert_eq!(r.io_read_bps, vec![IoDeviceLimit::new("/dev/sda", 600)]);
    assert_eq!(r.io_write_iops, vec![IoDeviceLimit::new("/dev/sdb", 300)]);

    let mut left: Vec<&str> = o.unconverted.iter().map(|u| u.field.as_str()).collect();
    left.sort();
    assert_eq!(
        left,
        [
            "linux.resources.blockIO.leafWeight",
            "linux.resources.blockIO.weightDevice[0].leafWeight",
            "linux.resources.cpu.realtimePeriod",
            "linux.resources.cpu.realtimeRuntime",
            "linux.resources.hugepageLimits[0]",
            "linux.resources.hugepageLimits[1]",
            "linux.resources.memory.disableOOMKiller",
            "linux.resources.memory.kernel",
            "linux.resources.memory.kernelTCP",
            "linux.resources.memory.swappiness",
            "linux.resources.network.classID",
            "linux.resources.network.priorities[0]",
            "linux.resources.network.priorities[1]",
        ]
    );
    let huge = o
        .unconverted
        .iter()
        .find(|u| u.field.ends_with("hugepageLimits[0]"))
        .unwrap();
    assert_eq!(huge.value, "2MB 9223372036854772000");

    // On cgroup v2 and systemd 252, what systemd receives.
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemoryMax"), Value::U64(536_870_912));
    assert_eq!(get(&p, "MemoryLow"), Value::U64(536_870_912));
    // swap == memory: no swap (runc's ConvertMemorySwapToCgroupV2Value: swap - memory).
    assert_eq!(get(&p, "MemorySwapMax"), Value::U64(0));
    assert_eq!(get(&p, "CPUWeight"), Value::U64(100), "1024 shares");
    // 1000000 µs per 500000 µs period = 2 CPUs = 2000000 µs per second.
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(2_000_000));
    assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(500_000));
    assert_eq!(get(&p, "AllowedCPUs"), Value::Bytes(vec![0b0000_1100u8]));
    assert_eq!(get(&p, "AllowedMemoryNodes"), Value::Bytes(vec![0xffu8]));
    assert_eq!(get(&p, "TasksMax"), Value::U64(32_771));
    // blkio 10 -> io 1; blkio 500 -> 1 + 490*9999/990 = 4950 (ConvertBlkIOToIOWeightValue).
    assert_eq!(get(&p, "IOWeight"), Value::U64(1));
    assert_eq!(
        get(&p, "IODeviceWeight"),
        pairs(&[("/dev/sda", 4950), ("/dev/sdb", 4950)])
    );
    assert_eq!(get(&p, "IOReadBandwidthMax"), pairs(&[("/dev/sda", 600)]));
    assert_eq!(get(&p, "IOWriteIOPSMax"), pairs(&[("/dev/sdb", 300)]));
    assert_eq!(get(&p, "DevicePolicy"), Value::Str("strict".into()));

    // The strict form refuses what is left over (here: the example without its block
    // devices, which TryFrom would look up on this host).
    let mut no_io = resources(&s);
    no_io.set_block_io(None);
    match Resources::try_from(&no_io) {
        Err(InputError::OciUnconverted(u)) => assert_eq!(u.len(), 11),
        other => panic!("expected OciUnconverted, got {other:?}"),
    }
    // Its cgroupsPath is the cgroupfs form, which the systemd driver refuses (runc too).
    let path = s.linux().as_ref().unwrap().cgroups_path().clone().unwrap();
    let e = parse_cgroups_path(path.to_str().unwrap(), "c1").unwrap_err();
    assert_eq!(field_of(e), "linux.cgroupsPath");
}

#[test]
fn runc_spec_default_converts_fully() {
    let s = spec("runtime-spec-runc.json");
    let r = Resources::try_from(&resources(&s)).expect("nothing left over");
    assert_eq!(r.device_policy, Some(DevicePolicy::Strict));
    assert!(r.device_allow.is_empty());
    // No cgroupsPath: runc's default, system.slice:runc:<id>.
    let p = parse_cgroups_path("", "mycontainer").unwrap();
    assert_eq!(p.slice, "system.slice");
    assert_eq!(p.unit, "runc-mycontainer.scope");
}

#[test]
fn shares_2_1024_262144_become_weights_1_100_10000() {
    // opencontainers/cgroups utils_test.go, TestConvertCPUSharesToCgroupV2Value.
    for (shares, weight) in [(2, 1), (1024, 100), (262_144, 10_000)] {
        let r = Resources::try_from(&cpu(Some(shares), None, None)).unwrap();
        let p = r
            .to_properties(
                CgroupMode::Unified,
                &sdbus_cgroup::releases::Capabilities::from_version(252),
            )
            .unwrap();
        assert_eq!(get(&p, "CPUWeight"), Value::U64(weight), "shares {shares}");
    }
    // On cgroup v1 the shares go through unchanged.
    let r = Resources::try_from(&cpu(Some(2), None, None)).unwrap();
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "CPUShares"), Value::U64(2));
    // 0 is unset (Go's zero value in runc).
    let r = Resources::try_from(&cpu(Some(0), None, None)).unwrap();
    assert_eq!(r.cpu_shares, None);
}

#[test]
fn quota_with_and_without_period() {
    let plan = |q, p| {
        Resources::try_from(&cpu(None, q, p))
            .unwrap()
            .to_properties(
                CgroupMode::Unified,
                &sdbus_cgroup::releases::Capabilities::from_version(252),
            )
            .unwrap()
    };
    // No period: runc's defCPUQuotaPeriod 100000. 50000/100000 of a second = 500000 µs/s.
    let p = plan(Some(50_000), None);
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(500_000));
    assert!(p.names().all(|n| n != "CPUQuotaPeriodUSec"));
    // With a period: 50000 * 1000000 / 200000 = 250000 µs/s.
    let p = plan(Some(50_000), Some(200_000));
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(250_000));
    assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(200_000));
    // 12345 * 1000000 / 100000 = 123450, rounded up to 10 ms steps: 130000.
    let p = plan(Some(12_345), None);
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(130_000));
    // A period alone: runc sends USEC_INFINITY (u64::MAX) as the quota.
    let p = plan(None, Some(100_000));
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(u64::MAX));
    // -1 is unlimited; below that is an error naming the field.
    let p = plan(Some(-1), None);
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(u64::MAX));
    let e = Resources::from_oci(&cpu(None, Some(-2), None)).unwrap_err();
    assert_eq!(field_of(e), "linux.resources.cpu.quota");
    let e = Resources::from_oci(&cpu(None, Some(1000), Some(999))).unwrap_err();
    assert_eq!(field_of(e), "linux.resources.cpu.period");
}

#[test]
fn empty_cpuset_is_unset_and_a_list_without_cpus_is_an_error() {
    let set = |cpus: &str| {
        let mut r = LinuxResources::default();
        r.set_cpu(Some(LinuxCpuBuilder::default().cpus(cpus).build().unwrap()));
        r
    };
    // runc's addCpuset: "" is not set at all.
    assert_eq!(Resources::try_from(&set("")).unwrap().cpus, None);
    for bad in [",", " ", "3-1", "x"] {
        let e = Resources::from_oci(&set(bad)).unwrap_err();
        assert_eq!(field_of(e), "linux.resources.cpu.cpus", "{bad:?}");
    }
}

#[test]
fn swap_below_memory_is_an_error_naming_the_field() {
    let mut r = LinuxResources::default();
    r.set_memory(Some(
        LinuxMemoryBuilder::default()
            .limit(200i64)
            .swap(100i64)
            .build()
            .unwrap(),
    ));
    let e = Resources::from_oci(&r).unwrap_err();
    assert_eq!(field_of(e), "linux.resources.memory.swap");
    // Swap without a memory limit: runc refuses it too.
    let mut r = LinuxResources::default();
    r.set_memory(Some(
        LinuxMemoryBuilder::default().swap(100i64).build().unwrap(),
    ));
    let e = Resources::from_oci(&r).unwrap_err();
    assert_eq!(field_of(e), "linux.resources.memory.swap");
    // -1 is unlimited swap: MemorySwapMax=infinity.
    let mut r = LinuxResources::default();
    r.set_memory(Some(
        LinuxMemoryBuilder::default()
            .limit(200i64)
            .swap(-1i64)
            .build()
            .unwrap(),
    ));
    let p = Resources::try_from(&r)
        .unwrap()
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemorySwapMax"), Value::U64(u64::MAX));
}

#[test]
fn unified_keys_convert_like_runc_with_the_version_gates() {
    let r = Resources::try_from(&unified(&[
        ("memory.high", "max"),
        ("memory.low", "1048576"),
        ("memory.min", "4096"),
        ("memory.max", " 67108864 "),
        ("memory.swap.max", "0"),
        ("cpu.weight", "42"),
        ("cpu.max", "25000 50000"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
        ("pids.max", "max"),
        ("io.weight", "default 300"),
    ]))
    .unwrap();
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemoryHigh"), Value::U64(u64::MAX));
    assert_eq!(get(&p, "MemoryLow"), Value::U64(1_048_576));
    assert_eq!(get(&p, "MemoryMin"), Value::U64(4096));
    assert_eq!(get(&p, "MemoryMax"), Value::U64(67_108_864));
    assert_eq!(get(&p, "MemorySwapMax"), Value::U64(0));
    assert_eq!(get(&p, "CPUWeight"), Value::U64(42));
    // 25000 * 1000000 / 50000 = 500000 µs/s.
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(500_000));
    assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(50_000));
    assert_eq!(get(&p, "AllowedCPUs"), Value::Bytes(vec![0b11u8]));
    assert_eq!(get(&p, "AllowedMemoryNodes"), Value::Bytes(vec![1u8]));
    assert_eq!(get(&p, "TasksMax"), Value::U64(u64::MAX));
    assert_eq!(get(&p, "IOWeight"), Value::U64(300));

    // cpu.idle = 1 is CPUWeight=0 from systemd 252 (runc's cpuIdleSupportedVersion).
    let idle = Resources::try_from(&unified(&[("cpu.idle", "1"), ("cpu.weight", "42")])).unwrap();
    let p = idle
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    let weights: Vec<_> = p
        .properties()
        .into_iter()
        .filter(|(n, _)| *n == "CPUWeight")
        .collect();
    assert_eq!(weights, [("CPUWeight", Value::U64(0))]);
    let p = idle
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(251),
        )
        .unwrap();
    assert_eq!(get(&p, "CPUWeight"), Value::U64(42));
    assert!(p.skipped().iter().any(|s| s.property == "CPUWeight"));

    // cpu.max without a period: runc's defCPUQuotaPeriod (100000) is sent with it.
    let r = Resources::try_from(&unified(&[("cpu.max", "max")])).unwrap();
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(u64::MAX));
    assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(100_000));

    // memory.oom.group -> OOMPolicy when a scope starts, from systemd 253.
    let oom = Resources::try_from(&unified(&[("memory.oom.group", "1")])).unwrap();
    let p = oom
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(253),
        )
        .unwrap();
    assert_eq!(get(&p, "OOMPolicy"), Value::Str("kill".into()));
    let p = oom
        .to_properties(
            CgroupMode::Unified,
            &sdbus_cgroup::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert!(p.names().all(|n| n != "OOMPolicy"));
    assert!(p.skipped().iter().any(|s| s.property == "OOMPolicy"));
}

#[test]
fn unified_unknown_keys_are_left_over_and_bad_ones_are_errors() {
    let o = Resources::from_oci(&unified(&[
        ("hugetlb.2MB.max", "1073741824"),
        ("cpu.idle", "0"),
        ("io.weight", "8:0 100"),
    ]))
    .unwrap();
    let mut left: Vec<_> = o.unconverted.iter().map(|u| u.field.as_str()).collect();
    left.sort();
    assert_eq!(
        left,
        [
            "linux.resources.unified[\"cpu.idle\"]",
            "linux.resources.unified[\"hugetlb.2MB.max\"]",
            "linux.resources.unified[\"io.weight\"]",
        ]
    );
    for (k, v) in [
        ("../memory.max", "1"),
        ("memory", "1"),
        (".max", "1"),
        ("memory.max", "lots"),
        ("cpu.max", "1 2 3"),
        ("cpu.weight", "0"),
        ("cpu.idle", "2"),
        ("memory.oom.group", "yes"),
        ("cpuset.cpus", ""),
    ] {
        let e = Resources::from_oci(&unified(&[(k, v)])).unwrap_err();
        assert_eq!(
            field_of(e),
            format!("linux.resources.unified[{k:?}]"),
            "{k}={v}"
        );
    }
}

fn devices(json: &str) -> Result<Resources, InputError> {
    let r: LinuxResources = serde_json::from_str(&format!("{{\"devices\": {json}}}")).unwrap();
    Resources::try_from(&r)
}

#[test]
fn device_rules_systemd_cannot_express_are_errors_not_skipped() {
    // Wildcard minor: char-MAJOR (systemd >= 240), everything of a type: char-*.
    let r = devices(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            {"allow": true, "type": "b", "access": "m"}]"#,
    )
    .unwrap();
    assert_eq!(
        r.device_allow,
        vec![
            DeviceAllow::new("char-136", "rwm"),
            DeviceAllow::new("block-*", "m")
        ]
    );
    // Allow-all is DevicePolicy=auto.
    let r = devices(r#"[{"allow": true, "access": "rwm"}]"#).unwrap();
    assert_eq!(r.device_policy, Some(DevicePolicy::Auto));
    // A deny of one allowed device takes its access away.
    let r = devices(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "m"}]"#,
    )
    .unwrap();
    assert_eq!(
        r.device_allow,
        vec![DeviceAllow::new("/dev/char/1:3", "rw")]
    );

    for (json, field) in [
        // A deny list (allow-all, then deny one): systemd has none (runc#3847 only warns).
        (
            r#"[{"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]"#,
            "linux.resources.devices[0]",
        ),
        // Wildcard major with a fixed minor.
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "minor": 3, "access": "rwm"}]"#,
            "linux.resources.devices[1]",
        ),
        // A deny inside a wider allow.
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "r"}]"#,
            "linux.resources.devices[2]",
        ),
        // Bad access.
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx"}]"#,
            "linux.resources.devices[1].access",
        ),
        // No access: runc refuses it ("device access at 1 field cannot be empty").
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3}]"#,
            "linux.resources.devices[1].access",
        ),
        // A type the devices cgroup has no rules for.
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "p", "major": 1, "minor": 3, "access": "r"}]"#,
            "linux.resources.devices[1]",
        ),
    ] {
        let e = devices(json).unwrap_err();
        assert_eq!(field_of(e), field, "{json}");
    }
}

/// Fail-closed device rules, as runc has them: only -1 (or no number) is the wildcard, so
/// `{allow, c, -2:-2, rwm}` is an error and not `char-*`; an access string that repeats a
/// letter ("rrr", "mmm") is an error and does not count as "rwm" (allow-all).
#[test]
fn device_numbers_below_minus_1_and_repeated_access_letters_are_errors() {
    for (json, field, value) in [
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": -2, "minor": -2, "access": "rwm"}]"#,
            "linux.resources.devices[1].major",
            "-2",
        ),
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": -7, "access": "r"}]"#,
            "linux.resources.devices[1].minor",
            "-7",
        ),
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "access": "rrr"}]"#,
            "linux.resources.devices[1].access",
            "rrr",
        ),
        (
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "access": "mmm"}]"#,
            "linux.resources.devices[1].access",
            "mmm",
        ),
        (
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwr"}]"#,
            "linux.resources.devices[0].access",
            "rwr",
        ),
    ] {
        match devices(json) {
            Err(InputError::InvalidOciField {
                field: f, value: v, ..
            }) => assert_eq!((f.as_str(), v.as_str()), (field, value), "{json}"),
            other => panic!("{json}: expected InvalidOciField, got {other:?}"),
        }
    }
    // -1 stays the wildcard, in either position.
    let r = devices(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "minor": -1, "access": "rw"}]"#,
    )
    .unwrap();
    assert_eq!(r.device_allow, vec![DeviceAllow::new("char-136", "rw")]);
}

#[test]
fn a_pids_limit_below_minus_1_is_an_error_naming_the_field() {
    let pids = |limit: i64| {
        let r: LinuxResources =
            serde_json::from_str(&format!("{{\"pids\": {{\"limit\": {limit}}}}}")).unwrap();
        Resources::try_from(&r)
    };
    match pids(-2) {
        Err(InputError::InvalidOciField { field, value, .. }) => {
            assert_eq!(
                (field.as_str(), value.as_str()),
                ("linux.resources.pids.limit", "-2")
            )
        }
        other => panic!("expected InvalidOciField, got {other:?}"),
    }
    assert_eq!(pids(-1).unwrap().pids_limit, Some(-1));
    assert_eq!(pids(0).unwrap().pids_limit, Some(0));
    // The same rule on the client's own API.
    let r = Resources::new().pids_limit(-2);
    assert!(matches!(
        r.validate(),
        Err(InputError::OutOfRange {
            what: "pids_limit",
            value: -2,
            ..
        })
    ));
}

#[test]
fn io_device_numbers_need_a_block_device_on_this_host() {
    let r: LinuxResources = serde_json::from_str(
        r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 99, "rate": 1}]}}"#,
    )
    .unwrap();
    let e = Resources::from_oci_with(&r, &sd_devices).unwrap_err();
    assert_eq!(
        field_of(e),
        "linux.resources.blockIO.throttleReadBpsDevice[0]"
    );
}

#[test]
fn cgroups_path_follows_runcs_rules() {
    let p = parse_cgroups_path("system.slice:docker:1234", "x").unwrap();
    assert_eq!(
        (p.slice.as_str(), p.unit.as_str()),
        ("system.slice", "docker-1234.scope")
    );
    assert!(!p.is_slice());
    let p = parse_cgroups_path(":crio:abc", "x").unwrap();
    assert_eq!(
        (p.slice.as_str(), p.unit.as_str()),
        ("system.slice", "crio-abc.scope")
    );
    let p = parse_cgroups_path("kubepods.slice:kubelet:kubepods-pod1.slice", "x").unwrap();
    assert_eq!(
        (p.slice.as_str(), p.unit.as_str()),
        ("kubepods.slice", "kubepods-pod1.slice")
    );
    assert!(p.is_slice());
    // runc's getUnitName joins an empty prefix too.
    assert_eq!(
        parse_cgroups_path("a.slice::n", "x").unwrap().unit,
        "-n.scope"
    );
    for bad in [
        "/kubepods/besteffort/pod1/c1",
        "a.slice:p",
        "a.slice:p:n:extra",
        "a--b.slice:p:n",
        "notaslice:p:n",
        "a.slice:p:",
        "a.slice:p:bad name",
        "a.slice:p:-.slice",
    ] {
        let e = parse_cgroups_path(bad, "x").unwrap_err();
        assert_eq!(field_of(e), "linux.cgroupsPath", "{bad}");
    }
}
