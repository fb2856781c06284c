/* tq_reconcile.c - re-decide HELD declarations against today's payments and permits.
 *
 * How it works.  One write transaction: a first cursor pass over the declarations
 * collects the HELD ones as (registration instant, decl_no) keys, which are sorted so
 * quota goes to the earlier registration (SPEC §3, §7: the instant, not its text); each
 * is then re-evaluated through tq_apply_evaluate(), the same path a replay uses, and a
 * decision that changed is added to the feed (TQ_CHANGE_RECONCILE) in the same
 * transaction.  The office index then gives the still-held per office.  A second pass
 * reports the declarations still held, manual clearances with discrepancies and overpaid
 * clearances, a pass over the payments finds those whose declaration is unknown, and
 * (when asked) a last one counts the totals the run leaves, still inside the
 * transaction, so a dry run reports what it would leave without arithmetic on figures
 * counted before it.  The keys take 24
 * bytes per HELD declaration; that is the one cost that grows with the database.
 */
#include "tq_reconcile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tq_apply.h"
#include "tq_export.h"

typedef struct held_key {
    int64_t sec;
    uint32_t nsec;
    char decl_no[TQ_DECL_NO_LEN];
} held_key;

typedef struct held_list {
    held_key *v;
    size_t n, cap;
    int nomem;
} held_list;

static int collect_held(void *ctx, const tq_decl *d)
{
    held_list *h = ctx;
    if (d->state != TQ_STATE_HELD)
        return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        held_key *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL) {
            h->nomem = 1;
            return 1;
        }
        h->v = v;
        h->cap = cap;
    }
    held_key *k = &h->v[h->n++];
    k->sec = d->registered.sec;
    k->nsec = d->registered.nsec;
    memcpy(k->decl_no, d->decl_no, TQ_DECL_NO_LEN);
    return 0;
}

static int cmp_held(const void *a, const void *b)
{
    const held_key *x = a, *y = b;
    if (x->sec != y->sec)
        return x->sec < y->sec ? -1 : 1;
    if (x->nsec != y->nsec)
        return x->nsec < y->nsec ? -1 : 1;
    return memcmp(x->decl_no, y->decl_no, TQ_DECL_NO_LEN);
}

typedef struct report_pass {
    const tq_reconcile_opts *o;
    tq_reconcile_stats *st;
    tq_txn *t;
    tq_apply_scratch *sc;
    int rc;
} report_pass;

static int report_decl(void *ctx, const tq_decl *d)
{
    report_pass *p = ctx;
    if (d->state == TQ_STATE_HELD && p->o->still_held)
        p->o->still_held(p->o->ctx, d);
    if (d->state != TQ_STATE_CLEARED)
        return 0;
    if (d->manual && d->reasons != 0) {
        p->st->manual_with_discrepancies++;
        if (p->o->manual_discrepancy)
            p->o->manual_discrepancy(p->o->ctx, d);
    }
    tq_cover cover;
    int rc = tq_store_get_cover(p->t, d->decl_no, &cover, &p->sc->guar, &p->sc->guar_cap);
    if (rc != TQ_OK) {
        p->rc = rc;
        return 1;
    }
    tq_u128 covered = tq_rules_covered_exact(&cover, d->reg_day);
    if (covered > d->tax_due) {
        p->st->overpaid++;
        if (p->o->overpaid)
            p->o->overpaid(p->o->ctx, d, covered);
    }
    return 0;
}

/* top_office() - keep office among the st->top_offices (most held first, then office
 * order); the walk gives offices in office order, so an equal count never displaces. */
static void top_office(tq_reconcile_stats *st, const char *office, uint64_t count)
{
    size_t n = st->ntop_offices, i = n;
    if (n == TQ_RECONCILE_TOP_OFFICES && st->top_offices[n - 1].count >= count)
        return;
    if (n < TQ_RECONCILE_TOP_OFFICES)
        st->ntop_offices++;
    else
        i = n - 1;
    for (; i > 0 && st->top_offices[i - 1].count < count; i--)
        st->top_offices[i] = st->top_offices[i - 1];
    memset(st->top_offices[i].office, 0, sizeof st->top_offices[i].office);
    memcpy(st->top_offices[i].office, office, strnlen(office, 4));
    st->top_offices[i].count = count;
}

static int count_office(void *ctx, const char *office, uint64_t count)
{
    report_pass *p = ctx;
    p->st->held_offices++;
    top_office(p->st, office, count);
    if (p->o->held_office)
        p->o->held_office(p->o->ctx, office, count);
    return 0;
}

static int report_payment(void *ctx, const tq_payment *pay)
{
    report_pass *p = ctx;
    tq_decl d;
    int rc = tq_store_get_decl(p->t, pay->decl_no, &d);
    if (rc == TQ_ERR_NOTFOUND) {
        p->st->unknown_payments++;
        if (p->o->unknown_payment)
            p->o->unknown_payment(p->o->ctx, pay);
        return 0;
    }
    if (rc != TQ_OK) {
        p->rc = rc;
        return 1;
    }
    return 0;
}

/* report_passes() - after the re-evaluation, in its transaction: the offices still
 * holding declarations, the declarations (still held, manual with discrepancies,
 * overpaid), the payments for unknown declarations, then the totals it leaves. */
static int report_passes(tq_txn *t, const tq_reconcile_opts *o, tq_reconcile_stats *st,
                         tq_apply_scratch *sc)
{
    report_pass p = {.o = o, .st = st, .t = t, .sc = sc, .rc = TQ_OK};
    int rc = tq_store_each_office(t, TQ_STATE_HELD, count_office, &p);
    if (rc == TQ_OK)
        rc = tq_store_each_decl(t, report_decl, &p);
    if (rc == TQ_OK)
        rc = p.rc;
    if (rc == TQ_OK)
        rc = tq_store_each_payment(t, report_payment, &p);
    if (rc == TQ_OK)
        rc = p.rc;
    if (rc == TQ_OK && o->tally_after)
        rc = tq_export_tally_txn(t, o->tally_after);
    return rc;
}

/* show_progress() - report i of n when due; *shown keeps the furthest point reported,
 * so a redo never goes backwards. */
static void show_progress(const tq_reconcile_opts *o, uint64_t i, uint64_t n, uint64_t *shown)
{
    if (o->progress == NULL || (i % 1024 != 0 && i != n) || (i <= *shown && *shown != 0))
        return;
    *shown = i;
    o->progress(o->progress_ctx, i, n);
}

static int reconcile_once(tq_store *s, const tq_reconcile_opts *o, tq_reconcile_stats *st,
                          tq_apply_scratch *sc, uint64_t *shown, tq_diag *d)
{
    held_list h = {0};
    tq_txn *t = NULL;
    int rc = tq_txn_begin(s, 0, &t);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_each_decl(t, collect_held, &h);
    if (h.nomem) {
        tq_diag_set(d, "(memory)", "not enough memory for %zu held declarations", h.n);
        rc = TQ_ERR_NOMEM;
    }
    if (rc != TQ_OK)
        goto out;
    if (h.n)
        qsort(h.v, h.n, sizeof *h.v, cmp_held);
    else
        show_progress(o, 0, 0, shown);
    for (size_t i = 0; i < h.n; i++) {
        char no[TQ_DECL_NO_LEN + 1];
        memcpy(no, h.v[i].decl_no, TQ_DECL_NO_LEN);
        no[TQ_DECL_NO_LEN] = '\0';
        tq_decl decl;
        rc = tq_store_get_decl(t, no, &decl);
        if (rc != TQ_OK)
            goto out;
        tq_decision before = tq_apply_decision(&decl, 1);
        rc = tq_apply_evaluate(t, &decl, 0, sc, NULL);
        if (rc == TQ_OK)
            rc = tq_apply_record(t, &before, &decl, TQ_CHANGE_RECONCILE);
        if (rc != TQ_OK)
            goto out;
        st->reevaluated++;
        show_progress(o, st->reevaluated, h.n, shown);
        if (decl.state == TQ_STATE_CLEARED) {
            st->cleared_now++;
            if (o->cleared_now)
                o->cleared_now(o->ctx, &decl);
        } else {
            st->still_held++;
            for (int b = 0; b < TQ_REASON_COUNT; b++)
                if (decl.reasons & (1u << b))
                    st->still_held_by_reason[b]++;
        }
    }
    rc = report_passes(t, o, st, sc);
out:
    free(h.v);
    if (rc == TQ_OK && !o->dry_run)
        return tq_txn_commit(t);
    tq_txn_abort(t);
    return rc;
}

int tq_reconcile_run(tq_store *s, const tq_reconcile_opts *opts, void (*restart)(void *ctx),
                     tq_reconcile_stats *stats, tq_diag *d)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tq_apply_scratch sc = {0};
    int rc;
    uint64_t grows = 0, shown = 0;
    for (;;) {
        memset(stats, 0, sizeof *stats);
        rc = reconcile_once(s, opts, stats, &sc, &shown, d);
        if (rc != TQ_ERR_MAPFULL)
            break;
        rc = tq_store_grow(s);
        if (rc != TQ_OK)
            break;
        grows++;
        if (restart)
            restart(opts->ctx);
    }
    tq_apply_scratch_release(&sc);
    stats->map_grows = grows;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
