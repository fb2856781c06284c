/* tq_replay.h - apply a journal to the store by the rules, durably and resumably.
 *
 * Events are applied in journal order.  Commits happen at frame boundaries: each
 * commit writes the decisions of whole frames together with the journal's mark (last
 * applied seq, frame count and a hash chain over the applied frames' checksums), so a
 * replay killed at any instant resumes after its last commit and ends exactly where an
 * uninterrupted one ends, and a replay of an already applied journal changes nothing.
 * A journal whose id matches a replayed one but whose frames differ before the mark is
 * refused (TQ_ERR_MISMATCH) instead of being mixed in.
 */
#ifndef TQ_REPLAY_H
#define TQ_REPLAY_H

#include <stdint.h>

#include "tq_store.h"

#define TQ_REPLAY_MAX_SKIPPED 64   /* skipped seq ranges remembered for the report */

typedef struct tq_replay_opts {
    unsigned threads;          /* 0 or 1: single-threaded; more: the pipeline */
    int dry_run;               /* decide, report, then abort instead of committing */
    int skip_corrupt;          /* go past corrupt frames, leaving their events unapplied */
    uint64_t batch_events;     /* commit after at least this many events; 0 = 100000 */
    volatile int *stop;        /* non-zero: finish the current batch, commit, return */
    void (*progress)(void *ctx, uint64_t seq_done, uint64_t bytes_done,
                     uint64_t bytes_total);
    void *progress_ctx;
    /* dry run only: counts of what was decided, taken before the transaction is thrown
     * away (may be NULL; a struct tq_tally from tq_export.h) */
    struct tq_tally *dry_tally;
} tq_replay_opts;

typedef struct tq_seq_range { uint64_t first, last; uint64_t frame; } tq_seq_range;

typedef struct tq_replay_stats {
    uint64_t events;           /* events read in this run (excluding already applied) */
    uint64_t already_applied;  /* events skipped because an earlier run applied them */
    uint64_t applied;          /* events that changed a declaration */
    uint64_t duplicate_decl, ignored_final, unknown_decl;
    uint64_t by_kind[6];       /* indexed by tq_ev_kind */
    uint64_t frames;           /* frames applied in this run */
    uint64_t first_seq, last_seq;   /* range applied in this run (0 if none) */
    uint64_t journal_last_seq; /* the journal's mark after the run */
    uint64_t commits;
    uint64_t map_grows;
    int torn_tail;             /* the journal ended inside a frame */
    uint64_t torn_offset;
    int interrupted;
    uint32_t nskipped;         /* corrupt frames skipped (--skip-corrupt) */
    uint64_t skipped_events;
    tq_seq_range skipped[TQ_REPLAY_MAX_SKIPPED];
    tq_frame_info bad_frame;   /* on TQ_ERR_CORRUPT: the frame at fault */
    uint8_t journal_id[TQ_JOURNAL_ID_LEN];
    double seconds;
    /* CPU seconds per pipeline stage (0 on the serial path): reading frames; the
     * workers' decompress, verify, decode and cover lookups; the applier's decide,
     * apply and commit.  Events divided by these give each stage's own throughput. */
    double cpu_read, cpu_workers, cpu_apply;
} tq_replay_stats;

/* tq_replay_run() - replay path into s (opened with TQ_STORE_WRITE).
 * @return TQ_OK (also for a torn tail and for an interruption: see stats);
 *         TQ_ERR_CORRUPT (stats->bad_frame names it; everything before it committed);
 *         TQ_ERR_MISMATCH; TQ_ERR_VERSION; TQ_ERR_IO / TQ_ERR_FULL / TQ_ERR_STORE with
 *         the database at its last commit.  d gets a readable reason. */
int tq_replay_run(tq_store *s, const char *path, const tq_replay_opts *opts,
                  tq_replay_stats *stats, tq_diag *d);

/* tq_replay_chain() - the hash chain step: chain' = f(chain, frame checksum). */
uint64_t tq_replay_chain(uint64_t chain, uint64_t frame_checksum);

#endif
