/* tq_report.h - the store's part of a run's report: what replay, reconcile and the
 * nightly job all show about the database after the run.
 *
 * One read transaction gives: declarations by state, held by reason, held per office
 * (from the office index of store format 3: the TQ_REPORT_TOP offices with the most held
 * declarations, the others summed) and the age since registration of every HELD
 * declaration, counted to the report's as-of instant.  The page itself is written by
 * tq_report_html.h.
 */
#ifndef TQ_REPORT_H
#define TQ_REPORT_H

#include "tq_report_html.h"
#include "tq_store.h"

/* tq_report_collect() - fill r's store-derived parts (declarations, by_state,
 * held_by_reason, office, noffices, other_offices, other_held, offices_unknown, age) from
 * t, and set have_store; r->as_of must be set (tq_report_init).  One walk of the
 * declarations and one of the office index: the cost is the size of the table; memory
 * is fixed.  A database before store format 3, read as it is, has no office index: then
 * offices_unknown is set and the rest is filled.  Threads: as t.
 * @return TQ_OK; TQ_ERR_DBCORRUPT (tq_txn_fault(t) says where), store errors: r's
 *         store-derived parts are then undefined and have_store is 0. */
TQ_MUST_USE int tq_report_collect(tq_txn *t, tq_report *r);

/* tq_report_collect_store() - the same in a read transaction of its own on s; on error
 * d (may be NULL) says why (the table and key of damage).  Threads: any thread, beside
 * the store's writer (a reader never blocks it); one r per thread. */
TQ_MUST_USE int tq_report_collect_store(tq_store *s, tq_report *r, tq_diag *d);

/* tq_report_age_bucket() - the TQ_AGE_* bucket of a declaration registered at reg, as
 * of as_of (one registered after as_of counts as under 2 hours).  Pure: any thread;
 * it cannot fail. */
TQ_MUST_USE int tq_report_age_bucket(tq_instant reg, tq_instant as_of);

#endif
