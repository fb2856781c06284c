/* tq_report_html.h - a run's results as one self-contained HTML page.
 *
 * The page is for the operators who act on a replay or a reconcile: declarations by
 * state, held by reason, held per office, the backlog's age since registration, the
 * lists an operator works on (cleared now, manual clearances with discrepancies, refund
 * candidates, payments for unknown declarations) and, for a replay, the throughput of
 * each batch over the run.  It is one file with inline CSS and inline SVG only: no
 * script, no font, image, style sheet or link fetched from anywhere, so it opens
 * offline, from a mail attachment or a USB stick, and prints (a print style sheet, A4).
 *
 * The caller fills a tq_report (tq_report_init, then the store-derived parts with
 * tq_report_collect() of tq_report.h, then its own facts, lists and batches) and writes
 * it with tq_report_html_write().  Everything printed from data is HTML-escaped and any
 * byte sequence that is not valid UTF-8 (or is a control character) is printed as
 * U+FFFD, so a hostile decl_no, office or file name can never add markup.  Numbers are
 * grouped by thousands ("15,000"), times are Vietnam time (+07:00).
 *
 * Memory: a tq_report is about 110 KB (the first TQ_REPORT_ROWS rows of each list, and
 * at most TQ_REPORT_BATCHES batch points): allocate it, whatever the size of the run.
 * Threads: a tq_report is used by one thread at a time; the functions keep no state.
 */
#ifndef TQ_REPORT_HTML_H
#define TQ_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "../formats/tq_error.h"
#include "../formats/tq_out.h"
#include "../formats/tq_time.h"
#include "tq_rules.h"

#define TQ_REPORT_TOP 15        /* offices shown by name; the others are summed */
#define TQ_REPORT_ROWS 50       /* rows shown of each list; the rest are named */
#define TQ_REPORT_COLS 4        /* cells of a list row */
#define TQ_REPORT_CELL 128      /* bytes of a cell, NUL included (longer is cut) */
#define TQ_REPORT_FACTS 16      /* "label: value" lines about the run */
#define TQ_REPORT_BATCHES 256   /* batch points kept for the throughput chart */

/* The backlog's age since registration, as of tq_report.as_of. */
enum {
    TQ_AGE_2H,       /* under 2 hours (and registered after the as-of instant) */
    TQ_AGE_6H,       /* 2 to 6 hours */
    TQ_AGE_24H,      /* 6 to 24 hours */
    TQ_AGE_3D,       /* 1 to 3 days */
    TQ_AGE_OLDER,    /* over 3 days */
    TQ_AGE_BUCKETS
};

/* The lists an operator works on. */
enum {
    TQ_LIST_CLEARED,    /* cleared now: decl_no */
    TQ_LIST_MANUAL,     /* manual clearances with discrepancies: decl_no, why, short */
    TQ_LIST_REFUND,     /* refund candidates: decl_no, due, covered, excess */
    TQ_LIST_UNKNOWN,    /* payments for unknown declarations: receipt, decl_no, kind,
                         * amount */
    TQ_LIST_COUNT
};

typedef struct tq_report_list {
    uint64_t total;                 /* rows added */
    uint32_t shown;                 /* rows kept: min(total, TQ_REPORT_ROWS) */
    char cell[TQ_REPORT_ROWS][TQ_REPORT_COLS][TQ_REPORT_CELL];
    char rest[256];                 /* where the whole list is (a CSV file, or the
                                     * command that writes it); "" = not said */
} tq_report_list;

typedef struct tq_report_office {
    char office[5];                 /* "" = declarations stored without an office */
    uint64_t held;
} tq_report_office;

typedef struct tq_report {
    char title[160];
    tq_instant as_of;               /* ages are counted to this instant; printed */
    char fact_label[TQ_REPORT_FACTS][48];
    char fact_value[TQ_REPORT_FACTS][200];
    uint32_t nfacts;

    int have_store;                 /* the parts below were filled (tq_report_collect) */
    uint64_t declarations;
    uint64_t by_state[TQ_STATE_COUNT];           /* indexed by tq_state */
    uint64_t held_by_reason[TQ_REASON_COUNT];
    tq_report_office office[TQ_REPORT_TOP];  /* most held first */
    uint32_t noffices;
    uint64_t other_offices, other_held;      /* the offices past the top, summed */
    int offices_unknown;            /* the store keeps no office index (before format 3) */
    uint64_t age[TQ_AGE_BUCKETS];
    char store_note[160];           /* a caveat on the figures above; "" = none */

    int have_lists;                 /* a reconcile: the lists below were filled */
    tq_report_list list[TQ_LIST_COUNT];

    /* Throughput: cumulative points (seconds since the start, last seq done).  The
     * events of point i are seq[i] - seq[i-1], of the first seq[0] - batch_base. */
    uint64_t batch_base;            /* the seq before the run's first event */
    uint32_t nbatches;
    double batch_at[TQ_REPORT_BATCHES];
    uint64_t batch_seq[TQ_REPORT_BATCHES];
} tq_report;

/* tq_report_init() - empty r (every count 0, no facts, no lists) with its title (cut to
 * fit) and as-of instant.  Any bytes may be given: they are escaped when written. */
void tq_report_init(tq_report *r, const char *title, tq_instant as_of);

/* tq_report_as_of() - set r->as_of from an ISO-8601 timestamp with its offset
 * (tq_time_parse()).  @return TQ_OK, or TQ_ERR_INPUT with d->why saying why (the value
 * quoted); r unchanged. */
TQ_MUST_USE int tq_report_as_of(tq_report *r, const char *timestamp, tq_diag *d);

/* tq_report_fact() - add a "label: value" line about the run (the journal, events,
 * seconds...).  value is printf-formatted; both are cut to fit.  Past TQ_REPORT_FACTS
 * facts, nothing is added. */
void tq_report_fact(tq_report *r, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tq_report_row() - count one row of list (TQ_LIST_*), and keep its cells (ncells <=
 * TQ_REPORT_COLS; cells may be NULL for an empty one) when it is one of the first
 * TQ_REPORT_ROWS.  Sets have_lists.  A list index out of range does nothing. */
void tq_report_row(tq_report *r, int list, const char *const *cells, int ncells);

/* tq_report_lists_reset() - forget every row (a reconcile redone after the map grew
 * streams its lists again); the lists' rest names are kept. */
void tq_report_lists_reset(tq_report *r);

/* tq_report_batch() - a batch ended at `at` seconds since the start, through seq.
 * Points are kept cumulatively, so when TQ_REPORT_BATCHES are held every other one is
 * dropped (two neighbouring batches become one): totals stay exact and memory fixed. */
void tq_report_batch(tq_report *r, double at, uint64_t seq);

/* tq_report_html_print() - write the page to f.  @return 0, or -1 when f has an error
 * (ferror). */
TQ_MUST_USE int tq_report_html_print(FILE *f, const tq_report *r);

/* tq_report_html_write() - write the page to path through formats/tq_out.h (a temporary
 * file beside it, renamed into place; a stream for "-" or a device).
 * @return TQ_OK, or tq_out's errors (TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_PERM, TQ_ERR_INPUT,
 *         TQ_ERR_NOMEM) with d (may be NULL) naming the path and why; nothing is left
 *         at path on error. */
TQ_MUST_USE int tq_report_html_write(const tq_report *r, const char *path, tq_diag *d);

/* tq_report_open() - a new report (tq_report_init() with title, as of now) in *r, and
 * its page's output at path opened (tq_out_open(), flags 0), so that a command creates
 * its outputs before it changes anything.  On error nothing is created, *r is NULL.
 * @return TQ_OK, TQ_ERR_NOMEM, or tq_out_open()'s errors (d names the path and why). */
TQ_MUST_USE int tq_report_open(const char *path, const char *title, tq_out *o, tq_report **r,
                   tq_diag *d);

/* tq_report_commit() - print r's page into o and commit it (tq_out_commit(): o is
 * released either way).  @return TQ_OK, TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_PERM, TQ_ERR_NOMEM
 * (d says why). */
TQ_MUST_USE int tq_report_commit(tq_out *o, const tq_report *r, tq_diag *d);

/* tq_report_close() - abandon o if it was not committed (its temporary file removed)
 * and free r.  Either may be NULL; safe after tq_report_commit(). */
void tq_report_close(tq_out *o, tq_report *r);

/* tq_report_html_text() - s as HTML text into f: & < > " ' escaped, every byte
 * sequence that is not valid UTF-8 (overlong forms, surrogates, beyond U+10FFFF, cut
 * short) and every control character but tab and newline written as U+FFFD. */
void tq_report_html_text(FILE *f, const char *s);

/* tq_report_group() - v grouped by thousands ("15,000") into out; returns out. */
char *tq_report_group(uint64_t v, char out[32]);

/* tq_report_vn_time() - t in Vietnam time, "2024-08-06 09:15:00 +07:00", into out
 * (at least 32 bytes); returns out. */
char *tq_report_vn_time(tq_instant t, char out[32]);

#endif
