use zbus::zvariant::Value;

use crate::error::InputError;
use crate::resources::convert::*;
use crate::resources::*;

fn names(p: &PropertyPlan) -> Vec<&'static str> {
    p.properties.iter().map(|(n, _)| *n).collect()
}

fn get(p: &PropertyPlan, name: &str) -> Value<'static> {
    p.properties
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
        .clone()
}

#[test]
fn shares_to_weight_runc_edge_cases() {
    assert_eq!(
        shares_to_weight(1024),
        100,
        "the default maps to the default"
    );
    assert_eq!(shares_to_weight(0), 0, "0 is unset");
    assert_eq!(shares_to_weight(1), 1);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(1 << 30), 10_000);
    // Worked by hand: L=9 → 10^(1080/612) = 58.2 → 59; L=11 → 10^(1370/612) = 173.2 → 174.
    assert_eq!(shares_to_weight(512), 59);
    assert_eq!(shares_to_weight(2048), 174);
    assert_eq!(shares_to_weight(262_143), 10_000);
    // Monotonic over the whole range.
    let mut last = 0;
    for s in 2..262_144u64 {
        let w = shares_to_weight(s);
        assert!(w >= last && (1..=10_000).contains(&w), "shares {s} -> {w}");
        last = w;
    }
}

#[test]
fn quota_rounds_up_to_10ms_per_second() {
    assert_eq!(quota_per_sec(50_000, 100_000), 500_000);
    // 1 µs over a 10 ms step rounds up to the next step, never down.
    assert_eq!(quota_per_sec(1, 100_000), 10_000);
    assert_eq!(quota_per_sec(123_456, 100_000), 1_240_000);
    assert_eq!(
        quota_per_sec(20_000, 0),
        200_000,
        "period 0 means the 100ms default"
    );
    assert_eq!(quota_per_sec(-1, 100_000), INFINITY);
    assert_eq!(quota_per_sec(0, 50_000), INFINITY);
    assert_eq!(quota_per_sec(33_333, 100_000), 340_000);
}

#[test]
fn cpuset_is_little_endian_bitmask() {
    assert_eq!(cpuset_to_bits("0-3,8").unwrap(), vec![0x0f, 0x01]);
    assert_eq!(cpuset_to_bits("0").unwrap(), vec![0x01]);
    assert_eq!(cpuset_to_bits("7").unwrap(), vec![0x80]);
    assert_eq!(cpuset_to_bits("9").unwrap(), vec![0x00, 0x02]);
    assert_eq!(cpuset_to_bits(" 1 , 3-4,,").unwrap(), vec![0b0001_1010]);
    assert_eq!(cpuset_to_bits("0-15").unwrap(), vec![0xff, 0xff]);
    for bad in ["", " ", ",", "a", "3-1", "1-", "-1", "0-3,x", "8192", "1.5"] {
        assert!(
            matches!(cpuset_to_bits(bad), Err(InputError::InvalidCpuset { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn tasks_max_zero_becomes_one_negative_infinity() {
    assert_eq!(tasks_max(0), 1);
    assert_eq!(tasks_max(-1), INFINITY);
    assert_eq!(tasks_max(-5), INFINITY);
    assert_eq!(tasks_max(100), 100);
}

#[test]
fn blkio_weight_maps_onto_io_weight_range() {
    assert_eq!(blkio_to_io_weight(10), 1);
    assert_eq!(blkio_to_io_weight(1000), 10_000);
    assert_eq!(blkio_to_io_weight(500), 4950);
}

#[test]
fn v2_names_and_swap_is_total_minus_memory() {
    let r = Resources {
        memory_limit: Some(256 << 20),
        memory_swap: Some(512 << 20),
        memory_reservation: Some(128 << 20),
        cpu_shares: Some(1024),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpus: Some("0-3,8".into()),
        pids_limit: Some(0),
        blkio_weight: Some(1000),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemoryMax"), Value::U64(256 << 20));
    assert_eq!(get(&p, "MemorySwapMax"), Value::U64(256 << 20));
    assert_eq!(get(&p, "MemoryLow"), Value::U64(128 << 20));
    assert_eq!(get(&p, "CPUWeight"), Value::U64(100));
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(500_000));
    assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(100_000));
    assert_eq!(get(&p, "AllowedCPUs"), Value::from(vec![0x0fu8, 0x01]));
    assert_eq!(get(&p, "TasksMax"), Value::U64(1));
    assert_eq!(get(&p, "IOWeight"), Value::U64(10_000));
    assert!(p.skipped.is_empty());
    assert!(!names(&p).contains(&"MemoryLimit"));
}

#[test]
fn v1_names_and_v2_only_properties_are_reported_skipped() {
    let r = Resources {
        memory_limit: Some(-1),
        memory_swap: Some(-1),
        memory_reservation: Some(1),
        cpu_shares: Some(512),
        blkio_weight: Some(300),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemoryLimit"), Value::U64(INFINITY));
    assert_eq!(get(&p, "CPUShares"), Value::U64(512));
    assert_eq!(get(&p, "BlockIOWeight"), Value::U64(300));
    let skipped: Vec<_> = p.skipped.iter().map(|s| s.property).collect();
    assert_eq!(skipped, ["MemoryLow", "MemorySwapMax"]);
}

#[test]
fn version_gates_period_and_cpuset() {
    let r = Resources {
        cpu_quota: Some(10_000),
        cpu_period: Some(50_000),
        cpus: Some("0".into()),
        mems: Some("0".into()),
        ..Resources::default()
    };
    let old = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(241),
        )
        .unwrap();
    assert_eq!(names(&old), ["CPUQuotaPerSecUSec"]);
    let skipped: Vec<_> = old.skipped.iter().map(|s| s.property).collect();
    assert_eq!(
        skipped,
        ["CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes"]
    );
    let mid = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(243),
        )
        .unwrap();
    assert_eq!(names(&mid), ["CPUQuotaPeriodUSec", "CPUQuotaPerSecUSec"]);
    let new = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(244),
        )
        .unwrap();
    assert_eq!(
        names(&new),
        [
            "CPUQuotaPeriodUSec",
            "CPUQuotaPerSecUSec",
            "AllowedCPUs",
            "AllowedMemoryNodes"
        ]
    );
    // 10ms quota over a 50ms period = 200ms per second.
    assert_eq!(get(&new, "CPUQuotaPerSecUSec"), Value::U64(200_000));
}

#[test]
fn period_alone_sets_infinite_quota() {
    let r = Resources {
        cpu_period: Some(20_000),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(INFINITY));
}

#[test]
fn bad_input_is_rejected() {
    let cases: Vec<(Resources, &str)> = vec![
        (
            Resources {
                memory_limit: Some(100),
                memory_swap: Some(99),
                ..Default::default()
            },
            "swap below memory",
        ),
        (
            Resources {
                memory_swap: Some(100),
                ..Default::default()
            },
            "swap without memory",
        ),
        (
            Resources {
                memory_limit: Some(-1),
                memory_swap: Some(100),
                ..Default::default()
            },
            "swap with unlimited memory",
        ),
        (
            Resources {
                memory_limit: Some(-2),
                ..Default::default()
            },
            "memory -2",
        ),
        (
            Resources {
                cpu_weight: Some(0),
                ..Default::default()
            },
            "cpu weight 0",
        ),
        (
            Resources {
                cpu_weight: Some(10_001),
                ..Default::default()
            },
            "cpu weight 10001",
        ),
        (
            Resources {
                blkio_weight: Some(9),
                ..Default::default()
            },
            "blkio 9",
        ),
        (
            Resources {
                blkio_weight: Some(1001),
                ..Default::default()
            },
            "blkio 1001",
        ),
        (
            Resources {
                io_weight: Some(0),
                ..Default::default()
            },
            "io weight 0",
        ),
        (
            Resources {
                cpu_period: Some(999),
                ..Default::default()
            },
            "period below 1ms",
        ),
        (
            Resources {
                cpu_quota: Some(-2),
                ..Default::default()
            },
            "quota -2",
        ),
        (
            Resources {
                cpus: Some(String::new()),
                ..Default::default()
            },
            "empty cpuset",
        ),
        (
            Resources {
                mems: Some("0-".into()),
                ..Default::default()
            },
            "malformed mems",
        ),
        (
            Resources {
                device_allow: vec![DeviceAllow::new("/dev/null", "rwx")],
                ..Default::default()
            },
            "access x",
        ),
        (
            Resources {
                device_allow: vec![DeviceAllow::new("/dev/null", "")],
                ..Default::default()
            },
            "empty access",
        ),
        (
            Resources {
                device_allow: vec![DeviceAllow::new("null", "r")],
                ..Default::default()
            },
            "relative path",
        ),
        (
            Resources {
                device_allow: vec![DeviceAllow::new("char-", "r")],
                ..Default::default()
            },
            "empty class",
        ),
    ];
    for (r, what) in cases {
        assert!(
            r.to_properties(
                CgroupMode::Unified,
                &crate::releases::Capabilities::from_version(252)
            )
            .is_err(),
            "{what} accepted"
        );
    }
    let swap_equal = Resources {
        memory_limit: Some(100),
        memory_swap: Some(100),
        ..Default::default()
    };
    let p = swap_equal
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(
        get(&p, "MemorySwapMax"),
        Value::U64(0),
        "swap == memory means no swap"
    );
}

#[test]
fn devices_become_policy_and_allow_list() {
    let r = Resources {
        device_policy: Some(DevicePolicy::Strict),
        device_allow: vec![
            DeviceAllow::new("/dev/null", "rw"),
            DeviceAllow::new("char-pts", "rwm"),
        ],
        ..Default::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "DevicePolicy"), Value::from("strict".to_owned()));
    let want: Vec<(String, String)> = vec![
        ("/dev/null".into(), "rw".into()),
        ("char-pts".into(), "rwm".into()),
    ];
    assert_eq!(get(&p, "DeviceAllow"), Value::from(want));
}
