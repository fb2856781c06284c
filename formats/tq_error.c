/* tq_error.c - error names and the diagnostic helpers shared by every parser. */
#include "tq_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tq_strerror(int err)
{
    switch (err) {
#define TQ_ERRNO_CASE(name, val, text) case (val): return text;
        TQ_ERRNO_MAP(TQ_ERRNO_CASE)
#undef TQ_ERRNO_CASE
    }
    return "unknown error";
}

int tq_diag_set(tq_diag *d, const char *field, const char *fmt, ...)
{
    if (d == NULL)
        return TQ_ERR_INPUT;
    snprintf(d->field, sizeof d->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    return TQ_ERR_INPUT;
}

const char *tq_diag_quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    size_t shown = n > 60 ? 60 : n;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            if (o + 2 > cap)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 5 > cap)
                break;
            snprintf(out + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (n > shown && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
    return out;
}

int tq_errno(int e)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return TQ_ERR_FULL;
    case EACCES:
    case EPERM:
    case EROFS:
        return TQ_ERR_PERM;
    case ENOMEM:
        return TQ_ERR_NOMEM;
    default:
        return TQ_ERR_IO;
    }
}

void tq_diag_cap_on_bad(void *cap, const tq_diag *d)
{
    tq_diag_cap *c = cap;
    if (++c->n <= c->max && c->fn != NULL)
        c->fn(c->ctx, d);
}

uint64_t tq_diag_cap_more(const tq_diag_cap *cap)
{
    return cap->n > cap->max ? cap->n - cap->max : 0;
}
