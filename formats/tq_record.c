/* tq_record.c - the compact binary encoding of one journal event (see JOURNAL.md §4).
 *
 * A record is a tag byte (event kind, which optional parts follow, channel or officer
 * result), the decl_no as a 5-byte integer, then per kind: fixed-width codes, LEB128
 * varints for numbers, length-prefixed strings.  Timestamps keep their original text
 * (journal cat must give it back byte for byte) and, for DECL, the instant it denotes,
 * so that a reader never has to trust a parser it does not own.
 *
 * Both directions validate everything.  The encoder refuses an event the NDJSON parser
 * would have refused (so a buggy producer cannot write a journal that later reads back
 * as corrupt), and the decoder refuses every byte string that is not exactly what the
 * encoder writes for some valid event: varints must be minimal, reserved bits zero,
 * every value in range.  Hence decode(x) = e implies encode(e) = x, which the fuzz target
 * checks, and a frame whose checksum matched by chance or by forgery still cannot hand
 * the engine an event it would never have accepted from text.
 *
 * Speed: no allocation, no stdio, one pass; the decoder zeroes only the fixed head of
 * tq_event and the lines it fills (the 50-line array is most of the struct).
 */
#include "tq_buf.h"
#include "tq_journal.h"
#include "tq_time.h"

#include <stddef.h>
#include <string.h>

/* tag byte: bits 0-2 kind, bit 3 tax_due follows, bit 4 lines follow,
 * bits 5-6 channel (DECL) or result (OFFICER), bit 7 reserved (0). */
#define TAG_KIND_MASK 0x07u
#define TAG_TAX 0x08u
#define TAG_LINES 0x10u
#define TAG_SUB_SHIFT 5
#define TAG_SUB_MASK 0x03u
#define TAG_RESERVED 0x80u

#define DECL_NO_MIN 100000000000ULL  /* 10^11: 12 digits, first not 0 */
#define DECL_NO_END 1000000000000ULL /* 10^12 */
#define HS_END 100000000u            /* 10^8: 8 digits */

/* Worst case of one record: tag, decl_no, kind, office, declarant varint (<= 7),
 * timestamp (1 + 40), sec (<= 10) and nsec (<= 5) varints, tax_due (<= 8), nlines,
 * and 50 lines of hs (4) + qty (<= 6) + value (<= 8) + permit (1 + 32). */
#define LINE_WORST (4 + 6 + 8 + 1 + TQ_PERMIT_MAX)
#define RECORD_WORST (1 + 5 + 3 + 4 + 7 + 1 + TQ_TS_MAX + 10 + 5 + 8 + 1 + TQ_LINES_MAX * LINE_WORST)
_Static_assert(RECORD_WORST <= TQ_RECORD_MAX, "TQ_RECORD_MAX must hold any record");

static const uint64_t pow10_u64[14] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL};

/* ---- character classes (ranges, not <ctype.h>: locale must not matter) ---------- */

static inline int is_digit(unsigned c) { return c - '0' < 10u; }
static inline int is_upper(unsigned c) { return c - 'A' < 26u; }
static inline int is_print(unsigned c) { return c - 0x20u < 0x5fu; }
static inline int is_permit_char(unsigned c)
{
    return is_digit(c) || is_upper(c) || c - 'a' < 26u || c == '.' || c == '/' || c == '_' ||
           c == '-';
}

static int all_permit(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_permit_char(s[i]))
            return 0;
    return 1;
}

static int all_print(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_print(s[i]))
            return 0;
    return 1;
}

static int is_kind_code(const uint8_t *s)
{
    return is_upper(s[0]) && (is_digit(s[1]) || is_upper(s[1])) &&
           (is_digit(s[2]) || is_upper(s[2]));
}

static int is_office_code(const uint8_t *s)
{
    for (int i = 0; i < 4; i++)
        if (!is_digit(s[i]) && !is_upper(s[i]))
            return 0;
    return 1;
}

/* Exactly len digits then NUL (the arrays are len + 1 long, so s[len] is in bounds). */
static int digits_value(const char *s, unsigned len, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return 0;
        x = x * 10 + d;
    }
    if (s[len] != '\0')
        return 0;
    *v = x;
    return 1;
}

static void digits_format(char *out, uint64_t v, unsigned len)
{
    *tq_u64_put_fixed(out, v, len) = '\0';
}

/* ---- timestamps ----------------------------------------------------------------- */

/* A record's timestamp text must parse exactly as tq_time_parse() parses it, and the
 * instant stored beside it must be the one the text denotes. */
static int ts_instant(const uint8_t *s, size_t n, tq_instant *out)
{
    return tq_time_parse((const char *)s, n, out, NULL) == TQ_OK;
}

/* ---- varints -------------------------------------------------------------------- */

static inline uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* Minimal LEB128 only: a trailing 0x00 group or an 11th byte is refused, so that each
 * value has exactly one encoding.  @return the byte after it, or NULL. */
static inline const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && *p < 0x80) {
        *v = *p;
        return p + 1;
    }
    uint64_t x = 0;
    for (unsigned i = 0, shift = 0; i < 10 && p < end; i++, shift += 7) {
        uint64_t b = *p++;
        if (i == 9 && b > 1)
            return NULL;
        x |= (b & 0x7f) << shift;
        if (b < 0x80) {
            if (b == 0)
                return NULL;
            *v = x;
            return p;
        }
    }
    return NULL;
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* ---- encode --------------------------------------------------------------------- */

/* A string member of at most max bytes (array of max + 1): its length, or -1 when no
 * NUL ends it in time. */
static long str_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n > max ? -1 : (long)n;
}

static uint8_t *put_text(uint8_t *o, const char *s, size_t n)
{
    *o++ = (uint8_t)n;
    memcpy(o, s, n);
    return o + n;
}

static uint8_t *put_officer(uint8_t *o, const tq_event *ev)
{
    long n = str_len(ev->officer, TQ_OFFICER_MAX);
    if (n < 1 || !all_print((const uint8_t *)ev->officer, (size_t)n))
        return NULL;
    return put_text(o, ev->officer, (size_t)n);
}

static uint8_t *put_lines(uint8_t *o, const tq_event *ev)
{
    if (ev->nlines < 1 || ev->nlines > TQ_LINES_MAX)
        return NULL;
    *o++ = (uint8_t)ev->nlines;
    for (unsigned i = 0; i < ev->nlines; i++) {
        const tq_line *l = &ev->lines[i];
        uint64_t hs;
        if (!digits_value(l->hs, 8, &hs))
            return NULL;
        if (l->qty < 1 || l->qty > TQ_QTY_MAX || l->value > TQ_MONEY_MAX)
            return NULL;
        long pn = str_len(l->permit, TQ_PERMIT_MAX);
        if (pn < 0 || !all_permit((const uint8_t *)l->permit, (size_t)pn))
            return NULL;
        o = put_varint(tq_le_put32(o, (uint32_t)hs), l->qty);
        o = put_varint(o, l->value);
        o = put_text(o, l->permit, (size_t)pn);
    }
    return o;
}

/* Encode into out, which has room for RECORD_WORST bytes.  @return length or 0. */
/* The body of a DECL record after its decl_no (the tag is the caller's).
 * @return the end of what was written, or NULL when ev is not a valid DECL. */
static uint8_t *put_decl(uint8_t *o, const tq_event *ev)
{
    if ((ev->has & (TQ_HAS_TAX_DUE | TQ_HAS_LINES)) != (TQ_HAS_TAX_DUE | TQ_HAS_LINES))
        return NULL;
    if (ev->channel < 1 || ev->channel > 3 || ev->tax_due > TQ_MONEY_MAX)
        return NULL;
    if (!is_kind_code((const uint8_t *)ev->kind) || ev->kind[3] != '\0' ||
        !is_office_code((const uint8_t *)ev->office) || ev->office[4] != '\0')
        return NULL;
    memcpy(o, ev->kind, 3);
    memcpy(o + 3, ev->office, 4);
    o += 7;
    long tl = str_len(ev->declarant, TQ_TAXID_MAX);
    uint64_t tax;
    if ((tl != 10 && tl != 13) || !digits_value(ev->declarant, (unsigned)tl, &tax))
        return NULL;
    o = put_varint(o, tax << 1 | (tl == 13));
    long rl = str_len(ev->registered_at, TQ_TS_MAX);
    tq_instant t;
    if (rl < 0 || !ts_instant((const uint8_t *)ev->registered_at, (size_t)rl, &t))
        return NULL;
    /* The instant is whatever the producer parsed; it must be the one the text
     * denotes, or the journal would carry two answers to one question. */
    if (t.sec != ev->registered.sec || t.nsec != ev->registered.nsec)
        return NULL;
    o = put_text(o, ev->registered_at, (size_t)rl);
    o = put_varint(o, zigzag(t.sec));
    o = put_varint(o, t.nsec);
    o = put_varint(o, ev->tax_due);
    return put_lines(o, ev);
}

static size_t encode_full(const tq_event *ev, uint8_t *out)
{
    uint64_t dn;
    if (!digits_value(ev->decl_no, TQ_DECL_NO_LEN, &dn) || dn < DECL_NO_MIN)
        return 0;
    uint8_t *o = out + 1;
    for (int i = 0; i < 5; i++)
        *o++ = (uint8_t)(dn >> (8 * i));
    unsigned tag = ev->ev;
    switch (ev->ev) {
    case TQ_EV_DECL:
        if ((o = put_decl(o, ev)) == NULL)
            return 0;
        tag |= TAG_TAX | TAG_LINES | (unsigned)ev->channel << TAG_SUB_SHIFT;
        break;
    case TQ_EV_AMEND:
        if (!(ev->has & (TQ_HAS_TAX_DUE | TQ_HAS_LINES)))
            return 0;
        if (ev->has & TQ_HAS_TAX_DUE) {
            if (ev->tax_due > TQ_MONEY_MAX)
                return 0;
            tag |= TAG_TAX;
            o = put_varint(o, ev->tax_due);
        }
        if (ev->has & TQ_HAS_LINES) {
            tag |= TAG_LINES;
            o = put_lines(o, ev);
        }
        break;
    case TQ_EV_OFFICER:
        if (ev->result < TQ_OFFICER_DOCS_OK || ev->result > TQ_OFFICER_REJECT)
            return 0;
        tag |= (unsigned)ev->result << TAG_SUB_SHIFT;
        o = put_officer(o, ev);
        break;
    case TQ_EV_MANUAL_CLEAR: {
        o = put_officer(o, ev);
        long cl = str_len(ev->cleared_at, TQ_TS_MAX);
        tq_instant t;
        if (o == NULL || cl < 0 || !ts_instant((const uint8_t *)ev->cleared_at, (size_t)cl, &t))
            return 0;
        o = put_text(o, ev->cleared_at, (size_t)cl);
        break;
    }
    case TQ_EV_CANCEL:
        break;
    default:
        return 0;
    }
    if (o == NULL)
        return 0;
    out[0] = (uint8_t)tag;
    return (size_t)(o - out);
}

size_t tq_record_encode(const tq_event *ev, uint8_t *out, size_t cap)
{
    if (ev == NULL || out == NULL)
        return 0;
    if (cap >= RECORD_WORST)
        return encode_full(ev, out);
    /* Short buffers take a detour so that the fast path needs no bounds checks. */
    uint8_t tmp[RECORD_WORST];
    size_t n = encode_full(ev, tmp);
    if (n == 0 || n > cap)
        return 0;
    memcpy(out, tmp, n);
    return n;
}

/* ---- decode --------------------------------------------------------------------- */

/* A length-prefixed text of min..max bytes; it is copied with its NUL into dst (which
 * holds max + 1).  @return the byte after it, or NULL. */
static const uint8_t *get_text(const uint8_t *p, const uint8_t *end, size_t min, size_t max,
                               char *dst, size_t *len)
{
    if (p >= end)
        return NULL;
    size_t n = *p++;
    if (n < min || n > max || (size_t)(end - p) < n)
        return NULL;
    memcpy(dst, p, n);
    dst[n] = '\0';
    *len = n;
    return p + n;
}

static const uint8_t *get_lines(const uint8_t *p, const uint8_t *end, tq_event *ev)
{
    if (p >= end)
        return NULL;
    unsigned nl = *p++;
    if (nl < 1 || nl > TQ_LINES_MAX)
        return NULL;
    ev->nlines = (uint16_t)nl;
    for (unsigned i = 0; i < nl; i++) {
        tq_line *l = &ev->lines[i];
        if (end - p < 4)
            return NULL;
        uint32_t hs = tq_le_get32(p);
        if (hs >= HS_END)
            return NULL;
        digits_format(l->hs, hs, 8);
        p = get_varint(p + 4, end, &l->qty);
        if (p == NULL || l->qty < 1 || l->qty > TQ_QTY_MAX)
            return NULL;
        p = get_varint(p, end, &l->value);
        if (p == NULL || l->value > TQ_MONEY_MAX)
            return NULL;
        size_t pn;
        p = get_text(p, end, 0, TQ_PERMIT_MAX, l->permit, &pn);
        if (p == NULL || !all_permit((const uint8_t *)l->permit, pn))
            return NULL;
        /* Zero the tail so that a decoded line is the same bytes however it was reached. */
        memset(l->permit + pn, 0, sizeof l->permit - pn);
    }
    return p;
}

static const uint8_t *get_officer(const uint8_t *p, const uint8_t *end, tq_event *ev)
{
    size_t n;
    p = get_text(p, end, 1, TQ_OFFICER_MAX, ev->officer, &n);
    if (p == NULL || !all_print((const uint8_t *)ev->officer, n))
        return NULL;
    return p;
}

/* The body of a DECL record after its decl_no; sub is the channel from the tag.
 * @return the end of what was read, or NULL when the bytes are not a valid DECL. */
static const uint8_t *get_decl(const uint8_t *p, const uint8_t *end, unsigned sub,
                               tq_event *ev)
{
    if (end - p < 7)
        return NULL;
    if (!is_kind_code(p) || !is_office_code(p + 3))
        return NULL;
    ev->has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev->channel = (uint8_t)sub;
    memcpy(ev->kind, p, 3);
    memcpy(ev->office, p + 3, 4);
    p += 7;
    uint64_t t;
    p = get_varint(p, end, &t);
    if (p == NULL)
        return NULL;
    unsigned tl = (t & 1) ? 13 : 10;
    if ((t >> 1) >= pow10_u64[tl])
        return NULL;
    digits_format(ev->declarant, t >> 1, tl);
    size_t rl;
    p = get_text(p, end, 20, TQ_TS_MAX, ev->registered_at, &rl);
    tq_instant want;
    if (p == NULL || !ts_instant((const uint8_t *)ev->registered_at, rl, &want))
        return NULL;
    uint64_t zsec, nsec;
    if ((p = get_varint(p, end, &zsec)) == NULL || (p = get_varint(p, end, &nsec)) == NULL)
        return NULL;
    if (unzigzag(zsec) != want.sec || nsec != want.nsec)
        return NULL;
    ev->registered = want;
    p = get_varint(p, end, &ev->tax_due);
    if (p == NULL || ev->tax_due > TQ_MONEY_MAX)
        return NULL;
    return get_lines(p, end, ev);
}

size_t tq_record_decode(const uint8_t *p, size_t n, tq_event *ev)
{
    if (p == NULL || ev == NULL || n < 6)
        return 0;
    const uint8_t *start = p, *end = p + n;
    unsigned tag = *p++;
    unsigned kind = tag & TAG_KIND_MASK, sub = (tag >> TAG_SUB_SHIFT) & TAG_SUB_MASK;
    unsigned parts = tag & (TAG_TAX | TAG_LINES);
    if (tag & TAG_RESERVED)
        return 0;
    memset(ev, 0, offsetof(tq_event, lines));
    uint64_t dn = 0;
    for (int i = 0; i < 5; i++)
        dn |= (uint64_t)p[i] << (8 * i);
    p += 5;
    if (dn < DECL_NO_MIN || dn >= DECL_NO_END)
        return 0;
    digits_format(ev->decl_no, dn, TQ_DECL_NO_LEN);
    ev->ev = (uint8_t)kind;
    switch (kind) {
    case TQ_EV_DECL:
        if (parts != (TAG_TAX | TAG_LINES) || sub == 0)
            return 0;
        p = get_decl(p, end, sub, ev);
        break;
    case TQ_EV_AMEND:
        if (parts == 0 || sub != 0)
            return 0;
        if (parts & TAG_TAX) {
            ev->has |= TQ_HAS_TAX_DUE;
            p = get_varint(p, end, &ev->tax_due);
            if (p == NULL || ev->tax_due > TQ_MONEY_MAX)
                return 0;
        }
        if (parts & TAG_LINES) {
            ev->has |= TQ_HAS_LINES;
            p = get_lines(p, end, ev);
        }
        break;
    case TQ_EV_OFFICER:
        if (parts != 0 || sub == 0)
            return 0;
        ev->result = (uint8_t)sub;
        p = get_officer(p, end, ev);
        break;
    case TQ_EV_MANUAL_CLEAR: {
        if (parts != 0 || sub != 0)
            return 0;
        p = get_officer(p, end, ev);
        size_t cl;
        tq_instant t;
        if (p == NULL)
            return 0;
        p = get_text(p, end, 20, TQ_TS_MAX, ev->cleared_at, &cl);
        if (p == NULL || !ts_instant((const uint8_t *)ev->cleared_at, cl, &t))
            return 0;
        break;
    }
    case TQ_EV_CANCEL:
        if (parts != 0 || sub != 0)
            return 0;
        break;
    default:
        return 0;
    }
    if (p == NULL)
        return 0;
    return (size_t)(p - start);
}
