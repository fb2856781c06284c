/* tq_explain_print.h - an explanation in words (thongquan explain): the text an operator
 * reads and the --json members a script reads.
 *
 * Input is what tq_explain_decl(), tq_explain_payments() and tq_explain_journals
 * gathered from one read transaction; nothing here reads the store or a journal, so
 * the same facts always give the same bytes.  The history of each journal, the
 * command's messages and its exit status stay with the command.
 */
#ifndef TQ_EXPLAIN_PRINT_H
#define TQ_EXPLAIN_PRINT_H

#include <stdio.h>

#include "tq_explain.h"
#include "tq_explain_journals.h"
#include "tq_json.h"

/* tq_explain_text() - the text answer for decl_no into f: with known, the declaration
 * (state, reasons, registration, office, officer results with those of jv's journals,
 * tax, lines, payments, permits, the verdict of the rules applied now) and the
 * database's skipped gaps; when not known, only the payments stored for decl_no (none:
 * nothing is written).  x, pays and jv are read, not kept.  A write error is left in
 * f's error flag for the caller's fflush/ferror.  Any thread, one f per thread. */
void tq_explain_text(FILE *f, const tq_explain *x, int known,
                     const tq_explain_payment_list *pays, const tq_explain_journals *jv,
                     const char *decl_no);

/* tq_explain_json_head() - the members of explain's --json object before "history",
 * into open object w: decl_no, known, the declaration (when known) or only its
 * payments, and "skipped_gaps".  Errors are sticky in w (tq_json).  Any thread. */
void tq_explain_json_head(tq_json *w, const tq_explain *x, int known,
                          const tq_explain_payment_list *pays, const tq_explain_journals *jv,
                          const char *decl_no);

/* tq_explain_json_officers() - "officer_results" (each with seq, result, officer,
 * applied, why) and "officer_results_not_shown" of journal j of jv, into open object w;
 * nothing when jv was not loaded (an unknown declaration has nothing to apply them
 * to).  Errors are sticky in w.  Any thread. */
void tq_explain_json_officers(tq_json *w, const tq_explain *x, const tq_explain_journals *jv,
                              int j);

#endif
