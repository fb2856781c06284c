/* tq_apply.c - apply one event, or one re-evaluation, inside a write transaction.
 *
 * Reads go through the write transaction, so an event sees every earlier event of the
 * same batch, which is what "the result of applying the events one at a time in journal
 * order" requires.  A permit's use is read, increased and written back only when the
 * verdict consumes it, and a permit appears once among a declaration's distinct
 * permits, so each clearance adds its quantity exactly once.
 */
#include "tq_apply.h"

#include <stdlib.h>
#include <string.h>

void tq_apply_scratch_release(tq_apply_scratch *sc)
{
    if (sc == NULL)
        return;
    free(sc->guar);
    sc->guar = NULL;
    sc->guar_cap = 0;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int tq_apply_evaluate(tq_txn *t, tq_decl *d, int manual, tq_apply_scratch *sc,
                      uint64_t *covered)
{
    const char *names[TQ_LINES_MAX];
    tq_permit_fact facts[TQ_LINES_MAX];
    size_t n = tq_rules_permits(d, names);
    int rc;
    for (size_t i = 0; i < n; i++) {
        rc = tq_store_get_permit(t, names[i], &facts[i].permit);
        if (rc == TQ_ERR_NOTFOUND) {
            facts[i].found = 0;
            facts[i].used = 0;
            continue;
        }
        if (rc != TQ_OK)
            return rc;
        facts[i].found = 1;
        rc = tq_store_get_used(t, names[i], &facts[i].used);
        if (rc != TQ_OK)
            return rc;
    }
    tq_cover cover;
    rc = tq_store_get_cover(t, d->decl_no, &cover, &sc->guar, &sc->guar_cap);
    if (rc != TQ_OK)
        return rc;
    tq_verdict v;
    tq_rules_evaluate(d, &cover, facts, n, manual, &v);
    tq_rules_settle(d, &v);
    if (covered)
        *covered = tq_rules_covered(&cover, d->reg_day);
    if (v.consume) {
        for (size_t k = 0; k < v.nuse; k++) {
            size_t f = v.use[k].fact;
            rc = tq_store_put_used(t, names[f], add_saturating(facts[f].used, v.use[k].qty));
            if (rc != TQ_OK)
                return rc;
        }
    }
    return tq_store_put_decl(t, d);
}

int tq_apply_event(tq_txn *t, const tq_event *ev, tq_apply_scratch *sc, tq_step *step)
{
    tq_decl d;
    int rc = tq_store_get_decl(t, ev->decl_no, &d);
    if (rc != TQ_OK && rc != TQ_ERR_NOTFOUND)
        return rc;
    *step = tq_rules_begin(&d, rc == TQ_OK, ev);
    switch (*step) {
    case TQ_STEP_EVALUATE:
        return tq_apply_evaluate(t, &d, 0, sc, NULL);
    case TQ_STEP_EVALUATE_MANUAL:
        return tq_apply_evaluate(t, &d, 1, sc, NULL);
    case TQ_STEP_DONE:
        return tq_store_put_decl(t, &d);
    case TQ_STEP_DUPLICATE:
    case TQ_STEP_IGNORED_FINAL:
    case TQ_STEP_UNKNOWN:
        return TQ_OK;
    }
    return TQ_OK;
}
