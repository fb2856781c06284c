/* tq_replay_batch.c - the batch bookkeeping of a replay pass, shared by the serial
 * path (tq_replay.c) and the pipeline (tq_pipeline.c): begin and commit a batch with
 * the journal's mark, account frames applied or skipped, classify what stopped a pass.
 *
 * Decisions and the mark always move together (SPEC 6): a batch is committed only
 * after whole frames, and only when the pass ended well or stopped at a frame the
 * journal itself got wrong.  A store error in the middle of a frame (a damaged value,
 * a full disk) leaves events of that frame in the open transaction without the mark
 * having moved past them, so that batch is aborted, never committed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_export.h"
#include "tq_replay_int.h"

uint64_t tq__replay_pool_bytes(const tq_replay_opts *o)
{
    return o->pool_bytes ? o->pool_bytes : TQ_REPLAY_POOL_DEFAULT;
}

uint64_t tq__replay_frame_cap(const tq_replay_opts *o)
{
    return o->frame_cap ? o->frame_cap : TQ_REPLAY_FRAME_CAP_DEFAULT;
}

uint64_t tq__replay_batch_events(const tq_replay_opts *o)
{
    return o->batch_events ? o->batch_events : 100000;
}

static uint64_t batch_bytes(const tq_replay_opts *o)
{
    return o->batch_bytes ? o->batch_bytes : TQ_REPLAY_BATCH_BYTES_DEFAULT;
}

int tq__replay_batch_full(const replay_run *r, uint64_t decls, uint64_t events)
{
    uint64_t cap = r->decl_cap ? r->decl_cap
                               : batch_bytes(r->o) / (2048 + r->held_per_decl) + 1;
    return decls > 0 && decls + events > cap;
}

/* bytes_written() - what this process has handed to write(2) and its kin so far
 * (Linux's /proc/self/io, wchar), or UINT64_MAX when that cannot be read. */
static uint64_t bytes_written(void)
{
    char buf[512];
    int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return UINT64_MAX;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return UINT64_MAX;
    buf[n] = '\0';
    const char *p = strstr(buf, "wchar:");
    return p ? strtoull(p + 6, NULL, 10) : UINT64_MAX;
}

/* adapt_cap() - a commit wrote `bytes` (LMDB writes each dirty page once) for `decls`
 * declarations: the next batches may change as many as keep their dirty pages near
 * batch_bytes.  Unknown bytes leave the cap as it was. */
static void adapt_cap(replay_run *r, uint64_t before, uint64_t after, uint64_t decls)
{
    if (before == UINT64_MAX || after == UINT64_MAX || after <= before || decls == 0)
        return;
    uint64_t per = (after - before) / decls + 1 + r->held_per_decl;
    r->decl_cap = batch_bytes(r->o) / per + 1;
}

int tq__replay_begin_batch(replay_run *r)
{
    r->batch = 0;
    return tq_txn_begin(r->s, 0, &r->t);
}

int tq__replay_may_commit(const replay_run *r, int rc)
{
    return r->t != NULL && (rc == TQ_OK || r->frame_fault);
}

static int commit_dry(replay_run *r, int final)
{
    /* Flushing keeps a caching writer's memory bounded even in a dry run. */
    int rc = r->flush ? r->flush(r->flush_ctx) : TQ_OK;
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, r->t, rc, 0);
    r->batch = 0;
    if (final && r->o->dry_tally && (rc = tq_export_tally_txn(r->t, r->o->dry_tally)))
        return tq__replay_db_error(r->d, r->t, rc, 0);
    if (final) {
        tq_txn_abort(r->t);
        r->t = NULL;
    }
    return TQ_OK;
}

int tq__replay_commit_batch(replay_run *r, int final)
{
    if (r->o->dry_run)
        return commit_dry(r, final);
    r->mark.applied_at = (uint64_t)time(NULL);
    r->flushed_decls = 0;
    uint64_t decls = r->batch;
    int rc = r->flush ? r->flush(r->flush_ctx) : TQ_OK;
    if (rc == TQ_OK)
        rc = tq_store_put_journal(r->t, &r->mark);
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, r->t, rc, 0);
    if (r->flushed_decls)
        decls = r->flushed_decls;
    uint64_t before = bytes_written();
    rc = tq_txn_commit(r->t);
    r->t = NULL;
    if (rc != TQ_OK)
        return rc;
    adapt_cap(r, before, bytes_written(), decls);
    r->st->commits++;
    r->st->journal_last_seq = r->mark.last_seq;
    r->committed = *r->st;
    if (!final)
        return tq__replay_begin_batch(r);
    return TQ_OK;
}

int tq__replay_check_frame(const tq_frame_info *info, const uint8_t *raw)
{
    tq_frame_cursor c;
    tq_event ev;
    int rc;
    tq_frame_cursor_init(&c, info, raw);
    while ((rc = tq_frame_cursor_next(&c, &ev)) == TQ_OK)
        ;
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

int tq__replay_apply_frame(tq_txn *t, const tq_frame_info *info, const uint8_t *raw,
                           const uint8_t *jid, tq_apply_scratch *sc, tq_diag *d,
                           int (*each)(void *ctx, const tq_event *ev, tq_step step),
                           void *ctx)
{
    tq_frame_cursor c;
    tq_event ev;
    int rc;
    tq_frame_cursor_init(&c, info, raw);
    while ((rc = tq_frame_cursor_next(&c, &ev)) == TQ_OK) {
        tq_step step;
        if ((rc = tq_apply_event(t, &ev, jid, sc, &step)) != TQ_OK ||
            (rc = each(ctx, &ev, step)) != TQ_OK)
            return tq__replay_db_error(d, t, rc, ev.seq);
    }
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

void tq__replay_count(replay_run *r, const tq_event *ev, tq_step step)
{
    tq_replay_stats *st = r->st;
    st->events++;
    if (ev->ev < 6)
        st->by_kind[ev->ev]++;
    switch (step) {
    case TQ_STEP_DUPLICATE: st->duplicate_decl++; break;
    case TQ_STEP_IGNORED_FINAL: st->ignored_final++; break;
    case TQ_STEP_UNKNOWN: st->unknown_decl++; break;
    default: st->applied++; break;
    }
}

void tq__replay_note_frame_done(replay_run *r, const tq_frame_info *info)
{
    r->mark.frames = info->index + 1;
    r->mark.last_seq = info->first_seq + info->count - 1;
    r->mark.chain = tq_replay_chain(r->mark.chain, info->checksum);
    r->batch += info->count;
    if (r->o->progress)
        r->o->progress(r->o->progress_ctx, r->mark.last_seq,
                       info->offset + info->zsize, r->file_size);
}

/* note_skipped() - count the frame and record it as a gap in the open transaction,
 * so the gap is remembered exactly when the mark moves past it. */
static int note_skipped(replay_run *r, const tq_frame_info *info)
{
    tq_replay_stats *st = r->st;
    tq_gap g;
    memset(&g, 0, sizeof g);
    memcpy(g.id, r->mark.id, TQ_JOURNAL_ID_LEN);
    g.first = info->first_seq;
    g.last = info->first_seq + info->count - 1;
    g.frame = info->index;
    g.checksum = info->checksum;
    g.skipped_at = (uint64_t)time(NULL);
    int rc = r->put_gap ? r->put_gap(r->gap_ctx, &g) : tq_store_put_gap(r->t, &g);
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, r->t, rc, 0);
    if (st->nskipped < TQ_REPLAY_MAX_SKIPPED) {
        tq_seq_range *sr = &st->skipped[st->nskipped];
        sr->first = g.first;
        sr->last = g.last;
        sr->frame = g.frame;
    }
    st->nskipped++;
    st->skipped_events += info->count;
    return TQ_OK;
}

/* TQ_RECORD_MIN - the smallest record: a tag byte and a 5-byte decl_no (JOURNAL.md 4). */
#define TQ_RECORD_MIN 6

/* header_untrusted() - a header whose count no raw_size can hold: sealed by its
 * checksum but written wrong (a forged or buggy writer).  Its seq range means nothing,
 * and skipping it would move the mark by that count: it is not skippable. */
static int header_untrusted(const tq_frame_info *info)
{
    return info->count == 0 || info->count > info->raw_size / TQ_RECORD_MIN;
}

int tq__replay_corrupt(replay_run *r, const tq_frame_info *info, int rc)
{
    if (header_untrusted(info))
        return tq__replay_end_of_frames(r, TQ_ERR_CORRUPT, info);
    if (!r->o->skip_corrupt) {
        r->st->bad_frame = *info;
        r->st->bad_rc = rc;
        r->frame_fault = 1;
        if (rc == TQ_ERR_LIMIT)
            tq_diag_set(r->d, "(frame)",
                        "frame %llu claims %u raw bytes, over the limit for one frame (the "
                        "journal's frame limit, or the replay's cap of %llu bytes)",
                        (unsigned long long)info->index, info->raw_size,
                        (unsigned long long)tq__replay_frame_cap(r->o));
        else
            tq_diag_set(r->d, "(frame)", "frame %llu (seq %llu..%llu) is corrupt",
                        (unsigned long long)info->index,
                        (unsigned long long)info->first_seq,
                        (unsigned long long)(info->first_seq + info->count - 1));
        return rc;
    }
    if ((rc = note_skipped(r, info)) != TQ_OK)
        return rc;
    tq__replay_note_frame_done(r, info);
    return TQ_OK;
}

int tq__replay_end_of_frames(replay_run *r, int rc, const tq_frame_info *info)
{
    if (rc == TQ_ERR_EOF)
        return TQ_OK;
    if (rc == TQ_ERR_TORN) {
        r->st->torn_tail = 1;
        r->st->torn_offset = info->offset;
        return TQ_OK;
    }
    if (rc == TQ_ERR_CORRUPT) {
        /* A frame that cannot be framed (bad header, or out of sequence) hides where
         * the next one starts: nothing after it can be read, even with --skip-corrupt.
         * Its header is not to be believed, so only what came before it is named. */
        r->st->bad_frame = *info;
        r->st->bad_rc = rc;
        r->st->bad_header = 1;
        r->frame_fault = 1;
        tq_diag_set(r->d, "(frame)",
                    "frame %llu at byte %llu cannot be framed (a damaged header, or a "
                    "frame missing, duplicated or out of order after seq %llu); nothing "
                    "after it can be located",
                    (unsigned long long)info->index, (unsigned long long)info->offset,
                    (unsigned long long)r->mark.last_seq);
    }
    return rc;
}

int tq__replay_db_error(tq_diag *d, const tq_txn *t, int rc, uint64_t seq)
{
    if (rc == TQ_ERR_CORRUPT)
        rc = TQ_ERR_DBCORRUPT;   /* the store's own values, never the journal's */
    if (d != NULL && d->why[0] == '\0' && rc != TQ_ERR_NOMEM && rc != TQ_ERR_MAPFULL) {
        if (t != NULL)
            tq_txn_fault(t, d);
        if (seq)
            d->seq = seq;
    }
    return rc;
}
