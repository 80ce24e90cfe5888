//! Pre-v242 behaviour, kept only to reproduce the incident and to bench against.

use crate::{Cookie, Error};

/// sd-bus before v242: `sd_bus_message_seal(m, ++b->cookie, ...)` with a 64-bit counter,
/// and sealing a classic D-Bus message fails with `-EOPNOTSUPP` once the cookie exceeds
/// `0xffffffff`. The counter advances on every attempt, so once past the edge every
/// further message fails: the connection can no longer send anything.
///
/// Do not use this to allocate real serials.
#[derive(Clone, Debug, Default)]
pub struct LegacyAllocator {
    counter: u64,
}

impl LegacyAllocator {
    /// A fresh connection's counter (the first cookie is 1).
    pub fn new() -> LegacyAllocator {
        LegacyAllocator { counter: 0 }
    }

    /// `++counter`; [`Error::Overflow`] once it no longer fits 32 bits.
    #[allow(clippy::should_implement_trait)] // `next()` is the contract's name (docs/ARCHITECTURE.md §3); not an iterator: it fails
    pub fn next(&mut self) -> Result<Cookie, Error> {
        self.counter = self.counter.saturating_add(1);
        Cookie::new(self.counter).ok_or(Error::Overflow {
            cookie: self.counter,
        })
    }

    /// The counter's value: the last cookie handed out, or attempted past the edge.
    pub fn current(&self) -> u64 {
        self.counter
    }

    /// A message sealed by the caller with cookie `k` was sent: `counter = max(counter, k)`.
    /// `k` must be a valid 32-bit serial.
    pub fn observe_sealed(&mut self, k: u64) -> Result<(), Error> {
        if k == 0 {
            return Err(Error::ZeroCookie);
        }
        if k > u64::from(u32::MAX) {
            return Err(Error::AboveCeiling {
                cookie: k,
                ceiling: u32::MAX,
            });
        }
        self.counter = self.counter.max(k);
        Ok(())
    }
}
