/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Preloaded (LD_PRELOAD) into the libsystemd bench's worker by
 * `scripts/bench-instructions --libsystemd` only: getrandom() returns the same bytes in
 * every process. sd-bus's hashmaps take their hash key from getrandom() once per process,
 * so with a random key the robin-hood probe lengths of the 1,000 pending calls in
 * `reply_callbacks` differ between processes, and so does an operation's instruction count
 * (measured: 8,350 to 9,950 per async call of the same stock build). With one key every
 * build meets the same table layout and a count is the same in every process.
 * The bytes are a fixed xorshift sequence, not zeros, so the hash stays a hash.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

ssize_t getrandom(void *buf, size_t len, unsigned int flags);

ssize_t getrandom(void *buf, size_t len, unsigned int flags) {
        static uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
        unsigned char *p = buf;
        (void) flags;
        for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (unsigned char) x;
        }
        return (ssize_t) len;
}
