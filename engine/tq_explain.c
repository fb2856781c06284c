/* tq_explain.c - gather the stored decision and today's facts of one declaration, and
 * its events from journals, for `thongquan explain`.
 *
 * Every finding goes through tq_rules_evaluate(): the whole declaration for the verdict,
 * the declaration cut down to one permit's lines for what that permit causes, and cut
 * down to one line for which line fails a permit's hs prefixes.  A cut-down copy keeps
 * the declarant and the registration day (what the permit checks compare against) and
 * drops what would add other reasons (tax due, channel), so the reasons left are the
 * permit's own.  Only the quota test is done here directly, because the rules check
 * quota only when nothing else is wrong and an operator wants to know both.
 */
#include "tq_explain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_grow.h"

#define PERMIT_REASONS                                                                   \
    ((uint32_t)(TQ_R_PERMIT_MISSING | TQ_R_PERMIT_REVOKED | TQ_R_PERMIT_EXPIRED |        \
                TQ_R_PERMIT_HOLDER | TQ_R_PERMIT_HS))

tq_explain *tq_explain_new(void)
{
    return calloc(1, sizeof(tq_explain));
}

void tq_explain_free(tq_explain *x)
{
    if (x == NULL)
        return;
    free(x->guar);
    free(x);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* cut_down() - d with only the lines naming permit (or only line only_line when it is
 * >= 0), and nothing that would add a reason other than the permit checks. */
static void cut_down(const tq_decl *d, tq_decl *out, const char *permit, int only_line)
{
    memcpy(out, d, sizeof *out);
    out->tax_due = 0;
    out->channel = 1;
    out->nlines = 0;
    memset(out->lines, 0, sizeof out->lines);
    size_t nl = d->nlines <= TQ_LINES_MAX ? d->nlines : TQ_LINES_MAX;
    for (size_t l = 0; l < nl; l++) {
        if (only_line >= 0 ? (int)l != only_line
                           : strncmp(d->lines[l].permit, permit, TQ_PERMIT_MAX + 1) != 0)
            continue;
        out->lines[out->nlines++] = d->lines[l];
    }
}

static void explain_permit(const tq_decl *d, tq_explain_permit *p, int check_quota)
{
    tq_decl part;
    tq_verdict v;
    cut_down(d, &part, p->name, -1);
    p->qty = 0;
    for (size_t l = 0; l < part.nlines; l++)
        p->qty = sat_add(p->qty, part.lines[l].qty);
    tq_rules_evaluate(&part, NULL, &p->fact, 1, 0, &v);
    p->reasons = v.reasons & PERMIT_REASONS;
    if (check_quota && p->fact.found && p->fact.permit.quota > 0 &&
        (p->qty > p->fact.permit.quota || p->fact.used > p->fact.permit.quota - p->qty))
        p->reasons |= TQ_R_PERMIT_QUOTA;
    p->hs_bad_lines = 0;
    if (!(p->reasons & TQ_R_PERMIT_HS))
        return;
    size_t nl = d->nlines <= TQ_LINES_MAX ? d->nlines : TQ_LINES_MAX;
    for (size_t l = 0; l < nl; l++) {
        if (strncmp(d->lines[l].permit, p->name, TQ_PERMIT_MAX + 1) != 0)
            continue;
        cut_down(d, &part, NULL, (int)l);
        tq_rules_evaluate(&part, NULL, &p->fact, 1, 0, &v);
        if (v.reasons & TQ_R_PERMIT_HS)
            p->hs_bad_lines |= 1ull << l;
    }
}

int tq_explain_decl(tq_txn *t, const char *decl_no, tq_explain *x)
{
    tq_guarantee *guar = x->guar;
    size_t guar_cap = x->guar_cap;
    memset(x, 0, sizeof *x);
    x->guar = guar;
    x->guar_cap = guar_cap;
    int rc = tq_store_get_decl(t, decl_no, &x->decl);
    if (rc != TQ_OK) {
        memset(&x->decl, 0, sizeof x->decl);
        return rc;
    }
    tq_decl *d = &x->decl;

    tq_cover cover;
    rc = tq_store_get_cover(t, d->decl_no, &cover, &x->guar, &x->guar_cap);
    if (rc != TQ_OK)
        return rc;
    x->pay_total = cover.pay_total;
    for (uint32_t i = 0; i < cover.nguar; i++) {
        if (cover.guar[i].valid_until >= d->reg_day)
            x->guar_counted = tq_u128_add(x->guar_counted, cover.guar[i].amount);
        else
            x->guar_expired = tq_u128_add(x->guar_expired, cover.guar[i].amount);
    }
    x->covered = tq_rules_covered_exact(&cover, d->reg_day);

    const char *names[TQ_LINES_MAX];
    tq_permit_fact facts[TQ_LINES_MAX];
    x->npermits = tq_rules_permits(d, names);
    for (size_t i = 0; i < x->npermits; i++) {
        tq_explain_permit *p = &x->permits[i];
        p->name = names[i];
        rc = tq_store_get_permit(t, names[i], &p->fact.permit);
        if (rc == TQ_ERR_NOTFOUND) {
            memset(&p->fact, 0, sizeof p->fact);
        } else if (rc != TQ_OK) {
            return rc;
        } else {
            p->fact.found = 1;
            if ((rc = tq_store_get_used(t, names[i], &p->fact.used)) != TQ_OK)
                return rc;
        }
        facts[i] = p->fact;
    }

    int manual = d->state == TQ_STATE_CLEARED && d->manual;
    if (d->state == TQ_STATE_HELD || manual) {
        tq_rules_evaluate(d, &cover, facts, x->npermits, manual, &x->now);
        x->evaluated = 1;
    }
    for (size_t i = 0; i < x->npermits; i++)
        explain_permit(d, &x->permits[i], d->state == TQ_STATE_HELD);
    return TQ_OK;
}

typedef struct pay_filter {
    const char *decl_no;
    int (*fn)(void *ctx, const tq_payment *p);
    void *ctx;
    uint64_t n;
} pay_filter;

static int filter_payment(void *ctx, const tq_payment *p)
{
    pay_filter *f = ctx;
    if (strncmp(p->decl_no, f->decl_no, TQ_DECL_NO_LEN + 1) != 0)
        return 0;
    f->n++;
    return f->fn(f->ctx, p);
}

int tq_explain_each_payment(tq_txn *t, const char *decl_no,
                            int (*fn)(void *ctx, const tq_payment *p), void *ctx,
                            uint64_t *count)
{
    pay_filter f = {.decl_no = decl_no, .fn = fn, .ctx = ctx};
    int rc = tq_store_each_payment(t, filter_payment, &f);
    if (count)
        *count = f.n;
    return rc;
}

static int collect_payment(void *ctx, const tq_payment *p)
{
    tq_explain_payment_list *l = ctx;
    int rc = tq_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, 8);
    if (rc == TQ_OK)
        l->v[l->n++] = *p;
    return rc;
}

int tq_explain_payments(tq_txn *t, const char *decl_no, tq_explain_payment_list *l)
{
    return tq_explain_each_payment(t, decl_no, collect_payment, l, NULL);
}

void tq_explain_payment_list_release(tq_explain_payment_list *l)
{
    if (l == NULL)
        return;
    free(l->v);
    memset(l, 0, sizeof *l);
}

int tq_explain_history(const char *path, const char *decl_no,
                       int (*fn)(void *ctx, const tq_event *ev), void *ctx,
                       void (*bad)(void *ctx, int err, const tq_frame_info *fi),
                       uint8_t id[TQ_JOURNAL_ID_LEN])
{
    tq_journal_reader *r;
    memset(id, 0, TQ_JOURNAL_ID_LEN);
    int rc = tq_journal_open(path, &r);
    if (rc != TQ_OK)
        return rc;
    memcpy(id, tq_journal_id(r), TQ_JOURNAL_ID_LEN);
    tq_event *ev = malloc(sizeof *ev);
    if (ev == NULL) {
        tq_journal_close(r);
        return TQ_ERR_NOMEM;
    }
    int first_err = TQ_OK, have_bad = 0;
    uint64_t last_bad = 0;
    tq_frame_info fi;
    for (;;) {
        memset(&fi, 0, sizeof fi);
        rc = tq_journal_next_event(r, ev, &fi);
        if (rc == TQ_OK) {
            if (strncmp(ev->decl_no, decl_no, TQ_DECL_NO_LEN + 1) == 0 &&
                (rc = fn(ctx, ev)) != 0)
                break;
            continue;
        }
        if (rc == TQ_ERR_EOF) {
            rc = TQ_OK;
            break;
        }
        /* A damaged payload is skipped by the reader, so the scan goes on; a damaged
         * header comes back again at the same frame, and nothing after it can be
         * found. */
        if (rc == TQ_ERR_CORRUPT && !(have_bad && last_bad == fi.index)) {
            if (bad)
                bad(ctx, rc, &fi);
            if (first_err == TQ_OK)
                first_err = rc;
            have_bad = 1;
            last_bad = fi.index;
            continue;
        }
        if (rc == TQ_ERR_CORRUPT) {
            rc = TQ_OK; /* already reported */
            break;
        }
        if (bad && rc == TQ_ERR_TORN)
            bad(ctx, rc, &fi);
        break;
    }
    free(ev);
    tq_journal_close(r);
    if (rc == TQ_OK)
        rc = first_err;
    return rc;
}

typedef struct backfill_scan {
    tq_decl *d;
    tq_explain_decl_src *src;
    char office[sizeof ((tq_decl *)0)->office], kind[sizeof ((tq_decl *)0)->kind];
} backfill_scan;

static int on_backfill_event(void *ctx, const tq_event *ev)
{
    backfill_scan *b = ctx;
    if (ev->ev == TQ_EV_DECL && !b->src->found) {
        b->src->found = 1;
        b->src->decl_seq = ev->seq;
        snprintf(b->office, sizeof b->office, "%s", ev->office);
        snprintf(b->kind, sizeof b->kind, "%s", ev->kind);
    }
    if (b->src->found && (ev->ev == TQ_EV_DECL || ev->ev == TQ_EV_AMEND) &&
        tq_decl_same_lines(b->d, ev)) {
        for (uint16_t l = 0; l < ev->nlines; l++)
            b->d->lines[l].value = ev->lines[l].value;
        b->src->values = 1;
        b->src->values_seq = ev->seq;
    }
    return 0;
}

int tq_explain_backfill(const char *path, tq_decl *d, tq_explain_decl_src *src)
{
    uint8_t id[TQ_JOURNAL_ID_LEN];
    backfill_scan b = {.d = d, .src = src};
    memset(src, 0, sizeof *src);
    if (d->office[0] != '\0')
        return TQ_OK;        /* kept by the store: nothing to find */
    int rc = tq_explain_history(path, d->decl_no, on_backfill_event, &b, NULL, id);
    if (src->found) {
        memcpy(d->office, b.office, sizeof d->office);
        memcpy(d->kind, b.kind, sizeof d->kind);
    }
    return rc;
}

typedef struct officer_scan {
    tq_explain_officer_list *out;
    tq_explain_officer before;  /* what the journal said so far: final_ev, final_seq and
                                 * declared_before, as each officer result is stamped */
} officer_scan;

static int on_officer_event(void *ctx, const tq_event *ev)
{
    officer_scan *o = ctx;
    if (ev->ev == TQ_EV_OFFICER) {
        if (o->out->n < TQ_EXPLAIN_OFFICER_MAX) {
            tq_explain_officer *e = &o->out->v[o->out->n++];
            *e = o->before;
            e->seq = ev->seq;
            e->result = ev->result;
            memcpy(e->officer, ev->officer, sizeof e->officer);
        } else {
            o->out->more++;
        }
    }
    /* The first event that makes the declaration final wins: later ones are ignored. */
    int makes_final = ev->ev == TQ_EV_MANUAL_CLEAR || ev->ev == TQ_EV_CANCEL ||
                      (ev->ev == TQ_EV_OFFICER && ev->result == TQ_OFFICER_REJECT);
    if (makes_final && o->before.final_ev == 0) {
        o->before.final_ev = ev->ev;
        o->before.final_seq = ev->seq;
    }
    if (ev->ev == TQ_EV_DECL)
        o->before.declared_before = 1;
    return 0;
}

int tq_explain_officers(const char *path, const char *decl_no, tq_explain_officer_list *out,
                        uint8_t id[TQ_JOURNAL_ID_LEN])
{
    officer_scan o;
    memset(out, 0, sizeof *out);
    memset(&o, 0, sizeof o);    /* every byte the results copy from o.before defined */
    o.out = out;
    return tq_explain_history(path, decl_no, on_officer_event, &o, NULL, id);
}

static int keep_gap(void *ctx, const tq_gap *gap)
{
    tq_explain_gap_list *g = ctx;
    if (g->n < TQ_EXPLAIN_GAPS_MAX)
        g->v[g->n++] = *gap;
    g->total++;
    return 0;
}

int tq_explain_gaps(tq_txn *t, tq_explain_gap_list *g)
{
    memset(g, 0, sizeof *g);
    return tq_store_each_gap(t, NULL, keep_gap, g);
}

const tq_gap *tq_explain_gap_of(const tq_explain_gap_list *g, const uint8_t id[TQ_JOURNAL_ID_LEN],
                                uint64_t seq)
{
    for (size_t i = 0; i < g->n; i++)
        if (memcmp(g->v[i].id, id, TQ_JOURNAL_ID_LEN) == 0 && seq >= g->v[i].first &&
            seq <= g->v[i].last)
            return &g->v[i];
    return NULL;
}
