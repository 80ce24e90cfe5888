/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Unique object paths and message cookies: one sequence, always moving forward?
 *
 * bus_path_encode_unique() (src/shared/bus-util.c) makes the suffix of a unique object path
 * from "a new cookie" when the caller gives none: stock takes it with ++b->cookie. A patch
 * that keeps the cookie elsewhere (the stateful patch's allocator) must take it from there
 * too, or b->cookie runs ahead of the allocator, the next message reuses a number and the
 * next suffix repeats an earlier one.
 *
 * How: one connection on a socketpair whose other end nobody reads (as run-lookups.c). Two
 * unique paths, one signal sent (its cookie), one more unique path; the four numbers are
 * printed and must each be greater than the one before:
 *   unique-path: suffix 1, suffix 2, message cookie 3, suffix 4
 *
 * Built with the compiler flags of the tree's own test-bus-marshal.c (internal headers,
 * config.h) and linked against the build's libsystemd-shared, which holds bus-util.c and
 * sd-bus (its own test-bus-marshal links it the same way).
 *
 * Exit status: 0 when the four numbers increase, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sd-bus.h"

#include "bus-internal.h"
#include "bus-util.h"

#include "unread-bus.h"

#define UNIQUE_PREFIX "/org/sdbuscookie/unique"

/* The number in the suffix of a new unique path, or 0 on failure (printed). */
static uint64_t new_suffix(sd_bus *bus) {
        char *path = NULL, *sender = NULL, *external = NULL, *end;
        uint64_t n = 0;
        int r;

        r = bus_path_encode_unique(bus, UNIQUE_PREFIX, "sender", NULL, &path);
        if (r < 0) {
                fprintf(stderr, "unique-path: FAIL: bus_path_encode_unique: %s\n", strerror(-r));
                return 0;
        }
        r = bus_path_decode_unique(path, UNIQUE_PREFIX, &sender, &external);
        if (r <= 0 || !external) {
                fprintf(stderr, "unique-path: FAIL: %s does not decode\n", path);
                goto finish;
        }
        errno = 0;
        n = strtoull(external, &end, 10);
        if (errno != 0 || *end != '\0' || end == external) {
                fprintf(stderr, "unique-path: FAIL: suffix '%s' of %s is not a number\n", external, path);
                n = 0;
        }
finish:
        free(path);
        free(sender);
        free(external);
        return n;
}

int main(void) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;
        int peer = -1, r, ok = 0;
        uint64_t seq[4] = { 0, 0, 0, 0 };

        if (unread_bus_open(&bus, &peer) < 0) {
                fprintf(stderr, "unique-path: FAIL: cannot set up the connection\n");
                return 1;
        }

        seq[0] = new_suffix(bus);
        seq[1] = new_suffix(bus);
        r = sd_bus_message_new_signal(bus, &m, "/org/sdbuscookie/Test", "org.sdbuscookie.Test", "Tick");
        if (r >= 0)
                r = sd_bus_send(bus, m, &seq[2]);
        if (r < 0) {
                fprintf(stderr, "unique-path: FAIL: sending a signal: %s\n", strerror(-r));
                goto finish;
        }
        seq[3] = new_suffix(bus);

        printf("unique-path: suffix %" PRIu64 ", suffix %" PRIu64 ", message cookie %" PRIu64 ", suffix %" PRIu64 "\n",
               seq[0], seq[1], seq[2], seq[3]);
        ok = seq[0] > 0 && seq[1] > seq[0] && seq[2] > seq[1] && seq[3] > seq[2];
        if (!ok)
                fprintf(stderr, "unique-path: FAIL: the numbers do not increase\n");

finish:
        sd_bus_message_unref(m);
        unread_bus_close(bus, peer);
        return ok ? 0 : 1;
}
