/* tq_report.c - the store's part of a run's report: states, reasons, offices, ages. */
#include "tq_report.h"

#include <string.h>

int tq_report_age_bucket(tq_instant reg, tq_instant as_of)
{
    int64_t age = as_of.sec - reg.sec;
    if (age < 2 * 3600)
        return TQ_AGE_2H;
    if (age < 6 * 3600)
        return TQ_AGE_6H;
    if (age < 24 * 3600)
        return TQ_AGE_24H;
    if (age < 3 * 86400)
        return TQ_AGE_3D;
    return TQ_AGE_OLDER;
}

static int on_decl(void *ctx, const tq_decl *d)
{
    tq_report *r = ctx;
    r->declarations++;
    if (d->state < 5)
        r->by_state[d->state]++;
    if (d->state != TQ_STATE_HELD)
        return 0;
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        if (d->reasons & (1u << b))
            r->held_by_reason[b]++;
    r->age[tq_report_age_bucket(d->registered, r->as_of)]++;
    return 0;
}

/* on_office() - keep the TQ_REPORT_TOP offices with the most held, most first (an
 * office ties with an earlier one below it: office order); the others are summed. */
static int on_office(void *ctx, const char *office, uint64_t count)
{
    tq_report *r = ctx;
    uint32_t n = r->noffices, i = n;
    while (i > 0 && r->office[i - 1].held < count)
        i--;
    if (i == TQ_REPORT_TOP) {
        r->other_offices++;
        r->other_held += count;
        return 0;
    }
    if (n == TQ_REPORT_TOP) {             /* the last one drops out */
        r->other_offices++;
        r->other_held += r->office[n - 1].held;
        n--;
    }
    memmove(&r->office[i + 1], &r->office[i], (n - i) * sizeof r->office[0]);
    snprintf(r->office[i].office, sizeof r->office[i].office, "%s", office);
    r->office[i].held = count;
    r->noffices = n + 1;
    return 0;
}

static void clear_store_part(tq_report *r)
{
    r->have_store = 0;
    r->declarations = 0;
    memset(r->by_state, 0, sizeof r->by_state);
    memset(r->held_by_reason, 0, sizeof r->held_by_reason);
    memset(r->office, 0, sizeof r->office);
    memset(r->age, 0, sizeof r->age);
    r->noffices = 0;
    r->other_offices = r->other_held = 0;
    r->offices_unknown = 0;
}

int tq_report_collect(tq_txn *t, tq_report *r)
{
    clear_store_part(r);
    int rc = tq_store_each_decl(t, on_decl, r);
    if (rc == TQ_OK) {
        rc = tq_store_each_office(t, TQ_STATE_HELD, on_office, r);
        if (rc == TQ_ERR_VERSION) {       /* before format 3, read as it is: no index */
            r->noffices = 0;
            r->other_offices = r->other_held = 0;
            r->offices_unknown = 1;
            rc = TQ_OK;
        }
    }
    if (rc != TQ_OK) {
        clear_store_part(r);
        return rc;
    }
    r->have_store = 1;
    return TQ_OK;
}

int tq_report_collect_store(tq_store *s, tq_report *r, tq_diag *d)
{
    tq_txn *t;
    int rc = tq_txn_begin(s, 1, &t);
    if (rc == TQ_OK) {
        rc = tq_report_collect(t, r);
        if (rc != TQ_OK && d)
            tq_txn_fault(t, d);
        tq_txn_abort(t);
    }
    if (rc != TQ_OK && d && d->why[0] == '\0')
        snprintf(d->why, sizeof d->why, "%s", tq_strerror(rc));
    return rc;
}
