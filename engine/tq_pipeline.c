/* tq_pipeline.c - the multithreaded replay: read, decompress and look up in parallel,
 * decide and apply in journal order on one thread.
 *
 * DESIGN
 *
 * Threads and queues.  One reader thread reads frames (header and compressed bytes)
 * from the journal in file order and numbers them 0, 1, 2, ...  N worker threads each
 * take any read frame, decompress it, check its checksum, decode every record, and look
 * up the cover (PAY total and guarantees) of every event's declaration in a read
 * transaction of their own.  The caller's thread is the applier: it takes the frames
 * strictly in number order, decides every event with the rules and applies it, and
 * commits.  Frames come from a fixed pool of 2N+4 buffers: the reader waits for a free
 * one, so memory is bounded by the pool and the commit batch, never by the journal.
 * One mutex and one condition variable guard the queues; they are touched once per
 * frame (thousands of events), so they are never contended.
 *
 * Why the lookups may run ahead.  Payments and permits change only by `load`, which
 * cannot run during a replay (the writer lock), so a worker's snapshot gives the same
 * cover as the applier's transaction would.  Everything the replay itself changes —
 * declarations and permit use — is read and written by the applier alone.
 *
 * Ordering guarantee.  Events are applied one at a time in journal order through
 * tq_apply_decide(), the same decision path as the serial replay, from the same facts;
 * so the result is identical whatever the thread count (a test compares exports for
 * 0, 1, 2, 4 and 8 threads).
 *
 * The applier's caches.  Declarations changed in the open batch live in a hash table
 * as encoded bytes (the store's own encoding, ~100 bytes each); at commit they are
 * written in ascending key order, with MDB_APPEND past the end of the table, which is
 * where a national registry's increasing declaration numbers put almost every new one.
 * A declaration numbered after every stored one needs no lookup at all.  Permits and
 * their use are cached across batches (permits do not change during a replay); use
 * changed in a batch is written at its commit.  The caches are bounded: the
 * declaration table by the batch, the permit cache by TQ_PERMIT_CACHE_MAX entries.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "tq_replay_int.h"

#define TQ_PERMIT_CACHE_MAX 65536

/* ---- frames and queues ---------------------------------------------------------- */

typedef struct pl_cover {
    tq_u128 pay_total;
    uint32_t goff, ng;       /* guarantees in the frame's g[goff .. goff+ng) */
} pl_cover;

typedef struct pl_frame {
    tq_frame_info info;
    uint64_t order;          /* position in this pass */
    int status;              /* TQ_OK, TQ_ERR_CORRUPT/LIMIT (bad frame), or a store error */
    uint8_t *z, *raw;
    size_t zcap, rawcap;
    pl_cover *cov;           /* one per event */
    size_t covcap;
    tq_guarantee *g;
    size_t gcap, gn;
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
    double cpu_read, cpu_workers;   /* thread CPU seconds, added as threads end */
    unsigned nworkers;
    pthread_t reader;
    pthread_t *workers;
} pipeline;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void frame_free(pl_frame *f)
{
    free(f->z);
    free(f->raw);
    free(f->cov);
    free(f->g);
}

static void *reader_main(void *arg)
{
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
        f->order = p->nread++;
        p->work[(p->whead + p->wcount++) % p->nframes] = f;
        pthread_cond_broadcast(&p->cv);
    }
    p->cpu_read += thread_cpu();
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* prepare_frame() - decompress, verify and decode f, and look up every cover. */
static int prepare_frame(pl_frame *f, tq_txn *t, tq_guarantee **tmpg, size_t *tmpcap)
{
    int rc = tq_journal_frame_decode(&f->info, f->z, &f->raw, &f->rawcap);
    if (rc != TQ_OK)
        return rc;
    if (f->info.count > f->covcap) {
        pl_cover *c = realloc(f->cov, f->info.count * sizeof *c);
        if (c == NULL)
            return TQ_ERR_NOMEM;
        f->cov = c;
        f->covcap = f->info.count;
    }
    f->gn = 0;
    if ((rc = tq_txn_renew(t)) != TQ_OK)
        return rc;
    tq_frame_cursor c;
    static __thread tq_event ev;
    uint32_t i = 0;
    tq_frame_cursor_init(&c, &f->info, f->raw);
    while ((rc = tq_frame_cursor_next(&c, &ev)) == TQ_OK) {
        tq_cover cv;
        if ((rc = tq_store_get_cover(t, ev.decl_no, &cv, tmpg, tmpcap)) != TQ_OK)
            break;
        if (f->gn + cv.nguar > f->gcap) {
            size_t want = (f->gn + cv.nguar) * 2;
            tq_guarantee *g = realloc(f->g, want * sizeof *g);
            if (g == NULL) {
                rc = TQ_ERR_NOMEM;
                break;
            }
            f->g = g;
            f->gcap = want;
        }
        if (cv.nguar)
            memcpy(f->g + f->gn, cv.guar, cv.nguar * sizeof *cv.guar);
        f->cov[i].pay_total = cv.pay_total;
        f->cov[i].goff = (uint32_t)f->gn;
        f->cov[i].ng = cv.nguar;
        f->gn += cv.nguar;
        i++;
    }
    tq_txn_reset(t);
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

static void *worker_main(void *arg)
{
    pipeline *p = arg;
    tq_txn *t = NULL;
    tq_guarantee *tmpg = NULL;
    size_t tmpcap = 0;
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
        f->status = trc != TQ_OK ? trc : prepare_frame(f, t, &tmpg, &tmpcap);
        pthread_mutex_lock(&p->mu);
        p->done[f->order % p->nframes] = f;
        pthread_cond_broadcast(&p->cv);
    }
    p->cpu_workers += thread_cpu();
    pthread_mutex_unlock(&p->mu);
    tq_txn_abort(t);
    free(tmpg);
    return NULL;
}

/* ---- the applier's caches ------------------------------------------------------- */

typedef struct decl_slot {
    uint64_t key;            /* decl_no as a number; 0 = empty */
    uint32_t off, len;       /* encoded bytes in the arena */
} decl_slot;

typedef struct permit_entry {
    char name[TQ_PERMIT_MAX + 1];
    uint8_t dirty;           /* used changed since the last commit */
    tq_permit_fact fact;
} permit_entry;

typedef struct applier {
    replay_run *r;
    /* declarations changed in the open batch */
    decl_slot *slots;
    size_t nslots, nused;    /* nslots is a power of two */
    uint8_t *arena;
    size_t alen, acap;
    uint64_t max_key;        /* greatest decl_no in the store (0: none) */
    int mixed;               /* keys are hashed (after a long probe run) */
    uint64_t long_runs;      /* probe runs over DECL_PROBE_MAX seen while not mixed */
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
} applier;

static uint64_t decl_key(const char *decl_no)
{
    uint64_t v = 0;
    for (int i = 0; i < TQ_DECL_NO_LEN; i++)
        v = v * 10 + (uint64_t)(decl_no[i] - '0');
    return v;
}

static void key_decl(uint64_t v, char out[TQ_DECL_NO_LEN + 1])
{
    for (int i = TQ_DECL_NO_LEN - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[TQ_DECL_NO_LEN] = '\0';
}

static size_t hash64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

/* The table is indexed by the key itself while that works: a registry numbers its
 * declarations in increasing order, so a batch's keys land in consecutive slots, one
 * probe each, walking memory in order.  Keys crafted to collide make a probe run long;
 * past DECL_PROBE_MAX the table switches to a mixing hash for the rest of the run. */
#define DECL_PROBE_MAX 64

static decl_slot *decl_find(applier *a, uint64_t key)
{
    size_t m = a->nslots - 1;
    size_t i = (a->mixed ? hash64(key) : (size_t)key) & m;
    for (size_t probes = 0;; i = (i + 1) & m, probes++) {
        if (a->slots[i].key == key || a->slots[i].key == 0)
            return &a->slots[i];
        if (probes == DECL_PROBE_MAX && !a->mixed)
            a->long_runs++;
    }
}

static int decl_rehash(applier *a, size_t n)
{
    decl_slot *old = a->slots;
    size_t oldn = a->nslots;
    a->slots = calloc(n, sizeof *a->slots);
    if (a->slots == NULL) {
        a->slots = old;
        return TQ_ERR_NOMEM;
    }
    a->nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].key)
            *decl_find(a, old[i].key) = old[i];
    free(old);
    return TQ_OK;
}

static int decl_grow(applier *a)
{
    return decl_rehash(a, a->nslots ? a->nslots * 2 : 4096);
}

/* decl_get() - the declaration as the applier must see it: this batch's version,
 * else the store's (no lookup for a number past every stored one). */
static int decl_get(applier *a, const char *decl_no, tq_decl *out, int *exists)
{
    uint64_t key = decl_key(decl_no);
    decl_slot *s = decl_find(a, key);
    if (s->key) {
        *exists = 1;
        return tq_store_decl_decode(decl_no, a->arena + s->off, s->len, out);
    }
    if (key > a->max_key) {
        *exists = 0;
        return TQ_OK;
    }
    int rc = tq_store_get_decl(a->r->t, decl_no, out);
    *exists = rc == TQ_OK;
    return rc == TQ_ERR_NOTFOUND ? TQ_OK : rc;
}

static int decl_put(applier *a, const tq_decl *d)
{
    size_t len;
    int rc = tq_store_decl_encode(d, a->enc, &len);
    if (rc != TQ_OK)
        return rc;
    if (a->alen + len > a->acap) {
        size_t cap = a->acap ? a->acap * 2 : 1u << 20;
        while (cap < a->alen + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            return TQ_ERR_LIMIT;
        uint8_t *n = realloc(a->arena, cap);
        if (n == NULL)
            return TQ_ERR_NOMEM;
        a->arena = n;
        a->acap = cap;
    }
    if ((a->nused + 1) * 2 > a->nslots && (rc = decl_grow(a)) != TQ_OK)
        return rc;
    if (a->long_runs && !a->mixed) {
        a->mixed = 1;
        if ((rc = decl_rehash(a, a->nslots)) != TQ_OK)
            return rc;
    }
    uint64_t key = decl_key(d->decl_no);
    decl_slot *s = decl_find(a, key);
    if (s->key == 0)
        a->nused++;
    s->key = key;
    s->off = (uint32_t)a->alen;
    s->len = (uint32_t)len;
    memcpy(a->arena + a->alen, a->enc, len);
    a->alen += len;
    return TQ_OK;
}

/* sort_slots() - LSD radix sort on the 40-bit keys, 3 passes of 14 bits: a flush sorts
 * a whole batch, and a comparison sort of 100k entries costs more than all the puts. */
static int sort_slots(decl_slot *v, size_t n)
{
    decl_slot *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL && n)
        return TQ_ERR_NOMEM;
    static __thread size_t count[1u << 14];
    decl_slot *src = v, *dst = tmp;
    for (int pass = 0; pass < 3; pass++) {
        int shift = 14 * pass;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(src[i].key >> shift) & 0x3fff]++;
        size_t sum = 0;
        for (size_t b = 0; b < (1u << 14); b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 0x3fff]++] = src[i];
        decl_slot *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    free(tmp);
    return TQ_OK;
}

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    /* FNV's low bits mix poorly and the table is indexed by them: finish with a
     * full-width mix, or permit numbers that differ in their last digits cluster. */
    return hash64(h);
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
    struct pslot *idx = calloc(n, sizeof *idx);
    if (idx == NULL)
        return TQ_ERR_NOMEM;
    free(a->pidx);
    a->pidx = idx;
    a->npidx = n;
    for (size_t e = 0; e < a->npe; e++)
        permit_slot(a, a->pe[e].name)->idx = (uint32_t)(e + 1);
    return TQ_OK;
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
    if (a->npe == a->pecap) {
        size_t cap = a->pecap ? a->pecap * 2 : 1024;
        permit_entry *pe = realloc(a->pe, cap * sizeof *pe);
        if (pe == NULL)
            return TQ_ERR_NOMEM;
        a->pe = pe;
        a->pecap = cap;
    }
    permit_entry *e = &a->pe[a->npe];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    int rc = tq_store_get_permit(a->r->t, name, &e->fact.permit);
    if (rc == TQ_OK) {
        e->fact.found = 1;
        rc = tq_store_get_used(a->r->t, name, &e->fact.used);
    } else if (rc == TQ_ERR_NOTFOUND) {
        rc = TQ_OK;
    }
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

/* flush() - before a commit: the batch's declarations in key order, then permit use. */
static int flush(void *ctx)
{
    applier *a = ctx;
    int rc = TQ_OK;
    size_t n = 0;
    for (size_t i = 0; i < a->nslots; i++)
        if (a->slots[i].key)
            a->slots[n++] = a->slots[i];
    _Static_assert(TQ_DECL_NO_LEN == 12, "keys of 12 digits fit in 42 bits");
    /* Indexed by key, the slots are usually in order already. */
    size_t unsorted = 0;
    for (size_t i = 1; i < n && !unsorted; i++)
        unsorted = a->slots[i - 1].key > a->slots[i].key;
    if (unsorted)
        rc = sort_slots(a->slots, n);
    for (size_t i = 0; i < n && rc == TQ_OK; i++) {
        char no[TQ_DECL_NO_LEN + 1];
        key_decl(a->slots[i].key, no);
        int append = a->slots[i].key > a->max_key;
        rc = tq_store_put_decl_encoded(a->r->t, no, a->arena + a->slots[i].off,
                                       a->slots[i].len, append);
        if (append)
            a->max_key = a->slots[i].key;
    }
    for (size_t e = 0; e < a->npe && rc == TQ_OK; e++)
        if (a->pe[e].dirty) {
            rc = tq_store_put_used(a->r->t, a->pe[e].name, a->pe[e].fact.used);
            a->pe[e].dirty = 0;
        }
    memset(a->slots, 0, a->nslots * sizeof *a->slots);
    a->nused = 0;
    a->alen = 0;
    if (a->npe > TQ_PERMIT_CACHE_MAX) {
        /* Nothing is dirty now, so dropping the cache loses nothing. */
        a->npe = 0;
        memset(a->pidx, 0, a->npidx * sizeof *a->pidx);
    }
    return rc;
}

/* ---- facts for tq_apply_decide() ----------------------------------------------- */

static int pl_get_cover(void *ctx, const tq_decl *d, tq_cover *out)
{
    applier *a = ctx;
    (void)d; /* always the current event's declaration, whose cover the worker found */
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

static int apply_prepared(applier *a, const pl_frame *f)
{
    tq_frame_cursor c;
    tq_event *ev = &a->ev;
    int rc;
    a->frame = f;
    a->event = 0;
    tq_frame_cursor_init(&c, &f->info, f->raw);
    while ((rc = tq_frame_cursor_next(&c, ev)) == TQ_OK) {
        int exists;
        if ((rc = decl_get(a, ev->decl_no, &a->d, &exists)) != TQ_OK)
            return rc;
        tq_step step = tq_rules_begin(&a->d, exists, ev);
        if (step == TQ_STEP_EVALUATE || step == TQ_STEP_EVALUATE_MANUAL)
            rc = tq_apply_decide(&a->d, step == TQ_STEP_EVALUATE_MANUAL, &pl_ops, a, NULL);
        if (rc == TQ_OK && (step == TQ_STEP_EVALUATE || step == TQ_STEP_EVALUATE_MANUAL ||
                            step == TQ_STEP_DONE))
            rc = decl_put(a, &a->d);
        if (rc != TQ_OK)
            return rc;
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
    pthread_mutex_lock(&p->mu);
    p->free_[p->nfree++] = f;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static int run_applier(pipeline *p, applier *a)
{
    replay_run *r = p->r;
    uint64_t batch_limit = r->o->batch_events ? r->o->batch_events : 100000;
    for (uint64_t order = 0;; order++) {
        if (r->o->stop && *r->o->stop) {
            r->st->interrupted = 1;
            return TQ_OK;
        }
        pl_frame *f = next_frame(p, order);
        if (f == NULL)
            return tq__replay_end_of_frames(r, p->reader_rc, &p->reader_info);
        /* The worker decoded every record already: a frame with status TQ_OK is whole. */
        int rc = f->status;
        if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_LIMIT) {
            rc = tq__replay_corrupt(r, &f->info);
        } else if (rc == TQ_OK) {
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
        if (r->batch >= batch_limit && (rc = tq__replay_commit_batch(r, 0)) != TQ_OK)
            return rc;
    }
}

int tq__pipeline_apply(replay_run *r)
{
    pipeline p;
    applier a;
    memset(&p, 0, sizeof p);
    memset(&a, 0, sizeof a);
    p.r = r;
    a.r = r;
    p.nworkers = r->o->threads;
    p.nframes = 2 * (size_t)p.nworkers + 4;
    int rc = TQ_ERR_NOMEM;
    p.frames = calloc(p.nframes, sizeof *p.frames);
    p.free_ = calloc(p.nframes, sizeof *p.free_);
    p.work = calloc(p.nframes, sizeof *p.work);
    p.done = calloc(p.nframes, sizeof *p.done);
    p.workers = calloc(p.nworkers, sizeof *p.workers);
    /* Size the batch table for the batch, or for the whole journal when that is smaller
     * (about 40 compressed bytes an event), so short replays do not rehash as they go. */
    uint64_t batch = r->o->batch_events ? r->o->batch_events : 100000;
    uint64_t expect = r->file_size / 40 + 1024;
    if (expect > batch)
        expect = batch;
    size_t slots = 4096;
    while (slots < 2 * expect && slots < ((size_t)1 << 24))
        slots *= 2;
    if (!p.frames || !p.free_ || !p.work || !p.done || !p.workers ||
        decl_rehash(&a, slots) != TQ_OK)
        goto out_free;
    for (size_t i = 0; i < p.nframes; i++)
        p.free_[p.nfree++] = &p.frames[i];
    char last[TQ_DECL_NO_LEN + 1];
    rc = tq_store_last_decl(r->t, last);
    if (rc == TQ_OK)
        a.max_key = decl_key(last);
    else if (rc != TQ_ERR_NOTFOUND)
        goto out_free;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    unsigned started = 0;
    int reader_started = pthread_create(&p.reader, NULL, reader_main, &p) == 0;
    rc = reader_started ? TQ_OK : TQ_ERR_NOMEM;
    for (; rc == TQ_OK && started < p.nworkers; started++)
        if (pthread_create(&p.workers[started], NULL, worker_main, &p) != 0)
            rc = TQ_ERR_NOMEM;
    r->flush = flush;
    r->flush_ctx = &a;
    double cpu0 = thread_cpu();
    if (rc == TQ_OK)
        rc = run_applier(&p, &a);
    /* Stop the threads before the final commit: a worker's read transaction must be
     * closed before the map may grow, and nothing more is needed from them. */
    stop_all(&p);
    if (reader_started)
        pthread_join(p.reader, NULL);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p.workers[i], NULL);
    if (rc == TQ_OK || rc == TQ_ERR_CORRUPT) {
        int crc = tq__replay_commit_batch(r, 1);
        if (crc != TQ_OK)
            rc = crc;
    }
    r->flush = NULL;
    r->flush_ctx = NULL;
    r->st->cpu_apply += thread_cpu() - cpu0;
    r->st->cpu_read += p.cpu_read;
    r->st->cpu_workers += p.cpu_workers;
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
out_free:
    if (p.frames)
        for (size_t i = 0; i < p.nframes; i++)
            frame_free(&p.frames[i]);
    free(p.frames);
    free(p.free_);
    free(p.work);
    free(p.done);
    free(p.workers);
    free(a.slots);
    free(a.arena);
    free(a.pe);
    free(a.pidx);
    return rc;
}
