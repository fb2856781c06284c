/* tq_apply.h - decide one declaration with the rules, from facts a caller supplies.
 *
 * The glue between the pure rules and wherever the facts live.  tq_apply_decide() asks
 * a small interface for the declaration's cover and its permits (with their use), runs
 * the rules, settles the declaration and reports the quota use it consumes.  The
 * serial replay and reconcile answer from the store through a write transaction
 * (tq_apply_event(), tq_apply_evaluate()); the replay pipeline answers from its caches.
 * Every path decides through tq_apply_decide(), so they cannot drift apart; and every
 * path asks tq_apply_change() whether a decision changed, so the change feed (the
 * store's `changes` table) gets the same changes, in journal order, whichever path ran.
 */
#ifndef TQ_APPLY_H
#define TQ_APPLY_H

#include "tq_rules.h"
#include "tq_store.h"

/* Where the facts come from.  Each returns TQ_OK or an error that aborts the decision. */
typedef struct tq_facts_ops {
    /* the cover of d's declaration */
    int (*get_cover)(void *ctx, const tq_decl *d, tq_cover *out);
    /* a permit and its use; out->found = 0 when unknown */
    int (*get_permit)(void *ctx, const char *permit_no, tq_permit_fact *out);
    /* record the new use of a quota permit the decision consumed */
    int (*set_used)(void *ctx, const char *permit_no, uint64_t used);
} tq_facts_ops;

/* tq_apply_decide() - evaluate d (already changed by tq_rules_begin(), or HELD for a
 * reconcile) in normal or manual mode, settle it, and set the use of every quota permit
 * the verdict consumes.  covered, when not NULL, receives the cover that counted.
 * d is not stored: the caller does that. */
TQ_MUST_USE int tq_apply_decide(tq_decl *d, int manual, const tq_facts_ops *ops, void *ctx,
                    tq_u128 *covered);

/* Scratch space reused across calls (a guarantee buffer); zero-initialise it and
 * release it with tq_apply_scratch_release(). */
typedef struct tq_apply_scratch {
    tq_guarantee *guar;
    size_t guar_cap;
} tq_apply_scratch;

/* tq_apply_scratch_release() - free what sc holds and zero it (it may be used again).
 * sc may be NULL.  Threads: the thread that owns sc. */
void tq_apply_scratch_release(tq_apply_scratch *sc);

/* ---- the change feed: one rule for "is this a change", used by every path ---- */

/* A declaration's decision as the feed sees it, taken before an event or a
 * re-evaluation changes it.  exists = 0: no declaration yet. */
typedef struct tq_decision {
    uint8_t exists, state, manual;
    uint32_t reasons, version;
} tq_decision;

/* tq_apply_decision() - the decision of d (exists != 0), or of no declaration. */
tq_decision tq_apply_decision(const tq_decl *d, int exists);

/* tq_apply_source() - when step changed d (EVALUATE, EVALUATE_MANUAL or DONE), record
 * the event that did it: src_id (TQ_JOURNAL_ID_LEN bytes) and seq.  Otherwise d is
 * left as it is. */
void tq_apply_source(tq_decl *d, tq_step step, const uint8_t *src_id, uint64_t seq);

/* tq_apply_change() - whether d's decision differs from before: a new declaration, or
 * another state, reasons, version or manual flag.  When it does, *c is filled (no = 0,
 * for the store to number) with cause and, for TQ_CHANGE_EVENT, d's source; the source
 * is zero for any other cause.  @return 1 (a change, *c filled) or 0 (*c untouched).
 * Pure; any thread. */
TQ_MUST_USE int tq_apply_change(const tq_decision *before, const tq_decl *d, int cause, tq_change *c);

/* tq_apply_record() - tq_apply_change() and, when it says so, tq_store_add_change()
 * through t.  @return TQ_OK or a store error (TQ_ERR_MAPFULL: the transaction is dead). */
TQ_MUST_USE int tq_apply_record(tq_txn *t, const tq_decision *before, const tq_decl *d, int cause);

/* tq_apply_event() - read ev's declaration through t, apply ev, and when the rules
 * changed it (*step EVALUATE*, DONE) store it with src_id/ev->seq as its source and
 * record a TQ_CHANGE_EVENT change when its decision differs (tq_apply_record()).
 * src_id: the id of ev's journal (TQ_JOURNAL_ID_LEN bytes).  *step receives what the
 * rules said (TQ_STEP_*).  @return TQ_OK or a store error (TQ_ERR_MAPFULL: the
 * transaction is dead).  One thread: t's. */
TQ_MUST_USE int tq_apply_event(tq_txn *t, const tq_event *ev, const uint8_t *src_id,
                   tq_apply_scratch *sc, tq_step *step);

/* tq_apply_evaluate() - decide d from the facts in t and store it.  Records no change:
 * the caller knows why it evaluates (see tq_apply_record()). */
TQ_MUST_USE int tq_apply_evaluate(tq_txn *t, tq_decl *d, int manual, tq_apply_scratch *sc,
                      tq_u128 *covered);

#endif
