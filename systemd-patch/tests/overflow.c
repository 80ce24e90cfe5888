/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The cookie overflow test for sd-bus, through the public libsystemd API only.
 *
 * It proves the cycle rule of sd-bus v242+ (systemd PR #11818, src/libsystemd/sd-bus/sd-bus.c
 * next_cookie()) on a real bus: after cookie 0xffffffff the next one is 0x80000000, and from
 * then on a cookie that still awaits a reply is skipped. The same source is built against the
 * patched libsystemd (where next_cookie() calls sdbus_cookie_next()) and against the stock
 * system libsystemd, the control: both must pass.
 *
 * How it reaches the edge without sending 2^32 messages: a message sealed by the caller with
 * sd_bus_message_seal(m, 0xffffffff, 0) and then sent makes the bus adopt that cookie
 * (bus_seal_message(): b->cookie = MAX(b->cookie, cookie)), so the next cookie the bus picks
 * is the one after 0xffffffff.
 *
 * The bus is a private dbus-daemon started by this program (temporary config in a temporary
 * directory, killed by pid and removed at the end). Two connections: "client" sends, "peer"
 * is the destination and never replies, so the client's async calls stay pending. At the end
 * the peer reads everything the daemon delivered, which proves the serials on the wire are
 * the cookies the client reported.
 *
 * It prints one line that the proof script reads, whatever the outcome:
 *   overflow: first call after 0xffffffff: 0x80000000        (the fixed rule)
 *   overflow: first call after 0xffffffff: EOPNOTSUPP        (systemd#11809: <= v241 stock)
 *
 * systemd v219 (-DOVERFLOW_V219): its public API has no sd_bus_message_seal() (public since
 * v236) and no sd_bus_flush_close_unref() (v222), and its message handlers take the bus as a
 * first argument. Built that way, the test is linked against v219's internal static libraries
 * (libsystemd-internal, libsystemd-shared: what its own test-bus-* programs link) and seals
 * with the internal bus_message_seal(), which is what sd_bus_message_seal() became public as.
 *
 * systemd v232 (-DOVERFLOW_INTERNAL_SEAL): its handlers and sd_bus_flush_close_unref() are
 * today's, but sd_bus_message_seal() is not public yet either: the test seals through the
 * internal bus_message_seal() as on v219, linked against libsystemd-shared (what v232's own
 * test-bus-* programs link, and which exports the internal symbols).
 *
 * Exit status: 0 pass, 1 fail (every failed check is printed with its line). There is no
 * skip: a missing dbus-daemon is a failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#if defined(OVERFLOW_V219) || defined(OVERFLOW_INTERNAL_SEAL)
/* The internal sealing entry point of releases before v236 (src/libsystemd/sd-bus/bus-message.h). */
int bus_message_seal(sd_bus_message *m, uint64_t cookie, uint64_t timeout);
#  define seal_message(m, cookie, timeout) bus_message_seal((m), (cookie), (timeout))
#else
#  define seal_message(m, cookie, timeout) sd_bus_message_seal((m), (cookie), (timeout))
#endif

#ifdef OVERFLOW_V219
#  define HANDLER_ARGS sd_bus *handler_bus, sd_bus_message *m, void *userdata, sd_bus_error *error
#  define UNUSED_HANDLER_BUS (void) handler_bus
static sd_bus *flush_close_unref(sd_bus *bus) {
        if (!bus)
                return NULL;
        sd_bus_flush(bus);
        sd_bus_close(bus);
        return sd_bus_unref(bus);
}
#else
#  define HANDLER_ARGS sd_bus_message *m, void *userdata, sd_bus_error *error
#  define UNUSED_HANDLER_BUS do { } while (0)
#  define flush_close_unref(bus) sd_bus_flush_close_unref(bus)
#endif

#define COOKIE_MAX UINT64_C(0xffffffff)
#define COOKIE_CYCLED UINT64_C(0x80000000)
/* Async calls left pending on COOKIE_CYCLED .. COOKIE_CYCLED + N_PENDING - 1. */
#define N_PENDING 100
/* Long enough that no pending call times out while the test runs (no timing is asserted). */
#define CALL_TIMEOUT_USEC (UINT64_C(3600) * 1000000)
/* Guard against a hang while the peer drains its queue; not a timing assertion. */
#define DRAIN_DEADLINE_SEC 60

#define PEER_INTERFACE "org.sdbuscookie.Test"

#include "check.h"

/* ---- the private dbus-daemon ---- */

struct daemon {
        pid_t pid;
        char dir[64];
        char config[128];
        char address[512];
};

static int daemon_start(struct daemon *d) {
        int pipefd[2];
        FILE *f;
        ssize_t n;
        size_t len = 0;

        memset(d, 0, sizeof(*d));
        d->pid = -1;
        snprintf(d->dir, sizeof(d->dir), "/tmp/sdbus-cookie-overflow.XXXXXX");
        if (!mkdtemp(d->dir))
                return -errno;
        snprintf(d->config, sizeof(d->config), "%s/bus.conf", d->dir);

        f = fopen(d->config, "we");
        if (!f)
                return -errno;
        /* A session-like bus that anyone (we are root in CI) may use; no activation, no
         * system policy, so the test does not depend on the host's D-Bus configuration. */
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>session</type>\n"
                "  <listen>unix:dir=%s</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "    <allow eavesdrop=\"true\"/>\n"
                "    <allow own=\"*\"/>\n"
                "  </policy>\n"
                "</busconfig>\n",
                d->dir);
        if (fclose(f) != 0)
                return -errno;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        d->pid = fork();
        if (d->pid < 0)
                return -errno;
        if (d->pid == 0) {
                char fdarg[32];
                char cfgarg[160];
                /* --print-address=FD needs the write end open across exec: dup() drops
                 * O_CLOEXEC. */
                int fd = dup(pipefd[1]);
                char logpath[160];
                int logfd;

                if (fd < 0)
                        _exit(127);
                /* Its stderr goes to a log that is shown only if it fails to start. */
                snprintf(logpath, sizeof(logpath), "%s/daemon.log", d->dir);
                logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (logfd >= 0)
                        dup2(logfd, STDERR_FILENO);
                snprintf(fdarg, sizeof(fdarg), "--print-address=%d", fd);
                snprintf(cfgarg, sizeof(cfgarg), "--config-file=%s", d->config);
                execlp("dbus-daemon", "dbus-daemon", cfgarg, fdarg, "--nofork", (char *) NULL);
                fprintf(stderr, "overflow: cannot exec dbus-daemon: %s\n", strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);

        /* The daemon prints one line, the address, once it listens. EOF first means it died. */
        while (len < sizeof(d->address) - 1) {
                n = read(pipefd[0], d->address + len, sizeof(d->address) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(d->address, '\n', len))
                        break;
        }
        close(pipefd[0]);
        d->address[len] = '\0';
        d->address[strcspn(d->address, "\n")] = '\0';
        if (d->address[0] == '\0') {
                char logpath[160], line[512];
                FILE *log;

                fprintf(stderr, "overflow: dbus-daemon printed no address; its log:\n");
                snprintf(logpath, sizeof(logpath), "%s/daemon.log", d->dir);
                log = fopen(logpath, "re");
                while (log && fgets(line, sizeof(line), log))
                        fputs(line, stderr);
                if (log)
                        fclose(log);
                return -ECONNREFUSED;
        }
        return 0;
}

static void daemon_stop(struct daemon *d) {
        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                d->pid = -1;
        }
        /* dbus-daemon removes its socket on exit; remove what is left of ours. */
        if (d->config[0]) {
                char logpath[160];

                snprintf(logpath, sizeof(logpath), "%s/daemon.log", d->dir);
                unlink(logpath);
                unlink(d->config);
        }
        if (d->dir[0])
                rmdir(d->dir);
}

/* ---- the test ---- */

static int connect_bus(const char *address, const char *description, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_set_description(bus, description);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

/* The peer records the serial of every call on PEER_INTERFACE. It answers only the call whose
 * serial is `answer`; every other one it leaves unanswered (returning 1 marks the message
 * handled, so sd-bus sends no UnknownMethod error either). */
struct peer {
        uint64_t cookies[N_PENDING + 16];
        size_t n;
        uint64_t answer;
};

static int peer_filter(HANDLER_ARGS) {
        UNUSED_HANDLER_BUS;
        struct peer *peer = userdata;
        uint64_t cookie;
        int r;

        (void) error;
        if (!sd_bus_message_is_method_call(m, PEER_INTERFACE, NULL))
                return 0;
        r = sd_bus_message_get_cookie(m, &cookie);
        if (r < 0)
                return r;
        if (peer->n < sizeof(peer->cookies) / sizeof(peer->cookies[0]))
                peer->cookies[peer->n] = cookie;
        peer->n++;
        if (cookie == peer->answer) {
                r = sd_bus_reply_method_return(m, NULL);
                if (r < 0)
                        return r;
        }
        return 1;
}

static bool peer_saw(const struct peer *peer, uint64_t cookie) {
        for (size_t i = 0; i < peer->n && i < sizeof(peer->cookies) / sizeof(peer->cookies[0]); i++)
                if (peer->cookies[i] == cookie)
                        return true;
        return false;
}

/* Runs `bus` until *count reaches `want` (or *flag is set, with count NULL). The deadline only
 * turns a hang into a failure; nothing about timing is asserted. */
static int run_until(sd_bus *bus, const size_t *count, size_t want, const bool *flag) {
        time_t deadline = time(NULL) + DRAIN_DEADLINE_SEC;
        int r;

        while (count ? *count < want : !*flag) {
                if (time(NULL) >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r == 0) {
                        r = sd_bus_wait(bus, UINT64_C(1000000));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int never_called(HANDLER_ARGS) {
        UNUSED_HANDLER_BUS;
        (void) m;
        (void) userdata;
        (void) error;
        fprintf(stderr, "overflow: FAIL: a reply arrived for a call the peer never answers\n");
        failures++;
        return 0;
}

static int answered(HANDLER_ARGS) {
        UNUSED_HANDLER_BUS;
        bool *flag = userdata;

        (void) error;
        if (sd_bus_message_is_method_error(m, NULL)) {
                fprintf(stderr, "overflow: FAIL: the answered call got error %s\n",
                        sd_bus_message_get_error(m)->name);
                failures++;
        }
        *flag = true;
        return 0;
}

/* Sends a message sealed by us with cookie 0xffffffff: the bus adopts it (MAX rule). It expects
 * no reply, so the broker does not keep (sender, 0xffffffff) pending and accepts the same
 * serial again on the next wrap. */
static int send_sealed_max(sd_bus *client, const char *peer) {
        sd_bus_message *m = NULL;
        uint64_t cookie = 0;
        int r;

        r = sd_bus_message_new_method_call(client, &m, peer, "/", PEER_INTERFACE, "Sealed");
        if (r >= 0)
                r = sd_bus_message_set_expect_reply(m, 0);
        if (r >= 0)
                r = seal_message(m, COOKIE_MAX, 0);
        if (r >= 0)
                r = sd_bus_send(client, m, &cookie);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        CHECK(cookie == COOKIE_MAX, "sealed message went out with cookie 0x%" PRIx64, cookie);
        return 0;
}

/* An async call to the peer; returns its cookie. */
static int call_async(sd_bus *client, const char *peer, sd_bus_slot **slot,
                      sd_bus_message_handler_t callback, void *userdata, uint64_t *cookie) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(client, &m, peer, "/", PEER_INTERFACE, "Pending");
        if (r >= 0)
                r = sd_bus_call_async(client, slot, m, callback, userdata, CALL_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_message_get_cookie(m, cookie);
        sd_bus_message_unref(m);
        return r;
}

/* The line the proof script reads: the cookie the first call after the edge got, or the name
 * of the error it failed with. */
static void report_first_after_edge(int r, uint64_t cookie) {
        const char *name;

        if (r >= 0) {
                printf("overflow: first call after 0xffffffff: 0x%" PRIx64 "\n", cookie);
                return;
        }
        switch (-r) {
        case EOPNOTSUPP: name = "EOPNOTSUPP"; break; /* == ENOTSUP on Linux */
        case EBUSY:      name = "EBUSY"; break;
        case EINVAL:     name = "EINVAL"; break;
        case EEXIST:     name = "EEXIST"; break;
        case ENOMEM:     name = "ENOMEM"; break;
        default:         name = NULL; break;
        }
        if (name)
                printf("overflow: first call after 0xffffffff: %s\n", name);
        else
                printf("overflow: first call after 0xffffffff: errno %d\n", -r);
}

static const char *library_of(void *symbol) {
        Dl_info info;

        if (dladdr(symbol, &info) == 0 || !info.dli_fname)
                return "(unknown)";
        return info.dli_fname;
}

int main(void) {
        struct daemon d = { .pid = -1 };
        sd_bus *client = NULL, *peer_bus = NULL;
        sd_bus_slot *slots[N_PENDING] = { NULL };
        sd_bus_slot *extra = NULL;
        struct peer peer = { .n = 0, .answer = COOKIE_CYCLED + 1 };
        const char *peer_name = NULL;
        uint64_t cookie, wire[N_PENDING + 8];
        size_t n_wire = 0;
        bool got_answer = false;

        printf("overflow: libsystemd: %s\n", library_of((void *) sd_bus_call_async));

        REQUIRE_OK(daemon_start(&d), "start a private dbus-daemon (is dbus-daemon installed?)");
        printf("overflow: private dbus-daemon pid %d at %s\n", (int) d.pid, d.address);

        REQUIRE_OK(connect_bus(d.address, "overflow-client", &client), "connect the client");
        REQUIRE_OK(connect_bus(d.address, "overflow-peer", &peer_bus), "connect the peer");
        REQUIRE_OK(sd_bus_get_unique_name(peer_bus, &peer_name), "peer unique name");
        REQUIRE_OK(sd_bus_add_filter(peer_bus, NULL, peer_filter, &peer), "peer filter");

        /* 1. Seal 0xffffffff and send it: the next call must get 0x80000000, and the following
         *    ones count up from there. The peer answers none of them except 0x80000001 (step 3),
         *    and only once the client processes its input, which it does not do before step 3:
         *    until then all N calls are pending. */
        REQUIRE_OK(send_sealed_max(client, peer_name), "send a message sealed with 0xffffffff");
        wire[n_wire++] = COOKIE_MAX;
        for (size_t i = 0; i < N_PENDING; i++) {
                int r = call_async(client, peer_name, &slots[i],
                                   i == 1 ? answered : never_called,
                                   i == 1 ? &got_answer : NULL, &cookie);
                if (i == 0)
                        report_first_after_edge(r, cookie);
                REQUIRE_OK(r, "async call");
                CHECK(cookie == COOKIE_CYCLED + i,
                      "call %zu after 0xffffffff got cookie 0x%" PRIx64 ", want 0x%" PRIx64,
                      i, cookie, COOKIE_CYCLED + i);
                wire[n_wire++] = cookie;
        }
        printf("overflow: after a message sealed with 0xffffffff the next %d calls got "
               "0x%" PRIx64 "..0x%" PRIx64 "\n", N_PENDING, COOKIE_CYCLED, COOKIE_CYCLED + N_PENDING - 1);

        /* 2. Wrap again while 0x80000000..+N-1 are pending: the next cookie must skip them. */
        REQUIRE_OK(send_sealed_max(client, peer_name), "send a second message sealed with 0xffffffff");
        wire[n_wire++] = COOKIE_MAX;
        REQUIRE_OK(call_async(client, peer_name, &extra, never_called, NULL, &cookie),
                   "async call after the second wrap");
        CHECK(cookie == COOKIE_CYCLED + N_PENDING,
              "with 0x%" PRIx64 "..0x%" PRIx64 " pending the next cookie is 0x%" PRIx64
              ", want 0x%" PRIx64,
              COOKIE_CYCLED, COOKIE_CYCLED + N_PENDING - 1, cookie, COOKIE_CYCLED + N_PENDING);
        wire[n_wire++] = cookie;
        printf("overflow: with 0x%" PRIx64 "..0x%" PRIx64 " pending the next call got 0x%" PRIx64 "\n",
               COOKIE_CYCLED, COOKIE_CYCLED + N_PENDING - 1, cookie);

        /* 3. A call that got its reply frees its cookie: the peer answers 0x80000001, the client
         *    processes the reply (which drops the reply callback), and after the next wrap
         *    0x80000001 is handed out again while 0x80000000, still pending, is skipped. The
         *    broker accepts the reused serial because its first use was answered. */
        REQUIRE_OK(sd_bus_flush(client), "flush the client");
        REQUIRE_OK(run_until(peer_bus, &peer.n, n_wire, NULL), "peer reads the calls so far");
        REQUIRE_OK(run_until(client, NULL, 0, &got_answer), "client waits for the answer to 0x80000001");
        slots[1] = sd_bus_slot_unref(slots[1]);
        REQUIRE_OK(send_sealed_max(client, peer_name), "send a third message sealed with 0xffffffff");
        wire[n_wire++] = COOKIE_MAX;
        REQUIRE_OK(call_async(client, peer_name, &slots[1], never_called, NULL, &cookie),
                   "async call after the third wrap");
        CHECK(cookie == COOKIE_CYCLED + 1,
              "after 0x%" PRIx64 " was answered the next cookie is 0x%" PRIx64 ", want 0x%" PRIx64,
              COOKIE_CYCLED + 1, cookie, COOKIE_CYCLED + 1);
        wire[n_wire++] = cookie;
        printf("overflow: after its call was answered, 0x%" PRIx64 " is handed out again: got 0x%" PRIx64 "\n",
               COOKIE_CYCLED + 1, cookie);

        /* 4. What went over the wire: the peer reads everything the daemon delivered. */
        REQUIRE_OK(sd_bus_flush(client), "flush the client");
        REQUIRE_OK(run_until(peer_bus, &peer.n, n_wire, NULL), "peer reads all calls");
        CHECK(peer.n == n_wire, "the peer received %zu calls, want %zu", peer.n, n_wire);
        for (size_t i = 0; i < n_wire; i++)
                CHECK(peer_saw(&peer, wire[i]), "the peer never saw serial 0x%" PRIx64, wire[i]);
        printf("overflow: the peer received all %zu calls, with the expected serials\n", peer.n);

finish:
        for (size_t i = 0; i < N_PENDING; i++)
                sd_bus_slot_unref(slots[i]);
        sd_bus_slot_unref(extra);
        flush_close_unref(client);
        flush_close_unref(peer_bus);
        daemon_stop(&d);

        if (failures) {
                printf("overflow: FAIL (%d failed checks)\n", failures);
                return 1;
        }
        printf("overflow: PASS\n");
        return 0;
}
