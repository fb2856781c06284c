/* tq_store.c - the LMDB store: one environment per directory, seven named databases.
 *
 * Values.  Every value is encoded by hand, byte by byte, little-endian (engine/STORE.md),
 * so a database is portable between machines and carries no padding garbage.  Decoders
 * check every length and range, so a damaged value is TQ_ERR_CORRUPT and never an
 * overread; encoders refuse (TQ_ERR_INPUT) whatever the decoders would refuse, so what a
 * put accepts a get gives back.  Nothing is allocated per get or put: a declaration
 * encodes into a stack buffer bounded by TQ__DECL_ENC_MAX, and the one value of open
 * size (a cover's guarantee list) is rebuilt on the stack or, when long, in a scratch
 * buffer that lives as long as its transaction.
 *
 * Writer lock.  DIR/lock is flock()ed, apart from LMDB's lock.mdb: LMDB locks lock.mdb
 * with fcntl() locks, which belong to the process and vanish when any descriptor of the
 * file is closed, whereas flock() belongs to our one open file description and is
 * dropped by the kernel exactly when its holder dies.  The lock is taken before LMDB
 * opens anything, so a refused writer never touches the environment.
 *
 * Remapping.  LMDB can change the map size only while this process has no live
 * transaction: mdb_env_set_mapsize() unmaps the old mapping under any reader.  The
 * store therefore counts live transactions under a mutex; a remap (tq_store_grow(), or
 * adopting a size another process committed after MDB_MAP_RESIZED) happens under that
 * mutex and only at count zero, and read transactions begin under it, so none can start
 * halfway through a remap.  Write transactions begin outside it, because LMDB may block
 * there on its writer mutex, which would stall every reader behind us.
 */
#include "tq_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum { DB_META, DB_RECEIPTS, DB_COVER, DB_PERMITS, DB_USAGE, DB_DECLS, DB_JOURNALS, DB_COUNT };

static const char *const tq__db_name[DB_COUNT] = {
    "meta", "receipts", "cover", "permits", "usage", "decls", "journals"
};

#define TQ__MAXDBS 8
#define TQ__RESIZE_TRIES 3      /* MDB_MAP_RESIZED again right after adopting: give up */

/* Longest encodings (STORE.md).  A varint of a u64 takes at most 10 bytes, of the
 * version (u32) 5, of the reasons (8 bits) 2. */
#define TQ__DECL_HEAD_MAX (4 + 5 + 2 + 10 + 10 + 8 + 4 + 4 + 1 + TQ_TAXID_MAX + 1)
#define TQ__DECL_LINE_MAX (4 + 10 + 1 + TQ_PERMIT_MAX)
#define TQ__DECL_ENC_MAX (TQ__DECL_HEAD_MAX + TQ_LINES_MAX * TQ__DECL_LINE_MAX)
_Static_assert(TQ__DECL_ENC_MAX <= TQ_STORE_DECL_ENC_MAX, "public bound too small");
#define TQ__PERMIT_ENC_MAX \
    (1 + 4 + 4 + 8 + 1 + TQ_AGENCY_MAX + 1 + TQ_TAXID_MAX + 1 + TQ_PREFIXES_MAX * 9)
#define TQ__RECEIPT_LEN (TQ_DECL_NO_LEN + 1 + 8 + 4)
#define TQ__COVER_HEAD 12
#define TQ__COVER_ENTRY 12
#define TQ__COVER_STACK 32      /* guarantees rebuilt on the stack; more use scratch */
#define TQ__JOURNAL_LEN 32

/* STORE.md states these bounds; keep it in step. */
_Static_assert(TQ__DECL_ENC_MAX == 2412, "STORE.md: largest decls value");
_Static_assert(TQ__PERMIT_ENC_MAX == 193, "STORE.md: largest permits value");
_Static_assert(TQ_REASON_COUNT <= 8, "reasons are stored as bits below 256");

struct tq_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    int lock_fd;                /* -1 for a reader */
    int rdonly;
    pthread_mutex_t mu;         /* guards live and every remap */
    long live;                  /* transactions holding a snapshot */
};

struct tq_txn {
    tq_store *s;
    MDB_txn *txn;
    unsigned char rdonly;
    unsigned char live;         /* counted in s->live: begun or renewed, not reset */
    int failed;                 /* first LMDB error of a put: the txn is dead */
    uint8_t *scratch;           /* long covers, see tq__cover_add() */
    size_t scratch_cap;
};

/* ---- errors ---- */

static int tq__errno(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return TQ_ERR_FULL;
    case ENOMEM:
        return TQ_ERR_NOMEM;
    default:
        return TQ_ERR_IO;
    }
}

/* LMDB returns errno values for system failures and its own negative codes otherwise.
 * Corruption and I/O failure stay apart: an operator restores from a copy for the first
 * and looks at the disk for the second. */
static int tq__mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return TQ_OK;
    case MDB_NOTFOUND:
        return TQ_ERR_NOTFOUND;
    case MDB_MAP_FULL:
        return TQ_ERR_MAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return TQ_ERR_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return TQ_ERR_VERSION;
    case MDB_TXN_FULL:
        return TQ_ERR_LIMIT;
    case EINVAL:                /* a misuse of LMDB, not a failing disk */
        return TQ_ERR_STORE;
    }
    return rc > 0 ? tq__errno(rc) : TQ_ERR_STORE;
}

/* ---- little-endian integers, varints ---- */

static uint8_t *tq__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static uint8_t *tq__put_u64(uint8_t *p, uint64_t v)
{
    tq__put_u32(p, (uint32_t)v);
    return tq__put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *tq__put_var(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint32_t tq__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t tq__get_u64(const uint8_t *p)
{
    return (uint64_t)tq__get_u32(p) | (uint64_t)tq__get_u32(p + 4) << 32;
}

/* Two's complement back from the unsigned image, without the implementation-defined
 * conversion of an out-of-range value. */
static int32_t tq__i32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) + INT32_MIN;
}

static int64_t tq__i64(uint64_t u)
{
    return u <= INT64_MAX ? (int64_t)u : (int64_t)(u - 0x8000000000000000u) + INT64_MIN;
}

static uint64_t tq__sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
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
    return tq__get_u32(r->p - 4);
}

static uint64_t tq__rd_u64(tq__rd *r)
{
    if (!tq__rd_need(r, 8))
        return 0;
    r->p += 8;
    return tq__get_u64(r->p - 8);
}

static uint64_t tq__rd_var(tq__rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (!tq__rd_need(r, 1))
            return 0;
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            break;              /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

/* A string of a length byte and at most max bytes.  A NUL inside would silently
 * shorten the string, so it counts as damage. */
static void tq__rd_str(tq__rd *r, char *out, size_t max)
{
    size_t n = tq__rd_u8(r);
    out[0] = '\0';
    if (n > max || !tq__rd_need(r, n) || memchr(r->p, 0, n) != NULL) {
        r->bad = 1;
        return;
    }
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
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

static int tq__key(MDB_val *k, const char *s, size_t min, size_t max)
{
    size_t n;
    if (s == NULL || !tq__len(s, min, max, &n))
        return TQ_ERR_INPUT;
    k->mv_size = n;
    k->mv_data = (void *)s;     /* LMDB never writes through a key */
    return TQ_OK;
}

static int tq__decl_key(MDB_val *k, const char *decl_no)
{
    return tq__key(k, decl_no, TQ_DECL_NO_LEN, TQ_DECL_NO_LEN);
}

static int tq__name_key(MDB_val *k, const char *name)
{
    return tq__key(k, name, 1, TQ_PERMIT_MAX);
}

/* A stored key back into a string field, checked like a value. */
static int tq__key_str(const MDB_val *k, char *out, size_t min, size_t max)
{
    if (k->mv_size < min || k->mv_size > max || memchr(k->mv_data, 0, k->mv_size) != NULL)
        return TQ_ERR_CORRUPT;
    memcpy(out, k->mv_data, k->mv_size);
    out[k->mv_size] = '\0';
    return TQ_OK;
}

/* ---- get / put / walk ---- */

static int tq__get(tq_txn *t, int db, MDB_val *k, MDB_val *v)
{
    return tq__mdb(mdb_get(t->txn, t->s->dbi[db], k, v));
}

/* @return TQ_OK, 1 (MDB_NOOVERWRITE and the key exists: v is the stored value), or an
 * error.  A failed mdb_put leaves the LMDB transaction unusable; remember why, so that
 * later puts and the commit the caller may try anyway report the real cause rather
 * than MDB_BAD_TXN. */
static int tq__put(tq_txn *t, int db, MDB_val *k, MDB_val *v, unsigned flags)
{
    if (t->rdonly)
        return TQ_ERR_STORE;
    if (t->failed != TQ_OK)
        return t->failed;
    int rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
    if (rc == MDB_SUCCESS || rc == MDB_KEYEXIST)
        return rc == MDB_KEYEXIST;
    t->failed = tq__mdb(rc);
    return t->failed;
}

typedef int (*tq__visit)(void *arg, const MDB_val *k, const MDB_val *v);

/* Calls visit for every entry of db in key order; stops at and returns the first
 * non-zero result.  Entries are decoded before the callback sees them, so a callback
 * that writes through the same transaction never holds a pointer into a page. */
static int tq__each(tq_txn *t, int db, tq__visit visit, void *arg)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    for (MDB_cursor_op op = MDB_FIRST;; op = MDB_NEXT) {
        rc = mdb_cursor_get(c, &k, &v, op);
        if (rc != MDB_SUCCESS) {
            rc = rc == MDB_NOTFOUND ? TQ_OK : tq__mdb(rc);
            break;
        }
        rc = visit(arg, &k, &v);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc;
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
    for (int i = 7; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[8] = '\0';
}

static int tq__decl_encode(const tq_decl *d, uint8_t *buf, size_t *len)
{
    size_t nd, np;
    uint32_t hs;
    if (d->state > TQ_STATE_CANCELLED || d->channel < 1 || d->channel > 3 ||
        d->officer > (TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK) || d->manual > 1 ||
        d->reasons >= 1u << TQ_REASON_COUNT || d->registered.nsec >= 1000000000u ||
        d->nlines > TQ_LINES_MAX || !tq__len(d->declarant, 0, TQ_TAXID_MAX, &nd))
        return TQ_ERR_INPUT;
    uint8_t *p = buf;
    *p++ = d->state;
    *p++ = d->channel;
    *p++ = d->officer;
    *p++ = d->manual;
    p = tq__put_var(p, d->version);
    p = tq__put_var(p, d->reasons);
    p = tq__put_var(p, d->tax_due);
    p = tq__put_var(p, d->tax_short);
    p = tq__put_u64(p, (uint64_t)d->registered.sec);
    p = tq__put_u32(p, d->registered.nsec);
    p = tq__put_u32(p, (uint32_t)d->reg_day);
    p = tq__put_str(p, d->declarant, nd);
    *p++ = (uint8_t)d->nlines;
    for (unsigned i = 0; i < d->nlines; i++) {
        const tq_decl_line *l = &d->lines[i];
        if (!tq__hs_parse(l->hs, &hs) || !tq__len(l->permit, 0, TQ_PERMIT_MAX, &np))
            return TQ_ERR_INPUT;
        p = tq__put_u32(p, hs);
        p = tq__put_var(p, l->qty);
        p = tq__put_str(p, l->permit, np);
    }
    *len = (size_t)(p - buf);
    return TQ_OK;
}

/* Decodes into a zeroed d (decl_no is the caller's); every byte of d is defined after. */
static int tq__decl_decode(const MDB_val *v, tq_decl *d)
{
    tq__rd r = tq__rd_of(v);
    d->state = tq__rd_u8(&r);
    d->channel = tq__rd_u8(&r);
    d->officer = tq__rd_u8(&r);
    d->manual = tq__rd_u8(&r);
    uint64_t version = tq__rd_var(&r);
    uint64_t reasons = tq__rd_var(&r);
    d->tax_due = tq__rd_var(&r);
    d->tax_short = tq__rd_var(&r);
    d->registered.sec = tq__i64(tq__rd_u64(&r));
    d->registered.nsec = tq__rd_u32(&r);
    d->reg_day = tq__i32(tq__rd_u32(&r));
    tq__rd_str(&r, d->declarant, TQ_TAXID_MAX);
    d->nlines = tq__rd_u8(&r);
    if (r.bad || d->state > TQ_STATE_CANCELLED || d->channel < 1 || d->channel > 3 ||
        d->officer > (TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK) || d->manual > 1 ||
        version > UINT32_MAX || reasons >= 1u << TQ_REASON_COUNT ||
        d->registered.nsec >= 1000000000u || d->nlines > TQ_LINES_MAX)
        return TQ_ERR_CORRUPT;
    d->version = (uint32_t)version;
    d->reasons = (uint32_t)reasons;
    for (unsigned i = 0; i < d->nlines; i++) {
        tq_decl_line *l = &d->lines[i];
        uint32_t hs = tq__rd_u32(&r);
        if (hs > 99999999u)
            return TQ_ERR_CORRUPT;
        tq__hs_format(hs, l->hs);
        l->qty = tq__rd_var(&r);
        tq__rd_str(&r, l->permit, TQ_PERMIT_MAX);
    }
    return r.bad || r.p != r.end ? TQ_ERR_CORRUPT : TQ_OK;
}

int tq_store_get_decl(tq_txn *t, const char *decl_no, tq_decl *out)
{
    MDB_val k, v;
    int rc = tq__decl_key(&k, decl_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_DECLS, &k, &v);
    if (rc != TQ_OK)
        return rc;
    /* decl_no first: it may point into *out. */
    char no[TQ_DECL_NO_LEN];
    memcpy(no, decl_no, TQ_DECL_NO_LEN);
    memset(out, 0, sizeof *out);
    memcpy(out->decl_no, no, TQ_DECL_NO_LEN);
    return tq__decl_decode(&v, out);
}

int tq_store_put_decl(tq_txn *t, const tq_decl *d)
{
    uint8_t buf[TQ__DECL_ENC_MAX];
    MDB_val k, v;
    int rc = tq__decl_key(&k, d->decl_no);
    if (rc == TQ_OK)
        rc = tq__decl_encode(d, buf, &v.mv_size);
    if (rc != TQ_OK)
        return rc;
    v.mv_data = buf;
    return tq__put(t, DB_DECLS, &k, &v, 0);
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
    return tq__decl_decode(&val, out);
}

int tq_store_put_decl_encoded(tq_txn *t, const char *decl_no, const uint8_t *v, size_t n,
                              int append)
{
    MDB_val k, val = {.mv_size = n, .mv_data = (void *)v};
    int rc = tq__decl_key(&k, decl_no);
    if (rc != TQ_OK)
        return rc;
    rc = tq__put(t, DB_DECLS, &k, &val, append ? MDB_APPEND : 0);
    return rc == 1 ? TQ_ERR_STORE : rc;
}

int tq_store_last_decl(tq_txn *t, char out[TQ_DECL_NO_LEN + 1])
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_DECLS], &c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    return tq__key_str(&k, out, TQ_DECL_NO_LEN, TQ_DECL_NO_LEN);
}

typedef struct tq__each_decl_arg {
    int (*fn)(void *ctx, const tq_decl *d);
    void *ctx;
    tq_decl d;
} tq__each_decl_arg;

static int tq__each_decl_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__each_decl_arg *a = arg;
    memset(&a->d, 0, sizeof a->d);
    int rc = tq__key_str(k, a->d.decl_no, TQ_DECL_NO_LEN, TQ_DECL_NO_LEN);
    if (rc == TQ_OK)
        rc = tq__decl_decode(v, &a->d);
    return rc != TQ_OK ? rc : a->fn(a->ctx, &a->d);
}

int tq_store_each_decl(tq_txn *t, int (*fn)(void *ctx, const tq_decl *d), void *ctx)
{
    tq__each_decl_arg a;
    a.fn = fn;
    a.ctx = ctx;
    return tq__each(t, DB_DECLS, tq__each_decl_visit, &a);
}

/* ---- payments and covers ---- */

static void tq__receipt_encode(const tq_payment *p, uint8_t out[TQ__RECEIPT_LEN])
{
    memcpy(out, p->decl_no, TQ_DECL_NO_LEN);
    out[TQ_DECL_NO_LEN] = p->kind;
    tq__put_u64(out + TQ_DECL_NO_LEN + 1, p->amount);
    tq__put_u32(out + TQ_DECL_NO_LEN + 9, (uint32_t)p->valid_until);
}

static int tq__receipt_decode(const MDB_val *k, const MDB_val *v, tq_payment *p)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size != TQ__RECEIPT_LEN || memchr(b, 0, TQ_DECL_NO_LEN) != NULL ||
        (b[TQ_DECL_NO_LEN] != TQ_PAY && b[TQ_DECL_NO_LEN] != TQ_GUARANTEE) ||
        tq__key_str(k, p->receipt_no, 1, TQ_PERMIT_MAX) != TQ_OK)
        return TQ_ERR_CORRUPT;
    memcpy(p->decl_no, b, TQ_DECL_NO_LEN);
    p->decl_no[TQ_DECL_NO_LEN] = '\0';
    p->kind = b[TQ_DECL_NO_LEN];
    p->amount = tq__get_u64(b + TQ_DECL_NO_LEN + 1);
    p->valid_until = tq__i32(tq__get_u32(b + TQ_DECL_NO_LEN + 9));
    return TQ_OK;
}

static int32_t tq__cover_day(const uint8_t *cover, uint32_t i)
{
    return tq__i32(tq__get_u32(cover + TQ__COVER_HEAD + (size_t)i * TQ__COVER_ENTRY));
}

/* Checks a stored cover: its length matches its count and its days strictly ascend
 * (the merge and the rules' lookups rely on both). */
static int tq__cover_check(const MDB_val *v, uint32_t *nguar)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < TQ__COVER_HEAD || (v->mv_size - TQ__COVER_HEAD) % TQ__COVER_ENTRY != 0)
        return TQ_ERR_CORRUPT;
    uint32_t n = tq__get_u32(b + 8);
    if ((v->mv_size - TQ__COVER_HEAD) / TQ__COVER_ENTRY != n)
        return TQ_ERR_CORRUPT;
    for (uint32_t i = 1; i < n; i++)
        if (tq__cover_day(b, i - 1) >= tq__cover_day(b, i))
            return TQ_ERR_CORRUPT;
    *nguar = n;
    return TQ_OK;
}

/* Read-modify-write of the cover of p->decl_no.  The old value is a pointer into the
 * map that the put may overwrite, so the new value is built in a buffer of our own:
 * the stack for the usual few guarantees, the transaction's scratch beyond. */
static int tq__cover_add(tq_txn *t, const tq_payment *p)
{
    uint8_t stack[TQ__COVER_HEAD + TQ__COVER_STACK * TQ__COVER_ENTRY];
    MDB_val k, v;
    uint32_t n = 0;
    const uint8_t *old = NULL;
    int rc = tq__decl_key(&k, p->decl_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_COVER, &k, &v);
    if (rc == TQ_OK) {
        rc = tq__cover_check(&v, &n);
        if (rc != TQ_OK)
            return rc;
        old = v.mv_data;
    } else if (rc != TQ_ERR_NOTFOUND) {
        return rc;
    }

    size_t cap = TQ__COVER_HEAD + ((size_t)n + 1) * TQ__COVER_ENTRY;
    uint8_t *buf = stack;
    if (cap > sizeof stack) {
        if (cap > t->scratch_cap) {
            size_t want = cap > t->scratch_cap * 2 ? cap : t->scratch_cap * 2;
            uint8_t *nb = realloc(t->scratch, want);
            if (nb == NULL)
                return TQ_ERR_NOMEM;
            t->scratch = nb;
            t->scratch_cap = want;
        }
        buf = t->scratch;
    }

    uint64_t pay = old ? tq__get_u64(old) : 0;
    const uint8_t *entries = old ? old + TQ__COVER_HEAD : NULL;
    uint8_t *out = buf + TQ__COVER_HEAD;
    uint32_t nout = n;
    if (p->kind == TQ_PAY) {
        pay = tq__sat_add(pay, p->amount);
        if (n)
            memcpy(out, entries, (size_t)n * TQ__COVER_ENTRY);
    } else {
        uint32_t lo = 0, hi = n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (tq__cover_day(old, mid) < p->valid_until)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t before = (size_t)lo * TQ__COVER_ENTRY;
        if (before)
            memcpy(out, entries, before);
        uint8_t *e = out + before;
        size_t after;
        if (lo < n && tq__cover_day(old, lo) == p->valid_until) {
            uint64_t amount = tq__get_u64(entries + before + 4);
            tq__put_u32(e, (uint32_t)p->valid_until);
            tq__put_u64(e + 4, tq__sat_add(amount, p->amount));
            after = (size_t)(n - lo - 1) * TQ__COVER_ENTRY;
            if (after)
                memcpy(e + TQ__COVER_ENTRY, entries + before + TQ__COVER_ENTRY, after);
        } else {
            tq__put_u32(e, (uint32_t)p->valid_until);
            tq__put_u64(e + 4, p->amount);
            after = (size_t)(n - lo) * TQ__COVER_ENTRY;
            if (after)
                memcpy(e + TQ__COVER_ENTRY, entries + before, after);
            nout = n + 1;
        }
    }
    tq__put_u64(buf, pay);
    tq__put_u32(buf + 8, nout);
    v.mv_data = buf;
    v.mv_size = TQ__COVER_HEAD + (size_t)nout * TQ__COVER_ENTRY;
    return tq__put(t, DB_COVER, &k, &v, 0);
}

int tq_store_add_payment(tq_txn *t, const tq_payment *p, tq_payment *known)
{
    uint8_t buf[TQ__RECEIPT_LEN];
    MDB_val k, v, dk;
    tq_payment old;
    int rc = tq__name_key(&k, p->receipt_no);
    if (rc == TQ_OK)
        rc = tq__decl_key(&dk, p->decl_no);
    if (rc == TQ_OK && p->kind != TQ_PAY && p->kind != TQ_GUARANTEE)
        rc = TQ_ERR_INPUT;
    if (rc == TQ_OK)
        rc = tq__get(t, DB_RECEIPTS, &k, &v);
    if (rc == TQ_OK) {
        rc = tq__receipt_decode(&k, &v, &old);
        if (rc != TQ_OK)
            return rc;
        if (memcmp(old.decl_no, p->decl_no, TQ_DECL_NO_LEN) == 0 && old.kind == p->kind &&
            old.amount == p->amount && old.valid_until == p->valid_until)
            return 1;
        if (known != NULL)
            *known = old;
        return TQ_ERR_CONFLICT;
    }
    if (rc != TQ_ERR_NOTFOUND)
        return rc;
    tq__receipt_encode(p, buf);
    v.mv_data = buf;
    v.mv_size = sizeof buf;
    rc = tq__put(t, DB_RECEIPTS, &k, &v, 0);
    return rc != TQ_OK ? rc : tq__cover_add(t, p);
}

int tq_store_get_payment(tq_txn *t, const char *receipt_no, tq_payment *out)
{
    MDB_val k, v;
    tq_payment p;
    int rc = tq__name_key(&k, receipt_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_RECEIPTS, &k, &v);
    if (rc == TQ_OK)
        rc = tq__receipt_decode(&k, &v, &p);
    if (rc == TQ_OK)
        *out = p;
    return rc;
}

int tq_store_get_cover(tq_txn *t, const char *decl_no, tq_cover *cover,
                       tq_guarantee **guar, size_t *guar_cap)
{
    MDB_val k, v;
    uint32_t n;
    cover->pay_total = 0;
    cover->nguar = 0;
    cover->guar = *guar;
    int rc = tq__decl_key(&k, decl_no);
    if (rc == TQ_OK)
        rc = tq__get(t, DB_COVER, &k, &v);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;
    if (rc == TQ_OK)
        rc = tq__cover_check(&v, &n);
    if (rc != TQ_OK)
        return rc;
    if (n > *guar_cap) {
        size_t want = *guar_cap * 2 > n ? *guar_cap * 2 : n;
        if (want > SIZE_MAX / sizeof **guar)
            return TQ_ERR_NOMEM;
        tq_guarantee *g = realloc(*guar, want * sizeof **guar);
        if (g == NULL)
            return TQ_ERR_NOMEM;
        *guar = g;
        *guar_cap = want;
    }
    const uint8_t *b = v.mv_data;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = b + TQ__COVER_HEAD + (size_t)i * TQ__COVER_ENTRY;
        (*guar)[i].valid_until = tq__i32(tq__get_u32(e));
        (*guar)[i].amount = tq__get_u64(e + 4);
    }
    cover->pay_total = tq__get_u64(b);
    cover->nguar = n;
    cover->guar = *guar;
    return TQ_OK;
}

typedef struct tq__each_payment_arg {
    int (*fn)(void *ctx, const tq_payment *p);
    void *ctx;
} tq__each_payment_arg;

static int tq__each_payment_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__each_payment_arg *a = arg;
    tq_payment p;
    int rc = tq__receipt_decode(k, v, &p);
    return rc != TQ_OK ? rc : a->fn(a->ctx, &p);
}

int tq_store_each_payment(tq_txn *t, int (*fn)(void *ctx, const tq_payment *p), void *ctx)
{
    tq__each_payment_arg a = {fn, ctx};
    return tq__each(t, DB_RECEIPTS, tq__each_payment_visit, &a);
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
    o = tq__put_u32(o, (uint32_t)p->valid_from);
    o = tq__put_u32(o, (uint32_t)p->valid_to);
    o = tq__put_u64(o, p->quota);
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
static int tq__permit_decode(const MDB_val *v, tq_permit *p)
{
    tq__rd r = tq__rd_of(v);
    p->status = tq__rd_u8(&r);
    p->valid_from = tq__i32(tq__rd_u32(&r));
    p->valid_to = tq__i32(tq__rd_u32(&r));
    p->quota = tq__rd_u64(&r);
    tq__rd_str(&r, p->agency, TQ_AGENCY_MAX);
    tq__rd_str(&r, p->holder, TQ_TAXID_MAX);
    p->nprefixes = tq__rd_u8(&r);
    if (r.bad || (p->status != TQ_PERMIT_VALID && p->status != TQ_PERMIT_REVOKED) ||
        p->nprefixes > TQ_PREFIXES_MAX)
        return TQ_ERR_CORRUPT;
    for (unsigned i = 0; i < p->nprefixes; i++)
        tq__rd_str(&r, p->prefixes[i], 8);
    return r.bad || r.p != r.end ? TQ_ERR_CORRUPT : TQ_OK;
}

int tq_store_put_permit(tq_txn *t, const tq_permit *p)
{
    uint8_t buf[TQ__PERMIT_ENC_MAX];
    size_t len;
    MDB_val k, v;
    int rc = tq__name_key(&k, p->permit_no);
    if (rc == TQ_OK)
        rc = tq__permit_encode(p, buf, &len);
    if (rc != TQ_OK)
        return rc;
    v.mv_data = buf;
    v.mv_size = len;
    /* Insert first: a load is mostly of new permits, and MDB_KEYEXIST tells a
     * replacement apart without a lookup of its own. */
    rc = tq__put(t, DB_PERMITS, &k, &v, MDB_NOOVERWRITE);
    if (rc != 1)
        return rc;
    v.mv_data = buf;            /* MDB_KEYEXIST pointed v at the stored value */
    v.mv_size = len;
    rc = tq__put(t, DB_PERMITS, &k, &v, 0);
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
    memset(out, 0, sizeof *out);
    memcpy(out->permit_no, no, k.mv_size);
    return tq__permit_decode(&v, out);
}

static int tq__used_decode(const MDB_val *v, uint64_t *used)
{
    if (v->mv_size != 8)
        return TQ_ERR_CORRUPT;
    *used = tq__get_u64(v->mv_data);
    return TQ_OK;
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
    return rc == TQ_OK ? tq__used_decode(&v, used) : rc;
}

int tq_store_put_used(tq_txn *t, const char *permit_no, uint64_t used)
{
    uint8_t buf[8];
    MDB_val k, v = {sizeof buf, buf};
    int rc = tq__name_key(&k, permit_no);
    if (rc != TQ_OK)
        return rc;
    tq__put_u64(buf, used);
    return tq__put(t, DB_USAGE, &k, &v, 0);
}

typedef struct tq__each_permit_arg {
    tq_txn *t;
    int (*fn)(void *ctx, const tq_permit *p, uint64_t used);
    void *ctx;
} tq__each_permit_arg;

static int tq__each_permit_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__each_permit_arg *a = arg;
    tq_permit p;
    MDB_val uk = *k, uv;
    uint64_t used = 0;
    memset(&p, 0, sizeof p);
    int rc = tq__key_str(k, p.permit_no, 1, TQ_PERMIT_MAX);
    if (rc == TQ_OK)
        rc = tq__permit_decode(v, &p);
    if (rc == TQ_OK) {
        rc = tq__get(a->t, DB_USAGE, &uk, &uv);
        if (rc == TQ_OK)
            rc = tq__used_decode(&uv, &used);
        else if (rc == TQ_ERR_NOTFOUND)
            rc = TQ_OK;
    }
    return rc != TQ_OK ? rc : a->fn(a->ctx, &p, used);
}

int tq_store_each_permit(tq_txn *t,
                         int (*fn)(void *ctx, const tq_permit *p, uint64_t used),
                         void *ctx)
{
    tq__each_permit_arg a = {t, fn, ctx};
    return tq__each(t, DB_PERMITS, tq__each_permit_visit, &a);
}

/* ---- journals ---- */

static int tq__mark_decode(const MDB_val *v, tq_journal_mark *m)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size != TQ__JOURNAL_LEN)
        return TQ_ERR_CORRUPT;
    m->last_seq = tq__get_u64(b);
    m->frames = tq__get_u64(b + 8);
    m->chain = tq__get_u64(b + 16);
    m->applied_at = tq__get_u64(b + 24);
    return TQ_OK;
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
    if (rc == TQ_OK)
        rc = tq__mark_decode(&v, &got);
    if (rc == TQ_OK) {
        memcpy(got.id, id, TQ_JOURNAL_ID_LEN);
        *m = got;
    }
    return rc;
}

int tq_store_put_journal(tq_txn *t, const tq_journal_mark *m)
{
    uint8_t buf[TQ__JOURNAL_LEN];
    MDB_val k = {TQ_JOURNAL_ID_LEN, (void *)m->id}, v = {sizeof buf, buf};
    tq__put_u64(buf, m->last_seq);
    tq__put_u64(buf + 8, m->frames);
    tq__put_u64(buf + 16, m->chain);
    tq__put_u64(buf + 24, m->applied_at);
    return tq__put(t, DB_JOURNALS, &k, &v, 0);
}

typedef struct tq__each_journal_arg {
    int (*fn)(void *ctx, const tq_journal_mark *m);
    void *ctx;
} tq__each_journal_arg;

static int tq__each_journal_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__each_journal_arg *a = arg;
    tq_journal_mark m;
    if (k->mv_size != TQ_JOURNAL_ID_LEN)
        return TQ_ERR_CORRUPT;
    memcpy(m.id, k->mv_data, TQ_JOURNAL_ID_LEN);
    int rc = tq__mark_decode(v, &m);
    return rc != TQ_OK ? rc : a->fn(a->ctx, &m);
}

int tq_store_each_journal(tq_txn *t, int (*fn)(void *ctx, const tq_journal_mark *m),
                          void *ctx)
{
    tq__each_journal_arg a = {fn, ctx};
    return tq__each(t, DB_JOURNALS, tq__each_journal_visit, &a);
}

/* ---- transactions ---- */

/* Another process grew the map past ours (MDB_MAP_RESIZED): map the size it committed.
 * The caller holds s->mu. */
static int tq__adopt_mapsize(tq_store *s)
{
    if (s->live != 0)
        return TQ_ERR_STORE;    /* remapping now would pull pages from under a reader */
    return tq__mdb(mdb_env_set_mapsize(s->env, 0));
}

int tq_txn_begin(tq_store *s, int rdonly, tq_txn **out)
{
    int err = TQ_OK;
    *out = NULL;
    if (!rdonly && s->rdonly)
        return TQ_ERR_STORE;
    tq_txn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return TQ_ERR_NOMEM;
    t->s = s;
    t->rdonly = rdonly != 0;
    for (int tries = 0;; tries++) {
        if (t->rdonly)
            pthread_mutex_lock(&s->mu);
        int rc = mdb_txn_begin(s->env, NULL, t->rdonly ? MDB_RDONLY : 0, &t->txn);
        if (!t->rdonly)
            pthread_mutex_lock(&s->mu);
        if (rc == MDB_SUCCESS) {
            s->live++;
            t->live = 1;
            pthread_mutex_unlock(&s->mu);
            *out = t;
            return TQ_OK;
        }
        err = rc == MDB_MAP_RESIZED && tries < TQ__RESIZE_TRIES ? tq__adopt_mapsize(s)
                                                                : tq__mdb(rc);
        pthread_mutex_unlock(&s->mu);
        if (err != TQ_OK)
            break;
    }
    free(t);
    return err;
}

static void tq__txn_free(tq_txn *t)
{
    if (t->live) {
        pthread_mutex_lock(&t->s->mu);
        t->s->live--;
        pthread_mutex_unlock(&t->s->mu);
    }
    free(t->scratch);
    free(t);
}

/* tq__disk_full() - whether the filesystem of the data file is (nearly) out of space.
 * LMDB reports a short write as EIO ("short write, filesystem full?"), and a full disk
 * gives exactly that: write() stores what fits and returns the count.  So an EIO at
 * commit on a filesystem with less free space than one commit's write (64 pages, the
 * most LMDB writes at once) is a full disk, which the operator fixes by freeing space,
 * not by checking the hardware. */
static int tq__disk_full(tq_store *s)
{
    int fd;
    struct statvfs sv;
    if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstatvfs(fd, &sv) != 0)
        return 0;
    uint64_t blocks = geteuid() == 0 ? (uint64_t)sv.f_bfree : (uint64_t)sv.f_bavail;
    long page = sysconf(_SC_PAGESIZE);
    return blocks * (uint64_t)sv.f_frsize < 64u * (uint64_t)(page > 0 ? page : 4096);
}

int tq_txn_commit(tq_txn *t)
{
    int rc;
    if (t == NULL)
        return TQ_ERR_STORE;
    if (t->rdonly || t->failed != TQ_OK) {
        /* A reader has nothing to write (its DBI handles were opened at store open),
         * and a write transaction with a failed put is dead. */
        mdb_txn_abort(t->txn);
        rc = t->failed;
    } else {
        int mrc = mdb_txn_commit(t->txn);       /* frees the LMDB txn, even on error */
        rc = tq__mdb(mrc);
        if (mrc == EIO && tq__disk_full(t->s))
            rc = TQ_ERR_FULL;
    }
    tq__txn_free(t);
    return rc;
}

void tq_txn_abort(tq_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    tq__txn_free(t);
}

void tq_txn_reset(tq_txn *t)
{
    if (t == NULL || !t->rdonly || !t->live)
        return;
    mdb_txn_reset(t->txn);
    pthread_mutex_lock(&t->s->mu);
    t->s->live--;
    pthread_mutex_unlock(&t->s->mu);
    t->live = 0;
}

int tq_txn_renew(tq_txn *t)
{
    int err;
    if (!t->rdonly)
        return TQ_ERR_STORE;
    if (t->live)
        return TQ_OK;
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&t->s->mu);
        int rc = mdb_txn_renew(t->txn);
        if (rc == MDB_SUCCESS) {
            t->s->live++;
            t->live = 1;
            pthread_mutex_unlock(&t->s->mu);
            return TQ_OK;
        }
        err = rc == MDB_MAP_RESIZED && tries < TQ__RESIZE_TRIES ? tq__adopt_mapsize(t->s)
                                                                : tq__mdb(rc);
        pthread_mutex_unlock(&t->s->mu);
        if (err != TQ_OK)
            return err;
    }
}

/* ---- the writer lock ---- */

static void tq__holder_parse(const char *text, tq_store_holder *h)
{
    memset(h, 0, sizeof *h);
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (n > 4 && memcmp(text, "pid=", 4) == 0) {
            long pid = 0;
            for (size_t i = 4; i < n && text[i] >= '0' && text[i] <= '9'; i++) {
                if (pid > (LONG_MAX - 9) / 10)
                    break;
                pid = pid * 10 + (text[i] - '0');
            }
            h->pid = pid;
        } else if (n >= 8 && memcmp(text, "command=", 8) == 0) {
            size_t m = n - 8 < sizeof h->command ? n - 8 : sizeof h->command - 1;
            memcpy(h->command, text + 8, m);
            h->command[m] = '\0';
        } else if (n >= 8 && memcmp(text, "started=", 8) == 0) {
            size_t m = n - 8 < sizeof h->started ? n - 8 : sizeof h->started - 1;
            memcpy(h->started, text + 8, m);
            h->started[m] = '\0';
        }
        text += n + (nl != NULL);
    }
}

/* The holder writes its text right after taking the lock; a refused writer that looks
 * in between sees an empty file, so it looks again for a little while. */
static void tq__holder_read(int fd, tq_store_holder *h)
{
    char text[512];
    for (int tries = 0; tries < 20; tries++) {
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = '\0';
        tq__holder_parse(text, h);
        if (h->pid != 0)
            return;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int tq__holder_write(int fd, const char *command)
{
    char cmd[sizeof ((tq_store_holder *)0)->command];
    char started[32];
    char text[256];
    size_t i = 0;
    /* One line per field: a newline in the command must not forge another field. */
    for (; command != NULL && command[i] != '\0' && i < sizeof cmd - 1; i++) {
        unsigned char c = (unsigned char)command[i];
        cmd[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    cmd[i] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        started[0] = '\0';
    int n = snprintf(text, sizeof text, "pid=%ld\ncommand=%s\nstarted=%s\n", (long)getpid(),
                     cmd, started);
    if (n < 0 || (size_t)n >= sizeof text)
        return TQ_ERR_STORE;    /* cannot happen: the fields are bounded above */
    if (ftruncate(fd, 0) != 0)
        return tq__errno(errno);
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = pwrite(fd, text + off, (size_t)n - off, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return tq__errno(errno);
        }
        off += (size_t)w;
    }
    return TQ_OK;
}

static int tq__lock(tq_store *s, const char *path, const char *command, tq_store_holder *busy)
{
    int rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return tq__errno(errno);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK) {
            tq_store_holder h;
            tq__holder_read(fd, &h);
            if (busy != NULL)
                *busy = h;
            rc = TQ_ERR_BUSY;
        } else {
            rc = tq__errno(errno);
        }
        close(fd);
        return rc;
    }
    rc = tq__holder_write(fd, command);
    if (rc != TQ_OK) {
        close(fd);              /* also drops the lock */
        return rc;
    }
    s->lock_fd = fd;
    return TQ_OK;
}

static void tq__unlock(tq_store *s)
{
    if (s->lock_fd < 0)
        return;
    /* Still holding the lock, so nobody reads a half-emptied file as a holder. */
    if (ftruncate(s->lock_fd, 0) != 0) {
        /* the text is stale but harmless: the next writer overwrites it */
    }
    close(s->lock_fd);
    s->lock_fd = -1;
}

/* ---- open / close ---- */

/* mkdir -p: every missing component of dir, mode 0755. */
static int tq__mkdirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return TQ_ERR_INPUT;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return tq__errno(errno);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return tq__errno(errno);
    return TQ_OK;
}

static int tq__create_dbs(tq_store *s, MDB_txn *txn)
{
    uint8_t version[4], created[8];
    MDB_val k, v;
    int rc = MDB_SUCCESS;
    for (int i = 0; i < DB_COUNT && rc == MDB_SUCCESS; i++)
        rc = mdb_dbi_open(txn, tq__db_name[i], MDB_CREATE, &s->dbi[i]);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    tq__put_u32(version, TQ_STORE_VERSION);
    k.mv_data = "version";
    k.mv_size = 7;
    v.mv_data = version;
    v.mv_size = sizeof version;
    rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    tq__put_u64(created, (uint64_t)time(NULL));
    k.mv_data = "created";
    k.mv_size = 7;
    v.mv_data = created;
    v.mv_size = sizeof created;
    return tq__mdb(mdb_put(txn, s->dbi[DB_META], &k, &v, 0));
}

/* Opens the named databases (creating them in a new environment) and checks the format
 * version.  The transaction is committed even when read-only: that is what makes LMDB
 * keep the DBI handles for later transactions. */
static int tq__open_dbs(tq_store *s)
{
    MDB_txn *txn;
    MDB_dbi main_dbi;
    MDB_stat st;
    MDB_val k = {7, "version"}, v;
    int err;
    int rc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &txn);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    rc = mdb_dbi_open(txn, tq__db_name[DB_META], 0, &s->dbi[DB_META]);
    if (rc == MDB_NOTFOUND) {
        /* No meta: a new environment, or an LMDB file that is not ours. */
        rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
        if (rc == MDB_SUCCESS)
            rc = mdb_stat(txn, main_dbi, &st);
        if (rc != MDB_SUCCESS) {
            err = tq__mdb(rc);
            goto fail;
        }
        if (st.ms_entries != 0) {
            err = TQ_ERR_VERSION;
            goto fail;
        }
        if (s->rdonly) {
            err = TQ_ERR_NOTFOUND;      /* a writer created the file, committed nothing */
            goto fail;
        }
        err = tq__create_dbs(s, txn);
        if (err != TQ_OK)
            goto fail;
    } else if (rc != MDB_SUCCESS) {
        err = tq__mdb(rc);
        goto fail;
    } else {
        rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
            err = tq__mdb(rc);
            goto fail;
        }
        if (rc == MDB_NOTFOUND || v.mv_size != 4 || tq__get_u32(v.mv_data) != TQ_STORE_VERSION) {
            err = TQ_ERR_VERSION;
            goto fail;
        }
        for (int i = DB_META + 1; i < DB_COUNT; i++) {
            rc = mdb_dbi_open(txn, tq__db_name[i], 0, &s->dbi[i]);
            if (rc != MDB_SUCCESS) {
                err = rc == MDB_NOTFOUND ? TQ_ERR_CORRUPT : tq__mdb(rc);
                goto fail;
            }
        }
    }
    return tq__mdb(mdb_txn_commit(txn));

fail:
    mdb_txn_abort(txn);
    return err;
}

int tq_store_open(const char *dir, unsigned flags, const tq_store_opts *opts,
                  tq_store **out, tq_store_holder *busy)
{
    char data_path[PATH_MAX], lock_path[PATH_MAX];
    struct stat sb;
    MDB_envinfo info;
    uint64_t want = opts && opts->map_size ? opts->map_size : TQ_STORE_MAP_DEFAULT;
    int writer = (flags & TQ_STORE_WRITE) != 0;
    int err, rc, exists;
    tq_store *s;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return TQ_ERR_INPUT;
    if ((size_t)snprintf(data_path, sizeof data_path, "%s/data.mdb", dir) >= sizeof data_path ||
        (size_t)snprintf(lock_path, sizeof lock_path, "%s/lock", dir) >= sizeof lock_path)
        return TQ_ERR_INPUT;
    if (want > SIZE_MAX)
        return TQ_ERR_INPUT;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return TQ_ERR_NOMEM;
    s->lock_fd = -1;
    s->rdonly = !writer;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return TQ_ERR_NOMEM;
    }

    if (writer) {
        err = tq__mkdirs(dir);
        if (err != TQ_OK)
            goto fail_mutex;
        err = tq__lock(s, lock_path, opts ? opts->command : NULL, busy);
        if (err != TQ_OK)
            goto fail_mutex;
    }
    exists = stat(data_path, &sb) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR) {
        err = tq__errno(errno);
        goto fail_lock;
    }
    if (!exists && !writer) {
        err = TQ_ERR_NOTFOUND;
        goto fail_lock;
    }

    rc = mdb_env_create(&s->env);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_maxdbs(s->env, TQ__MAXDBS);
    /* A new environment starts at the size asked for.  An existing one opens at the
     * size its last writer committed (LMDB's default when none is set), which may
     * exceed what we ask; setting ours before the open would shrink it instead. */
    if (rc == MDB_SUCCESS && !exists)
        rc = mdb_env_set_mapsize(s->env, (size_t)want);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_open(s->env, dir,
                          MDB_NOTLS | (writer ? 0 : MDB_RDONLY) |
                              (flags & TQ_STORE_NOSYNC ? MDB_NOSYNC : 0),
                          0644);
    if (rc == MDB_SUCCESS && writer && exists) {
        rc = mdb_env_info(s->env, &info);
        if (rc == MDB_SUCCESS && info.me_mapsize < want)
            rc = mdb_env_set_mapsize(s->env, (size_t)want);
    }
    if (rc == MDB_SUCCESS && writer) {
        int dead;
        /* Reader slots of killed readers pin old pages and make the file grow. */
        rc = mdb_reader_check(s->env, &dead);
    }
    if (rc != MDB_SUCCESS) {
        err = tq__mdb(rc);
        goto fail_env;
    }
    err = tq__open_dbs(s);
    /* A new database whose initial map cannot hold even the layout grows, as any
     * other write transaction would (map_size is a hint, not a limit). */
    for (int tries = 0; err == TQ_ERR_MAPFULL && writer && tries < 32; tries++) {
        rc = mdb_env_info(s->env, &info);
        if (rc == MDB_SUCCESS)
            rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
        err = rc == MDB_SUCCESS ? tq__open_dbs(s) : tq__mdb(rc);
    }
    if (err != TQ_OK)
        goto fail_env;
    *out = s;
    return TQ_OK;

fail_env:
    mdb_env_close(s->env);      /* also required after a failed mdb_env_open */
fail_lock:
    tq__unlock(s);
fail_mutex:
    pthread_mutex_destroy(&s->mu);
    free(s);
    return err;
}

void tq_store_close(tq_store *s)
{
    if (s == NULL)
        return;
    mdb_env_close(s->env);
    tq__unlock(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int tq_store_grow(tq_store *s)
{
    MDB_envinfo info;
    size_t cur;
    int err = TQ_ERR_STORE;
    pthread_mutex_lock(&s->mu);
    if (s->live != 0)
        goto out;
    mdb_env_info(s->env, &info);
    cur = info.me_mapsize;
    /* Adopt what another process may have committed, then double the larger size. */
    err = tq__mdb(mdb_env_set_mapsize(s->env, 0));
    if (err != TQ_OK)
        goto out;
    mdb_env_info(s->env, &info);
    if (info.me_mapsize > cur)
        cur = info.me_mapsize;
    if (cur > SIZE_MAX / 2) {
        err = TQ_ERR_FULL;
        goto out;
    }
    err = tq__mdb(mdb_env_set_mapsize(s->env, cur * 2));
out:
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* ---- stat ---- */

int tq_store_stat(tq_store *s, tq_store_info *out)
{
    static const int counted[] = {DB_RECEIPTS, DB_COVER, DB_PERMITS, DB_DECLS, DB_JOURNALS};
    uint64_t *const dest[] = {&out->receipts, &out->covers, &out->permits, &out->decls,
                              &out->journals};
    MDB_envinfo info;
    MDB_stat st;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    tq_txn *t;
    int rc;

    memset(out, 0, sizeof *out);
    int err = tq_txn_begin(s, 1, &t);
    if (err != TQ_OK)
        return err;
    rc = mdb_env_info(s->env, &info);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_stat(s->env, &st);
    if (rc != MDB_SUCCESS)
        goto done;
    out->map_size = info.me_mapsize;
    out->map_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++) {
        rc = mdb_stat(t->txn, s->dbi[counted[i]], &st);
        if (rc != MDB_SUCCESS)
            goto done;
        *dest[i] = st.ms_entries;
    }
    /* The state is the first byte of a declaration's value. */
    rc = mdb_cursor_open(t->txn, s->dbi[DB_DECLS], &c);
    if (rc != MDB_SUCCESS)
        goto done;
    for (MDB_cursor_op op = MDB_FIRST;; op = MDB_NEXT) {
        rc = mdb_cursor_get(c, &k, &v, op);
        if (rc != MDB_SUCCESS)
            break;
        uint8_t state = v.mv_size ? *(const uint8_t *)v.mv_data : 0xff;
        if (state > TQ_STATE_CANCELLED) {
            err = TQ_ERR_CORRUPT;
            goto done;
        }
        out->by_state[state]++;
    }
    if (rc == MDB_NOTFOUND)
        rc = MDB_SUCCESS;
done:
    if (c != NULL)
        mdb_cursor_close(c);
    tq_txn_abort(t);
    return err != TQ_OK ? err : tq__mdb(rc);
}
