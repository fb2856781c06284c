/* tq_store_check.c - the whole-database check: file, records, then cross-checks.
 *
 * DESIGN.  The cross-checks need sums per declaration (receipts -> cover) and per
 * permit (cleared lines -> use), but the tables are ordered by receipt_no and decl_no,
 * not by what is summed.  Sums go into one open-addressing table whose size is fixed by
 * opts->mem_max; keys are split by hash into as many passes as the table needs (the
 * counts come from tq_store_count()), so memory never depends on the database's size.
 * Guarantees are compared through a digest: sum(amount * H(day)) is the same whether
 * the guarantees of a day are added one by one (receipts) or merged first (cover).
 */
#include "tq_store_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "tq_num.h"
#include "tq_store.h"
#include "tq_store_held.h"

#define SC_MEM_DEFAULT (64u << 20)
#define SC_FUTURE_SLACK (86400 * 2)     /* clock skew allowed on applied_at, skipped_at */

typedef unsigned __int128 sc_u128;

typedef struct sc_ent {
    uint8_t len;                /* 0: free slot */
    char key[TQ_PERMIT_MAX];
    sc_u128 a, b;               /* PAY sum and guarantee sum; or cleared quantity */
    uint64_t digest, used;      /* guarantee digest; or the permit's stored use */
    uint8_t seen;
} sc_ent;

typedef struct sc {
    tq_txn *t;
    tq_store_check_report *rep;
    uint64_t max_problems;
    void (*on_problem)(void *ctx, const tq_check_problem *p);
    void *ctx;
    tq_diag *d;
    sc_ent *tab;
    size_t cap;                 /* slots, a power of two */
    size_t per_pass;            /* keys a pass may hold: cap / 2 */
    uint64_t pass, npasses;
    tq_guarantee *guar;
    size_t guar_cap;
    int err;                    /* a store error that ends the cross-checks */
} sc;

/* ---- problems ---- */

static void sc_problem(sc *c, const char *table, const char *key, size_t keylen,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void sc_problem(sc *c, const char *table, const char *key, size_t keylen,
                       const char *fmt, ...)
{
    char what[320], q[80] = "";
    va_list ap;
    if (c->rep->problems >= c->max_problems) {
        c->rep->problems++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (key != NULL)
        tq_diag_quote(key, keylen, q, sizeof q);
    if (c->rep->problems == 0 && c->d != NULL) {
        snprintf(c->d->field, sizeof c->d->field, "(database)");
        if (snprintf(c->d->why, sizeof c->d->why, "table '%s'%s%s%s: %s", table,
                     q[0] ? ", key '" : "", q, q[0] ? "'" : "", what) < 0)
            c->d->why[0] = '\0';
    }
    c->rep->problems++;
    if (c->on_problem != NULL) {
        tq_check_problem p = { table, q, what };
        c->on_problem(c->ctx, &p);
    }
}

/* sc_store_error() - a walk stopped on a store error: name it (through the store's
 * fault report when there is one) and end the cross-checks. */
static void sc_store_error(sc *c, int rc, const char *during)
{
    tq_diag fd;
    memset(&fd, 0, sizeof fd);
    tq_txn_fault(c->t, &fd);
    sc_problem(c, "records", NULL, 0, "%s stopped: %s%s%s", during, tq_strerror(rc),
               fd.why[0] ? ": " : "", fd.why);
    c->err = rc;
}

/* ---- the sum table ---- */

static uint64_t sc_hash(const char *k, size_t n)
{
    return XXH3_64bits(k, n);
}

/* sc_part() - whether key k belongs to this pass. */
static int sc_part(const sc *c, const char *k, size_t n)
{
    return c->npasses <= 1 || (sc_hash(k, n) >> 32) % c->npasses == c->pass;
}

static sc_ent *sc_find(sc *c, const char *k, size_t n, int insert)
{
    size_t i = (size_t)sc_hash(k, n) & (c->cap - 1);
    for (;; i = (i + 1) & (c->cap - 1)) {
        sc_ent *e = &c->tab[i];
        if (e->len == 0) {
            if (!insert)
                return NULL;
            e->len = (uint8_t)n;
            memcpy(e->key, k, n);
            return e;
        }
        if (e->len == n && memcmp(e->key, k, n) == 0)
            return e;
    }
}

static void sc_clear(sc *c)
{
    memset(c->tab, 0, c->cap * sizeof *c->tab);
}

static int sc_alloc(sc *c, size_t mem_max)
{
    size_t cap = 1024;
    while (cap * 2 * sizeof(sc_ent) <= mem_max)
        cap *= 2;
    c->tab = calloc(cap, sizeof *c->tab);
    if (c->tab == NULL)
        return TQ_ERR_NOMEM;
    c->cap = cap;
    c->per_pass = cap / 2;      /* load factor 1/2 at most: probes stay short */
    return TQ_OK;
}

static uint64_t sc_passes(const sc *c, uint64_t keys)
{
    return keys == 0 ? 1 : (keys + c->per_pass - 1) / c->per_pass;
}

/* ---- declarations: fields that must agree ---- */

static void sc_decl_fields(sc *c, const tq_decl *d)
{
    const char *k = d->decl_no;
    uint32_t r = d->reasons;
    if (d->state == TQ_STATE_PENDING)
        sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "state PENDING is never stored");
    if (d->manual && d->state != TQ_STATE_CLEARED)
        sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "manual clearance but state %s",
                   tq_state_name(d->state) ? tq_state_name(d->state) : "?");
    if ((d->state == TQ_STATE_CLEARED && !d->manual) || d->state == TQ_STATE_REJECTED ||
        d->state == TQ_STATE_CANCELLED) {
        if (r != 0 || d->tax_short != 0)
            sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "state %s with reasons 0x%x and "
                       "tax_short %llu", tq_state_name(d->state), r,
                       (unsigned long long)d->tax_short);
        return;
    }
    if (d->state == TQ_STATE_HELD && r == 0)
        sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "HELD without a reason");
    if (((r & TQ_R_TAX_SHORT) != 0) != (d->tax_short != 0) || d->tax_short > d->tax_due)
        sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "tax_short %llu (tax_due %llu) does not "
                   "agree with reasons 0x%x", (unsigned long long)d->tax_short,
                   (unsigned long long)d->tax_due, r);
    if (d->manual && (r & (TQ_R_AWAIT_OFFICER | TQ_R_PERMIT_QUOTA)) != 0)
        sc_problem(c, "decls", k, TQ_DECL_NO_LEN, "manual clearance with discrepancies "
                   "0x%x (AWAIT_OFFICER or PERMIT_QUOTA are never kept)", r);
}

/* ---- covers against receipts ---- */

static uint64_t sc_day_hash(int32_t day)
{
    return XXH3_64bits(&day, sizeof day) | 1;
}

static int sc_add_receipt(void *ctx, const tq_payment *p)
{
    sc *c = ctx;
    sc_ent *e;
    if (c->pass == 0)
        c->rep->receipts++;
    if (!sc_part(c, p->decl_no, TQ_DECL_NO_LEN))
        return 0;
    e = sc_find(c, p->decl_no, TQ_DECL_NO_LEN, 1);
    if (p->kind == TQ_PAY) {
        e->a += p->amount;
    } else {
        e->b += p->amount;
        e->digest += p->amount * sc_day_hash(p->valid_until);
    }
    return 0;
}

/* sc_cover_of() - compare the stored cover of decl_no with e (NULL: no receipts). */
static void sc_cover_of(sc *c, const char *decl_no, const sc_ent *e)
{
    tq_cover cv;
    sc_u128 gsum = 0, pay = e ? e->a : 0, gexp = e ? e->b : 0;
    uint64_t digest = 0, pay_stored = pay > UINT64_MAX ? UINT64_MAX : (uint64_t)pay;
    int rc = tq_store_get_cover(c->t, decl_no, &cv, &c->guar, &c->guar_cap);
    if (rc != TQ_OK) {
        sc_store_error(c, rc, "reading covers");
        return;
    }
    for (uint32_t i = 0; i < cv.nguar; i++) {
        gsum += cv.guar[i].amount;
        digest += cv.guar[i].amount * sc_day_hash(cv.guar[i].valid_until);
    }
    if (e == NULL && (cv.pay_total != 0 || cv.nguar != 0)) {
        sc_problem(c, "cover", decl_no, TQ_DECL_NO_LEN, "a cover (PAY %llu, %u guarantee "
                   "days) but no receipt", (unsigned long long)cv.pay_total, cv.nguar);
    } else if (cv.pay_total != pay_stored) {
        sc_problem(c, "cover", decl_no, TQ_DECL_NO_LEN, "PAY total %llu, but its receipts "
                   "add up to %llu", (unsigned long long)cv.pay_total,
                   (unsigned long long)pay_stored);
    } else if (gsum != gexp || digest != (e ? e->digest : 0)) {
        sc_problem(c, "cover", decl_no, TQ_DECL_NO_LEN, "guarantees (%u days) differ from "
                   "the GUARANTEE receipts", cv.nguar);
    }
}

static int sc_decl_cover(void *ctx, const tq_decl *d)
{
    sc *c = ctx;
    if (sc_part(c, d->decl_no, TQ_DECL_NO_LEN)) {
        sc_ent *e = sc_find(c, d->decl_no, TQ_DECL_NO_LEN, 0);
        if (e != NULL)
            e->seen = 1;
        else
            sc_cover_of(c, d->decl_no, NULL);   /* a declaration without receipts */
    }
    return c->err != 0;
}

static void sc_covers(sc *c)
{
    for (c->pass = 0; c->pass < c->npasses && c->err == 0; c->pass++) {
        int rc;
        sc_clear(c);
        rc = tq_store_each_payment(c->t, sc_add_receipt, c);
        if (rc != TQ_OK) {
            sc_store_error(c, rc, "walking receipts");
            return;
        }
        for (size_t i = 0; i < c->cap && c->err == 0; i++) {
            char no[TQ_DECL_NO_LEN + 1];
            if (c->tab[i].len == 0)
                continue;
            memcpy(no, c->tab[i].key, TQ_DECL_NO_LEN);
            no[TQ_DECL_NO_LEN] = '\0';
            sc_cover_of(c, no, &c->tab[i]);
        }
        rc = tq_store_each_decl(c->t, sc_decl_cover, c);
        if (rc != TQ_OK && c->err == 0)
            sc_store_error(c, rc, "walking declarations");
    }
}

/* ---- permit use against cleared declarations ---- */

static int sc_add_permit(void *ctx, const tq_permit *p, uint64_t used)
{
    sc *c = ctx;
    size_t n = strlen(p->permit_no);
    if (c->pass == 0)
        c->rep->permits++;
    if (sc_part(c, p->permit_no, n))
        sc_find(c, p->permit_no, n, 1)->used = used;
    return 0;
}

static int sc_add_cleared(void *ctx, const tq_decl *d)
{
    sc *c = ctx;
    if (c->pass == 0) {
        c->rep->decls++;
        sc_decl_fields(c, d);
    }
    if (d->state != TQ_STATE_CLEARED)
        return 0;
    for (uint16_t i = 0; i < d->nlines && i < TQ_LINES_MAX; i++) {
        size_t n = strlen(d->lines[i].permit);
        sc_ent *e;
        if (n == 0 || !sc_part(c, d->lines[i].permit, n))
            continue;
        if ((e = sc_find(c, d->lines[i].permit, n, 0)) != NULL)
            e->a += d->lines[i].qty;
    }
    return 0;
}

static void sc_usage(sc *c)
{
    for (c->pass = 0; c->pass < c->npasses && c->err == 0; c->pass++) {
        int rc;
        sc_clear(c);
        if ((rc = tq_store_each_permit(c->t, sc_add_permit, c)) != TQ_OK) {
            sc_store_error(c, rc, "walking permits");
            return;
        }
        if ((rc = tq_store_each_decl(c->t, sc_add_cleared, c)) != TQ_OK) {
            sc_store_error(c, rc, "walking declarations");
            return;
        }
        for (size_t i = 0; i < c->cap; i++) {
            const sc_ent *e = &c->tab[i];
            if (e->len != 0 && e->used > e->a)
                sc_problem(c, "usage", e->key, e->len, "used %llu, more than the %llu that "
                           "cleared declarations put on it", (unsigned long long)e->used,
                           (unsigned long long)(e->a > UINT64_MAX ? UINT64_MAX : e->a));
        }
    }
}

/* ---- journal marks and gaps ---- */

typedef struct sc_marks {
    sc *c;
    uint64_t now;
    tq_journal_mark prev_mark;      /* the mark of the journal of the gaps being read */
    int have_mark;
    uint8_t gap_id[TQ_JOURNAL_ID_LEN];
    uint64_t gap_last;              /* last seq of the previous gap of that journal */
    int have_gap;
    char id[2 * TQ_JOURNAL_ID_LEN + 1]; /* the journal of the row being read, in hex */
} sc_marks;

/* A row of journals or gaps: its journal's id into k->id, and one more in *count. */
static sc *sc_marks_row(sc_marks *k, const uint8_t id[TQ_JOURNAL_ID_LEN], uint64_t *count)
{
    tq_hex(id, TQ_JOURNAL_ID_LEN, k->id);
    (*count)++;
    return k->c;
}

static int sc_mark(void *ctx, const tq_journal_mark *m)
{
    sc_marks *k = ctx;
    sc *c = sc_marks_row(k, m->id, &k->c->rep->journals);
    const char *id = k->id;
    if (m->frames > m->last_seq)
        sc_problem(c, "journals", id, 2 * TQ_JOURNAL_ID_LEN, "%llu frames "
                   "applied but last seq %llu", (unsigned long long)m->frames,
                   (unsigned long long)m->last_seq);
    if (m->applied_at > k->now + SC_FUTURE_SLACK)
        sc_problem(c, "journals", id, 2 * TQ_JOURNAL_ID_LEN, "applied_at %llu "
                   "is in the future", (unsigned long long)m->applied_at);
    return 0;
}

static int sc_gap(void *ctx, const tq_gap *g)
{
    sc_marks *k = ctx;
    sc *c = sc_marks_row(k, g->id, &k->c->rep->gaps);
    const char *id = k->id;
    if (!k->have_gap || memcmp(k->gap_id, g->id, TQ_JOURNAL_ID_LEN) != 0) {
        int rc = tq_store_get_journal(c->t, g->id, &k->prev_mark);
        if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND) {
            sc_store_error(c, rc, "reading journal marks");
            return 1;
        }
        k->have_mark = rc == TQ_OK;
        memcpy(k->gap_id, g->id, TQ_JOURNAL_ID_LEN);
        k->have_gap = 0;
    }
    if (!k->have_mark)
        sc_problem(c, "gaps", id, 2 * TQ_JOURNAL_ID_LEN, "a gap (seq %llu..%llu) of a journal "
                   "never applied", (unsigned long long)g->first, (unsigned long long)g->last);
    else if (g->first < 1 || g->first > g->last || g->last > k->prev_mark.last_seq)
        sc_problem(c, "gaps", id, 2 * TQ_JOURNAL_ID_LEN, "gap seq %llu..%llu outside 1..%llu",
                   (unsigned long long)g->first, (unsigned long long)g->last,
                   (unsigned long long)k->prev_mark.last_seq);
    if (k->have_gap && g->first <= k->gap_last)
        sc_problem(c, "gaps", id, 2 * TQ_JOURNAL_ID_LEN, "gap seq %llu..%llu overlaps the one "
                   "before (ending at %llu)", (unsigned long long)g->first,
                   (unsigned long long)g->last, (unsigned long long)k->gap_last);
    if (g->skipped_at > k->now + SC_FUTURE_SLACK)
        sc_problem(c, "gaps", id, 2 * TQ_JOURNAL_ID_LEN, "skipped_at %llu is in the future",
                   (unsigned long long)g->skipped_at);
    k->gap_last = g->last;
    k->have_gap = 1;
    return 0;
}

static void sc_journals(sc *c)
{
    sc_marks k;
    int rc;
    memset(&k, 0, sizeof k);
    k.c = c;
    k.now = (uint64_t)time(NULL);
    if ((rc = tq_store_each_journal(c->t, sc_mark, &k)) != TQ_OK) {
        sc_store_error(c, rc, "walking journal marks");
        return;
    }
    if ((rc = tq_store_each_gap(c->t, NULL, sc_gap, &k)) != 0 && c->err == 0)
        sc_store_error(c, rc, "walking gaps");
}

/* ---- the change feed (format 3) ---- */

typedef struct sc_feed {
    sc *c;
    uint64_t prev;
    tq_decl d;
} sc_feed;

/* Numbers run 1, 2, ... without a gap (the feed is never pruned), and every change
 * names a stored declaration. */
static int sc_change(void *ctx, const tq_change *ch)
{
    sc_feed *f = ctx;
    char no[24];
    int n = snprintf(no, sizeof no, "%llu", (unsigned long long)ch->no);
    if (ch->no != f->prev + 1)
        sc_problem(f->c, "changes", no, (size_t)n, "change number after %llu: a gap",
                   (unsigned long long)f->prev);
    f->prev = ch->no;
    f->c->rep->changes++;
    int rc = tq_store_get_decl(f->c->t, ch->decl_no, &f->d);
    if (rc == TQ_ERR_NOTFOUND)
        sc_problem(f->c, "changes", no, (size_t)n, "names declaration '%s', which is not "
                   "stored", ch->decl_no);
    else if (rc != TQ_OK)
        return rc;
    return 0;
}

static void sc_changes(sc *c)
{
    sc_feed *f = calloc(1, sizeof *f);
    if (f == NULL) {
        sc_store_error(c, TQ_ERR_NOMEM, "walking the change feed");
        return;
    }
    f->c = c;
    int rc = tq_store_each_change(c->t, 0, sc_change, f);
    free(f);
    if (rc != TQ_OK && rc != TQ_ERR_VERSION && c->err == 0)
        sc_store_error(c, rc, "walking the change feed");
}

/* ---- the steps ---- */

static void sc_file_problem(void *ctx, const char *what)
{
    sc *c = ctx;
    tq_check_problem p = { "data.mdb", "", what };
    if (c->on_problem != NULL)
        c->on_problem(c->ctx, &p);
}

static void sc_bad_record(void *ctx, const tq_diag *bad)
{
    sc *c = ctx;
    sc_problem(c, "records", NULL, 0, "%s", bad->why);
}

/* sc_step_file() - step 1.  @return TQ_OK to go on, else the result of the check. */
static int sc_step_file(sc *c, const char *dir)
{
    char *path;
    int rc;
    size_t n = strlen(dir) + sizeof "/data.mdb";
    if ((path = malloc(n)) == NULL)
        return TQ_ERR_NOMEM;
    snprintf(path, n, "%s/data.mdb", dir);
    rc = tq_lmdb_check_file(path, TQ_LMDB_CHECK_TREES, c->max_problems, sc_file_problem, c,
                            &c->rep->file, c->d);
    free(path);
    c->rep->problems += c->rep->file.problems;
    if (rc == TQ_OK)
        c->rep->steps = 1;
    return rc;
}

/* sc_step_records() - step 2, in the open read transaction. */
static int sc_step_records(sc *c)
{
    int rc = tq_store_verify(c->t, sc_bad_record, c, &c->rep->records);
    /* the held table against the declarations and covers it copies (format 4) */
    uint64_t rows = 0;
    int hrc = rc == TQ_OK || rc == TQ_ERR_DBCORRUPT
                  ? tq_store_held_verify(c->t, sc_bad_record, c, &rows) : TQ_OK;
    if (hrc != TQ_OK && (rc == TQ_OK || hrc != TQ_ERR_DBCORRUPT))
        rc = hrc;
    if (rc == TQ_ERR_DBCORRUPT && c->rep->problems == 0)
        sc_problem(c, "records", NULL, 0, "damaged records");
    if (rc == TQ_OK)
        c->rep->steps = 2;
    return rc;
}

/* sc_step_cross() - step 3. */
static int sc_step_cross(sc *c, size_t mem_max)
{
    tq_store_info info;
    /* counted in the check's own snapshot: a second read transaction could not begin
     * while c->t is live if a writer grew the map in between */
    int rc = tq_store_count(c->t, &info);
    if (rc != TQ_OK)
        return rc;
    if ((rc = sc_alloc(c, mem_max)) != TQ_OK)
        return rc;
    c->npasses = sc_passes(c, info.receipts);
    c->rep->passes = c->npasses;
    sc_covers(c);
    c->npasses = sc_passes(c, info.permits);
    c->rep->passes += c->npasses;
    if (c->err == 0)
        sc_usage(c);
    if (c->err == 0)
        sc_journals(c);
    if (c->err == 0)
        sc_changes(c);
    if (c->err == 0)
        c->rep->steps = 3;
    return TQ_OK;
}

int tq_store_check(const char *dir, const tq_store_check_opts *opts,
                   void (*on_problem)(void *ctx, const tq_check_problem *p), void *ctx,
                   tq_store_check_report *rep, tq_diag *d)
{
    tq_store_check_report r;
    tq_store_opts so = { .diag = d, .verify = TQ_STORE_VERIFY_META };
    tq_store *s = NULL;
    sc c;
    int rc;
    memset(&r, 0, sizeof r);
    memset(&c, 0, sizeof c);
    c.rep = &r;
    c.on_problem = on_problem;
    c.ctx = ctx;
    c.d = d;
    c.max_problems = opts && opts->max_problems ? opts->max_problems : 100;
    rc = sc_step_file(&c, dir);
    if (rc == TQ_OK)
        rc = tq_store_open(dir, 0, &so, &s, NULL);
    if (rc == TQ_OK) {
        r.format = tq_store_format(s);
        rc = tq_txn_begin(s, 1, &c.t);
    }
    if (rc == TQ_OK)
        rc = sc_step_records(&c);
    if (rc == TQ_OK)
        rc = sc_step_cross(&c, opts && opts->mem_max ? opts->mem_max : SC_MEM_DEFAULT);
    tq_txn_abort(c.t);
    tq_store_close(s);
    free(c.tab);
    free(c.guar);
    if (rep != NULL)
        *rep = r;
    if (rc == TQ_OK && r.problems != 0)
        rc = TQ_ERR_DBCORRUPT;
    if (rc == TQ_ERR_CORRUPT)
        rc = TQ_ERR_DBCORRUPT;   /* LMDB's own corruption codes, from the open */
    return rc;
}
