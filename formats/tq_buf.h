/* tq_buf.h - tq_wbuf, the bounded appender every formatter writes through.
 *
 * snprintf's contract for whole records: every byte is counted, the bytes that fit
 * are written, and tq_wbuf_finish() keeps a NUL inside the buffer and returns the
 * length the record needs, so a caller whose buffer was too small learns how big to
 * make it.  Also the little-endian integer helpers of every binary format.
 * Header-only: these are a few lines each and sit on hot paths.
 * Threads: a tq_wbuf is used by one thread; the helpers keep no state.  Ownership: the
 * buffer is the caller's (borrowed by the tq_wbuf).  Errors: none; a record that does
 * not fit is reported by tq_wbuf_finish()'s length, as snprintf does.
 */
#ifndef TQ_BUF_H
#define TQ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tq_num.h"

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

/* tq_wbuf_u64() - v in decimal (tq_u64_put_dec()). */
static inline void tq_wbuf_u64(tq_wbuf *w, uint64_t v)
{
    char tmp[TQ_U64_DEC_MAX];
    tq_wbuf_put(w, tmp, (size_t)(tq_u64_put_dec(tmp, v) - tmp));
}

/* tq_wbuf_finish() - NUL-terminate within cap; @return the length needed. */
static inline size_t tq_wbuf_finish(tq_wbuf *w)
{
    if (w->cap > 0)
        w->out[w->len < w->cap ? w->len : w->cap - 1] = '\0';
    return w->len;
}

/* ---- little-endian integers ------------------------------------------------------
 * The one home of the byte order every on-disk format uses (journal frames, records,
 * store values): explicit shifts, so the bytes are the same on any host and p needs
 * no alignment.  put writes 4 or 8 bytes at p and returns p past them; get reads them.
 * p must hold that many bytes (the caller checks).  Threads: pure; any thread. */

static inline uint8_t *tq_le_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static inline uint8_t *tq_le_put64(uint8_t *p, uint64_t v)
{
    return tq_le_put32(tq_le_put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

static inline uint32_t tq_le_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t tq_le_get64(const uint8_t *p)
{
    return (uint64_t)tq_le_get32(p) | (uint64_t)tq_le_get32(p + 4) << 32;
}

#endif
