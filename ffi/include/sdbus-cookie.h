/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * sdbus-cookie: sd-bus's fixed message-cookie (D-Bus serial) rule, as a C library.
 *
 * D-Bus serials are 32 bits. Before systemd v242, sd-bus kept a 64-bit counter and, after
 * 2^32 messages on one connection, could no longer seal any message (-EOPNOTSUPP).
 * systemd v242 (PR #11818) fixed it; this library implements the fixed rule:
 *
 *   next = (current >= ceiling) ? 0x80000000 : current + 1
 *
 * i.e. cookies stay in 32 bits and, after the ceiling (0xffffffff unless configured), jump
 * to 0x80000000: the high bit marks "has cycled". From then on a cookie still awaiting a
 * reply is skipped; if every cycled cookie (0x80000000..ceiling) is in use, -EBUSY.
 * A cookie is never 0 and never above the ceiling.
 *
 * Conventions (the same as systemd's own C):
 *   - Functions returning int return 0 (or, where documented, 1/0 or a count) on success
 *     and a negative errno on failure. They never set errno.
 *   - A NULL pointer where an object is required is -EINVAL, never a crash.
 *     sdbus_cookie_allocator_free(NULL) is a no-op.
 *   - A bug inside this library (a failed internal check, a Rust panic) writes one line to
 *     stderr and aborts the process, as a failed assert() does in systemd. It never
 *     unwinds into C and is never reported as an error code: linking the library needs no
 *     unwinder (only libc; pkg-config --static --libs says so).
 *   - Output parameters are written only on success.
 *   - Cookies are passed as uint64_t, as sd-bus stores them; valid cookies are in
 *     1..0xffffffff (1..ceiling for an allocator with a lower ceiling).
 *
 * Threading: the library has no global mutable state. sdbus_cookie_next*() and
 * sdbus_cookie_version() may be called from any thread at any time. One allocator handle
 * must not be used from two threads at once (like an sd_bus object); callers serialise
 * access themselves. Different handles are independent. A handle may be moved between
 * threads.
 *
 * Memory: nothing in this library aborts when the heap is exhausted. Only handle creation,
 * sdbus_cookie_allocator_pending_add() and sdbus_cookie_allocator_quarantine() allocate,
 * and they report it (NULL / -ENOMEM, state unchanged). Everything else — _next(),
 * _pending_remove() (even when it splits a run of pending cookies in two),
 * _release_quarantined(), _observe_sealed(), _free() — never allocates: the pending set
 * always keeps room for as many runs as it has cookies (8 bytes per pending cookie).
 *
 * Link: pkg-config --cflags --libs sdbus-cookie  (static: add --static)
 */
#ifndef SDBUS_COOKIE_H
#define SDBUS_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version of this header; sdbus_cookie_version() returns the library's. The ABI version is
 * MAJOR from 1.0 on and 0.MINOR before (in 0.x a minor release may change the ABI): the
 * shared library's soname is libsdbus_cookie.so.<ABI> (libsdbus_cookie.so.0.1 for 0.1.x), so
 * a program linked against one ABI never loads another.
 */
#define SDBUS_COOKIE_VERSION_MAJOR 0
#define SDBUS_COOKIE_VERSION_MINOR 1
#define SDBUS_COOKIE_VERSION_PATCH 0
#define SDBUS_COOKIE_VERSION_STRING "0.1.0"

/* The largest cookie (D-Bus serials are 32 bits) and the first cookie after a cycle. */
#define SDBUS_COOKIE_MAX UINT64_C(0xffffffff)
#define SDBUS_COOKIE_CYCLED UINT64_C(0x80000000)

/*
 * The version of the linked library, e.g. "0.1.0".
 *
 * Returns a static NUL-terminated string; never NULL; the caller must not free it.
 * Thread-safe.
 */
const char *sdbus_cookie_version(void);

/* ------------------------------------------------------------------------------------
 * 1. Stateless: a drop-in for sd-bus's next_cookie() (systemd v242+).
 * ------------------------------------------------------------------------------------ */

/*
 * Predicate for sdbus_cookie_next(): return true if `cookie` is still awaiting a reply
 * (sd-bus: it is a key of bus->reply_callbacks), false if it may be reused.
 * `userdata` is passed through untouched. It must not unwind (no C++ exception, no
 * longjmp out of it) and must not touch the `*cookie` of the call that invoked it.
 */
typedef bool (*sdbus_cookie_in_use_t)(uint64_t cookie, void *userdata);

/*
 * Advances *cookie to the next cookie, exactly like sd-bus's next_cookie() in systemd
 * v242+: `in_use` is consulted only for candidates >= 0x80000000 (before the first cycle
 * no cookie can be reused, so the fast path costs no lookup); an in-use candidate is
 * skipped. It is called at most 2^31 times per call, synchronously, on the calling thread.
 *
 * cookie:   in: the connection's current cookie (0 before any message); out: the new one.
 *           Owned by the caller. Written only on success.
 * in_use:   the predicate above; required.
 * userdata: passed to in_use; may be NULL.
 *
 * Returns 0 on success, or:
 *   -EBUSY   every cycled cookie is in use (in_use said yes 2^31 times); *cookie unchanged.
 *   -EINVAL  cookie or in_use is NULL, or *cookie > 0xffffffff.
 * Thread-safe (it touches only *cookie and whatever in_use touches).
 */
int sdbus_cookie_next(uint64_t *cookie, bool (*in_use)(uint64_t cookie, void *userdata), void *userdata);

/*
 * sdbus_cookie_next() with its fast path inline in the caller. While *cookie < 0x7fffffff
 * the next cookie is *cookie + 1 and nothing is looked up (upstream sd-bus does the same:
 * it consults reply_callbacks only once bit 31 is set), so this is an add and a compare;
 * from 0x7fffffff on, and for every argument error, it calls sdbus_cookie_next().
 *
 * Same contract, returns and errors as sdbus_cookie_next(). Use it where the price of the
 * call matters: a function in a static library cannot be inlined without LTO, and the call
 * costs about 6 cycles per cookie against 1-2 inline (benches/README.md, question 1).
 */
static inline int sdbus_cookie_next_inline(uint64_t *cookie,
                                           bool (*in_use)(uint64_t cookie, void *userdata),
                                           void *userdata) {
        if (cookie && in_use && *cookie < SDBUS_COOKIE_CYCLED - 1) {
                *cookie += 1;
                return 0;
        }
        return sdbus_cookie_next(cookie, in_use, userdata);
}

/*
 * As sdbus_cookie_next(), with a lower ceiling: cookies go up to `ceiling` and then cycle
 * to 0x80000000 (e.g. 0xfffeffff, the largest serial xdg-dbus-proxy accepts). With
 * ceiling == 0xffffffff it is exactly sdbus_cookie_next().
 *
 * Returns 0 on success, or:
 *   -EBUSY   every cookie in 0x80000000..ceiling is in use; *cookie unchanged.
 *   -EINVAL  cookie or in_use is NULL; ceiling not in 0x80000001..0xffffffff;
 *            or *cookie > ceiling.
 * Thread-safe.
 */
int sdbus_cookie_next_with_ceiling(uint64_t *cookie, uint64_t ceiling,
                                   bool (*in_use)(uint64_t cookie, void *userdata), void *userdata);

/* ------------------------------------------------------------------------------------
 * 2. Stateful: an allocator that owns the set of pending cookies. next() costs
 *    O(log n) in the number n of pending cookies, never O(length of a pending run).
 * ------------------------------------------------------------------------------------ */

/* Opaque. Create with sdbus_cookie_allocator_new*(), release with _free(). */
typedef struct sdbus_cookie_allocator sdbus_cookie_allocator;

/*
 * A new allocator: ceiling 0xffffffff, current cookie 0, nothing pending.
 *
 * Returns the handle, owned by the caller (release it with sdbus_cookie_allocator_free()),
 * or NULL if memory is exhausted (or on an internal bug).
 */
sdbus_cookie_allocator *sdbus_cookie_allocator_new(void);

/*
 * A new allocator whose cookies cycle from `ceiling` back to 0x80000000.
 *
 * ret: out: the new handle, owned by the caller; written only on success.
 *
 * Returns 0 on success, or:
 *   -EINVAL  ret is NULL, or ceiling is not in 0x80000001..0xffffffff.
 *   -ENOMEM  memory is exhausted.
 */
int sdbus_cookie_allocator_new_with_ceiling(uint64_t ceiling, sdbus_cookie_allocator **ret);

/*
 * Releases the allocator and everything it owns. NULL is a no-op. The handle must not be
 * used afterwards. Never fails.
 */
void sdbus_cookie_allocator_free(sdbus_cookie_allocator *a);

/*
 * Hands out the next cookie: never 0, never above the ceiling, never a pending one; it
 * becomes the current cookie. Handing a cookie out does not make it pending: call
 * sdbus_cookie_allocator_pending_add() if a reply is expected.
 *
 * ret: out: the cookie; written only on success.
 *
 * Returns 0 on success, or:
 *   -EBUSY   every cookie in 0x80000000..ceiling is pending; state unchanged.
 *   -EINVAL  a or ret is NULL.
 */
int sdbus_cookie_allocator_next(sdbus_cookie_allocator *a, uint64_t *ret);

/*
 * Marks `cookie` as awaiting a reply: _next() skips it until it is removed.
 *
 * Returns 0 on success, or:
 *   -ENOMEM  the pending set could not grow; state unchanged (the cookie is not pending).
 *   -EEXIST  cookie is already pending.
 *   -EINVAL  a is NULL, cookie is 0, or cookie is above the ceiling.
 */
int sdbus_cookie_allocator_pending_add(sdbus_cookie_allocator *a, uint64_t cookie);

/*
 * The reply for `cookie` arrived (or the call was abandoned): it may be handed out again.
 * Removing a quarantined cookie also ends its quarantine (its late reply arrived).
 * Never allocates, so never fails for a pending cookie on a live handle.
 *
 * Returns 0 on success, or:
 *   -ENOENT  cookie is not pending.
 *   -EINVAL  a is NULL, cookie is 0, or cookie is above the ceiling.
 */
int sdbus_cookie_allocator_pending_remove(sdbus_cookie_allocator *a, uint64_t cookie);

/*
 * The call with the pending `cookie` timed out locally, but the peer or broker may still
 * hold it: keep it reserved (still pending, not reused) until its late reply
 * (_pending_remove) or the disconnect (_release_quarantined). Quarantining a cookie that
 * is already quarantined succeeds and changes nothing.
 *
 * Returns 0 on success, or:
 *   -ENOMEM  the quarantine could not grow; state unchanged.
 *   -ENOENT  cookie is not pending.
 *   -EINVAL  a is NULL, cookie is 0, or cookie is above the ceiling.
 */
int sdbus_cookie_allocator_quarantine(sdbus_cookie_allocator *a, uint64_t cookie);

/*
 * The connection went away: every quarantined cookie stops being pending.
 *
 * ret_count: out, optional (may be NULL): how many cookies were released.
 *
 * Returns 0 on success, or:
 *   -EINVAL  a is NULL.
 */
int sdbus_cookie_allocator_release_quarantined(sdbus_cookie_allocator *a, size_t *ret_count);

/*
 * A message the caller sealed itself with `cookie` was sent (sd-bus adopts such
 * cookies): the current cookie becomes max(current, cookie).
 *
 * Returns 0 on success, or:
 *   -EINVAL  a is NULL, cookie is 0, or cookie is above the ceiling.
 */
int sdbus_cookie_allocator_observe_sealed(sdbus_cookie_allocator *a, uint64_t cookie);

/*
 * The current cookie: the last one handed out or observed, 0 before any.
 * Returns 0 if a is NULL.
 */
uint64_t sdbus_cookie_allocator_current(const sdbus_cookie_allocator *a);

/*
 * The allocator's ceiling (0xffffffff unless created with _new_with_ceiling()).
 * Returns 0 if a is NULL.
 */
uint64_t sdbus_cookie_allocator_ceiling(const sdbus_cookie_allocator *a);

/*
 * Number of pending cookies, quarantined ones included.
 * Returns 0 if a is NULL.
 */
size_t sdbus_cookie_allocator_pending_count(const sdbus_cookie_allocator *a);

/*
 * Number of quarantined cookies.
 * Returns 0 if a is NULL.
 */
size_t sdbus_cookie_allocator_quarantined_count(const sdbus_cookie_allocator *a);

/*
 * Returns 1 if `cookie` is pending (quarantined ones included), 0 if not (also for 0 or a
 * cookie above the ceiling), or:
 *   -EINVAL  a is NULL.
 */
int sdbus_cookie_allocator_is_pending(const sdbus_cookie_allocator *a, uint64_t cookie);

/*
 * Returns 1 if `cookie` is quarantined, 0 if not, or:
 *   -EINVAL  a is NULL.
 */
int sdbus_cookie_allocator_is_quarantined(const sdbus_cookie_allocator *a, uint64_t cookie);

#ifdef __cplusplus
}
#endif

#endif /* SDBUS_COOKIE_H */
