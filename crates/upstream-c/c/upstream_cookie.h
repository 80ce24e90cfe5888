/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * upstream_cookie.h: our own C re-implementation of the two message-cookie
 * algorithms of systemd's sd-bus, kept as the reference that the Rust
 * allocator (crate sdbus-cookie) is differentially tested and benched against.
 *
 * Written for this project from the upstream *behaviour*; no upstream code is
 * copied. Facts and where they come from (systemd/systemd):
 *
 *  - pre-v242, src/libsystemd/sd-bus/sd-bus.c, bus_seal_message(): a message
 *    that is not sealed yet gets `++b->cookie` (a 64-bit counter) passed to
 *    the seal; src/libsystemd/sd-bus/bus-message.c, sd_bus_message_seal():
 *    a cookie above 0xffffffff on a dbus1 (non-GVariant) message fails with
 *    -EOPNOTSUPP. The counter has already been incremented, so every later
 *    message fails too: the incident of systemd issue #11809.
 *
 *  - v242+, commit 1f82f5bb4237ed5f015daf93f818e9db95e764b8, PR #11818
 *    "sd-bus: deal with cookie overruns": cookie_inc() maps anything
 *    >= UINT32_MAX to COOKIE_CYCLED (1 << 31) and otherwise adds one;
 *    next_cookie() takes cookie_inc(b->cookie) and, only if that candidate has
 *    the COOKIE_CYCLED bit set, checks it against b->reply_callbacks, stepping
 *    with cookie_inc() at most COOKIE_CYCLED times; if every candidate is in
 *    use it returns -EBUSY and leaves b->cookie unchanged.
 *
 *  - both eras, bus_seal_message(): sending a message the caller sealed
 *    itself does `b->cookie = MAX(b->cookie, BUS_MESSAGE_COOKIE(m))`
 *    ("if we copy the same message to multiple destinations, avoid using the
 *    same cookie numbers"). sd_bus_message_seal() does not reject cookie 0.
 *
 * Generalised width: uc_params carries `cycled` and `ceiling` so that tiny
 * widths can be model-checked. uc_params_default() is exactly upstream:
 * cycled = 0x80000000, ceiling = 0xffffffff, and then
 *   cookie_inc(x)  = x >= ceiling ? cycled : x + 1
 *   "cycled" test  = (candidate & cycled) == cycled   (upstream FLAGS_SET)
 *   loop bound     = ceiling - cycled + 1 = 0x80000000 (upstream COOKIE_CYCLED)
 *
 * Conventions (sd-bus dialect): functions return 0 (or a documented positive
 * value) on success and a negative errno on failure. Pointers must not be NULL
 * unless stated. Nothing here is thread-safe; one object per thread.
 */
#ifndef UPSTREAM_COOKIE_H
#define UPSTREAM_COOKIE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The errno values this API returns, exported so bindings need no libc. */
enum uc_errno {
        UC_EBUSY = EBUSY,
        UC_EINVAL = EINVAL,
        UC_ENOMEM = ENOMEM,
        UC_EOPNOTSUPP = EOPNOTSUPP,
        UC_ECANCELED = ECANCELED,
};

/* Upstream's constants: COOKIE_CYCLED and the 32-bit ceiling (UINT32_MAX). */
#define UC_COOKIE_CYCLED UINT64_C(0x80000000)
#define UC_COOKIE_CEILING UINT64_C(0xffffffff)

/* ---- parameters ------------------------------------------------------- */

typedef struct uc_params {
        uint64_t cycled;  /* 1 << (width - 1): the "cycled" bit */
        uint64_t ceiling; /* last cookie before the jump back to cycled */
        uint64_t max;     /* (1 << width) - 1: largest cookie a seal accepts */
} uc_params;

/* Upstream's 32-bit parameters. */
uc_params uc_params_default(void);

/* Parameters for `width` in 2..=32 and `ceiling` in (cycled, 2^width - 1];
 * ceiling 0 means 2^width - 1. Returns 0, or -EINVAL (ret untouched). */
int uc_params_width(unsigned width, uint64_t ceiling, uc_params *ret);

/* ---- v242+ (PR #11818) ------------------------------------------------ */

/* upstream cookie_inc(). */
uint64_t uc_cookie_inc(const uc_params *p, uint64_t cookie);

/* Is `cookie` in use (awaiting a reply)? Return > 0 yes, 0 no, < 0 to abort
 * the search with that negative errno. */
typedef int (*uc_in_use_fn)(uint64_t cookie, void *userdata);

/* Stateless upstream next_cookie(): the cookie that follows `current`.
 * `in_use` is called only for candidates with the cycled bit set.
 * Returns 0 and stores the cookie in *ret, -EBUSY if every candidate of the
 * cycled range is in use, or the callback's negative errno. */
int uc_next_cookie(const uc_params *p, uint64_t current, uc_in_use_fn in_use, void *userdata,
                   uint64_t *ret);

/* A connection: b->cookie plus a hash set standing in for b->reply_callbacks.
 * Owned by the caller of uc_v242_new*(), released with uc_v242_free(). */
typedef struct uc_v242 uc_v242;

/* Returns NULL on allocation failure. */
uc_v242 *uc_v242_new(const uc_params *p);
/* NULL is a no-op. */
void uc_v242_free(uc_v242 *b);

/* bus_seal_message() for an unsealed message: next_cookie(), then the seal.
 * Returns 0 and the new cookie in *ret, or -EBUSY (state unchanged). */
int uc_v242_next(uc_v242 *b, uint64_t *ret);
/* bus_seal_message() for a message the caller sealed with `cookie`:
 * b->cookie = MAX(b->cookie, cookie). A cookie above p->max cannot have been
 * sealed (sd_bus_message_seal: -EOPNOTSUPP), so it is refused, state unchanged. */
int uc_v242_observe_sealed(uc_v242 *b, uint64_t cookie);
uint64_t uc_v242_current(const uc_v242 *b);
uc_params uc_v242_params(const uc_v242 *b);

/* reply_callbacks: 1 inserted / removed, 0 already present / absent, -ENOMEM. */
int uc_v242_pending_add(uc_v242 *b, uint64_t cookie);
int uc_v242_pending_remove(uc_v242 *b, uint64_t cookie);
bool uc_v242_pending_contains(const uc_v242 *b, uint64_t cookie);
size_t uc_v242_pending_len(const uc_v242 *b);

/* ---- pre-v242 ----------------------------------------------------------- */

/* A connection before v242: only the 64-bit counter. Plain value, no heap;
 * zero-initialise or use uc_legacy_init(). */
typedef struct uc_legacy {
        uint64_t cookie;
} uc_legacy;

void uc_legacy_init(uc_legacy *b);
/* `++b->cookie`, then the seal: returns 0 and the cookie in *ret, or
 * -EOPNOTSUPP once it exceeds 0xffffffff; *ret is the (unsealable) cookie in
 * both cases and the counter stays advanced, as upstream's did. */
int uc_legacy_next(uc_legacy *b, uint64_t *ret);
/* MAX rule; a cookie above 0xffffffff cannot be sealed: -EOPNOTSUPP, no change. */
int uc_legacy_observe_sealed(uc_legacy *b, uint64_t cookie);

#ifdef __cplusplus
}
#endif

#endif
