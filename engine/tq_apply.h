/* tq_apply.h - apply one event, or one re-evaluation, inside a write transaction.
 *
 * The glue between the pure rules and the store: it reads the declaration, its cover,
 * its permits and their use through the transaction (so it sees the transaction's own
 * earlier writes), runs the rules and writes the outcome back.  Replay and reconcile
 * both go through here, so a declaration is decided the same way by either.
 */
#ifndef TQ_APPLY_H
#define TQ_APPLY_H

#include "tq_rules.h"
#include "tq_store.h"

/* Scratch space reused across calls (a guarantee buffer); zero-initialise it and
 * release it with tq_apply_scratch_release(). */
typedef struct tq_apply_scratch {
    tq_guarantee *guar;
    size_t guar_cap;
} tq_apply_scratch;

void tq_apply_scratch_release(tq_apply_scratch *sc);

/* tq_apply_event() - apply ev.  *step receives what the rules said (TQ_STEP_*).
 * @return TQ_OK or a store error (TQ_ERR_MAPFULL: the transaction is dead). */
int tq_apply_event(tq_txn *t, const tq_event *ev, tq_apply_scratch *sc, tq_step *step);

/* tq_apply_evaluate() - evaluate d (already changed by tq_rules_begin, or HELD for a
 * reconcile), settle it, add the quota use it consumes and store it.  covered, when not
 * NULL, receives the cover that counted.  @return TQ_OK or a store error. */
int tq_apply_evaluate(tq_txn *t, tq_decl *d, int manual, tq_apply_scratch *sc,
                      uint64_t *covered);

#endif
