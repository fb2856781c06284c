/* tq_buf.h - tq_wbuf, the bounded appender every formatter writes through.
 *
 * snprintf's contract for whole records: every byte is counted, the bytes that fit
 * are written, and tq_wbuf_finish() keeps a NUL inside the buffer and returns the
 * length the record needs, so a caller whose buffer was too small learns how big to
 * make it.  Header-only: these are a few lines each and sit on hot paths.
 */
#ifndef TQ_BUF_H
#define TQ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct tq_wbuf {
    char *out;          /* borrowed */
    size_t cap, len;    /* len counts what was appended, even past cap */
} tq_wbuf;

static inline void tq_wbuf_put(tq_wbuf *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static inline void tq_wbuf_str(tq_wbuf *w, const char *s)
{
    tq_wbuf_put(w, s, strlen(s));
}

static inline void tq_wbuf_u64(tq_wbuf *w, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    tq_wbuf_put(w, tmp + i, sizeof tmp - i);
}

/* tq_wbuf_finish() - NUL-terminate within cap; @return the length needed. */
static inline size_t tq_wbuf_finish(tq_wbuf *w)
{
    if (w->cap > 0)
        w->out[w->len < w->cap ? w->len : w->cap - 1] = '\0';
    return w->len;
}

#endif
