/* tq_pipeline_batch.h - the pipeline's open batch and the thread that commits it.
 *
 * The applier (tq_pipeline.c) decides events and keeps what they changed in a batch
 * table (pl_table): the changed declarations as encoded bytes, the changes for the feed,
 * the permit use, the gaps --skip-corrupt recorded, the journal's mark and the counters
 * as of the batch's last frame.  When a batch is full it hands the table to the
 * committer (pl_committer), which writes it into a write transaction of its own --
 * declarations in key order, feed, use, gaps, mark -- and commits it, while the
 * applier goes on deciding the next batch into the other table.  The data still flows
 * one way: the committer never reads what the applier decides next.
 *
 * Why the applier may run one batch ahead.  What it reads of the store while batch n
 * is being committed is the snapshot of batch n-1, seen through the table of batch n
 * (pl_table_find on it first): a declaration batch n changed is found there with the
 * bytes the commit is writing, and anything else is in the snapshot unchanged.  Before
 * it hands over batch n+1 it waits for batch n's commit and renews its snapshot, so it
 * is never more than one batch ahead, and batch n's table is cleared only then.  The
 * decisions are therefore exactly the serial path's (the determinism test compares
 * exports at every thread count), and every commit still holds whole frames with their
 * mark: a killed run resumes from the last commit as before.
 *
 * Threads.  A pl_table belongs to the applier until handed over; the committer only
 * reads it (the applier still looks declarations up in it), sorting the slots in an
 * array of its own.  The committer owns its write transaction (LMDB's rule: a write
 * transaction stays on its thread).  One mutex guards the hand-over; it is taken twice
 * per batch.
 */
#ifndef TQ_PIPELINE_BATCH_H
#define TQ_PIPELINE_BATCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tq_replay_int.h"

/* A declaration changed in the batch: its encoded bytes in the table's arena. */
typedef struct decl_slot {
    uint64_t key;            /* decl_no as a number; 0 = empty */
    uint32_t off, len;       /* encoded bytes in the arena */
    uint32_t cap;            /* bytes reserved at off: a later version that fits reuses
                              * them, so a frame of events on one declaration does not
                              * grow the arena per event */
    uint32_t ooff, olen;     /* OLD_BYTES: the stored value it replaces, in the arena */
    uint32_t old;            /* what the store holds under key when the batch is
                              * committed, as the applier read it: OLD_UNKNOWN, OLD_NONE,
                              * OLD_BYTES (the flush passes it to
                              * tq_store_put_decl_known(), which need not read it again) */
} decl_slot;

enum { OLD_UNKNOWN = 0, OLD_NONE = 1, OLD_BYTES = 2 };

/* A change of a declaration's decision, kept until the flush writes it to the feed in
 * journal order (the journal's id is the pass's own). */
typedef struct pl_change {
    uint64_t key, seq;       /* decl_no as a number; the event's seq */
    uint32_t reasons, version;
    uint8_t state, manual;
} pl_change;

/* A permit's use as the batch leaves it. */
typedef struct pl_use {
    char name[TQ_PERMIT_MAX + 1];
    uint64_t used;
} pl_use;

typedef struct pl_table {
    decl_slot *slots;
    size_t nslots, nused;    /* nslots is a power of two */
    uint64_t kmax;           /* the greatest key in the table (0: empty): a number past
                              * it, as most new declarations are, needs no probe */
    uint8_t *arena;
    size_t alen, acap;
    int mixed;               /* keys are hashed (after a long probe run) */
    uint64_t long_runs;      /* probe runs over PL_PROBE_MAX seen while not mixed */
    pl_change *ch;           /* one per event at most: bounded by the batch */
    size_t nch, chcap;
    pl_use *uses;            /* sorted by name when handed over */
    size_t nuses, usecap;
    tq_gap *gaps;            /* frames --skip-corrupt passed over in the batch */
    size_t ngaps, gapcap;
    tq_journal_mark mark;    /* what the commit records: the batch's last frame */
    tq_replay_stats st;      /* the pass's counters as of that frame */
} pl_table;

/* decl_no (12 digits, checked by the decoder) as a number, and back. */
uint64_t pl_decl_key(const char *decl_no);
void pl_key_decl(uint64_t v, char out[TQ_DECL_NO_LEN + 1]);
/* pl_hash64() - a full-width mix of k. */
size_t pl_hash64(uint64_t k);
/* pl_sort_by_key() - sort n elements of size bytes at v by the uint64_t each begins
 * with (under 2^44: a decl_no is under 10^12), stably, with tmp (room for n) as
 * scratch: an LSD radix sort, four passes of 11 bits.  Inline, so that each caller's
 * constant size makes the copies plain moves.  Journal order and hash order are
 * neither sorted nor random enough for a comparison sort to be the cheaper. */
static inline void pl_sort_by_key(void *v, void *tmp, size_t n, size_t size)
{
    size_t count[1u << 11];
    unsigned char *src = v, *dst = tmp;
    for (int shift = 0; shift < 44; shift += 11) {
        uint64_t k;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) {
            memcpy(&k, src + i * size, sizeof k);
            count[(k >> shift) & 0x7ff]++;
        }
        for (size_t b = 0, sum = 0; b < (1u << 11); b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(&k, src + i * size, sizeof k);
            memcpy(dst + count[(k >> shift) & 0x7ff]++ * size, src + i * size, size);
        }
        unsigned char *t = src;
        src = dst;
        dst = t;
    }
    /* four passes: the result is back in v */
}

/* pl_zalloc() - n zeroed bytes (free() them), written rather than left to calloc():
 * calloc's fresh pages map the shared zero page when read first, and the first write
 * to each then costs a copy-on-write fault with a TLB shootdown, an interrupt to every
 * other core running one of the pipeline's threads.  NULL when out of memory. */
void *pl_zalloc(size_t n);
/* pl_thread_cpu() - the calling thread's CPU seconds so far. */
double pl_thread_cpu(void);
/* pl_wall() - seconds on the monotonic clock. */
double pl_wall(void);

/* pl_table_init() - an empty table of nslots (a power of two) slots.
 * @return TQ_OK or TQ_ERR_NOMEM.  pl_table_release() frees what it holds. */
TQ_MUST_USE int pl_table_init(pl_table *tab, size_t nslots);
void pl_table_release(pl_table *tab);
/* pl_table_clear() - empty it for the next batch, keeping its memory. */
void pl_table_clear(pl_table *tab);
/* pl_table_find() - the slot of key, or the empty slot where it would go. */
decl_slot *pl_table_find(const pl_table *tab, uint64_t key);
/* pl_table_get() - the slot holding key, or NULL. */
static inline const decl_slot *pl_table_get(const pl_table *tab, uint64_t key)
{
    if (key > tab->kmax)
        return NULL;
    const decl_slot *s = pl_table_find(tab, key);
    return s->key ? s : NULL;
}
/* pl_table_put() - keep enc[0..len) as key's bytes.  old/obytes/olen: what the store
 * will hold under key when the batch is committed (OLD_*), kept only by a new slot.
 * @return TQ_OK, TQ_ERR_NOMEM, TQ_ERR_LIMIT (the arena past 4 GiB). */
TQ_MUST_USE int pl_table_put(pl_table *tab, uint64_t key, const uint8_t *enc, size_t len,
                             uint32_t old, const uint8_t *obytes, size_t olen);
/* pl_table_note_change() - append one change (journal order). */
TQ_MUST_USE int pl_table_note_change(pl_table *tab, const pl_change *c);
/* pl_table_note_use() - append a permit's use (at most once per permit per batch). */
TQ_MUST_USE int pl_table_note_use(pl_table *tab, const char *name, uint64_t used);
/* pl_table_note_gap() - append a gap, for the committer to record. */
TQ_MUST_USE int pl_table_note_gap(pl_table *tab, const tq_gap *g);
/* pl_table_sort_uses() - sort the uses by name, for pl_table_find_use(). */
void pl_table_sort_uses(pl_table *tab);
/* pl_table_find_use() - the use the sorted table records for name, or NULL. */
const pl_use *pl_table_find_use(const pl_table *tab, const char *name);

/* pl_flush_scratch - the committer's (or inline flush's) own array of slots to sort. */
typedef struct pl_flush_scratch {
    decl_slot *order;
    size_t cap;
} pl_flush_scratch;

/* pl_table_flush() - write tab into t: the declarations in key order (appended when past
 * *max_key, which follows), the changes in journal order under jid, the uses, the gaps.
 * tab is only read.  *decls gets the number of declarations written.
 * @return TQ_OK or a store error (t is then to be aborted). */
TQ_MUST_USE int pl_table_flush(const pl_table *tab, tq_txn *t, const uint8_t *jid,
                               uint64_t *max_key, pl_flush_scratch *sc, uint64_t *decls);

/* The committer thread: commits handed tables in order, one at a time. */
typedef struct pl_committer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, quit, busy;
    pl_table *pending;       /* handed over, not yet taken */
    int rc;                  /* the first failure; the committer takes nothing after it */
    tq_diag diag;            /* why (table and key) */
    replay_run run;          /* a copy of the pass's run, with the committer's txn */
    tq_replay_stats st;      /* the counters of the batch being committed */
    tq_replay_stats committed;   /* as of the last commit (replay_run.committed) */
    uint64_t commits;
    uint64_t max_key;        /* greatest decl_no in the store (as committed) */
    uint64_t decl_cap;       /* replay_run.decl_cap as the last commit set it */
    uint8_t jid[TQ_JOURNAL_ID_LEN];
    const pl_table *tab;     /* being flushed */
    pl_flush_scratch sc;
    double cpu;              /* the thread's CPU seconds, when it has ended */
} pl_committer;

/* pl_committer_start() - start the thread for the pass r (whose write transaction the
 * caller has ended: the committer begins one per batch).  max_key: the greatest stored
 * decl_no.  @return TQ_OK or TQ_ERR_NOMEM (nothing started). */
TQ_MUST_USE int pl_committer_start(pl_committer *w, const replay_run *r, uint64_t max_key);
/* pl_committer_wait() - wait until the committer holds no table.  @return its first
 * failure, or TQ_OK.  Between this and the next hand-over, everything handed over is
 * committed and w's max_key, decl_cap, committed and commits may be read. */
TQ_MUST_USE int pl_committer_wait(pl_committer *w);
/* pl_committer_hand() - give tab (mark and counters filled) to the committer, which
 * must be idle (pl_committer_wait).  Threads: the applier. */
void pl_committer_hand(pl_committer *w, pl_table *tab);
/* pl_committer_stop() - wait, stop and join the thread; frees its scratch. */
void pl_committer_stop(pl_committer *w);

#endif
