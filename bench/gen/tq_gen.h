/* tq_gen.h - the synthetic backlog generator: journal.tqj, payments.csv, permits.csv.
 *
 * Not part of the engine's data flow: a library of its own (tq_gen, bench/gen/) that
 * makes the realistic backlogs the bench harness (bench/), the tests, the demo
 * (tools/demo.sh) and `thongquan gen` replay.  It needs only formats/ (the journal
 * writer, tq_out, tq_time).  How it works: the DESIGN note in gen_int.h.
 *
 * The mix follows a real incident: about 67% green, 30% yellow and 3% red channel; most
 * declarations paid in full, some short, some covered by bank guarantees (a few expired
 * before registration); permits with every kind of problem (missing, revoked, expired,
 * wrong holder, wrong HS prefix); a few hot quota permits under contention; amendments,
 * officer results (including rejections), manual clearances, cancellations, duplicate
 * DECLs, events for unknown declarations, and payments that arrive for declarations
 * that never come.  decl_no grows with registration time, as a national registry
 * assigns them.  Output is a pure function of (declarations, seed): the same arguments
 * give byte-identical payments.csv and permits.csv and an identical event sequence.
 * Memory is bounded (it streams: about 25 MB at 10 million declarations).  A second
 * thread encodes the journal, which is the bound: about a million declarations per
 * second on two free cores (the generating side alone makes about two million).
 */
#ifndef TQ_GEN_H
#define TQ_GEN_H

#include <stdint.h>

#include "tq_error.h"

typedef struct tq_gen_opts {
    uint64_t declarations;     /* number of distinct declarations (>= 1) */
    uint64_t seed;
    const char *out_dir;       /* must exist */
    size_t frame_bytes;        /* journal frame size; 0 = default */
    /* called now and then from the generating thread; may be NULL */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} tq_gen_opts;

typedef struct tq_gen_stats {
    uint64_t events;           /* events in journal.tqj */
    uint64_t payments;         /* data rows in payments.csv (a row written twice counts 2) */
    uint64_t permits;          /* data rows in permits.csv (a reissued permit counts 2) */
    uint64_t journal_bytes;    /* size of journal.tqj */
} tq_gen_stats;

/* tq_gen_run() - write out_dir/journal.tqj, out_dir/payments.csv, out_dir/permits.csv
 * (each written to out_dir/.NAME.tmp, fsynced, and renamed only once all three are
 * complete, then the directory fsynced: a killed run leaves no half file under a final
 * name, and a failed one removes its temporaries).  stats may be NULL.
 * Notes:
 *   1. The progress callback runs on the caller's thread, every 65,536 declarations and
 *      once at the end with done == total.
 *   2. The journal is encoded on a thread of its own, joined before this returns.
 * @return TQ_OK; TQ_ERR_INPUT for bad opts (declarations outside 1..10^10, no out_dir;
 *         d->field names the option); TQ_ERR_IO or TQ_ERR_FULL (ENOSPC, EDQUOT) with
 *         d->field "(file)" and d->why starting with the file's path; TQ_ERR_NOMEM with
 *         d->field "(memory)".  d may be NULL. */
TQ_MUST_USE int tq_gen_run(const tq_gen_opts *opts, tq_gen_stats *stats, tq_diag *d);

#endif
