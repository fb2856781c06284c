/* tq_apply.c - decide one declaration with the rules, from facts a caller supplies.
 *
 * A permit appears once among a declaration's distinct permits, so a clearance adds
 * its quantity to each quota permit exactly once; use saturates rather than wraps.
 * The store-backed facts read through the write transaction, so an event sees every
 * earlier event of the same batch, which is what "the result of applying the events
 * one at a time in journal order" requires.
 */
#include "tq_apply.h"

#include <stdlib.h>
#include <string.h>

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int tq_apply_decide(tq_decl *d, int manual, const tq_facts_ops *ops, void *ctx,
                    tq_u128 *covered)
{
    const char *names[TQ_LINES_MAX];
    tq_permit_fact facts[TQ_LINES_MAX];
    size_t n = tq_rules_permits(d, names);
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = ops->get_permit(ctx, names[i], &facts[i])) != TQ_OK)
            return rc;
    tq_cover cover;
    if ((rc = ops->get_cover(ctx, d, &cover)) != TQ_OK)
        return rc;
    tq_verdict v;
    tq_rules_evaluate(d, &cover, facts, n, manual, &v);
    tq_rules_settle(d, &v);
    if (covered)
        *covered = tq_rules_covered_exact(&cover, d->reg_day);
    for (size_t k = 0; k < v.nuse; k++) {
        size_t f = v.use[k].fact;
        rc = ops->set_used(ctx, names[f], add_saturating(facts[f].used, v.use[k].qty));
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}

/* ---- facts from the store ---- */

typedef struct store_facts {
    tq_txn *t;
    tq_apply_scratch *sc;
} store_facts;

static int store_get_cover(void *ctx, const tq_decl *d, tq_cover *out)
{
    store_facts *f = ctx;
    return tq_store_get_cover(f->t, d->decl_no, out, &f->sc->guar, &f->sc->guar_cap);
}

static int store_get_permit(void *ctx, const char *permit_no, tq_permit_fact *out)
{
    store_facts *f = ctx;
    int rc = tq_store_get_permit(f->t, permit_no, &out->permit);
    out->used = 0;
    if (rc == TQ_ERR_NOTFOUND) {
        out->found = 0;
        return TQ_OK;
    }
    if (rc != TQ_OK)
        return rc;
    out->found = 1;
    return tq_store_get_used(f->t, permit_no, &out->used);
}

static int store_set_used(void *ctx, const char *permit_no, uint64_t used)
{
    store_facts *f = ctx;
    return tq_store_put_used(f->t, permit_no, used);
}

static const tq_facts_ops store_ops = {store_get_cover, store_get_permit, store_set_used};

void tq_apply_scratch_release(tq_apply_scratch *sc)
{
    if (sc == NULL)
        return;
    free(sc->guar);
    sc->guar = NULL;
    sc->guar_cap = 0;
}

int tq_apply_evaluate(tq_txn *t, tq_decl *d, int manual, tq_apply_scratch *sc,
                      tq_u128 *covered)
{
    store_facts f = {t, sc};
    int rc = tq_apply_decide(d, manual, &store_ops, &f, covered);
    return rc != TQ_OK ? rc : tq_store_put_decl(t, d);
}

/* ---- the change feed ---- */

tq_decision tq_apply_decision(const tq_decl *d, int exists)
{
    tq_decision v;
    memset(&v, 0, sizeof v);
    if (exists) {
        v.exists = 1;
        v.state = d->state;
        v.manual = d->manual;
        v.reasons = d->reasons;
        v.version = d->version;
    }
    return v;
}

void tq_apply_source(tq_decl *d, tq_step step, const uint8_t *src_id, uint64_t seq)
{
    if (step != TQ_STEP_EVALUATE && step != TQ_STEP_EVALUATE_MANUAL && step != TQ_STEP_DONE)
        return;
    memcpy(d->src_id, src_id, sizeof d->src_id);
    d->src_seq = seq;
}

int tq_apply_change(const tq_decision *before, const tq_decl *d, int cause, tq_change *c)
{
    if (before->exists && before->state == d->state && before->manual == d->manual &&
        before->reasons == d->reasons && before->version == d->version)
        return 0;
    memset(c, 0, sizeof *c);
    memcpy(c->decl_no, d->decl_no, sizeof c->decl_no);
    c->state = d->state;
    c->manual = d->manual;
    c->cause = (uint8_t)cause;
    c->reasons = d->reasons;
    c->version = d->version;
    if (cause == TQ_CHANGE_EVENT) {
        memcpy(c->src_id, d->src_id, sizeof c->src_id);
        c->src_seq = d->src_seq;
    }
    return 1;
}

int tq_apply_record(tq_txn *t, const tq_decision *before, const tq_decl *d, int cause)
{
    tq_change c;
    return tq_apply_change(before, d, cause, &c) ? tq_store_add_change(t, &c) : TQ_OK;
}

int tq_apply_event(tq_txn *t, const tq_event *ev, const uint8_t *src_id,
                   tq_apply_scratch *sc, tq_step *step)
{
    tq_decl d;
    int rc = tq_store_get_decl(t, ev->decl_no, &d);
    if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND)
        return rc;
    tq_decision before = tq_apply_decision(&d, rc == TQ_OK);
    *step = tq_rules_begin(&d, rc == TQ_OK, ev);
    tq_apply_source(&d, *step, src_id, ev->seq);
    switch (*step) {
    case TQ_STEP_EVALUATE:
    case TQ_STEP_EVALUATE_MANUAL:
        rc = tq_apply_evaluate(t, &d, *step == TQ_STEP_EVALUATE_MANUAL, sc, NULL);
        break;
    case TQ_STEP_DONE:
        rc = tq_store_put_decl(t, &d);
        break;
    case TQ_STEP_DUPLICATE:
    case TQ_STEP_IGNORED_FINAL:
    case TQ_STEP_UNKNOWN:
        return TQ_OK;
    }
    return rc == TQ_OK ? tq_apply_record(t, &before, &d, TQ_CHANGE_EVENT) : rc;
}
