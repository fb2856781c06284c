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
#define TQ_REPLAY_BATCH_BYTES_DEFAULT (128ull << 20)  /* tq_replay_opts.batch_bytes */

typedef struct tq_replay_opts {
    unsigned threads;          /* 0: the serial reference path, all in the caller's
                                * thread; 1 and more: the pipeline (engine/tq_pipeline.c):
                                * a reader thread, that many worker threads (decompress,
                                * decode, cover lookups), and the caller's thread applying
                                * and committing.  The result is the same bytes either way. */
    int dry_run;               /* decide, report, then abort instead of committing */
    int skip_corrupt;          /* go past corrupt frames, leaving their events unapplied */
    uint64_t batch_events;     /* commit after at least this many events; 0 = 100000 */
    /* Memory of a batch.  LMDB keeps a write transaction's dirty pages on the heap,
     * and each declaration put moves its index entries and held row, at random places
     * of tables that grow with the database: on a database of millions a batch of
     * batch_events can dirty hundreds of MiB.  So a batch is also committed before a
     * frame that could take it past a number of declarations changed, chosen so that
     * its dirty pages stay near batch_bytes: after each commit, batch_bytes divided by
     * the bytes that commit wrote per declaration (LMDB writes each dirty page once:
     * counted by Linux's /proc/self/io); before the first, or where that cannot be
     * read, batch_bytes / 2 KiB.  The pipeline counts distinct
     * declarations, the serial path events (an upper bound).  A frame is never split.
     * Decisions, the feed and the mark are the same at any value.
     * 0 = TQ_REPLAY_BATCH_BYTES_DEFAULT. */
    uint64_t batch_bytes;
    volatile int *stop;        /* non-zero: finish the current batch, commit, return */
    void (*progress)(void *ctx, uint64_t seq_done, uint64_t bytes_done,
                     uint64_t bytes_total);
    void *progress_ctx;
    /* dry run only: counts of what was decided, taken before the transaction is thrown
     * away (may be NULL; a struct tq_tally from tq_export.h) */
    struct tq_tally *dry_tally;
    /* Memory.  pool_bytes bounds the frames in flight in the pipeline (compressed and
     * raw bytes, and per-event lookups), whatever the frame headers claim; one frame is
     * always let through so the replay never stalls.  A frame needing more than
     * frame_cap on its own is refused as a bad frame (TQ_ERR_LIMIT), on every path.
     * Frames waiting for reuse keep at most pool_bytes / 2 of buffers and pool_bytes
     * of room for decoded events besides, so the pipeline holds at most 2.5 x
     * pool_bytes of frames (plus the batch's declarations).
     * 0 = the defaults (64 MiB and 160 MiB).  Threads above 64 count as 64. */
    uint64_t pool_bytes;
    uint64_t frame_cap;
    /* Permits the pipeline's applier keeps with their use between batches; past this
     * many it forgets them all at the next batch's end and loads them again as they
     * come.  0 = TQ_REPLAY_PERMIT_CACHE_DEFAULT (65536, ~8 MiB). */
    uint64_t permit_cache;
} tq_replay_opts;

#define TQ_REPLAY_PERMIT_CACHE_DEFAULT 65536

typedef struct tq_seq_range { uint64_t first, last; uint64_t frame; } tq_seq_range;

typedef struct tq_replay_stats {
    uint64_t events;           /* events read in this run (excluding already applied) */
    uint64_t already_applied;  /* events skipped because an earlier run applied them */
    uint64_t applied;          /* events that changed a declaration */
    uint64_t duplicate_decl, ignored_final, unknown_decl;
    uint64_t by_kind[TQ_EV_KIND_SLOTS];       /* indexed by tq_ev_kind */
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
    int bad_rc;                /* why: TQ_ERR_CORRUPT, or TQ_ERR_LIMIT (over frame_cap) */
    int bad_header;            /* the frame could not be framed (damaged header, a frame
                                * missing, duplicated or out of order): the frames after
                                * it cannot be located, so it cannot be skipped, and the
                                * seq range in bad_frame is not to be trusted */
    uint64_t pool_peak;        /* most bytes the pipeline's frames held at once */
    uint8_t journal_id[TQ_JOURNAL_ID_LEN];
    double seconds;
    /* CPU seconds per pipeline stage (0 on the serial path): reading frames; the
     * workers' decompress, verify, decode and cover lookups; the applier's decide
     * and apply (and, in a dry run, its flushes); the committer's writes and commits.
     * Events divided by these give each stage's own throughput. */
    double cpu_read, cpu_workers, cpu_apply, cpu_commit;
    /* The pipeline's two stretches that nothing overlaps, in wall seconds (0 on the
     * serial path, and for a pass that applied nothing): first_frame, from the
     * pipeline's start (its threads) until the applier had its first frame (read,
     * decompressed, decoded, covers looked up); tail, from the applier's last event
     * until the last commit was durable.  Of the pass that finished, when the map
     * grew. */
    double first_frame, tail;
} tq_replay_stats;

/* tq_replay_run() - replay path into s (opened with TQ_STORE_WRITE).
 * Frames skipped by --skip-corrupt are recorded as gaps (tq_store_put_gap(), with the
 * frame's content checksum) in the transaction that moves the mark past them.
 * Every change of a decision (tq_apply_change()) is added to the change feed in the
 * transaction of its batch, numbered in journal order whatever opts->threads.
 * @return TQ_OK (also for a torn tail, an interruption and skipped frames: see stats);
 *         TQ_ERR_CORRUPT / TQ_ERR_LIMIT (the journal: stats->bad_frame names the frame;
 *         the whole frames before it are committed with their mark);
 *         TQ_ERR_DBCORRUPT (the database: d names the table and key), TQ_ERR_IO,
 *         TQ_ERR_FULL, TQ_ERR_STORE, TQ_ERR_NOMEM: the open batch is aborted, so the
 *         database is at its last commit, decisions and mark together;
 *         TQ_ERR_MISMATCH; TQ_ERR_VERSION.  d gets a readable reason. */
TQ_MUST_USE int tq_replay_run(tq_store *s, const char *path, const tq_replay_opts *opts,
                  tq_replay_stats *stats, tq_diag *d);

/* ---- filling a skipped gap with a repaired copy of the journal ---- */

typedef struct tq_fill_opts {
    int dry_run;               /* apply and report, then abort */
    /* The review list (may be NULL): called after the work, once per entry, in order.
     * kind 'D': a declaration with events both in a gap and after it; 'P': a quota
     * permit named by declarations with events in a gap and after it; 'd': a
     * declaration naming such a permit (its quota use came in another order). */
    void (*review)(void *ctx, char kind, const char *name);
    void *review_ctx;
    uint64_t review_max;       /* entries kept per kind; 0 = 1,000,000; more are counted */
} tq_fill_opts;

typedef struct tq_fill_stats {
    uint64_t gaps, gaps_filled;    /* recorded for this journal; filled now */
    uint64_t events, applied;      /* gap events read; that changed a declaration */
    uint64_t review_decls, review_permits, review_by_permit;   /* entries found */
    int review_truncated;          /* some entries were counted but not kept */
    uint8_t journal_id[TQ_JOURNAL_ID_LEN];
} tq_fill_stats;

/* tq_replay_fill_gap() - apply exactly the events of the gaps recorded for the journal
 * at path (a repaired copy: the same id, the frames before the mark chaining as the
 * replayed ones did, and each gap's frame with the recorded checksum and seq range),
 * in seq order, after everything applied since, and delete those gaps, in one
 * transaction.  Frames before the mark that are not gaps are read again only to find
 * the review list.
 * @return TQ_OK (also when no gap is recorded: stats->gaps 0); TQ_ERR_MISMATCH (not
 *         the journal replayed, or a gap frame whose checksum or range differs);
 *         TQ_ERR_CORRUPT (a gap frame of the copy is damaged too: d names it);
 *         store errors as tq_replay_run().  Nothing is applied unless TQ_OK. */
TQ_MUST_USE int tq_replay_fill_gap(tq_store *s, const char *path, const tq_fill_opts *opts,
                       tq_fill_stats *stats, tq_diag *d);

/* tq_replay_chain() - the hash chain step: chain' = f(chain, frame checksum). */
uint64_t tq_replay_chain(uint64_t chain, uint64_t frame_checksum);

#endif
