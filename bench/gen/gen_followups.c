/* gen_followups.c - the events that follow a declaration in the synthetic backlog
 * (bench/gen/): each DECL's plan (resends, amendments, officer results, manual
 * clearances, cancellations) drawn when it is declared, a timing wheel that fires them
 * at later ticks within GEN_RING, and events for declarations that do not exist. */
#include <string.h>

#include "gen_int.h"

/* ---- follow-up events --------------------------------------------------------- */

/* A decl_no that is never declared: a number skipped in the sequence, or one below its
 * start. */
uint64_t gen_unknown_decl_no(gen *g)
{
    if (g->last_gap != 0)
        return g->last_gap;
    return g->no_first - 1 - R_BELOW(g, 1000);
}

void gen_plan_followups(gen *g, gen_pending *e, const gen_decl_info *info)
{
    unsigned n = 0, amend = 0;
    uint8_t *pl = e->plan;
    if (R_PPM(g) < P_DUP_DECL)
        pl[n++] = PL_DUP;
    if (R_PPM(g) < P_AMEND) {
        uint32_t r = R_PPM(g);
        amend = r < 600000 ? PL_AMEND_TAX : r < 850000 ? PL_AMEND_LINES : PL_AMEND_BOTH;
    }
    int amend_late = amend != 0 && R_PPM(g) < 300000;   /* after the officer's result */
    /* Officers cleared by hand what the outage held, and importers withdrew what could
     * not clear: both mostly declarations with a defect. */
    int defect = info->trouble || info->fate == PF_SHORT || info->fate == PF_UNPAID;
    uint32_t manual_ppm = defect ? 30000 : info->channel > 1 ? 5000 : 1000;
    int manual = R_PPM(g) < manual_ppm;
    int manual_early = manual && R_PPM(g) < 700000;

    if (amend && !amend_late)
        pl[n++] = (uint8_t)amend;
    if (manual_early)
        pl[n++] = PL_MANUAL;
    uint32_t r = R_PPM(g);
    switch (info->channel) {
    case 1:
        if (r < 3000)
            pl[n++] = PL_REJECT;
        break;
    case 2:
        if (r < 20000)
            pl[n++] = PL_REJECT;
        else if (r < 860000)
            pl[n++] = PL_DOCS_OK;
        else if (r < 870000)
            pl[n++] = PL_INSPECT_OK;   /* inspected though only documents were due */
        break;
    default:
        if (r < 40000) {
            pl[n++] = PL_REJECT;
        } else if (r < 760000) {
            pl[n++] = PL_INSPECT_OK;
        } else if (r < 800000) {
            pl[n++] = PL_DOCS_OK;
            pl[n++] = PL_INSPECT_OK;
        } else if (r < 900000) {
            pl[n++] = PL_DOCS_OK;      /* not enough for red */
        }
        break;
    }
    if (amend && amend_late)
        pl[n++] = (uint8_t)amend;
    if (manual && !manual_early)
        pl[n++] = PL_MANUAL;
    if (R_PPM(g) < (defect ? P_CANCEL_DEFECT : P_CANCEL))
        pl[n++] = PL_CANCEL;
    e->nplan = (uint8_t)n;
    e->pos = 0;
}

/* Put ring slot on the wheel at tick. */
static void schedule(gen *g, uint32_t slot, uint64_t tick)
{
    uint32_t b = (uint32_t)(tick & (GEN_RING - 1));
    g->ring[slot].next = g->wheel[b];
    g->wheel[b] = slot + 1;
}

/* The next event of e is due within its remaining budget: every event fires before
 * its declaration leaves the ring (tick idx + GEN_RING - 1 at the latest).  Taking at
 * most budget/remaining keeps enough budget for the events after it. */
void gen_schedule_next(gen *g, uint32_t slot, uint64_t now)
{
    const gen_pending *e = &g->ring[slot];
    uint64_t budget = e->idx + GEN_RING - 1 - now;
    uint64_t rem = (uint64_t)(e->nplan - e->pos);
    schedule(g, slot, now + 1 + R_BELOW(g, budget / rem));
}

static tq_event *small_event(gen *g, uint8_t kind, uint64_t decl_no)
{
    tq_event *ev = ev_slot(g);
    ev->ev = kind;
    ev->has = 0;
    ev->result = 0;
    fmt_decl_no(ev->decl_no, decl_no);
    ev->officer[0] = '\0';
    ev->cleared_at[0] = '\0';
    return ev;
}

static int emit_officer(gen *g, uint64_t decl_no, uint8_t result, unsigned office, tq_diag *d)
{
    tq_event *ev = small_event(g, TQ_EV_OFFICER, decl_no);
    ev->result = result;
    gen_fmt_officer(ev->officer, office, 1 + (unsigned)R_BELOW(g, 300));
    return ev_commit(g, d);
}

static int emit_manual(gen *g, uint64_t decl_no, int64_t reg_sec, unsigned office, tq_diag *d)
{
    tq_event *ev = small_event(g, TQ_EV_MANUAL_CLEAR, decl_no);
    gen_fmt_officer(ev->officer, office, 1 + (unsigned)R_BELOW(g, 300));
    /* cleared on paper during the outage, from ten minutes to eight hours later */
    gen_fmt_ts(ev->cleared_at, reg_sec + 600 + (int64_t)R_BELOW(g, 8 * 3600), 7 * 60);
    return ev_commit(g, d);
}

static int emit_cancel(gen *g, uint64_t decl_no, tq_diag *d)
{
    small_event(g, TQ_EV_CANCEL, decl_no);
    return ev_commit(g, d);
}

static uint64_t amended_tax(gen *g, uint64_t old)
{
    uint64_t t = old / 100 * (80 + R_BELOW(g, 51));
    t -= t % 1000;
    if (t == old)
        t += 1000;
    return t > TQ_MONEY_MAX ? TQ_MONEY_MAX : t;
}

/* A supplementary declaration: a new tax (sometimes paid at once), or a new list of
 * lines derived from the original one. */
static int emit_amend(gen *g, gen_pending *e, unsigned step, tq_diag *d)
{
    tq_event *ev = ev_slot(g);
    ev->ev = TQ_EV_AMEND;
    ev->has = 0;
    fmt_decl_no(ev->decl_no, e->decl_no);
    if (step == PL_AMEND_TAX || step == PL_AMEND_BOTH) {
        uint64_t t = amended_tax(g, e->tax_due);
        if (t > e->tax_due && R_PPM(g) < 500000)
            gen_pay_row(g, ev->decl_no, 0, t - e->tax_due, 0);
        e->tax_due = t;
        ev->tax_due = t;
        ev->has |= TQ_HAS_TAX_DUE;
    }
    if (step == PL_AMEND_LINES || step == PL_AMEND_BOTH) {
        gen_decl_info info;
        tq_event *base = &g->ev_aux;
        gen_decl(g, e->idx, e->decl_no, e->reg_sec, base, &info);
        unsigned n = base->nlines;
        uint32_t r = R_PPM(g);
        if (r < 550000 && n > 1) {
            n--;                                         /* a line withdrawn */
        } else if (r < 750000 && n < TQ_LINES_MAX) {
            uint64_t s = xo_next(&g->rng);               /* a line added, no permit */
            tq_line *ln = &base->lines[n++];
            ln->permit[0] = '\0';
            gen_hs_any(&s, ln->hs);
            gen_fill_amounts(&s, ln, 0);
        } else if (r < 850000) {
            for (unsigned i = 0; i < n; i++)             /* permit references dropped */
                base->lines[i].permit[0] = '\0';
        } else {
            tq_line *ln = &base->lines[R_BELOW(g, n)];   /* a quantity corrected */
            ln->qty = 1 + R_BELOW(g, 2000);
        }
        memcpy(ev->lines, base->lines, n * sizeof ev->lines[0]);
        ev->nlines = (uint16_t)n;
        ev->has |= TQ_HAS_LINES;
    }
    return ev_commit(g, d);
}

static int fire(gen *g, gen_pending *e, unsigned step, tq_diag *d)
{
    switch (step) {
    case PL_DUP: {
        /* the front end resent it; now and then with a corrected tax */
        gen_decl_info info;
        tq_event *ev = ev_slot(g);
        gen_decl(g, e->idx, e->decl_no, e->reg_sec, ev, &info);
        if (R_PPM(g) < 200000)
            ev->tax_due = amended_tax(g, ev->tax_due);
        return ev_commit(g, d);
    }
    case PL_AMEND_TAX:
    case PL_AMEND_LINES:
    case PL_AMEND_BOTH:
        return emit_amend(g, e, step, d);
    case PL_DOCS_OK:
        return emit_officer(g, e->decl_no, TQ_OFFICER_DOCS_OK, e->office, d);
    case PL_INSPECT_OK:
        return emit_officer(g, e->decl_no, TQ_OFFICER_INSPECT_OK, e->office, d);
    case PL_REJECT:
        return emit_officer(g, e->decl_no, TQ_OFFICER_REJECT, e->office, d);
    case PL_MANUAL:
        return emit_manual(g, e->decl_no, e->reg_sec, e->office, d);
    default:
        return emit_cancel(g, e->decl_no, d);
    }
}

/* An event for a declaration that does not exist when it is applied: a skipped
 * number, or (three times in ten) the declaration registered right after it, which
 * must not count the event later. */
int gen_emit_unknown(gen *g, tq_diag *d)
{
    uint64_t no = R_PPM(g) < 300000 ? g->no_next : gen_unknown_decl_no(g);
    unsigned office = (unsigned)R_BELOW(g, NOFFICES);
    switch (R_BELOW(g, 6)) {
    case 0:
        return emit_officer(g, no, TQ_OFFICER_DOCS_OK, office, d);
    case 1:
        return emit_officer(g, no, TQ_OFFICER_INSPECT_OK, office, d);
    case 2:
        return emit_officer(g, no, TQ_OFFICER_REJECT, office, d);
    case 3: {
        tq_event *ev = ev_slot(g);
        ev->ev = TQ_EV_AMEND;
        ev->has = TQ_HAS_TAX_DUE;
        fmt_decl_no(ev->decl_no, no);
        ev->tax_due = 1000 * (1 + R_BELOW(g, 1000000));
        return ev_commit(g, d);
    }
    case 4:
        return emit_cancel(g, no, d);
    default:
        return emit_manual(g, no, g->t0_sec + g->now_us / 1000000, office, d);
    }
}

int gen_fire_due(gen *g, uint64_t tick, tq_diag *d)
{
    uint32_t b = (uint32_t)(tick & (GEN_RING - 1));
    uint32_t link = g->wheel[b];
    g->wheel[b] = 0;
    while (link != 0) {
        uint32_t slot = link - 1;
        gen_pending *e = &g->ring[slot];
        link = e->next;
        int rc = fire(g, e, e->plan[e->pos++], d);
        if (rc != TQ_OK)
            return rc;
        if (e->pos < e->nplan)
            gen_schedule_next(g, slot, tick);
        else
            g->npending--;
    }
    return TQ_OK;
}
