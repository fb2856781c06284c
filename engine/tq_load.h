/* tq_load.h - load payment and permit CSV files into the store, all or nothing.
 *
 * A file is applied in one write transaction: every row is parsed and checked (formats,
 * receipt conflicts within the file and against the store), and the transaction is
 * committed only when no row failed, or when the caller asked to skip bad rows (then
 * each bad row is written, unchanged and whole, to the reject output and the rest is
 * applied).  A reject output starts with the file's CSV header line, so once its rows
 * are fixed it loads back as it is; it is flushed (and, as a tq_out, fsynced) before the
 * transaction commits, and a reject output that cannot be written commits nothing.
 * When the map fills the whole file is redone after growing it, so a file is either
 * entirely in the database or not at all, whatever happens to the process.
 */
#ifndef TQ_LOAD_H
#define TQ_LOAD_H

#include <stdint.h>
#include <stdio.h>

#include "tq_out.h"
#include "tq_store.h"

typedef enum tq_load_kind { TQ_LOAD_PAYMENTS = 1, TQ_LOAD_PERMITS = 2 } tq_load_kind;

struct tq_load_stats;

typedef struct tq_load_opts {
    tq_load_kind kind;
    /* Where bad rows go: reject_out (preferred: synced before the commit; the caller
     * commits it after TQ_OK and rolls it back otherwise) or the stream rejects (only
     * flushed and checked).  Both NULL: any bad row fails the file.  A row over
     * max_line is copied whole, in pieces, from the input (memory stays bounded). */
    tq_out *reject_out;
    FILE *rejects;
    /* NULL: open path; else read this stream (path only names it in messages).  It must
     * be seekable: it is rewound for a redo after map growth. */
    FILE *in;
    size_t max_line;        /* longest row accepted; 0 = 64 KiB */
    /* called for each bad row (d has line, field, why); may be NULL */
    void (*on_error)(void *ctx, const tq_diag *d);
    void *ctx;
    volatile int *stop;     /* when it becomes non-zero the load is abandoned; may be NULL */
    /* called once in the load's write transaction just before it commits (after every
     * row was applied): what it puts commits with the rows, or not at all (the nightly
     * job's ledger).  A non-zero return aborts the load with that error.  May be NULL. */
    int (*before_commit)(void *ctx, tq_txn *t, const struct tq_load_stats *st);
    void *before_commit_ctx;
    /* progress: bytes of the file read so far and its size (0 when not known), never
     * decreasing across a redo after map growth (a redo reports nothing until it passes
     * the point reached before).  Called on the loading thread about every 64 KiB and
     * once at the end.  May be NULL. */
    void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ctx;
} tq_load_opts;

typedef struct tq_load_stats {
    uint64_t rows;          /* data rows read */
    uint64_t added;         /* new payments / new permits */
    uint64_t duplicates;    /* payments already known with the same content */
    uint64_t replaced;      /* permits that replaced a known row */
    uint64_t rejected;      /* bad rows */
    uint64_t unknown_decl;  /* payments for a declaration not (yet) known */
} tq_load_stats;

/* tq_load_file() - load path, or opts->in ("-" is not accepted: a redo after map growth
 * must be able to read the file again).  opts and what it points to are borrowed for
 * the call; opts->in stays open (the caller closes it), opts->reject_out stays the
 * caller's to commit or roll back; *stats (caller-owned) is filled on every return; d
 * (may be NULL) says why.
 * Threads: one load at a time per store (the store's one writer); everything runs on
 * the calling thread.  Every callback (on_error, progress, before_commit) is called on
 * that thread inside the load's write transaction: none may begin a transaction of its
 * own on s (LMDB allows one writer and would deadlock); before_commit writes through
 * the transaction it is given.  The d given to on_error is valid during the call only.
 * A redo after map growth calls on_error again for the same rows.
 * @return TQ_OK; TQ_ERR_INPUT when rows were bad and nothing was applied (they were
 * reported through on_error); TQ_ERR_IO with d naming the file; TQ_ERR_IO, TQ_ERR_FULL
 * or TQ_ERR_PERM with d->field "(rejects)" when the reject output could not be written
 * (nothing committed); TQ_ERR_INTERRUPTED; before_commit's error; or a store error
 * (TQ_ERR_FULL, TQ_ERR_IO, TQ_ERR_STORE).  On every error the database is as it was
 * before the call. */
TQ_MUST_USE int tq_load_file(tq_store *s, const char *path, const tq_load_opts *opts,
                 tq_load_stats *stats, tq_diag *d);

#endif
