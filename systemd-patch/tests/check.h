/* The checks shared by the C tests of systemd-patch/tests: each failure is counted and
 * reported with its file and line; main() exits non-zero when `failures` is not 0. */
#pragma once

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                              \
        do {                                                                          \
                if (!(cond)) {                                                        \
                        fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                 \
                        fputc('\n', stderr);                                          \
                        failures++;                                                   \
                }                                                                     \
        } while (0)

/* For calls whose failure makes the rest meaningless: jumps to the caller's `finish`. */
#define REQUIRE_OK(r, what)                                                           \
        do {                                                                          \
                int _r = (r);                                                         \
                if (_r < 0) {                                                         \
                        fprintf(stderr, "%s:%d: FAIL: %s: %s\n", __FILE__, __LINE__,   \
                                what, strerror(-_r));                                 \
                        failures++;                                                   \
                        goto finish;                                                  \
                }                                                                     \
        } while (0)
