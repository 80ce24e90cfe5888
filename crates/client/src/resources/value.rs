//! [`PropertyValue`]: a systemd unit property's value in this crate's own terms, so no
//! D-Bus library type is part of the API; [`PropertyPlan`] holds what will be sent.

use std::fmt;

use zbus::zvariant::Value;

use super::Skipped;

/// A unit property's value, in the D-Bus shapes systemd uses for the properties this crate
/// sends and reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyValue {
    /// `b`: a switch (`Delegate`, `MemoryAccounting`).
    Bool(bool),
    /// `u`: a 32-bit number.
    U32(u32),
    /// `i`: a signed 32-bit number.
    I32(i32),
    /// `t`: limits, weights, µs (`u64::MAX` is infinity).
    U64(u64),
    /// `x`: a signed 64-bit number.
    I64(i64),
    /// `s` (and object paths).
    Str(String),
    /// `as`: unit lists (`Wants`).
    Strs(Vec<String>),
    /// `au`: pids.
    U32s(Vec<u32>),
    /// `ay`: cpu and memory-node bitmasks (`AllowedCPUs`).
    Bytes(Vec<u8>),
    /// `a(st)`: per-device numbers (`IOReadBandwidthMax`, `IODeviceWeight`).
    PathU64s(Vec<(String, u64)>),
    /// `a(ss)`: device rules (`DeviceAllow`).
    PathStrs(Vec<(String, String)>),
    /// Any other shape, as D-Bus text (`GVariant` notation).
    Other(String),
}

impl PropertyValue {
    /// The value as a number, for `t`, `u` and non-negative `x`/`i`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            PropertyValue::U64(v) => Some(v),
            PropertyValue::U32(v) => Some(v.into()),
            PropertyValue::I64(v) => u64::try_from(v).ok(),
            PropertyValue::I32(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string, for `s`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropertyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Reads a D-Bus value (unwrapping variants).
    pub(crate) fn from_zvariant(v: &Value<'_>) -> PropertyValue {
        let pairs = |a: &zbus::zvariant::Array<'_>| -> Option<Vec<(String, Value<'static>)>> {
            a.inner()
                .iter()
                .map(|e| match e {
                    Value::Structure(s) => match s.fields() {
                        [Value::Str(p), v] => Some((p.to_string(), v.try_to_owned().ok()?.into())),
                        _ => None,
                    },
                    _ => None,
                })
                .collect()
        };
        match v {
            Value::Value(inner) => PropertyValue::from_zvariant(inner),
            Value::Bool(b) => PropertyValue::Bool(*b),
            Value::U32(n) => PropertyValue::U32(*n),
            Value::I32(n) => PropertyValue::I32(*n),
            Value::U64(n) => PropertyValue::U64(*n),
            Value::I64(n) => PropertyValue::I64(*n),
            Value::Str(s) => PropertyValue::Str(s.to_string()),
            Value::ObjectPath(p) => PropertyValue::Str(p.to_string()),
            Value::Array(a) => {
                let items = a.inner();
                let all = |f: fn(&Value<'_>) -> bool| items.iter().all(f);
                match a.element_signature().to_string().as_str() {
                    "y" => PropertyValue::Bytes(
                        items
                            .iter()
                            .filter_map(|e| match e {
                                Value::U8(b) => Some(*b),
                                _ => None,
                            })
                            .collect(),
                    ),
                    "u" if all(|e| matches!(e, Value::U32(_))) => PropertyValue::U32s(
                        items
                            .iter()
                            .filter_map(|e| match e {
                                Value::U32(n) => Some(*n),
                                _ => None,
                            })
                            .collect(),
                    ),
                    "s" => PropertyValue::Strs(
                        items
                            .iter()
                            .filter_map(|e| match e {
                                Value::Str(s) => Some(s.to_string()),
                                _ => None,
                            })
                            .collect(),
                    ),
                    "(st)" => match pairs(a) {
                        Some(p) => PropertyValue::PathU64s(
                            p.into_iter()
                                .filter_map(|(k, v)| match v {
                                    Value::U64(n) => Some((k, n)),
                                    _ => None,
                                })
                                .collect(),
                        ),
                        None => PropertyValue::Other(v.to_string()),
                    },
                    "(ss)" => match pairs(a) {
                        Some(p) => PropertyValue::PathStrs(
                            p.into_iter()
                                .filter_map(|(k, v)| match v {
                                    Value::Str(s) => Some((k, s.to_string())),
                                    _ => None,
                                })
                                .collect(),
                        ),
                        None => PropertyValue::Other(v.to_string()),
                    },
                    _ => PropertyValue::Other(v.to_string()),
                }
            }
            other => PropertyValue::Other(other.to_string()),
        }
    }
}

impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Bool(v) => write!(f, "{v}"),
            PropertyValue::U32(v) => write!(f, "{v}"),
            PropertyValue::I32(v) => write!(f, "{v}"),
            PropertyValue::U64(v) => write!(f, "{v}"),
            PropertyValue::I64(v) => write!(f, "{v}"),
            PropertyValue::Str(v) | PropertyValue::Other(v) => f.write_str(v),
            PropertyValue::Strs(v) => write!(f, "{v:?}"),
            PropertyValue::U32s(v) => write!(f, "{v:?}"),
            PropertyValue::Bytes(v) => write!(f, "{v:?}"),
            PropertyValue::PathU64s(v) => write!(f, "{v:?}"),
            PropertyValue::PathStrs(v) => write!(f, "{v:?}"),
        }
    }
}

/// A property list ready to send, plus what was left out because this systemd or this
/// cgroup mode has no such property (runc logs and ignores these; we report them).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyPlan {
    /// `(name, value)` pairs in a stable order, in the form they are sent.
    pub(crate) properties: Vec<(&'static str, Value<'static>)>,
    pub(crate) skipped: Vec<Skipped>,
}

impl PropertyPlan {
    /// The property names to send, in the order they are sent.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.properties.iter().map(|(n, _)| *n)
    }

    /// The properties to send with their values, in order.
    pub fn properties(&self) -> Vec<(&'static str, PropertyValue)> {
        self.properties
            .iter()
            .map(|(n, v)| (*n, PropertyValue::from_zvariant(v)))
            .collect()
    }

    /// The value `name` will be sent with, `None` when it is not sent (of a name sent
    /// twice, the last, which is the one systemd keeps).
    pub fn get(&self, name: &str) -> Option<PropertyValue> {
        self.properties
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| PropertyValue::from_zvariant(v))
    }

    /// Properties the input asked for that were left out, with the reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }
}

/// The conversions out of a [`PropertyValue`] of the matching shape; a value of another
/// shape is handed back as the error.
macro_rules! try_from_value {
    ($($variant:ident => $ty:ty),* $(,)?) => {$(
        impl TryFrom<PropertyValue> for $ty {
            type Error = PropertyValue;

            fn try_from(v: PropertyValue) -> Result<$ty, PropertyValue> {
                match v {
                    PropertyValue::$variant(x) => Ok(x),
                    other => Err(other),
                }
            }
        }
    )*};
}

try_from_value! {
    Bool => bool,
    U64 => u64,
    Str => String,
    Strs => Vec<String>,
    U32s => Vec<u32>,
    Bytes => Vec<u8>,
    PathU64s => Vec<(String, u64)>,
    PathStrs => Vec<(String, String)>,
}
