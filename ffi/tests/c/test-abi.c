/* Every exported function of libsdbus_cookie and every error it documents, from C.
 * scripts/test-ffi builds this program linked statically, dynamically and under
 * AddressSanitizer + UndefinedBehaviorSanitizer; each build must exit 0. */
#include <sdbus-cookie.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

/* ---- predicates for the stateless function -------------------------------------- */

struct probe {
        uint64_t calls;       /* how often in_use was consulted */
        uint64_t min_seen;    /* smallest candidate it was asked about */
        uint64_t busy_lo;     /* candidates in [busy_lo, busy_hi] are "in use" */
        uint64_t busy_hi;
};

static struct probe probe_new(uint64_t busy_lo, uint64_t busy_hi) {
        struct probe p;
        p.calls = 0;
        p.min_seen = UINT64_MAX;
        p.busy_lo = busy_lo;
        p.busy_hi = busy_hi;
        return p;
}

static bool in_range(uint64_t cookie, void *userdata) {
        struct probe *p = userdata;
        p->calls++;
        if (cookie < p->min_seen)
                p->min_seen = cookie;
        return cookie >= p->busy_lo && cookie <= p->busy_hi;
}

static bool always_yes(uint64_t cookie, void *userdata) {
        uint64_t *calls = userdata;
        (void)cookie;
        (*calls)++;
        return true;
}

static bool never(uint64_t cookie, void *userdata) {
        (void)cookie;
        (void)userdata;
        return false;
}

/* ---- sdbus_cookie_next_inline (header) ---------------------------------------------- */

static void test_next_inline_agrees_with_next_on_both_sides_of_the_fast_path(void) {
        static const uint64_t starts[] = {
                0, 1, 41, 0x7ffffffd, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001,
                0xfffffffe, 0xffffffff, 0x100000000, UINT64_MAX,
        };
        size_t i;

        for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
                /* 0x80000000..0x80000002 in use: the cycled start must skip them */
                struct probe pi = probe_new(0x80000000, 0x80000002);
                struct probe po = probe_new(0x80000000, 0x80000002);
                uint64_t ci = starts[i], co = starts[i];

                CHECK_EQ_INT(sdbus_cookie_next_inline(&ci, in_range, &pi),
                             sdbus_cookie_next(&co, in_range, &po));
                CHECK_EQ_U64(ci, co);
                CHECK_EQ_U64(pi.calls, po.calls);
        }
        CHECK_EQ_INT(sdbus_cookie_next_inline(NULL, never, NULL), -EINVAL);
        {
                uint64_t c = 5;
                CHECK_EQ_INT(sdbus_cookie_next_inline(&c, NULL, NULL), -EINVAL);
                CHECK_EQ_U64(c, 5);
        }
}

/* ---- sdbus_cookie_next -------------------------------------------------------------- */

static void test_next_before_cycle_increments_without_consulting_in_use(void) {
        struct probe p = probe_new(0, UINT64_MAX); /* says "in use" to everything */
        uint64_t c = 0;

        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(c, 1);
        c = 0x7ffffffe;
        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(c, 0x7fffffff);
        CHECK_EQ_U64(p.calls, 0); /* upstream's fast path: no lookup below bit 31 */
}

static void test_next_consults_in_use_from_cycled_bit_on(void) {
        struct probe p = probe_new(1, 0); /* nothing in use */
        uint64_t c = 0x7fffffff;

        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(c, SDBUS_COOKIE_CYCLED);
        CHECK_EQ_U64(p.calls, 1);
        CHECK_EQ_U64(p.min_seen, SDBUS_COOKIE_CYCLED);
}

static void test_next_cycles_from_max_to_0x80000000(void) {
        uint64_t c = SDBUS_COOKIE_MAX;

        CHECK_EQ_INT(sdbus_cookie_next(&c, never, NULL), 0);
        CHECK_EQ_U64(c, 0x80000000);
}

static void test_next_skips_in_use_candidates(void) {
        struct probe p = probe_new(0x80000000, 0x80000001);
        uint64_t c = SDBUS_COOKIE_MAX;

        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(c, 0x80000002);
        CHECK_EQ_U64(p.calls, 3);
}

static void test_next_skip_wraps_past_max(void) {
        struct probe p = probe_new(0xffffffff, 0xffffffff);
        uint64_t c = 0xfffffffe;

        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(c, 0x80000000);
        CHECK_EQ_U64(p.calls, 2);
}

static void test_next_passes_userdata_through(void) {
        struct probe p = probe_new(1, 0);
        uint64_t c = 0x90000000;

        CHECK_EQ_INT(sdbus_cookie_next(&c, in_range, &p), 0);
        CHECK_EQ_U64(p.calls, 1); /* only `p` can have counted it */
        CHECK_EQ_U64(c, 0x90000001);
}

/* The acceptance test: in_use always says yes, at full 32-bit width: -EBUSY
 * after exactly one lap of the 2^31 cycled cookies, not a hang, not a crash. */
static void test_next_is_ebusy_when_every_cycled_cookie_is_in_use_full_width(void) {
        uint64_t calls = 0;
        uint64_t c = 0x7fffffff;

        CHECK_EQ_INT(sdbus_cookie_next(&c, always_yes, &calls), -EBUSY);
        CHECK_EQ_U64(c, 0x7fffffff); /* unchanged */
        CHECK_EQ_U64(calls, UINT64_C(0x80000000));

        calls = 0;
        c = 0xc0000000;
        CHECK_EQ_INT(sdbus_cookie_next(&c, always_yes, &calls), -EBUSY);
        CHECK_EQ_U64(c, 0xc0000000);
        CHECK_EQ_U64(calls, UINT64_C(0x80000000));
}

static void test_next_rejects_null_and_out_of_range(void) {
        uint64_t c = 5;

        CHECK_EQ_INT(sdbus_cookie_next(NULL, never, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_next(&c, NULL, NULL), -EINVAL);
        CHECK_EQ_U64(c, 5);
        c = SDBUS_COOKIE_MAX + 1;
        CHECK_EQ_INT(sdbus_cookie_next(&c, never, NULL), -EINVAL);
        CHECK_EQ_U64(c, SDBUS_COOKIE_MAX + 1);
        c = UINT64_MAX;
        CHECK_EQ_INT(sdbus_cookie_next(&c, never, NULL), -EINVAL);
        CHECK_EQ_U64(c, UINT64_MAX);
}

/* ---- sdbus_cookie_next_with_ceiling -------------------------------------------------- */

static void test_next_with_ceiling_cycles_at_the_ceiling(void) {
        uint64_t c = 0xfffefffe;

        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0xfffeffff, never, NULL), 0);
        CHECK_EQ_U64(c, 0xfffeffff);
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0xfffeffff, never, NULL), 0);
        CHECK_EQ_U64(c, 0x80000000);

        c = SDBUS_COOKIE_MAX; /* ceiling 0xffffffff is sdbus_cookie_next() */
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, SDBUS_COOKIE_MAX, never, NULL), 0);
        CHECK_EQ_U64(c, 0x80000000);
}

static void test_next_with_ceiling_is_ebusy_after_one_lap(void) {
        uint64_t calls = 0;
        uint64_t c = 0x80000001;

        /* cycled cookies are 0x80000000..0x80000001: two candidates */
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0x80000001, always_yes, &calls), -EBUSY);
        CHECK_EQ_U64(calls, 2);
        CHECK_EQ_U64(c, 0x80000001);
}

static void test_next_with_ceiling_rejects_bad_arguments(void) {
        uint64_t c = 1;

        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0x80000000, never, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0, never, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, SDBUS_COOKIE_MAX + 1, never, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(NULL, 0xfffeffff, never, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0xfffeffff, NULL, NULL), -EINVAL);
        CHECK_EQ_U64(c, 1);
        c = 0xffff0000; /* above the ceiling */
        CHECK_EQ_INT(sdbus_cookie_next_with_ceiling(&c, 0xfffeffff, never, NULL), -EINVAL);
        CHECK_EQ_U64(c, 0xffff0000);
}

/* ---- the allocator handle ------------------------------------------------------------ */

static void test_allocator_starts_empty_and_counts_up(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        uint64_t c = 0;

        CHECK(a != NULL);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_ceiling(a), SDBUS_COOKIE_MAX);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(a), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_quarantined_count(a), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 2);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), 2);
        sdbus_cookie_allocator_free(a);
}

static void test_allocator_pending_add_remove_and_their_errors(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        uint64_t c = 0;

        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 3), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 3), -EEXIST);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 0), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, SDBUS_COOKIE_MAX + 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 3), 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 4), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 0), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, UINT64_MAX), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(a), 1);

        /* never hands out a pending cookie */
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, 2), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 4);

        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, 3), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, 3), -ENOENT);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, 0), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, SDBUS_COOKIE_MAX + 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 3), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(a), 0);
        sdbus_cookie_allocator_free(a);
}

static void test_allocator_observe_sealed_takes_the_max_and_cycles(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        uint64_t c = 0;

        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, SDBUS_COOKIE_MAX), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), SDBUS_COOKIE_MAX);
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, 5), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), SDBUS_COOKIE_MAX); /* max, not last */
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, 0), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, SDBUS_COOKIE_MAX + 1), -EINVAL);

        /* the overflow the project exists for: after 0xffffffff comes 0x80000000, and
         * cookies still pending after the cycle are skipped */
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 0x80000000), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 0x80000001), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 0x80000002);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), 0x80000002);
        sdbus_cookie_allocator_free(a);
}

static void test_allocator_quarantine_and_release(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        size_t n = 99;

        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 10), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 11), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 12), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, 10), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, 11), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, 11), 0); /* again: no change */
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, 13), -ENOENT);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, 0), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(a, SDBUS_COOKIE_MAX + 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_quarantined(a, 10), 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_quarantined(a, 12), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 10), 1); /* still reserved */
        CHECK_EQ_U64(sdbus_cookie_allocator_quarantined_count(a), 2);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(a), 3);

        /* a late reply ends the quarantine of that one cookie */
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, 11), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_quarantined(a, 11), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_quarantined_count(a), 1);

        /* disconnect: every quarantined cookie is released, the others stay pending */
        CHECK_EQ_INT(sdbus_cookie_allocator_release_quarantined(a, &n), 0);
        CHECK_EQ_U64(n, 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 10), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 12), 1);
        CHECK_EQ_U64(sdbus_cookie_allocator_quarantined_count(a), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(a), 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_release_quarantined(a, NULL), 0); /* count optional */
        sdbus_cookie_allocator_free(a);
}

static void test_allocator_with_ceiling_cycles_and_is_ebusy_when_all_pending(void) {
        sdbus_cookie_allocator *a = NULL;
        uint64_t c = 0, k;

        /* cycled cookies: 0x80000000..0x80000003 */
        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(0x80000003, &a), 0);
        CHECK(a != NULL);
        CHECK_EQ_U64(sdbus_cookie_allocator_ceiling(a), 0x80000003);
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, 0x80000003), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(a, 0x80000004), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 0x80000004), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 0x80000000);

        for (k = 0x80000000; k <= 0x80000003; k++)
                CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, k), 0);
        c = 42;
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), -EBUSY);
        CHECK_EQ_U64(c, 42);                                        /* not written */
        CHECK_EQ_U64(sdbus_cookie_allocator_current(a), 0x80000000); /* unchanged */

        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, 0x80000002), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 0x80000002);
        sdbus_cookie_allocator_free(a);
}

static void test_allocator_new_with_ceiling_rejects_bad_arguments(void) {
        sdbus_cookie_allocator *sentinel = (sdbus_cookie_allocator *)&check_failures;
        sdbus_cookie_allocator *a = sentinel;

        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(0xfffeffff, NULL), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(0x80000000, &a), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(0, &a), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(SDBUS_COOKIE_MAX + 1, &a), -EINVAL);
        CHECK(a == sentinel); /* not written on failure */
}

static void test_allocator_functions_reject_null(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        uint64_t c = 7;
        size_t n = 7;

        CHECK_EQ_INT(sdbus_cookie_allocator_next(NULL, &c), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, NULL), -EINVAL);
        CHECK_EQ_U64(c, 7);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(NULL, 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(NULL, 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_quarantine(NULL, 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_release_quarantined(NULL, &n), -EINVAL);
        CHECK_EQ_U64(n, 7);
        CHECK_EQ_INT(sdbus_cookie_allocator_observe_sealed(NULL, 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(NULL, 1), -EINVAL);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_quarantined(NULL, 1), -EINVAL);
        CHECK_EQ_U64(sdbus_cookie_allocator_current(NULL), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_ceiling(NULL), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(NULL), 0);
        CHECK_EQ_U64(sdbus_cookie_allocator_quarantined_count(NULL), 0);
        sdbus_cookie_allocator_free(NULL); /* no-op */
        sdbus_cookie_allocator_free(a);
}

static void test_allocators_are_independent(void) {
        sdbus_cookie_allocator *a = sdbus_cookie_allocator_new();
        sdbus_cookie_allocator *b = sdbus_cookie_allocator_new();
        uint64_t c = 0;

        CHECK(a != b);
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 1), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(b, &c), 0);
        CHECK_EQ_U64(c, 1);
        CHECK_EQ_U64(sdbus_cookie_allocator_pending_count(b), 0);
        sdbus_cookie_allocator_free(b);
        sdbus_cookie_allocator_free(a);
}

static void test_version_matches_the_header(void) {
        const char *v = sdbus_cookie_version();

        CHECK(v != NULL);
        CHECK(v && strcmp(v, SDBUS_COOKIE_VERSION_STRING) == 0);
}

int main(void) {
        test_next_inline_agrees_with_next_on_both_sides_of_the_fast_path();
        test_next_before_cycle_increments_without_consulting_in_use();
        test_next_consults_in_use_from_cycled_bit_on();
        test_next_cycles_from_max_to_0x80000000();
        test_next_skips_in_use_candidates();
        test_next_skip_wraps_past_max();
        test_next_passes_userdata_through();
        test_next_is_ebusy_when_every_cycled_cookie_is_in_use_full_width();
        test_next_rejects_null_and_out_of_range();
        test_next_with_ceiling_cycles_at_the_ceiling();
        test_next_with_ceiling_is_ebusy_after_one_lap();
        test_next_with_ceiling_rejects_bad_arguments();
        test_allocator_starts_empty_and_counts_up();
        test_allocator_pending_add_remove_and_their_errors();
        test_allocator_observe_sealed_takes_the_max_and_cycles();
        test_allocator_quarantine_and_release();
        test_allocator_with_ceiling_cycles_and_is_ebusy_when_all_pending();
        test_allocator_new_with_ceiling_rejects_bad_arguments();
        test_allocator_functions_reject_null();
        test_allocators_are_independent();
        test_version_matches_the_header();
        return check_exit("test-abi");
}
