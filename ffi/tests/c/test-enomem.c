/* -ENOMEM / NULL when the heap is exhausted at handle creation and when the pending set
 * must grow, and removals (which may split a run) that succeed without the heap. The
 * program interposes malloc and realloc (glibc's __libc_* do the real work) so it can make
 * allocations fail on demand; that is why it is not part of the sanitizer build, whose runtime owns malloc.
 * scripts/test-ffi runs it linked statically and dynamically. */
#include <sdbus-cookie.h>

#include <errno.h>
#include <stddef.h>

#include "check.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
void *malloc(size_t size);
void *realloc(void *ptr, size_t size);

static int fail_malloc;
static unsigned long failed_mallocs;

void *malloc(size_t size) {
        if (fail_malloc) {
                failed_mallocs++;
                return NULL;
        }
        return __libc_malloc(size);
}

void *realloc(void *ptr, size_t size) {
        if (fail_malloc) {
                failed_mallocs++;
                return NULL;
        }
        return __libc_realloc(ptr, size);
}

int main(void) {
        sdbus_cookie_allocator *sentinel = (sdbus_cookie_allocator *)&fail_malloc;
        sdbus_cookie_allocator *a = sentinel;
        uint64_t c = 0;

        fail_malloc = 1;
        CHECK(sdbus_cookie_allocator_new() == NULL);
        CHECK_EQ_INT(sdbus_cookie_allocator_new_with_ceiling(0xfffeffff, &a), -ENOMEM);
        fail_malloc = 0;
        CHECK(a == sentinel);
        CHECK(failed_mallocs >= 2); /* the library really went through malloc */

        /* and it recovers once memory is back */
        a = sdbus_cookie_allocator_new();
        CHECK(a != NULL);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        CHECK_EQ_U64(c, 1);

        /* the first pending cookie needs storage: refused, nothing changed */
        fail_malloc = 1;
        failed_mallocs = 0;
        CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, 5), -ENOMEM);
        fail_malloc = 0;
        CHECK(failed_mallocs >= 1);
        CHECK_EQ_INT(sdbus_cookie_allocator_is_pending(a, 5), 0);
        CHECK(sdbus_cookie_allocator_pending_count(a) == 0);

        /* a run 2..10, then removals that split it into single cookies with the heap
         * refusing everything: they never ask it */
        for (uint64_t k = 2; k <= 10; k++)
                CHECK_EQ_INT(sdbus_cookie_allocator_pending_add(a, k), 0);
        fail_malloc = 1;
        failed_mallocs = 0;
        for (uint64_t k = 3; k <= 9; k += 2)
                CHECK_EQ_INT(sdbus_cookie_allocator_pending_remove(a, k), 0);
        CHECK_EQ_INT(sdbus_cookie_allocator_next(a, &c), 0);
        fail_malloc = 0;
        CHECK(failed_mallocs == 0);
        CHECK_EQ_U64(c, 3); /* 2 is pending, 3 was freed */
        CHECK(sdbus_cookie_allocator_pending_count(a) == 5);
        sdbus_cookie_allocator_free(a);
        return check_exit("test-enomem");
}
