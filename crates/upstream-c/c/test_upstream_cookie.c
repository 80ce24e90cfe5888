/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Plain C test of upstream_cookie.c, built by scripts/test-upstream-c with
 * -Werror and AddressSanitizer + UndefinedBehaviorSanitizer: the hash set's
 * growth and backward-shift deletion against a bitmap model, the cycle rule,
 * EBUSY, the pre-v242 EOPNOTSUPP point, and NULL handling. Exits non-zero on
 * the first failed check.
 */
#include "upstream_cookie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond)) {                                                       \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        failures++;                                                  \
                }                                                                    \
        } while (0)

static uint64_t xorshift(uint64_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

#define RANGE 5000u

static void test_set_against_bitmap(void) {
        uc_params p = uc_params_default();
        uc_v242 *b = uc_v242_new(&p);
        static unsigned char model[RANGE + 1];
        size_t len = 0;
        uint64_t x = UINT64_C(88172645463325252);

        CHECK(b != NULL);
        if (!b)
                return;
        memset(model, 0, sizeof(model));
        for (unsigned i = 0; i < 2000000; i++) {
                uint64_t r = xorshift(&x);
                unsigned key = (unsigned) ((r >> 40) % (RANGE + 1)); /* 0 included */
                uint64_t cookie = key == RANGE ? 0 : UC_COOKIE_CYCLED + key;
                unsigned slot = key;

                if ((r >> 32) % 3 == 0) {
                        CHECK(uc_v242_pending_remove(b, cookie) == model[slot]);
                        len -= model[slot];
                        model[slot] = 0;
                } else {
                        CHECK(uc_v242_pending_add(b, cookie) == !model[slot]);
                        len += !model[slot];
                        model[slot] = 1;
                }
        }
        CHECK(uc_v242_pending_len(b) == len);
        for (unsigned key = 0; key <= RANGE; key++) {
                uint64_t cookie = key == RANGE ? 0 : UC_COOKIE_CYCLED + key;
                CHECK(uc_v242_pending_contains(b, cookie) == (bool) model[key]);
        }
        uc_v242_free(b);
}

static void test_v242_cycle_skip_and_ebusy(void) {
        uc_params p = uc_params_default(), w4;
        uc_v242 *b = uc_v242_new(&p);
        uint64_t c = 0;

        CHECK(b != NULL);
        if (!b)
                return;
        CHECK(uc_v242_next(b, &c) == 0 && c == 1);
        CHECK(uc_v242_observe_sealed(b, UC_COOKIE_CEILING) == 0);
        CHECK(uc_v242_pending_add(b, UC_COOKIE_CYCLED) == 1);
        CHECK(uc_v242_next(b, &c) == 0 && c == UC_COOKIE_CYCLED + 1);
        CHECK(uc_v242_observe_sealed(b, UC_COOKIE_CEILING + 1) == -EOPNOTSUPP);
        CHECK(uc_v242_current(b) == UC_COOKIE_CYCLED + 1);
        uc_v242_free(b);

        CHECK(uc_params_width(4, 0, &w4) == 0);
        b = uc_v242_new(&w4);
        CHECK(b != NULL);
        if (!b)
                return;
        CHECK(uc_v242_observe_sealed(b, 15) == 0);
        for (uint64_t k = 8; k <= 15; k++)
                CHECK(uc_v242_pending_add(b, k) == 1);
        CHECK(uc_v242_next(b, &c) == -EBUSY);
        CHECK(uc_v242_current(b) == 15);
        CHECK(uc_v242_pending_remove(b, 11) == 1);
        CHECK(uc_v242_next(b, &c) == 0 && c == 11);
        uc_v242_free(b);
}

static void test_legacy_eopnotsupp(void) {
        uc_legacy l;
        uint64_t c = 0;

        uc_legacy_init(&l);
        CHECK(uc_legacy_next(&l, &c) == 0 && c == 1);
        CHECK(uc_legacy_observe_sealed(&l, UC_COOKIE_CEILING) == 0);
        CHECK(uc_legacy_next(&l, &c) == -EOPNOTSUPP && c == UC_COOKIE_CEILING + 1);
        CHECK(uc_legacy_next(&l, &c) == -EOPNOTSUPP && c == UC_COOKIE_CEILING + 2);
        CHECK(uc_legacy_observe_sealed(&l, UC_COOKIE_CEILING + 5) == -EOPNOTSUPP);
}

static void test_null_and_bad_params(void) {
        uc_params p;
        uint64_t c;

        uc_v242_free(NULL);
        CHECK(uc_v242_new(NULL) == NULL);
        CHECK(uc_v242_next(NULL, &c) == -EINVAL);
        CHECK(uc_v242_pending_add(NULL, 1) == -EINVAL);
        CHECK(uc_legacy_next(NULL, &c) == -EINVAL);
        CHECK(uc_params_width(1, 0, &p) == -EINVAL);
        CHECK(uc_params_width(33, 0, &p) == -EINVAL);
        CHECK(uc_params_width(32, UC_COOKIE_CYCLED, &p) == -EINVAL);
        CHECK(uc_params_width(32, 0, NULL) == -EINVAL);
}

int main(void) {
        test_set_against_bitmap();
        test_v242_cycle_skip_and_ebusy();
        test_legacy_eopnotsupp();
        test_null_and_bad_params();
        if (failures) {
                fprintf(stderr, "test_upstream_cookie: %d check(s) failed\n", failures);
                return EXIT_FAILURE;
        }
        printf("test_upstream_cookie: all checks passed\n");
        return EXIT_SUCCESS;
}
