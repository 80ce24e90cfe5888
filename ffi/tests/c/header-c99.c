/* The header alone, twice (include guard), in strict C99: this file only has to compile. */
#include <sdbus-cookie.h>
#include <sdbus-cookie.h>

/* The typedef and the prototype agree, so a sd-bus-style predicate fits both. */
static bool pred(uint64_t cookie, void *userdata) {
        (void)userdata;
        return cookie != 0;
}
sdbus_cookie_in_use_t header_c99_pred = pred;
