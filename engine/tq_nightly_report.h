/* tq_nightly_report.h - a nightly run told to the outside: its JSON report (one object
 * per run, REPORTS/nightly-STAMP.json and --json) and its node_exporter textfile
 * (--metrics), both from a tq_nightly_outcome.
 *
 * The metrics always carry every series, zeros included, and NaN where the database
 * could not be read, so an alert on HELD can fire on any night and a dashboard always
 * finds the same names.  Threads: any, one writer per stream.
 */
#ifndef TQ_NIGHTLY_REPORT_H
#define TQ_NIGHTLY_REPORT_H

#include <stdio.h>

#include "tq_json.h"
#include "tq_nightly_outcome.h"

/* tq_nightly_report_json() - the report's members into open object j (the caller
 * writes "schema" before and closes it): command, inbox, database, started_at,
 * finished_at, exit_status (status), files, ignored (sc's listed names),
 * ignored_not_listed, counts, reconcile, worklists, metrics.  o and sc are read.
 * Errors are sticky in j (tq_json). */
void tq_nightly_report_json(tq_json *j, const tq_nightly_outcome *o, const tq_nightly_list *sc,
                            int status, const char *finished_at);

/* tq_nightly_report_prom() - the metrics as Prometheus text into f: declarations by
 * state and held by reason (NaN without o->have_tally), held by office from s's office
 * index (NaN for "unknown" when s is NULL or cannot be read; s may be NULL), the last
 * reconcile, the files by result, duration (seconds), now (unix seconds, the last run's
 * end), the exit status and the last success.  A write error stays in f's error flag. */
void tq_nightly_report_prom(FILE *f, const tq_nightly_outcome *o, int status, tq_store *s,
                            double duration, long long now);

/* tq_nightly_report_metrics() - tq_nightly_report_prom() into o->metrics, replaced
 * atomically (tq_out: temp, fsync, rename); the database o->db is opened read-only for
 * the office gauge.  Nothing when o->metrics is NULL.
 * @return TQ_OK, or tq_out's error (TQ_ERR_PERM, TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_INPUT,
 *         TQ_ERR_NOMEM) with d->why; the old file is then untouched. */
TQ_MUST_USE int tq_nightly_report_metrics(const tq_nightly_outcome *o, int status,
                                          double duration, tq_diag *d);

#endif
