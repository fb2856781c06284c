/* tq_store_tables.c - the codecs and accessors of the store's tables: declarations,
 * payments and covers, permits and their use, journal marks.
 *
 * Values are encoded by hand, byte by byte, little-endian (engine/STORE.md), so a
 * database is portable between machines and carries no padding garbage.  Decoders check
 * every length and range and say what is wrong (the record layer turns that into
 * TQ_ERR_DBCORRUPT with a fault); encoders refuse (TQ_ERR_INPUT) whatever the decoders
 * would refuse, so what a put accepts a get gives back.  Nothing is allocated per get or
 * put: a declaration encodes into a stack buffer, and the one value of open size (a
 * cover's guarantee list) is rebuilt on the stack or, when long, in a scratch buffer
 * that lives as long as its transaction.  A declaration is read by one reader of its
 * head and one of a line, whether it is decoded whole (tq_decl) or to its head only
 * (tq_decl_head, the tally's walk), so both refuse the same bytes.
 */
#include "tq_store_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/tq_num.h"

/* Longest encodings (STORE.md).  A varint of a u64 takes at most 10 bytes, of the
 * version (u32) 5, of the reasons (8 bits) 2. */
#define TQ__DECL_HEAD_MAX \
    (4 + 5 + 2 + 10 + 10 + 8 + 4 + 4 + 1 + TQ_TAXID_MAX + 4 + 5 + 16 + 10 + 1)
#define TQ__DECL_LINE_MAX (4 + 10 + 10 + 1 + TQ_PERMIT_MAX)
#define TQ__DECL_V3 0x80        /* first byte of a format 3 value: this bit, the state */
#define TQ__DECL_ENC_MAX (TQ__DECL_HEAD_MAX + TQ_LINES_MAX * TQ__DECL_LINE_MAX)
_Static_assert(TQ__DECL_ENC_MAX <= TQ_STORE_DECL_ENC_MAX, "public bound too small");
#define TQ__PERMIT_ENC_MAX \
    (1 + 4 + 4 + 8 + 1 + TQ_AGENCY_MAX + 1 + TQ_TAXID_MAX + 1 + TQ_PREFIXES_MAX * 9)
#define TQ__RECEIPT_LEN (TQ_DECL_NO_LEN + 1 + 8 + 4)
#define TQ__COVER_STACK 32      /* guarantees rebuilt on the stack; more use scratch */
#define TQ__JOURNAL_LEN TQ__U64X4_LEN


/* STORE.md states these bounds; keep it in step. */
_Static_assert(TQ__DECL_ENC_MAX == 2947, "STORE.md: largest decls value");
_Static_assert(TQ__PERMIT_ENC_MAX == 193, "STORE.md: largest permits value");
_Static_assert(TQ_REASON_COUNT <= 8, "reasons are stored as bits below 256");

/* ---- varints, bounded reads ---- */

static uint8_t *tq__put_var(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static int64_t tq__i64(uint64_t u)
{
    return u <= INT64_MAX ? (int64_t)u : (int64_t)(u - 0x8000000000000000u) + INT64_MIN;
}

static uint8_t *tq__put_u128(uint8_t *p, tq_u128 v)
{
    tq_le_put64(p, (uint64_t)v);
    return tq_le_put64(p + 8, (uint64_t)(v >> 64));
}

static tq_u128 tq__get_u128(const uint8_t *p)
{
    return (tq_u128)tq_le_get64(p) | (tq_u128)tq_le_get64(p + 8) << 64;
}

/* A bounded reader: any underrun sets bad and yields zeros, so a decoder reads all its
 * fields straight through and checks bad once at the end. */
typedef struct tq__rd {
    const uint8_t *p, *end;
    int bad;
} tq__rd;

static tq__rd tq__rd_of(const MDB_val *v)
{
    tq__rd r = {(const uint8_t *)v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, 0};
    return r;
}

static int tq__rd_need(tq__rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint8_t tq__rd_u8(tq__rd *r)
{
    return tq__rd_need(r, 1) ? *r->p++ : 0;
}

static uint32_t tq__rd_u32(tq__rd *r)
{
    if (!tq__rd_need(r, 4))
        return 0;
    r->p += 4;
    return tq_le_get32(r->p - 4);
}

static uint64_t tq__rd_u64(tq__rd *r)
{
    if (!tq__rd_need(r, 8))
        return 0;
    r->p += 8;
    return tq_le_get64(r->p - 8);
}

/* A varint: at most 10 bytes, the 10th at most 1 (64 bits). */
static uint64_t tq__rd_var(tq__rd *r)
{
    const uint8_t *p = r->p;
    uint64_t v = 0;
    if (r->bad)
        return 0;
    for (unsigned shift = 0; shift < 64 && p < r->end; shift += 7) {
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            break;              /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            r->p = p;
            return v;
        }
    }
    r->bad = 1;                 /* cut short, or too long */
    return 0;
}

/* Whether one of the n bytes at b is a NUL: a loop the compiler inlines, as the strings
 * of a value are at most 32 bytes (a call of memchr per string was 5% of a walk). */
static int tq__has_nul(const uint8_t *b, size_t n)
{
    unsigned nul = 0;
    for (size_t i = 0; i < n; i++)
        nul |= b[i] == 0;
    return nul != 0;
}

/* A string of a length byte and at most max bytes, left in the value: its bytes (NULL
 * when bad) and *n (0 when bad).  A NUL inside would silently shorten the string once
 * copied, so it counts as damage. */
static const uint8_t *tq__rd_view(tq__rd *r, size_t max, size_t *n)
{
    *n = tq__rd_u8(r);
    if (*n > max || !tq__rd_need(r, *n) || tq__has_nul(r->p, *n)) {
        r->bad = 1;
        *n = 0;
        return NULL;
    }
    r->p += *n;
    return r->p - *n;
}

/* tq__rd_view() copied into out (max + 1 bytes), NUL-terminated ("" when bad).  A loop
 * again: GCC inlined a memcpy of these few bytes as `rep movsq`, whose start-up was most
 * of this function's time in a walk of a million declarations. */
static void tq__rd_str(tq__rd *r, char *out, size_t max)
{
    size_t n;
    const uint8_t *b = tq__rd_view(r, max, &n);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)b[i];
    out[n] = '\0';
}

/* The length of s when it ends (NUL) within max + 1 bytes and is at least min long:
 * reads no further than an array of max + 1 bytes. */
static int tq__len(const char *s, size_t min, size_t max, size_t *n)
{
    *n = strnlen(s, max + 1);
    return *n >= min && *n <= max;
}

static uint8_t *tq__put_str(uint8_t *p, const char *s, size_t n)
{
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

/* ---- keys ---- */

/* A caller's key, refused (TQ_ERR_INPUT) when a get would call it damage. */
static int tq__key(MDB_val *k, int db, const char *s, size_t max)
{
    size_t n;
    if (s == NULL || !tq__len(s, 1, max, &n))
        return TQ_ERR_INPUT;
    k->mv_size = n;
    k->mv_data = (void *)s;     /* LMDB never writes through a key */
    return tq__key_bad(db, k) ? TQ_ERR_INPUT : TQ_OK;
}

static int tq__decl_key(MDB_val *k, const char *decl_no)
{
    return tq__key(k, DB_DECLS, decl_no, TQ_DECL_NO_LEN);
}

static int tq__name_key(MDB_val *k, const char *name)
{
    return tq__key(k, DB_PERMITS, name, TQ_PERMIT_MAX);
}

/* A stored key (already checked by the record layer) back into a string field. */
static void tq__key_str(const MDB_val *k, char *out)
{
    memcpy(out, k->mv_data, k->mv_size);
    out[k->mv_size] = '\0';
}

/* ---- declarations ---- */

static int tq__hs_parse(const char hs[9], uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        if (hs[i] < '0' || hs[i] > '9')
            return 0;
        v = v * 10 + (uint32_t)(hs[i] - '0');
    }
    *out = v;
    return hs[8] == '\0';
}

static void tq__hs_format(uint32_t v, char out[9])
{
    *tq_u64_put_fixed(out, v, 8) = '\0';
}

/* Office and kind: "" (stored before format 3) or exactly n of [0-9A-Z]. */
static int tq__code_ok(const char *s, size_t n, size_t *len)
{
    *len = strnlen(s, n + 1);
    if (*len != 0 && *len != n)
        return 0;
    for (size_t i = 0; i < *len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static int tq__decl_encode(const tq_decl *d, uint8_t *buf, size_t *len)
{
    size_t nd, np, nk, no;
    uint32_t hs;
    if (d->state > TQ_STATE_CANCELLED || d->channel < 1 || d->channel > 3 ||
        d->officer > (TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK) || d->manual > 1 ||
        d->reasons >= 1u << TQ_REASON_COUNT || d->registered.nsec >= 1000000000u ||
        d->nlines > TQ_LINES_MAX || !tq__len(d->declarant, 0, TQ_TAXID_MAX, &nd) ||
        !tq__code_ok(d->kind, 3, &nk) || !tq__code_ok(d->office, 4, &no))
        return TQ_ERR_INPUT;
    uint8_t *p = buf;
    *p++ = (uint8_t)(TQ__DECL_V3 | d->state);
    *p++ = d->channel;
    *p++ = d->officer;
    *p++ = d->manual;
    p = tq__put_var(p, d->version);
    p = tq__put_var(p, d->reasons);
    p = tq__put_var(p, d->tax_due);
    p = tq__put_var(p, d->tax_short);
    p = tq_le_put64(p, (uint64_t)d->registered.sec);
    p = tq_le_put32(p, d->registered.nsec);
    p = tq_le_put32(p, (uint32_t)d->reg_day);
    p = tq__put_str(p, d->declarant, nd);
    p = tq__put_str(p, d->kind, nk);
    p = tq__put_str(p, d->office, no);
    memcpy(p, d->src_id, sizeof d->src_id);
    p = tq__put_var(p + sizeof d->src_id, d->src_seq);
    *p++ = (uint8_t)d->nlines;
    for (unsigned i = 0; i < d->nlines; i++) {
        const tq_decl_line *l = &d->lines[i];
        if (!tq__hs_parse(l->hs, &hs) || !tq__len(l->permit, 0, TQ_PERMIT_MAX, &np) ||
            l->value > TQ_MONEY_MAX)
            return TQ_ERR_INPUT;
        p = tq_le_put32(p, hs);
        p = tq__put_var(p, l->qty);
        p = tq__put_var(p, l->value);
        p = tq__put_str(p, l->permit, np);
    }
    *len = (size_t)(p - buf);
    return TQ_OK;
}

static const char *tq__decl_head_bad(const tq_decl_head *h, uint64_t version,
                                     uint64_t reasons)
{
    if (h->state > TQ_STATE_CANCELLED)
        return "state out of range";
    if (h->channel < 1 || h->channel > 3)
        return "channel out of range";
    if (h->officer > (TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK) || h->manual > 1)
        return "officer or manual flags out of range";
    if (version > UINT32_MAX || reasons >= 1u << TQ_REASON_COUNT)
        return "version or reasons out of range";
    if (h->registered.nsec >= 1000000000u || h->nlines > TQ_LINES_MAX)
        return "nanoseconds or line count out of range";
    return NULL;
}

/* A stored office or kind: none (n 0) or exactly len of [0-9A-Z]. */
static int tq__code_bytes_ok(const uint8_t *b, size_t n, size_t len)
{
    if (n != 0 && n != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'A' && b[i] <= 'Z')))
            return 0;
    return 1;
}

/* The fields format 3 adds after the declarant: kind, office, the source event. */
static const char *tq__decl_decode_v3(tq__rd *r, tq_decl_head *h)
{
    size_t nk, no;
    const uint8_t *kind = tq__rd_view(r, 3, &nk);
    const uint8_t *office = tq__rd_view(r, 4, &no);
    if (tq__rd_need(r, sizeof h->src_id)) {
        memcpy(h->src_id, r->p, sizeof h->src_id);
        r->p += sizeof h->src_id;
    }
    h->src_seq = tq__rd_var(r);
    if (r->bad)
        return NULL;            /* the caller says the value is cut short */
    if (!tq__code_bytes_ok(kind, nk, 3) || !tq__code_bytes_ok(office, no, 4))
        return "kind or office is not of [0-9A-Z] or of the wrong length";
    if (nk)
        memcpy(h->kind, kind, 3);
    if (no)
        memcpy(h->office, office, 4);
    return NULL;
}

/* The head of a format 2 or 3 value (STORE.md §3.6: every field before the lines) read
 * and checked into a zeroed h (decl_no is the caller's); *v3 says which format.  The
 * one reader of the head, for the full decode and the head's alike.
 * @return NULL, or what is wrong. */
static const char *tq__decl_head_read(tq__rd *r, tq_decl_head *h, int *v3)
{
    uint8_t first = tq__rd_u8(r);
    *v3 = (first & TQ__DECL_V3) != 0;
    h->state = first & (uint8_t)~TQ__DECL_V3;
    h->channel = tq__rd_u8(r);
    h->officer = tq__rd_u8(r);
    h->manual = tq__rd_u8(r);
    uint64_t version = tq__rd_var(r);
    uint64_t reasons = tq__rd_var(r);
    h->tax_due = tq__rd_var(r);
    h->tax_short = tq__rd_var(r);
    h->registered.sec = tq__i64(tq__rd_u64(r));
    h->registered.nsec = tq__rd_u32(r);
    h->reg_day = tq__i32(tq__rd_u32(r));
    tq__rd_str(r, h->declarant, TQ_TAXID_MAX);
    const char *bad = *v3 ? tq__decl_decode_v3(r, h) : NULL;
    if (bad)
        return bad;
    h->nlines = tq__rd_u8(r);
    if (r->bad)
        return "value cut short or a field too long";
    bad = tq__decl_head_bad(h, version, reasons);
    if (bad)
        return bad;
    h->version = (uint32_t)version;
    h->reasons = (uint32_t)reasons;
    return NULL;
}

/* One stored line read and checked, its permit left in the value (*pm, *npm): the one
 * reader of a line, so the head's walk refuses what the full decode refuses.
 * @return NULL, or what is wrong (a cut-short line shows as r->bad instead). */
static const char *tq__decl_line_read(tq__rd *r, int v3, uint32_t *hs, tq_decl_line *l,
                                      const uint8_t **pm, size_t *npm)
{
    *hs = tq__rd_u32(r);
    if (*hs > 99999999u)
        return "hs out of range";
    l->qty = tq__rd_var(r);
    l->value = v3 ? tq__rd_var(r) : 0;
    if (l->value > TQ_MONEY_MAX)
        return "line value out of range";
    *pm = tq__rd_view(r, TQ_PERMIT_MAX, npm);
    return NULL;
}

/* The end of a value once its lines are read: it must be exactly there. */
static const char *tq__decl_end(const tq__rd *r)
{
    if (r->bad)
        return "value cut short or a field too long";
    return r->p != r->end ? "bytes after the last field" : NULL;
}

/* The head's fields into d (decl_no is d's own). */
static void tq__decl_set_head(tq_decl *d, const tq_decl_head *h)
{
    memcpy(d->declarant, h->declarant, sizeof d->declarant);
    memcpy(d->kind, h->kind, sizeof d->kind);
    memcpy(d->office, h->office, sizeof d->office);
    d->state = h->state;
    d->channel = h->channel;
    d->officer = h->officer;
    d->manual = h->manual;
    d->version = h->version;
    d->reasons = h->reasons;
    d->tax_due = h->tax_due;
    d->tax_short = h->tax_short;
    d->registered = h->registered;
    d->reg_day = h->reg_day;
    memcpy(d->src_id, h->src_id, sizeof d->src_id);
    d->src_seq = h->src_seq;
    d->nlines = h->nlines;
}

/* Decodes a format 2 or 3 value (STORE.md §3.6) into a zeroed d (decl_no is the
 * caller's); every byte of d is defined after.  @return NULL, or what is wrong. */
static const char *tq__decl_decode(const MDB_val *v, tq_decl *d)
{
    tq__rd r = tq__rd_of(v);
    tq_decl_head h;
    int v3;
    memset(&h, 0, sizeof h);
    const char *bad = tq__decl_head_read(&r, &h, &v3);
    if (bad)
        return bad;
    tq__decl_set_head(d, &h);
    for (unsigned i = 0; i < d->nlines; i++) {
        tq_decl_line *l = &d->lines[i];
        uint32_t hs;
        const uint8_t *pm;
        size_t npm;
        bad = tq__decl_line_read(&r, v3, &hs, l, &pm, &npm);
        if (bad)
            return bad;
        tq__hs_format(hs, l->hs);
        for (size_t j = 0; j < npm; j++)
            l->permit[j] = (char)pm[j];
        l->permit[npm] = '\0';
    }
    return tq__decl_end(&r);
}

/* Decodes the head of a value into a zeroed h (decl_no is the caller's), checking the
 * lines as tq__decl_decode() does without keeping them.  @return NULL, or what is wrong:
 * the same as tq__decl_decode() for the same bytes. */
static const char *tq__decl_head_decode(const MDB_val *v, tq_decl_head *h)
{
    tq__rd r = tq__rd_of(v);
    tq_decl_line l;
    int v3;
    const char *bad = tq__decl_head_read(&r, h, &v3);
    for (unsigned i = 0; bad == NULL && i < h->nlines; i++) {
        uint32_t hs;
        const uint8_t *pm;
        size_t npm;
        bad = tq__decl_line_read(&r, v3, &hs, &l, &pm, &npm);
    }
    return bad ? bad : tq__decl_end(&r);
}

const char *tq__decl_decode_v(const MDB_val *k, const MDB_val *v, tq_decl *out)
{
    memset(out, 0, sizeof *out);
    tq__key_str(k, out->decl_no);
    return tq__decl_decode(v, out);
}

/* Skips a string, giving its bytes. */
static const uint8_t *tq__rd_skip_str(tq__rd *r, size_t max, size_t *n)
{
    *n = tq__rd_u8(r);
    if (*n > max || !tq__rd_need(r, *n))
        return r->bad = 1, NULL;
    r->p += *n;
    return r->p - *n;
}

/* What the indexes need of a value, without decoding the rest: a walk over the fields.
 * A value that a put wrote always passes; one that fails is damage. */
const char *tq__decl_keys(const MDB_val *v, tq__dkeys *o)
{
    tq__rd r = tq__rd_of(v);
    size_t n, nk = 0, no = 0;
    const uint8_t *office = NULL;
    uint8_t first = tq__rd_u8(&r);
    o->v3 = (first & TQ__DECL_V3) != 0;
    r.p += r.bad ? 0 : 3;
    for (int i = 0; i < 4; i++)
        (void)tq__rd_var(&r);
    (void)tq__rd_u64(&r);
    (void)tq__rd_u32(&r);
    (void)tq__rd_u32(&r);
    o->declarant = tq__rd_skip_str(&r, TQ_TAXID_MAX, &o->ndeclarant);
    if (o->v3) {
        tq__rd_skip_str(&r, 3, &nk);
        office = tq__rd_skip_str(&r, 4, &no);
        if (tq__rd_need(&r, TQ_JOURNAL_ID_LEN))
            r.p += TQ_JOURNAL_ID_LEN;
        (void)tq__rd_var(&r);
    }
    unsigned nlines = tq__rd_u8(&r);
    if (r.bad || (first & (uint8_t)~TQ__DECL_V3) > TQ_STATE_CANCELLED ||
        nlines > TQ_LINES_MAX || (no != 0 && no != 4))
        return "value cut short or a field out of range";
    memset(o->office_key, 0, 4);
    if (no)
        memcpy(o->office_key, office, 4);
    o->office_key[4] = first & (uint8_t)~TQ__DECL_V3;
    o->npermits = 0;
    for (unsigned i = 0; i < nlines; i++) {
        (void)tq__rd_u32(&r);
        (void)tq__rd_var(&r);
        if (o->v3)
            (void)tq__rd_var(&r);
        const uint8_t *pm = tq__rd_skip_str(&r, TQ_PERMIT_MAX, &n);
        if (r.bad)
            break;
        size_t j = 0;
        while (j < o->npermits && (o->npermit[j] != n || memcmp(o->permit[j], pm, n) != 0))
            j++;
        if (n != 0 && j == o->npermits) {
            o->permit[o->npermits] = pm;
            o->npermit[o->npermits++] = (uint8_t)n;
        }
    }
    return r.bad || r.p != r.end ? "value cut short or a field out of range" : NULL;
}

int tq_store_get_decl(tq_txn *t, const char *decl_no, tq_decl *out)
{
    char no[TQ_DECL_NO_LEN];
    const uint8_t *p;
    size_t n;
    int rc = tq_store_get_decl_encoded(t, decl_no, &p, &n);
    if (rc != TQ_OK)
        return rc;
    /* decl_no first: it may point into *out. */
    memcpy(no, decl_no, TQ_DECL_NO_LEN);
    MDB_val k = {TQ_DECL_NO_LEN, no}, v = {n, (void *)p};
    memset(out, 0, sizeof *out);
    memcpy(out->decl_no, no, TQ_DECL_NO_LEN);
    const char *bad = tq__decl_decode(&v, out);
    return bad ? tq__fault(t, DB_DECLS, &k, "%s", bad) : TQ_OK;
}

/* Whether decl_no k is above every stored one: the transaction learns the greatest
 * key once (MDB_LAST) and follows its own appends (declarations are never deleted).
 * A last key that is not a decl_no (damage) says no: the put then reads as usual. */
static int tq__decl_above(tq_txn *t, const MDB_val *k)
{
    if (!t->decl_last_known) {
        MDB_cursor *c;
        MDB_val lk, lv;
        if (mdb_cursor_open(t->txn, t->s->dbi[DB_DECLS], &c) != MDB_SUCCESS)
            return 0;
        int rc = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
        mdb_cursor_close(c);
        if (rc == MDB_SUCCESS && lk.mv_size != TQ_DECL_NO_LEN)
            return 0;
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
            return 0;
        memset(t->decl_last, 0, TQ_DECL_NO_LEN);    /* below every decl_no */
        if (rc == MDB_SUCCESS)
            memcpy(t->decl_last, lk.mv_data, TQ_DECL_NO_LEN);
        t->decl_last_known = 1;
    }
    return memcmp(k->mv_data, t->decl_last, TQ_DECL_NO_LEN) > 0;
}

/* tq__decl_cursor() - the cursor a put of a declaration goes through: for an append,
 * one kept for the transaction's run of appends (an append through a cursor at the end
 * does not descend from the root: a batch of new declarations is mostly appends); any
 * other put ends the run (closes it), so an append cursor is never left anywhere but at
 * the end by a put it did not make.  NULL: a plain put. */
static MDB_cursor *tq__decl_cursor(tq_txn *t, int append)
{
    if (!append) {
        if (t->declc)
            mdb_cursor_close(t->declc);
        t->declc = NULL;
    } else if (t->declc == NULL &&
               mdb_cursor_open(t->txn, t->s->dbi[DB_DECLS], &t->declc) != MDB_SUCCESS) {
        t->declc = NULL;
    }
    return t->declc;
}

/* What a put replaces: read (known NULL), or the caller's (known: its old value, or a
 * zero-length value with mv_data NULL for "nothing stored").  With TQ_STORE_CHECK_OLD
 * the caller's word is checked against the stored value: a broken promise would leave
 * the indexes wrong, so it is refused (TQ_ERR_STORE) before anything is written. */
static int tq__decl_old(tq_txn *t, MDB_val *k, const MDB_val *known, MDB_val *old)
{
    if (known == NULL)
        return tq__get(t, DB_DECLS, k, old);
    if (t->s->check_old) {
        int rc = tq__get(t, DB_DECLS, k, old);
        if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND)
            return rc;
        int same = rc == TQ_OK ? known->mv_data != NULL && known->mv_size == old->mv_size &&
                                     memcmp(known->mv_data, old->mv_data, old->mv_size) == 0
                               : known->mv_data == NULL;
        if (!same) {
            rc = tq__fault(t, DB_DECLS, k, "put: the caller's old value is not the stored one");
            return rc == TQ_ERR_DBCORRUPT ? TQ_ERR_STORE : rc;
        }
    }
    *old = *known;
    return known->mv_data ? TQ_OK : TQ_ERR_NOTFOUND;
}

/* Every put of a declaration: the index entries move first (the old value may sit in
 * a page this put rewrites), then the value.  append: no old value to read; a put of a
 * decl_no above every stored one is an append too, whatever the caller said.  known:
 * see tq__decl_old(). */
static int tq__decl_put(tq_txn *t, MDB_val *k, const uint8_t *v, size_t n, int append,
                        const MDB_val *known)
{
    MDB_val old, nv = {n, (void *)v};
    int rc = TQ_OK;
    if (t->rdonly)
        return TQ_ERR_STORE;
    if (t->failed != TQ_OK)
        return t->failed;
    if (t->s->has_v3) {
        append = append || tq__decl_above(t, k);
        rc = append ? TQ_ERR_NOTFOUND : tq__decl_old(t, k, known, &old);
        if (rc == TQ_OK || rc == TQ_ERR_NOTFOUND)
            rc = tq__index_move(t, k, rc == TQ_OK ? &old : NULL, &nv, append);
    }
    if (rc == TQ_OK)
        rc = tq__put_at(t, tq__decl_cursor(t, append), DB_DECLS, k, v, n,
                        append ? MDB_APPEND : 0);
    if (rc == TQ_OK && append && t->decl_last_known)
        memcpy(t->decl_last, k->mv_data, TQ_DECL_NO_LEN);
    return rc;
}

int tq_store_put_decl(tq_txn *t, const tq_decl *d)
{
    uint8_t buf[TQ__DECL_ENC_MAX];
    size_t len;
    int rc = tq__decl_encode(d, buf, &len);
    return rc != TQ_OK ? rc : tq_store_put_decl_encoded(t, d->decl_no, buf, len, 0);
}

int tq_store_decl_encode(const tq_decl *d, uint8_t *buf, size_t *len)
{
    return tq__decl_encode(d, buf, len);
}

int tq_store_decl_decode(const char *decl_no, const uint8_t *v, size_t n, tq_decl *out)
{
    MDB_val val = {.mv_size = n, .mv_data = (void *)v};
    memset(out, 0, sizeof *out);
    memcpy(out->decl_no, decl_no, TQ_DECL_NO_LEN);
    return tq__decl_decode(&val, out) ? TQ_ERR_DBCORRUPT : TQ_OK;
}

/* tq__decl_put() under a caller's decl_no. */
static int tq__decl_put_no(tq_txn *t, const char *decl_no, const uint8_t *v, size_t n,
                           int append, const MDB_val *known)
{
    MDB_val k;
    int rc = tq__decl_key(&k, decl_no);
    if (rc != TQ_OK)
        return rc;
    rc = tq__decl_put(t, &k, v, n, append, known);
    return rc == 1 ? TQ_ERR_STORE : rc;
}

int tq_store_put_decl_encoded(tq_txn *t, const char *decl_no, const uint8_t *v, size_t n,
                              int append)
{
    return tq__decl_put_no(t, decl_no, v, n, append, NULL);
}

int tq_store_put_decl_known(tq_txn *t, const char *decl_no, const uint8_t *v, size_t n,
                            const uint8_t *old, size_t oldn)
{
    MDB_val known = {old ? oldn : 0, (void *)old};
    return tq__decl_put_no(t, decl_no, v, n, 0, &known);
}

int tq_store_get_decl_encoded(tq_txn *t, const char *decl_no, const uint8_t **v, size_t *n)
{
    MDB_val k, val;
    int rc = tq__decl_key(&k, decl_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_DECLS, &k, &val);
    if (rc != TQ_OK)
        return rc;
    *v = val.mv_data;
    *n = val.mv_size;
    return TQ_OK;
}

static int tq__edge_decl(tq_txn *t, int last, char out[TQ_DECL_NO_LEN + 1])
{
    MDB_val k, v;
    int rc = last ? tq__last(t, DB_DECLS, &k, &v) : tq__first(t, DB_DECLS, &k, &v);
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__unseal(t->s, DB_DECLS, &k, &v);
    if (bad)
        return tq__fault(t, DB_DECLS, &k, "%s", bad);
    tq__key_str(&k, out);
    return TQ_OK;
}

int tq_store_last_decl(tq_txn *t, char out[TQ_DECL_NO_LEN + 1])
{
    return tq__edge_decl(t, 1, out);
}

int tq_store_first_decl(tq_txn *t, char out[TQ_DECL_NO_LEN + 1])
{
    return tq__edge_decl(t, 0, out);
}

/* A record of decls: the decl_no is the key. */
static const char *tq__decl_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_decl *d = item;
    tq__key_str(k, d->decl_no);
    return tq__decl_decode(v, d);
}

int tq_store_each_decl(tq_txn *t, int (*fn)(void *ctx, const tq_decl *d), void *ctx)
{
    tq_decl *d = malloc(sizeof *d);     /* a tq_decl is too big for some stacks */
    tq__walk w = {DB_DECLS, tq__decl_kv, d, sizeof *d, {.decl = fn}, ctx};
    int rc = d ? tq__walk_run(t, &w, NULL, 0) : TQ_ERR_NOMEM;
    free(d);
    return rc;
}

/* The head walk is tq__walk_run()'s loop (tq__each: key and seal checked first) with
 * a tq_decl_head on the stack for a tq_decl. */
typedef struct tq__head_walk {
    tq_txn *t;
    int (*fn)(void *ctx, const tq_decl_head *h);
    void *ctx;
    const char *to;          /* the walk ends before this key (NULL: at the end) */
    int ended;               /* it did */
} tq__head_walk;

static int tq__decl_head_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__head_walk *a = arg;
    if (a->to && memcmp(k->mv_data, a->to, TQ_DECL_NO_LEN) >= 0)
        return a->ended = 1;     /* keys are checked: 12 bytes */
    tq_decl_head h;
    memset(&h, 0, sizeof h);    /* every byte defined, padding included */
    tq__key_str(k, h.decl_no);
    const char *bad = tq__decl_head_decode(v, &h);
    return bad ? tq__fault(a->t, DB_DECLS, k, "%s", bad) : a->fn(a->ctx, &h);
}

int tq_store_each_decl_head(tq_txn *t, int (*fn)(void *ctx, const tq_decl_head *h),
                            void *ctx)
{
    return tq_store_each_decl_head_range(t, NULL, NULL, fn, ctx);
}

int tq_store_each_decl_head_range(tq_txn *t, const char *from, const char *to,
                                  int (*fn)(void *ctx, const tq_decl_head *h), void *ctx)
{
    tq__head_walk a = {t, fn, ctx, NULL, 0};
    MDB_val k, bound;
    if ((from && tq__decl_key(&k, from) != TQ_OK) || (to && tq__decl_key(&bound, to) != TQ_OK))
        return TQ_ERR_INPUT;
    a.to = to;
    int rc = tq__each(t, DB_DECLS, from ? &k : NULL, 0, tq__decl_head_visit, &a);
    return a.ended && rc == 1 ? TQ_OK : rc;
}

int tq_store_decl_head_decode(const char *decl_no, const uint8_t *v, size_t n,
                              tq_decl_head *out)
{
    MDB_val val = {.mv_size = n, .mv_data = (void *)v};
    memset(out, 0, sizeof *out);
    memcpy(out->decl_no, decl_no, TQ_DECL_NO_LEN);
    return tq__decl_head_decode(&val, out) ? TQ_ERR_DBCORRUPT : TQ_OK;
}

/* ---- payments ---- */

static void tq__receipt_encode(const tq_payment *p, uint8_t out[TQ__RECEIPT_LEN])
{
    memcpy(out, p->decl_no, TQ_DECL_NO_LEN);
    out[TQ_DECL_NO_LEN] = p->kind;
    tq_le_put64(out + TQ_DECL_NO_LEN + 1, p->amount);
    tq_le_put32(out + TQ_DECL_NO_LEN + 9, (uint32_t)p->valid_until);
}

/* p->receipt_no is the caller's. */
static const char *tq__receipt_decode(const MDB_val *v, tq_payment *p)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size != TQ__RECEIPT_LEN)
        return "value is not 25 bytes";
    MDB_val dk = {TQ_DECL_NO_LEN, (void *)b};
    if (tq__key_bad(DB_DECLS, &dk))
        return "decl_no is not 12 digits, the first not 0";
    if (b[TQ_DECL_NO_LEN] != TQ_PAY && b[TQ_DECL_NO_LEN] != TQ_GUARANTEE)
        return "kind out of range";
    memcpy(p->decl_no, b, TQ_DECL_NO_LEN);
    p->decl_no[TQ_DECL_NO_LEN] = '\0';
    p->kind = b[TQ_DECL_NO_LEN];
    p->amount = tq_le_get64(b + TQ_DECL_NO_LEN + 1);
    p->valid_until = tq__i32(tq_le_get32(b + TQ_DECL_NO_LEN + 9));
    return NULL;
}

/* A record of receipts: the receipt_no is the key. */
static const char *tq__receipt_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_payment *p = item;
    tq__key_str(k, p->receipt_no);
    return tq__receipt_decode(v, p);
}

static int tq__receipt_get(tq_txn *t, const MDB_val *k, const MDB_val *v, tq_payment *p)
{
    memset(p, 0, sizeof *p);    /* every byte defined, padding included */
    const char *bad = tq__receipt_kv(k, v, p);
    return bad ? tq__fault(t, DB_RECEIPTS, k, "%s", bad) : TQ_OK;
}

/* ---- covers ---- */

/* The layout of a cover (STORE.md §3.3): version 1 summed in u64, version 2 in u128. */
typedef struct tq__cover_fmt {
    size_t head, entry, amount;         /* bytes: header, one guarantee, one amount */
} tq__cover_fmt;

static tq__cover_fmt tq__cover_fmt_of(const tq_store *s)
{
    tq__cover_fmt f = {s->sealed ? 20 : 12, s->sealed ? 20 : 12, s->sealed ? 16 : 8};
    return f;
}

static tq_u128 tq__cover_amount(const tq__cover_fmt *f, const uint8_t *p)
{
    return f->amount == 16 ? tq__get_u128(p) : tq_le_get64(p);
}

static int32_t tq__cover_day(const tq__cover_fmt *f, const uint8_t *cover, uint32_t i)
{
    return tq__i32(tq_le_get32(cover + f->head + (size_t)i * f->entry));
}

/* Checks a stored cover: its length matches its count and its days strictly ascend
 * (the merge and the rules' lookups rely on both). */
static const char *tq__cover_check(const tq__cover_fmt *f, const MDB_val *v, uint32_t *nguar)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < f->head || (v->mv_size - f->head) % f->entry != 0)
        return "length is not a header and whole guarantees";
    uint32_t n = tq_le_get32(b + f->amount);
    if ((v->mv_size - f->head) / f->entry != n)
        return "guarantee count does not match the length";
    for (uint32_t i = 1; i < n; i++)
        if (tq__cover_day(f, b, i - 1) >= tq__cover_day(f, b, i))
            return "guarantee days do not strictly ascend";
    *nguar = n;
    return NULL;
}

static uint8_t *tq__scratch(tq_txn *t, size_t cap, uint8_t *stack, size_t stack_cap)
{
    if (cap <= stack_cap)
        return stack;
    if (cap > t->scratch_cap) {
        size_t want = cap > t->scratch_cap * 2 ? cap : t->scratch_cap * 2;
        uint8_t *nb = realloc(t->scratch, want);
        if (nb == NULL)
            return NULL;
        t->scratch = nb;
        t->scratch_cap = want;
    }
    return t->scratch;
}

/* Copies the n guarantees of old into out with p merged in (days ascending, equal days
 * summed).  @return the new count. */
static uint32_t tq__cover_merge(const tq__cover_fmt *f, const uint8_t *old, uint32_t n,
                                const tq_payment *p, uint8_t *out)
{
    const uint8_t *entries = old ? old + f->head : NULL;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (tq__cover_day(f, old, mid) < p->valid_until)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t before = (size_t)lo * f->entry;
    if (before)
        memcpy(out, entries, before);
    uint8_t *e = out + before;
    int same = lo < n && tq__cover_day(f, old, lo) == p->valid_until;
    tq_u128 amount = p->amount;
    if (same)
        amount = tq_u128_add(amount, tq__get_u128(entries + before + 4));
    tq_le_put32(e, (uint32_t)p->valid_until);
    tq__put_u128(e + 4, amount);
    size_t skip = same ? f->entry : 0;
    size_t after = (size_t)(n - lo) * f->entry - skip;
    if (after)
        memcpy(e + f->entry, entries + before + skip, after);
    return same ? n : n + 1;
}

/* Read-modify-write of the cover of p->decl_no (only in a sealed, version 2, store:
 * writers upgrade first).  The old value is a pointer into the map that the put may
 * overwrite, so the new value is built in a buffer of our own. */
static int tq__cover_add(tq_txn *t, const tq_payment *p)
{
    const tq__cover_fmt f = tq__cover_fmt_of(t->s);
    uint8_t stack[20 + TQ__COVER_STACK * 20];
    MDB_val k, v;
    uint32_t n = 0;
    const uint8_t *old = NULL;
    int rc = tq__decl_key(&k, p->decl_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_COVER, &k, &v);
    if (rc == TQ_OK) {
        const char *bad = tq__cover_check(&f, &v, &n);
        if (bad)
            return tq__fault(t, DB_COVER, &k, "%s", bad);
        old = v.mv_data;
    } else if (rc != TQ_ERR_NOTFOUND) {
        return rc;
    }
    uint8_t *buf = tq__scratch(t, f.head + ((size_t)n + 1) * f.entry, stack, sizeof stack);
    if (buf == NULL)
        return TQ_ERR_NOMEM;
    tq_u128 pay = old ? tq__get_u128(old) : 0;
    uint32_t nout = n;
    if (p->kind == TQ_PAY) {
        pay = tq_u128_add(pay, p->amount);
        if (n)
            memcpy(buf + f.head, old + f.head, (size_t)n * f.entry);
    } else {
        nout = tq__cover_merge(&f, old, n, p, buf + f.head);
    }
    tq__put_u128(buf, pay);
    tq_le_put32(buf + 16, nout);
    rc = tq__put(t, DB_COVER, &k, buf, f.head + (size_t)nout * f.entry, 0);
    return rc == TQ_OK ? tq__held_cover_changed(t, &k, buf, f.head + (size_t)nout * f.entry) : rc;
}

int tq_store_add_payment(tq_txn *t, const tq_payment *p, tq_payment *known, int *is_new)
{
    uint8_t buf[TQ__RECEIPT_LEN];
    MDB_val k, v, dk;
    tq_payment old;
    int dummy;
    if (is_new == NULL)
        is_new = &dummy;
    *is_new = 0;
    int rc = tq__name_key(&k, p->receipt_no);
    if (rc == TQ_OK)
        rc = tq__decl_key(&dk, p->decl_no);
    if (rc == TQ_OK && p->kind != TQ_PAY && p->kind != TQ_GUARANTEE)
        rc = TQ_ERR_INPUT;
    if (rc == TQ_OK && t->rdonly)
        rc = TQ_ERR_STORE;
    if (rc == TQ_OK)
        rc = tq__get(t, DB_RECEIPTS, &k, &v);
    if (rc == TQ_OK) {
        rc = tq__receipt_get(t, &k, &v, &old);
        if (rc != TQ_OK)
            return rc;
        if (memcmp(old.decl_no, p->decl_no, TQ_DECL_NO_LEN) == 0 && old.kind == p->kind &&
            old.amount == p->amount && old.valid_until == p->valid_until)
            return TQ_OK;
        if (known != NULL)
            *known = old;
        return TQ_ERR_CONFLICT;
    }
    if (rc != TQ_ERR_NOTFOUND)
        return rc;
    tq__receipt_encode(p, buf);
    rc = tq__put(t, DB_RECEIPTS, &k, buf, sizeof buf, 0);
    if (rc == TQ_OK)
        rc = tq__cover_add(t, p);
    *is_new = rc == TQ_OK;
    return rc;
}

int tq_store_get_payment(tq_txn *t, const char *receipt_no, tq_payment *out)
{
    MDB_val k, v;
    tq_payment p;
    int rc = tq__name_key(&k, receipt_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_RECEIPTS, &k, &v);
    if (rc == TQ_OK)
        rc = tq__receipt_get(t, &k, &v, &p);
    if (rc == TQ_OK)
        *out = p;
    return rc;
}

static int tq__guar_room(tq_guarantee **guar, size_t *guar_cap, uint32_t n)
{
    if (n <= *guar_cap)
        return TQ_OK;
    size_t want = *guar_cap * 2 > n ? *guar_cap * 2 : n;
    if (want > SIZE_MAX / sizeof **guar)
        return TQ_ERR_NOMEM;
    tq_guarantee *g = realloc(*guar, want * sizeof **guar);
    if (g == NULL)
        return TQ_ERR_NOMEM;
    *guar = g;
    *guar_cap = want;
    return TQ_OK;
}

int tq_store_get_cover(tq_txn *t, const char *decl_no, tq_cover *cover,
                       tq_guarantee **guar, size_t *guar_cap)
{
    const tq__cover_fmt f = tq__cover_fmt_of(t->s);
    MDB_val k, v;
    uint32_t n;
    cover->pay_total = 0;
    cover->nguar = 0;
    cover->guar = *guar;
    int rc = tq__decl_key(&k, decl_no);
    if (rc == TQ_OK && t->coverc == NULL &&
        mdb_cursor_open(t->txn, t->s->dbi[DB_COVER], &t->coverc) != MDB_SUCCESS)
        t->coverc = NULL;    /* then looked up from the root, as before */
    if (rc == TQ_OK)
        rc = tq__get_at(t, t->coverc, DB_COVER, &k, &v);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__cover_check(&f, &v, &n);
    if (bad)
        return tq__fault(t, DB_COVER, &k, "%s", bad);
    rc = tq__guar_room(guar, guar_cap, n);
    if (rc != TQ_OK)
        return rc;
    const uint8_t *b = v.mv_data;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = b + f.head + (size_t)i * f.entry;
        (*guar)[i].valid_until = tq__i32(tq_le_get32(e));
        (*guar)[i].amount = tq__cover_amount(&f, e + 4);
    }
    cover->pay_total = tq__cover_amount(&f, b);
    cover->nguar = n;
    cover->guar = *guar;
    return TQ_OK;
}

int tq_store_each_payment(tq_txn *t, int (*fn)(void *ctx, const tq_payment *p), void *ctx)
{
    tq_payment p;
    tq__walk w = {DB_RECEIPTS, tq__receipt_kv, &p, sizeof p, {.payment = fn}, ctx};
    return tq__walk_run(t, &w, NULL, 0);
}

/* Version 1 summed covers in u64, saturating: an upgrade recomputes every cover from
 * its receipts, exactly. */
static int tq__cover_rebuild_one(void *ctx, const tq_payment *p)
{
    return tq__cover_add(ctx, p);
}

int tq__cover_rebuild(tq_txn *t)
{
    tq_payment p;
    tq__walk w = {DB_RECEIPTS, tq__receipt_kv, &p, sizeof p, {.payment = tq__cover_rebuild_one},
                  t};
    int rc = tq__mdb(mdb_drop(t->txn, t->s->dbi[DB_COVER], 0));
    return rc != TQ_OK ? rc : tq__walk_run(t, &w, NULL, 0);
}

/* ---- permits and their use ---- */

static int tq__permit_encode(const tq_permit *p, uint8_t *buf, size_t *len)
{
    size_t na, nh, n;
    if ((p->status != TQ_PERMIT_VALID && p->status != TQ_PERMIT_REVOKED) ||
        p->nprefixes > TQ_PREFIXES_MAX || !tq__len(p->agency, 0, TQ_AGENCY_MAX, &na) ||
        !tq__len(p->holder, 0, TQ_TAXID_MAX, &nh))
        return TQ_ERR_INPUT;
    uint8_t *o = buf;
    *o++ = p->status;
    o = tq_le_put32(o, (uint32_t)p->valid_from);
    o = tq_le_put32(o, (uint32_t)p->valid_to);
    o = tq_le_put64(o, p->quota);
    o = tq__put_str(o, p->agency, na);
    o = tq__put_str(o, p->holder, nh);
    *o++ = p->nprefixes;
    for (unsigned i = 0; i < p->nprefixes; i++) {
        if (!tq__len(p->prefixes[i], 0, 8, &n))
            return TQ_ERR_INPUT;
        o = tq__put_str(o, p->prefixes[i], n);
    }
    *len = (size_t)(o - buf);
    return TQ_OK;
}

/* Decodes into a zeroed p whose permit_no the caller set. */
static const char *tq__permit_decode(const MDB_val *v, tq_permit *p)
{
    tq__rd r = tq__rd_of(v);
    p->status = tq__rd_u8(&r);
    p->valid_from = tq__i32(tq__rd_u32(&r));
    p->valid_to = tq__i32(tq__rd_u32(&r));
    p->quota = tq__rd_u64(&r);
    tq__rd_str(&r, p->agency, TQ_AGENCY_MAX);
    tq__rd_str(&r, p->holder, TQ_TAXID_MAX);
    p->nprefixes = tq__rd_u8(&r);
    if (r.bad)
        return "value cut short or a field too long";
    if (p->status != TQ_PERMIT_VALID && p->status != TQ_PERMIT_REVOKED)
        return "status out of range";
    if (p->nprefixes > TQ_PREFIXES_MAX)
        return "more than 16 prefixes";
    for (unsigned i = 0; i < p->nprefixes; i++)
        tq__rd_str(&r, p->prefixes[i], 8);
    if (r.bad)
        return "value cut short or a prefix too long";
    return r.p != r.end ? "bytes after the last field" : NULL;
}

int tq_store_put_permit(tq_txn *t, const tq_permit *p)
{
    uint8_t buf[TQ__PERMIT_ENC_MAX];
    size_t len;
    MDB_val k;
    int rc = tq__name_key(&k, p->permit_no);
    if (rc == TQ_OK)
        rc = tq__permit_encode(p, buf, &len);
    if (rc != TQ_OK)
        return rc;
    /* Insert first: a load is mostly of new permits, and MDB_KEYEXIST tells a
     * replacement apart without a lookup of its own. */
    rc = tq__put(t, DB_PERMITS, &k, buf, len, MDB_NOOVERWRITE);
    if (rc != 1)
        return rc;
    rc = tq__put(t, DB_PERMITS, &k, buf, len, 0);
    return rc != TQ_OK ? rc : 1;
}

int tq_store_get_permit(tq_txn *t, const char *permit_no, tq_permit *out)
{
    MDB_val k, v;
    char no[TQ_PERMIT_MAX];
    int rc = tq__name_key(&k, permit_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_PERMITS, &k, &v);
    if (rc != TQ_OK)
        return rc;
    memcpy(no, permit_no, k.mv_size);   /* permit_no may point into *out */
    k.mv_data = no;
    memset(out, 0, sizeof *out);
    memcpy(out->permit_no, no, k.mv_size);
    const char *bad = tq__permit_decode(&v, out);
    return bad ? tq__fault(t, DB_PERMITS, &k, "%s", bad) : TQ_OK;
}

static const char *tq__used_decode(const MDB_val *v, uint64_t *used)
{
    if (v->mv_size != 8)
        return "value is not 8 bytes";
    *used = tq_le_get64(v->mv_data);
    return NULL;
}

int tq_store_get_used(tq_txn *t, const char *permit_no, uint64_t *used)
{
    MDB_val k, v;
    int rc = tq__name_key(&k, permit_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_USAGE, &k, &v);
    if (rc == TQ_ERR_NOTFOUND) {
        *used = 0;
        return TQ_OK;
    }
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__used_decode(&v, used);
    return bad ? tq__fault(t, DB_USAGE, &k, "%s", bad) : TQ_OK;
}

int tq_store_put_used(tq_txn *t, const char *permit_no, uint64_t used)
{
    uint8_t buf[8];
    MDB_val k;
    int rc = tq__name_key(&k, permit_no);
    if (rc != TQ_OK)
        return rc;
    tq_le_put64(buf, used);
    return tq__put(t, DB_USAGE, &k, buf, sizeof buf, 0);
}

/* A record of permits: the permit_no is the key (its use is looked up by the walk). */
static const char *tq__permit_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_permit *p = item;
    tq__key_str(k, p->permit_no);
    return tq__permit_decode(v, p);
}

int tq_store_each_permit(tq_txn *t,
                         int (*fn)(void *ctx, const tq_permit *p, uint64_t used),
                         void *ctx)
{
    tq_permit p;
    tq__walk w = {DB_PERMITS, tq__permit_kv, &p, sizeof p, {.permit = fn}, ctx};
    return tq__walk_run(t, &w, NULL, 0);
}

/* ---- journals ---- */

static const char *tq__mark_decode(const MDB_val *v, tq_journal_mark *m)
{
    return tq__u64x4_get(v, &m->last_seq, &m->frames, &m->chain, &m->applied_at);
}

int tq_store_get_journal(tq_txn *t, const uint8_t id[TQ_JOURNAL_ID_LEN], tq_journal_mark *m)
{
    MDB_val k = {TQ_JOURNAL_ID_LEN, (void *)id}, v;
    tq_journal_mark got;
    int rc = tq__get(t, DB_JOURNALS, &k, &v);
    if (rc == TQ_ERR_NOTFOUND) {
        memset(m, 0, sizeof *m);
        memcpy(m->id, id, TQ_JOURNAL_ID_LEN);
        return rc;
    }
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__mark_decode(&v, &got);
    if (bad)
        return tq__fault(t, DB_JOURNALS, &k, "%s", bad);
    memcpy(got.id, id, TQ_JOURNAL_ID_LEN);
    *m = got;
    return TQ_OK;
}

int tq_store_put_journal(tq_txn *t, const tq_journal_mark *m)
{
    uint8_t buf[TQ__JOURNAL_LEN];
    MDB_val k = {TQ_JOURNAL_ID_LEN, (void *)m->id};
    tq__u64x4_put(buf, m->last_seq, m->frames, m->chain, m->applied_at);
    return tq__put(t, DB_JOURNALS, &k, buf, sizeof buf, 0);
}

/* A record of journals: the journal's id is the key. */
static const char *tq__mark_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_journal_mark *m = item;
    memcpy(m->id, k->mv_data, TQ_JOURNAL_ID_LEN);
    return tq__mark_decode(v, m);
}

int tq_store_each_journal(tq_txn *t, int (*fn)(void *ctx, const tq_journal_mark *m),
                          void *ctx)
{
    tq_journal_mark m;
    tq__walk w = {DB_JOURNALS, tq__mark_kv, &m, sizeof m, {.journal = fn}, ctx};
    return tq__walk_run(t, &w, NULL, 0);
}

/* ---- checks for tq_store_verify() ---- */

static const char *tq__meta_bad(const MDB_val *k, const MDB_val *v)
{
    size_t want = memcmp(k->mv_data, "version", 7) == 0 ? 4 : 8;
    if (memcmp(k->mv_data, "upgrade", 7) == 0) {
        MDB_val dk = {TQ_DECL_NO_LEN, v->mv_data};
        return v->mv_size == TQ_DECL_NO_LEN && tq__key_bad(DB_DECLS, &dk) == NULL
                   ? NULL
                   : "value is not a decl_no";
    }
    return v->mv_size == want ? NULL : "value has the wrong length";
}

const char *tq__value_bad(const tq_store *s, int db, const MDB_val *k, const MDB_val *v)
{
    union {
        tq_decl d;
        tq_payment p;
        tq_permit pm;
        tq_journal_mark m;
    } u;
    uint64_t used;
    uint32_t n;
    memset(&u, 0, sizeof u);
    switch (db) {
    case DB_META:
        return tq__meta_bad(k, v);
    case DB_RECEIPTS:
        return tq__receipt_decode(v, &u.p);
    case DB_COVER: {
        tq__cover_fmt f = tq__cover_fmt_of(s);
        return tq__cover_check(&f, v, &n);
    }
    case DB_PERMITS:
        return tq__permit_decode(v, &u.pm);
    case DB_USAGE:
        return tq__used_decode(v, &used);
    case DB_DECLS:
        return tq__decl_decode(v, &u.d);
    case DB_JOURNALS:
        return tq__mark_decode(v, &u.m);
    case DB_BY_OFFICE:
    case DB_BY_TAXID:
    case DB_BY_PERMIT:
    case DB_ERA_TAXID:
    case DB_ERA_PERMIT:
        return tq__index_entry_bad(v);
    case DB_CHANGES:
        return tq__feed_value_bad(v);
    case DB_HELD:
        return tq__held_value_bad(v);
    }
    return tq__log_value_bad(db, k, v);
}
