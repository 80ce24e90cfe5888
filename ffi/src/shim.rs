//! TEMPORARY stand-in for the `sdbus-cookie` crate, written against the API spec in
//! HELPERS.md so the C ABI can be built before the allocator lands on main. It is replaced
//! by `sdbus_cookie` itself as soon as that crate exists; nothing outside `lib.rs`'s import
//! line refers to this module.
#![allow(dead_code, missing_docs)]

extern crate alloc;
use alloc::collections::BTreeSet;
use core::num::NonZeroU32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie(NonZeroU32);
impl Cookie {
    pub fn new(v: u64) -> Option<Cookie> {
        u32::try_from(v).ok().and_then(NonZeroU32::new).map(Cookie)
    }
    pub fn get(self) -> u32 {
        self.0.get()
    }
}
impl From<Cookie> for u64 {
    fn from(c: Cookie) -> u64 {
        c.get().into()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    width: u32,
    ceiling: u32,
    cycled: u32,
}
impl Config {
    pub const DEFAULT: Config = Config {
        width: 32,
        ceiling: 0xffff_ffff,
        cycled: 0x8000_0000,
    };
    pub fn new(width: u32) -> Result<Config, Error> {
        if !(2..=32).contains(&width) {
            return Err(Error::InvalidWidth(width));
        }
        let ceiling = ((1u64 << width) - 1) as u32;
        Ok(Config {
            width,
            ceiling,
            cycled: 1 << (width - 1),
        })
    }
    pub fn with_ceiling(self, ceiling: u64) -> Result<Config, Error> {
        let max = (1u64 << self.width) - 1;
        if ceiling <= u64::from(self.cycled) || ceiling > max {
            return Err(Error::InvalidCeiling {
                ceiling,
                cycled: self.cycled,
                max,
            });
        }
        Ok(Config {
            ceiling: ceiling as u32,
            ..self
        })
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn ceiling(&self) -> u32 {
        self.ceiling
    }
    pub fn cycled(&self) -> u32 {
        self.cycled
    }
    fn inc(&self, x: u64) -> u64 {
        if x >= u64::from(self.ceiling) {
            self.cycled.into()
        } else {
            x + 1
        }
    }
    fn check(&self, k: u64) -> Result<Cookie, Error> {
        if k == 0 {
            return Err(Error::ZeroCookie);
        }
        if k > u64::from(self.ceiling) {
            return Err(Error::AboveCeiling {
                cookie: k,
                ceiling: self.ceiling,
            });
        }
        Ok(Cookie::new(k).expect("checked"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    Busy,
    ZeroCookie,
    AboveCeiling { cookie: u64, ceiling: u32 },
    AlreadyPending(Cookie),
    NotPending(Cookie),
    InvalidWidth(u32),
    InvalidCeiling { ceiling: u64, cycled: u32, max: u64 },
    Overflow { cookie: u64 },
}
impl Error {
    pub fn errno(&self) -> i32 {
        match self {
            Error::Busy => 16,
            Error::AlreadyPending(_) => 17,
            Error::NotPending(_) => 2,
            Error::Overflow { .. } => 95,
            _ => 22,
        }
    }
}

pub fn next_cookie(
    current: u64,
    config: &Config,
    mut in_use: impl FnMut(u32) -> bool,
) -> Result<Cookie, Error> {
    if current > u64::from(config.ceiling) {
        return Err(Error::AboveCeiling {
            cookie: current,
            ceiling: config.ceiling,
        });
    }
    let mut n = config.inc(current);
    if n >= u64::from(config.cycled) {
        let lap = u64::from(config.ceiling) - u64::from(config.cycled) + 1;
        for _ in 0..lap {
            if !in_use(n as u32) {
                return Ok(Cookie::new(n).expect("nonzero"));
            }
            n = config.inc(n);
        }
        return Err(Error::Busy);
    }
    Ok(Cookie::new(n).expect("nonzero"))
}

#[derive(Debug, Clone)]
pub struct Allocator {
    config: Config,
    current: u64,
    pending: BTreeSet<u32>,
    quarantined: BTreeSet<u32>,
}
impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}
impl Allocator {
    pub fn new() -> Allocator {
        Self::with_config(Config::DEFAULT)
    }
    pub fn with_config(config: Config) -> Allocator {
        Allocator {
            config,
            current: 0,
            pending: BTreeSet::new(),
            quarantined: BTreeSet::new(),
        }
    }
    pub fn config(&self) -> Config {
        self.config
    }
    pub fn next(&mut self) -> Result<Cookie, Error> {
        // Unlike next_cookie, the pending set is consulted below the cycled bit too.
        let cfg = self.config;
        let lap = u64::from(cfg.ceiling) - u64::from(cfg.cycled) + 1;
        let mut n = cfg.inc(self.current);
        let mut cycled_seen = 0u64;
        while self.pending.contains(&(n as u32)) {
            if n >= u64::from(cfg.cycled) {
                cycled_seen += 1;
                if cycled_seen >= lap {
                    return Err(Error::Busy);
                }
            }
            n = cfg.inc(n);
        }
        self.current = n;
        Ok(Cookie::new(n).expect("nonzero"))
    }
    pub fn current(&self) -> u64 {
        self.current
    }
    pub fn has_cycled(&self) -> bool {
        self.current >= u64::from(self.config.cycled)
    }
    pub fn observe_sealed(&mut self, k: u64) -> Result<(), Error> {
        self.config.check(k)?;
        self.current = self.current.max(k);
        Ok(())
    }
    pub fn insert_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.check(k)?;
        if !self.pending.insert(c.get()) {
            return Err(Error::AlreadyPending(c));
        }
        Ok(())
    }
    pub fn remove_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.check(k)?;
        if !self.pending.remove(&c.get()) {
            return Err(Error::NotPending(c));
        }
        self.quarantined.remove(&c.get());
        Ok(())
    }
    pub fn quarantine(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.check(k)?;
        if !self.pending.contains(&c.get()) {
            return Err(Error::NotPending(c));
        }
        self.quarantined.insert(c.get());
        Ok(())
    }
    pub fn release_quarantined(&mut self) -> usize {
        let n = self.quarantined.len();
        for k in core::mem::take(&mut self.quarantined) {
            self.pending.remove(&k);
        }
        n
    }
    pub fn is_pending(&self, k: u64) -> bool {
        u32::try_from(k).is_ok_and(|k| self.pending.contains(&k))
    }
    pub fn is_quarantined(&self, k: u64) -> bool {
        u32::try_from(k).is_ok_and(|k| self.quarantined.contains(&k))
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
    pub fn quarantined_len(&self) -> usize {
        self.quarantined.len()
    }
}
