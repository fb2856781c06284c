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

/* Where one journal's history goes: text into f, or, when w is set, one object into the
 * open JSON array w; line is scratch of TQ_NDJSON_LINE_MAX bytes (the caller's); bad
 * (may be NULL) hears of each damaged frame (tq_explain_history), with bad_ctx. */
typedef struct tq_explain_history_out {
    FILE *f;
    tq_json *w;
    char *line;
    void (*bad)(void *ctx, int err, const tq_frame_info *fi);
    void *bad_ctx;
} tq_explain_history_out;

/* tq_explain_history_print() - journal j of jv's events for decl_no, each as its NDJSON
 * line with seq, in journal order and as they are read (nothing held back), then how
 * far the database t (may be NULL) replayed that journal, its officer results (JSON)
 * and the events of it that fall in a skipped gap.  A damaged frame is passed over
 * (the events after it are listed) and told to out->bad.  Errors of the stream are
 * left in f's error flag or sticky in w.  One thread per out.
 * @return as tq_explain_history(): TQ_OK, TQ_ERR_CORRUPT or TQ_ERR_TORN (listed all the
 *         same), TQ_ERR_IO, TQ_ERR_VERSION, TQ_ERR_NOMEM (the journal unread). */
TQ_MUST_USE int tq_explain_history_print(const tq_explain_history_out *out, tq_txn *t,
                                         const tq_explain *x, const tq_explain_journals *jv,
                                         int j, const char *decl_no);

#endif
