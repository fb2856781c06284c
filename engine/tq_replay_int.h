/* tq_replay_int.h - what the serial replay (tq_replay.c) and the pipeline
 * (tq_pipeline.c) share: the run's state, the journal mark and the batch commit. */
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
    /* called before each commit to write what a caching writer holds back */
    int (*flush)(void *ctx);
    void *flush_ctx;
} replay_run;

int tq__replay_begin_batch(replay_run *r);
/* tq__replay_commit_batch() - flush, write the mark, commit; then begin the next batch
 * unless final.  A dry run flushes but never commits, and aborts at the final one. */
int tq__replay_commit_batch(replay_run *r, int final);
/* tq__replay_check_frame() - decode every record without applying any. */
int tq__replay_check_frame(const tq_frame_info *info, const uint8_t *raw);
void tq__replay_note_frame_done(replay_run *r, const tq_frame_info *info);
void tq__replay_note_skipped(replay_run *r, const tq_frame_info *info);
void tq__replay_count(replay_run *r, const tq_event *ev, tq_step step);
/* tq__replay_corrupt() - report a corrupt frame; TQ_OK when --skip-corrupt skipped it. */
int tq__replay_corrupt(replay_run *r, const tq_frame_info *info);
/* tq__replay_end_of_frames() - handle what ended the frames (EOF, torn tail, a corrupt
 * header); @return TQ_OK or the error to report. */
int tq__replay_end_of_frames(replay_run *r, int rc, const tq_frame_info *info);

/* tq__pipeline_apply() - apply the frames after the mark with opts->threads lookup
 * workers; the same contract as the serial loop. */
int tq__pipeline_apply(replay_run *r);

#endif
