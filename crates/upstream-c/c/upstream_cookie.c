/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Our own implementation of sd-bus's cookie algorithms; see upstream_cookie.h
 * for the upstream facts (commit 1f82f5bb4237ed5f015daf93f818e9db95e764b8,
 * PR #11818) and the conventions.
 *
 * The pending set stands in for sd-bus's `reply_callbacks` ordered hashmap:
 * an open-addressing hash set of uint64_t with linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short after many
 * removals). Slot value 0 means empty; cookie 0 itself is tracked by a flag.
 * Invariant: len * 4 <= cap * 3, cap is a power of two (or 0 before the first
 * insertion).
 */
#include "upstream_cookie.h"

#include <stdlib.h>

/* ---- parameters --------------------------------------------------------- */

uc_params uc_params_default(void) {
        return (uc_params) {
                .cycled = UC_COOKIE_CYCLED,
                .ceiling = UC_COOKIE_CEILING,
                .max = UC_COOKIE_CEILING,
        };
}

int uc_params_width(unsigned width, uint64_t ceiling, uc_params *ret) {
        uint64_t cycled, max;

        if (!ret || width < 2 || width > 32)
                return -EINVAL;

        cycled = UINT64_C(1) << (width - 1);
        max = (UINT64_C(1) << width) - 1;
        if (ceiling == 0)
                ceiling = max;
        if (ceiling <= cycled || ceiling > max)
                return -EINVAL;

        *ret = (uc_params) { .cycled = cycled, .ceiling = ceiling, .max = max };
        return 0;
}

/* ---- v242+ rule --------------------------------------------------------- */

uint64_t uc_cookie_inc(const uc_params *p, uint64_t cookie) {
        /* Upstream never goes back to 0: past the ceiling it lands on the
         * cycled bit, which from then on marks "check for reuse". */
        return cookie >= p->ceiling ? p->cycled : cookie + 1;
}

int uc_next_cookie(const uc_params *p, uint64_t current, uc_in_use_fn in_use, void *userdata,
                   uint64_t *ret) {
        uint64_t candidate, tries;

        if (!p || !in_use || !ret)
                return -EINVAL;

        candidate = uc_cookie_inc(p, current);

        /* Upstream's fast path: no lookup at all until the candidate carries
         * the cycled bit. */
        if ((candidate & p->cycled) != p->cycled) {
                *ret = candidate;
                return 0;
        }

        /* One lap over the cycled range; upstream's bound is COOKIE_CYCLED,
         * which is this count for the default parameters. */
        for (tries = p->ceiling - p->cycled + 1; tries > 0; tries--) {
                int r = in_use(candidate, userdata);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret = candidate;
                        return 0;
                }
                candidate = uc_cookie_inc(p, candidate);
        }

        return -EBUSY;
}

/* ---- the reply_callbacks stand-in --------------------------------------- */

typedef struct uc_set {
        uint64_t *slots;
        size_t cap; /* 0 or a power of two */
        size_t len; /* non-zero keys in slots */
        bool has_zero;
} uc_set;

static size_t set_home(const uc_set *s, uint64_t key) {
        /* splitmix64's finaliser: cookies are dense runs, so spread them. */
        key ^= key >> 30;
        key *= UINT64_C(0xbf58476d1ce4e5b9);
        key ^= key >> 27;
        key *= UINT64_C(0x94d049bb133111eb);
        key ^= key >> 31;
        return (size_t) key & (s->cap - 1);
}

/* Index of key's slot, or of the empty slot where it would go. cap > 0. */
static size_t set_find(const uc_set *s, uint64_t key) {
        size_t i = set_home(s, key);

        while (s->slots[i] != 0 && s->slots[i] != key)
                i = (i + 1) & (s->cap - 1);
        return i;
}

static bool set_contains(const uc_set *s, uint64_t key) {
        if (key == 0)
                return s->has_zero;
        if (s->cap == 0)
                return false;
        return s->slots[set_find(s, key)] == key;
}

static int set_grow(uc_set *s) {
        size_t new_cap = s->cap ? s->cap * 2 : 16;
        uc_set bigger = { .cap = new_cap, .len = s->len, .has_zero = s->has_zero };

        if (new_cap < s->cap || new_cap > SIZE_MAX / sizeof(uint64_t))
                return -ENOMEM;
        bigger.slots = calloc(new_cap, sizeof(uint64_t));
        if (!bigger.slots)
                return -ENOMEM;

        for (size_t i = 0; i < s->cap; i++)
                if (s->slots[i] != 0)
                        bigger.slots[set_find(&bigger, s->slots[i])] = s->slots[i];

        free(s->slots);
        *s = bigger;
        return 0;
}

static int set_add(uc_set *s, uint64_t key) {
        size_t i;

        if (key == 0) {
                if (s->has_zero)
                        return 0;
                s->has_zero = true;
                return 1;
        }
        if (set_contains(s, key))
                return 0;
        if ((s->len + 1) * 4 > s->cap * 3) {
                int r = set_grow(s);
                if (r < 0)
                        return r;
        }
        i = set_find(s, key);
        s->slots[i] = key;
        s->len++;
        return 1;
}

static int set_remove(uc_set *s, uint64_t key) {
        size_t mask, hole, j;

        if (key == 0) {
                if (!s->has_zero)
                        return 0;
                s->has_zero = false;
                return 1;
        }
        if (s->cap == 0)
                return 0;
        mask = s->cap - 1;
        hole = set_find(s, key);
        if (s->slots[hole] != key)
                return 0;

        /* Backward-shift deletion: pull later members of the probe run into
         * the hole unless their home lies cyclically in (hole, j]. */
        s->slots[hole] = 0;
        for (j = (hole + 1) & mask; s->slots[j] != 0; j = (j + 1) & mask) {
                size_t home = set_home(s, s->slots[j]);
                bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
                if (stays)
                        continue;
                s->slots[hole] = s->slots[j];
                s->slots[j] = 0;
                hole = j;
        }
        s->len--;
        return 1;
}

static size_t set_len(const uc_set *s) {
        return s->len + (s->has_zero ? 1 : 0);
}

/* ---- v242+ connection --------------------------------------------------- */

struct uc_v242 {
        uc_params params;
        uint64_t cookie; /* b->cookie */
        uc_set pending;  /* b->reply_callbacks */
};

uc_v242 *uc_v242_new(const uc_params *p) {
        uc_v242 *b;

        if (!p)
                return NULL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->params = *p;
        return b;
}

void uc_v242_free(uc_v242 *b) {
        if (!b)
                return;
        free(b->pending.slots);
        free(b);
}

static int pending_in_use(uint64_t cookie, void *userdata) {
        const uc_v242 *b = userdata;
        return set_contains(&b->pending, cookie) ? 1 : 0;
}

int uc_v242_next(uc_v242 *b, uint64_t *ret) {
        uint64_t cookie;
        int r;

        if (!b || !ret)
                return -EINVAL;
        r = uc_next_cookie(&b->params, b->cookie, pending_in_use, b, &cookie);
        if (r < 0)
                return r;
        b->cookie = cookie;
        *ret = cookie;
        return 0;
}

int uc_v242_observe_sealed(uc_v242 *b, uint64_t cookie) {
        if (!b)
                return -EINVAL;
        if (cookie > b->params.max)
                return -EOPNOTSUPP;
        if (cookie > b->cookie)
                b->cookie = cookie;
        return 0;
}

uint64_t uc_v242_current(const uc_v242 *b) {
        return b ? b->cookie : 0;
}

uc_params uc_v242_params(const uc_v242 *b) {
        return b ? b->params : uc_params_default();
}

int uc_v242_pending_add(uc_v242 *b, uint64_t cookie) {
        return b ? set_add(&b->pending, cookie) : -EINVAL;
}

int uc_v242_pending_remove(uc_v242 *b, uint64_t cookie) {
        return b ? set_remove(&b->pending, cookie) : -EINVAL;
}

bool uc_v242_pending_contains(const uc_v242 *b, uint64_t cookie) {
        return b && set_contains(&b->pending, cookie);
}

size_t uc_v242_pending_len(const uc_v242 *b) {
        return b ? set_len(&b->pending) : 0;
}

/* ---- pre-v242 ------------------------------------------------------------ */

void uc_legacy_init(uc_legacy *b) {
        if (b)
                b->cookie = 0;
}

int uc_legacy_next(uc_legacy *b, uint64_t *ret) {
        if (!b || !ret)
                return -EINVAL;
        /* The increment happens before the seal can fail, so a refused cookie
         * is consumed and the counter never comes back under the limit. */
        *ret = ++b->cookie;
        return *ret > UC_COOKIE_CEILING ? -EOPNOTSUPP : 0;
}

int uc_legacy_observe_sealed(uc_legacy *b, uint64_t cookie) {
        if (!b)
                return -EINVAL;
        if (cookie > UC_COOKIE_CEILING)
                return -EOPNOTSUPP;
        if (cookie > b->cookie)
                b->cookie = cookie;
        return 0;
}
