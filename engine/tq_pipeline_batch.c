/* tq_pipeline_batch.c - the pipeline's batch table and its committer thread (see
 * tq_pipeline_batch.h for why the applier may run one batch ahead of the commit). */
#include "tq_pipeline_batch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/tq_grow.h"

uint64_t pl_decl_key(const char *decl_no)
{
    uint64_t v = 0;
    for (int i = 0; i < TQ_DECL_NO_LEN; i++)
        v = v * 10 + (uint64_t)(decl_no[i] - '0');
    return v;
}

void pl_key_decl(uint64_t v, char out[TQ_DECL_NO_LEN + 1])
{
    *tq_u64_put_fixed(out, v, TQ_DECL_NO_LEN) = '\0';
}

size_t pl_hash64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

/* ---- the table ------------------------------------------------------------------ */

/* The table is indexed by the key itself while that works: a registry numbers its
 * declarations in increasing order, so a batch's keys land in consecutive slots, one
 * probe each, walking memory in order.  Keys crafted to collide make a probe run long;
 * past PL_PROBE_MAX the table switches to a mixing hash for the rest of the run. */
#define PL_PROBE_MAX 64

/* find_probing() - pl_table_find(), counting the slots it stepped past in *probes. */
static decl_slot *find_probing(const pl_table *tab, uint64_t key, size_t *probes)
{
    size_t m = tab->nslots - 1;
    size_t i = (tab->mixed ? pl_hash64(key) : (size_t)key) & m;
    for (*probes = 0;; i = (i + 1) & m, ++*probes)
        if (tab->slots[i].key == key || tab->slots[i].key == 0)
            return &tab->slots[i];
}

decl_slot *pl_table_find(const pl_table *tab, uint64_t key)
{
    size_t probes;
    return find_probing(tab, key, &probes);
}

/* The compiler may turn malloc() and memset(0) into calloc(), which would undo the
 * point of pl_zalloc(): through this pointer it cannot. */
static void *(*volatile pl_memset)(void *, int, size_t) = memset;

void *pl_zalloc(size_t n)
{
    void *p = malloc(n);
    if (p != NULL)
        pl_memset(p, 0, n);
    return p;
}

static int table_rehash(pl_table *tab, size_t n)
{
    decl_slot *old = tab->slots;
    size_t oldn = tab->nslots;
    tab->slots = pl_zalloc(n * sizeof *tab->slots);
    if (tab->slots == NULL) {
        tab->slots = old;
        return TQ_ERR_NOMEM;
    }
    tab->nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].key)
            *pl_table_find(tab, old[i].key) = old[i];
    free(old);
    return TQ_OK;
}

int pl_table_init(pl_table *tab, size_t nslots)
{
    memset(tab, 0, sizeof *tab);
    return table_rehash(tab, nslots);
}

void pl_table_release(pl_table *tab)
{
    free(tab->slots);
    free(tab->arena);
    free(tab->ch);
    free(tab->uses);
    free(tab->gaps);
    memset(tab, 0, sizeof *tab);
}

/* PL_TABLE_KEEP - slots a table keeps however small its batches. */
#define PL_TABLE_KEEP 4096

void pl_table_clear(pl_table *tab)
{
    /* What a much larger batch once needed is given back (batches shrink as the
     * memory budget tightens on a growing database): the slots halve while a quarter
     * of them would do, and an arena four times larger than its batch goes. */
    int zero = tab->nused != 0;
    if (tab->nslots > PL_TABLE_KEEP && tab->nused && tab->nused * 8 < tab->nslots) {
        decl_slot *s = malloc(tab->nslots / 2 * sizeof *s);
        if (s != NULL) {
            free(tab->slots);
            tab->slots = s;
            tab->nslots /= 2;
            zero = 1;
        }
    }
    if (tab->acap > (1u << 20) && tab->alen < tab->acap / 4) {
        free(tab->arena);
        tab->arena = NULL;
        tab->acap = 0;
    }
    if (zero)
        memset(tab->slots, 0, tab->nslots * sizeof *tab->slots);
    tab->nused = 0;
    tab->kmax = 0;
    tab->alen = 0;
    tab->nch = 0;
    tab->nuses = 0;
    tab->ngaps = 0;
}

/* arena_take() - n bytes at the arena's end; @return their offset, or -1 (*rc set). */
static int64_t arena_take(pl_table *tab, size_t n, int *rc)
{
    if (tab->alen + n > tab->acap) {
        size_t cap = tab->acap ? tab->acap * 2 : 1u << 20;
        while (cap < tab->alen + n)
            cap *= 2;
        *rc = TQ_ERR_LIMIT;
        if (cap > UINT32_MAX)
            return -1;
        uint8_t *b = realloc(tab->arena, cap);
        *rc = TQ_ERR_NOMEM;
        if (b == NULL)
            return -1;
        tab->arena = b;
        tab->acap = cap;
    }
    *rc = TQ_OK;
    tab->alen += n;
    return (int64_t)(tab->alen - n);
}

/* slot_old() - a new slot keeps what the store will hold under its key. */
static int slot_old(pl_table *tab, decl_slot *s, uint32_t old, const uint8_t *obytes,
                    size_t olen)
{
    int rc = TQ_OK;
    s->old = old;
    if (old == OLD_BYTES) {
        int64_t off = arena_take(tab, olen, &rc);
        if (off < 0)
            return rc;
        memcpy(tab->arena + off, obytes, olen);
        s->ooff = (uint32_t)off;
        s->olen = (uint32_t)olen;
    }
    return rc;
}

int pl_table_put(pl_table *tab, uint64_t key, const uint8_t *enc, size_t len, uint32_t old,
                 const uint8_t *obytes, size_t olen)
{
    int rc;
    size_t probes;
    decl_slot *s = find_probing(tab, key, &probes);
    if (probes > PL_PROBE_MAX && !tab->mixed)
        tab->long_runs++;    /* counted by the table's owner only: lookups are reads */
    if (s->key == key && len <= s->cap) {
        memcpy(tab->arena + s->off, enc, len);
        s->len = (uint32_t)len;
        return TQ_OK;
    }
    int moved = 0;
    if ((tab->nused + 1) * 2 > tab->nslots) {
        if ((rc = table_rehash(tab, tab->nslots * 2)) != TQ_OK)
            return rc;
        moved = 1;
    }
    if (tab->long_runs && !tab->mixed) {
        tab->mixed = 1;
        if ((rc = table_rehash(tab, tab->nslots)) != TQ_OK)
            return rc;
        moved = 1;
    }
    if (moved)
        s = pl_table_find(tab, key);
    if (s->key == 0 && (rc = slot_old(tab, s, old, obytes, olen)) != TQ_OK)
        return rc;
    int64_t off = arena_take(tab, len, &rc);
    if (off < 0)
        return rc;
    if (s->key == 0)
        tab->nused++;
    if (key > tab->kmax)
        tab->kmax = key;
    s->key = key;
    s->off = (uint32_t)off;
    s->len = s->cap = (uint32_t)len;
    memcpy(tab->arena + off, enc, len);
    return TQ_OK;
}

int pl_table_note_change(pl_table *tab, const pl_change *c)
{
    if (tq_grow((void **)&tab->ch, &tab->chcap, tab->nch + 1, sizeof *tab->ch, 4096))
        return TQ_ERR_NOMEM;
    tab->ch[tab->nch++] = *c;
    return TQ_OK;
}

int pl_table_note_use(pl_table *tab, const char *name, uint64_t used)
{
    if (tq_grow((void **)&tab->uses, &tab->usecap, tab->nuses + 1, sizeof *tab->uses, 64))
        return TQ_ERR_NOMEM;
    pl_use *u = &tab->uses[tab->nuses++];
    memset(u->name, 0, sizeof u->name);
    memcpy(u->name, name, strnlen(name, TQ_PERMIT_MAX));
    u->used = used;
    return TQ_OK;
}

int pl_table_note_gap(pl_table *tab, const tq_gap *g)
{
    if (tq_grow((void **)&tab->gaps, &tab->gapcap, tab->ngaps + 1, sizeof *tab->gaps, 16))
        return TQ_ERR_NOMEM;
    tab->gaps[tab->ngaps++] = *g;
    return TQ_OK;
}

static int use_cmp(const void *a, const void *b)
{
    return strcmp(((const pl_use *)a)->name, ((const pl_use *)b)->name);
}

void pl_table_sort_uses(pl_table *tab)
{
    if (tab->nuses > 1)
        qsort(tab->uses, tab->nuses, sizeof *tab->uses, use_cmp);
}

const pl_use *pl_table_find_use(const pl_table *tab, const char *name)
{
    pl_use k;
    memset(k.name, 0, sizeof k.name);
    memcpy(k.name, name, strnlen(name, TQ_PERMIT_MAX));
    return tab->nuses ? bsearch(&k, tab->uses, tab->nuses, sizeof k, use_cmp) : NULL;
}

/* ---- the flush ------------------------------------------------------------------ */

/* gather() - the table's declarations into sc->order, in key order. */
static int gather(const pl_table *tab, pl_flush_scratch *sc, size_t *n)
{
    if (tq_grow((void **)&sc->order, &sc->cap, tab->nused + 1, sizeof *sc->order, 4096))
        return TQ_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < tab->nslots && k < tab->nused; i++)
        if (tab->slots[i].key)
            sc->order[k++] = tab->slots[i];
    *n = k;
    _Static_assert(TQ_DECL_NO_LEN == 12, "keys of 12 digits fit in 40 bits");
    _Static_assert(offsetof(decl_slot, key) == 0, "pl_sort_by_key() sorts by the first word");
    /* Indexed by key, the slots are usually in order already. */
    for (size_t i = 1; i < k; i++)
        if (sc->order[i - 1].key > sc->order[i].key) {
            decl_slot *tmp = malloc(k * sizeof *tmp);
            if (tmp == NULL)
                return TQ_ERR_NOMEM;
            pl_sort_by_key(sc->order, tmp, k, sizeof *tmp);
            free(tmp);
            return TQ_OK;
        }
    return TQ_OK;
}

static int flush_decls(const pl_table *tab, tq_txn *t, uint64_t *max_key,
                       pl_flush_scratch *sc, uint64_t *decls)
{
    size_t n = 0;
    int rc = gather(tab, sc, &n);
    for (size_t i = 0; i < n && rc == TQ_OK; i++) {
        char no[TQ_DECL_NO_LEN + 1];
        const decl_slot *s = &sc->order[i];
        pl_key_decl(s->key, no);
        int append = s->key > *max_key;
        if (append || s->old == OLD_UNKNOWN)
            rc = tq_store_put_decl_encoded(t, no, tab->arena + s->off, s->len, append);
        else
            rc = tq_store_put_decl_known(t, no, tab->arena + s->off, s->len,
                                         s->old == OLD_BYTES ? tab->arena + s->ooff : NULL,
                                         s->olen);
        if (append)
            *max_key = s->key;
    }
    *decls = n;
    return rc;
}

/* flush_changes() - the batch's changes to the feed, in the order they happened. */
static int flush_changes(const pl_table *tab, tq_txn *t, const uint8_t *jid)
{
    int rc = TQ_OK;
    for (size_t i = 0; i < tab->nch && rc == TQ_OK; i++) {
        const pl_change *p = &tab->ch[i];
        tq_change c;
        memset(&c, 0, sizeof c);
        pl_key_decl(p->key, c.decl_no);
        c.state = p->state;
        c.manual = p->manual;
        c.cause = TQ_CHANGE_EVENT;
        c.reasons = p->reasons;
        c.version = p->version;
        memcpy(c.src_id, jid, sizeof c.src_id);
        c.src_seq = p->seq;
        rc = tq_store_add_change(t, &c);
    }
    return rc;
}

int pl_table_flush(const pl_table *tab, tq_txn *t, const uint8_t *jid, uint64_t *max_key,
                   pl_flush_scratch *sc, uint64_t *decls)
{
    int rc = flush_decls(tab, t, max_key, sc, decls);
    if (rc == TQ_OK)
        rc = flush_changes(tab, t, jid);
    for (size_t i = 0; i < tab->nuses && rc == TQ_OK; i++)
        rc = tq_store_put_used(t, tab->uses[i].name, tab->uses[i].used);
    for (size_t i = 0; i < tab->ngaps && rc == TQ_OK; i++)
        rc = tq_store_put_gap(t, &tab->gaps[i]);
    return rc;
}

/* ---- the committer -------------------------------------------------------------- */

double pl_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double pl_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* committer_flush() - replay_run.flush of the committer's run: the table it holds. */
static int committer_flush(void *ctx)
{
    pl_committer *w = ctx;
    uint64_t decls = 0;
    int rc = pl_table_flush(w->tab, w->run.t, w->jid, &w->max_key, &w->sc, &decls);
    w->run.flushed_decls = decls;
    return rc;
}

/* commit_table() - one batch: begin, flush, mark, commit (tq__replay_commit_batch, the
 * serial path's own), on the committer's thread. */
static int commit_table(pl_committer *w, const pl_table *tab)
{
    replay_run *r = &w->run;
    int rc = tq__replay_begin_batch(r);
    if (rc != TQ_OK)
        return tq__replay_db_error(r->d, NULL, rc, 0);
    w->tab = tab;
    r->mark = tab->mark;
    w->st = tab->st;
    w->st.commits = w->commits;
    rc = tq__replay_commit_batch(r, 1);
    if (rc != TQ_OK) {
        tq_txn_abort(r->t);      /* NULL after a failed commit */
        r->t = NULL;
        return rc;
    }
    w->commits = w->st.commits;
    w->committed = r->committed;
    w->decl_cap = r->decl_cap;
    return TQ_OK;
}

static void *committer_main(void *arg)
{
    pl_committer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->pending == NULL && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->pending == NULL)
            break;
        const pl_table *tab = w->pending;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        int rc = w->rc == TQ_OK ? commit_table(w, tab) : TQ_OK;
        pthread_mutex_lock(&w->mu);
        if (rc != TQ_OK && w->rc == TQ_OK)
            w->rc = rc;
        w->pending = NULL;
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    w->cpu = pl_thread_cpu();
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int pl_committer_start(pl_committer *w, const replay_run *r, uint64_t max_key)
{
    memset(w, 0, sizeof *w);
    w->run = *r;
    w->run.t = NULL;
    w->run.d = &w->diag;
    w->run.st = &w->st;
    w->run.flush = committer_flush;
    w->run.flush_ctx = w;
    w->committed = r->committed;
    w->commits = r->st->commits;
    w->decl_cap = r->decl_cap;
    w->max_key = max_key;
    memcpy(w->jid, tq_journal_id(r->r), TQ_JOURNAL_ID_LEN);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, committer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return TQ_ERR_NOMEM;
    }
    w->started = 1;
    return TQ_OK;
}

int pl_committer_wait(pl_committer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->pending != NULL || w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void pl_committer_hand(pl_committer *w, pl_table *tab)
{
    pthread_mutex_lock(&w->mu);
    w->pending = tab;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void pl_committer_stop(pl_committer *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->pending != NULL || w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->sc.order);
    w->sc.order = NULL;
    w->sc.cap = 0;
    w->started = 0;
}
