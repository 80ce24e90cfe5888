//! The driver of the `oci_resources` fuzz target (crates/client/fuzz), shared with its
//! replay on stable (tests/fuzz_regressions.rs): bytes as a container spec's
//! `linux.resources` JSON, through the OCI → systemd conversion and every property plan.
//! Whatever the input, nothing panics, and what converts is fail-closed: it validates,
//! every device rule is a non-empty subset of "rwm" without a repeated letter, and
//! `pids.limit` is -1 or more.

use oci_spec::runtime::LinuxResources;
use sdbus_cgroup::{CgroupMode, Resources};
use serde_json::{json, Map, Value};

/// A host with one block device, 8:0.
fn block_device(major: i64, minor: i64) -> Option<String> {
    ((major, minor) == (8, 0)).then(|| "/dev/sda".to_owned())
}

/// Bytes that start with `{` are JSON; any others choose the fields of a
/// `linux.resources` from lists of values at and around every edge the conversion has (so
/// the fuzzer spends its time in the conversion, not in the JSON parser).
pub fn run(data: &[u8]) -> Outcome {
    let parsed = if data.first() == Some(&b'{') {
        serde_json::from_slice::<LinuxResources>(data).ok()
    } else {
        serde_json::from_value::<LinuxResources>(structured(&mut Bytes(data))).ok()
    };
    let Some(r) = parsed else {
        return Outcome::NotParsed;
    };
    let Ok(converted) = Resources::from_oci_with(&r, &block_device) else {
        return Outcome::Refused;
    };
    let res = &converted.resources;
    assert_eq!(
        res.validate(),
        Ok(()),
        "a conversion that does not validate: {res:?}"
    );
    for d in &res.device_allow {
        let access = &d.access;
        let mut seen = String::new();
        for ch in access.chars() {
            assert!("rwm".contains(ch) && !seen.contains(ch), "{d:?}");
            seen.push(ch);
        }
        assert!(!access.is_empty(), "{d:?}");
    }
    if let Some(l) = res.pids_limit {
        assert!(l >= -1, "pids_limit {l}");
    }
    for mode in [CgroupMode::Legacy, CgroupMode::Unified] {
        for version in [219, 237, 241, 252, u32::MAX] {
            let _ = res.to_properties(
                mode,
                &sdbus_cgroup::releases::Capabilities::from_version(version),
            );
        }
    }
    Outcome::Converted
}

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not a `linux.resources`.
    NotParsed,
    /// Refused by the conversion (a typed error).
    Refused,
    /// Converted, and every plan made.
    Converted,
}

/// The fuzzer's bytes, taken one at a time (0 once they run out).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()].clone()
    }

    /// `Some(value)` from `from`, or absent.
    fn maybe(&mut self, from: &[Value]) -> Option<Value> {
        (self.byte() & 1 == 1).then(|| self.pick(from))
    }
}

const SIGNED: &[i64] = &[i64::MIN, -5, -2, -1, 0, 1, 2, 4096, 1 << 30, i64::MAX];
const UNSIGNED: &[u64] = &[
    0,
    1,
    2,
    10,
    999,
    1000,
    1001,
    1024,
    100_000,
    1_000_000,
    1_000_001,
    262_144,
    262_145,
    u64::MAX,
];
const NUMBERS: &[i64] = &[-2, -1, 0, 1, 3, 8, 16, 136, 254, 4095, i64::MAX];

fn signed(b: &mut Bytes<'_>) -> Option<Value> {
    let v: Vec<Value> = SIGNED.iter().map(|&n| json!(n)).collect();
    b.maybe(&v)
}

fn unsigned(b: &mut Bytes<'_>) -> Option<Value> {
    let v: Vec<Value> = UNSIGNED.iter().map(|&n| json!(n)).collect();
    b.maybe(&v)
}

fn text(b: &mut Bytes<'_>, from: &[&str]) -> Option<Value> {
    let v: Vec<Value> = from.iter().map(|s| json!(s)).collect();
    b.maybe(&v)
}

/// Inserts `value` under `key` if present.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn structured(b: &mut Bytes<'_>) -> Value {
    let mut r = Map::new();
    let present = b.byte();
    if present & 1 != 0 {
        let mut devices = Vec::new();
        for _ in 0..b.byte() % 6 {
            let mut d = Map::new();
            d.insert("allow".into(), json!(b.byte() & 1 == 1));
            put(&mut d, "type", text(b, &["a", "b", "c", "u", "p"]));
            let numbers: Vec<Value> = NUMBERS.iter().map(|&n| json!(n)).collect();
            put(&mut d, "major", b.maybe(&numbers));
            put(&mut d, "minor", b.maybe(&numbers));
            let access = [
                "", "r", "w", "m", "rw", "wm", "mr", "rwm", "mwr", "rrr", "mmm", "rwx", "rwmr",
            ];
            put(&mut d, "access", text(b, &access));
            devices.push(Value::Object(d));
        }
        r.insert("devices".into(), Value::Array(devices));
    }
    if present & 2 != 0 {
        let mut p = Map::new();
        let limits: Vec<Value> = SIGNED.iter().map(|&n| json!(n)).collect();
        p.insert("limit".into(), b.pick(&limits));
        r.insert("pids".into(), Value::Object(p));
    }
    if present & 4 != 0 {
        let mut m = Map::new();
        for key in ["limit", "reservation", "swap", "kernel", "kernelTCP"] {
            put(&mut m, key, signed(b));
        }
        put(&mut m, "swappiness", unsigned(b));
        put(
            &mut m,
            "disableOOMKiller",
            b.maybe(&[json!(false), json!(true)]),
        );
        r.insert("memory".into(), Value::Object(m));
    }
    if present & 8 != 0 {
        let mut c = Map::new();
        put(&mut c, "shares", unsigned(b));
        put(&mut c, "quota", signed(b));
        put(&mut c, "period", unsigned(b));
        put(&mut c, "realtimeRuntime", signed(b));
        put(&mut c, "realtimePeriod", unsigned(b));
        let lists = [
            "", " ", "0", "0-3", "3-0", "0,2-4", "0-1,,3", "x", "0-8191", "0-8192", "-1",
        ];
        put(&mut c, "cpus", text(b, &lists));
        put(&mut c, "mems", text(b, &lists));
        put(&mut c, "idle", signed(b));
        r.insert("cpu".into(), Value::Object(c));
    }
    if present & 16 != 0 {
        let mut io = Map::new();
        let weights: Vec<Value> = [0, 9, 10, 500, 1000, 1001]
            .iter()
            .map(|&n| json!(n))
            .collect();
        put(&mut io, "weight", b.maybe(&weights));
        put(&mut io, "leafWeight", b.maybe(&weights));
        let device = |b: &mut Bytes<'_>, with: &str| {
            let mut d = Map::new();
            let numbers: Vec<Value> = NUMBERS.iter().map(|&n| json!(n)).collect();
            d.insert("major".into(), b.pick(&numbers));
            d.insert("minor".into(), b.pick(&numbers));
            if with == "weight" {
                put(&mut d, "weight", b.maybe(&weights));
                put(&mut d, "leafWeight", b.maybe(&weights));
            } else {
                let rates: Vec<Value> = UNSIGNED.iter().map(|&n| json!(n)).collect();
                d.insert("rate".into(), b.pick(&rates));
            }
            Value::Object(d)
        };
        for (key, with) in [
            ("weightDevice", "weight"),
            ("throttleReadBpsDevice", "rate"),
            ("throttleWriteBpsDevice", "rate"),
            ("throttleReadIOPSDevice", "rate"),
            ("throttleWriteIOPSDevice", "rate"),
        ] {
            if b.byte() & 1 == 1 {
                let list: Vec<Value> = (0..b.byte() % 3).map(|_| device(b, with)).collect();
                io.insert(key.into(), Value::Array(list));
            }
        }
        r.insert("blockIO".into(), Value::Object(io));
    }
    if present & 32 != 0 {
        let keys = [
            "memory.max",
            "memory.high",
            "memory.low",
            "memory.min",
            "memory.swap.max",
            "pids.max",
            "cpu.max",
            "cpu.weight",
            "cpu.idle",
            "io.weight",
            "cpuset.cpus",
            "cpuset.mems",
            "memory.oom.group",
            "hugetlb.2MB.max",
            "cpu.weight.nice",
            "bogus",
            "",
        ];
        let values = [
            "max",
            "0",
            "1",
            "-1",
            "2",
            "10000",
            "10001",
            "100000 50000",
            "max 100000",
            "50000",
            "abc",
            "18446744073709551615",
            "9223372036854775807",
            "1 2 3",
            "0-3",
            "",
        ];
        let mut u = Map::new();
        for _ in 0..b.byte() % 5 {
            let k = b.pick(&keys);
            let v = b.pick(&values);
            u.insert(k.to_owned(), json!(v));
        }
        r.insert("unified".into(), Value::Object(u));
    }
    if present & 64 != 0 {
        r.insert(
            "hugepageLimits".into(),
            json!([{"pageSize": "2MB", "limit": 1}]),
        );
    }
    Value::Object(r)
}
