// The header from C++17: its extern "C" guard must give C linkage, so this program only
// links if the names are not mangled. Run against the shared library by scripts/test-ffi.
#include <sdbus-cookie.h>
#include <sdbus-cookie.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace {
struct AllocatorFree {
    void operator()(sdbus_cookie_allocator *a) const noexcept { sdbus_cookie_allocator_free(a); }
};
bool never(uint64_t, void *) noexcept { return false; }
}  // namespace

int main() {
    std::unique_ptr<sdbus_cookie_allocator, AllocatorFree> a{sdbus_cookie_allocator_new()};
    uint64_t c = 0;
    int failures = 0;
    if (!a || sdbus_cookie_allocator_next(a.get(), &c) != 0 || c != 1) failures++;
    c = SDBUS_COOKIE_MAX;
    if (sdbus_cookie_next(&c, never, nullptr) != 0 || c != SDBUS_COOKIE_CYCLED) failures++;
    if (std::strcmp(sdbus_cookie_version(), SDBUS_COOKIE_VERSION_STRING) != 0) failures++;
    if (failures) {
        std::fprintf(stderr, "header-cxx: %d check(s) FAILED\n", failures);
        return 1;
    }
    std::printf("header-cxx: all checks passed\n");
    return 0;
}
