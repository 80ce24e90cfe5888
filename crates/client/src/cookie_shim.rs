//! Temporary stand-in for `sdbus-cookie` (the lead's crate lands on main later).
//! Implements only the part of the HELPERS.md spec this crate uses, with the same
//! names, so switching to the real crate is an import change. Delete on merge.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::num::NonZeroU32;

const CEIL: u64 = 0xffff_ffff;
const CYCLED: u64 = 0x8000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie(NonZeroU32);
impl Cookie {
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    Busy,
    ZeroCookie,
    AboveCeiling { cookie: u64, ceiling: u32 },
    AlreadyPending(Cookie),
    NotPending(Cookie),
}
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for Error {}

#[derive(Debug, Default)]
pub struct Allocator {
    current: u64,
    pending: BTreeSet<u64>,
    quarantined: BTreeSet<u64>,
}
impl Allocator {
    pub fn new() -> Self {
        Self::default()
    }
    fn check(k: u64) -> Result<Cookie, Error> {
        if k == 0 {
            return Err(Error::ZeroCookie);
        }
        if k > CEIL {
            return Err(Error::AboveCeiling { cookie: k, ceiling: CEIL as u32 });
        }
        Ok(Cookie(NonZeroU32::new(k as u32).unwrap()))
    }
    pub fn next(&mut self) -> Result<Cookie, Error> {
        let inc = |x: u64| if x >= CEIL { CYCLED } else { x + 1 };
        let mut n = inc(self.current);
        let start = n;
        while self.pending.contains(&n) {
            n = inc(n);
            if n == start {
                return Err(Error::Busy);
            }
        }
        self.current = n;
        Self::check(n)
    }
    pub fn current(&self) -> u64 {
        self.current
    }
    pub fn has_cycled(&self) -> bool {
        self.current >= CYCLED
    }
    pub fn observe_sealed(&mut self, k: u64) -> Result<(), Error> {
        Self::check(k)?;
        self.current = self.current.max(k);
        Ok(())
    }
    pub fn insert_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = Self::check(k)?;
        if !self.pending.insert(k) {
            return Err(Error::AlreadyPending(c));
        }
        Ok(())
    }
    pub fn remove_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = Self::check(k)?;
        if !self.pending.remove(&k) {
            return Err(Error::NotPending(c));
        }
        self.quarantined.remove(&k);
        Ok(())
    }
    pub fn quarantine(&mut self, k: u64) -> Result<(), Error> {
        let c = Self::check(k)?;
        if !self.pending.contains(&k) {
            return Err(Error::NotPending(c));
        }
        self.quarantined.insert(k);
        Ok(())
    }
    pub fn is_pending(&self, k: u64) -> bool {
        self.pending.contains(&k)
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
    pub fn quarantined_len(&self) -> usize {
        self.quarantined.len()
    }
}
