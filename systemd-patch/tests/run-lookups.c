/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the cookie after a run of pending calls costs inside sd-bus: the number of
 * reply_callbacks lookups next_cookie() makes, counted in the real sd-bus code.
 *
 * Upstream's next_cookie() (v242+, PR #11818) and the minimal patch's sdbus_cookie_next()
 * ask reply_callbacks about every candidate once the counter has looped, so a new call right
 * after a run of k pending cookies costs k lookups. The stateful patch asks the allocator,
 * which keeps the pending cookies as runs: no reply_callbacks lookup at all.
 *
 * How:
 *   - The program is linked against the build's internal static libraries
 *     (libsystemd_static.a, libbasic.a: what libsystemd.so is made of) with
 *     -Wl,--wrap=HASHMAP_CONTAINS, the out-of-line function that ordered_hashmap_contains()
 *     calls (_hashmap_contains in 252, internal_hashmap_contains in 241). Every call from
 *     sd-bus goes through __wrap_HASHMAP_CONTAINS below, which counts it.
 *   - One sd-bus connection on one end of a socketpair; nobody reads the other end, so the
 *     connection stays in authentication, every message it sends stays in its write queue,
 *     and no call ever gets a reply: exactly what "pending" means to sd-bus (an entry in
 *     reply_callbacks, registered by sd_bus_call_async()).
 *   - The edge, as in overflow.c: a message sealed by the caller with cookie 0xffffffff and
 *     sent makes the bus adopt that cookie (the MAX() rule in bus_seal_message()).
 *   - N_RUN async calls then take 0x80000000 .. 0x80000000 + N_RUN - 1 and stay pending. A
 *     second message sealed with 0xffffffff brings the counter back to the edge, so the run
 *     lies right after the current cookie. One more call must get 0x80000000 + N_RUN; the
 *     lookups it took are counted and printed.
 *
 * Output, read by systemd-patch/verify:
 *   lookups: first call after the run: 0x800186a0, reply_callbacks lookups: <n>
 *   lookups: first call after 0xffffffff: EOPNOTSUPP      (a release before v242, stock)
 *
 * Usage: run-lookups [--max-lookups N]   fails if the call after the run took more than N
 * lookups (verify passes a small N for the stateful build, none for the others, and checks
 * that those really paid about N_RUN: the control that the count measures something).
 *
 * Exit status: 0 pass, 1 fail (every failed check is printed with its line).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#ifndef HASHMAP_CONTAINS
#  error "build with -DHASHMAP_CONTAINS=<the out-of-line lookup ordered_hashmap_contains() calls>"
#endif

#ifdef DEFINE_MEMPOOL_USE_ALLOWED
/* 241: libbasic's mempool asks this; libsystemd.so links src/libsystemd/disable-mempool.c,
 * which libsystemd_static.a does not contain. The same value as that file. */
const bool mempool_use_allowed = false;
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#define COOKIE_MAX UINT64_C(0xffffffff)
#define COOKIE_CYCLED UINT64_C(0x80000000)
#define N_RUN 100000

/* ---- the counter: every ordered_hashmap_contains() sd-bus makes comes through here ---- */

static unsigned long lookups;

/* The real signature is (HashmapBase *h, const void *key); the type is opaque here. */
bool CAT(__real_, HASHMAP_CONTAINS)(void *h, const void *key);
bool CAT(__wrap_, HASHMAP_CONTAINS)(void *h, const void *key);

bool CAT(__wrap_, HASHMAP_CONTAINS)(void *h, const void *key) {
        lookups++;
        return CAT(__real_, HASHMAP_CONTAINS)(h, key);
}

/* ---- checks ---- */

#include "check.h"

static int never_called(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) userdata;
        (void) error;
        fprintf(stderr, "run-lookups.c: FAIL: a reply arrived, but nobody answers\n");
        failures++;
        return 0;
}

/* Sends a signal sealed by the caller with `cookie`: the bus adopts max(current, cookie). */
static int send_sealed(sd_bus *bus, uint64_t cookie) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(bus, &m, "/org/sdbuscookie/Test", "org.sdbuscookie.Test", "Edge");
        if (r >= 0)
                r = sd_bus_message_seal(m, cookie, 0);
        if (r >= 0)
                r = sd_bus_send(bus, m, NULL);
        sd_bus_message_unref(m);
        return r;
}

/* One async call that stays pending; its cookie in *ret. */
static int call_async(sd_bus *bus, uint64_t *ret) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.sdbuscookie.Peer", "/org/sdbuscookie/Test",
                                           "org.sdbuscookie.Test", "Wait");
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, m, never_called, NULL, 0);
        if (r >= 0)
                r = sd_bus_message_get_cookie(m, ret);
        sd_bus_message_unref(m);
        return r;
}

static int parse_args(int argc, char **argv, long *max_lookups) {
        *max_lookups = -1;
        if (argc == 1)
                return 0;
        if (argc == 3 && strcmp(argv[1], "--max-lookups") == 0) {
                char *end;
                errno = 0;
                *max_lookups = strtol(argv[2], &end, 10);
                if (errno == 0 && *end == '\0' && *max_lookups >= 0)
                        return 0;
        }
        fprintf(stderr, "usage: %s [--max-lookups N]\n", argv[0]);
        return -EINVAL;
}

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        int fds[2] = { -1, -1 };
        uint64_t cookie = 0;
        long max_lookups;
        int r;

        if (parse_args(argc, argv, &max_lookups) < 0)
                return 2;

        REQUIRE_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0, "socketpair");
        REQUIRE_OK(sd_bus_new(&bus), "sd_bus_new");
        REQUIRE_OK(sd_bus_set_fd(bus, fds[0], fds[0]), "sd_bus_set_fd");
        fds[0] = -1; /* the bus owns it now */
        REQUIRE_OK(sd_bus_start(bus), "sd_bus_start");

        REQUIRE_OK(send_sealed(bus, COOKIE_MAX), "sending a message sealed with 0xffffffff");
        r = call_async(bus, &cookie);
        if (r == -EOPNOTSUPP) {
                /* The bug of releases before v242: no cookie after 0xffffffff, so no run. */
                printf("lookups: first call after 0xffffffff: EOPNOTSUPP\n");
                goto finish;
        }
        REQUIRE_OK(r, "the first call after 0xffffffff");
        CHECK(cookie == COOKIE_CYCLED, "got 0x%" PRIx64, cookie);

        for (unsigned i = 1; i < N_RUN; i++) {
                REQUIRE_OK(call_async(bus, &cookie), "an async call of the run");
                CHECK(cookie == COOKIE_CYCLED + i, "call %u got 0x%" PRIx64, i, cookie);
                if (failures)
                        goto finish;
        }

        /* Back to the edge: the run 0x80000000 .. 0x80000000 + N_RUN - 1 is next. */
        REQUIRE_OK(send_sealed(bus, COOKIE_MAX), "sending a second message sealed with 0xffffffff");

        lookups = 0;
        REQUIRE_OK(call_async(bus, &cookie), "the call after the run");
        CHECK(cookie == COOKIE_CYCLED + N_RUN, "got 0x%" PRIx64 ", want 0x%" PRIx64, cookie,
              COOKIE_CYCLED + N_RUN);
        printf("lookups: first call after the run: 0x%" PRIx64 ", reply_callbacks lookups: %lu\n",
               cookie, lookups);
        if (max_lookups >= 0)
                CHECK(lookups <= (unsigned long) max_lookups, "%lu lookups, at most %ld allowed",
                      lookups, max_lookups);

finish:
        /* Close without flushing (nobody reads the other end): the pending calls go away with
         * the bus, through bus_free()'s slot disconnects. */
        if (bus) {
                sd_bus_close(bus);
                sd_bus_unref(bus);
        }
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        if (failures)
                fprintf(stderr, "run-lookups: %d check(s) failed\n", failures);
        return failures ? 1 : 0;
}
