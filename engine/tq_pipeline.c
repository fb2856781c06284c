/* tq_pipeline.c - the multithreaded replay: read, decompress and look up in parallel,
 * decide and apply in journal order on one thread, commit on another.
 *
 * DESIGN
 *
 * Threads and queues.  One reader thread reads frames (header and compressed bytes)
 * from the journal in file order and numbers them 0, 1, 2, ...  N worker threads each
 * take any read frame, decompress it, check its checksum, decode every record, and look
 * up the cover (PAY total and guarantees) of every event's declaration in a read
 * transaction of their own.  A worker keeps the frame's own faults (checksums, zstd,
 * records: skippable with --skip-corrupt) apart from the database's (a lookup that
 * fails: the replay stops naming the table and key), so a damaged database never
 * makes a sound frame look corrupt.  The caller's thread is the applier: it takes the
 * frames strictly in number order, decides every event with the rules and applies it
 * to the open batch; a committer thread writes and commits each full batch while the
 * applier decides the next (tq_pipeline_batch.h).  Frames come from a fixed pool of
 * 2N+4 buffers: the reader waits for a free one.  The pool is also bounded in bytes
 * (tq_replay_opts.pool_bytes): as soon as a header is read, the reader reserves what
 * the frame will hold (compressed and raw bytes, one cover per event) and waits while
 * the reservations would pass the bound, unless nothing else is in flight; a frame
 * over the hard cap is refused as a bad frame without being decompressed, one whose
 * events are too many to keep their covers is passed "direct" (the applier looks the
 * covers up itself), and buffers that grew past an idle frame's share are freed when
 * the frame is released.  So memory is bounded by
 * configuration and the commit batch, never by what a journal claims.
 *
 * The applier does not decode.  A worker keeps every event it decoded, packed (the
 * event's fields up to its lines, then its lines: ~4.4 times the record's bytes), in
 * room reserved with the frame (about 5 times its raw bytes); the applier copies each
 * into its event, the same bytes the decode gives.  A frame whose events need more
 * room, or a direct one, is decoded by the applier as before.  The applier was the
 * pipeline's bottleneck while it also committed, so work moved off it was time saved;
 * on 1m its CPU went down ~7% (decode was 7% of its samples).  Moving the flush and
 * the commit to the committer took off another ~60% of it: on 1m the applier now
 * needs ~0.8 CPU-s and the committer ~1.4 (its index upkeep, most of it), which run
 * side by side.  The reader and the workers run at a lower priority, since the
 * applier and the committer bound the pass (lower_priority()).
 * One mutex and one condition variable guard the queues; they are touched once per
 * frame (thousands of events), so they are never contended.
 *
 * Why the lookups may run ahead.  Payments and permits change only by `load`, which
 * cannot run during a replay (the writer lock), so a worker's snapshot gives the same
 * cover as the applier's snapshot would.  Everything the replay itself changes —
 * declarations and permit use — is decided by the applier alone, and written by the
 * committer in batch order; the applier reads it through the batch still being
 * committed and a snapshot renewed after every commit (tq_pipeline_batch.h says why
 * that gives the serial path's facts).
 *
 * Ordering guarantee.  Events are applied one at a time in journal order through
 * tq_apply_decide(), the same decision path as the serial replay, from the same facts;
 * so the result is identical whatever the thread count (a test compares exports for
 * 0, 1, 2, 4 and 8 threads).
 *
 * The applier's caches.  Declarations changed in the open batch live in a hash table
 * as encoded bytes (the store's own encoding, ~100 bytes each); the committer writes
 * them in ascending key order, with MDB_APPEND past the end of the table, which is
 * where a national registry's increasing declaration numbers put almost every new one.
 * A declaration numbered after every stored one needs no lookup at all.  A declaration
 * read from the store (or from the batch being committed) keeps those bytes beside its
 * slot, and the flush hands them to tq_store_put_decl_known(), so the store moves its
 * index entries without reading the value a second time (the tests make the store
 * check that promise).  Permits and
 * their use are cached across batches (permits do not change during a replay); use
 * changed in a batch goes with its table, and a permit loaded again while that table
 * is being committed takes its use from there.  The caches are bounded: the two
 * declaration tables by the batch, the permit cache by tq_replay_opts.permit_cache
 * entries.
 *
 * The batch's memory.  The flush is where LMDB dirties pages, all of them held on the
 * heap until the commit writes them: each declaration put moves its index entries and
 * its held row, at random places of tables that grow with the database, so on a
 * database of millions a batch of 100,000 events dirtied ~260 MiB (late in 10m a
 * commit writes ~6.5 KiB per declaration; in 1m under 0.8 KiB).  So a batch also ends
 * before a frame that could take its distinct declarations past a cap, which
 * tq_replay_batch.c sets after every commit (the applier adopts it at the next
 * hand-over) from the bytes that commit wrote per declaration, plus what each
 * declaration holds in the two tables (replay_run.held_per_decl), to keep both near
 * tq_replay_opts.batch_bytes (`replay --dirty-mib`).  On 1m the cap stays above the
 * batch; on 10m it falls to a frame or two per batch as the tables grow.
 *
 * The change feed.  Each event that changes a declaration's decision (tq_apply_change(),
 * the rule every path uses) leaves a 32-byte note in an array, in journal order; the
 * flush numbers them into the feed after the declarations, before the mark and the
 * commit.  So the feed gets the same changes, in the same order and with the same
 * numbers, as the serial path gives, whatever the thread count and the batch size, and
 * a killed run loses them together with the decisions.  The array is bounded by the
 * batch (at most one note per event).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../formats/tq_grow.h"
#include "tq_pipeline_batch.h"
#include "tq_replay_int.h"


/* ---- frames and queues ---------------------------------------------------------- */

typedef struct pl_cover {
    tq_u128 pay_total;
    uint32_t goff, ng;       /* guarantees in the frame's g[goff .. goff+ng) */
} pl_cover;

typedef struct pl_frame {
    tq_frame_info info;
    uint64_t order;          /* position in this pass */
    int status;              /* the frame's own bytes: TQ_OK, TQ_ERR_CORRUPT/LIMIT (a bad
                              * frame, skippable), TQ_ERR_NOMEM */
    int store_rc;            /* the database under the cover lookups: TQ_OK or a store
                              * error, never a reason to skip the frame */
    tq_diag fault;           /* where store_rc came from (table, key, seq) */
    int direct;              /* too many events to hold their covers: the applier looks
                              * them up itself */
    uint64_t reserved;       /* bytes counted against the pool for this frame */
    uint8_t *z, *raw;
    size_t zcap, rawcap;
    pl_cover *cov;           /* one per event */
    size_t covcap;
    tq_guarantee *g;
    size_t gcap, gn;
    /* The events as the worker decoded them (ev_pack()), so that the applier does not
     * decode them again: valid when packed != 0.  At most evbudget bytes (reserved
     * with the frame); a frame whose events need more is left for the applier to
     * decode. */
    uint8_t *evs;
    size_t evscap, evbudget;
    int packed;
} pl_frame;

typedef struct pipeline {
    replay_run *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t nframes;
    pl_frame *frames;
    pl_frame **free_, **work, **done;  /* free stack, work ring, done slots by order */
    size_t nfree, whead, wcount;
    uint64_t nread;                     /* frames handed to the workers */
    int reader_done, reader_rc;
    tq_frame_info reader_info;
    int abort;
    uint64_t pool_used, pool_max, pool_peak, frame_cap, keep;   /* bytes */
    uint64_t keep_evs;       /* what an idle frame may keep of packed events' room */
    double cpu_read, cpu_workers;   /* thread CPU seconds, added as threads end */
    unsigned nworkers;
    pthread_t reader;
    pthread_t *workers;
} pipeline;

static void frame_free(pl_frame *f)
{
    free(f->z);
    free(f->raw);
    free(f->cov);
    free(f->g);
    free(f->evs);
}

/* held_bytes() - what f's buffers would hold to carry its frame, given what they
 * already have (a buffer is only ever grown while in flight). */
static uint64_t held_bytes(const pl_frame *f, uint64_t ev_bytes)
{
    uint64_t z = f->zcap > f->info.zsize ? f->zcap : f->info.zsize;
    uint64_t raw = f->rawcap > f->info.raw_size ? f->rawcap : f->info.raw_size;
    uint64_t cov = f->covcap * sizeof(pl_cover);
    return z + raw + (cov > ev_bytes ? cov : ev_bytes) + f->gcap * sizeof(tq_guarantee) +
           (f->evscap > f->evbudget ? f->evscap : f->evbudget);
}

/* A decoded event packed: its fields up to the lines, then its nlines lines, rounded
 * up to 8 bytes.  232 + 64 x nlines bytes: a few times the record's, and copied into
 * the applier's event in a fraction of the decode's time. */
#define EV_HEAD offsetof(tq_event, lines)
static size_t ev_packed_size(unsigned nlines)
{
    return (EV_HEAD + (size_t)nlines * sizeof(tq_line) + 7) & ~(size_t)7;
}

/* The pool share a frame's packed events may take: about 5 times its raw bytes (a
 * typical event of two lines packs into 4.4 times its record), never more than an
 * eighth of the pool. */
static uint64_t ev_budget(const pl_frame *f, uint64_t pool_max)
{
    uint64_t b = (uint64_t)f->info.raw_size * 5 + (uint64_t)f->info.count * 64;
    return b > pool_max / 8 ? 0 : b;
}

/* reserve_frame() - count f against the pool before any worker grows its buffers, as
 * the header says it will need them: its compressed and raw bytes and one cover per
 * event.  Waits (mu held) while the pool is full, unless nothing else is in flight: one
 * frame always goes, so the replay never stalls.  A frame over the hard cap on its own
 * is refused (TQ_ERR_LIMIT) and reserves nothing; one with too many events to keep
 * their covers is marked direct (the applier then looks them up itself). */
static void reserve_frame(pipeline *p, pl_frame *f)
{
    uint64_t ev_bytes = (uint64_t)f->info.count * (sizeof(pl_cover) + sizeof(tq_guarantee));
    f->status = TQ_OK;
    f->store_rc = TQ_OK;
    f->direct = ev_bytes > p->pool_max / 4;
    f->reserved = 0;
    f->packed = 0;
    f->evbudget = 0;
    if ((uint64_t)f->info.raw_size + f->info.zsize > p->frame_cap) {
        f->status = TQ_ERR_LIMIT;
        return;
    }
    if (!f->direct)
        f->evbudget = (size_t)ev_budget(f, p->pool_max);
    uint64_t need = held_bytes(f, f->direct ? 0 : ev_bytes);
    while (p->pool_used > 0 && p->pool_used + need > p->pool_max && !p->abort)
        pthread_cond_wait(&p->cv, &p->mu);
    f->reserved = need;
    p->pool_used += need;
    if (p->pool_used > p->pool_peak)
        p->pool_peak = p->pool_used;
}

/* lower_priority() - the calling thread yields to the applier and the committer.  The
 * reader and the workers run ahead anyway (their frames wait in the pool), while the
 * applier and the committer bound the pass: with more threads than cores (two workers,
 * the reader, the applier and the committer on two cores) an equal share of the CPU
 * made the committer wait behind them (1M: ~5% of the wall time).  Ten steps of
 * niceness, at most 19; Linux sets it per thread.  Best effort: a refusal changes
 * nothing but speed. */
#define PL_HELPER_NICE 10

static void lower_priority(void)
{
#ifdef __linux__
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno != 0)
        return;
    int want = now + PL_HELPER_NICE > 19 ? 19 : now + PL_HELPER_NICE;
    (void)setpriority(PRIO_PROCESS, tid, want);
#endif
}

static void *reader_main(void *arg)
{
    lower_priority();
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->nfree == 0 && !p->abort)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort)
            break;
        pl_frame *f = p->free_[--p->nfree];
        pthread_mutex_unlock(&p->mu);
        memset(&f->info, 0, sizeof f->info);
        int rc = tq_journal_read_frame(p->r->r, &f->info, &f->z, &f->zcap);
        pthread_mutex_lock(&p->mu);
        if (rc != TQ_OK) {
            p->reader_done = 1;
            p->reader_rc = rc;
            p->reader_info = f->info;
            p->free_[p->nfree++] = f;
            pthread_cond_broadcast(&p->cv);
            break;
        }
        reserve_frame(p, f);
        f->order = p->nread++;
        p->work[(p->whead + p->wcount++) % p->nframes] = f;
        pthread_cond_broadcast(&p->cv);
    }
    p->cpu_read += pl_thread_cpu();
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ev_pack_begin() - make room for f's packed events within its budget.
 * @return whether they will be packed (no budget, or no memory: the applier decodes). */
static int ev_pack_begin(pl_frame *f)
{
    if (f->evbudget == 0)
        return 0;
    if (f->evscap < f->evbudget) {
        uint8_t *b = realloc(f->evs, f->evbudget);
        if (b == NULL)
            return 0;
        f->evs = b;
        f->evscap = f->evbudget;
    }
    return 1;
}

/* ev_pack() - append ev at offset at of f->evs; @return the next offset, or SIZE_MAX
 * when packing stopped (already, or now: the budget is spent). */
static size_t ev_pack(pl_frame *f, size_t at, const tq_event *ev)
{
    if (at == SIZE_MAX)
        return at;
    size_t n = ev_packed_size(ev->nlines);
    if (n > f->evbudget - at)
        return SIZE_MAX;
    memcpy(f->evs + at, ev, EV_HEAD + (size_t)ev->nlines * sizeof(tq_line));
    return at + n;
}

/* A worker's scratch: the guarantees of one cover, and the frame's lookups. */
typedef struct pl_lookup {
    uint64_t key, seq;       /* the event's decl_no as a number, its seq */
    uint32_t event;          /* its place in the frame */
} pl_lookup;

typedef struct worker_scratch {
    tq_guarantee *g;
    size_t gcap;
    pl_lookup *lk, *tmp;     /* bounded by the largest frame's count (the frame cap) */
    size_t lkcap, tmpcap;
} worker_scratch;

/* decode_events() - decode (and pack) every record of f, keeping each event's lookup
 * in ws->lk.  @return the events decoded; a record that does not decode sets f->status,
 * and SIZE_MAX is out of memory. */
static size_t decode_events(pl_frame *f, worker_scratch *ws, size_t *packed)
{
    static __thread tq_event ev;
    tq_frame_cursor c;
    size_t n = 0;
    if (tq_grow((void **)&ws->lk, &ws->lkcap, f->info.count, sizeof *ws->lk, 1024) ||
        tq_grow((void **)&ws->tmp, &ws->tmpcap, f->info.count, sizeof *ws->tmp, 1024))
        return SIZE_MAX;
    tq_frame_cursor_init(&c, &f->info, f->raw);
    for (;;) {
        int crc = tq_frame_cursor_next(&c, &ev);
        if (crc != TQ_OK) {
            if (crc != TQ_ERR_EOF)
                f->status = crc;     /* a record of the frame does not decode */
            return n;
        }
        *packed = ev_pack(f, *packed, &ev);
        ws->lk[n].key = pl_decl_key(ev.decl_no);
        ws->lk[n].seq = ev.seq;
        ws->lk[n].event = (uint32_t)n;
        n++;
    }
}

/* lookup_one() - the cover of lookup l into f (its guarantees appended to f->g). */
static int lookup_one(pl_frame *f, tq_txn *t, worker_scratch *ws, const pl_lookup *l)
{
    char no[TQ_DECL_NO_LEN + 1];
    tq_cover cv;
    pl_key_decl(l->key, no);
    int rc = tq_store_get_cover(t, no, &cv, &ws->g, &ws->gcap);
    if (rc != TQ_OK)
        return tq__replay_db_error(&f->fault, t, rc, l->seq);
    if (f->gn + cv.nguar > f->gcap) {
        size_t want = (f->gn + cv.nguar) * 2;
        tq_guarantee *g = realloc(f->g, want * sizeof *g);
        if (g == NULL)
            return TQ_ERR_NOMEM;
        f->g = g;
        f->gcap = want;
    }
    if (cv.nguar)
        memcpy(f->g + f->gn, cv.guar, cv.nguar * sizeof *cv.guar);
    f->cov[l->event].pay_total = cv.pay_total;
    f->cov[l->event].goff = (uint32_t)f->gn;
    f->cov[l->event].ng = cv.nguar;
    f->gn += cv.nguar;
    return TQ_OK;
}

/* lookup_covers() - decode every record, then look up the cover of each event's
 * declaration through t in decl_no order (neighbours then share the cover table's
 * pages, and the store's kept cursor skips the descent from the root).  A record that
 * does not decode is the frame's fault (f->status); a lookup that fails is the
 * database's (f->store_rc, f->fault: table, key, seq). */
static void lookup_covers(pl_frame *f, tq_txn *t, worker_scratch *ws)
{
    int rc = TQ_OK;
    if (f->info.count > f->covcap) {
        pl_cover *c = realloc(f->cov, f->info.count * sizeof *c);
        if (c == NULL) {
            f->store_rc = TQ_ERR_NOMEM;
            return;
        }
        f->cov = c;
        f->covcap = f->info.count;
    }
    f->gn = 0;
    memset(&f->fault, 0, sizeof f->fault);
    if ((rc = tq_txn_renew(t)) != TQ_OK) {
        f->store_rc = tq__replay_db_error(&f->fault, NULL, rc, 0);
        return;
    }
    size_t packed = ev_pack_begin(f) ? 0 : SIZE_MAX;
    size_t n = decode_events(f, ws, &packed);
    if (n == SIZE_MAX) {
        rc = TQ_ERR_NOMEM;
    } else if (f->status == TQ_OK) {
        _Static_assert(offsetof(pl_lookup, key) == 0, "sorted by the first word");
        pl_sort_by_key(ws->lk, ws->tmp, n, sizeof *ws->lk);
        for (size_t i = 0; i < n && rc == TQ_OK; i++)
            rc = lookup_one(f, t, ws, &ws->lk[i]);
    }
    tq_txn_reset(t);
    f->store_rc = rc;
    f->packed = rc == TQ_OK && f->status == TQ_OK && packed != SIZE_MAX;
}

/* prepare_frame() - decompress, verify and decode f (its own bytes: f->status), then
 * look up every cover (the database: f->store_rc).  The two are kept apart so that a
 * damaged database is never taken for a damaged frame. */
static void prepare_frame(pl_frame *f, tq_txn *t, int trc, worker_scratch *ws)
{
    if (f->status != TQ_OK)
        return;              /* refused by the reader (over the cap) */
    f->status = tq_journal_frame_decode(&f->info, f->z, &f->raw, &f->rawcap);
    if (f->status == TQ_OK && f->direct)
        f->status = tq__replay_check_frame(&f->info, f->raw);
    if (f->status != TQ_OK || f->direct)
        return;
    if (trc != TQ_OK) {
        memset(&f->fault, 0, sizeof f->fault);
        f->store_rc = tq__replay_db_error(&f->fault, NULL, trc, 0);
        return;
    }
    lookup_covers(f, t, ws);
}

static void *worker_main(void *arg)
{
    lower_priority();
    pipeline *p = arg;
    tq_txn *t = NULL;
    worker_scratch ws;
    memset(&ws, 0, sizeof ws);
    int trc = tq_txn_begin(p->r->s, 1, &t);
    if (trc == TQ_OK)
        tq_txn_reset(t);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->wcount == 0 && !p->abort && !p->reader_done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort || p->wcount == 0)
            break;
        pl_frame *f = p->work[p->whead];
        p->whead = (p->whead + 1) % p->nframes;
        p->wcount--;
        pthread_mutex_unlock(&p->mu);
        prepare_frame(f, t, trc, &ws);
        pthread_mutex_lock(&p->mu);
        p->done[f->order % p->nframes] = f;
        pthread_cond_broadcast(&p->cv);
    }
    p->cpu_workers += pl_thread_cpu();
    pthread_mutex_unlock(&p->mu);
    tq_txn_abort(t);
    free(ws.g);
    free(ws.lk);
    free(ws.tmp);
    return NULL;
}

/* ---- the applier's caches ------------------------------------------------------- */

typedef struct permit_entry {
    char name[TQ_PERMIT_MAX + 1];
    uint8_t dirty;           /* used changed in the open batch */
    tq_permit_fact fact;
} permit_entry;

typedef struct applier {
    replay_run *r;
    uint8_t jid[TQ_JOURNAL_ID_LEN];  /* the journal's id: every change's source */
    /* The open batch (cur) and the one the committer holds (inflight, NULL when none
     * or when the pass commits inline).  See tq_pipeline_batch.h. */
    pl_table tab[2];
    pl_table *cur, *inflight;
    /* Reads: the pass's write transaction when it commits inline (a dry run), else a
     * read transaction of the applier's own, renewed after every commit. */
    tq_txn *rt;
    int pipelined;
    pl_committer w;
    pl_flush_scratch sc;     /* the inline flush's */
    uint64_t max_key;        /* greatest decl_no in rt's view (0: none) */
    /* permits: entries + open-addressing index of (entry number + 1, hash tag); the tag
     * spares touching an entry whose name cannot match */
    permit_entry *pe;
    size_t npe, pecap;
    struct pslot { uint32_t idx, tag; } *pidx;
    size_t npidx;
    /* the event being applied */
    const pl_frame *frame;
    uint32_t event;
    tq_decl d;
    tq_event ev;
    uint8_t enc[TQ_STORE_DECL_ENC_MAX];
    /* what decl_get() last read under old_key, for decl_put() to keep with the slot:
     * what the store will hold there when the batch is committed */
    uint64_t old_key;        /* 0: nothing read */
    uint32_t old_state;      /* OLD_* */
    size_t old_len;
    uint8_t old[TQ_STORE_DECL_ENC_MAX];
} applier;

/* keep_old() - remember v (n bytes) as what the store will hold under key. */
static void keep_old(applier *a, uint64_t key, const uint8_t *v, size_t n)
{
    a->old_key = 0;
    if (n <= sizeof a->old) {
        memcpy(a->old, v, n);
        a->old_len = n;
        a->old_key = key;
        a->old_state = OLD_BYTES;
    }
}

/* decl_get() - the declaration as the applier must see it: this batch's version, else
 * the one being committed, else the store's (no lookup for a number past every stored
 * one). */
static int decl_get(applier *a, const char *decl_no, tq_decl *out, int *exists)
{
    uint64_t key = pl_decl_key(decl_no);
    const decl_slot *s = pl_table_get(a->cur, key);
    if (s != NULL) {
        *exists = 1;
        return tq_store_decl_decode(decl_no, a->cur->arena + s->off, s->len, out);
    }
    if (a->inflight && (s = pl_table_get(a->inflight, key)) != NULL) {
        *exists = 1;
        keep_old(a, key, a->inflight->arena + s->off, s->len);
        return tq_store_decl_decode(decl_no, a->inflight->arena + s->off, s->len, out);
    }
    if (key > a->max_key) {
        *exists = 0;
        return TQ_OK;
    }
    const uint8_t *v;
    size_t n;
    int rc = tq_store_get_decl_encoded(a->rt, decl_no, &v, &n);
    *exists = rc == TQ_OK;
    a->old_key = 0;
    if (rc == TQ_ERR_NOTFOUND) {
        a->old_key = key;
        a->old_state = OLD_NONE;
        return TQ_OK;
    }
    if (rc == TQ_OK && (rc = tq_store_decl_decode(decl_no, v, n, out)) != TQ_OK)
        return tq_store_get_decl(a->rt, decl_no, out);   /* the fault, named */
    if (rc == TQ_OK)
        keep_old(a, key, v, n);
    return rc;
}

static int decl_put(applier *a, const tq_decl *d)
{
    size_t len;
    int rc = tq_store_decl_encode(d, a->enc, &len);
    if (rc != TQ_OK)
        return rc;
    uint64_t key = pl_decl_key(d->decl_no);
    int known = a->old_key == key;
    return pl_table_put(a->cur, key, a->enc, len, known ? a->old_state : OLD_UNKNOWN,
                        a->old, known ? a->old_len : 0);
}

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    /* FNV's low bits mix poorly and the table is indexed by them: finish with a
     * full-width mix, or permit numbers that differ in their last digits cluster. */
    return pl_hash64(h);
}

static struct pslot *permit_slot(applier *a, const char *name)
{
    size_t h = hash_name(name), m = a->npidx - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & m;; i = (i + 1) & m) {
        struct pslot *ps = &a->pidx[i];
        if (ps->idx == 0) {
            ps->tag = tag;
            return ps;
        }
        if (ps->tag == tag && strcmp(a->pe[ps->idx - 1].name, name) == 0)
            return ps;
    }
}

static int permit_index_grow(applier *a)
{
    size_t n = a->npidx ? a->npidx * 2 : 1024;
    struct pslot *idx = pl_zalloc(n * sizeof *idx);
    if (idx == NULL)
        return TQ_ERR_NOMEM;
    free(a->pidx);
    a->pidx = idx;
    a->npidx = n;
    for (size_t e = 0; e < a->npe; e++)
        permit_slot(a, a->pe[e].name)->idx = (uint32_t)(e + 1);
    return TQ_OK;
}

/* permit_load() - e's permit and use as the applier must see them: the use the batch
 * being committed leaves, else the store's.  The use of a permit without a quota is
 * never read by the rules (nor changed), so it is not looked up: 0. */
static int permit_load(applier *a, permit_entry *e)
{
    int rc = tq_store_get_permit(a->rt, e->name, &e->fact.permit);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;
    if (rc != TQ_OK)
        return rc;
    e->fact.found = 1;
    if (e->fact.permit.quota == 0)
        return TQ_OK;
    const pl_use *u = a->inflight ? pl_table_find_use(a->inflight, e->name) : NULL;
    if (u != NULL) {
        e->fact.used = u->used;
        return TQ_OK;
    }
    return tq_store_get_used(a->rt, e->name, &e->fact.used);
}

static int permit_lookup(applier *a, const char *name, permit_entry **out)
{
    if (a->npidx == 0 && permit_index_grow(a) != TQ_OK)
        return TQ_ERR_NOMEM;
    struct pslot *slot = permit_slot(a, name);
    if (slot->idx) {
        *out = &a->pe[slot->idx - 1];
        return TQ_OK;
    }
    if (tq_grow((void **)&a->pe, &a->pecap, a->npe + 1, sizeof *a->pe, 1024) != TQ_OK)
        return TQ_ERR_NOMEM;
    permit_entry *e = &a->pe[a->npe];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    int rc = permit_load(a, e);
    if (rc != TQ_OK)
        return rc;
    a->npe++;
    if (a->npe * 2 > a->npidx) {
        if ((rc = permit_index_grow(a)) != TQ_OK) {
            a->npe--;
            return rc;
        }
    } else {
        slot->idx = (uint32_t)a->npe;
    }
    *out = e;
    return TQ_OK;
}

/* change_note() - keep the change the event made to a->d, if any (tq_apply_change()
 * decides), for the flush to write in journal order. */
static int change_note(applier *a, const tq_decision *before)
{
    tq_change c;
    if (!tq_apply_change(before, &a->d, TQ_CHANGE_EVENT, &c))
        return TQ_OK;
    pl_change p;
    memset(&p, 0, sizeof p);
    p.key = pl_decl_key(c.decl_no);
    p.seq = c.src_seq;
    p.reasons = c.reasons;
    p.version = c.version;
    p.state = c.state;
    p.manual = c.manual;
    return pl_table_note_change(a->cur, &p);
}

/* close_table() - the permit use the open batch changed, into its table; the permit
 * cache is dropped when it grew past its bound (nothing in it is dirty then, and a
 * permit loaded again sees the table's use while it is being committed). */
static int close_table(applier *a)
{
    int rc = TQ_OK;
    for (size_t e = 0; e < a->npe && rc == TQ_OK; e++)
        if (a->pe[e].dirty) {
            rc = pl_table_note_use(a->cur, a->pe[e].name, a->pe[e].fact.used);
            a->pe[e].dirty = 0;
        }
    pl_table_sort_uses(a->cur);
    uint64_t max = a->r->o->permit_cache ? a->r->o->permit_cache
                                         : TQ_REPLAY_PERMIT_CACHE_DEFAULT;
    if (rc == TQ_OK && a->npe > max) {
        a->npe = 0;
        memset(a->pidx, 0, a->npidx * sizeof *a->pidx);
    }
    return rc;
}

/* flush_inline() - replay_run.flush of a pass that commits on the applier's thread (a
 * dry run): the open batch into the pass's transaction. */
static int flush_inline(void *ctx)
{
    applier *a = ctx;
    uint64_t decls = 0;
    int rc = close_table(a);
    if (rc == TQ_OK)
        rc = pl_table_flush(a->cur, a->r->t, a->jid, &a->max_key, &a->sc, &decls);
    a->r->flushed_decls = decls;
    pl_table_clear(a->cur);
    a->old_key = 0;
    return rc;
}

/* put_gap() - replay_run.put_gap of a pipelined pass: the gap goes with the batch. */
static int put_gap(void *ctx, const tq_gap *g)
{
    applier *a = ctx;
    return pl_table_note_gap(a->cur, g);
}

/* adopt_commits() - the pass's counters as of the committer's last commit (read only
 * while the committer is idle). */
static void adopt_commits(applier *a)
{
    a->r->committed = a->w.committed;
    a->r->st->commits = a->w.commits;
    a->r->st->journal_last_seq = a->w.committed.journal_last_seq;
}

/* hand_off() - end the open batch: commit it inline, or hand it to the committer once
 * the batch before it is committed, then look through a renewed snapshot.
 * @return TQ_OK, or the committer's failure (its diag copied to the pass's). */
static int hand_off(applier *a, int final)
{
    replay_run *r = a->r;
    if (!a->pipelined)
        return tq__replay_commit_batch(r, final);
    int rc = close_table(a);
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, NULL, rc, 0);
    a->cur->mark = r->mark;
    a->cur->mark.applied_at = 0;
    a->cur->st = *r->st;
    if ((rc = pl_committer_wait(&a->w)) != TQ_OK)
        return rc;
    /* Everything handed over so far is committed: look through a snapshot that has it. */
    tq_txn_reset(a->rt);
    if ((rc = tq_txn_renew(a->rt)) != TQ_OK)
        return tq__replay_db_error(r->d, NULL, rc, 0);
    a->max_key = a->w.max_key;
    r->decl_cap = a->w.decl_cap;
    adopt_commits(a);
    pl_table *next = a->inflight ? a->inflight : &a->tab[1];
    a->inflight = a->cur;
    pl_committer_hand(&a->w, a->inflight);
    /* The next table is made ready while the committer writes (the second table is
     * made at the first hand-over); after the pass's last batch none is needed. */
    if (!final && next->slots == NULL && pl_table_init(next, a->tab[0].nslots) != TQ_OK)
        return TQ_ERR_NOMEM;
    if (!final)
        pl_table_clear(next);
    a->cur = next;
    a->old_key = 0;
    r->batch = 0;
    return TQ_OK;
}

/* ---- facts for tq_apply_decide() ----------------------------------------------- */

static int pl_get_cover(void *ctx, const tq_decl *d, tq_cover *out)
{
    applier *a = ctx;
    if (a->frame->direct)
        return tq_store_get_cover(a->rt, d->decl_no, out, &a->r->sc.guar,
                                  &a->r->sc.guar_cap);
    /* always the current event's declaration, whose cover the worker found */
    const pl_cover *c = &a->frame->cov[a->event];
    out->pay_total = c->pay_total;
    out->nguar = c->ng;
    out->guar = a->frame->g + c->goff;
    return TQ_OK;
}

static int pl_get_permit(void *ctx, const char *permit_no, tq_permit_fact *out)
{
    permit_entry *e;
    int rc = permit_lookup(ctx, permit_no, &e);
    if (rc == TQ_OK)
        *out = e->fact;
    return rc;
}

static int pl_set_used(void *ctx, const char *permit_no, uint64_t used)
{
    permit_entry *e;
    int rc = permit_lookup(ctx, permit_no, &e);
    if (rc == TQ_OK) {
        e->fact.used = used;
        e->dirty = 1;
    }
    return rc;
}

static const tq_facts_ops pl_ops = {pl_get_cover, pl_get_permit, pl_set_used};

/* next_event() - the next event of f into a->ev: unpacked from what the worker decoded
 * (the same bytes the decode gives: the fields up to the lines and nlines lines), or
 * decoded here.  @return TQ_OK, TQ_ERR_EOF after the last, TQ_ERR_CORRUPT. */
static int next_event(applier *a, const pl_frame *f, tq_frame_cursor *c, size_t *at)
{
    if (!f->packed)
        return tq_frame_cursor_next(c, &a->ev);
    if (a->event == f->info.count)
        return TQ_ERR_EOF;
    const tq_event *p = (const tq_event *)(const void *)(f->evs + *at);
    size_t nl = p->nlines;
    memcpy(&a->ev, p, EV_HEAD + nl * sizeof(tq_line));
    *at += ev_packed_size((unsigned)nl);
    return TQ_OK;
}

static int apply_prepared(applier *a, const pl_frame *f)
{
    tq_frame_cursor c;
    tq_event *ev = &a->ev;
    size_t at = 0;
    int rc;
    a->frame = f;
    a->event = 0;
    tq_frame_cursor_init(&c, &f->info, f->raw);
    while ((rc = next_event(a, f, &c, &at)) == TQ_OK) {
        int exists;
        if ((rc = decl_get(a, ev->decl_no, &a->d, &exists)) != TQ_OK)
            return tq__replay_db_error(a->r->d, a->rt, rc, ev->seq);
        tq_decision before = tq_apply_decision(&a->d, exists);
        tq_step step = tq_rules_begin(&a->d, exists, ev);
        tq_apply_source(&a->d, step, a->jid, ev->seq);
        if (step == TQ_STEP_EVALUATE || step == TQ_STEP_EVALUATE_MANUAL)
            rc = tq_apply_decide(&a->d, step == TQ_STEP_EVALUATE_MANUAL, &pl_ops, a, NULL);
        if (rc == TQ_OK && (step == TQ_STEP_EVALUATE || step == TQ_STEP_EVALUATE_MANUAL ||
                            step == TQ_STEP_DONE) &&
            (rc = decl_put(a, &a->d)) == TQ_OK)
            rc = change_note(a, &before);
        if (rc != TQ_OK)
            return tq__replay_db_error(a->r->d, a->rt, rc, ev->seq);
        tq__replay_count(a->r, ev, step);
        a->event++;
    }
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

/* ---- the pass ------------------------------------------------------------------- */

static void stop_all(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->abort = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* next_frame() - the frame numbered `order`, or NULL when the reader has ended (its
 * status is then in p->reader_rc). */
static pl_frame *next_frame(pipeline *p, uint64_t order)
{
    pl_frame *f = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        pl_frame *d = p->done[order % p->nframes];
        if (d && d->order == order) {
            f = d;
            p->done[order % p->nframes] = NULL;
            break;
        }
        if (p->reader_done && order == p->nread)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return f;
}

static void release_frame(pipeline *p, pl_frame *f)
{
    /* A frame's buffers stay for the next one unless they grew past the share of the
     * pool an idle frame may keep: what one huge frame needed is given back. */
    f->info.zsize = f->info.raw_size = 0;
    f->evbudget = 0;
    f->packed = 0;
    /* The packed events' room has a share of its own (it is as large as the rest
     * together): freed and grown again per frame, it cost a page fault per 4 KiB. */
    if (f->evscap > p->keep_evs) {
        free(f->evs);
        f->evs = NULL;
        f->evscap = 0;
    }
    if (held_bytes(f, 0) - f->evscap > p->keep) {
        free(f->z);
        free(f->raw);
        free(f->cov);
        free(f->g);
        f->z = f->raw = NULL;
        f->cov = NULL;
        f->g = NULL;
        f->zcap = f->rawcap = f->covcap = f->gcap = 0;
    }
    pthread_mutex_lock(&p->mu);
    p->pool_used -= f->reserved;
    f->reserved = 0;
    p->free_[p->nfree++] = f;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static int run_applier(pipeline *p, applier *a, double t0)
{
    replay_run *r = p->r;
    uint64_t batch_limit = tq__replay_batch_events(r->o);
    for (uint64_t order = 0;; order++) {
        if (r->o->stop && *r->o->stop) {
            r->st->interrupted = 1;
            return TQ_OK;
        }
        pl_frame *f = next_frame(p, order);
        if (order == 0 && f != NULL)
            r->st->first_frame = pl_wall() - t0;
        if (f == NULL)
            return tq__replay_end_of_frames(r, p->reader_rc, &p->reader_info);
        /* The worker decoded every record already: a frame with status TQ_OK is whole.
         * Only the frame's own faults may be skipped; the database's stop the pass. */
        int rc = f->status;
        if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_LIMIT) {
            rc = tq__replay_corrupt(r, &f->info, rc);
        } else if (rc == TQ_OK && f->store_rc != TQ_OK) {
            rc = f->store_rc;
            if (r->d->why[0] == '\0')
                *r->d = f->fault;
        } else if (rc == TQ_OK) {
            /* the frame's events could change as many declarations as they are */
            if (tq__replay_batch_full(r, a->cur->nused, f->info.count))
                rc = hand_off(a, 0);
            if (rc == TQ_OK)
                rc = apply_prepared(a, f);
            if (rc == TQ_OK) {
                if (r->st->first_seq == 0)
                    r->st->first_seq = f->info.first_seq;
                r->st->last_seq = f->info.first_seq + f->info.count - 1;
                r->st->frames++;
                tq__replay_note_frame_done(r, &f->info);
            }
        }
        release_frame(p, f);
        if (rc != TQ_OK)
            return rc;
        if (r->batch >= batch_limit && (rc = hand_off(a, 0)) != TQ_OK)
            return rc;
    }
}

/* start_committer() - a pass that writes commits on a thread of its own: the pass's
 * transaction, which has only read so far, gives way to the committer's, and the
 * applier reads through a snapshot.  A dry run commits nothing, so it flushes into the
 * pass's transaction and reads it back (hand_off). */
static int start_committer(applier *a)
{
    replay_run *r = a->r;
    a->rt = r->t;
    if (r->o->dry_run) {
        r->flush = flush_inline;
        r->flush_ctx = a;
        return TQ_OK;
    }
    tq_txn_abort(r->t);
    r->t = NULL;
    int rc = tq_txn_begin(r->s, 1, &a->rt);
    if (rc != TQ_OK) {
        a->rt = NULL;
        return tq__replay_db_error(r->d, NULL, rc, 0);
    }
    /* The batch's budget (tq_replay_opts.batch_bytes) covers the two tables too: a
     * declaration's slot and bytes, with those it replaces, in each. */
    r->held_per_decl = 2 * (2 * sizeof(decl_slot) + 2 * 192);
    if ((rc = pl_committer_start(&a->w, r, a->max_key)) != TQ_OK) {
        tq_txn_abort(a->rt);
        a->rt = NULL;
        return rc;
    }
    a->w.committed.journal_last_seq = r->st->journal_last_seq;
    a->pipelined = 1;
    r->put_gap = put_gap;
    r->gap_ctx = a;
    return TQ_OK;
}

/* pipeline_setup() - sizes, the frame pool, the batch tables, the greatest stored key,
 * the committer.  (Making the table after the workers start, while they decode the
 * first frame, was measured: morning-15k, 3 x 21 runs of Release builds, no difference
 * beyond the noise of about a millisecond.) */
static int pipeline_setup(pipeline *p, applier *a, replay_run *r)
{
    p->r = r;
    a->r = r;
    memcpy(a->jid, tq_journal_id(r->r), TQ_JOURNAL_ID_LEN);
    p->nworkers = r->o->threads < TQ_REPLAY_THREADS_MAX ? r->o->threads
                                                        : TQ_REPLAY_THREADS_MAX;
    p->nframes = 2 * (size_t)p->nworkers + 4;
    p->pool_max = tq__replay_pool_bytes(r->o);
    p->frame_cap = tq__replay_frame_cap(r->o);
    p->keep = p->pool_max / (2 * p->nframes);
    p->keep_evs = p->pool_max / p->nframes;
    p->frames = calloc(p->nframes, sizeof *p->frames);
    p->free_ = calloc(p->nframes, sizeof *p->free_);
    p->work = calloc(p->nframes, sizeof *p->work);
    p->done = calloc(p->nframes, sizeof *p->done);
    p->workers = calloc(p->nworkers, sizeof *p->workers);
    /* Size the batch table for the batch, or for the whole journal when that is smaller
     * (about 40 compressed bytes an event), so short replays do not rehash as they go. */
    uint64_t batch = tq__replay_batch_events(r->o);
    uint64_t expect = r->file_size / 40 + 1024;
    if (expect > batch)
        expect = batch;
    size_t slots = 4096;
    while (slots < 2 * expect && slots < ((size_t)1 << 24))
        slots *= 2;
    if (!p->frames || !p->free_ || !p->work || !p->done || !p->workers ||
        pl_table_init(&a->tab[0], slots) != TQ_OK)
        return TQ_ERR_NOMEM;
    a->cur = &a->tab[0];
    for (size_t i = 0; i < p->nframes; i++)
        p->free_[p->nfree++] = &p->frames[i];
    char last[TQ_DECL_NO_LEN + 1];
    int rc = tq_store_last_decl(r->t, last);
    if (rc == TQ_OK)
        a->max_key = pl_decl_key(last);
    else if (rc != TQ_ERR_NOTFOUND)
        return tq__replay_db_error(r->d, r->t, rc, 0);
    return start_committer(a);
}

static void pipeline_release(pipeline *p, applier *a)
{
    if (p->frames)
        for (size_t i = 0; i < p->nframes; i++)
            frame_free(&p->frames[i]);
    free(p->frames);
    free(p->free_);
    free(p->work);
    free(p->done);
    free(p->workers);
    pl_table_release(&a->tab[0]);
    pl_table_release(&a->tab[1]);
    free(a->sc.order);
    free(a->pe);
    free(a->pidx);
}

/* finish() - commit the last batch when the pass may (success, or a stop at a whole
 * frame the journal got wrong), wait for the committer and end it.  A failure of the
 * committer is the pass's, with its why: it met it first in journal order. */
static int finish(applier *a, int rc)
{
    replay_run *r = a->r;
    int may = rc == TQ_OK || r->frame_fault;
    if (!a->pipelined) {
        if (tq__replay_may_commit(r, rc)) {
            int crc = tq__replay_commit_batch(r, 1);
            if (crc != TQ_OK)
                rc = crc;
        }
        return rc;
    }
    if (may) {
        int crc = hand_off(a, 1);
        if (crc != TQ_OK)
            rc = crc;
    }
    int wrc = pl_committer_wait(&a->w);
    pl_committer_stop(&a->w);
    adopt_commits(a);
    r->st->cpu_commit += a->w.cpu;
    if (wrc != TQ_OK) {
        rc = wrc;
        *r->d = a->w.diag;
    }
    tq_txn_abort(a->rt);     /* before the map may grow */
    a->rt = NULL;
    r->put_gap = NULL;
    r->gap_ctx = NULL;
    r->held_per_decl = 0;
    return rc;
}

/* pipeline_run() - start the threads, apply, stop them, and commit the last batch when
 * the pass may (finish()). */
static int pipeline_run(pipeline *p, applier *a)
{
    replay_run *r = p->r;
    double t0 = pl_wall();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    unsigned started = 0;
    int reader_started = pthread_create(&p->reader, NULL, reader_main, p) == 0;
    int rc = reader_started ? TQ_OK : TQ_ERR_NOMEM;
    for (; rc == TQ_OK && started < p->nworkers; started++)
        if (pthread_create(&p->workers[started], NULL, worker_main, p) != 0) {
            rc = TQ_ERR_NOMEM;
            break;           /* not started: not to be joined */
        }
    double cpu0 = pl_thread_cpu();
    if (rc == TQ_OK)
        rc = run_applier(p, a, t0);
    double t_applied = pl_wall();
    /* Stop the threads before the final commit: a worker's read transaction must be
     * closed before the map may grow, and nothing more is needed from them. */
    stop_all(p);
    if (reader_started)
        pthread_join(p->reader, NULL);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->workers[i], NULL);
    rc = finish(a, rc);
    if (r->st->frames)
        r->st->tail = pl_wall() - t_applied;
    else
        r->st->first_frame = 0;
    r->flush = NULL;
    r->flush_ctx = NULL;
    r->st->cpu_apply += pl_thread_cpu() - cpu0;
    r->st->cpu_read += p->cpu_read;
    r->st->cpu_workers += p->cpu_workers;
    if (p->pool_peak > r->st->pool_peak)
        r->st->pool_peak = p->pool_peak;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    return rc;
}

int tq__pipeline_apply(replay_run *r)
{
    pipeline p;
    applier a;
    memset(&p, 0, sizeof p);
    memset(&a, 0, sizeof a);
    int rc = pipeline_setup(&p, &a, r);
    if (rc == TQ_OK)
        rc = pipeline_run(&p, &a);
    else if (a.pipelined)
        rc = finish(&a, rc);
    pipeline_release(&p, &a);
    return rc;
}
