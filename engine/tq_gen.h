/* tq_gen.h - a synthetic, realistic backlog: journal.tqj, payments.csv, permits.csv.
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
 * Memory is bounded (it streams), and it makes millions of declarations per second.
 */
#ifndef TQ_GEN_H
#define TQ_GEN_H

#include <stdint.h>

#include "../formats/tq_error.h"

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
    uint64_t events, payments, permits;
    uint64_t journal_bytes;
} tq_gen_stats;

/* tq_gen_run() - write out_dir/journal.tqj, out_dir/payments.csv, out_dir/permits.csv
 * (each written to a temporary name, fsynced and renamed, so a killed run leaves no
 * half file under the final name).
 * @return TQ_OK, TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_NOMEM; d (may be NULL) names the file. */
int tq_gen_run(const tq_gen_opts *opts, tq_gen_stats *stats, tq_diag *d);

#endif
