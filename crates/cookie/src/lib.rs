//! sd-bus's message-cookie rule, fixed, fast in the worst case, and checked.
//!
//! Every D-Bus message carries a 32-bit serial (sd-bus calls it the *cookie*). Before
//! systemd v242, sd-bus kept a 64-bit counter and sealed each message with `++cookie`;
//! after 2^32 messages sealing failed with `-EOPNOTSUPP`, and PID 1 could no longer send
//! anything on the bus (systemd#11809, runc#1959). systemd PR #11818 ("sd-bus: deal with
//! cookie overruns", v242) fixed it with the rule this crate implements.
//!
//! # The cycle rule
//!
//! Per connection the state is the last cookie `c` (0 before the first message) and the
//! set `P` of cookies still awaiting a reply. With `CEIL = 0xffffffff` and
//! `CYCLED = 0x80000000`:
//!
//! * `inc(x) = if x >= CEIL { CYCLED } else { x + 1 }` — the counter never returns to 0;
//!   after `0xffffffff` it jumps to `0x80000000`, and the high bit marks "has cycled".
//! * `next()`: `n = inc(c)`; while `n ∈ P`, `n = inc(n)`; if every cookie the walk can
//!   reach is in `P` (in every state sd-bus can reach: every one of the 2^31 cycled
//!   cookies), the result is [`Error::Busy`] (C: `-EBUSY`) and `c` is unchanged;
//!   otherwise `c = n` and `n` is returned. It never returns 0, never a value above `CEIL`,
//!   never a cookie in `P`.
//! * `observe_sealed(k)`: a message the caller sealed itself with cookie `k` was sent, so
//!   `c = max(c, k)` (upstream's `MAX` rule in `bus_seal_message()`); `k = 0` or
//!   `k > CEIL` is an error, never a silent clamp.
//!
//! Upstream consults `P` only once bit 31 is set. Before the first cycle every pending
//! cookie was issued earlier and so lies at or below `c`, so skipping "every `n ∈ P`" gives
//! the same outputs in every state sd-bus can reach; in the states it cannot reach
//! (someone marked a cookie above `c` pending before the first cycle) this crate still never
//! hands out a pending cookie, where upstream would.
//!
//! # Beyond upstream
//!
//! * Every operation — `next()`, [`Allocator::insert_pending`],
//!   [`Allocator::remove_pending`], [`Allocator::quarantine`] — costs O(log |P|) in the worst
//!   case: `P` is kept as maximal runs of consecutive cookies in a B+tree, so a run of a
//!   million pending cookies is skipped in one step, where upstream probes its hash table
//!   a million times. Before the walk can meet a pending cookie, the fast path is one add
//!   and one compare, without allocation.
//! * An exhausted heap is an error, never an abort: only [`Allocator::insert_pending`] and
//!   [`Allocator::quarantine`] allocate, and they return [`Error::OutOfMemory`] with nothing
//!   changed. Removals never allocate: the tree's nodes live in arenas that always have
//!   room for every state removals alone can reach (a removal can split a run). That costs
//!   8 bytes per run in half-full leaves at most: about 12 bytes per scattered pending
//!   cookie, 8 per cookie of a long run, whose every subset removals can reach.
//! * The ceiling is configurable (e.g. `0xfffeffff`, which xdg-dbus-proxy enforces); the
//!   cycle rule is the same with `CEIL` replaced.
//! * A cookie whose call timed out locally can be *quarantined*: it stays reserved until its
//!   late reply arrives or the connection goes away, because the broker keeps
//!   (sender, serial) pending without expiry and would reject a duplicate.
//! * The width is a parameter ([`Config::new`]) so tiny widths can be model-checked
//!   exhaustively; 32 is the default.
//! * [`LegacyAllocator`] reproduces pre-v242 behaviour, for reproducing the incident and for
//!   benches only.
//!
//! # Example
//!
//! ```
//! use sdbus_cookie::{Allocator, Error};
//!
//! let mut a = Allocator::new();
//! assert_eq!(a.next()?.get(), 1);
//!
//! // A message sealed by the caller with the last 32-bit cookie was sent.
//! a.observe_sealed(0xffff_ffff)?;
//! // A call is awaiting its reply on 0x80000000, so the cycled counter skips it.
//! a.insert_pending(0x8000_0000)?;
//! assert_eq!(a.next()?.get(), 0x8000_0001);
//! assert!(a.has_cycled());
//! # Ok::<(), Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

mod allocator;
mod config;
mod error;
mod legacy;
mod runs;
mod stateless;

pub use allocator::Allocator;
pub use config::{Config, Cookie};
pub use error::Error;
pub use legacy::LegacyAllocator;
pub use stateless::next_cookie;

// The README's example is compiled and run as a doc test, so the published page cannot
// drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
