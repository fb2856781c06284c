/* tq_store_check.h - the whole-database check behind `thongquan check --db DIR`.
 *
 * Like SQLite's PRAGMA integrity_check: it lists every problem it finds and changes
 * nothing.  In order, each step only when the one before found the database sound
 * enough to go on:
 *   1. the file: DIR/data.mdb's own structure, every page of every tree, read with
 *      pread before LMDB maps it (tq_lmdb_check_file() with TQ_LMDB_CHECK_TREES);
 *   2. the records: the store opened read-only, every key and value of every table
 *      decoded and checked (tq_store_verify());
 *   3. what must hold between records (one read snapshot):
 *      - declarations: the state and its fields agree (SPEC §3, §4): no PENDING state
 *        stored; manual only when CLEARED; CLEARED by the rules, REJECTED and CANCELLED
 *        have no reasons and no tax_short; HELD has reasons; TAX_SHORT is set exactly
 *        when tax_short > 0, and tax_short <= tax_due; a manual clearance's
 *        discrepancies never include AWAIT_OFFICER or PERMIT_QUOTA;
 *      - covers: each declaration's cover equals what its receipts add up to (the PAY
 *        total, saturated as stored, and the guarantees merged by expiry day), and a
 *        declaration without receipts has no cover;
 *      - permit use: a permit's used quantity never exceeds the sum of the quantities
 *        that CLEARED declarations (by the rules or by hand) put on lines naming it.
 *        Only that bound holds in general: use grows only when a declaration naming
 *        the permit is cleared, by exactly its quantity on that permit, and only while
 *        the permit is a known quota permit (quota > 0, SPEC §7); a reload keeps use
 *        but may change the quota, so equality cannot be required;
 *      - journal marks: frames <= last_seq, applied_at not in the future; each skipped
 *        gap belongs to a journal with a mark, lies within 1..last_seq, first <= last,
 *        and the gaps of one journal are disjoint and ascending;
 *      - the change feed (format 3): numbers run 1, 2, ... without a gap, and every
 *        change names a stored declaration.
 *   (The indexes are checked in step 2: tq_store_verify() follows every entry to its
 *   declaration and looks up every entry each declaration implies; and so is the held
 *   table of format 4, tq_store_held_verify(): every row equals the declaration and
 *   cover it copies, and every HELD declaration has its row.)
 * Memory: the cross-checks sum per declaration and per permit in a table bounded by
 * opts->mem_max; a database with more keys than fit is checked in several passes.
 * Threads: one call per database at a time; the store is opened and closed inside.
 */
#ifndef TQ_STORE_CHECK_H
#define TQ_STORE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/tq_error.h"
#include "tq_lmdb_check.h"

/* One problem found.  Strings live for the duration of the callback only. */
typedef struct tq_check_problem {
    const char *table;      /* "data.mdb" (the file's structure), a table name ("cover",
                             * "decls", "usage", "journals", "gaps", "changes"), or "records" when
                             * what names the table itself (from tq_store_verify()) */
    const char *key;        /* the key, quoted printable (tq_diag_quote()); "" if none */
    const char *what;       /* one line, no final period */
} tq_check_problem;

typedef struct tq_store_check_opts {
    uint64_t max_problems;  /* stop listing after this many; 0 = 100 */
    size_t mem_max;         /* bytes for the cross-check tables; 0 = 64 MiB */
} tq_store_check_opts;

typedef struct tq_store_check_report {
    tq_lmdb_check_stats file;   /* step 1 */
    int steps;                  /* steps completed: 0..3 */
    int format;                 /* the store format version (0: not opened) */
    uint64_t records;           /* step 2: records decoded */
    uint64_t decls, receipts, permits, journals, gaps;   /* step 3: walked */
    uint64_t changes;           /* step 3: changes of the feed walked (format 3) */
    uint64_t passes;            /* step 3: passes the memory bound asked for */
    uint64_t problems;
} tq_store_check_report;

/* tq_store_check() - check the database in dir (see above).  opts may be NULL.
 * on_problem (may be NULL) is called for each problem; rep (may be NULL) gets the
 * counts.  d gets the first problem, or why the check could not run.
 * @return TQ_OK (sound), TQ_ERR_DBCORRUPT (problems listed), TQ_ERR_NOTFOUND (no
 *         database in dir), TQ_ERR_VERSION (not a thongquan database of this version),
 *         TQ_ERR_BUSY (a writer kept changing the file under the file check: see
 *         tq_lmdb_check_file()), TQ_ERR_PERM, TQ_ERR_IO, TQ_ERR_NOMEM, TQ_ERR_STORE. */
TQ_MUST_USE int tq_store_check(const char *dir, const tq_store_check_opts *opts,
                   void (*on_problem)(void *ctx, const tq_check_problem *p), void *ctx,
                   tq_store_check_report *rep, tq_diag *d);

#endif
