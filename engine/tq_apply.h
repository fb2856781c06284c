/* tq_apply.h - decide one declaration with the rules, from facts a caller supplies.
 *
 * The glue between the pure rules and wherever the facts live.  tq_apply_decide() asks
 * a small interface for the declaration's cover and its permits (with their use), runs
 * the rules, settles the declaration and reports the quota use it consumes.  The
 * serial replay and reconcile answer from the store through a write transaction
 * (tq_apply_event(), tq_apply_evaluate()); the replay pipeline answers from its caches.
 * Every path decides through tq_apply_decide(), so they cannot drift apart.
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
int tq_apply_decide(tq_decl *d, int manual, const tq_facts_ops *ops, void *ctx,
                    tq_u128 *covered);

/* Scratch space reused across calls (a guarantee buffer); zero-initialise it and
 * release it with tq_apply_scratch_release(). */
typedef struct tq_apply_scratch {
    tq_guarantee *guar;
    size_t guar_cap;
} tq_apply_scratch;

void tq_apply_scratch_release(tq_apply_scratch *sc);

/* tq_apply_event() - read ev's declaration through t, apply ev, store the result.
 * *step receives what the rules said (TQ_STEP_*).  @return TQ_OK or a store error
 * (TQ_ERR_MAPFULL: the transaction is dead). */
int tq_apply_event(tq_txn *t, const tq_event *ev, tq_apply_scratch *sc, tq_step *step);

/* tq_apply_evaluate() - decide d from the facts in t and store it. */
int tq_apply_evaluate(tq_txn *t, tq_decl *d, int manual, tq_apply_scratch *sc,
                      tq_u128 *covered);

#endif
