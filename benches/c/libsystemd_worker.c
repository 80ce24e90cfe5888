/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One build of the real libsystemd, driven by the `libsystemd` bench (benches/libsystemd.rs).
 *
 *   sdbench-libsystemd-worker /abs/path/to/libsystemd.so [HEAP-PAD]
 *
 * HEAP-PAD (bytes, default none) is a block allocated before anything else and kept: it
 * shifts every later heap address, and with them where glibc's malloc finds room (whether
 * a message's buffer grows in place, when chunks are consolidated). An operation's
 * instruction count depends on that layout by several per cent, so
 * scripts/bench-instructions counts each build over several pads, and the bench spreads each
 * build's operations over workers with different pads.
 *
 * Every build of the bench (stock, patched, ...) exports the same sd_bus_* symbols under the
 * same soname, so each runs in a process of its own: this program dlopen()s exactly one of
 * them and calls it through function pointers; it does not link any libsystemd itself.
 *
 * Each connection is a client sd_bus on one end of a socketpair (sd_bus_set_fd); the other
 * end is a thread of this process that answers the SASL handshake and then reads and drops
 * everything: a peer that drains and never replies, so async calls stay pending for as long
 * as the bench keeps their slots. The peer drains only between timed stretches: after at
 * most CHUNK operations the clock stops, the peer empties the socket, the clock restarts.
 * So no second thread of ours competes with the sender while it is timed (on a shared
 * 2-core machine a peer that is descheduled would otherwise turn sends into waits), and the
 * socket's send buffer (raised to SNDBUF as root) always has room: sd_bus_flush() after
 * every send then finds sd-bus' write queue empty, and every message is written by its own
 * sendmsg() in every variant (a queue would turn later sends into cheap appends).
 *
 * Where a connection's cookie starts is set through the public API only: a message sealed
 * by the caller with sd_bus_message_seal(m, cookie, ...) and then sent makes the bus adopt
 * that cookie (bus_seal_message(): b->cookie = MAX(b->cookie, cookie)), so after a message
 * sealed with 0xffffffff the bus's next cookie is the one after the cycle; a method call
 * sealed that way and sent with sd_bus_call_async() stays pending on that exact cookie.
 *
 * Protocol: one command per line on stdin, one answer per line on stdout.
 *   open ID SCENARIO   a new connection ID (0..7) in SCENARIO (below)  -> "ok" | "error MSG"
 *   run ID N           N operations of ID's scenario                   -> "ns TOTAL LASTCOOKIE" | "error MSG"
 *   close ID                                                            -> "ok"
 * End of stdin ends the program (every connection closed, every thread joined).
 *
 * Scenarios, and what one operation is (the timed part):
 *   fast       before the cycle, counter from 1: one signal built, sent, flushed, freed.
 *   fastcall   before the cycle, counter from 1: one async call (built, sealed by the bus,
 *              sent, flushed), then its slot freed, as when its reply comes: the call's
 *              reply_callbacks entry (and, with the stateful patch, its pending cookie) is
 *              added and removed.
 *   scattered  after the cycle, 1,000 async calls pending at 0x80000001 + i * 1049 (spread
 *              over the first 2^20 cookies of the cycled half), counter from 0xffffffff:
 *              one async call and its slot freed, as in `fastcall`, so the pending set
 *              stays the same. Whenever the counter leaves that window it is put back at
 *              0xffffffff (untimed), so every call is made with the 1,000 pending ahead.
 *   run        after the cycle, 100,000 async calls pending at 0x80000000 .. 0x8001869f;
 *              per operation (untimed) a signal sealed with 0xffffffff is sent, then (timed)
 *              one async call, which must get 0x800186a0: the run right after the current
 *              cookie is skipped; then (untimed) its slot is freed.
 *   empty      the same as `run` with nothing pending: the call gets 0x80000000.
 * Every cookie the bus hands out is checked (never a pending one; the expected one where it
 * is known): a wrong cookie is an error, not a number.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
typedef struct sd_bus_slot sd_bus_slot;
typedef struct sd_bus_error sd_bus_error;
typedef int (*handler_t)(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* The public sd-bus API this program uses: the same signatures in 241 and 252. */
static struct {
        int (*bus_new)(sd_bus **ret);
        int (*bus_set_fd)(sd_bus *bus, int input_fd, int output_fd);
        int (*bus_start)(sd_bus *bus);
        int (*bus_flush)(sd_bus *bus);
        void (*bus_close)(sd_bus *bus);
        sd_bus *(*bus_unref)(sd_bus *bus);
        int (*message_new_signal)(sd_bus *bus, sd_bus_message **m, const char *path,
                                  const char *interface, const char *member);
        int (*message_new_method_call)(sd_bus *bus, sd_bus_message **m, const char *destination,
                                       const char *path, const char *interface, const char *member);
        int (*message_append)(sd_bus_message *m, const char *types, ...);
        int (*message_seal)(sd_bus_message *m, uint64_t cookie, uint64_t timeout_usec);
        int (*message_get_cookie)(sd_bus_message *m, uint64_t *cookie);
        sd_bus_message *(*message_unref)(sd_bus_message *m);
        int (*send)(sd_bus *bus, sd_bus_message *m, uint64_t *cookie);
        int (*call_async)(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, handler_t callback,
                          void *userdata, uint64_t usec);
        sd_bus_slot *(*slot_unref)(sd_bus_slot *slot);
} api;

#define COOKIE_MAX UINT64_C(0xffffffff)
#define COOKIE_CYCLED UINT64_C(0x80000000)
#define SCATTERED_N 1000
#define SCATTERED_STRIDE 1049
#define SCATTERED_WINDOW (UINT64_C(1) << 20)
#define RUN_N 100000
/* Never reached (nothing processes timeouts here: the bus is only written); long anyway. */
#define CALL_TIMEOUT_USEC (UINT64_C(3600) * 1000000)
#define MAX_CONN 8
/* Operations per timed stretch, and the send buffer that holds them (a small message takes
 * about 1 KiB of socket memory with the kernel's overhead). */
#define CHUNK 256
#define SNDBUF (8 << 20)

enum scenario { FAST, SCATTERED, RUN, EMPTY, FAST_CALL };

struct conn {
        bool open;
        enum scenario scenario;
        sd_bus *bus;
        int client_fd;
        int peer_fd;
        pthread_t drainer;
        bool drainer_started;
        /* The drain gate: the bench thread sets `drain`, the peer empties the socket and
         * clears it. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool drain;
        bool quit;
        unsigned since_drain; /* messages sent since the peer last emptied the socket */
        sd_bus_slot **pending;
        size_t n_pending;
        uint64_t last; /* the last cookie this connection's bus handed out */
};

static struct conn conns[MAX_CONN];
static char errmsg[256];

static int fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
        va_end(ap);
        return -1;
}

static int no_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        (void) m;
        (void) userdata;
        (void) ret_error;
        return 0;
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ---- the peer: SASL server, then a drain ---- */

static bool write_all(int fd, const char *s) {
        size_t len = strlen(s);
        while (len > 0) {
                ssize_t n = write(fd, s, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                s += n;
                len -= (size_t) n;
        }
        return true;
}

/* ---- sending ---- */

static int send_flush(struct conn *c, sd_bus_message *m) {
        int r = api.send(c->bus, m, NULL);
        if (r < 0)
                return fail("sd_bus_send: %s", strerror(-r));
        r = api.bus_flush(c->bus);
        if (r < 0)
                return fail("sd_bus_flush: %s", strerror(-r));
        c->since_drain++;
        return 0;
}

static int send_signal(struct conn *c, uint64_t sealed_cookie) {
        sd_bus_message *m = NULL;
        int r = api.message_new_signal(c->bus, &m, "/org/sdbuscookie/Bench", "org.sdbuscookie.Bench",
                                       "Tick");
        if (r < 0)
                return fail("sd_bus_message_new_signal: %s", strerror(-r));
        r = api.message_append(m, "u", (uint32_t) 42);
        if (r < 0) {
                api.message_unref(m);
                return fail("sd_bus_message_append: %s", strerror(-r));
        }
        if (sealed_cookie != 0) {
                r = api.message_seal(m, sealed_cookie, 0);
                if (r < 0) {
                        api.message_unref(m);
                        return fail("sd_bus_message_seal(0x%" PRIx64 "): %s", sealed_cookie,
                                    strerror(-r));
                }
        }
        r = send_flush(c, m);
        if (r == 0 && sealed_cookie == 0) {
                uint64_t k = 0;
                r = api.message_get_cookie(m, &k);
                if (r < 0)
                        r = fail("sd_bus_message_get_cookie: %s", strerror(-r));
                else
                        c->last = k;
        } else if (r == 0)
                c->last = sealed_cookie > c->last ? sealed_cookie : c->last;
        api.message_unref(m);
        return r;
}

/* An async call the peer will never answer; its slot is returned in *slot (pending until
 * freed). sealed_cookie 0: the bus picks the cookie. */
static int call_async(struct conn *c, uint64_t sealed_cookie, sd_bus_slot **slot) {
        sd_bus_message *m = NULL;
        uint64_t k = 0;
        int r = api.message_new_method_call(c->bus, &m, "org.sdbuscookie.Peer",
                                            "/org/sdbuscookie/Peer", "org.sdbuscookie.Peer", "Ping");
        if (r < 0)
                return fail("sd_bus_message_new_method_call: %s", strerror(-r));
        if (sealed_cookie != 0) {
                r = api.message_seal(m, sealed_cookie, CALL_TIMEOUT_USEC);
                if (r < 0) {
                        api.message_unref(m);
                        return fail("sd_bus_message_seal(0x%" PRIx64 "): %s", sealed_cookie,
                                    strerror(-r));
                }
        }
        r = api.call_async(c->bus, slot, m, no_reply, NULL, CALL_TIMEOUT_USEC);
        if (r < 0) {
                api.message_unref(m);
                return fail("sd_bus_call_async after 0x%" PRIx64 ": %s", c->last, strerror(-r));
        }
        r = api.bus_flush(c->bus);
        if (r < 0) {
                api.message_unref(m);
                return fail("sd_bus_flush: %s", strerror(-r));
        }
        c->since_drain++;
        r = api.message_get_cookie(m, &k);
        api.message_unref(m);
        if (r < 0)
                return fail("sd_bus_message_get_cookie: %s", strerror(-r));
        c->last = k;
        return 0;
}

static bool scattered_pending(uint64_t k) {
        uint64_t off;
        if (k <= COOKIE_CYCLED)
                return false;
        off = k - COOKIE_CYCLED - 1;
        return off % SCATTERED_STRIDE == 0 && off / SCATTERED_STRIDE < SCATTERED_N;
}

/* The peer: answers the client's SASL lines as a D-Bus server would (EXTERNAL with or
 * without an initial response, ANONYMOUS, NEGOTIATE_UNIX_FD); then, each time the gate asks,
 * reads and drops everything queued, until the client closes its end. */
static void *drain(void *arg) {
        struct conn *c = arg;
        int fd = c->peer_fd;
        static const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
        static char buf[MAX_CONN][65536];
        char *b = buf[c - conns];
        size_t have = 0, size = sizeof(buf[0]);
        bool begun = false;

        while (!begun) {
                ssize_t n = read(fd, b + have, size - 1 - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return NULL;
                have += (size_t) n;
                b[have] = 0;
                for (;;) {
                        char *end;
                        if (have > 0 && b[0] == 0) { /* the credentials byte */
                                memmove(b, b + 1, --have);
                                b[have] = 0;
                                continue;
                        }
                        end = memmem(b, have, "\r\n", 2);
                        if (!end)
                                break;
                        *end = 0;
                        if (strcmp(b, "AUTH EXTERNAL") == 0)
                                write_all(fd, "DATA\r\n");
                        else if (strncmp(b, "AUTH ", 5) == 0 || strncmp(b, "DATA", 4) == 0)
                                write_all(fd, ok);
                        else if (strcmp(b, "NEGOTIATE_UNIX_FD") == 0)
                                write_all(fd, "AGREE_UNIX_FD\r\n");
                        else if (strcmp(b, "BEGIN") == 0)
                                begun = true;
                        else
                                write_all(fd, "ERROR\r\n");
                        have -= (size_t) (end + 2 - b);
                        memmove(b, end + 2, have);
                        b[have] = 0;
                        if (begun)
                                break;
                }
        }
        for (;;) {
                bool eof = false;
                pthread_mutex_lock(&c->lock);
                while (!c->drain && !c->quit)
                        pthread_cond_wait(&c->cond, &c->lock);
                if (c->quit) {
                        pthread_mutex_unlock(&c->lock);
                        return NULL;
                }
                pthread_mutex_unlock(&c->lock);
                for (;;) {
                        ssize_t n = recv(fd, b, size, MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n == 0 || (n < 0 && errno != EAGAIN))
                                eof = true;
                        if (n <= 0)
                                break;
                }
                pthread_mutex_lock(&c->lock);
                c->drain = false;
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->lock);
                if (eof)
                        return NULL;
        }
}

/* Untimed: has the peer empty the socket (everything the client wrote is read). */
static int drain_now(struct conn *c) {
        int outq = 0;
        for (int tries = 0; tries < 1000; tries++) {
                pthread_mutex_lock(&c->lock);
                c->drain = true;
                pthread_cond_broadcast(&c->cond);
                while (c->drain)
                        pthread_cond_wait(&c->cond, &c->lock);
                pthread_mutex_unlock(&c->lock);
                if (ioctl(c->client_fd, SIOCOUTQ, &outq) < 0)
                        return fail("ioctl(SIOCOUTQ): %s", strerror(errno));
                if (outq == 0) {
                        c->since_drain = 0;
                        return 0;
                }
        }
        return fail("the peer did not empty the socket (%d bytes left)", outq);
}

/* Untimed: empties the socket once a stretch of CHUNK messages has been sent. */
static int drain_if_due(struct conn *c) {
        return c->since_drain >= CHUNK ? drain_now(c) : 0;
}

/* ---- connections ---- */

static void conn_close(struct conn *c) {
        size_t i;
        if (!c->open)
                return;
        for (i = 0; i < c->n_pending; i++)
                api.slot_unref(c->pending[i]);
        free(c->pending);
        api.bus_close(c->bus);
        api.bus_unref(c->bus);
        /* Also when the bus never took its end: the peer's reads return 0 either way. */
        shutdown(c->peer_fd, SHUT_RDWR);
        if (c->drainer_started) {
                pthread_mutex_lock(&c->lock);
                c->quit = true;
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->drainer, NULL);
        }
        close(c->peer_fd);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        memset(c, 0, sizeof(*c));
}

static int conn_open(struct conn *c, enum scenario s) {
        int fds[2], r;
        size_t i, n = 0;

        memset(c, 0, sizeof(*c));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return fail("socketpair: %s", strerror(errno));
        /* Room for a stretch of CHUNK messages (root may exceed net.core.wmem_max). */
        {
                int size = SNDBUF;
                if (setsockopt(fds[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
                        (void) setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
        c->client_fd = fds[0];
        c->peer_fd = fds[1];
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        if (pthread_create(&c->drainer, NULL, drain, c) != 0) {
                close(fds[0]);
                close(fds[1]);
                pthread_mutex_destroy(&c->lock);
                pthread_cond_destroy(&c->cond);
                memset(c, 0, sizeof(*c));
                return fail("pthread_create failed");
        }
        c->drainer_started = true;
        r = api.bus_new(&c->bus);
        if (r >= 0)
                r = api.bus_set_fd(c->bus, fds[0], fds[0]);
        if (r < 0)
                close(fds[0]); /* not taken by the bus */
        if (r >= 0)
                r = api.bus_start(c->bus);
        if (r >= 0)
                r = api.bus_flush(c->bus); /* runs the handshake to the end */
        c->open = true;
        c->scenario = s;
        if (r < 0) {
                fail("connecting to the peer: %s", strerror(-r));
                conn_close(c);
                return -1;
        }

        if (s == SCATTERED)
                n = SCATTERED_N;
        else if (s == RUN)
                n = RUN_N;
        if (n > 0) {
                c->pending = calloc(n, sizeof(*c->pending));
                if (!c->pending)
                        return fail("out of memory");
        }
        for (i = 0; i < n; i++) {
                uint64_t k = s == SCATTERED ? COOKIE_CYCLED + 1 + i * SCATTERED_STRIDE
                                            : COOKIE_CYCLED + i;
                if (call_async(c, k, &c->pending[i]) < 0 || drain_if_due(c) < 0)
                        return -1;
                c->n_pending++;
                if (c->last != k)
                        return fail("the call sealed with 0x%" PRIx64 " went out as 0x%" PRIx64, k,
                                    c->last);
        }
        if (s != FAST && s != FAST_CALL && send_signal(c, COOKIE_MAX) < 0)
                return -1;
        return drain_now(c);
}

/* The timed operations, each in a function of its own that is never inlined, so that
 * scripts/bench-instructions can count exactly them with callgrind
 * (--toggle-collect='*instr_measured*'): the instructions of libsystemd and libc in user
 * space, not the setup, the drains or the untimed steps around them. */
static __attribute__((noinline)) int instr_measured_signal(struct conn *c) {
        return send_signal(c, 0);
}

/* One async call sealed by the bus; with free_slot, its slot freed too (as when the
 * reply comes: its reply_callbacks entry, and with the stateful patch its pending cookie,
 * added and removed). */
static __attribute__((noinline)) int instr_measured_call(struct conn *c, bool free_slot,
                                                         sd_bus_slot **slot) {
        *slot = NULL;
        if (call_async(c, 0, slot) < 0)
                return -1;
        if (free_slot) {
                api.slot_unref(*slot);
                *slot = NULL;
        }
        return 0;
}

/* N operations of the connection's scenario; *ns gets the time of their timed parts. */
static int conn_run(struct conn *c, uint64_t n, uint64_t *ns) {
        uint64_t i, total = 0, t0;
        sd_bus_slot *slot;

        switch (c->scenario) {
        case FAST:
        case FAST_CALL:
                for (i = 0; i < n;) {
                        uint64_t end = i + CHUNK < n ? i + CHUNK : n;
                        t0 = now_ns();
                        for (; i < end; i++) {
                                if (c->scenario == FAST) {
                                        if (instr_measured_signal(c) < 0)
                                                return -1;
                                } else if (instr_measured_call(c, true, &slot) < 0)
                                        return -1;
                        }
                        total += now_ns() - t0;
                        if (drain_now(c) < 0)
                                return -1;
                }
                if (c->last >= COOKIE_CYCLED)
                        return fail("the fast path reached the cycle (0x%" PRIx64 ")", c->last);
                break;
        case SCATTERED:
                for (i = 0; i < n; i++) {
                        if (c->last >= COOKIE_CYCLED + SCATTERED_WINDOW && send_signal(c, COOKIE_MAX) < 0)
                                return -1;
                        if (drain_if_due(c) < 0)
                                return -1;
                        t0 = now_ns();
                        if (instr_measured_call(c, true, &slot) < 0)
                                return -1;
                        total += now_ns() - t0;
                        if (c->last < COOKIE_CYCLED || scattered_pending(c->last))
                                return fail("after the cycle the bus handed out 0x%" PRIx64, c->last);
                }
                break;
        case RUN:
        case EMPTY: {
                uint64_t want = c->scenario == RUN ? COOKIE_CYCLED + RUN_N : COOKIE_CYCLED;
                for (i = 0; i < n; i++) {
                        if (send_signal(c, COOKIE_MAX) < 0 || drain_if_due(c) < 0)
                                return -1;
                        t0 = now_ns();
                        if (instr_measured_call(c, false, &slot) < 0)
                                return -1;
                        total += now_ns() - t0;
                        api.slot_unref(slot);
                        if (c->last != want)
                                return fail("after 0xffffffff the bus handed out 0x%" PRIx64
                                            ", want 0x%" PRIx64, c->last, want);
                }
                break;
        }
        }
        *ns = total;
        return 0;
}

/* ---- main ---- */

#define LOAD(field, name)                                                               \
        do {                                                                            \
                *(void **) (&api.field) = dlsym(lib, name);                             \
                if (!api.field) {                                                       \
                        fprintf(stderr, "libsystemd-worker: %s has no %s\n", argv[1], name); \
                        return 1;                                                       \
                }                                                                       \
        } while (0)

int main(int argc, char **argv) {
        char line[256];
        void *lib;

        /* Ends with the bench, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (argc < 2 || argc > 3 || argv[1][0] != '/') {
                fprintf(stderr, "usage: %s /abs/path/to/libsystemd.so [HEAP-PAD]\n", argv[0]);
                return 2;
        }
        if (argc == 3) {
                char *end;
                unsigned long pad = strtoul(argv[2], &end, 10);
                static volatile void *heap_pad;
                if (*end || end == argv[2] || pad > (1UL << 20)) {
                        fprintf(stderr, "libsystemd-worker: HEAP-PAD must be 0..1048576 bytes\n");
                        return 2;
                }
                heap_pad = pad ? malloc(pad) : NULL;
                if (pad && !heap_pad) {
                        fprintf(stderr, "libsystemd-worker: out of memory\n");
                        return 1;
                }
        }
        lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                fprintf(stderr, "libsystemd-worker: dlopen: %s\n", dlerror());
                return 1;
        }
        LOAD(bus_new, "sd_bus_new");
        LOAD(bus_set_fd, "sd_bus_set_fd");
        LOAD(bus_start, "sd_bus_start");
        LOAD(bus_flush, "sd_bus_flush");
        LOAD(bus_close, "sd_bus_close");
        LOAD(bus_unref, "sd_bus_unref");
        LOAD(message_new_signal, "sd_bus_message_new_signal");
        LOAD(message_new_method_call, "sd_bus_message_new_method_call");
        LOAD(message_append, "sd_bus_message_append");
        LOAD(message_seal, "sd_bus_message_seal");
        LOAD(message_get_cookie, "sd_bus_message_get_cookie");
        LOAD(message_unref, "sd_bus_message_unref");
        LOAD(send, "sd_bus_send");
        LOAD(call_async, "sd_bus_call_async");
        LOAD(slot_unref, "sd_bus_slot_unref");
        setvbuf(stdout, NULL, _IOLBF, 0);

        while (fgets(line, sizeof(line), stdin)) {
                char cmd[16], arg[32];
                unsigned id;
                int k = sscanf(line, "%15s %u %31s", cmd, &id, arg);
                struct conn *c;
                errmsg[0] = 0;
                if (k < 2 || id >= MAX_CONN) {
                        printf("error bad command: %s", line);
                        continue;
                }
                c = &conns[id];
                if (strcmp(cmd, "open") == 0 && k == 3) {
                        enum scenario s;
                        if (strcmp(arg, "fast") == 0)
                                s = FAST;
                        else if (strcmp(arg, "fastcall") == 0)
                                s = FAST_CALL;
                        else if (strcmp(arg, "scattered") == 0)
                                s = SCATTERED;
                        else if (strcmp(arg, "run") == 0)
                                s = RUN;
                        else if (strcmp(arg, "empty") == 0)
                                s = EMPTY;
                        else {
                                printf("error unknown scenario %s\n", arg);
                                continue;
                        }
                        conn_close(c);
                        if (conn_open(c, s) < 0) {
                                conn_close(c);
                                printf("error %s\n", errmsg);
                        } else
                                printf("ok\n");
                } else if (strcmp(cmd, "run") == 0 && k == 3) {
                        uint64_t ns = 0, n = strtoull(arg, NULL, 10);
                        if (!c->open)
                                printf("error connection %u is not open\n", id);
                        else if (conn_run(c, n, &ns) < 0)
                                printf("error %s\n", errmsg);
                        else
                                printf("ns %" PRIu64 " 0x%" PRIx64 "\n", ns, c->last);
                } else if (strcmp(cmd, "close") == 0) {
                        conn_close(c);
                        printf("ok\n");
                } else
                        printf("error bad command: %s", line);
        }
        for (unsigned i = 0; i < MAX_CONN; i++)
                conn_close(&conns[i]);
        return 0;
}
