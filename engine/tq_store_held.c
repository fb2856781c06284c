/* tq_store_held.c - the held table of store format 4 (STORE.md §3.11).
 *
 * DESIGN.  Listing one office's held declarations through by_office costs two cold
 * B-tree lookups a row (decls, cover: STORE.md §3.10), rows being 1 in ~100 of a large
 * database.  held keeps, for each HELD declaration only, a row under office (4 bytes,
 * zeros for none) + decl_no whose value is
 *
 *     u16 n (little-endian) | the declaration's stored value (n bytes, unsealed)
 *                           | its stored cover value (unsealed; empty: no cover)
 *
 * sealed like every value (the seal covers key and value, seeded by the table id), so
 * one office's rows are consecutive and read in decl_no order with nothing else looked
 * up.  A row is a copy: the declaration and its cover stay the truth.  It is kept in the
 * same transaction as what it copies -- by tq__held_move() in every put of a declaration
 * that was or becomes HELD, and by tq__held_cover_changed() in every payment whose
 * declaration is HELD -- and tq_store_held_verify() compares every row with what it
 * copies, both ways.  A row whose key or seal is wrong, or whose declaration is not HELD
 * of that office, stops a list with TQ_ERR_DBCORRUPT; it is never shown.
 */
#include "tq_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TQ__HELD_STACK 4096     /* rows built on the stack; longer ones (many
                                 * guarantees) on the heap */
#define TQ__COVER_HEAD 20       /* a format 2+ cover: u128 PAY sum, u32 count */
#define TQ__COVER_ENTRY 20      /* i32 day, u128 amount */

static int tq__office_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

const char *tq__held_key_bad(const unsigned char *b, size_t n)
{
    if (n != TQ__HELD_KEY)
        return "key is not an office (4 bytes) and a decl_no (12 digits)";
    if (memcmp(b, "\0\0\0\0", 4) != 0)
        for (int i = 0; i < 4; i++)
            if (!tq__office_char(b[i]))
                return "key's office is not 4 of [0-9A-Z]";
    MDB_val dk = {TQ_DECL_NO_LEN, (void *)(b + 4)};
    return tq__key_bad(DB_DECLS, &dk);
}

static const char *tq__held_cover_bad(const uint8_t *c, size_t n)
{
    if (n == 0)
        return NULL;
    if (n < TQ__COVER_HEAD || (n - TQ__COVER_HEAD) % TQ__COVER_ENTRY != 0 ||
        tq_le_get32(c + 16) != (n - TQ__COVER_HEAD) / TQ__COVER_ENTRY)
        return "row's cover is not a header and its guarantees";
    for (size_t i = 1; i < (n - TQ__COVER_HEAD) / TQ__COVER_ENTRY; i++)
        if (tq__i32(tq_le_get32(c + TQ__COVER_HEAD + (i - 1) * TQ__COVER_ENTRY)) >=
            tq__i32(tq_le_get32(c + TQ__COVER_HEAD + i * TQ__COVER_ENTRY)))
            return "row's cover days do not strictly ascend";
    return NULL;
}

/* Splits an unsealed row into the declaration's value and the cover's. */
static const char *tq__held_split(const MDB_val *v, MDB_val *dv, MDB_val *cv)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < 2)
        return "row shorter than its length field";
    size_t n = (size_t)b[0] | (size_t)b[1] << 8;
    if (n == 0 || n > v->mv_size - 2)
        return "row's declaration length is out of range";
    dv->mv_size = n;
    dv->mv_data = (void *)(b + 2);
    cv->mv_size = v->mv_size - 2 - n;
    cv->mv_data = (void *)(b + 2 + n);
    return tq__held_cover_bad(cv->mv_data, cv->mv_size);
}

const char *tq__held_value_bad(const MDB_val *v)
{
    MDB_val dv, cv;
    tq__dkeys dk;
    const char *bad = tq__held_split(v, &dv, &cv);
    if (bad == NULL)
        bad = tq__decl_keys(&dv, &dk);
    if (bad == NULL && (!dk.v3 || dk.office_key[4] != TQ_STATE_HELD))
        bad = "row's declaration is not a HELD declaration of format 3";
    return bad;
}

/* ---- upkeep ---- */

static void tq__held_key(uint8_t key[TQ__HELD_KEY], const uint8_t office[4], const MDB_val *dk)
{
    memcpy(key, office, 4);
    memcpy(key + 4, dk->mv_data, TQ_DECL_NO_LEN);
}

/* Writes the row of dk under office: (dv, dn) and (cv, cn) are copied into a buffer of
 * our own first (either may point into the map, which the put may change). */
static int tq__held_put(tq_txn *t, const uint8_t office[4], const MDB_val *dk,
                        const void *dv, size_t dn, const void *cv, size_t cn, unsigned flags)
{
    uint8_t stack[TQ__HELD_STACK], key[TQ__HELD_KEY];
    size_t len = 2 + dn + cn;
    if (dn == 0 || dn > 0xffff)
        return TQ_ERR_INPUT;
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (buf == NULL)
        return TQ_ERR_NOMEM;
    buf[0] = (uint8_t)dn;
    buf[1] = (uint8_t)(dn >> 8);
    memcpy(buf + 2, dv, dn);
    if (cn)
        memcpy(buf + 2 + dn, cv, cn);
    tq__held_key(key, office, dk);
    MDB_val k = {TQ__HELD_KEY, key};
    int rc = tq__put(t, DB_HELD, &k, buf, len, flags);
    if (rc == 1)                /* MDB_APPEND: a row above it exists; put it in place */
        rc = tq__put(t, DB_HELD, &k, buf, len, 0);
    if (buf != stack)
        free(buf);
    return rc;
}

/* The row of dk from its declaration value (dv, dn) and its stored cover. */
static int tq__held_put_decl(tq_txn *t, const uint8_t office[4], const MDB_val *dk,
                             const void *dv, size_t dn, unsigned flags)
{
    MDB_val ck = *dk, cv = {0, NULL};
    int rc = tq__get(t, DB_COVER, &ck, &cv);
    if (rc == TQ_ERR_NOTFOUND) {
        cv.mv_size = 0;
        rc = TQ_OK;
    }
    return rc == TQ_OK ? tq__held_put(t, office, dk, dv, dn, cv.mv_data, cv.mv_size, flags)
                       : rc;
}

static int tq__held_del(tq_txn *t, const uint8_t office[4], const MDB_val *dk)
{
    uint8_t key[TQ__HELD_KEY];
    tq__held_key(key, office, dk);
    MDB_val k = {TQ__HELD_KEY, key};
    int rc = tq__del(t, DB_HELD, &k);
    return rc == TQ_ERR_NOTFOUND ? TQ_OK : rc;  /* gone either way; check reports lost rows */
}

int tq__held_move(tq_txn *t, const MDB_val *k, const tq__dkeys *o, const tq__dkeys *n,
                  const MDB_val *nv)
{
    int was = o && o->office_key[4] == TQ_STATE_HELD;
    int is = n->office_key[4] == TQ_STATE_HELD;
    int rc = TQ_OK;
    if (was && (!is || memcmp(o->office_key, n->office_key, 4) != 0))
        rc = tq__held_del(t, o->office_key, k);
    if (rc == TQ_OK && is)
        rc = tq__held_put_decl(t, n->office_key, k, nv->mv_data, nv->mv_size, 0);
    return rc;
}

int tq__held_cover_changed(tq_txn *t, const MDB_val *k, const uint8_t *cover, size_t n)
{
    if (!t->s->has_held)
        return TQ_OK;
    MDB_val dk = *k, dv;
    tq__dkeys keys;
    int rc = tq__get(t, DB_DECLS, &dk, &dv);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;           /* a payment before its declaration */
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__decl_keys(&dv, &keys);
    if (bad)
        return tq__fault(t, DB_DECLS, &dk, "%s", bad);
    if (!keys.v3 || keys.office_key[4] != TQ_STATE_HELD)
        return TQ_OK;
    return tq__held_put(t, keys.office_key, &dk, dv.mv_data, dv.mv_size, cover, n, 0);
}

/* ---- the upgrade 3 -> 4 ---- */

/* Where the build goes on, batch after batch: after the last row of held, or at the
 * first key.  (A rerun after a kill starts with held emptied: tq_store_upgrade.c.) */
static int tq__held_resume(tq_txn *t, uint8_t last[TQ__HELD_KEY], int *have)
{
    MDB_val k, v;
    int rc = tq__last(t, DB_HELD, &k, &v);
    *have = rc == TQ_OK;
    if (rc != TQ_OK)
        return rc == TQ_ERR_NOTFOUND ? TQ_OK : rc;
    const char *bad = tq__held_key_bad(k.mv_data, k.mv_size);
    if (bad)
        return tq__fault(t, DB_HELD, &k, "%s", bad);
    memcpy(last, k.mv_data, TQ__HELD_KEY);
    return TQ_OK;
}

/* The row of the declaration an entry of by_office (key ok, HELD) names. */
static int tq__held_build_one(tq_txn *t, const MDB_val *ok, const MDB_val *entry)
{
    MDB_val dk = *entry, dv;
    tq__dkeys keys;
    const char *bad = tq__index_entry_bad(entry);
    if (bad)
        return tq__fault(t, DB_BY_OFFICE, ok, "%s", bad);
    int rc = tq__get(t, DB_DECLS, &dk, &dv);
    if (rc == TQ_ERR_NOTFOUND)
        return tq__fault(t, DB_BY_OFFICE, ok, "entry names declaration '%.12s', which does "
                         "not exist", (const char *)entry->mv_data);
    if (rc != TQ_OK)
        return rc;
    bad = tq__decl_keys(&dv, &keys);
    if (bad)
        return tq__fault(t, DB_DECLS, &dk, "%s", bad);
    if (memcmp(keys.office_key, ok->mv_data, TQ__OFFICE_KEY) != 0)
        return tq__fault(t, DB_BY_OFFICE, ok, "entry names declaration '%.12s', which does "
                         "not have this key", (const char *)entry->mv_data);
    return tq__held_put_decl(t, keys.office_key, &dk, dv.mv_data, dv.mv_size, MDB_APPEND);
}

int tq__held_build(tq_txn *t, uint64_t max, uint64_t *n)
{
    uint8_t last[TQ__HELD_KEY], kb[TQ__OFFICE_KEY] = {0, 0, 0, 0, TQ_STATE_HELD};
    MDB_cursor *c;
    MDB_val k = {TQ__OFFICE_KEY, kb}, v;
    int have = 0;
    *n = 0;
    int rc = tq__held_resume(t, last, &have);
    if (rc == TQ_OK)
        rc = tq__mdb(mdb_cursor_open(t->txn, t->s->dbi[DB_BY_OFFICE], &c));
    if (rc != TQ_OK)
        return rc;
    if (have)
        memcpy(kb, last, 4);
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_SUCCESS && have && k.mv_size == TQ__OFFICE_KEY &&
        memcmp(k.mv_data, kb, TQ__OFFICE_KEY) == 0) {
        /* the first entry above the last row built */
        MDB_val e = {TQ_DECL_NO_LEN, last + 4};
        mrc = mdb_cursor_get(c, &k, &e, MDB_GET_BOTH_RANGE);
        v = e;
        if (mrc == MDB_SUCCESS && memcmp(v.mv_data, last + 4, TQ_DECL_NO_LEN) == 0)
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    while (rc == TQ_OK && *n < max && mrc == MDB_SUCCESS) {
        const char *bad = tq__key_bad(DB_BY_OFFICE, &k);
        if (bad) {
            rc = tq__fault(t, DB_BY_OFFICE, &k, "%s", bad);
            break;
        }
        int held = ((const uint8_t *)k.mv_data)[4] == TQ_STATE_HELD;
        if (held) {
            rc = tq__held_build_one(t, &k, &v);
            (*n)++;
        }
        if (rc == TQ_OK)        /* the entries of other states are skipped a key at a time */
            mrc = mdb_cursor_get(c, &k, &v, held ? MDB_NEXT : MDB_NEXT_NODUP);
    }
    mdb_cursor_close(c);
    if (rc == TQ_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = tq__mdb(mrc);
    return rc;
}

/* ---- the walk ---- */

typedef struct tq__hw {
    tq_decl d;
    tq_guarantee *guar;
    size_t guar_cap;
    tq_txn *t;
    int (*fn)(void *ctx, const tq_decl *d, const tq_cover *cover);
    void *ctx;
} tq__hw;

/* The cover of an unsealed row's cover part (checked by tq__held_split). */
static int tq__held_cover(tq__hw *w, const MDB_val *cv, tq_cover *cover)
{
    const uint8_t *b = cv->mv_data;
    uint32_t n = cv->mv_size ? tq_le_get32(b + 16) : 0;
    cover->pay_total = 0;
    cover->nguar = 0;
    cover->guar = w->guar;
    if (cv->mv_size == 0)
        return TQ_OK;
    if (n > w->guar_cap) {
        tq_guarantee *g = realloc(w->guar, (size_t)n * sizeof *g);
        if (g == NULL)
            return TQ_ERR_NOMEM;
        w->guar = g;
        w->guar_cap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = b + TQ__COVER_HEAD + (size_t)i * TQ__COVER_ENTRY;
        w->guar[i].valid_until = tq__i32(tq_le_get32(e));
        w->guar[i].amount = (tq_u128)tq_le_get64(e + 4) | (tq_u128)tq_le_get64(e + 12) << 64;
    }
    cover->pay_total = (tq_u128)tq_le_get64(b) | (tq_u128)tq_le_get64(b + 8) << 64;
    cover->nguar = n;
    cover->guar = w->guar;
    return TQ_OK;
}

/* One row (key and seal checked by the walk): the declaration (HELD, of the key's
 * office), then fn. */
static int tq__held_row(void *arg, const MDB_val *k, const MDB_val *v)
{
    tq__hw *w = arg;
    MDB_val dv, cv;
    tq_cover cover;
    const uint8_t *key = k->mv_data;
    const char *bad = tq__held_split(v, &dv, &cv);
    MDB_val dk = {TQ_DECL_NO_LEN, (void *)(key + 4)};
    if (bad == NULL)
        bad = tq__decl_decode_v(&dk, &dv, &w->d);
    if (bad == NULL && (w->d.state != TQ_STATE_HELD ||
                        strncmp(w->d.office, (const char *)key, 4) != 0))
        bad = "row's declaration is not HELD of this office";
    if (bad)
        return tq__fault(w->t, DB_HELD, k, "%s", bad);
    int rc = tq__held_cover(w, &cv, &cover);
    return rc == TQ_OK ? w->fn(w->ctx, &w->d, &cover) : rc;
}

int tq_store_each_held(tq_txn *t, const char *office,
                       int (*fn)(void *ctx, const tq_decl *d, const tq_cover *cover),
                       void *ctx)
{
    uint8_t pre[4] = {0, 0, 0, 0};
    size_t on = strnlen(office, 5);
    if (!t->s->has_held)
        return TQ_ERR_VERSION;
    if (on != 0 && on != 4)
        return TQ_ERR_INPUT;
    for (size_t i = 0; i < on; i++)
        if (!tq__office_char((unsigned char)office[i]))
            return TQ_ERR_INPUT;
    memcpy(pre, office, on);
    tq__hw *w = calloc(1, sizeof *w);       /* a tq_decl is too big for some stacks */
    MDB_val from = {4, pre};
    if (w == NULL)
        return TQ_ERR_NOMEM;
    w->t = t;
    w->fn = fn;
    w->ctx = ctx;
    int rc = tq__each(t, DB_HELD, &from, 4, tq__held_row, w);
    free(w->guar);
    free(w);
    return rc;
}

/* ---- verify ---- */

typedef struct tq__hv {
    tq_txn *t;
    void (*on_bad)(void *ctx, const tq_diag *d);
    void *ctx;
    uint64_t bad;
    uint64_t rows;
} tq__hv;

static void tq__hv_report(tq__hv *h, int db, const MDB_val *k, const char *what)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    snprintf(d.field, sizeof d.field, "(database)");
    tq__describe(db, k->mv_data, k->mv_size, what, d.why, sizeof d.why);
    h->bad++;
    if (h->on_bad)
        h->on_bad(h->ctx, &d);
}

static int tq__val_eq(const MDB_val *a, const MDB_val *b)
{
    return a->mv_size == b->mv_size && (a->mv_size == 0 ||
                                        memcmp(a->mv_data, b->mv_data, a->mv_size) == 0);
}

/* What is wrong with one row (k, v sealed), NULL when it copies its declaration and
 * cover exactly. */
static const char *tq__hv_row(tq__hv *h, MDB_val *k, MDB_val *v)
{
    MDB_val dv, cv, sv, scv = {0, NULL};
    const char *bad = tq__unseal(h->t->s, DB_HELD, k, v);
    if (bad == NULL)
        bad = tq__held_value_bad(v);
    if (bad)
        return bad;
    (void)tq__held_split(v, &dv, &cv);
    MDB_val dk = {TQ_DECL_NO_LEN, (uint8_t *)k->mv_data + 4};
    int rc = mdb_get(h->t->txn, h->t->s->dbi[DB_DECLS], &dk, &sv);
    if (rc == MDB_NOTFOUND)
        return "row names a declaration that does not exist";
    if (rc != MDB_SUCCESS || tq__unseal(h->t->s, DB_DECLS, &dk, &sv) != NULL)
        return NULL;    /* a damaged declaration: the walk of decls reports it */
    if (!tq__val_eq(&dv, &sv))
        return "row's declaration differs from the stored declaration";
    tq__dkeys keys;
    if (tq__decl_keys(&sv, &keys) == NULL && memcmp(keys.office_key, k->mv_data, 4) != 0)
        return "row is not under its declaration's office";
    rc = mdb_get(h->t->txn, h->t->s->dbi[DB_COVER], &dk, &scv);
    if (rc == MDB_SUCCESS && tq__unseal(h->t->s, DB_COVER, &dk, &scv) != NULL)
        return NULL;    /* a damaged cover: the walk of cover reports it */
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return "the declaration's cover cannot be read";
    if (rc == MDB_NOTFOUND)
        scv.mv_size = 0;
    return tq__val_eq(&cv, &scv) ? NULL : "row's cover differs from the stored cover";
}

/* Every row of held: a copy of its declaration and cover. */
static int tq__hv_held(void *arg, MDB_val *k, MDB_val *v)
{
    tq__hv *h = arg;
    const char *bad = tq__hv_row(h, k, v);
    h->rows++;
    if (bad)
        tq__hv_report(h, DB_HELD, k, bad);
    return 0;
}

/* Every HELD declaration: its row in held. */
static int tq__hv_decl(void *arg, MDB_val *k, MDB_val *v)
{
    tq__hv *h = arg;
    tq__dkeys keys;
    if (tq__unseal(h->t->s, DB_DECLS, k, v) != NULL || tq__decl_keys(v, &keys) != NULL ||
        !keys.v3 || keys.office_key[4] != TQ_STATE_HELD)
        return 0;   /* not held (or damaged: the walk of decls reports it) */
    uint8_t hk[TQ__HELD_KEY];
    MDB_val key = {TQ__HELD_KEY, hk}, hv;
    tq__held_key(hk, keys.office_key, k);
    if (mdb_get(h->t->txn, h->t->s->dbi[DB_HELD], &key, &hv) != MDB_SUCCESS)
        tq__hv_report(h, DB_DECLS, k, "HELD declaration without its row in held");
    return 0;
}

/* A walk of the check: a damaged tree is tq_store_verify()'s to report. */
static int tq__hv_walk(tq__hv *h, int db, tq__scan_fn visit)
{
    int lmdb;
    int rc = tq__scan(h->t, db, NULL, 0, visit, h, &lmdb);
    return rc == TQ_ERR_DBCORRUPT && lmdb != 0 ? TQ_OK : rc;
}

int tq_store_held_verify(tq_txn *t, void (*on_bad)(void *ctx, const tq_diag *d), void *ctx,
                         uint64_t *rows)
{
    tq__hv h = {t, on_bad, ctx, 0, 0};
    int rc = TQ_OK;
    if (t->s->has_held)
        rc = tq__hv_walk(&h, DB_HELD, tq__hv_held);
    if (rc == TQ_OK && t->s->has_held)
        rc = tq__hv_walk(&h, DB_DECLS, tq__hv_decl);
    if (rows)
        *rows = h.rows;
    return rc != TQ_OK ? rc : h.bad ? TQ_ERR_DBCORRUPT : TQ_OK;
}
