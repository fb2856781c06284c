/* tq_explain.h - gather everything that decides one declaration, for `thongquan explain`.
 *
 * Read-only.  An operator asking "why is 103456789012 still held?" needs the stored
 * decision, the facts the rules look at today (payments, permits and their use) and the
 * verdict those facts give, each reason tied to the permit or line that causes it.  All
 * of it is computed by the same tq_rules functions the replay and reconcile use, so the
 * explanation cannot drift from the decision: the per-permit and per-line findings come
 * from evaluating the declaration restricted to that permit's lines, or to one line.
 *
 * Calling sequence (one read transaction, so every figure comes from one snapshot):
 *
 *   tq_explain *x = tq_explain_new();
 *   rc = tq_explain_decl(txn, "103456789012", x);        // TQ_ERR_NOTFOUND if unknown
 *   tq_explain_each_payment(txn, "103456789012", fn, ctx);  // its receipts
 *   tq_explain_free(x);
 *
 * and, for the history the store does not keep, tq_explain_history() over a journal.
 * Office, kind and line values are in x->decl (store format 3); a declaration stored
 * before has office "" and tq_explain_backfill() finds them in its journal.
 *
 * Ownership: a tq_explain owns its scratch (tq_explain_free); the journal readers open
 * and close their own descriptors and keep nothing.  Errors follow formats/tq_error.h.
 * Threads: the functions taking a tq_txn run in the thread that began it (tq_store.h);
 * the journal readers may run in any thread; a tq_explain is used by one thread.
 */
#ifndef TQ_EXPLAIN_H
#define TQ_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tq_rules.h"
#include "tq_store.h"

/* One distinct permit named by the declaration, with what it alone causes. */
typedef struct tq_explain_permit {
    const char *name;          /* points into tq_explain.decl */
    tq_permit_fact fact;       /* as looked up now: found, row, used */
    uint64_t qty;              /* sum of the qty of the declaration's lines naming it */
    uint32_t reasons;          /* TQ_R_PERMIT_* this permit causes on its own, including
                                * PERMIT_QUOTA when used + qty > quota (> 0), whether or
                                * not the whole declaration reaches the quota check */
    uint64_t hs_bad_lines;     /* bit l set: line l names it and its hs fits no prefix */
} tq_explain_permit;

typedef struct tq_explain {
    tq_decl decl;              /* the stored state */
    /* The cover that counts for its registration day, split by kind. */
    tq_u128 pay_total;         /* PAY amounts (exact sums) */
    tq_u128 guar_counted;      /* guarantees valid on or after the registration day */
    tq_u128 guar_expired;      /* guarantees that expired before it (do not count) */
    tq_u128 covered;           /* pay_total + guar_counted */
    /* The verdict of today's facts: what a reconcile would find for a HELD declaration
     * (quota as if it came first), the discrepancies for a manual clearance.  Only
     * meaningful for HELD and manual declarations: a cleared declaration's own quantity
     * is already in its permits' use. */
    tq_verdict now;
    int evaluated;             /* now was computed (HELD, or CLEARED by hand) */
    size_t npermits;
    tq_explain_permit permits[TQ_LINES_MAX];
    /* owned scratch for the cover's guarantees */
    tq_guarantee *guar;
    size_t guar_cap;
} tq_explain;

/* tq_explain_new() / tq_explain_free() - the struct is about 20 KiB, so it lives on the
 * heap.  @return NULL when out of memory.  tq_explain_free(NULL) does nothing. */
tq_explain *tq_explain_new(void);
void tq_explain_free(tq_explain *x);

/* tq_explain_decl() - fill x for decl_no from read (or write) transaction t.
 * @return TQ_OK, TQ_ERR_NOTFOUND (unknown decl_no; x->decl zeroed), TQ_ERR_INPUT
 *         (decl_no not 12 bytes), TQ_ERR_NOMEM, or a store error. */
TQ_MUST_USE int tq_explain_decl(tq_txn *t, const char *decl_no, tq_explain *x);

/* tq_explain_each_payment() - every stored payment row for decl_no, in receipt_no order.
 * Receipts are keyed by receipt_no, so this scans them all: fine for one declaration at
 * an operator's request, not for a loop.  Stops early and returns fn's value when fn
 * returns non-zero; *count (may be NULL) receives the rows given to fn.
 * @return TQ_OK, fn's value, or a store error. */
TQ_MUST_USE int tq_explain_each_payment(tq_txn *t, const char *decl_no,
                            int (*fn)(void *ctx, const tq_payment *p), void *ctx,
                            uint64_t *count);

/* A declaration's stored payments, in receipt_no order, owned by the list. */
typedef struct tq_explain_payment_list {
    tq_payment *v;
    size_t n, cap;
} tq_explain_payment_list;

/* tq_explain_payments() - append every stored payment row for decl_no to l (start from
 * a zeroed list) through tq_explain_each_payment(); the memory grows with the number of
 * receipts of one declaration.  @return TQ_OK, TQ_ERR_NOMEM or a store error; l holds
 * what was appended either way and must be released. */
TQ_MUST_USE int tq_explain_payments(tq_txn *t, const char *decl_no, tq_explain_payment_list *l);

/* tq_explain_payment_list_release() - free l's rows and zero it.  NULL-safe. */
void tq_explain_payment_list_release(tq_explain_payment_list *l);

/* tq_explain_history() - every event of journal path whose decl_no matches, in seq
 * order, through fn (stop early by returning non-zero; that value is returned).  A
 * corrupt frame is reported through bad (may be NULL) and skipped, so the events after
 * it are still found; the first such error is returned at the end (TQ_ERR_CORRUPT), or
 * TQ_ERR_TORN for a torn tail.  *id receives the journal's id (to look up how far it
 * was replayed).  @return TQ_OK, TQ_ERR_CORRUPT, TQ_ERR_TORN, TQ_ERR_IO, TQ_ERR_VERSION,
 * TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_explain_history(const char *path, const char *decl_no,
                       int (*fn)(void *ctx, const tq_event *ev), void *ctx,
                       void (*bad)(void *ctx, int err, const tq_frame_info *fi),
                       uint8_t id[TQ_JOURNAL_ID_LEN]);

/* What a journal tells of a declaration stored before store format 3 (office ""):
 * office, kind and line values, which the store did not keep then. */
typedef struct tq_explain_decl_src {
    int found;                          /* the journal holds the declaration's DECL */
    uint64_t decl_seq;                  /* its seq */
    int values;                         /* the line values were found: the DECL's or a
                                         * later AMEND's lines equal the stored lines */
    uint64_t values_seq;                /* the event they came from */
} tq_explain_decl_src;

/* tq_explain_backfill() - when d was stored without an office (before format 3), read
 * journal path for d's DECL: copy its office and kind into d, and the line values of
 * the last DECL or AMEND whose lines (hs, permit, qty, in order) equal d's, so a value
 * is never paired with a line it was not declared for.  d is otherwise unchanged.
 * Damaged frames are passed over as tq_explain_history() does, silently.
 * @return as tq_explain_history(); *src says what was found. */
TQ_MUST_USE int tq_explain_backfill(const char *path, tq_decl *d, tq_explain_decl_src *src);

/* The officer results a journal holds for one declaration, with what came before each
 * in that journal, so that explain can say which were applied and why not the others
 * (the store keeps only the results applied: a DOCS_OK that came after a MANUAL_CLEAR
 * changed nothing, CLEARED being final). */
#define TQ_EXPLAIN_OFFICER_MAX 16
typedef struct tq_explain_officer {
    uint64_t seq;
    uint8_t result;                     /* tq_officer_result */
    uint8_t final_ev;                   /* 0, or the kind of the earlier event of this
                                         * journal that made the declaration final
                                         * (MANUAL_CLEAR, CANCEL, OFFICER for REJECT) */
    uint8_t declared_before;            /* a DECL for it came earlier in this journal */
    uint64_t final_seq;                 /* that event's seq */
    char officer[TQ_OFFICER_MAX + 1];
} tq_explain_officer;

typedef struct tq_explain_officers {
    size_t n;                           /* kept, in seq order */
    uint64_t more;                      /* found beyond TQ_EXPLAIN_OFFICER_MAX */
    tq_explain_officer v[TQ_EXPLAIN_OFFICER_MAX];
} tq_explain_officer_list;

/* tq_explain_officers() - the OFFICER events of journal path for decl_no (the first
 * TQ_EXPLAIN_OFFICER_MAX; memory does not grow with the journal).  Damaged frames are
 * passed over as tq_explain_history() does, silently: the caller reports them when it
 * lists the history.  *id receives the journal's id.
 * @return as tq_explain_history(). */
TQ_MUST_USE int tq_explain_officers(const char *path, const char *decl_no,
                                    tq_explain_officer_list *out, uint8_t id[TQ_JOURNAL_ID_LEN]);

/* The gaps that --skip-corrupt left in the database (every journal's), the first
 * TQ_EXPLAIN_GAPS_MAX of them in (journal id, seq) order, and how many in all: events in
 * a gap were not applied, so any decision may lack them until replay --fill-gap. */
#define TQ_EXPLAIN_GAPS_MAX 32
typedef struct tq_explain_gaps {
    size_t n;                           /* kept */
    uint64_t total;                     /* in the database */
    tq_gap v[TQ_EXPLAIN_GAPS_MAX];
} tq_explain_gap_list;

/* tq_explain_gaps() - fill g from t.  @return TQ_OK or a store error. */
TQ_MUST_USE int tq_explain_gaps(tq_txn *t, tq_explain_gap_list *g);

/* tq_explain_gap_of() - the gap of g holding seq of journal id, or NULL (only the gaps
 * kept in g are searched).  The pointer is into g.  Pure: any thread. */
const tq_gap *tq_explain_gap_of(const tq_explain_gap_list *g, const uint8_t id[TQ_JOURNAL_ID_LEN],
                                uint64_t seq);

#endif
