/* tq_store_upgrade.c - version 2 -> 3, 3 -> 4 and 4 -> 5 in place, in batches
 * (STORE.md §3.1), and the backfill of office, kind and line values from journals.
 * (3 -> 4 fills the held table from by_office: tq__upgrade_held() below,
 * tq__held_build() in tq_store_held.c; 4 -> 5 builds era_taxid and era_permit from
 * decls: tq__upgrade_era().)
 *
 * DESIGN.  A version 2 database may hold millions of declarations: more than one LMDB
 * transaction may dirty, and more than anyone wants to redo after a kill.  So the
 * upgrade walks decls in key order, TQ__UPGRADE_BATCH declarations per transaction:
 * each is rewritten in format 3 (the put adds its index entries, as a format 2 value
 * has none), one TQ_CHANGE_UPGRADE change is appended to the feed, and the batch's last
 * decl_no is written to meta `upgrade` -- all in the batch's transaction.  A kill at any
 * instant leaves the database at a batch boundary, and the next writer's open goes on
 * after meta `upgrade`: no declaration is rewritten twice and the feed has exactly one
 * change per declaration, in decl_no order.  Only when no declaration is left does a
 * last transaction delete `upgrade` and write version 3: before it, readers see
 * version 2 (declarations of both formats read alike; indexes and feed refused).
 */
#include "tq_store_int.h"

#include <stdlib.h>
#include <string.h>

#define TQ__UPGRADE_BATCH 20000     /* declarations per transaction; the environment's
                                     * TQ_UPGRADE_BATCH (tests) may set fewer */
#define TQ__BACKFILL_BATCH 50000    /* journal events per transaction */

/* The batch size: TQ__UPGRADE_BATCH, or fewer from the environment (tests). */
static uint64_t tq__batch_max(void)
{
    uint64_t max = TQ__UPGRADE_BATCH;
    const char *env = getenv("TQ_UPGRADE_BATCH");
    if (env && strtoull(env, NULL, 10) > 0 && strtoull(env, NULL, 10) < max)
        max = strtoull(env, NULL, 10);
    return max;
}

static int tq__meta_get_marker(tq_txn *t, char out[TQ_DECL_NO_LEN + 1])
{
    MDB_val k = {7, "upgrade"}, v;
    int rc = tq__get(t, DB_META, &k, &v);
    if (rc != TQ_OK)
        return rc;
    MDB_val dk = {TQ_DECL_NO_LEN, v.mv_data};
    if (v.mv_size != TQ_DECL_NO_LEN || tq__key_bad(DB_DECLS, &dk) != NULL)
        return tq__fault(t, DB_META, &k, "value is not a decl_no");
    memcpy(out, v.mv_data, TQ_DECL_NO_LEN);
    out[TQ_DECL_NO_LEN] = '\0';
    return TQ_OK;
}

/* What a batch does to each declaration (k, v: its sound, unsealed stored value). */
typedef int (*tq__upgrade_fn)(tq_txn *t, const MDB_val *k, const MDB_val *v, void *ctx);

/* The next up to max declarations after `after` ("" for the first), in t, in key order:
 * fn on each.  *n gets how many; last the last one.  fn may put into any table (the
 * cursor is put back on the key after each). */
static int tq__upgrade_walk(tq_txn *t, const char *after, char last[TQ_DECL_NO_LEN + 1],
                            uint64_t max, uint64_t *n, tq__upgrade_fn fn, void *ctx)
{
    MDB_cursor *c;
    MDB_val k = {strlen(after), (void *)after}, v;
    int rc = tq__mdb(mdb_cursor_open(t->txn, t->s->dbi[DB_DECLS], &c));
    MDB_cursor_op op = k.mv_size ? MDB_SET_RANGE : MDB_FIRST;
    *n = 0;
    while (rc == TQ_OK && *n < max) {
        int mrc = mdb_cursor_get(c, &k, &v, op);
        op = MDB_NEXT;
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != MDB_SUCCESS) {
            rc = tq__mdb(mrc);
            break;
        }
        if (after[0] && k.mv_size == TQ_DECL_NO_LEN && memcmp(k.mv_data, after, 12) == 0)
            continue;
        const char *bad = tq__unseal(t->s, DB_DECLS, &k, &v);
        if (bad) {
            rc = tq__fault(t, DB_DECLS, &k, "%s", bad);
            break;
        }
        memcpy(last, k.mv_data, TQ_DECL_NO_LEN);
        last[TQ_DECL_NO_LEN] = '\0';
        rc = fn(t, &k, &v, ctx);
        k.mv_size = TQ_DECL_NO_LEN;
        k.mv_data = last;
        if (rc == TQ_OK)
            rc = tq__mdb(mdb_cursor_get(c, &k, &v, MDB_SET));
        (*n)++;
    }
    mdb_cursor_close(c);
    return rc;
}

/* 2 -> 3, one declaration: rewritten in format 3 (the put adds its index entries), and
 * its change in the feed.  ctx: a tq_decl to decode into. */
static int tq__upgrade_decl(tq_txn *t, const MDB_val *k, const MDB_val *v, void *ctx)
{
    tq_decl *d = ctx;
    const char *bad = tq__decl_decode_v(k, v, d);
    if (bad)
        return tq__fault(t, DB_DECLS, k, "%s", bad);
    int rc = tq_store_put_decl(t, d);
    if (rc == TQ_OK && d->state != TQ_STATE_PENDING) {
        tq_change ch = {.state = d->state, .manual = d->manual,
                        .cause = TQ_CHANGE_UPGRADE, .reasons = d->reasons,
                        .version = d->version};
        memcpy(ch.decl_no, d->decl_no, sizeof ch.decl_no);
        rc = tq__add_change(t, &ch);
    }
    return rc;
}

/* What a marked step's last transaction does besides deleting the marker and writing
 * its version (NULL: nothing). */
typedef int (*tq__upgrade_last_fn)(tq_txn *t);

/* One batch of a step marked by meta `upgrade` (2 -> 3, 4 -> 5), in its own
 * transaction: fn on the declarations after the marker, then the marker moved on; a
 * batch that finds no declaration left deletes it, runs last and writes version (the
 * version is written last).  *done when no declaration was left. */
static int tq__upgrade_step(tq_store *s, tq__upgrade_fn fn, void *ctx,
                            tq__upgrade_last_fn last_fn, uint32_t version,
                            uint64_t *count, int *done, tq_diag *dg)
{
    tq_txn *t;
    char after[TQ_DECL_NO_LEN + 1] = "", last[TQ_DECL_NO_LEN + 1];
    uint64_t n = 0;
    int rc = tq_txn_begin(s, 0, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq__meta_get_marker(t, after);
    if (rc == TQ_ERR_NOTFOUND) {
        after[0] = '\0';
        rc = TQ_OK;
    }
    if (rc == TQ_OK)
        rc = tq__upgrade_walk(t, after, last, tq__batch_max(), &n, fn, ctx);
    MDB_val mk = {7, "upgrade"};
    if (rc == TQ_OK && n > 0) {
        rc = tq__put(t, DB_META, &mk, last, TQ_DECL_NO_LEN, 0);
    } else if (rc == TQ_OK) {
        uint8_t v[4];
        MDB_val vk = {7, "version"};
        tq_le_put32(v, version);
        rc = tq__del(t, DB_META, &mk);
        if (rc == TQ_ERR_NOTFOUND)
            rc = TQ_OK;
        if (rc == TQ_OK && last_fn != NULL)
            rc = last_fn(t);
        if (rc == TQ_OK)
            rc = tq__put(t, DB_META, &vk, v, sizeof v, 0);
    }
    rc = tq__txn_finish(t, rc, dg, tq_txn_commit);
    if (rc == TQ_OK) {
        *count += n;
        *done = n == 0;
    }
    return rc;
}

/* A marked step's batches until done, growing the map (and redoing the batch) when it
 * is full; then s is at version. */
static int tq__upgrade_marked(tq_store *s, tq__upgrade_fn fn, void *ctx,
                              tq__upgrade_last_fn last_fn, uint32_t version,
                              uint64_t *count, tq_diag *dg)
{
    int rc = TQ_OK, done = 0;
    while (rc == TQ_OK && !done) {
        rc = tq__upgrade_step(s, fn, ctx, last_fn, version, count, &done, dg);
        if (rc == TQ_ERR_MAPFULL)
            rc = tq_store_grow(s);
    }
    if (rc == TQ_OK)
        s->version = (int)version;
    return rc;
}

/* 2 -> 3: every declaration rewritten (then 3 -> 4, tq__upgrade_held). */
static int tq__upgrade_decls(tq_store *s, tq_diag *dg)
{
    tq_decl *d = malloc(sizeof *d);
    int rc = d ? tq__upgrade_marked(s, tq__upgrade_decl, d, NULL, 3, &s->up.decls, dg)
               : TQ_ERR_NOMEM;
    free(d);
    return rc;
}

/* The start of a build of tables derived from the others (held for 3 -> 4, the era
 * indexes for 4 -> 5): what a killed build left of them, and its marker, are dropped in
 * one transaction, and the build starts over.  Between the kill and this run a writer
 * of the older format may have changed declarations the build had already done, and
 * it kept none of these tables: going on from where the build stopped would keep their
 * stale rows and entries.  A kill costs the build so far (seconds for millions of
 * declarations), never a wrong row. */
static int tq__start_over_once(tq_store *s, const int *dbs, size_t n, tq_diag *dg)
{
    tq_txn *t;
    MDB_stat st;
    MDB_val mk = {7, "upgrade"}, v;
    int left = 0, rc = tq_txn_begin(s, 0, &t);
    if (rc != TQ_OK)
        return rc;
    for (size_t i = 0; i < n && rc == TQ_OK; i++) {
        rc = tq__mdb(mdb_stat(t->txn, s->dbi[dbs[i]], &st));
        left |= st.ms_entries != 0;
    }
    if (rc == TQ_OK && (rc = tq__get(t, DB_META, &mk, &v)) != TQ_ERR_NOTFOUND)
        left |= rc == TQ_OK;
    rc = rc == TQ_ERR_NOTFOUND ? TQ_OK : rc;
    if (rc == TQ_OK && !left) {
        tq_txn_abort(t);
        return TQ_OK;
    }
    if (rc == TQ_OK && (rc = tq__del(t, DB_META, &mk)) == TQ_ERR_NOTFOUND)
        rc = TQ_OK;
    for (size_t i = 0; i < n && rc == TQ_OK; i++)
        rc = tq__mdb(mdb_drop(t->txn, s->dbi[dbs[i]], 0));
    return tq__txn_finish(t, rc, dg, tq_txn_commit);
}

static int tq__upgrade_start_over(tq_store *s, const int *dbs, size_t n, tq_diag *dg)
{
    int rc;
    while ((rc = tq__start_over_once(s, dbs, n, dg)) == TQ_ERR_MAPFULL)
        if ((rc = tq_store_grow(s)) != TQ_OK)
            break;
    return rc;
}

/* 3 -> 4: the held table, TQ__UPGRADE_BATCH rows per transaction in key order (a kill
 * leaves it at a batch boundary; the next writer starts it over), then version 4 in a
 * last transaction.  Until then readers see version 3 and list through by_office, and
 * nothing but this build writes held (has_held is off). */
static int tq__upgrade_held(tq_store *s, tq_diag *dg)
{
    static const int built[] = {DB_HELD};
    int rc = tq__upgrade_start_over(s, built, 1, dg), done = 0;
    uint64_t max = tq__batch_max();
    while (rc == TQ_OK && !done) {
        tq_txn *t;
        uint64_t n = 0;
        rc = tq_txn_begin(s, 0, &t);
        if (rc != TQ_OK)
            break;
        rc = tq__held_build(t, max, &n);
        if (rc == TQ_OK && n < max) {
            uint8_t version[4];
            MDB_val vk = {7, "version"};
            tq_le_put32(version, 4);
            rc = tq__put(t, DB_META, &vk, version, sizeof version, 0);
        }
        rc = tq__txn_finish(t, rc, dg, tq_txn_commit);
        if (rc == TQ_OK)
            done = n < max;
        if (rc == TQ_ERR_MAPFULL)
            rc = tq_store_grow(s);
    }
    if (rc == TQ_OK) {
        s->version = 4;
        s->has_held = 1;
    }
    return rc;
}

/* 4 -> 5, one declaration: its era entries queued. */
static int tq__upgrade_era_one(tq_txn *t, const MDB_val *k, const MDB_val *v, void *ctx)
{
    (void)ctx;
    return tq__index_era_add(t, k, v);
}

/* The last transaction of 4 -> 5 also drops the old indexes. */
static int tq__era_drop_old(tq_txn *t)
{
    int rc = tq__mdb(mdb_drop(t->txn, t->s->dbi[DB_BY_TAXID], 1));
    return rc == TQ_OK ? tq__mdb(mdb_drop(t->txn, t->s->dbi[DB_BY_PERMIT], 1)) : rc;
}

/* 4 -> 5: era_taxid and era_permit (STORE.md §3.10) from decls, TQ__UPGRADE_BATCH
 * declarations per transaction in key order, after the decl_no in meta `upgrade` (the
 * last one done, written in its batch's transaction; a kill leaves the build at a batch
 * boundary, and the next writer starts it over), then a last transaction drops by_taxid
 * and by_permit and writes version 5.  Until then readers see version 4 and read
 * by_taxid and by_permit, which nothing changes meanwhile: this runs in the writer's
 * open, before any put of a declaration. */
static int tq__upgrade_era(tq_store *s, tq_diag *dg)
{
    static const int built[] = {DB_ERA_TAXID, DB_ERA_PERMIT};
    uint64_t n = 0;
    int rc = tq__upgrade_start_over(s, built, 2, dg);
    if (rc == TQ_OK)
        rc = tq__upgrade_marked(s, tq__upgrade_era_one, NULL, tq__era_drop_old, 5, &n, dg);
    if (rc == TQ_OK) {
        s->db_taxid = DB_ERA_TAXID;
        s->db_permit = DB_ERA_PERMIT;
    }
    return rc;
}

/* ---- backfill from journals ---- */

/* Fills what d lacks from ev.  @return 0 (d unchanged), 1 (office and kind filled:
 * once per declaration, at its DECL), 2 (line values only). */
static int tq__backfill_one(tq_decl *d, const tq_event *ev)
{
    int changed = 0;
    if (ev->ev == TQ_EV_DECL && d->office[0] == '\0') {
        memcpy(d->office, ev->office, sizeof d->office);
        memcpy(d->kind, ev->kind, sizeof d->kind);
        changed = 1;
    }
    /* Lines as stored are the last ones declared: a DECL or AMEND with exactly those
     * lines (hs, permit, qty) gives their values; a later one in the journal wins. */
    if ((ev->ev == TQ_EV_DECL || ev->ev == TQ_EV_AMEND) && tq_decl_same_lines(d, ev))
        for (unsigned i = 0; i < d->nlines; i++)
            if (d->lines[i].value != ev->lines[i].value) {
                d->lines[i].value = ev->lines[i].value;
                changed = changed ? changed : 2;
            }
    return changed;
}

typedef struct tq__bf {
    tq_store *s;
    tq_journal_reader *r;
    tq_event ev;
    tq_decl d;
    uint64_t filled;
} tq__bf;

/* Up to TQ__BACKFILL_BATCH events of the journal in one transaction. */
static int tq__backfill_step(tq__bf *b, int *eof, tq_diag *dg)
{
    tq_txn *t;
    uint64_t filled = 0;
    int rc = tq_txn_begin(b->s, 0, &t);
    if (rc != TQ_OK)
        return rc;
    for (int i = 0; i < TQ__BACKFILL_BATCH && rc == TQ_OK; i++) {
        rc = tq_journal_next_event(b->r, &b->ev, NULL);
        if (rc == TQ_ERR_EOF) {
            *eof = 1;
            rc = TQ_OK;
            break;
        }
        if (rc != TQ_OK) {
            tq_diag_set(dg, "(journal)", "event after seq %llu: %s",
                        (unsigned long long)b->ev.seq, tq_strerror(rc));
            break;
        }
        if (b->ev.ev != TQ_EV_DECL && b->ev.ev != TQ_EV_AMEND)
            continue;
        rc = tq_store_get_decl(t, b->ev.decl_no, &b->d);
        if (rc == TQ_ERR_NOTFOUND) {
            rc = TQ_OK;
            continue;
        }
        int how = rc == TQ_OK ? tq__backfill_one(&b->d, &b->ev) : 0;
        filled += how == 1;     /* a declaration counts once, when its office is filled */
        if (how)
            rc = tq_store_put_decl(t, &b->d);
    }
    rc = tq__txn_finish(t, rc, dg, tq_txn_commit);
    if (rc == TQ_OK)
        b->filled += filled;
    return rc;
}

static int tq__backfill(tq_store *s, const char *path, tq_diag *dg)
{
    tq__bf *b = calloc(1, sizeof *b);
    int rc = b ? TQ_OK : TQ_ERR_NOMEM, eof = 0;
    if (rc != TQ_OK)
        return rc;
    b->s = s;
    /* A full map restarts the journal: filling is idempotent, what is filled stays. */
    while (rc == TQ_OK && !eof) {
        if (b->r == NULL)
            rc = tq_journal_open_diag(path, &b->r, dg);
        if (rc == TQ_OK)
            rc = tq__backfill_step(b, &eof, dg);
        if (rc == TQ_ERR_MAPFULL) {
            tq_journal_close(b->r);
            b->r = NULL;
            rc = tq_store_grow(s);
        }
    }
    tq_journal_close(b->r);
    s->up.backfilled += b->filled;
    free(b);
    return rc;
}

int tq_store_upgrade(tq_store *s, const char *const *journals, size_t njournals,
                     tq_store_upgrade_stats *st, tq_diag *d)
{
    int rc = TQ_OK;
    if (s->rdonly)
        return TQ_ERR_STORE;
    if (s->up.from_version == 0)
        s->up.from_version = (uint32_t)s->version;
    if (s->version < 3)
        rc = tq__upgrade_decls(s, d);
    if (rc == TQ_OK && s->version == 3)
        rc = tq__upgrade_held(s, d);
    if (rc == TQ_OK && s->version == 4)
        rc = tq__upgrade_era(s, d);
    for (size_t i = 0; i < njournals && rc == TQ_OK; i++)
        rc = tq__backfill(s, journals[i], d);
    if (st)
        *st = s->up;
    return rc;
}
