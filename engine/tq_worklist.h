/* tq_worklist.h - the officers' worklists: per customs office, the declarations held on
 * a permit or awaiting an officer, and the list of held declarations whose tax is paid.
 *
 * After specialized inspection the declarant gives the permit reference and the officer
 * must look it up and decide within a deadline (2 hours by the administration's
 * instruction); after an outage, the declarations whose tax was paid but that stayed
 * held must be found and cleared first.  tq_worklist_write() writes, into one folder:
 *
 *   office-CODE.csv     one per office with such declarations (office-unknown.csv for
 *                       declarations stored before format 3 without an office):
 *                       decl_no,office,kind,declarant,registered_at,age,deadline_at,
 *                       deadline_passed,reasons,permits,permit_problems
 *                       for every HELD declaration with a PERMIT_* reason or
 *                       AWAIT_OFFICER, in decl_no order.  permits are the permits its
 *                       lines name ('|' between); permit_problems says what is wrong
 *                       with each permit that has something wrong, evaluated alone with
 *                       the permit row and its use as stored now, through tq_rules
 *                       (tq_explain_decl): "GCN-1:expired+hs|Q-1:quota", with the words
 *                       missing, revoked, expired, holder, hs, quota.  The deadline is
 *                       counted from the registration: deadline_at = registered_at +
 *                       deadline, deadline_passed "yes" when as_of >= deadline_at.
 *   tax-paid-held.csv   decl_no,office,kind,declarant,registered_at,age,tax_due,covered,
 *                       reasons: every HELD declaration whose payments and guarantees
 *                       valid on its registration day cover its tax_due, by office, then
 *                       decl_no (written even when empty: the header alone).
 *
 * Times are Vietnam time (+07:00); ages "3d04h05m" (engine/tq_list.h).  Every file goes
 * through formats/tq_out.h (temporary file, fsync, rename), so a reader never sees half
 * a file.  Everything comes from one read transaction, walking the office index: memory
 * does not depend on the number of declarations or offices.
 *
 * Threads: one call per output folder at a time; the store may be shared.
 */
#ifndef TQ_WORKLIST_H
#define TQ_WORKLIST_H

#include <stdint.h>

#include "tq_store.h"

#define TQ_WORKLIST_TAX_PAID "tax-paid-held.csv"
#define TQ_WORKLIST_UNKNOWN "unknown"      /* office-unknown.csv */

typedef struct tq_worklist_opts {
    tq_instant as_of;           /* "now" for ages and the deadline */
    int64_t deadline;           /* seconds after registration (the instruction: 7200) */
    int force;                  /* replace worklists already in the folder, and remove the
                                 * office-*.csv of an earlier run that this run did not
                                 * write (an office with nothing waiting any more) */
    /* called after each file is in place (may be NULL): its path and data rows */
    void (*on_file)(void *ctx, const char *path, uint64_t rows);
    void *ctx;
} tq_worklist_opts;

typedef struct tq_worklist_stats {
    uint64_t files;             /* files written, tax-paid-held.csv included */
    uint64_t rows;              /* rows of the office files */
    uint64_t past_deadline;     /* of them, deadline passed */
    uint64_t tax_paid_held;     /* rows of tax-paid-held.csv */
    uint64_t removed;           /* stale office files removed (force) */
} tq_worklist_stats;

/* tq_worklist_write() - write the worklists of s into out_dir (created with its parents
 * when missing).  Without o->force, a worklist name already in out_dir (office-*.csv or
 * tax-paid-held.csv) stops it before anything is written.  Files finished before an
 * error stay (each one whole); the one being written is removed.  st may be NULL.
 * @return TQ_OK; TQ_ERR_EXISTS (without force: d->why names the file); TQ_ERR_VERSION (a
 *         database of format 2 opened read-only: it has no office index; the first
 *         writer brings it to format 3); TQ_ERR_PERM, TQ_ERR_IO,
 *         TQ_ERR_FULL (d names the path); TQ_ERR_NOMEM; TQ_ERR_DBCORRUPT (d names table
 *         and key); store errors. */
TQ_MUST_USE int tq_worklist_write(tq_store *s, const char *out_dir, const tq_worklist_opts *o,
                      tq_worklist_stats *st, tq_diag *d);

/* tq_worklist_held_by_office() - fn(ctx, office, count) for every office with HELD
 * declarations, from the index without reading any declaration ("" for those without
 * an office), in office order: the nightly job's per-office gauge.
 * @return TQ_OK, TQ_ERR_VERSION (format 2, read-only), store errors. */
TQ_MUST_USE int tq_worklist_held_by_office(tq_store *s,
                               int (*fn)(void *ctx, const char *office, uint64_t count),
                               void *ctx);

#endif
