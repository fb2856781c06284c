/* tq_store_log.c - the store's two logs: the gaps --skip-corrupt passed over, and the
 * ledger of files the nightly job loaded.  Layouts in engine/STORE.md §3.8 and §3.9.
 *
 * A version 1 database has neither table.  Writers upgrade it before use; a reader of
 * an old database sees both logs empty.
 */
#include "tq_store_int.h"

#include <string.h>

#define TQ__GAP_KEY (TQ_JOURNAL_ID_LEN + 8)
#define TQ__GAP_LEN TQ__U64X4_LEN
#define TQ__LEDGER_HEAD 19          /* kind, outcome, loaded_at, rows, name length */
#define TQ__LEDGER_NAME_MAX 255

/* The seq in a gap key is big-endian, so LMDB's byte order is (id, first) order. */
static void tq__gap_key(uint8_t key[TQ__GAP_KEY], const uint8_t *id, uint64_t first)
{
    memcpy(key, id, TQ_JOURNAL_ID_LEN);
    for (int i = 0; i < 8; i++)
        key[TQ_JOURNAL_ID_LEN + i] = (uint8_t)(first >> (56 - 8 * i));
}

static uint64_t tq__gap_first(const uint8_t *key)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | key[TQ_JOURNAL_ID_LEN + i];
    return v;
}

static const char *tq__gap_decode(const MDB_val *v, tq_gap *g)
{
    const char *bad = tq__u64x4_get(v, &g->last, &g->frame, &g->checksum, &g->skipped_at);
    return bad ? bad : g->first == 0 || g->last < g->first ? "seq range is empty or starts at 0" : NULL;
}

int tq_store_put_gap(tq_txn *t, const tq_gap *g)
{
    uint8_t key[TQ__GAP_KEY], buf[TQ__GAP_LEN];
    MDB_val k = {sizeof key, key};
    if (g->first == 0 || g->last < g->first)
        return TQ_ERR_INPUT;
    if (!t->s->has_log)
        return TQ_ERR_STORE;
    tq__gap_key(key, g->id, g->first);
    tq__u64x4_put(buf, g->last, g->frame, g->checksum, g->skipped_at);
    return tq__put(t, DB_GAPS, &k, buf, sizeof buf, 0);
}

int tq_store_del_gap(tq_txn *t, const uint8_t id[TQ_JOURNAL_ID_LEN], uint64_t first)
{
    uint8_t key[TQ__GAP_KEY];
    MDB_val k = {sizeof key, key};
    if (!t->s->has_log)
        return t->rdonly ? TQ_ERR_STORE : TQ_ERR_NOTFOUND;
    tq__gap_key(key, id, first);
    return tq__del(t, DB_GAPS, &k);
}

/* A record of gaps: the journal and the first seq are the key. */
static const char *tq__gap_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_gap *g = item;
    memcpy(g->id, k->mv_data, TQ_JOURNAL_ID_LEN);
    g->first = tq__gap_first(k->mv_data);
    return tq__gap_decode(v, g);
}

int tq_store_each_gap(tq_txn *t, const uint8_t *id, int (*fn)(void *ctx, const tq_gap *g),
                      void *ctx)
{
    uint8_t key[TQ__GAP_KEY];
    MDB_val from = {sizeof key, key};
    tq_gap g;
    tq__walk w = {DB_GAPS, tq__gap_kv, &g, sizeof g, {.gap = fn}, ctx};
    if (!t->s->has_log)
        return TQ_OK;
    if (id == NULL)
        return tq__walk_run(t, &w, NULL, 0);
    tq__gap_key(key, id, 0);
    return tq__walk_run(t, &w, &from, TQ_JOURNAL_ID_LEN);
}

/* ---- the ledger ---- */

static const char *tq__ledger_decode(const MDB_val *v, tq_ledger_entry *e)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < TQ__LEDGER_HEAD)
        return "value shorter than its header";
    size_t n = b[18];
    if (v->mv_size != TQ__LEDGER_HEAD + n)
        return "name length does not match the value's";
    if (b[0] < 1 || b[0] > 2 || b[1] > 1)
        return "kind or outcome out of range";
    if (memchr(b + TQ__LEDGER_HEAD, 0, n) != NULL)
        return "name holds a NUL byte";
    e->kind = b[0];
    e->outcome = b[1];
    e->loaded_at = tq_le_get64(b + 2);
    e->rows = tq_le_get64(b + 10);
    memcpy(e->name, b + TQ__LEDGER_HEAD, n);
    e->name[n] = '\0';
    return NULL;
}

int tq_store_get_ledger(tq_txn *t, const uint8_t sha256[32], tq_ledger_entry *out)
{
    MDB_val k = {32, (void *)sha256}, v;
    tq_ledger_entry e;
    if (!t->s->has_log)
        return TQ_ERR_NOTFOUND;
    int rc = tq__get(t, DB_LEDGER, &k, &v);
    if (rc != TQ_OK)
        return rc;
    memset(&e, 0, sizeof e);
    memcpy(e.sha256, sha256, 32);
    const char *bad = tq__ledger_decode(&v, &e);
    if (bad)
        return tq__fault(t, DB_LEDGER, &k, "%s", bad);
    *out = e;
    return TQ_OK;
}

int tq_store_put_ledger(tq_txn *t, const tq_ledger_entry *e)
{
    uint8_t buf[TQ__LEDGER_HEAD + TQ__LEDGER_NAME_MAX];
    MDB_val k = {32, (void *)e->sha256};
    size_t n = strnlen(e->name, sizeof e->name);
    if (n > TQ__LEDGER_NAME_MAX || e->kind < 1 || e->kind > 2 || e->outcome > 1)
        return TQ_ERR_INPUT;
    if (!t->s->has_log)
        return TQ_ERR_STORE;
    buf[0] = e->kind;
    buf[1] = e->outcome;
    tq_le_put64(buf + 2, e->loaded_at);
    tq_le_put64(buf + 10, e->rows);
    buf[18] = (uint8_t)n;
    memcpy(buf + TQ__LEDGER_HEAD, e->name, n);
    return tq__put(t, DB_LEDGER, &k, buf, TQ__LEDGER_HEAD + n, 0);
}

/* A record of the ledger: the file's sha256 is the key. */
static const char *tq__ledger_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_ledger_entry *e = item;
    memcpy(e->sha256, k->mv_data, 32);
    return tq__ledger_decode(v, e);
}

int tq_store_each_ledger(tq_txn *t, int (*fn)(void *ctx, const tq_ledger_entry *e),
                         void *ctx)
{
    tq_ledger_entry e;
    tq__walk w = {DB_LEDGER, tq__ledger_kv, &e, sizeof e, {.ledger = fn}, ctx};
    return t->s->has_log ? tq__walk_run(t, &w, NULL, 0) : TQ_OK;
}

const char *tq__log_value_bad(int db, const MDB_val *k, const MDB_val *v)
{
    tq_gap g;
    tq_ledger_entry e;
    if (db == DB_GAPS) {
        g.first = tq__gap_first(k->mv_data);
        return tq__gap_decode(v, &g);
    }
    if (db == DB_LEDGER)
        return tq__ledger_decode(v, &e);
    return "unknown table";
}
