//! The cookie newtype and the per-connection configuration (width and ceiling).

use core::fmt;
use core::num::NonZeroU32;

use crate::Error;

/// A D-Bus message serial: never 0, at most 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cookie(NonZeroU32);

impl Cookie {
    /// `Some` for `1..=0xffffffff`, `None` otherwise.
    pub const fn new(value: u64) -> Option<Cookie> {
        if value > u32::MAX as u64 {
            return None;
        }
        match NonZeroU32::new(value as u32) {
            Some(v) => Some(Cookie(v)),
            None => None,
        }
    }

    /// The serial as a `u32`.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl From<Cookie> for u32 {
    fn from(c: Cookie) -> u32 {
        c.get()
    }
}

impl From<Cookie> for u64 {
    fn from(c: Cookie) -> u64 {
        u64::from(c.get())
    }
}

/// Hexadecimal with a `0x` prefix (`0x80000000`), the way the cycle rule states its edges.
impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.get())
    }
}

/// Width and ceiling of a connection's cookie space.
///
/// Invariant: `2 <= width <= 32` and `cycled < ceiling <= 2^width - 1`, where
/// `cycled = 2^(width-1)`. The default is upstream's: width 32, ceiling `0xffffffff`,
/// cycled `0x80000000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    width: u32,
    ceiling: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config::DEFAULT
    }
}

impl Config {
    /// Upstream's 32-bit cookie space: ceiling `0xffffffff`, cycling to `0x80000000`.
    pub const DEFAULT: Config = Config {
        width: 32,
        ceiling: u32::MAX,
    };

    /// A cookie space of `width` bits (2..=32) with the largest ceiling, `2^width - 1`.
    pub const fn new(width: u32) -> Result<Config, Error> {
        if width < 2 || width > 32 {
            return Err(Error::InvalidWidth(width));
        }
        Ok(Config {
            width,
            ceiling: Self::max_for(width) as u32,
        })
    }

    /// The same width with a lower ceiling, which must lie in `cycled + 1 ..= 2^width - 1`
    /// (for 32 bits: `0x80000001..=0xffffffff`; xdg-dbus-proxy's limit is `0xfffeffff`).
    pub const fn with_ceiling(self, ceiling: u64) -> Result<Config, Error> {
        let max = Self::max_for(self.width);
        let cycled = self.cycled();
        if ceiling <= cycled as u64 || ceiling > max {
            return Err(Error::InvalidCeiling {
                ceiling,
                cycled,
                max,
            });
        }
        Ok(Config {
            width: self.width,
            ceiling: ceiling as u32,
        })
    }

    const fn max_for(width: u32) -> u64 {
        (1u64 << width) - 1
    }

    /// Bits per cookie.
    pub const fn width(&self) -> u32 {
        self.width
    }

    /// The largest cookie handed out; after it comes [`Config::cycled`].
    pub const fn ceiling(&self) -> u32 {
        self.ceiling
    }

    /// The first cookie after a cycle, `2^(width-1)` (`0x80000000` at 32 bits).
    pub const fn cycled(&self) -> u32 {
        1u32 << (self.width - 1)
    }

    /// How many cookies the cycled half holds: `ceiling - cycled + 1`.
    pub const fn cycled_len(&self) -> u64 {
        self.ceiling as u64 - self.cycled() as u64 + 1
    }

    /// upstream's `cookie_inc()`: `x + 1`, or `cycled` once `x` reached the ceiling.
    pub(crate) const fn inc(&self, x: u32) -> u32 {
        if x >= self.ceiling {
            self.cycled()
        } else {
            x + 1
        }
    }

    /// Checks that `k` can be a cookie of this space.
    pub(crate) const fn cookie(&self, k: u64) -> Result<Cookie, Error> {
        if k == 0 {
            return Err(Error::ZeroCookie);
        }
        if k > self.ceiling as u64 {
            return Err(Error::AboveCeiling {
                cookie: k,
                ceiling: self.ceiling,
            });
        }
        match Cookie::new(k) {
            Some(c) => Ok(c),
            // Unreachable: 0 < k <= ceiling <= u32::MAX.
            None => Err(Error::ZeroCookie),
        }
    }
}
