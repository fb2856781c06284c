/* tq_spool.h - one list of a report, streamed as it is found: a JSON array in a
 * temporary file (copied into the report when the report is written) and, when asked
 * for, the same list as a CSV file written through tq_out (temp beside its final name,
 * renamed into place by tq_spool_commit(), removed by tq_spool_release()).
 *
 * Why: a reconcile finds its lists (cleared now, still held, ...) while it runs, and a
 * list may hold millions of entries, so none is kept in memory; and a run redone from
 * the start (the store's map grew) must start its lists again, which tq_spool_reset()
 * does for both files.  Memory is fixed whatever the list's length.
 *
 *     tq_spool sp;
 *     rc = tq_spool_open(&sp, tmp, "out/cleared_now.csv", "decl_no\n", &d);
 *     tq_json_string(&sp.json, no);           // one element of the JSON array
 *     tq_spool_csv(&sp, "%s\n", no);          // its CSV row (nothing without a CSV)
 *     ...
 *     rc = tq_spool_end(&sp);                 // the array closed, the files flushed
 *     tq_json_key(&report, "cleared_now");
 *     rc = tq_spool_copy(&sp, &report);       // the array as that member's value
 *     rc = tq_spool_commit(&sp, &d);          // the CSV into place
 *     tq_spool_release(&sp);                  // always
 *
 * Errors follow tq_error.h.  The callbacks that add entries need check nothing: a
 * failed write to the array's file, or a reset that could not empty a file, is kept
 * (sp->failed) and returned by tq_spool_end(); a failed write to the CSV file is kept
 * by its tq_out and returned, naming the file and why, by tq_spool_commit().
 * Threads: a tq_spool is used by one thread at a time; different spools are
 * independent.
 */
#ifndef TQ_SPOOL_H
#define TQ_SPOOL_H

#include <stdint.h>
#include <stdio.h>

#include "tq_error.h"
#include "tq_json.h"
#include "tq_out.h"

typedef struct tq_spool {
    tq_json json;             /* writes the array's elements (the caller's to use) */
    FILE *tmp;                /* the array's temporary file (owned) */
    tq_out csv;               /* the CSV file, when csvf is not NULL */
    FILE *csvf;
    const char *header;       /* the CSV's first line (borrowed) */
    int failed;               /* a write, a reset or a flush failed: TQ_ERR_IO at the end */
} tq_spool;

/* tq_spool_open() - a spool on tmp (a read-write file, which the spool then owns and
 * closes, even on failure: an anonymous temporary file, say) and, when csv_path is not
 * NULL, the CSV file csv_path (tq_out_open; "-" or a device is a stream, which a reset
 * cannot take back), its first line csv_header (borrowed for the spool's life).  The
 * JSON array is begun.  @return TQ_OK; TQ_ERR_INPUT (tmp NULL); tq_out_open's errors
 * (d names the CSV file and why); TQ_ERR_NOMEM.  On error nothing is left open. */
TQ_MUST_USE int tq_spool_open(tq_spool *sp, FILE *tmp, const char *csv_path,
                              const char *csv_header, tq_diag *d);

/* tq_spool_csv() - one CSV row, printf-style (the caller writes its '\n'); nothing when
 * the spool has no CSV file.  A failure is kept for tq_spool_commit(). */
void tq_spool_csv(tq_spool *sp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tq_spool_reset() - start the list again: both files emptied, the array begun again,
 * the CSV header written again.  A CSV that is a stream cannot be emptied: that is
 * kept as a failure (the run then fails at tq_spool_end). */
void tq_spool_reset(tq_spool *sp);

/* tq_spool_end() - close the array and flush its file, once every entry is in.
 * @return TQ_OK, or TQ_ERR_IO when a write to the array's file, its flush or a reset
 *         failed (errno may say). */
TQ_MUST_USE int tq_spool_end(tq_spool *sp);

/* tq_spool_copy() - the array, as the value due next in j (after its key, or as an
 * element); after tq_spool_end().  May be called again (another report).
 * @return TQ_OK, or TQ_ERR_IO (reading the temporary file or writing j's FILE). */
TQ_MUST_USE int tq_spool_copy(tq_spool *sp, tq_json *j);

/* tq_spool_commit() - the CSV file into place (tq_out_commit: fsync, rename, fsync of
 * its directory); nothing without one.  After it, tq_spool_release() keeps the file.
 * @return TQ_OK, or tq_out_commit's error (d says which file and why). */
TQ_MUST_USE int tq_spool_commit(tq_spool *sp, tq_diag *d);

/* tq_spool_release() - close the temporary file and remove a CSV file not committed.
 * Safe on a zeroed spool and twice. */
void tq_spool_release(tq_spool *sp);

#endif
