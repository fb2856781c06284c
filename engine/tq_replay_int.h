/* tq_replay_int.h - what the serial replay (tq_replay.c) and the pipeline
 * (tq_pipeline.c) share: the run's state, the journal mark and the batch commit.
 *
 * The arrows run one way: tq_replay.c drives a pass and calls the pipeline;
 * both call the batch bookkeeping in tq_replay_batch.c, which calls neither. */
#ifndef TQ_REPLAY_INT_H
#define TQ_REPLAY_INT_H

#include "tq_apply.h"
#include "tq_replay.h"

typedef struct replay_run {
    tq_store *s;
    const tq_replay_opts *o;
    tq_replay_stats *st;
    tq_diag *d;
    tq_journal_reader *r;
    tq_txn *t;               /* the open write transaction */
    tq_journal_mark mark;    /* what the open transaction will commit */
    tq_apply_scratch sc;
    uint8_t *zbuf, *raw;
    size_t zcap, rawcap;
    uint64_t batch;          /* events in the open transaction */
    uint64_t file_size;
    tq_replay_stats committed;   /* this pass's counters as of its last commit */
    /* Set only when the pass stopped at a whole frame the journal got wrong (a bad
     * payload, or a header that hides the rest): the open batch then holds whole frames
     * and their mark, and may be committed.  Any other error aborts the batch. */
    int frame_fault;
    /* The cap on declarations changed per batch (0: not set yet), and what the flush
     * reported it wrote: the distinct declarations of the batch (0: the serial path,
     * whose batch counts events).  See tq_replay_opts.batch_bytes. */
    uint64_t decl_cap, flushed_decls;
    /* What else each declaration changed in a batch holds until the batch is
     * committed, counted against the same budget: the pipeline's two batch tables
     * (the open one and the one being committed).  0 on the serial path. */
    uint64_t held_per_decl;
    /* called before each commit to write what a caching writer holds back */
    int (*flush)(void *ctx);
    void *flush_ctx;
    /* records a gap --skip-corrupt passed over, when the pass's writes go through a
     * writer of its own (the pipeline's committer); NULL: into t */
    int (*put_gap)(void *ctx, const tq_gap *g);
    void *gap_ctx;
} replay_run;

/* Defaults of tq_replay_opts' memory settings. */
#define TQ_REPLAY_POOL_DEFAULT (64ull << 20)
#define TQ_REPLAY_FRAME_CAP_DEFAULT (160ull << 20)
#define TQ_REPLAY_THREADS_MAX 64

/* tq__replay_pool_bytes() / tq__replay_frame_cap() - o's memory settings, or their
 * defaults above when o leaves them 0.  Pure. */
uint64_t tq__replay_pool_bytes(const tq_replay_opts *o);
uint64_t tq__replay_frame_cap(const tq_replay_opts *o);
/* tq__replay_batch_events() - o's batch_events, or its default (100000).  Pure. */
uint64_t tq__replay_batch_events(const tq_replay_opts *o);
/* tq__replay_batch_full() - whether a frame of `events` events must start a new batch
 * because the open one, having changed `decls` declarations, could pass r's cap on
 * declarations (tq_replay_opts.batch_bytes).  Pure. */
int tq__replay_batch_full(const replay_run *r, uint64_t decls, uint64_t events);

/* tq__replay_begin_batch() - open r's write transaction for the next batch.
 * @return TQ_OK or a store error.  Threads: the applying thread. */
TQ_MUST_USE int tq__replay_begin_batch(replay_run *r);
/* tq__replay_commit_batch() - flush, write the mark, commit; then begin the next batch
 * unless final.  A dry run flushes but never commits, and aborts at the final one. */
TQ_MUST_USE int tq__replay_commit_batch(replay_run *r, int final);
/* tq__replay_may_commit() - whether the pass's result rc lets the open batch commit:
 * success, or a stop at a whole-frame journal fault (r->frame_fault). */
TQ_MUST_USE int tq__replay_may_commit(const replay_run *r, int rc);
/* tq__replay_check_frame() - decode every record without applying any. */
TQ_MUST_USE int tq__replay_check_frame(const tq_frame_info *info, const uint8_t *raw);
/* tq__replay_apply_frame() - apply the events of a decoded, checked frame (raw) in t
 * through tq_apply_event(), in order, calling each(ctx, event, step) after every one
 * (the caller's accounting).  The serial replay and the gap fill share it.
 * @return TQ_OK; a store error or each's, through tq__replay_db_error() with the
 *         event's seq (d names the table and key).  Threads: t's thread. */
TQ_MUST_USE int tq__replay_apply_frame(tq_txn *t, const tq_frame_info *info,
                                       const uint8_t *raw, const uint8_t *jid,
                                       tq_apply_scratch *sc, tq_diag *d,
                                       int (*each)(void *ctx, const tq_event *ev,
                                                   tq_step step),
                                       void *ctx);
void tq__replay_note_frame_done(replay_run *r, const tq_frame_info *info);
void tq__replay_count(replay_run *r, const tq_event *ev, tq_step step);
/* tq__replay_corrupt() - a frame whose own bytes are bad (rc TQ_ERR_CORRUPT) or over
 * the memory limits (TQ_ERR_LIMIT): TQ_OK when --skip-corrupt skipped it (recorded as
 * a gap in the open transaction), else rc with the frame reported. */
TQ_MUST_USE int tq__replay_corrupt(replay_run *r, const tq_frame_info *info, int rc);
/* tq__replay_end_of_frames() - handle what ended the frames (EOF, torn tail, a corrupt
 * header); @return TQ_OK or the error to report. */
TQ_MUST_USE int tq__replay_end_of_frames(replay_run *r, int rc, const tq_frame_info *info);
/* tq__replay_db_error() - a store error rc met through t (may be NULL) at seq: a
 * TQ_ERR_CORRUPT from the store becomes TQ_ERR_DBCORRUPT, and d gets the table and
 * key (tq_txn_fault) unless it already says why.  Call it before t ends.
 * @return the error to report. */
TQ_MUST_USE int tq__replay_db_error(tq_diag *d, const tq_txn *t, int rc, uint64_t seq);

/* tq__pipeline_apply() - apply the frames after the mark with opts->threads lookup
 * workers; the same contract as the serial loop. */
TQ_MUST_USE int tq__pipeline_apply(replay_run *r);

#endif
