/* tq_replay.c - apply a journal to the store by the rules, durably and resumably.
 *
 * How it works.  The journal is read frame by frame.  The store keeps, per journal id,
 * a mark: how many frames were applied, the last applied seq, and a hash chain over the
 * checksums of those frames (taken from the frame headers, so checking it costs no
 * decompression).  A run first walks the frames the mark covers, recomputing the chain:
 * a different chain means the file is not the journal that was replayed, and the run
 * is refused.  It then applies the remaining frames' events in order through
 * tq_apply_event(), and commits after whole frames, writing the decisions, their
 * changes (the feed, numbered in journal order) and the new mark in the same
 * transaction.  So at any instant the database holds the effect of
 * exactly the frames its mark names: a killed run loses at most an uncommitted batch,
 * which the next run applies again from the same starting state.
 *
 * A frame's events are decoded and checked in full before the first of them is
 * applied, so a frame that fails to decode is never half-applied.  MDB_MAP_FULL kills
 * the transaction; the run then grows the map and starts over from the mark, which is
 * the same as resuming after a kill.
 */
#include "tq_replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "tq_apply.h"
#include "tq_export.h"
#include "tq_replay_int.h"

uint64_t tq_replay_chain(uint64_t chain, uint64_t frame_checksum)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(frame_checksum >> (8 * i));
    return XXH3_64bits_withSeed(b, sizeof b, chain);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_event(void *ctx, const tq_event *ev, tq_step step)
{
    tq__replay_count(ctx, ev, step);
    return TQ_OK;
}

static int apply_frame(replay_run *r, const tq_frame_info *info)
{
    return tq__replay_apply_frame(r->t, info, r->raw, tq_journal_id(r->r), &r->sc, r->d,
                                  count_event, r);
}

/* verify_applied_prefix() - frames [0, mark.frames) were applied by an earlier run;
 * their chain must match.  Reads headers and payloads but decodes nothing. */
static int verify_applied_prefix(replay_run *r)
{
    uint64_t chain = 0, last_seq = 0;
    tq_frame_info info;
    for (uint64_t i = 0; i < r->mark.frames; i++) {
        int rc = tq_journal_read_frame(r->r, &info, &r->zbuf, &r->zcap);
        if (rc == TQ_ERR_EOF || rc == TQ_ERR_TORN) {
            tq_diag_set(r->d, "(journal)",
                        "this journal has fewer frames (%llu) than were already applied "
                        "from a journal with the same id (%llu): refusing to mix them",
                        (unsigned long long)i, (unsigned long long)r->mark.frames);
            return TQ_ERR_MISMATCH;
        }
        if (rc != TQ_OK) {
            r->st->bad_frame = info;
            r->st->bad_rc = rc;
            r->st->bad_header = rc == TQ_ERR_CORRUPT;
            return rc;
        }
        chain = tq_replay_chain(chain, info.checksum);
        last_seq = info.first_seq + info.count - 1;
        r->st->already_applied += info.count;
    }
    if (chain != r->mark.chain || last_seq != r->mark.last_seq) {
        tq_diag_set(r->d, "(journal)",
                    "content before seq %llu differs from the journal with the same id "
                    "replayed before: refusing to mix them",
                    (unsigned long long)r->mark.last_seq);
        return TQ_ERR_MISMATCH;
    }
    return TQ_OK;
}

/* serial_apply() - the reference path (--threads 0): one frame at a time, every fact
 * read through the write transaction. */
static int serial_apply(replay_run *r)
{
    uint64_t batch_limit = tq__replay_batch_events(r->o);
    tq_frame_info info;
    int rc;
    for (;;) {
        if (r->o->stop && *r->o->stop) {
            r->st->interrupted = 1;
            return TQ_OK;
        }
        memset(&info, 0, sizeof info);
        rc = tq_journal_read_frame(r->r, &info, &r->zbuf, &r->zcap);
        if (rc != TQ_OK)
            return tq__replay_end_of_frames(r, rc, &info);
        /* The raw buffer is sized from the header: refuse what is over the cap before
         * growing it (the reader already bounds raw_size by the format's maximum). */
        if ((uint64_t)info.raw_size + info.zsize > tq__replay_frame_cap(r->o))
            rc = TQ_ERR_LIMIT;
        else
            rc = tq_journal_frame_decode(&info, r->zbuf, &r->raw, &r->rawcap);
        if (rc == TQ_OK)
            rc = tq__replay_check_frame(&info, r->raw);
        if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_LIMIT) {
            if ((rc = tq__replay_corrupt(r, &info, rc)) != TQ_OK)
                return rc;
            continue;
        }
        if (rc != TQ_OK)
            return rc;
        /* each event changes one declaration at most: commit first what the frame
         * could take past the cap */
        if (tq__replay_batch_full(r, r->batch, info.count) &&
            (rc = tq__replay_commit_batch(r, 0)) != TQ_OK)
            return rc;
        if ((rc = apply_frame(r, &info)) != TQ_OK)
            return rc;
        if (r->st->first_seq == 0)
            r->st->first_seq = info.first_seq;
        r->st->last_seq = info.first_seq + info.count - 1;
        r->st->frames++;
        tq__replay_note_frame_done(r, &info);
        if (r->batch >= batch_limit && (rc = tq__replay_commit_batch(r, 0)) != TQ_OK)
            return rc;
    }
}

static int replay_pass(replay_run *r, const char *path)
{
    int rc = tq_journal_open(path, &r->r);
    if (rc != TQ_OK) {
        tq_diag_set(r->d, "(journal)", "cannot open %s: %s", path, tq_strerror(rc));
        return rc;
    }
    memcpy(r->st->journal_id, tq_journal_id(r->r), TQ_JOURNAL_ID_LEN);
    r->frame_fault = 0;
    rc = tq__replay_begin_batch(r);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_get_journal(r->t, tq_journal_id(r->r), &r->mark);
    if (rc == TQ_ERR_NOTFOUND) {
        memset(&r->mark, 0, sizeof r->mark);
        memcpy(r->mark.id, tq_journal_id(r->r), TQ_JOURNAL_ID_LEN);
        rc = TQ_OK;
    }
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, r->t, rc, 0);
    r->st->journal_last_seq = r->mark.last_seq;
    rc = verify_applied_prefix(r);
    if (rc != TQ_OK)
        return rc;

    rc = r->o->threads >= 1 ? tq__pipeline_apply(r) : serial_apply(r);
    /* Everything before a bad frame is kept: commit it, then report the frame.  Any
     * other error may have left part of a frame in the batch: it is aborted. */
    if (tq__replay_may_commit(r, rc)) {
        int crc = tq__replay_commit_batch(r, 1);
        if (crc != TQ_OK)
            rc = crc;
    }
    return rc;
}

/* add_committed() - add the committed counters of an earlier pass (from) to into. */
static void add_committed(tq_replay_stats *into, const tq_replay_stats *from)
{
    into->events += from->events;
    into->applied += from->applied;
    into->duplicate_decl += from->duplicate_decl;
    into->ignored_final += from->ignored_final;
    into->unknown_decl += from->unknown_decl;
    for (int k = 0; k < 6; k++)
        into->by_kind[k] += from->by_kind[k];
    into->frames += from->frames;
    into->commits += from->commits;
    if (from->first_seq && (into->first_seq == 0 || from->first_seq < into->first_seq))
        into->first_seq = from->first_seq;
    if (from->last_seq > into->last_seq)
        into->last_seq = from->last_seq;
    for (uint32_t i = 0; i < from->nskipped && i < TQ_REPLAY_MAX_SKIPPED; i++)
        if (into->nskipped < TQ_REPLAY_MAX_SKIPPED)
            into->skipped[into->nskipped++] = from->skipped[i];
    into->skipped_events += from->skipped_events;
    into->cpu_read += from->cpu_read;
    into->cpu_workers += from->cpu_workers;
    into->cpu_apply += from->cpu_apply;
    into->cpu_commit += from->cpu_commit;
    if (from->pool_peak > into->pool_peak)
        into->pool_peak = from->pool_peak;
}

int tq_replay_run(tq_store *s, const char *path, const tq_replay_opts *opts,
                  tq_replay_stats *stats, tq_diag *d)
{
    double t0 = now_seconds();
    replay_run r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.o = opts;
    r.st = stats;
    r.d = d;
    struct stat sb;
    if (stat(path, &sb) == 0)
        r.file_size = (uint64_t)sb.st_size;
    int rc;
    /* A pass that fills the map is redone from its last commit; what it committed
     * still counts for this run, and the next pass sees it as applied before. */
    tq_replay_stats carry;
    memset(&carry, 0, sizeof carry);
    uint64_t grows = 0;
    for (;;) {
        memset(stats, 0, sizeof *stats);
        memset(&r.committed, 0, sizeof r.committed);
        rc = replay_pass(&r, path);
        tq_txn_abort(r.t);
        r.t = NULL;
        tq_journal_close(r.r);
        r.r = NULL;
        if (rc != TQ_ERR_MAPFULL)
            break;
        add_committed(&carry, &r.committed);
        /* The batch in flight is lost; what was committed stays, and the next pass
         * resumes after it exactly as a rerun after a kill would. */
        rc = tq_store_grow(s);
        if (rc != TQ_OK)
            break;
        grows++;
    }
    uint64_t peak = stats->pool_peak > carry.pool_peak ? stats->pool_peak : carry.pool_peak;
    add_committed(stats, &carry);
    stats->pool_peak = peak;
    stats->already_applied -= carry.events + carry.skipped_events;
    stats->map_grows = grows;
    tq_apply_scratch_release(&r.sc);
    free(r.zbuf);
    free(r.raw);
    stats->seconds = now_seconds() - t0;
    return rc;
}
