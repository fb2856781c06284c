/* tq_grow.h - tq_grow(), the one way an array that grows by appending gets room.
 *
 * Every list the engine builds as it reads (the scan's entries, a run's outcomes, the
 * payments explain collects, ...) had the same seven lines: "if n == cap, realloc to
 * twice cap (or a first size), store the new pointer and cap".  Written once here, with
 * the overflow checks those copies left out.
 * Header-only: it is a few lines, called on every append.
 */
#ifndef TQ_GROW_H
#define TQ_GROW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tq_error.h"

/* tq_grow() - make room for need elements of elem bytes in *v, which holds *cap of
 * them.  Nothing happens when need <= *cap.  Otherwise the capacity becomes first (at
 * least 1) when *cap is 0, and is doubled until it holds need; *v is realloc'd to it
 * and *v and *cap are updated.  Typical call, before writing a->v[a->n]:
 *     if ((rc = tq_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, 16)) != TQ_OK)
 *         return rc;
 * Ownership: *v stays the caller's (malloc'd, or NULL when *cap is 0; free() it).
 * @return TQ_OK; TQ_ERR_NOMEM when the capacity or its size in bytes would overflow
 *         size_t, or realloc fails: *v and *cap are then unchanged (the old array is
 *         still valid and still the caller's to free).
 * elem must not be 0 (TQ_ERR_NOMEM: nothing to size).
 * Threads: no state of its own; *v and *cap are the caller's to guard. */
TQ_MUST_USE static inline int tq_grow(void **v, size_t *cap, size_t need, size_t elem,
                                      size_t first)
{
    if (need <= *cap)
        return TQ_OK;
    if (elem == 0)
        return TQ_ERR_NOMEM;
    size_t c = *cap ? *cap : first ? first : 1;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return TQ_ERR_NOMEM;
        c *= 2;
    }
    if (c > SIZE_MAX / elem)
        return TQ_ERR_NOMEM;
    /* *v is really a T * passed as void **: read and store it with memcpy, never
     * through a void * lvalue, so the compiler's aliasing rules cannot reorder it
     * (object pointers share one representation on every POSIX system). */
    void *old, *p;
    memcpy(&old, v, sizeof old);
    if ((p = realloc(old, c * elem)) == NULL)
        return TQ_ERR_NOMEM;
    memcpy(v, &p, sizeof p);
    *cap = c;
    return TQ_OK;
}

#endif
