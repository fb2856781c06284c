/* tq_lmdb_check.h - check an LMDB data file's own structure without trusting it.
 *
 * LMDB maps its file and follows page numbers and offsets found in it; a damaged file
 * (a truncation, a flipped byte, a zeroed page) makes it read outside the map (SIGBUS,
 * SIGSEGV) or corrupt its heap.  This module reads the file with pread, never mmap,
 * and checks what LMDB would trust, before LMDB is allowed to open it:
 *   - both meta pages: magic, version, page size, the txnid written into page t % 2
 *     (a flipped txnid breaks that parity or the two metas' succession, which is what
 *     makes LMDB silently pick an older commit), last page, map size, roots within the
 *     file; the file at least as long as the newest meta's last page;
 *   - (TQ_LMDB_CHECK_TREES) every page reachable from the newest meta's main and free
 *     trees and from every named database: page number, flags, lower/upper bounds,
 *     node offsets and sizes inside the page, branch children within the file and not
 *     visited twice, overflow runs within the file, depth as recorded, entry counts.
 * Layout knowledge is LMDB 0.9's on-disk format (lmdb.h / mdb.c of 0.9.x, 64-bit).
 * Threads: pure functions over a path; any thread.
 */
#ifndef TQ_LMDB_CHECK_H
#define TQ_LMDB_CHECK_H

#include <stdint.h>

#include "../formats/tq_error.h"

enum {
    TQ_LMDB_CHECK_META = 0,          /* meta pages and file size only: O(1) */
    TQ_LMDB_CHECK_TREES = 1u << 0    /* also walk every tree: O(file) */
};

typedef struct tq_lmdb_check_stats {
    uint64_t file_size, page_size;
    uint64_t txnid;                  /* of the newest valid meta */
    uint64_t last_pg;                /* of the newest valid meta */
    uint64_t pages_visited, problems;
} tq_lmdb_check_stats;

/* tq_lmdb_check_file() - check data_mdb (DIR/data.mdb).  on_problem, when not NULL, is
 * called for each problem with a one-line description ("page 17: lower 4100 beyond
 * upper 4000"); the walk stops after max_problems (0 = 100).  stats may be NULL.
 * Problems are handed over only once the file held still: a writer may commit while
 * the file is read (LMDB's writer does not see this reader), and two commits during a
 * walk can recycle the pages being walked, or a meta page can be read half-written.  So
 * when problems are found and the meta pages or the size changed meanwhile, the check
 * starts again (5 attempts at most).
 * @return TQ_OK (sound); TQ_ERR_DBCORRUPT (at least one problem; d->why has the first);
 *         TQ_ERR_BUSY (the file changed under each of 5 attempts that found problems:
 *         nothing is known); TQ_ERR_NOTFOUND (no such file); TQ_ERR_PERM; TQ_ERR_IO;
 *         TQ_ERR_NOMEM.
 *         An empty file is TQ_ERR_DBCORRUPT ("empty"); the caller decides whether an
 *         empty file may be a new database.
 * Ownership: data_mdb, ctx and d are borrowed; what is handed to on_problem lives only
 * for that call (copy it to keep it).  Threads: on_problem is called on the caller's
 * thread, synchronously, before tq_lmdb_check_file() returns; it must not call back in
 * on the same ctx.  The check holds no lock; with TQ_LMDB_CHECK_TREES it allocates two
 * bitmaps of one bit per page (visited, freed), one page buffer per tree level and a
 * read-ahead window, all freed before it returns. */
TQ_MUST_USE int tq_lmdb_check_file(const char *data_mdb, unsigned flags, uint64_t max_problems,
                       void (*on_problem)(void *ctx, const char *what), void *ctx,
                       tq_lmdb_check_stats *stats, tq_diag *d);

#endif
