/* tq_store_verify.c - walking the whole store: tq_store_verify() checks every record as
 * a get would and goes on past the bad ones; tq_store_stat() counts. */
#include "tq_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tq__verify {
    tq_txn *t;
    void (*on_bad)(void *ctx, const tq_diag *d);
    void *ctx;
    uint64_t records, bad;
} tq__verify;

static void tq__report(tq__verify *w, int db, const MDB_val *k, const char *what)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    snprintf(d.field, sizeof d.field, "(database)");
    tq__describe(db, k ? k->mv_data : (const uint8_t *)"", k ? k->mv_size : 0, what, d.why,
                 sizeof d.why);
    w->bad++;
    if (w->on_bad)
        w->on_bad(w->ctx, &d);
}

/* What a walk of verify visits: the walk, and the table (and scratch) of its records. */
typedef struct tq__vt {
    tq__verify *w;
    int db;
    tq_decl *d;
} tq__vt;

static int tq__verify_record(void *arg, MDB_val *k, MDB_val *v)
{
    tq__vt *a = arg;
    const tq_store *s = a->w->t->s;
    a->w->records++;
    const char *bad = tq__unseal(s, a->db, k, v);
    if (bad == NULL)
        bad = tq__value_bad(s, a->db, k, v);
    if (bad != NULL)
        tq__report(a->w, a->db, k, bad);
    return 0;
}

/* One table; a structural LMDB error ends its walk (the cursor cannot go on). */
static int tq__verify_table(tq__verify *w, int db)
{
    tq__vt a = {w, db, NULL};
    int lmdb;
    int rc = tq__scan(w->t, db, NULL, 0, tq__verify_record, &a, &lmdb);
    if (rc != TQ_ERR_DBCORRUPT || lmdb == 0)
        return rc;
    char what[96];
    snprintf(what, sizeof what, "LMDB: %s (the rest of this table was not read)",
             mdb_strerror(lmdb));
    tq__report(w, db, NULL, what);
    return TQ_OK;
}

/* A walk of the checks below: a damaged tree is the table walk's to report. */
static int tq__verify_scan(tq__vt *a, tq__scan_fn visit)
{
    int lmdb;
    int rc = tq__scan(a->w->t, a->db, NULL, 0, visit, a, &lmdb);
    return rc == TQ_ERR_DBCORRUPT && lmdb != 0 ? TQ_OK : rc;
}

/* The indexes against decls (STORE.md §3.10): every entry names a sound declaration
 * that has its key, and every declaration has every entry it implies.  Records already
 * reported bad by the table walks are not reported again. */
static int tq__verify_entry(void *arg, MDB_val *k, MDB_val *v)
{
    tq__vt *a = arg;
    if (tq__key_bad(a->db, k) != NULL || tq__index_entry_bad(v) != NULL)
        return 0;
    const char *bad = tq__index_check(a->w->t, a->db, k, v, a->d);
    if (bad) {
        char what[160];
        snprintf(what, sizeof what, "%s ('%.12s')", bad, (const char *)v->mv_data);
        tq__report(a->w, a->db, k, what);
    }
    return 0;
}

static int tq__verify_decl_entries(void *arg, MDB_val *k, MDB_val *v)
{
    tq__vt *a = arg;
    if (tq__unseal(a->w->t->s, DB_DECLS, k, v) != NULL)
        return 0;
    const char *bad = tq__index_missing(a->w->t, k, v);
    if (bad)
        tq__report(a->w, DB_DECLS, k, bad);
    return 0;
}

static int tq__verify_indexes(tq__verify *w)
{
    const int ix[3] = {DB_BY_OFFICE, w->t->s->db_taxid, w->t->s->db_permit};
    tq__vt a = {w, DB_BY_OFFICE, malloc(sizeof *a.d)};
    int rc = a.d ? TQ_OK : TQ_ERR_NOMEM;
    for (int i = 0; i < 3 && rc == TQ_OK; i++) {
        a.db = ix[i];
        rc = tq__verify_scan(&a, tq__verify_entry);
    }
    a.db = DB_DECLS;
    if (rc == TQ_OK)
        rc = tq__verify_scan(&a, tq__verify_decl_entries);
    free(a.d);
    return rc;
}

int tq_store_verify(tq_txn *t, void (*on_bad)(void *ctx, const tq_diag *d), void *ctx,
                    uint64_t *records)
{
    tq__verify w = {t, on_bad, ctx, 0, 0};
    int rc = t->rdonly || !t->s->has_v3 ? TQ_OK : tq__index_sync(t);
    /* the tables of its version (a writer's unfinished upgrade has built part of the
     * next version's: those are not read before it ends) */
    int version = t->s->has_held ? t->s->version : t->s->has_v3 ? 3 : t->s->has_log ? 2 : 1;
    for (int db = 0; db < DB_COUNT && rc == TQ_OK; db++)
        if (tq__db_in(db, version))
            rc = tq__verify_table(&w, db);
    /* during an upgrade the declarations not yet rewritten have no entries */
    if (rc == TQ_OK && t->s->version >= 3)
        rc = tq__verify_indexes(&w);
    if (records)
        *records = w.records;
    if (rc != TQ_OK)
        return rc;
    return w.bad ? TQ_ERR_DBCORRUPT : TQ_OK;
}

/* ---- stat ---- */

static int tq__count_state(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)k;
    uint64_t *by_state = arg;
    /* format 3 sets the high bit of the state byte (STORE.md §3.6) */
    uint8_t state = v->mv_size ? *(const uint8_t *)v->mv_data & 0x7f : 0xff;
    if (state > TQ_STATE_CANCELLED)
        return TQ_ERR_DBCORRUPT;
    by_state[state]++;
    return 0;
}

int tq_store_count(tq_txn *t, tq_store_info *out)
{
    static const int counted[] = {DB_RECEIPTS, DB_COVER, DB_PERMITS, DB_DECLS, DB_JOURNALS};
    uint64_t *const dest[] = {&out->receipts, &out->covers, &out->permits, &out->decls,
                              &out->journals};
    tq_store *s = t->s;
    MDB_envinfo info;
    MDB_stat st;

    memset(out, 0, sizeof *out);
    int rc = mdb_env_info(s->env, &info);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_stat(s->env, &st);
    if (rc == MDB_SUCCESS) {
        out->map_size = info.me_mapsize;
        out->map_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    }
    for (size_t i = 0; i < sizeof counted / sizeof counted[0] && rc == MDB_SUCCESS; i++) {
        rc = mdb_stat(t->txn, s->dbi[counted[i]], &st);
        *dest[i] = st.ms_entries;
    }
    return tq__mdb(rc);
}

int tq_store_stat(tq_store *s, tq_store_info *out)
{
    tq_txn *t;
    memset(out, 0, sizeof *out);
    int err = tq_txn_begin(s, 1, &t);
    if (err != TQ_OK)
        return err;
    err = tq_store_count(t, out);
    /* The state is the first byte of a declaration's value: checked and unsealed like
     * every other read. */
    if (err == TQ_OK)
        err = tq__each(t, DB_DECLS, NULL, 0, tq__count_state, out->by_state);
    tq_txn_abort(t);
    return err;
}
