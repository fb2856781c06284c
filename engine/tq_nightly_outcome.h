/* tq_nightly_outcome.h - what one nightly run did: each inbox file it handled (with
 * what became of it and why), the counts by result, the reconcile's, worklists' and
 * metrics' outcome, and the names of the run's reports.
 *
 * tools/cmd_nightly.c fills it as the run goes (tq_nightly_take.h handles each file);
 * tq_nightly_report.h writes it as the JSON report and the metrics.  Every name taken
 * from the inbox is kept quoted (tq_nightly_quote) and in hex, never raw: the inbox's
 * names are hostile.
 *
 * Threads: an outcome is used by one thread.
 */
#ifndef TQ_NIGHTLY_OUTCOME_H
#define TQ_NIGHTLY_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tq_export.h"
#include "tq_nightly.h"
#include "tq_worklist.h"

/* What became of an inbox file (the report's "result" and the metrics' label). */
typedef enum tq_nightly_result {
    TQ_NIGHTLY_R_LOADED = 0,
    TQ_NIGHTLY_R_FAILED,        /* refused: moved to failed/ with NAME.err */
    TQ_NIGHTLY_R_DUPLICATE,     /* its content was loaded before */
    TQ_NIGHTLY_R_IGNORED,       /* not an input name (counted, never a file entry) */
    TQ_NIGHTLY_R_WAITING,       /* left for the next run */
    TQ_NIGHTLY_R_COUNT
} tq_nightly_result;

/* tq_nightly_result_name() - "loaded", "failed", "duplicate", "ignored", "waiting";
 * "?" out of range.  Static string. */
const char *tq_nightly_result_name(int result);

/* tq_nightly_kind_name() - "permits", "payments" or "other" for a tq_load_kind.  Static. */
const char *tq_nightly_kind_name(int kind);

/* One file handled by the run. */
typedef struct tq_nightly_file {
    char *q;                    /* the name, quoted (printable ASCII); owned */
    char *hex;                  /* the name's bytes in hex; owned */
    int kind, result;           /* tq_load_kind, tq_nightly_result */
    char sha[65];               /* its content's SHA-256 in hex, "" before staging */
    uint64_t rows;              /* loaded rows (LOADED) */
    char *stored;               /* quoted "done/DATE/NAME" where it went, or NULL; owned */
    char why[400];              /* for failed and waiting */
} tq_nightly_file;

typedef struct tq_nightly_outcome {
    const char *inbox, *db;     /* borrowed from the caller */
    const char *reports;        /* the reports folder, NULL: none written */
    const char *metrics;        /* the metrics file, NULL: none written */
    char date[16];              /* the run's local day, YYYY-MM-DD: done/DATE/ */
    char stamp[40];             /* the reports' stamp (tq_nightly_outcome_stamp) */
    char started_at[32];        /* UTC, set by the caller */
    /* REPORTS/nightly-STAMP.json, reconcile-STAMP.json, STAMP/ (CSV), worklists-STAMP/,
     * report-STAMP.html; NULL without reports; owned */
    char *report_path, *reconcile_report, *csv_dir, *worklist_dir, *html_report;
    tq_nightly_file *f;         /* the files handled, in order; owned */
    size_t nf, capf;
    size_t count[TQ_NIGHTLY_R_COUNT];   /* tq_nightly_outcome_count() */
    int reconciled, reconcile_status;   /* the reconcile ran and committed; its status */
    tq_tally tally;             /* the database's counts, when have_tally */
    int have_tally;
    tq_nightly_state state;     /* figures kept between runs */
    char metrics_error[400];    /* why the metrics were not written, "" when they were */
    int worklists_done;         /* the worklists are in worklist_dir */
    tq_worklist_stats wl;
    char worklist_error[400];   /* why they are not, "" when unknown */
} tq_nightly_outcome;

/* tq_nightly_outcome_init() - o empty for a run started at start (local day into
 * o->date); inbox, db, reports and metrics (NULL: none) are borrowed.  Cannot fail. */
void tq_nightly_outcome_init(tq_nightly_outcome *o, const char *inbox, const char *db,
                             const char *reports, const char *metrics, time_t start);

/* tq_nightly_outcome_stamp() - the reports' stamp: the local time of start as
 * YYYY-MM-DDTHHMMSS, or with "-2", "-3" ... the first for which none of the run's five
 * report names exists in o->reports (as a file, a link or anything), so no earlier run
 * is ever overwritten; fills o->stamp and the five paths.  o->reports must be set.
 * @return TQ_OK or TQ_ERR_NOMEM. */
TQ_MUST_USE int tq_nightly_outcome_stamp(tq_nightly_outcome *o, time_t start);

/* tq_nightly_outcome_add() - a new file entry for inbox entry e with result, its name
 * quoted and in hex.  The pointer is valid until the next add.
 * @return the entry, or NULL out of memory (o unchanged). */
tq_nightly_file *tq_nightly_outcome_add(tq_nightly_outcome *o, const tq_nightly_entry *e,
                                        int result);

/* tq_nightly_file_stored() - record that f went to dest/date/ under the name stored
 * (raw bytes, as tq_nightly_file_away gave it): f->stored becomes the quoted
 * "done/DATE/NAME".  Out of memory leaves f->stored NULL (the report then omits it). */
void tq_nightly_file_stored(tq_nightly_file *f, tq_nightly_dest dest, const char *date,
                            const char *stored);

/* tq_nightly_outcome_count() - o->count from the files' results, with the scan's
 * ignored names (all of them, listed or not) and the files that wait for a later run
 * (too young) added.  Cannot fail. */
void tq_nightly_outcome_count(tq_nightly_outcome *o, const tq_nightly_list *sc);

/* tq_nightly_outcome_tally() - when o has no tally yet, read the database o->db's
 * counts into it (read-only), so a run that neither loaded nor reconciled still gives
 * figures, not NaN: an alert on HELD must be able to fire on any night.  A database
 * that cannot be read leaves have_tally 0.  Cannot fail otherwise. */
void tq_nightly_outcome_tally(tq_nightly_outcome *o);

/* tq_nightly_outcome_worklists() - the officers' worklists of o->db (read-only) into
 * o->worklist_dir, deadline seconds after registration, as of now (unix seconds): sets
 * o->wl and o->worklists_done, or o->worklist_error.  Nothing without o->reports.
 * @return TQ_OK, or the store's or tq_worklist_write()'s error (d->why may say why). */
TQ_MUST_USE int tq_nightly_outcome_worklists(tq_nightly_outcome *o, int64_t deadline,
                                             int64_t now, tq_diag *d);

/* tq_nightly_outcome_release() - free what o owns; the borrowed strings stay.  Safe
 * on an outcome only initialised. */
void tq_nightly_outcome_release(tq_nightly_outcome *o);

#endif
