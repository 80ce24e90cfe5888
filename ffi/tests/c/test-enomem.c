/* -ENOMEM / NULL when the heap is exhausted at handle creation. The program interposes
 * malloc (glibc's __libc_malloc does the real work) so it can make allocations fail on
 * demand; that is why it is not part of the sanitizer build, whose runtime owns malloc.
 * scripts/test-ffi runs it linked statically and dynamically. */
#include <sdbus-cookie.h>

#include <errno.h>
#include <stddef.h>

#include "check.h"

extern void *__libc_malloc(size_t size);
void *malloc(size_t size);

static int fail_malloc;
static unsigned long failed_mallocs;

void *malloc(size_t size) {
        if (fail_malloc) {
                failed_mallocs++;
                return NULL;
        }
        return __libc_malloc(size);
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
        sdbus_cookie_allocator_free(a);
        return check_exit("test-enomem");
}
