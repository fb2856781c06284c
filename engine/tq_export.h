/* tq_export.h - the exports of SPEC §4: decisions and permits as CSV, the change feed,
 * and the tally the summaries print.
 *
 * Every function reads one consistent snapshot (a read transaction of its own, or the
 * caller's for tq_export_tally_txn) and writes to a FILE the caller owns and closes;
 * nothing here keeps state between calls.  Threads: any thread may call them, any
 * number at once, alongside the store's one writer (LMDB readers do not block it); one
 * FILE must not be written by two calls at once.  None takes a callback. */
#ifndef TQ_EXPORT_H
#define TQ_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "tq_store.h"

/* tq_export_decisions() - "decl_no,state,version,reasons,tax_short,manual", sorted by
 * decl_no, from one read transaction (a consistent snapshot), into out (borrowed,
 * flushed, not closed).  @return TQ_OK, TQ_ERR_IO (a write to out failed: what was
 * written is cut short), or a store error (TQ_ERR_DBCORRUPT, ...). */
TQ_MUST_USE int tq_export_decisions(tq_store *s, FILE *out);

/* tq_export_permits() - "permit_no,used,quota" sorted by permit_no; otherwise as
 * tq_export_decisions(). */
TQ_MUST_USE int tq_export_permits(tq_store *s, FILE *out);

/* tq_export_decision_row() - one decisions row of d, with its '\n' and without a NUL,
 * into out (cap bytes, the caller's; at least 256, which any row fits).  Pure: no
 * store, any thread.  @return its length, or 0 when cap < 256 (nothing written). */
size_t tq_export_decision_row(const tq_decl *d, char *out, size_t cap);

/* tq_export_changes() - the change feed (tq_change) numbered above since, in number
 * order, from one read transaction, as CSV
 *   "change,decl_no,state,reasons,version,manual,cause,src_id,src_seq"
 * (ndjson 0) or one JSON object a line (ndjson 1; no header).  cause is "event",
 * "reconcile" or "upgrade"; src_id (32 hex digits) and src_seq name the journal event of
 * an "event" change and are empty (null, 0) otherwise; reasons as in the decisions
 * export ('|' between; empty for REJECTED and CANCELLED).  *last gets the number of the
 * last change in the snapshot (0: none yet), which is the last row written when any was:
 * a reader that stores it and asks for --since it next time gets every change once.
 * *rows (may be NULL) gets the rows written.
 * @return TQ_OK; TQ_ERR_INPUT when since is beyond *last (nothing written: the feed was
 *         read from another database, or this one was restored from an older backup);
 *         TQ_ERR_VERSION (a format 2 database opened read-only: no feed yet); TQ_ERR_IO
 *         (a write to out failed); store errors. */
TQ_MUST_USE int tq_export_changes(tq_store *s, FILE *out, uint64_t since, int ndjson,
                                  uint64_t *last, uint64_t *rows);

/* tq_tally - what the summaries print: declarations per state and held by reason. */
typedef struct tq_tally {
    uint64_t declarations;
    uint64_t by_state[TQ_STATE_COUNT];               /* indexed by tq_state */
    uint64_t held_by_reason[TQ_REASON_COUNT];         /* bit index of TQ_R_* */
    uint64_t manual_cleared, manual_with_discrepancies;
} tq_tally;

/* tq_export_tally() - count over one read transaction into *out (caller-owned; zeroed
 * first).  Reads each declaration's head (tq_store_each_decl_head()): every record is
 * checked as a get checks it -- key, seal, every field and line -- and only its lines
 * are not copied out, so a damaged record is TQ_ERR_DBCORRUPT naming decls and its key
 * (tq_txn_fault()), never a count.  @return TQ_OK or a store error (*out then partly
 * counted). */
TQ_MUST_USE int tq_export_tally(tq_store *s, tq_tally *out);
/* TQ_EXPORT_TALLY_SPLIT - from this many declarations, tq_export_tally() counts the two
 * halves of the decl_no range on two threads (a national database's tally takes
 * seconds on one core): each half through a read transaction of its own, used only
 * when both see the same commit -- else, or on any fault, it counts in one walk as
 * below, which names the fault. */
#define TQ_EXPORT_TALLY_SPLIT 100000
/* tq_export_tally_split() - tq_export_tally() splitting from split_min declarations
 * (tests: 0 splits whenever there are two).  *halves (may be NULL): 1 when the two
 * halves were counted apart, 0 when one walk counted.  Threads: starts one and joins
 * it. */
TQ_MUST_USE int tq_export_tally_split(tq_store *s, tq_tally *out, uint64_t split_min,
                                      int *halves);
/* tq_export_tally_txn() - the same inside t, a transaction the caller holds, read or
 * write (a dry run counts what it decided before throwing the transaction away), on
 * t's thread.  @return TQ_OK or a store error. */
TQ_MUST_USE int tq_export_tally_txn(tq_txn *t, tq_tally *out);

#endif
