/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The C reference of the `client_lifecycle` bench: the scope lifecycle our client runs
 * (sdbus-cgroup's start_scope + stop), written against libsystemd's sd-bus in-process, the way a C
 * container runtime would: one connection, Subscribe once, a match on JobRemoved; per
 * lifecycle StartTransientUnit with the same properties our client sends for the same
 * Scope, wait for its JobRemoved, StopUnit, wait, ResetFailedUnit.
 *
 * Facts (systemd's D-Bus API, org.freedesktop.systemd1(5)): StartTransientUnit(ssa(sv)a(sa(sv)))
 * -> o, StopUnit(ss) -> o, ResetFailedUnit(s), signal JobRemoved(uoss) carrying the job
 * path and its result; Subscribe() makes PID 1 emit job signals to this client.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#define DEST "org.freedesktop.systemd1"
#define PATH "/org/freedesktop/systemd1"
#define MANAGER "org.freedesktop.systemd1.Manager"
#define TIMEOUT_USEC (uint64_t) 30000000

typedef struct sdbench_client {
        sd_bus *bus;
        sd_bus_slot *match;
        char *job;      /* the job we wait for */
        bool job_done;
        char result[32];
} sdbench_client;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sdbench_client *c = userdata;
        uint32_t id;
        const char *path, *unit, *result;

        (void) error;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (c->job && strcmp(path, c->job) == 0) {
                c->job_done = true;
                snprintf(c->result, sizeof(c->result), "%s", result);
        }
        return 0;
}

void sdbench_client_free(sdbench_client *c) {
        if (!c)
                return;
        sd_bus_slot_unref(c->match);
        sd_bus_flush_close_unref(c->bus);
        free(c->job);
        free(c);
}

/* Connects to the bus at `address` as a client. Returns NULL on failure. */
sdbench_client *sdbench_client_open(const char *address) {
        sdbench_client *c = calloc(1, sizeof(*c));
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        if (!c)
                return NULL;
        r = sd_bus_new(&c->bus);
        if (r >= 0)
                r = sd_bus_set_address(c->bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(c->bus, 1);
        if (r >= 0)
                r = sd_bus_start(c->bus);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &c->match, DEST, PATH, MANAGER, "JobRemoved",
                                        on_job_removed, c);
        if (r >= 0)
                r = sd_bus_call_method(c->bus, DEST, PATH, MANAGER, "Subscribe", &err, NULL, "");
        sd_bus_error_free(&err);
        if (r < 0) {
                fprintf(stderr, "sdbench_client_open(%s): %s\n", address, strerror(-r));
                sdbench_client_free(c);
                return NULL;
        }
        return c;
}

/* Waits for JobRemoved of the job path in `reply`; 0 if its result is "done". */
static int wait_job(sdbench_client *c, sd_bus_message *reply) {
        const char *job;
        int r = sd_bus_message_read(reply, "o", &job);

        if (r < 0)
                return r;
        free(c->job);
        c->job = strdup(job);
        if (!c->job)
                return -ENOMEM;
        c->job_done = false;
        while (!c->job_done) {
                r = sd_bus_process(c->bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(c->bus, TIMEOUT_USEC);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
        }
        return strcmp(c->result, "done") == 0 ? 0 : -EIO;
}

static int append_bool(sd_bus_message *m, const char *name, int value) {
        return sd_bus_message_append(m, "(sv)", name, "b", value);
}

/* One lifecycle of scope `unit` around `pid` (a pid in systemd's namespace) with
 * MemoryMax (unified) or MemoryLimit (legacy) = `memory`, TasksMax = `tasks`.
 * Returns 0, or a negative errno (the D-Bus error is printed). */
int sdbench_client_lifecycle(sdbench_client *c, const char *unit, uint32_t pid, int unified,
                             uint64_t memory, uint64_t tasks) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char description[256];
        int r;

        snprintf(description, sizeof(description), "sdbus-cgroup scope %s", unit);
        r = sd_bus_message_new_method_call(c->bus, &m, DEST, PATH, MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "Description", "s", description);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, pid);
        if (r >= 0)
                r = append_bool(m, "MemoryAccounting", 1);
        if (r >= 0)
                r = append_bool(m, "CPUAccounting", 1);
        if (r >= 0)
                r = append_bool(m, unified ? "IOAccounting" : "BlockIOAccounting", 1);
        if (r >= 0)
                r = append_bool(m, "TasksAccounting", 1);
        if (r >= 0)
                r = append_bool(m, "DefaultDependencies", 0);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", unified ? "MemoryMax" : "MemoryLimit", "t",
                                          memory);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "TasksMax", "t", tasks);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, TIMEOUT_USEC, &err, &reply);
        m = sd_bus_message_unref(m);
        if (r >= 0)
                r = wait_job(c, reply);
        reply = sd_bus_message_unref(reply);
        if (r < 0)
                goto fail;

        r = sd_bus_call_method(c->bus, DEST, PATH, MANAGER, "StopUnit", &err, &reply, "ss", unit,
                               "replace");
        if (r >= 0)
                r = wait_job(c, reply);
        reply = sd_bus_message_unref(reply);
        if (r < 0)
                goto fail;

        r = sd_bus_call_method(c->bus, DEST, PATH, MANAGER, "ResetFailedUnit", &err, NULL, "s",
                               unit);
        if (r < 0 && sd_bus_error_has_name(&err, "org.freedesktop.systemd1.NoSuchUnit"))
                r = 0;
        if (r < 0)
                goto fail;
        sd_bus_error_free(&err);
        return 0;
fail:
        fprintf(stderr, "sdbench_client_lifecycle(%s): %s (%s)\n", unit, strerror(-r),
                err.name ? err.name : "-");
        sd_bus_error_free(&err);
        return r;
}
