/* tq_export.h - the exports of SPEC §4: decisions and permits as CSV. */
#ifndef TQ_EXPORT_H
#define TQ_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "tq_store.h"

/* tq_export_decisions() - "decl_no,state,version,reasons,tax_short,manual", sorted by
 * decl_no, from one read transaction (a consistent snapshot).  @return TQ_OK, TQ_ERR_IO
 * (a write to out failed), or a store error. */
int tq_export_decisions(tq_store *s, FILE *out);

/* tq_export_permits() - "permit_no,used,quota" sorted by permit_no. */
int tq_export_permits(tq_store *s, FILE *out);

/* tq_export_decision_row() - one decisions row (with '\n') into out (>= 256 bytes).
 * @return its length. */
size_t tq_export_decision_row(const tq_decl *d, char *out, size_t cap);

/* tq_tally - what the summaries print: declarations per state and held by reason. */
typedef struct tq_tally {
    uint64_t declarations;
    uint64_t by_state[5];               /* indexed by tq_state */
    uint64_t held_by_reason[8];         /* bit index of TQ_R_* */
    uint64_t manual_cleared, manual_with_discrepancies;
} tq_tally;

/* tq_export_tally() - count over one read transaction.  @return TQ_OK or a store error. */
int tq_export_tally(tq_store *s, tq_tally *out);
/* tq_export_tally_txn() - the same inside a transaction the caller holds (a dry run
 * counts what it decided before throwing the transaction away). */
int tq_export_tally_txn(tq_txn *t, tq_tally *out);

#endif
