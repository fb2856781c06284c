/* tq_store_walk.c - the one cursor loop of the store: every walk of a table (the
 * tq_store_each_*() of each table, the held table's walk under an office, the checks of
 * tq_store_verify()) opens its cursor, steps, stops, maps LMDB's errors and closes here.
 *
 * Three layers, each on the one below: tq__scan() hands over records as stored (the
 * checks of verify, which go on past a bad record); tq__each() checks each key and
 * unseals each value first, and a bad one ends the walk as a fault; tq__walk_run()
 * decodes each record into the caller's type and calls the caller's typed callback.
 */
#include "tq_store_int.h"

#include <string.h>

int tq__scan(tq_txn *t, int db, const MDB_val *from, size_t under, tq__scan_fn visit,
             void *arg, int *lmdb)
{
    MDB_cursor *c;
    MDB_val k = {0, NULL}, v;
    if (lmdb)
        *lmdb = 0;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    if (from)
        k = *from;
    for (MDB_cursor_op op = from ? MDB_SET_RANGE : MDB_FIRST;; op = MDB_NEXT) {
        rc = mdb_cursor_get(c, &k, &v, op);
        if (rc != MDB_SUCCESS) {
            if (rc != MDB_NOTFOUND && lmdb)
                *lmdb = rc;
            rc = rc == MDB_NOTFOUND ? TQ_OK : tq__mdb(rc);
            break;
        }
        if (under && (k.mv_size < under || memcmp(k.mv_data, from->mv_data, under) != 0)) {
            rc = TQ_OK;
            break;
        }
        rc = visit(arg, &k, &v);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc;
}

static int tq__edge(tq_txn *t, int db, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc != MDB_SUCCESS)
        return tq__mdb(rc);
    rc = mdb_cursor_get(c, k, v, op);
    mdb_cursor_close(c);
    return tq__mdb(rc);
}

int tq__last(tq_txn *t, int db, MDB_val *k, MDB_val *v)
{
    return tq__edge(t, db, k, v, MDB_LAST);
}

int tq__first(tq_txn *t, int db, MDB_val *k, MDB_val *v)
{
    return tq__edge(t, db, k, v, MDB_FIRST);
}

typedef struct tq__each_arg {
    tq_txn *t;
    int db;
    tq__visit visit;
    void *arg;
} tq__each_arg;

static int tq__each_visit(void *arg, MDB_val *k, MDB_val *v)
{
    tq__each_arg *a = arg;
    const char *bad = tq__unseal(a->t->s, a->db, k, v);
    return bad ? tq__fault(a->t, a->db, k, "%s", bad) : a->visit(a->arg, k, v);
}

/* Entries are checked and decoded before the callback sees them, so a callback that
 * writes through the same transaction never holds a pointer into a page. */
int tq__each(tq_txn *t, int db, const MDB_val *from, size_t under, tq__visit visit,
             void *arg)
{
    tq__each_arg a = {t, db, visit, arg};
    int lmdb;
    int rc = tq__scan(t, db, from, under, tq__each_visit, &a, &lmdb);
    if (lmdb == MDB_CORRUPTED || lmdb == MDB_PAGE_NOTFOUND)
        rc = tq__fault(t, db, NULL, "LMDB: %s", mdb_strerror(lmdb));
    return rc;
}

/* The caller's callback, by table: each table has one type of record. */
static int tq__walk_call(tq_txn *t, const tq__walk *w)
{
    switch (w->db) {
    case DB_DECLS:
        return w->fn.decl(w->ctx, w->item);
    case DB_RECEIPTS:
        return w->fn.payment(w->ctx, w->item);
    case DB_PERMITS: {
        const tq_permit *p = w->item;
        uint64_t used;
        int rc = tq_store_get_used(t, p->permit_no, &used);
        return rc != TQ_OK ? rc : w->fn.permit(w->ctx, p, used);
    }
    case DB_JOURNALS:
        return w->fn.journal(w->ctx, w->item);
    case DB_GAPS:
        return w->fn.gap(w->ctx, w->item);
    case DB_LEDGER:
        return w->fn.ledger(w->ctx, w->item);
    case DB_CHANGES:
        return w->fn.change(w->ctx, w->item);
    }
    return TQ_ERR_STORE;
}

typedef struct tq__walk_arg {
    tq_txn *t;
    const tq__walk *w;
} tq__walk_arg;

static int tq__walk_visit(void *arg, const MDB_val *k, const MDB_val *v)
{
    const tq__walk_arg *a = arg;
    const tq__walk *w = a->w;
    memset(w->item, 0, w->size);    /* every byte defined, padding included */
    const char *bad = w->decode(k, v, w->item);
    return bad ? tq__fault(a->t, w->db, k, "%s", bad) : tq__walk_call(a->t, w);
}

int tq__walk_run(tq_txn *t, const tq__walk *w, const MDB_val *from, size_t under)
{
    tq__walk_arg a = {t, w};
    return tq__each(t, w->db, from, under, tq__walk_visit, &a);
}
