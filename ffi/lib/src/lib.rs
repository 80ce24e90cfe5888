//! The C library as installed: `libsdbus_cookie.a` and `libsdbus_cookie.so.*`.
//!
//! The exported functions are `sdbus-cookie-ffi`'s (the directory above); this crate adds
//! the two things only a final artifact may define, chosen so that linking the library adds
//! nothing to a program but the allocator's own code:
//! - the panic handler: a panic is a bug in the library; it writes one line to stderr and
//!   calls `abort()`, as a failed `assert()` does in systemd. With the `abort` strategy
//!   (Cargo.toml) no unwinder is linked, so the library needs only libc;
//! - the global allocator: the C program's `malloc` family, so that what the program does to
//!   `malloc` (interposing it, a sanitizer, a heap profiler) applies to the library too.
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_int, c_void};
use core::panic::PanicInfo;
use core::ptr;

// The exports, linked in through this use (an unused dependency would not be).
pub use sdbus_cookie_ffi::*;

// libc, named so that the shared object records it (NEEDED) and the archive's users are
// told to link it (rustc's native-static-libs, the .pc file's Libs.private).
#[link(name = "c")]
extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
    fn posix_memalign(p: *mut *mut c_void, align: usize, size: usize) -> c_int;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn abort() -> !;
}

/// The alignment every `malloc` result has: C requires it to suit any fundamental type, and
/// glibc and musl give at least twice the size of a pointer (16 bytes on 64-bit systems).
const MALLOC_ALIGN: usize = 2 * core::mem::size_of::<usize>();

struct Malloc;

#[global_allocator]
static MALLOC: Malloc = Malloc;

// SAFETY: each method returns memory from the C heap that fits `layout` (size, and alignment
// through `malloc`'s guarantee or `posix_memalign`), or NULL, and releases only what the
// same allocator returned, as `GlobalAlloc` requires.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: malloc takes any size.
            return unsafe { malloc(layout.size()) }.cast();
        }
        let mut p = ptr::null_mut();
        // SAFETY: the alignment is a power of two (Layout's invariant) above MALLOC_ALIGN,
        // hence a multiple of the pointer size, as posix_memalign requires; `p` is writable.
        match unsafe { posix_memalign(&mut p, layout.align(), layout.size()) } {
            0 => p.cast(),
            _ => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, _layout: Layout) {
        // SAFETY: `p` came from `alloc` or `realloc` above (GlobalAlloc's contract), i.e.
        // from malloc, realloc or posix_memalign, all of which free releases.
        unsafe { free(p.cast()) }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: `p` came from this allocator with an alignment malloc already gives,
            // and realloc keeps that alignment.
            return unsafe { realloc(p.cast(), new_size) }.cast();
        }
        // realloc does not keep a larger alignment: allocate, copy, release.
        // SAFETY: GlobalAlloc's contract gives a non-zero `new_size` that, rounded up to the
        // alignment, does not overflow; the alignment is the valid one of `layout`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as `alloc` above.
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe { ptr::copy_nonoverlapping(p, q, layout.size().min(new_size)) };
            // SAFETY: `p` came from this allocator with `layout`.
            unsafe { self.dealloc(p, layout) };
        }
        q
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    // No formatting machinery (it would cost the library tens of KiB): the message is the
    // location of the failed check, written piece by piece.
    let mut line = [0u8; 10];
    let (file, digits) = match info.location() {
        Some(at) => (at.file(), decimal(at.line(), &mut line)),
        None => ("unknown location", &b"0"[..]),
    };
    stderr(b"sdbus-cookie: bug: a check failed at ");
    stderr(file.as_bytes());
    stderr(b":");
    stderr(digits);
    stderr(b"; aborting\n");
    // SAFETY: abort takes no arguments and never returns.
    unsafe { abort() }
}

/// `n` in decimal, in the tail of `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// Best effort: the process is about to abort, so a short or failed write is not retried.
fn stderr(bytes: &[u8]) {
    // SAFETY: `bytes` is readable for its length; fd 2 may be closed, which write reports.
    unsafe { write(2, bytes.as_ptr().cast(), bytes.len()) };
}
