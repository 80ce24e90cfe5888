/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One sd-bus connection on one end of a socketpair whose other end nobody reads: every
 * message sd-bus seals stays queued and every call stays pending, with no bus daemon
 * involved. Shared by the tests that watch which cookie sd-bus picks (sealed-wide.c,
 * unique-path.c).
 */
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include "sd-bus.h"

/* Opens the connection into *ret_bus and gives the unread end in *ret_peer. Returns 0, or
 * -1 with nothing left open. */
static inline int unread_bus_open(sd_bus **ret_bus, int *ret_peer) {
        sd_bus *bus = NULL;
        int fds[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -1;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fds[0], fds[0]) < 0) {
                sd_bus_unref(bus);
                close(fds[0]);
                close(fds[1]);
                return -1;
        }
        /* From here the bus owns fds[0]. */
        if (sd_bus_start(bus) < 0) {
                sd_bus_unref(bus);
                close(fds[1]);
                return -1;
        }
        *ret_bus = bus;
        *ret_peer = fds[1];
        return 0;
}

static inline void unread_bus_close(sd_bus *bus, int peer) {
        if (bus) {
                sd_bus_close(bus);
                sd_bus_unref(bus);
        }
        if (peer >= 0)
                close(peer);
}
