/* tq_store_index.c - the secondary indexes (STORE.md §3.10): by_office, era_taxid and
 * era_permit (by_taxid and by_permit before format 5), each key -> the decl_no of
 * every declaration that has it.
 *
 * DESIGN.  The indexes are LMDB DUPSORT|DUPFIXED tables: one key, and under it a sorted
 * set of 12-byte decl_no values, so one office's declarations in one state are a run
 * of consecutive 12-byte entries read in decl_no order, and counting them is
 * mdb_cursor_count() (no declaration read).  An entry carries no seal of its own: it is
 * a pointer, and nothing is ever believed from it but "look at this declaration".
 * The walks read the declaration it names through the sealed decls table and check
 * that it has the indexed key (office and state, declarant, or a line naming the
 * permit); a pointer to nothing or to a declaration without that key is
 * TQ_ERR_DBCORRUPT naming the index table and key.  So index damage can hide a
 * declaration from a list (an entry lost: tq_store_verify() counts the entries every
 * declaration implies and finds it) but never show a wrong one.
 *
 * Upkeep.  tq__index_move() runs in every put of a declaration, before the value is
 * written: it walks the old value (which the put must read anyway to know what it
 * replaces) and the new one for their keys and moves only the entries that differ --
 * usually the office entry, when the state changed.  The moves wait in a queue and are
 * applied grouped by key (tq__index_sync()); a new declaration (MDB_APPEND: nothing to
 * read) costs one queued put per index key, and a key's run of them is one LMDB put.
 * What the queue costs beside LMDB's own work is kept small: a window's distinct keys
 * (~20,000 of 65,536 changes on the 1m replay) are radix-sorted on packed words, not
 * compared by memcmp through pointers; a key's changes are sorted by decl_no only when
 * they do not already ascend (new declarations arrive ascending); the grouping's arrays
 * live for the transaction; and an office change of a new declaration is found again
 * by binary search over the appends, not by a hash table probed for every change.
 *
 * Eras (format 5).  The declarant and permit indexes key an entry by its declaration's
 * era -- the first TQ__ERA_LEN digits of its decl_no -- then the name.  Under the name
 * alone, a batch of new declarations put entries under keys spread over the whole
 * table, so every commit dirtied and wrote nearly every leaf of both indexes, however
 * few declarations it added (on the 10m replay that was most of the time).  Numbered
 * upwards, a batch's new declarations fall in one or two eras, whose keys are together:
 * it dirties the leaves of those eras only.  A walk of one name seeks it era by era
 * (tq__run_era()): one or two seeks per era present in the table.
 */
#include "tq_store_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int tq__is_index(int db)
{
    return db == DB_BY_OFFICE || db == DB_BY_TAXID || db == DB_BY_PERMIT ||
           db == DB_ERA_TAXID || db == DB_ERA_PERMIT;
}

static int tq__is_era(int db)
{
    return db == DB_ERA_TAXID || db == DB_ERA_PERMIT;
}

/* The key of name (n bytes) in index db for declaration decl: the name, after its era
 * in an era index.  buf: TQ__ERA_LEN + TQ_PERMIT_MAX bytes.  @return its length. */
static size_t tq__ix_keyof(int db, const void *name, size_t n, const void *decl, uint8_t *buf)
{
    size_t era = tq__is_era(db) ? TQ__ERA_LEN : 0;
    memcpy(buf, decl, era);
    memcpy(buf + era, name, n);
    return era + n;
}

const char *tq__index_entry_bad(const MDB_val *v)
{
    MDB_val k = *v;
    if (v->mv_size != TQ_DECL_NO_LEN || tq__key_bad(DB_DECLS, &k) != NULL)
        return "entry is not a decl_no (12 digits, the first not 0)";
    return NULL;
}

/* ---- upkeep ---- */

/* The transaction's cursor on index db, opened at its first use (LMDB closes the
 * cursors of a write transaction when it ends).  Kept across puts, it lets LMDB skip
 * the descent when the next key is on the page of the last. */
static MDB_cursor *tq__ix_cursor(tq_txn *t, int db)
{
    MDB_cursor **c = &t->ixc[db];
    if (*c == NULL) {
        int rc = mdb_cursor_open(t->txn, t->s->dbi[db], c);
        if (rc != MDB_SUCCESS) {
            *c = NULL;
            t->failed = tq__mdb(rc);
        }
    }
    return *c;
}

/* ---- deferred changes ----
 * Their keys are spread at random over the table, so a batch of declarations put one by
 * one descends the tree from the root for each entry, in no order.  Their changes are
 * therefore queued in the transaction and applied in key order (a run at a time,
 * TQ__IXQ_MAX changes, and before the commit or any read of an index in t): a cursor
 * moving forward finds most keys on the page it is on.  Changes to the same entry keep
 * their order (seq).  by_office's changes wait too (see tq__ixp_slot() for its deletes). */
#define TQ__IXQ_MAX 65536
#define TQ__IX_MANY 256      /* appends under one key in one MDB_MULTIPLE put */

typedef struct tq__ixop {
    uint8_t db, del, append, kn;
    char key[TQ__ERA_LEN + TQ_PERMIT_MAX];
    char decl[TQ_DECL_NO_LEN];
    uint32_t seq;
} tq__ixop;

/* Big-endian loads: integers in memcmp's order (compilers make each one load). */
static uint64_t tq__be64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | b[7];
}

static uint32_t tq__be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Orders two decl_nos as memcmp() does: a decl_no as two big-endian integers. */
static int tq__decl_cmp(const char *a, const char *b)
{
    uint64_t x = tq__be64(a), y = tq__be64(b);
    if (x != y)
        return x < y ? -1 : 1;
    uint32_t u = tq__be32(a + 8), v = tq__be32(b + 8);
    return (u > v) - (u < v);
}

/* Orders two changes under the same key by decl_no, then by when they were made. */
static int tq__ixop_decl_cmp(const void *a, const void *b)
{
    const tq__ixop *x = *(const tq__ixop *const *)a, *y = *(const tq__ixop *const *)b;
    int r = tq__decl_cmp(x->decl, y->decl);
    return r != 0 ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

static int tq__decl_eq(const char *a, const char *b)
{
    return tq__be64(a) == tq__be64(b) && tq__be32(a + 8) == tq__be32(b + 8);
}

/* Orders the keys of two changes (db, then key bytes, then length). */
static int tq__ixkey_cmp(const tq__ixop *x, const tq__ixop *y)
{
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    int r = memcmp(x->key, y->key, x->kn < y->kn ? x->kn : y->kn);
    return r != 0 ? r : (x->kn > y->kn) - (x->kn < y->kn);
}

/* by_office changes wait in the queue too, but a put must still learn at once that
 * the office entry it moves is missing (damage).  So the latest queued office change of
 * a declaration is found by its decl_no, in one of two places in t->ixpend:
 *   - the appends (TQ__IXQ_MAX u32, t->nixapp of them): the index in t->ixq of each
 *     office put of an append whose decl_no is above the last one's -- every append of
 *     a batch of new declarations -- so they ascend: a binary search finds one, and
 *     queueing one costs a store, not a hash probe in a large table;
 *   - the hash (TQ__IXP_SLOTS slots, 0 empty, else 1 + the change's index in t->ixq;
 *     at most TQ__IXQ_MAX, so the table is at most half full): every other office
 *     change, t->nixhash of them (a few in a window of new declarations).
 * The later of the two is the latest.  A delete of an entry whose put is queued is
 * queued after it; any other goes to the tree at once and is checked there. */
#define TQ__IXP_SLOTS (2 * TQ__IXQ_MAX)

static uint32_t *tq__ixp_slot(tq_txn *t, const char *decl)
{
    /* the last 8 digits vary most: a multiplicative hash of them */
    size_t h = (size_t)((tq__be64(decl + 4) * 0x9e3779b97f4a7c15u) >> 40) & (TQ__IXP_SLOTS - 1);
    for (;; h = (h + 1) & (TQ__IXP_SLOTS - 1)) {
        uint32_t v = t->ixpend[h];
        if (v == 0 || tq__decl_eq(t->ixq[v - 1].decl, decl))
            return &t->ixpend[h];
    }
}

static uint32_t *tq__ixp_apps(tq_txn *t)
{
    return t->ixpend + TQ__IXP_SLOTS;
}

/* Records office change i (just queued) for tq__ixp_latest(). */
static void tq__ixp_note(tq_txn *t, uint32_t i)
{
    const tq__ixop *op = &t->ixq[i];
    uint32_t *app = tq__ixp_apps(t);
    if (op->append && !op->del &&
        (t->nixapp == 0 || tq__decl_cmp(t->ixq[app[t->nixapp - 1]].decl, op->decl) < 0)) {
        app[t->nixapp++] = i;
        return;
    }
    *tq__ixp_slot(t, op->decl) = i + 1;
    t->nixhash++;
}

/* The latest queued office change of decl, or NULL. */
static const tq__ixop *tq__ixp_latest(tq_txn *t, const char *decl)
{
    uint32_t h = t->nixhash ? *tq__ixp_slot(t, decl) : 0, a = 0;
    const uint32_t *app = tq__ixp_apps(t);
    for (size_t lo = 0, hi = t->nixapp; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        int c = tq__decl_cmp(t->ixq[app[mid]].decl, decl);
        if (c == 0) {
            a = app[mid] + 1;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t i = h > a ? h : a;
    return i ? &t->ixq[i - 1] : NULL;
}

static size_t tq__ix_scratch_size(void);

static int tq__ix_defer(tq_txn *t, int db, int del, const void *key, size_t kn,
                        const MDB_val *decl, int append)
{
    if (t->failed != TQ_OK)
        return t->failed;
    if (t->ixpend == NULL) {    /* the slots, zeroed, then tq__index_sync()'s scratch */
        t->ixpend = malloc((TQ__IXP_SLOTS + TQ__IXQ_MAX) * sizeof *t->ixpend +
                           tq__ix_scratch_size());
        if (t->ixpend == NULL)
            return t->failed = TQ_ERR_NOMEM;
        memset(t->ixpend, 0, TQ__IXP_SLOTS * sizeof *t->ixpend);
    }
    if (t->nixq == t->ixq_cap) {
        size_t cap = t->ixq_cap ? t->ixq_cap * 2 : 1024;
        tq__ixop *q = realloc(t->ixq, cap * sizeof *q);
        if (q == NULL)
            return t->failed = TQ_ERR_NOMEM;    /* the transaction is dead, as on a
                                                 * failed put: half a move is queued */
        t->ixq = q;
        t->ixq_cap = cap;
    }
    tq__ixop *op = &t->ixq[t->nixq++];
    op->db = (uint8_t)db;
    op->del = (uint8_t)del;
    op->append = (uint8_t)append;
    op->kn = (uint8_t)kn;
    memcpy(op->key, key, kn);
    memcpy(op->decl, decl->mv_data, TQ_DECL_NO_LEN);
    op->seq = t->ixseq++;
    if (db == DB_BY_OFFICE)
        tq__ixp_note(t, (uint32_t)(t->nixq - 1));
    return t->nixq >= TQ__IXQ_MAX ? tq__index_sync(t) : TQ_OK;
}

static int tq__ix_apply(tq_txn *t, const tq__ixop *op);

/* A group's key packed for sorting is db, the key bytes zero-padded to TQ__IXKEY_MAX,
 * and its length: compared as big-endian words in order, it orders as tq__ixkey_cmp()
 * (where one key is a prefix of the other, the shorter's padding is 0, never above the
 * longer's byte, and the length breaks the tie).  A sort record holds one word of it. */
#define TQ__IXKEY_MAX (TQ__ERA_LEN + TQ_PERMIT_MAX)
#define TQ__SK_WORDS ((2 + TQ__IXKEY_MAX + 7) / 8)
#define TQ__SK_SMALL 24         /* runs this short are insertion-sorted */

typedef struct tq__ixsk {
    uint64_t w;                 /* word w of the packed key (w: the sort's depth) */
    uint32_t g, pad;            /* the group it is the key of */
} tq__ixsk;

static uint64_t tq__sk_word(const tq__ixop *op, int w)
{
    uint8_t b[TQ__SK_WORDS * 8];
    memset(b, 0, sizeof b);
    b[0] = op->db;
    memcpy(b + 1, op->key, op->kn < TQ__IXKEY_MAX ? op->kn : TQ__IXKEY_MAX);
    b[1 + TQ__IXKEY_MAX] = op->kn;
    return tq__be64(b + 8 * w);
}

typedef struct tq__sks {
    const tq__ixop *q;          /* the window */
    const uint32_t *first;      /* per group: its first change in q */
    tq__ixsk *tmp;              /* room for every key */
} tq__sks;

/* Sorts a[0..n), whose packed keys agree before word w and whose records hold word w:
 * insertion below TQ__SK_SMALL, else an LSD radix pass per byte of word w (skipping the
 * bytes they all share), then each run with equal word w by the next word. */
static void tq__sk_sort(const tq__sks *S, tq__ixsk *a, size_t n, int w)
{
    if (n <= TQ__SK_SMALL) {
        for (size_t i = 1, j; i < n; i++) {
            tq__ixsk x = a[i];
            for (j = i; j > 0; j--) {
                if (a[j - 1].w != x.w ? a[j - 1].w < x.w
                                      : tq__ixkey_cmp(&S->q[S->first[a[j - 1].g]],
                                                      &S->q[S->first[x.g]]) <= 0)
                    break;
                a[j] = a[j - 1];
            }
            a[j] = x;
        }
        return;
    }
    uint32_t cnt[8][256];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            cnt[b][(a[i].w >> (8 * b)) & 0xff]++;
    tq__ixsk *src = a, *dst = S->tmp;
    for (int b = 0; b < 8; b++) {
        if (cnt[b][(a[0].w >> (8 * b)) & 0xff] == n)
            continue;
        uint32_t at = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t c = cnt[b][d];
            cnt[b][d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[b][(src[i].w >> (8 * b)) & 0xff]++] = src[i];
        tq__ixsk *x = src;
        src = dst;
        dst = x;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    for (size_t b = 0, e; w + 1 < TQ__SK_WORDS && b < n; b = e) {
        for (e = b + 1; e < n && a[e].w == a[b].w; e++)
            ;
        if (e - b < 2)
            continue;
        for (size_t i = b; i < e; i++)
            a[i].w = tq__sk_word(&S->q[S->first[a[i].g]], w + 1);
        tq__sk_sort(S, a + b, e - b, w + 1);
    }
}

/* The window's changes grouped by (db, key), the groups in key order; the arrays are
 * tq__ix_scratch()'s, for at most TQ__IXQ_MAX changes. */
typedef struct tq__ixgrp {
    const tq__ixop **order;     /* the changes key by key, each key's in seq order */
    tq__ixsk *sk, *tmp;         /* the keys, sorted: sk[r].g is the r-th group */
    uint32_t *slot;             /* the hash table: 0 empty, else 1 + group */
    uint32_t *gof;              /* per change: its group */
    uint32_t *first, *at, *len; /* per group: first change, where the next goes, count */
    uint8_t *unsorted;          /* per group: its decl_nos do not ascend in seq order */
    size_t ng;
} tq__ixgrp;

#define TQ__IXG_SLOTS (2 * TQ__IXQ_MAX)

static size_t tq__ix_scratch_size(void)
{
    return TQ__IXQ_MAX * (sizeof(tq__ixop *) + 2 * sizeof(tq__ixsk) + 4 * sizeof(uint32_t) + 1) +
           TQ__IXG_SLOTS * sizeof(uint32_t);
}

/* Carves G's arrays from the scratch after t->ixpend's slots and appends (the largest
 * alignment first). */
static void tq__ix_scratch(tq_txn *t, tq__ixgrp *G)
{
    char *m = (char *)(tq__ixp_apps(t) + TQ__IXQ_MAX);
    G->order = (const tq__ixop **)m;
    G->sk = (tq__ixsk *)(m + TQ__IXQ_MAX * sizeof *G->order);
    G->tmp = G->sk + TQ__IXQ_MAX;
    G->slot = (uint32_t *)(G->tmp + TQ__IXQ_MAX);
    G->gof = G->slot + TQ__IXG_SLOTS;
    G->first = G->gof + TQ__IXQ_MAX;
    G->at = G->first + TQ__IXQ_MAX;
    G->len = G->at + TQ__IXQ_MAX;
    G->unsorted = (uint8_t *)(G->len + TQ__IXQ_MAX);
}

/* Gives each change its group by a hash table (one pass), sorts only the distinct keys
 * (radix, on their packed words), and lays the changes out key by key with a stable
 * counting pass.  A comparison sort of the whole window (60-byte records, memcmp per
 * comparison) cost more than applying it; qsort() of the keys by pointer cost 3% of
 * the 1m replay, this sort a third of that. */
static void tq__ix_group(tq_txn *t, tq__ixgrp *G)
{
    size_t n = t->nixq, nslot = 16, ng = 0;
    while (nslot < 2 * n)
        nslot *= 2;
    tq__ix_scratch(t, G);
    memset(G->slot, 0, nslot * sizeof *G->slot);
    for (size_t i = 0; i < n; i++) {
        const tq__ixop *op = &t->ixq[i];
        size_t h = (size_t)XXH3_64bits_withSeed(op->key, op->kn, op->db) & (nslot - 1);
        for (;; h = (h + 1) & (nslot - 1)) {
            if (G->slot[h] == 0) {
                G->sk[ng].w = tq__sk_word(op, 0);
                G->sk[ng].g = (uint32_t)ng;
                G->len[ng] = 0;
                G->unsorted[ng] = 0;
                G->first[ng] = G->at[ng] = (uint32_t)i;
                G->slot[h] = (uint32_t)++ng;
                break;
            }
            const tq__ixop *g = &t->ixq[G->first[G->slot[h] - 1]];
            if (g->db == op->db && g->kn == op->kn && memcmp(g->key, op->key, op->kn) == 0)
                break;
        }
        uint32_t g = G->slot[h] - 1;    /* at: its last change, for now */
        if (G->len[g]++ && tq__decl_cmp(t->ixq[G->at[g]].decl, op->decl) > 0)
            G->unsorted[g] = 1;
        G->at[g] = (uint32_t)i;
        G->gof[i] = g;
    }
    tq__sks S = {t->ixq, G->first, G->tmp};
    tq__sk_sort(&S, G->sk, ng, 0);
    uint32_t at = 0;
    for (size_t r = 0; r < ng; r++) {
        G->at[G->sk[r].g] = at;
        at += G->len[G->sk[r].g];
    }
    for (size_t i = 0; i < n; i++)
        G->order[G->at[G->gof[i]]++] = &t->ixq[i];
    G->ng = ng;
}

static int tq__ix_put_many(tq_txn *t, const tq__ixop *op, const char *decls, size_t n);

/* Applies the changes under one key, ordered by (decl_no, when).  Of the changes to one
 * entry only the last counts: a put is idempotent and a deferred delete does not care
 * whether the entry was there.  Consecutive appends go in one MDB_MULTIPLE put. */
static int tq__ix_apply_run(tq_txn *t, const tq__ixop **op, size_t n)
{
    char many[TQ__IX_MANY * TQ_DECL_NO_LEN];
    size_t nmany = 0;
    int rc = TQ_OK;
    for (size_t i = 0; i < n && rc == TQ_OK; i++) {
        if (i + 1 < n && tq__decl_eq(op[i]->decl, op[i + 1]->decl))
            continue;
        if (!op[i]->del && op[i]->append) {
            memcpy(many + nmany++ * TQ_DECL_NO_LEN, op[i]->decl, TQ_DECL_NO_LEN);
            if (nmany == TQ__IX_MANY) {
                rc = tq__ix_put_many(t, op[i], many, nmany);
                nmany = 0;
            }
            continue;
        }
        if (nmany)
            rc = tq__ix_put_many(t, op[i], many, nmany);
        nmany = 0;
        if (rc == TQ_OK)
            rc = tq__ix_apply(t, op[i]);
    }
    return rc == TQ_OK && nmany ? tq__ix_put_many(t, op[n - 1], many, nmany) : rc;
}

int tq__index_sync(tq_txn *t)
{
    int rc = TQ_OK;
    tq__ixgrp G;
    if (t->nixq == 0)
        return t->failed;
    tq__ix_group(t, &G);
    const tq__ixop **run = G.order;
    for (size_t r = 0; r < G.ng && rc == TQ_OK; r++) {
        uint32_t g = G.sk[r].g;
        if (G.unsorted[g])
            qsort(run, G.len[g], sizeof *run, tq__ixop_decl_cmp);
        rc = tq__ix_apply_run(t, run, G.len[g]);
        run += G.len[g];
    }
    t->nixq = 0;
    t->ixseq = 0;
    t->nixapp = 0;
    if (t->nixhash)
        memset(t->ixpend, 0, TQ__IXP_SLOTS * sizeof *t->ixpend);
    t->nixhash = 0;
    return rc;
}

/* append: decl is above every decl_no stored, so it goes after every entry under key. */
static int tq__ix_put_now(tq_txn *t, int db, const void *key, size_t kn, const MDB_val *decl,
                          int append)
{
    MDB_val k = {kn, (void *)key}, v = *decl;
    MDB_cursor *c = t->failed == TQ_OK ? tq__ix_cursor(t, db) : NULL;
    if (c == NULL)
        return t->failed;
    int rc = mdb_cursor_put(c, &k, &v, append ? MDB_APPENDDUP : MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST && append) {     /* a stray entry above it: put it in place */
        k.mv_size = kn, k.mv_data = (void *)key, v = *decl;
        rc = mdb_cursor_put(c, &k, &v, MDB_NODUPDATA);
    }
    if (rc == MDB_SUCCESS || rc == MDB_KEYEXIST)
        return TQ_OK;
    t->failed = tq__mdb(rc);
    return t->failed;
}

/* n appends under op's key, decls[] ascending and above every entry stored there. */
static int tq__ix_put_many(tq_txn *t, const tq__ixop *op, const char *decls, size_t n)
{
    MDB_val k = {op->kn, (void *)op->key};
    MDB_val v[2] = {{TQ_DECL_NO_LEN, (void *)decls}, {n, NULL}};
    MDB_cursor *c = t->failed == TQ_OK ? tq__ix_cursor(t, op->db) : NULL;
    if (c == NULL)
        return t->failed;
    int rc = n > 1 ? mdb_cursor_put(c, &k, v, MDB_MULTIPLE | MDB_APPENDDUP) : MDB_KEYEXIST;
    size_t done = n > 1 && rc != MDB_KEYEXIST ? n : n > 1 ? v[1].mv_size : 0;
    if (rc != MDB_SUCCESS && rc != MDB_KEYEXIST) {
        t->failed = tq__mdb(rc);
        return t->failed;
    }
    /* one at a time from the first that did not go (a stray entry above it) */
    for (rc = TQ_OK; done < n && rc == TQ_OK; done++) {
        MDB_val d = {TQ_DECL_NO_LEN, (void *)(decls + done * TQ_DECL_NO_LEN)};
        rc = tq__ix_put_now(t, op->db, op->key, op->kn, &d, 1);
    }
    return rc;
}

static int tq__ix_del_now(tq_txn *t, int db, const void *key, size_t kn,
                          const MDB_val *decl, int strict)
{
    MDB_val k = {kn, (void *)key}, v = *decl;
    MDB_cursor *c = t->failed == TQ_OK ? tq__ix_cursor(t, db) : NULL;
    if (c == NULL)
        return t->failed;
    int rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_del(c, 0);
    if (rc == MDB_NOTFOUND && !strict)
        return TQ_OK;       /* the entry is gone either way; verify reports lost ones */
    if (rc == MDB_NOTFOUND)
        return tq__fault(t, db, &k, "no entry for declaration '%.12s', which has this key",
                         (const char *)decl->mv_data);
    if (rc != MDB_SUCCESS)
        t->failed = tq__mdb(rc);
    return t->failed;
}

static int tq__ix_apply(tq_txn *t, const tq__ixop *op)
{
    MDB_val d = {TQ_DECL_NO_LEN, (void *)op->decl};
    return op->del ? tq__ix_del_now(t, op->db, op->key, op->kn, &d, 0)
                   : tq__ix_put_now(t, op->db, op->key, op->kn, &d, op->append);
}

/* The puts and deletes of tq__index_move(): key is the name (office key, declarant,
 * permit_no); an era index's key gets decl's era in front. */
static int tq__ix_put(tq_txn *t, int db, const void *key, size_t kn, const MDB_val *decl,
                      int append)
{
    uint8_t kb[TQ__IXKEY_MAX];
    kn = tq__ix_keyof(db, key, kn, decl->mv_data, kb);
    return tq__ix_defer(t, db, 0, kb, kn, decl, append);
}

static int tq__ix_del(tq_txn *t, int db, const void *key, size_t kn, const MDB_val *decl)
{
    uint8_t kb[TQ__IXKEY_MAX];
    if (db != DB_BY_OFFICE) {
        kn = tq__ix_keyof(db, key, kn, decl->mv_data, kb);
        return tq__ix_defer(t, db, 1, kb, kn, decl, 0);
    }
    const tq__ixop *p = t->ixpend != NULL ? tq__ixp_latest(t, decl->mv_data) : NULL;
    if (p && !p->del && p->kn == kn && memcmp(p->key, key, kn) == 0)
        return tq__ix_defer(t, db, 1, key, kn, decl, 0);
    return tq__ix_del_now(t, db, key, kn, decl, 1);
}

static int tq__has_permit(const tq__dkeys *d, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < d->npermits; i++)
        if (d->npermit[i] == n && memcmp(d->permit[i], p, n) == 0)
            return 1;
    return 0;
}

static int tq__same_declarant(const tq__dkeys *a, const tq__dkeys *b)
{
    return a->ndeclarant == b->ndeclarant &&
           memcmp(a->declarant, b->declarant, a->ndeclarant) == 0;
}

static int tq__move_permits(tq_txn *t, const MDB_val *k, const tq__dkeys *o,
                            const tq__dkeys *n, int append)
{
    int rc = TQ_OK;
    int db = t->s->db_permit;
    for (size_t i = 0; o && i < o->npermits && rc == TQ_OK; i++)
        if (!tq__has_permit(n, o->permit[i], o->npermit[i]))
            rc = tq__ix_del(t, db, o->permit[i], o->npermit[i], k);
    for (size_t i = 0; i < n->npermits && rc == TQ_OK; i++)
        if (!o || !tq__has_permit(o, n->permit[i], n->npermit[i]))
            rc = tq__ix_put(t, db, n->permit[i], n->npermit[i], k, append);
    return rc;
}

int tq__index_move(tq_txn *t, const MDB_val *k, const MDB_val *old, const MDB_val *nv,
                   int append)
{
    tq__dkeys od, nd;
    const tq__dkeys *o = NULL;
    if (old != NULL) {
        const char *bad = tq__decl_keys(old, &od);
        if (bad)
            return tq__fault(t, DB_DECLS, k, "%s", bad);
        o = od.v3 ? &od : NULL;     /* a format 2 value has no entries yet */
    }
    if (tq__decl_keys(nv, &nd) != NULL)
        return TQ_ERR_INPUT;        /* bytes that are not an encoded declaration */
    int rc = TQ_OK;
    if (!o || memcmp(o->office_key, nd.office_key, TQ__OFFICE_KEY) != 0) {
        if (o)
            rc = tq__ix_del(t, DB_BY_OFFICE, o->office_key, TQ__OFFICE_KEY, k);
        if (rc == TQ_OK)
            rc = tq__ix_put(t, DB_BY_OFFICE, nd.office_key, TQ__OFFICE_KEY, k, append);
    }
    if (rc == TQ_OK && (!o || !tq__same_declarant(o, &nd))) {
        if (o && o->ndeclarant)
            rc = tq__ix_del(t, t->s->db_taxid, o->declarant, o->ndeclarant, k);
        if (rc == TQ_OK && nd.ndeclarant)
            rc = tq__ix_put(t, t->s->db_taxid, nd.declarant, nd.ndeclarant, k, append);
    }
    if (rc == TQ_OK)
        rc = tq__move_permits(t, k, o, &nd, append);
    /* last: its put may not leave old's page as it was */
    return rc == TQ_OK && t->s->has_held ? tq__held_move(t, k, o, &nd, nv) : rc;
}

int tq__index_era_add(tq_txn *t, const MDB_val *k, const MDB_val *v)
{
    tq__dkeys d;
    const char *bad = tq__decl_keys(v, &d);
    if (bad)
        return tq__fault(t, DB_DECLS, k, "%s", bad);
    int rc = TQ_OK;
    if (d.v3 && d.ndeclarant)
        rc = tq__ix_put(t, DB_ERA_TAXID, d.declarant, d.ndeclarant, k, 1);
    for (size_t i = 0; d.v3 && i < d.npermits && rc == TQ_OK; i++)
        rc = tq__ix_put(t, DB_ERA_PERMIT, d.permit[i], d.npermit[i], k, 1);
    return rc;
}

/* ---- walks ---- */

/* The index key of (idx, key, state), checked as a put would make it; in an era index,
 * under the least era (the walk seeks the name era by era). */
static int tq__ix_key(const tq_store *s, tq_store_index idx, const char *key, int state,
                      uint8_t *buf, MDB_val *k, int *db)
{
    size_t n;
    if (key == NULL || state < -1 || state > TQ_STATE_CANCELLED)
        return TQ_ERR_INPUT;
    n = strnlen(key, TQ_PERMIT_MAX + 1);
    switch (idx) {
    case TQ_INDEX_OFFICE:
        if (n != 0 && n != 4)
            return TQ_ERR_INPUT;
        memset(buf, 0, TQ__OFFICE_KEY);
        memcpy(buf, key, n);
        buf[4] = (uint8_t)(state < 0 ? 0 : state);
        *db = DB_BY_OFFICE;
        k->mv_size = TQ__OFFICE_KEY;
        break;
    case TQ_INDEX_DECLARANT:
    case TQ_INDEX_PERMIT:
        *db = idx == TQ_INDEX_DECLARANT ? s->db_taxid : s->db_permit;
        if (n == 0 || n > TQ_PERMIT_MAX)
            return TQ_ERR_INPUT;
        k->mv_size = tq__ix_keyof(*db, key, n, "1000000", buf);
        break;
    default:
        return TQ_ERR_INPUT;
    }
    k->mv_data = buf;
    return tq__key_bad(*db, k) ? TQ_ERR_INPUT : TQ_OK;
}

/* One run of entries under one key, read with its own cursor.  In an era index the
 * run goes on from era to era: key holds the era being read. */
typedef struct tq__run {
    MDB_cursor *c;
    uint8_t key[TQ__KEY_MAX];
    MDB_val k;
    char cur[TQ_DECL_NO_LEN];
    int live;
} tq__run;

static int tq__run_lmdb(tq_txn *t, int db, const tq__run *r, int rc)
{
    return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
               ? tq__fault(t, db, &r->k, "LMDB: %s", mdb_strerror(rc))
               : tq__mdb(rc);
}

/* The run's entry v: the current one, when sound. */
static int tq__run_entry(tq_txn *t, int db, tq__run *r, const MDB_val *v)
{
    const char *bad = tq__index_entry_bad(v);
    if (bad)
        return tq__fault(t, db, &r->k, "%s", bad);
    memcpy(r->cur, v->mv_data, TQ_DECL_NO_LEN);
    r->live = 1;
    return TQ_OK;
}

static int tq__run_step(tq_txn *t, int db, tq__run *r, MDB_cursor_op op)
{
    MDB_val k = r->k, v;
    int rc = mdb_cursor_get(r->c, &k, &v, op);
    r->live = 0;
    if (rc == MDB_NOTFOUND)
        return TQ_OK;
    if (rc != MDB_SUCCESS)
        return tq__run_lmdb(t, db, r, rc);
    return tq__run_entry(t, db, r, &v);
}

/* The era after the one in key (TQ__ERA_LEN digits, counted up); 0 after the last. */
static int tq__era_next(uint8_t *key)
{
    for (int i = TQ__ERA_LEN - 1; i >= 0; i--) {
        if (key[i] != '9') {
            key[i]++;
            return 1;
        }
        key[i] = '0';
    }
    return 0;
}

/* Compares two names as LMDB orders keys: bytes, then the shorter first. */
static int tq__name_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int r = memcmp(a, b, na < nb ? na : nb);
    return r != 0 ? r : (na > nb) - (na < nb);
}

/* Positions an era run on the first entry of its name in the first era at or after the
 * one in r->key: a skip-scan.  Seeking (era E, name) finds the first key at or after
 * it, (E', name'): the name itself (E' becomes the run's era); else, when E' is E or
 * name' comes after the name, the name is not in E' and the next seek is (E' + 1,
 * name); else (a later era, a lesser name) it is (E', name).  So one or two seeks per
 * era present in the table, and a key that is not an era index key is damage. */
static int tq__run_era(tq_txn *t, int db, tq__run *r)
{
    const uint8_t *name = r->key + TQ__ERA_LEN;
    size_t n = r->k.mv_size - TQ__ERA_LEN;
    r->live = 0;
    for (;;) {
        MDB_val k = r->k, v;
        int rc = mdb_cursor_get(r->c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            return TQ_OK;
        if (rc != MDB_SUCCESS)
            return tq__run_lmdb(t, db, r, rc);
        const char *bad = tq__key_bad(db, &k);
        if (bad)
            return tq__fault(t, db, &k, "%s", bad);
        const uint8_t *fk = k.mv_data;
        int c = tq__name_cmp(fk + TQ__ERA_LEN, k.mv_size - TQ__ERA_LEN, name, n);
        int same_era = memcmp(fk, r->key, TQ__ERA_LEN) == 0;
        memcpy(r->key, fk, TQ__ERA_LEN);
        if (c == 0)
            return tq__run_entry(t, db, r, &v);
        if ((same_era || c > 0) && !tq__era_next(r->key))
            return TQ_OK;
    }
}

/* The run's next entry: the next under its key, else (an era index) the first of the
 * next era that has its name. */
static int tq__run_next(tq_txn *t, int db, tq__run *r)
{
    int rc = tq__run_step(t, db, r, MDB_NEXT_DUP);
    if (rc != TQ_OK || r->live || !tq__is_era(db))
        return rc;
    return tq__era_next(r->key) ? tq__run_era(t, db, r) : TQ_OK;
}

/* Whether declaration d has the key the entry was found under. */
static int tq__matches(int db, const MDB_val *k, const tq_decl *d)
{
    size_t n = k->mv_size;
    const uint8_t *b = k->mv_data;
    switch (db) {
    case DB_BY_OFFICE:
        return strnlen(d->office, 4) == strnlen((const char *)b, 4) &&
               memcmp(d->office, b, strnlen(d->office, 4)) == 0 && d->state == b[4];
    case DB_ERA_TAXID:
    case DB_ERA_PERMIT:
        if (n < TQ__ERA_LEN || memcmp(b, d->decl_no, TQ__ERA_LEN) != 0)
            return 0;
        b += TQ__ERA_LEN;
        n -= TQ__ERA_LEN;
        if (db == DB_ERA_PERMIT)
            break;
        /* fall through */
    case DB_BY_TAXID:
        return strlen(d->declarant) == n && memcmp(d->declarant, b, n) == 0;
    }
    for (unsigned i = 0; i < d->nlines; i++)
        if (strlen(d->lines[i].permit) == n && memcmp(d->lines[i].permit, b, n) == 0)
            return 1;
    return 0;
}

const char *tq__index_check(tq_txn *t, int db, const MDB_val *k, const MDB_val *v,
                            tq_decl *d)
{
    MDB_val dk = *v, dv;
    const char *bad = tq__index_entry_bad(v);
    if (bad)
        return bad;
    int rc = mdb_get(t->txn, t->s->dbi[DB_DECLS], &dk, &dv);
    if (rc == MDB_NOTFOUND)
        return "entry names a declaration that does not exist";
    if (rc != MDB_SUCCESS)
        return "the declaration it names cannot be read";
    if (tq__unseal(t->s, DB_DECLS, &dk, &dv) != NULL || tq__decl_decode_v(&dk, &dv, d) != NULL)
        return NULL;    /* a damaged declaration: the walk of decls reports it */
    return tq__matches(db, k, d) ? NULL
                                 : "entry names a declaration that does not have this key";
}

typedef struct tq__want {
    int j;                      /* 0 office, 1 declarant, 2 permit */
    uint8_t key[TQ__IXKEY_MAX];
    size_t n;
} tq__want;

const char *tq__index_missing(tq_txn *t, const MDB_val *dk, const MDB_val *dv)
{
    static const char *const what[DB_COUNT] = {
        [DB_BY_OFFICE] = "no entry in by_office for its office and state",
        [DB_BY_TAXID] = "no entry in by_taxid for its declarant",
        [DB_ERA_TAXID] = "no entry in era_taxid for its declarant",
        [DB_BY_PERMIT] = "no entry in by_permit for one of its permits",
        [DB_ERA_PERMIT] = "no entry in era_permit for one of its permits"};
    tq__dkeys o;
    MDB_cursor *c[3] = {NULL, NULL, NULL};
    const int db[3] = {DB_BY_OFFICE, t->s->db_taxid, t->s->db_permit};
    const char *bad = tq__decl_keys(dv, &o);
    if (bad)
        return bad;
    tq__want want[2 + TQ_LINES_MAX];
    size_t nw = 0;
    want[nw].j = 0;
    want[nw++].n = tq__ix_keyof(DB_BY_OFFICE, o.office_key, TQ__OFFICE_KEY, dk->mv_data,
                                want[0].key);
    if (o.ndeclarant) {
        want[nw].j = 1;
        want[nw].n = tq__ix_keyof(db[1], o.declarant, o.ndeclarant, dk->mv_data, want[nw].key);
        nw++;
    }
    for (size_t i = 0; i < o.npermits; i++, nw++) {
        want[nw].j = 2;
        want[nw].n = tq__ix_keyof(db[2], o.permit[i], o.npermit[i], dk->mv_data, want[nw].key);
    }
    for (size_t i = 0; i < nw && bad == NULL; i++) {
        int j = want[i].j;
        if (c[j] == NULL && mdb_cursor_open(t->txn, t->s->dbi[db[j]], &c[j]) != 0)
            bad = "an index cannot be read";
        MDB_val k = {want[i].n, want[i].key}, v = *dk;
        if (bad == NULL && mdb_cursor_get(c[j], &k, &v, MDB_GET_BOTH) != MDB_SUCCESS)
            bad = what[db[j]];
    }
    for (int j = 0; j < 3; j++)
        if (c[j])
            mdb_cursor_close(c[j]);
    return bad;
}

/* Reads the declaration an entry names and checks it has the entry's key. */
static int tq__ix_read(tq_txn *t, int db, const tq__run *r, tq_decl *d)
{
    MDB_val dk = {TQ_DECL_NO_LEN, (void *)r->cur}, v;
    int rc = tq__get(t, DB_DECLS, &dk, &v);
    if (rc == TQ_ERR_NOTFOUND)
        return tq__fault(t, db, &r->k, "entry names declaration '%.12s', which does not exist",
                         r->cur);
    if (rc != TQ_OK)
        return rc;
    const char *bad = tq__decl_decode_v(&dk, &v, d);
    if (bad)
        return tq__fault(t, DB_DECLS, &dk, "%s", bad);
    if (!tq__matches(db, &r->k, d))
        return tq__fault(t, db, &r->k, "entry names declaration '%.12s', which does not "
                         "have this key", r->cur);
    return TQ_OK;
}

typedef struct tq__by {
    tq_txn *t;
    int db, state, nruns;
    tq__run run[TQ_STATE_CANCELLED + 1];
    tq_decl d;
} tq__by;

static int tq__by_open(tq__by *w, const uint8_t *key, size_t kn, int first_state)
{
    for (int i = 0; i < w->nruns; i++) {
        tq__run *r = &w->run[i];
        int rc = tq__mdb(mdb_cursor_open(w->t->txn, w->t->s->dbi[w->db], &r->c));
        if (rc != TQ_OK)
            return rc;
        memcpy(r->key, key, kn);
        if (w->db == DB_BY_OFFICE)
            r->key[4] = (uint8_t)(first_state + i);
        r->k.mv_size = kn;
        r->k.mv_data = r->key;
        /* MDB_SET finds the key; GET_CURRENT then gives its first (least) entry */
        if (tq__is_era(w->db))
            rc = tq__run_era(w->t, w->db, r);
        else
            rc = tq__run_step(w->t, w->db, r, MDB_SET);
        if (rc == TQ_OK && r->live)
            rc = tq__run_step(w->t, w->db, r, MDB_GET_CURRENT);
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}

/* Merges the runs by decl_no (one run per state for the office index with state -1). */
static int tq__by_walk(tq__by *w, int (*fn)(void *ctx, const tq_decl *d), void *ctx)
{
    for (;;) {
        tq__run *min = NULL;
        for (int i = 0; i < w->nruns; i++)
            if (w->run[i].live &&
                (min == NULL || memcmp(w->run[i].cur, min->cur, TQ_DECL_NO_LEN) < 0))
                min = &w->run[i];
        if (min == NULL)
            return TQ_OK;
        int rc = tq__ix_read(w->t, w->db, min, &w->d);
        if (rc == TQ_OK && (w->state < 0 || w->d.state == w->state))
            rc = fn(ctx, &w->d);
        if (rc == TQ_OK)
            rc = tq__run_next(w->t, w->db, min);
        if (rc != TQ_OK)
            return rc;
    }
}

int tq_store_each_decl_by(tq_txn *t, tq_store_index idx, const char *key, int state,
                          int (*fn)(void *ctx, const tq_decl *d), void *ctx)
{
    uint8_t kb[TQ__KEY_MAX];
    MDB_val k;
    int db;
    if (t->s->version < 3)
        return TQ_ERR_VERSION;
    int rc = t->rdonly ? TQ_OK : tq__index_sync(t);
    if (rc == TQ_OK)
        rc = tq__ix_key(t->s, idx, key, state, kb, &k, &db);
    if (rc != TQ_OK)
        return rc;
    tq__by *w = calloc(1, sizeof *w);     /* a tq_decl is too big for some stacks */
    if (w == NULL)
        return TQ_ERR_NOMEM;
    w->t = t;
    w->db = db;
    w->state = state;
    w->nruns = db == DB_BY_OFFICE && state < 0 ? TQ_STATE_CANCELLED + 1 : 1;
    rc = tq__by_open(w, kb, k.mv_size, state < 0 ? 0 : state);
    if (rc == TQ_OK)
        rc = tq__by_walk(w, fn, ctx);
    for (int i = 0; i < w->nruns; i++)
        if (w->run[i].c)
            mdb_cursor_close(w->run[i].c);
    free(w);
    return rc;
}

/* ---- counts per office ---- */

typedef struct tq__office_sum {
    char office[5];
    uint64_t count;
    int have;
} tq__office_sum;

static int tq__office_next(tq_txn *t, MDB_cursor *c, MDB_cursor_op op, MDB_val *k)
{
    MDB_val v;
    int rc = mdb_cursor_get(c, k, &v, op);
    if (rc == MDB_NOTFOUND)
        return TQ_ERR_NOTFOUND;
    if (rc != MDB_SUCCESS)
        return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
                   ? tq__fault(t, DB_BY_OFFICE, NULL, "LMDB: %s", mdb_strerror(rc))
                   : tq__mdb(rc);
    const char *bad = tq__key_bad(DB_BY_OFFICE, k);
    return bad ? tq__fault(t, DB_BY_OFFICE, k, "%s", bad) : TQ_OK;
}

int tq_store_each_office(tq_txn *t, int state,
                         int (*fn)(void *ctx, const char *office, uint64_t count),
                         void *ctx)
{
    MDB_cursor *c;
    MDB_val k;
    tq__office_sum sum = {"", 0, 0};
    if (t->s->version < 3)
        return TQ_ERR_VERSION;
    if (state < -1 || state > TQ_STATE_CANCELLED)
        return TQ_ERR_INPUT;
    int rc = t->rdonly ? TQ_OK : tq__index_sync(t);
    if (rc == TQ_OK)
        rc = tq__mdb(mdb_cursor_open(t->txn, t->s->dbi[DB_BY_OFFICE], &c));
    if (rc != TQ_OK)
        return rc;
    for (MDB_cursor_op op = MDB_FIRST; rc == TQ_OK; op = MDB_NEXT_NODUP) {
        rc = tq__office_next(t, c, op, &k);
        if (rc != TQ_OK)
            break;
        const uint8_t *b = k.mv_data;
        if (state >= 0 && b[4] != state)
            continue;
        size_t count = 0;
        rc = tq__mdb(mdb_cursor_count(c, &count));
        if (rc != TQ_OK)
            break;
        if (sum.have && memcmp(sum.office, b, 4) != 0) {
            rc = fn(ctx, sum.office, sum.count);
            sum.count = 0;
        }
        memcpy(sum.office, b, 4);   /* zeros for "", else 4 characters */
        sum.office[4] = '\0';
        sum.count += count;
        sum.have = 1;
    }
    mdb_cursor_close(c);
    if (rc == TQ_ERR_NOTFOUND)
        rc = sum.have ? fn(ctx, sum.office, sum.count) : TQ_OK;
    return rc;
}
