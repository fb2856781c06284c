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

#include "tq_export.h"
#include "tq_store.h"

/* tq_reconcile_opts - what a run does and whom it tells.  Every callback below runs on
 * the thread that called tq_reconcile_run(), inside the run's write transaction, so it
 * must not use the store itself (no transaction of its own: LMDB allows one writer and
 * would deadlock) and should be quick: the write lock is held meanwhile.  The pointers
 * they get (decl, payment, office) are valid during the call only.  A run redone after
 * the map grew calls them all again from the start (see `restart`). */
typedef struct tq_reconcile_opts {
    int dry_run;                 /* decide and report; commit nothing */
    /* Each list is streamed to its callback while reconciling (any may be NULL). */
    void (*cleared_now)(void *ctx, const tq_decl *d);
    void (*manual_discrepancy)(void *ctx, const tq_decl *d);
    void (*unknown_payment)(void *ctx, const tq_payment *p);
    void (*overpaid)(void *ctx, const tq_decl *d, tq_u128 covered);  /* exact */
    /* every office with declarations still held after the run, in office order, with
     * their number (office "": stored before format 3 and not backfilled) */
    void (*held_office)(void *ctx, const char *office, uint64_t count);
    /* every declaration left HELD by the run (for a dry run: that it would leave), in
     * decl_no order, with its new reasons and tax_short */
    void (*still_held)(void *ctx, const tq_decl *d);
    void *ctx;
    /* progress: HELD declarations re-evaluated so far of those found; called every 1,024
     * and once at the end, never with a smaller `done` than before (a run redone after
     * the map grew reports nothing until it passes the point reached).  May be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* tally_after: when not NULL, gets the totals of the database as the run leaves it
     * (for a dry run: as it would leave it), counted inside the run's transaction.
     * Caller-owned; written only when the run returns TQ_OK. */
    tq_tally *tally_after;
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

/* tq_reconcile_run() - reconcile s (opened with TQ_STORE_WRITE) as described above, with
 * opts (borrowed for the call; callbacks as tq_reconcile_opts says).  The callbacks of a
 * run that had to be redone after the map grew are called again from the start: callers
 * that keep lists reset them when `restart` is called (may be NULL; called with
 * opts->ctx, on the calling thread, outside any transaction).  *stats (caller-owned) is
 * filled on every return; d (may be NULL) says why on failure.
 * Threads: one run at a time per store (the store's one writer); the calling thread does
 * all the work.
 * @return TQ_OK (committed, or for a dry run nothing changed); TQ_ERR_NOMEM (the held
 *         keys did not fit: d says how many), TQ_ERR_DBCORRUPT, TQ_ERR_FULL, TQ_ERR_IO
 *         and the other store errors: the database is unchanged. */
TQ_MUST_USE int tq_reconcile_run(tq_store *s, const tq_reconcile_opts *opts,
                                 void (*restart)(void *ctx), tq_reconcile_stats *stats,
                                 tq_diag *d);

#endif
