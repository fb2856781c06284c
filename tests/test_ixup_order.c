/* test_ixup_order.c - the index upkeep's queue (engine/tq_store_index.c) against a
 * model: many puts in one transaction, more changes than one window of the queue holds
 * (TQ__IXQ_MAX, 65536), new declarations appended and re-put with another office,
 * state, declarant or permits -- moved A->B->A and A->B->A->B inside one window, before
 * and after the declaration was committed, and at once after its append -- and many
 * declarations under one key put in descending decl_no.  After each phase every index key lists exactly the model's
 * declarations, in decl_no order, the tables hold exactly the model's number of entries
 * (none lost, none stray), and tq_store_verify() finds nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_rules.h"
#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(ixup_order, "tq_ixup_order", 300);

#define NEW 26000       /* appended in one transaction: ~3.4 changes each, over 65536 */
#define LOW 3000        /* below them, put in descending decl_no under one key */
#define TOP 3000        /* appended last, each bounced at once while the greatest */
#define NDECL (NEW + LOW + TOP)
#define NOFF 4
#define NDCL 300        /* 10 and 13 digits */
#define NPRM 200        /* PRM-1, PRM-10, PRM-100: prefixes of each other */

static const char *const office[NOFF] = {"HN01", "SG02", "DN03", "HP04"};

/* What the model holds of one declaration (put: stored or put in the open txn). */
typedef struct mdecl {
    int put;
    int off, state, dcl;
    int nperm, perm[3];     /* permit numbers of its lines, -1: none; repeats allowed */
} mdecl;

static mdecl *g_m;
static uint64_t g_rng = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (unsigned)(g_rng % n);
}

static void decl_no(int i, char out[13])
{
    /* 0..LOW-1: 100000000000 + i; the rest: 200000000000 + i (above) */
    snprintf(out, 13, "%d%011d", i < LOW ? 1 : 2, i);
}

static void dcl_name(int k, char out[TQ_TAXID_MAX + 1])
{
    if (k % 2)
        snprintf(out, TQ_TAXID_MAX + 1, "01%011d", k);
    else
        snprintf(out, TQ_TAXID_MAX + 1, "01%08d", k);
}

static void m_put(tq_txn *t, int i)
{
    char no[13], dcl[TQ_TAXID_MAX + 1];
    const mdecl *m = &g_m[i];
    decl_no(i, no);
    dcl_name(m->dcl, dcl);
    tq_decl d = tq_test_decl(no, office[m->off], dcl, m->state);
    d.nlines = 3;
    for (int l = 0; l < 3; l++) {
        d.lines[l] = d.lines[0];
        if (l < m->nperm && m->perm[l] >= 0)
            snprintf(d.lines[l].permit, sizeof d.lines[l].permit, "PRM-%d", m->perm[l] % 1000);
    }
    int rc = tq_store_put_decl(t, &d);
    cr_assert_eq(rc, TQ_OK, "put %s: %s", no, tq_strerror(rc));
    g_m[i].put = 1;
}

static void m_random(mdecl *m)
{
    m->off = (int)rnd(NOFF);
    m->state = (int)rnd(TQ_STATE_COUNT);
    m->dcl = (int)rnd(NDCL);
    m->nperm = (int)rnd(4);
    for (int l = 0; l < 3; l++)
        m->perm[l] = rnd(5) == 0 ? -1 : (int)rnd(NPRM);
}

/* Changes one thing of declaration i at random and puts it. */
static void m_change(tq_txn *t, int i)
{
    mdecl *m = &g_m[i];
    switch (rnd(4)) {
    case 0: m->off = (m->off + 1 + (int)rnd(NOFF - 1)) % NOFF; break;
    case 1: m->state = (m->state + 1 + (int)rnd(TQ_STATE_COUNT - 1)) % TQ_STATE_COUNT; break;
    case 2: m->dcl = (int)rnd(NDCL); break;
    default: m->perm[rnd(3)] = (int)rnd(NPRM), m->nperm = 1 + (int)rnd(3); break;
    }
    m_put(t, i);
}

/* A->B->A (and on to B when four) in consecutive puts of declaration i. */
static void m_bounce(tq_txn *t, int i, int four)
{
    mdecl *m = &g_m[i];
    int a = m->off, b = (a + 1) % NOFF, pa = m->perm[0], pb = (pa + 7 + NPRM) % NPRM;
    int da = m->dcl, db = (da + 1) % NDCL;
    for (int k = 0; k < (four ? 4 : 3); k++) {
        m->off = k % 2 ? b : a;
        m->perm[0] = k % 2 ? pb : pa;
        m->dcl = k % 2 ? db : da;
        m_put(t, i);
    }
}

/* The model's declarations under one index key, "no,no,..." in decl_no order. */
typedef struct want {
    char *s;
    size_t n, cap;
} want;

static void want_add(want *w, const char *no)
{
    if (w->n + 14 > w->cap) {
        w->cap = w->cap ? 2 * w->cap : 4096;
        w->s = realloc(w->s, w->cap);
        cr_assert_not_null(w->s);
    }
    if (w->n)
        w->s[w->n++] = ',';
    memcpy(w->s + w->n, no, 12);
    w->n += 12;
    w->s[w->n] = '\0';
}

static int got_add(void *ctx, const tq_decl *d)
{
    want_add(ctx, d->decl_no);
    return 0;
}

static int has_perm(const mdecl *m, int p)
{
    for (int l = 0; l < m->nperm; l++)
        if (m->perm[l] == p)
            return 1;
    return 0;
}

/* Whether declaration i is under (idx, key k). */
static int m_has(const mdecl *m, tq_store_index idx, int k)
{
    if (!m->put)
        return 0;
    if (idx == TQ_INDEX_OFFICE)
        return m->off == k / TQ_STATE_COUNT && m->state == k % TQ_STATE_COUNT;
    return idx == TQ_INDEX_DECLARANT ? m->dcl == k : has_perm(m, k);
}

/* Every key of the three indexes lists the model's declarations (read through t).
 * @return the number of entries the model implies. */
static uint64_t check_lists(tq_txn *t)
{
    static const struct { tq_store_index idx; int nkeys; } ix[3] = {
        {TQ_INDEX_OFFICE, NOFF * TQ_STATE_COUNT}, {TQ_INDEX_DECLARANT, NDCL},
        {TQ_INDEX_PERMIT, NPRM}};
    uint64_t entries = 0;
    for (int x = 0; x < 3; x++)
        for (int k = 0; k < ix[x].nkeys; k++) {
            want w = {0}, g = {0};
            char key[24];
            int state = -1;
            if (ix[x].idx == TQ_INDEX_OFFICE)
                snprintf(key, sizeof key, "%s", office[k / TQ_STATE_COUNT]),
                    state = k % TQ_STATE_COUNT;
            else if (ix[x].idx == TQ_INDEX_DECLARANT)
                dcl_name(k, key);
            else
                snprintf(key, sizeof key, "PRM-%d", k % 1000);
            for (int i = 0; i < NDECL; i++)     /* decl_no order: LOW below NEW */
                if (m_has(&g_m[i], ix[x].idx, k)) {
                    char no[13];
                    decl_no(i, no);
                    want_add(&w, no);
                    entries++;
                }
            int rc = tq_store_each_decl_by(t, ix[x].idx, key, state, got_add, &g);
            cr_assert_eq(rc, TQ_OK, "list %s: %s", key, tq_strerror(rc));
            cr_assert(w.n == g.n && (w.n == 0 || memcmp(w.s, g.s, w.n) == 0),
                      "key %s state %d: %zu bytes listed, %zu wanted", key, state, g.n, w.n);
            free(w.s);
            free(g.s);
        }
    return entries;
}

/* The entries stored in the three index tables (raw LMDB, the store closed). */
static uint64_t count_entries(void)
{
    static const char *const name[3] = {"by_office", "era_taxid", "era_permit"};
    MDB_env *env;
    MDB_txn *txn;
    uint64_t n = 0;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    for (int i = 0; i < 3; i++) {
        MDB_dbi dbi;
        MDB_stat st;
        cr_assert_eq(mdb_dbi_open(txn, name[i], 0, &dbi), 0);
        cr_assert_eq(mdb_stat(txn, dbi, &st), 0);
        n += st.ms_entries;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* Lists, entry count and tq_store_verify() after a committed phase. */
static void check_all(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 1);
    uint64_t want = check_lists(t);
    int rc = tq_store_verify(t, NULL, NULL, NULL);
    tq_txn_abort(t);
    tq_store_close(s);
    cr_assert_eq(rc, TQ_OK, "verify: %s", tq_strerror(rc));
    uint64_t got = count_entries();
    cr_assert_eq(got, want, "index tables hold %llu entries, the model %llu",
                 (unsigned long long)got, (unsigned long long)want);
}

Test(ixup_order, windows_of_appends_moves_and_descending_puts_match_the_model)
{
    g_m = calloc(NDECL, sizeof *g_m);
    cr_assert_not_null(g_m);
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);

    /* phase 1, one transaction: appends, each followed now and then by a change of a
     * declaration put before (most in the same window), some bounced A->B->A */
    tq_txn *t = tq_test_begin(s, 0);
    for (int i = LOW; i < LOW + NEW; i++) {
        m_random(&g_m[i]);
        m_put(t, i);
        if (rnd(4) == 0)
            m_change(t, LOW + (int)rnd((unsigned)(i - LOW + 1)));
        if (i % 997 == 0)
            m_bounce(t, LOW + (int)rnd((unsigned)(i - LOW + 1)), i % 2);
    }
    /* then LOW declarations below them, descending, all under one key each index */
    for (int i = LOW - 1; i >= 0; i--) {
        g_m[i] = (mdecl){0, 1, TQ_STATE_HELD, 3, 2, {5, 5, -1}};
        m_put(t, i);
    }
    tq_test_commit(t);
    tq_store_close(s);
    check_all();

    /* phase 2: changes of committed declarations, bounces included, and a read of the
     * indexes in the middle of the transaction (it applies what is queued) */
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    t = tq_test_begin(s, 0);
    for (int k = 0; k < 30000; k++) {
        int i = (int)rnd(NDECL);
        if (k % 101 == 0)
            m_bounce(t, i, k % 2);
        else
            m_change(t, i);
        if (k == 15000)
            (void)check_lists(t);
    }
    tq_test_commit(t);
    tq_store_close(s);
    check_all();

    /* phase 3: appends only, every other one moved A->B->A->B at once: under each key
     * the changes ascend by decl_no, the entry's own changes adjacent (no sort) */
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    t = tq_test_begin(s, 0);
    for (int i = LOW + NEW; i < NDECL; i++) {
        m_random(&g_m[i]);
        m_put(t, i);
        if (i % 2)
            m_bounce(t, i, 1);
    }
    tq_test_commit(t);
    tq_store_close(s);
    check_all();
    free(g_m);
}
