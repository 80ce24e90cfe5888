/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A message the caller sealed with a cookie wider than 32 bit, then sent: what cookie does
 * the bus pick next?
 *
 * bus_seal_message() adopts the cookie of a message the caller sealed (its MAX() rule, "if we
 * copy the same message to multiple destinations"). A dbus1 message cannot carry a cookie
 * above 0xffffffff (sd_bus_message_seal() refuses it), but a GVariant one can: a message a
 * GVariant-speaking peer sent, forwarded. Upstream's rule (v242+, PR #11818) then goes on at
 * 0x80000000: cookie_inc() maps every cookie >= 0xffffffff to COOKIE_CYCLED. A release
 * before v242 fails with EOPNOTSUPP (++b->cookie is above 32 bit). The fix must follow
 * upstream, not fail otherwise (sdbus_cookie_next() refuses a current cookie above its
 * ceiling with -EINVAL, so the patches adopt at most 0xffffffff).
 *
 * How: one connection on a socketpair whose other end nobody reads (as run-lookups.c). A
 * signal is made while the connection says it speaks GVariant (message_version 2: the same
 * switch sd-bus's own test-bus-gvariant.c uses), sealed with 0x100000000 and sent; the send
 * itself fails when sd-bus re-marshals it for the dbus1 connection, after the bus adopted its
 * cookie. Then one async call; its cookie, or its error, is printed:
 *   wide: first call after a message sealed with 0x100000000: 0x80000000
 *   wide: first call after a message sealed with 0x100000000: EOPNOTSUPP   (stock, < v242)
 *
 * Built with the compiler flags of the tree's own test-bus-* programs (internal headers,
 * config.h) and linked against its internal static libraries, like run-lookups.c.
 *
 * Exit status: 0 when the call got 0x80000000, 1 otherwise (what it got is printed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sd-bus.h"

#include "bus-internal.h"
#include "bus-message.h"

#include "unread-bus.h"

#ifdef DEFINE_MEMPOOL_USE_ALLOWED
/* 241: libbasic's mempool asks this; libsystemd.so links src/libsystemd/disable-mempool.c,
 * which libsystemd_static.a does not contain. The same value as that file. */
const bool mempool_use_allowed = false;
#endif

#define WIDE UINT64_C(0x100000000)
#define COOKIE_CYCLED UINT64_C(0x80000000)

static int never_called(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) userdata;
        (void) error;
        return 0;
}

static const char *errno_name(int e) {
        switch (e) {
        case EOPNOTSUPP: return "EOPNOTSUPP";
        case EINVAL: return "EINVAL";
        case EBUSY: return "EBUSY";
        default: return strerror(e);
        }
}

int main(void) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL, *call = NULL;
        int peer = -1, r, ok = 0;
        uint64_t cookie = 0;

        if (unread_bus_open(&bus, &peer) < 0) {
                fprintf(stderr, "sealed-wide: FAIL: cannot set up the connection\n");
                return 1;
        }

        bus->message_version = 2;
        r = sd_bus_message_new_signal(bus, &m, "/org/sdbuscookie/Test", "org.sdbuscookie.Test", "Wide");
        bus->message_version = 1;
        if (r < 0 || !BUS_MESSAGE_IS_GVARIANT(m)) {
                fprintf(stderr, "sealed-wide: FAIL: no GVariant message (%s)\n", r < 0 ? strerror(-r) : "version 1");
                goto finish;
        }
        r = sd_bus_message_seal(m, WIDE, 0);
        if (r < 0) {
                fprintf(stderr, "sealed-wide: FAIL: sealing with 0x%" PRIx64 ": %s\n", WIDE, strerror(-r));
                goto finish;
        }
        r = sd_bus_send(bus, m, NULL);
        printf("wide: sending the message sealed with 0x%" PRIx64 ": %s\n", WIDE, r < 0 ? errno_name(-r) : "sent");

        r = sd_bus_message_new_method_call(bus, &call, "org.sdbuscookie.Peer", "/org/sdbuscookie/Test",
                                           "org.sdbuscookie.Test", "Wait");
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, call, never_called, NULL, 0);
        if (r >= 0)
                r = sd_bus_message_get_cookie(call, &cookie);
        if (r < 0)
                printf("wide: first call after a message sealed with 0x%" PRIx64 ": %s\n", WIDE, errno_name(-r));
        else
                printf("wide: first call after a message sealed with 0x%" PRIx64 ": 0x%" PRIx64 "\n", WIDE, cookie);
        ok = r >= 0 && cookie == COOKIE_CYCLED;

finish:
        sd_bus_message_unref(call);
        sd_bus_message_unref(m);
        unread_bus_close(bus, peer);
        return ok ? 0 : 1;
}
