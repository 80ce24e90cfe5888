//! The conversions and version gates of `resources` at the edges of their contracts, with
//! the numbers written out: systemd's ranges (`CGROUP_WEIGHT_MIN`/`MAX` 1..=10000 and
//! `CGROUP_BLKIO_WEIGHT_MIN`/`MAX` 10..=1000 in `src/basic/cgroup-util.h`,
//! `CPUQuotaPeriodSec=` clamped to 1 ms..1 s), the releases that added properties
//! (`MemoryMin=` v240, `AllowedCPUs=` v244, `CPUWeight=idle` v252), its CPU_SET limit of
//! 8192 CPUs, and runc's `ConvertBlkIOToIOWeightValue` (1 + (blkio − 10) · 9999 / 990).

use zbus::zvariant::Value;

use crate::resources::INFINITY;
use crate::resources::{cpuset_to_bits, Apply, CgroupMode, IoDeviceLimit, PropertyPlan};
use crate::{DeviceAllow, Resources};

fn get(p: &PropertyPlan, name: &str) -> Option<Value<'static>> {
    p.properties
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
}

fn names(p: &PropertyPlan) -> Vec<&'static str> {
    p.properties.iter().map(|(n, _)| *n).collect()
}

fn skipped(p: &PropertyPlan) -> Vec<&'static str> {
    p.skipped.iter().map(|s| s.property).collect()
}

#[test]
fn values_at_the_edges_of_systemds_ranges_are_accepted() {
    for (r, what) in [
        (
            Resources {
                cpu_weight: Some(1),
                io_weight: Some(1),
                blkio_weight: Some(10),
                blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 10)],
                cpu_period: Some(1_000),
                ..Resources::default()
            },
            "the minimums",
        ),
        (
            Resources {
                cpu_weight: Some(10_000),
                io_weight: Some(10_000),
                blkio_weight: Some(1_000),
                blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 1_000)],
                cpu_period: Some(1_000_000),
                ..Resources::default()
            },
            "the maximums",
        ),
        (
            Resources {
                cpu_quota: Some(-1),
                memory_limit: Some(-1),
                memory_high: Some(0),
                ..Resources::default()
            },
            "-1 (unlimited) and 0",
        ),
    ] {
        assert_eq!(r.validate(), Ok(()), "{what}");
    }
}

#[test]
fn cpusets_reach_cpu_8191_in_byte_1023() {
    let bits = cpuset_to_bits("8191").unwrap();
    assert_eq!(bits.len(), 1024);
    assert_eq!(bits[1023], 0x80);
    assert!(bits[..1023].iter().all(|&b| b == 0));
}

#[test]
fn memory_min_needs_systemd_240_and_cgroup_v2() {
    let r = Resources {
        memory_min: Some(64 << 20),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(240),
        )
        .unwrap();
    assert_eq!(get(&p, "MemoryMin"), Some(Value::U64(64 << 20)));
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(239),
        )
        .unwrap();
    assert_eq!((names(&p), skipped(&p)), (vec![], vec!["MemoryMin"]));
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!((names(&p), skipped(&p)), (vec![], vec!["MemoryMin"]));
}

#[test]
fn unlimited_swap_on_v2_is_infinity() {
    let r = Resources {
        memory_limit: Some(256 << 20),
        memory_swap: Some(-1),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "MemorySwapMax"), Some(Value::U64(INFINITY)));
}

#[test]
fn a_quota_without_a_period_uses_the_100ms_default_and_sends_no_period() {
    let r = Resources {
        cpu_quota: Some(25_000),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    // 25 ms per 100 ms = 250 ms per second.
    assert_eq!(names(&p), ["CPUQuotaPerSecUSec"]);
    assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(250_000)));
}

#[test]
fn cpu_idle_on_v1_or_before_252_is_reported_and_on_252_sends_only_weight_0() {
    let r = Resources {
        cpu_idle: Some(true),
        ..Resources::default()
    };
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!((names(&p), skipped(&p)), (vec![], vec!["CPUWeight"]));
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(get(&p, "CPUWeight"), Some(Value::U64(0)));
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
}

#[test]
fn per_device_blkio_weights_are_kept_on_v1_and_converted_on_v2() {
    let r = Resources {
        blkio_weight_device: vec![
            IoDeviceLimit::new("/dev/vda", 10),
            IoDeviceLimit::new("/dev/vdb", 1000),
        ],
        ..Resources::default()
    };
    let pairs = |v: [(&str, u64); 2]| {
        Value::from(
            v.into_iter()
                .map(|(d, n)| (d.to_owned(), n))
                .collect::<Vec<_>>(),
        )
    };
    let p = r
        .to_properties(
            CgroupMode::Legacy,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(
        get(&p, "BlockIODeviceWeight"),
        Some(pairs([("/dev/vda", 10), ("/dev/vdb", 1000)]))
    );
    // runc: 1 + (10 - 10) * 9999 / 990 = 1 and 1 + 990 * 9999 / 990 = 10000.
    let p = r
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(252),
        )
        .unwrap();
    assert_eq!(
        get(&p, "IODeviceWeight"),
        Some(pairs([("/dev/vda", 1), ("/dev/vdb", 10_000)]))
    );
}

#[test]
fn device_rules_need_a_node_below_dev_and_major_minor_needs_both_numbers() {
    let bare = Resources {
        device_allow: vec![DeviceAllow::new("/dev/", "r")],
        ..Resources::default()
    };
    assert!(bare.validate().is_err(), "bare /dev/ accepted");
    // "/dev/char/136:x" is a path, not a major:minor rule: fine before v240.
    let named = Resources {
        device_allow: vec![DeviceAllow::new("/dev/char/136:x", "rw")],
        ..Resources::default()
    };
    assert!(named
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(239)
        )
        .is_ok());
    let numbered = Resources {
        device_allow: vec![DeviceAllow::new("/dev/char/136:0", "rw")],
        ..Resources::default()
    };
    assert!(numbered
        .to_properties(
            CgroupMode::Unified,
            &crate::releases::Capabilities::from_version(239)
        )
        .is_err());
}

#[test]
fn a_slice_or_an_update_gets_the_same_limits_as_a_scope() {
    let r = Resources {
        memory_limit: Some(1 << 30),
        pids_limit: Some(-1),
        ..Resources::default()
    };
    for apply in [Apply::ScopeStart, Apply::SliceStart, Apply::Update] {
        let p = r
            .plan(
                CgroupMode::Unified,
                &crate::releases::Capabilities::from_version(252),
                apply,
            )
            .unwrap();
        assert_eq!(names(&p), ["MemoryMax", "TasksMax"], "{apply:?}");
        assert_eq!(get(&p, "TasksMax"), Some(Value::U64(INFINITY)));
    }
}

#[test]
fn resources_with_any_field_set_are_not_empty() {
    assert!(Resources::default().is_empty());
    let r = Resources {
        cpu_idle: Some(false),
        ..Resources::default()
    };
    assert!(!r.is_empty());
}

#[test]
fn a_cpuset_range_missing_an_end_is_not_a_number_rather_than_too_large() {
    for list in ["1-", "-1", "0,-", "a"] {
        match cpuset_to_bits(list) {
            Err(crate::InputError::InvalidCpuset { reason, .. }) => {
                assert_eq!(reason, "not a number or range", "{list:?}")
            }
            other => panic!("{list:?}: expected InvalidCpuset, got {other:?}"),
        }
    }
    match cpuset_to_bits("99999999999999999999") {
        Err(crate::InputError::InvalidCpuset { reason, .. }) => {
            assert_eq!(reason, "number too large")
        }
        other => panic!("expected InvalidCpuset, got {other:?}"),
    }
}

#[test]
fn a_quota_below_minus_1_names_minus_1_unlimited_as_the_minimum() {
    let r = Resources {
        cpu_quota: Some(-2),
        ..Resources::default()
    };
    assert_eq!(
        r.validate(),
        Err(crate::InputError::OutOfRange {
            what: "cpu_quota",
            value: -2,
            min: -1,
            max: i64::MAX,
        })
    );
}

#[test]
fn device_rules_with_whitespace_in_the_path_are_refused() {
    for path in ["/dev/nu ll", "char- pts"] {
        let r = Resources {
            device_allow: vec![DeviceAllow::new(path, "rw")],
            ..Resources::default()
        };
        assert!(
            matches!(r.validate(), Err(crate::InputError::InvalidDevice { .. })),
            "{path:?} accepted"
        );
    }
}

#[test]
fn io_device_paths_with_whitespace_or_control_characters_are_refused() {
    for device in ["/dev/v da", "/dev/vda\n", "/dev/\tvda"] {
        let r = Resources {
            io_read_bps: vec![IoDeviceLimit::new(device, 1 << 20)],
            ..Resources::default()
        };
        assert!(
            matches!(r.validate(), Err(crate::InputError::InvalidDevice { .. })),
            "{device:?} accepted"
        );
    }
}

#[test]
fn a_skipped_property_says_which_release_it_needs() {
    let by_release = crate::Skipped {
        property: "AllowedCPUs",
        reason: "this systemd release does not accept it",
        needs: Some(244),
    };
    assert_eq!(
        by_release.to_string(),
        "AllowedCPUs: this systemd release does not accept it (systemd >= 244)"
    );
    let by_mode = crate::Skipped {
        property: "MemoryLow",
        reason: "cgroup v1 has no memory.low",
        needs: None,
    };
    assert_eq!(
        by_mode.to_string(),
        "MemoryLow: cgroup v1 has no memory.low"
    );
}

/// `pids_limit`: -1 is unlimited, 0 one task (runc); below -1 is an error naming the field
/// and the range, as for memory and the CPU quota, never TasksMax=infinity.
#[test]
fn a_pids_limit_below_minus_1_is_out_of_range_not_unlimited() {
    let with = |l| Resources {
        pids_limit: Some(l),
        ..Resources::default()
    };
    assert_eq!(
        with(-2).validate(),
        Err(crate::InputError::OutOfRange {
            what: "pids_limit",
            value: -2,
            min: -1,
            max: i64::MAX,
        })
    );
    for ok in [-1, 0, 1, i64::MAX] {
        assert_eq!(with(ok).validate(), Ok(()), "{ok}");
    }
    assert!(with(i64::MIN).validate().is_err());
}
