/* tq_reconcile.h - re-decide HELD declarations against today's payments and permits.
 *
 * SPEC §3: every HELD declaration is re-evaluated in ascending order of (registration
 * instant, decl_no), so quota goes to the earlier registration; those that now qualify
 * are cleared and consume quota.  Manual clearances are left as recorded.  Each decision
 * that changes (state, reasons) is added to the store's change feed as a
 * TQ_CHANGE_RECONCILE change.  The whole run is one transaction: it is applied entirely
 * or not at all (a dry run: not at all).  The report lists what an operator works on:
 * cleared now, still held by reason and by office, manual clearances with
 * discrepancies, payments for unknown declarations, and cleared declarations overpaid.
 */
#ifndef TQ_RECONCILE_H
#define TQ_RECONCILE_H

#include <stdint.h>
#include <stdio.h>

#include "tq_store.h"

typedef struct tq_reconcile_opts {
    int dry_run;
    /* Each list is streamed to its callback while reconciling (any may be NULL). */
    void (*cleared_now)(void *ctx, const tq_decl *d);
    void (*manual_discrepancy)(void *ctx, const tq_decl *d);
    void (*unknown_payment)(void *ctx, const tq_payment *p);
    void (*overpaid)(void *ctx, const tq_decl *d, tq_u128 covered);  /* exact */
    /* every office with declarations still held after the run, in office order, with
     * their number (office "": stored before format 3 and not backfilled) */
    void (*held_office)(void *ctx, const char *office, uint64_t count);
    void *ctx;
    /* progress: HELD declarations re-evaluated so far of those found; called every 1,024
     * and once at the end, never with a smaller `done` than before (a run redone after
     * the map grew reports nothing until it passes the point reached).  May be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} tq_reconcile_opts;

#define TQ_RECONCILE_TOP_OFFICES 10

typedef struct tq_reconcile_stats {
    uint64_t reevaluated, cleared_now, still_held;
    uint64_t still_held_by_reason[TQ_REASON_COUNT];      /* bit index of TQ_R_* */
    uint64_t manual_with_discrepancies, unknown_payments, overpaid;
    uint64_t held_offices;                 /* offices with declarations still held */
    size_t ntop_offices;                   /* of them, the ones with the most: */
    struct {
        char office[5];
        uint64_t count;
    } top_offices[TQ_RECONCILE_TOP_OFFICES];  /* most held first, then office order */
    uint64_t map_grows;
    double seconds;
} tq_reconcile_stats;

/* tq_reconcile_run() - s opened with TQ_STORE_WRITE.  Every callback runs on the
 * calling thread, inside the run's transaction.  @return TQ_OK or a store error
 * (the database unchanged).  The callbacks of a run that had to be redone after the map
 * grew are called again from the start: callers that keep lists should reset them when
 * `restart` is called (may be NULL). */
TQ_MUST_USE int tq_reconcile_run(tq_store *s, const tq_reconcile_opts *opts, void (*restart)(void *ctx),
                     tq_reconcile_stats *stats, tq_diag *d);

#endif
