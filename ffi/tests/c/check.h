/* Minimal test harness shared by the C tests: CHECK() reports file:line and the failed
 * expression, and the program's exit status is the number of failures (capped). */
#ifndef SDBUS_COOKIE_TEST_CHECK_H
#define SDBUS_COOKIE_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(expr)                                                                     \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                                #expr);                                                 \
                        check_failures++;                                               \
                }                                                                       \
        } while (0)

#define CHECK_EQ_INT(got, want)                                                              \
        do {                                                                                 \
                long long g_ = (long long)(got), w_ = (long long)(want);                     \
                if (g_ != w_) {                                                              \
                        fprintf(stderr, "%s:%d: CHECK failed: %s == %s (got %lld, want %lld)\n", \
                                __FILE__, __LINE__, #got, #want, g_, w_);                    \
                        check_failures++;                                                    \
                }                                                                            \
        } while (0)

#define CHECK_EQ_U64(got, want)                                                            \
        do {                                                                               \
                unsigned long long g_ = (unsigned long long)(got);                         \
                unsigned long long w_ = (unsigned long long)(want);                        \
                if (g_ != w_) {                                                            \
                        fprintf(stderr, "%s:%d: CHECK failed: %s == %s (got 0x%llx, want 0x%llx)\n", \
                                __FILE__, __LINE__, #got, #want, g_, w_);                  \
                        check_failures++;                                                  \
                }                                                                          \
        } while (0)

static int check_exit(const char *name) {
        if (check_failures) {
                fprintf(stderr, "%s: %d check(s) FAILED\n", name, check_failures);
                return check_failures > 100 ? 100 : check_failures;
        }
        printf("%s: all checks passed\n", name);
        return 0;
}

#endif
