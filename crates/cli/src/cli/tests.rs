//! The command line's values at the edges of their documented ranges: systemd's
//! `UNIT_NAME_MAX` (256 bytes with the NUL, `src/basic/unit-name.h`), its CPU weight range
//! 1..=10000 (`CGROUP_WEIGHT_MIN`/`CGROUP_WEIGHT_MAX`, `src/basic/cgroup-util.h`), its
//! CPU_SET limit of 8192 CPUs, the kernel's `cpuset.cpus` list syntax, and the units and
//! suffixes `--help` names; and `scope update`'s rule that it needs at least one limit.
//! Every expected value is written out here.

use std::time::Duration;

use crate::cli::Limits;
use sdcookie::parse::{
    bus_address, cpu_list, cpu_quota, cpu_weight, duration, positive_duration, scope_name, size,
    tasks,
};

#[test]
fn durations_take_every_documented_unit() {
    assert_eq!(duration("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(duration("2min"), Ok(Duration::from_secs(120)));
    assert_eq!(duration("3s"), Ok(Duration::from_secs(3)));
    assert_eq!(duration(" 1500ms "), Ok(Duration::from_millis(1500)));
    assert_eq!(duration("0"), Ok(Duration::ZERO));
    assert_eq!(positive_duration("250ms"), Ok(Duration::from_millis(250)));
    assert!(positive_duration("0ms").is_err());
}

#[test]
fn sizes_are_binary_multiples_in_either_case() {
    assert_eq!(size("1k"), Ok(1024));
    assert_eq!(size("1m"), Ok(1_048_576));
    assert_eq!(size("1g"), Ok(1_073_741_824));
    assert_eq!(size("1t"), Ok(1_099_511_627_776));
    assert_eq!(size(" 7 "), Ok(7));
    assert_eq!(size("INFINITY"), Ok(u64::MAX));
    // u64::MAX itself is "infinity" to systemd: a number that reaches it is refused.
    assert_eq!(size("18446744073709551614"), Ok(18_446_744_073_709_551_614));
    assert!(size("18446744073709551615").is_err());
    assert!(size("16777215T").is_ok());
}

#[test]
fn task_counts_are_positive_integers_or_infinity() {
    assert_eq!(tasks(" 4096 "), Ok(4096));
    assert_eq!(tasks("Infinity"), Ok(u64::MAX));
    assert!(tasks("-1").is_err());
    assert!(tasks("many").is_err());
}

#[test]
fn cpu_weights_are_systemds_1_to_10000() {
    assert_eq!(cpu_weight("1"), Ok(1));
    assert_eq!(cpu_weight("10000"), Ok(10_000));
    assert_eq!(cpu_weight(" 100 "), Ok(100));
    assert!(cpu_weight("x").is_err());
}

#[test]
fn cpu_quotas_are_whole_percent_from_1_to_100000() {
    assert_eq!(cpu_quota("1"), Ok(1));
    assert_eq!(cpu_quota("100000%"), Ok(100_000));
    assert!(cpu_quota("100001").is_err());
    assert!(cpu_quota("1.5").is_err());
}

#[test]
fn cpu_lists_stop_at_systemds_8192_cpus() {
    assert!(cpu_list("8191").is_ok());
    assert!(cpu_list("8190-8191").is_ok());
    assert!(cpu_list("8192").is_err());
    assert!(cpu_list("0-8192").is_err());
    assert_eq!(cpu_list(" 2 - 3 , 1 ").unwrap().as_str(), "2 - 3 , 1");
    assert!(cpu_list("3-3").is_ok());
}

/// The command line and the client take the same CPU lists: where the CLI's own parser
/// used to differ from `cpuset_to_bits`, it now follows it.
#[test]
fn cpu_lists_follow_the_clients_parser_where_the_cli_once_differed() {
    // u32's parser took a sign; the client takes digits only.
    assert!(cpu_list("+1").is_err());
    assert!(cpu_list("0-+3").is_err());
    // The client skips empty entries between commas; the CLI refused them.
    assert_eq!(cpu_list("0,,1").unwrap().as_str(), "0,,1");
    assert_eq!(cpu_list("0,").unwrap().as_str(), "0,");
    // The same verdict as the client on every one of these.
    for list in [
        "0",
        "0-3,8",
        "+1",
        "0,,1",
        "",
        ",",
        "3-1",
        "8192",
        "99999999999",
        "a",
    ] {
        assert_eq!(
            cpu_list(list).is_ok(),
            sdbus_cgroup::convert::cpuset_to_bits(list.trim()).is_ok(),
            "{list:?}"
        );
    }
}

/// CPU weights follow the client's range check: the same verdict on each side of both ends.
#[test]
fn cpu_weights_follow_the_clients_range_check() {
    for w in [0u64, 1, 10_000, 10_001] {
        let only_weight = sdbus_cgroup::Resources::new().cpu_weight(w);
        assert_eq!(
            cpu_weight(&w.to_string()).is_ok(),
            only_weight.validate().is_ok(),
            "{w}"
        );
    }
    assert_eq!(
        cpu_weight("0"),
        Err("cpu_weight = 0 is outside 1..=10000".into())
    );
}

/// Scope names follow the client's `check_scope_name`, systemd's rule: the CLI's own check
/// took any of the allowed characters anywhere, `@` included.
#[test]
fn scope_names_follow_the_clients_rule_where_the_cli_once_differed() {
    // A template (empty instance) cannot be started; a name cannot start with '@'.
    assert!(scope_name("a@").is_err());
    assert!(scope_name("a@.scope").is_err());
    assert!(scope_name("@a").is_err());
    // An instance of a valid prefix is fine.
    assert_eq!(scope_name("a@1"), Ok("a@1.scope".into()));
    for name in ["job1", "a@", "@a", "a@1", "a b", "a/b", "", "x\\x2d"] {
        let full = format!("{name}.scope");
        assert_eq!(
            scope_name(name).is_ok(),
            sdbus_cgroup::names::check_scope_name(&full).is_ok(),
            "{name:?}"
        );
    }
}

#[test]
fn scope_names_fit_systemds_255_byte_limit() {
    // 249 + ".scope" = 255 bytes: the longest name systemd takes.
    let longest = "a".repeat(249);
    assert_eq!(scope_name(&longest), Ok(format!("{longest}.scope")));
    assert!(scope_name(&"a".repeat(250)).is_err());
    assert_eq!(
        scope_name("a:b_c.d-e\\x2d@1"),
        Ok("a:b_c.d-e\\x2d@1.scope".into())
    );
    assert!(scope_name("a/b").is_err());
    assert!(scope_name("").is_err());
}

#[test]
fn scope_update_has_a_limit_when_any_one_limit_is_given() {
    assert!(Limits::default().is_empty());
    let one = [
        Limits {
            memory_max: Some(1 << 30),
            ..Limits::default()
        },
        Limits {
            memory_high: Some(1 << 29),
            ..Limits::default()
        },
        Limits {
            tasks_max: Some(64),
            ..Limits::default()
        },
        Limits {
            cpu_weight: Some(100),
            ..Limits::default()
        },
        Limits {
            cpu_quota: Some(50),
            ..Limits::default()
        },
        Limits {
            allowed_cpus: Some(cpu_list("0").unwrap()),
            ..Limits::default()
        },
    ];
    for limits in one {
        assert!(!limits.is_empty(), "{limits:?}");
    }
}

#[test]
fn bus_addresses_are_one_absolute_unix_path() {
    for ok in [
        "unix:path=/run/dbus/system_bus_socket",
        "unix:path=/proc/1/root/run/dbus/system_bus_socket",
    ] {
        assert_eq!(bus_address(ok).as_deref(), Ok(ok));
    }
    for bad in [
        "tcp:host=10.0.0.1,port=1234",
        "unix:abstract=/tmp/dbus-x",
        "autolaunch:",
        "unixexec:path=/bin/sh",
        "unix:path=relative/socket",
        "unix:path=",
        "unix:path=/a,guid=0123",
        "unix:path=/a;tcp:host=x",
        "UNIX:path=/a",
        "",
    ] {
        assert!(bus_address(bad).is_err(), "{bad}");
    }
}
