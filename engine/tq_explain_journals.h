/* tq_explain_journals.h - what the journals an operator names (explain --journal) tell
 * of one declaration that the database does not keep.
 *
 * The store keeps only the officer results it applied and, for a declaration stored
 * before store format 3, no office, kind or line values.  The journals hold every
 * event, so explain reads them once, before anything is printed: each journal's
 * officer results for the declaration, how far each journal was replayed, the
 * database's skipped gaps, and (format 2 and before) the DECL the office came from.
 * tq_explain_officer_why() then decides, for each officer result, whether it was
 * applied and why not: the one place that reasoning lives.
 *
 * Calling sequence (t: the read transaction the tq_explain was filled from):
 *
 *   tq_explain_journals jv;
 *   tq_explain_journals_init(&jv, paths, n);
 *   rc = tq_explain_gaps(t, &jv.gaps);
 *   tq_explain_journals_backfill(&jv, x);              // only if x->decl has no office
 *   rc = tq_explain_journals_load(&jv, t, decl_no);     // officer results and marks
 *   ...
 *   tq_explain_journals_release(&jv);
 */
#ifndef TQ_EXPLAIN_JOURNALS_H
#define TQ_EXPLAIN_JOURNALS_H

#include <stddef.h>
#include <stdint.h>

#include "tq_explain.h"

typedef struct tq_explain_journals {
    int n;                                /* journals named */
    const char *const *paths;             /* n of them, borrowed from the caller */
    tq_explain_officer_list *officers;    /* n of them once loaded, or NULL */
    tq_journal_mark *marks;               /* how far each was replayed ... */
    int *have_mark;                       /* ... when the database knows it */
    uint8_t (*ids)[TQ_JOURNAL_ID_LEN];    /* each journal's id, when it could be read */
    int *have_id;
    tq_explain_gap_list gaps;             /* every journal's skipped gaps in the database */
    /* a declaration stored before format 3 (no office): what a journal told of it */
    int src_j;                            /* the journal, or -1 */
    tq_explain_decl_src src;
} tq_explain_journals;

/* tq_explain_journals_init() - jv empty, for the n journals of paths (borrowed: they
 * must outlive jv).  Nothing is read.  Cannot fail. */
void tq_explain_journals_init(tq_explain_journals *jv, const char *const *paths, int n);

/* tq_explain_journals_backfill() - for x's declaration stored before format 3 (office
 * ""), copy office, kind and line values into x->decl from the first readable journal
 * holding its DECL (tq_explain_backfill), and record which in jv->src_j, jv->src.  A
 * journal that cannot be read or holds no DECL is passed over silently: its history
 * says why.  Does nothing when x->decl has an office.  Cannot fail. */
void tq_explain_journals_backfill(tq_explain_journals *jv, tq_explain *x);

/* tq_explain_journals_load() - each journal's officer results for decl_no and its
 * replay mark in t.  A journal that cannot be read (missing, I/O, version) is left
 * empty (have_id 0): its history reports why.  Allocates jv's arrays (owned by jv).
 * @return TQ_OK, or TQ_ERR_NOMEM (jv stays safe to release). */
TQ_MUST_USE int tq_explain_journals_load(tq_explain_journals *jv, tq_txn *t,
                                         const char *decl_no);

/* tq_explain_journals_gap_of() - the database's skipped gap holding seq of journal j,
 * or NULL (also when journal j's id could not be read). */
const tq_gap *tq_explain_journals_gap_of(const tq_explain_journals *jv, int j, uint64_t seq);

/* tq_explain_journals_release() - free what jv owns; the paths stay the caller's.
 * Safe on a jv only initialised; jv is then as tq_explain_journals_init() left it (the
 * same paths), and may be released again or reused after tq_explain_journals_init(). */
void tq_explain_journals_release(tq_explain_journals *jv);

/* tq_explain_officer_why() - whether officer result e of journal j of jv was applied to
 * x's declaration, with why not, in words, into out (cap bytes, cut short to fit).
 * Not applied: its seq is in a skipped gap; the journal is not replayed that far; it
 * came after an event that made the declaration final; or the declaration was not in
 * a state to take it.  @return 1 applied, 0 not.  Pure: any thread. */
int tq_explain_officer_why(const tq_explain *x, const tq_explain_journals *jv, int j,
                           const tq_explain_officer *e, char *out, size_t cap);

/* tq_explain_event_name() - an event kind as explain words it ("OFFICER REJECT" for
 * TQ_EV_OFFICER, which makes a declaration final only as a REJECT); "event" when
 * unknown.  Static string. */
const char *tq_explain_event_name(uint8_t ev);

/* tq_explain_result_name() - an officer result's name ("DOCS_OK"), "?" when unknown.
 * Static string. */
const char *tq_explain_result_name(uint8_t result);

#endif
