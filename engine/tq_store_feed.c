/* tq_store_feed.c - the change feed of format 3 (STORE.md §3.11): table `changes`,
 * change number -> one change of a declaration's decision.
 *
 * DESIGN.  The number is the key, as a big-endian u64, so LMDB's byte order is number
 * order and a new change is always the last key: it is written with MDB_APPEND (no
 * search), and the counter is the last key itself.  The feed is never pruned, so the
 * last key is the greatest number ever given and a number is never reused; a
 * transaction that aborts takes its numbers with it, so the next commit reuses them and
 * the committed feed has no gap.  Each write transaction looks the last key up once and
 * counts on from there.
 */
#include "tq_store_int.h"

#include <string.h>

#define TQ__CHANGE_LEN (TQ_DECL_NO_LEN + 3 + 4 + 4 + TQ_JOURNAL_ID_LEN + 8)

static void tq__change_key(uint8_t key[8], uint64_t no)
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(no >> (56 - 8 * i));
}

static uint64_t tq__change_no(const uint8_t *key)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | key[i];
    return v;
}

static int tq__change_ok(const tq_change *c)
{
    MDB_val k = {strnlen(c->decl_no, TQ_DECL_NO_LEN + 1), (void *)c->decl_no};
    return tq__key_bad(DB_DECLS, &k) == NULL && c->state >= TQ_STATE_CLEARED &&
           c->state <= TQ_STATE_CANCELLED && c->manual <= 1 &&
           c->cause >= TQ_CHANGE_EVENT && c->cause <= TQ_CHANGE_UPGRADE &&
           c->reasons < 1u << TQ_REASON_COUNT;
}

/* Decodes into c (no set by the caller).  @return NULL, or what is wrong. */
static const char *tq__change_decode(const MDB_val *v, tq_change *c)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size != TQ__CHANGE_LEN)
        return "value is not 47 bytes";
    memcpy(c->decl_no, b, TQ_DECL_NO_LEN);
    c->decl_no[TQ_DECL_NO_LEN] = '\0';
    c->state = b[12];
    c->manual = b[13];
    c->cause = b[14];
    c->reasons = tq_le_get32(b + 15);
    c->version = tq_le_get32(b + 19);
    memcpy(c->src_id, b + 23, TQ_JOURNAL_ID_LEN);
    c->src_seq = tq_le_get64(b + 23 + TQ_JOURNAL_ID_LEN);
    return tq__change_ok(c) ? NULL : "a field out of range";
}

const char *tq__feed_value_bad(const MDB_val *v)
{
    tq_change c;
    return tq__change_decode(v, &c);
}


static int tq__last_change(tq_txn *t, uint64_t *no)
{
    MDB_val k, v;
    if (t->feed_known) {
        *no = t->feed_last;
        return TQ_OK;
    }
    int rc = tq__last(t, DB_CHANGES, &k, &v);
    if (rc == TQ_ERR_NOTFOUND) {
        *no = 0;
    } else if (rc != TQ_OK) {
        return rc;
    } else {
        const char *bad = tq__unseal(t->s, DB_CHANGES, &k, &v);
        if (bad)
            return tq__fault(t, DB_CHANGES, &k, "%s", bad);
        *no = tq__change_no(k.mv_data);
    }
    if (!t->rdonly) {       /* a reader's snapshot may be renewed: no cache */
        t->feed_last = *no;
        t->feed_known = 1;
    }
    return TQ_OK;
}

int tq_store_last_change(tq_txn *t, uint64_t *no)
{
    return t->s->version < 3 ? TQ_ERR_VERSION : tq__last_change(t, no);
}

/* The upgrade adds changes before the version says 3: the tables exist (has_v3). */
int tq__add_change(tq_txn *t, tq_change *c)
{
    uint8_t key[8], buf[TQ__CHANGE_LEN];
    MDB_val k = {sizeof key, key};
    int rc;
    if (!t->s->has_v3)
        return TQ_ERR_VERSION;
    if (!tq__change_ok(c))
        return TQ_ERR_INPUT;
    if (t->rdonly)
        return TQ_ERR_STORE;
    if (!t->feed_known && (rc = tq__last_change(t, &t->feed_last)) != TQ_OK)
        return rc;
    memcpy(buf, c->decl_no, TQ_DECL_NO_LEN);
    buf[12] = c->state;
    buf[13] = c->manual;
    buf[14] = c->cause;
    tq_le_put32(buf + 15, c->reasons);
    tq_le_put32(buf + 19, c->version);
    memcpy(buf + 23, c->src_id, TQ_JOURNAL_ID_LEN);
    tq_le_put64(buf + 23 + TQ_JOURNAL_ID_LEN, c->src_seq);
    tq__change_key(key, t->feed_last + 1);
    if (t->feedc == NULL && mdb_cursor_open(t->txn, t->s->dbi[DB_CHANGES], &t->feedc) != 0)
        t->feedc = NULL;     /* no cursor: put as before */
    rc = tq__put_at(t, t->feedc, DB_CHANGES, &k, buf, sizeof buf, MDB_APPEND);
    if (rc == 1)
        rc = TQ_ERR_STORE;
    if (rc == TQ_OK)
        c->no = ++t->feed_last;
    return rc;
}

int tq_store_add_change(tq_txn *t, tq_change *c)
{
    return t->s->version < 3 ? TQ_ERR_VERSION : tq__add_change(t, c);
}

/* A record of the feed: its number is the key. */
static const char *tq__change_kv(const MDB_val *k, const MDB_val *v, void *item)
{
    tq_change *c = item;
    c->no = tq__change_no(k->mv_data);
    return tq__change_decode(v, c);
}

int tq_store_each_change(tq_txn *t, uint64_t since,
                         int (*fn)(void *ctx, const tq_change *c), void *ctx)
{
    uint8_t key[8];
    MDB_val from = {sizeof key, key};
    tq_change c;
    tq__walk w = {DB_CHANGES, tq__change_kv, &c, sizeof c, {.change = fn}, ctx};
    if (t->s->version < 3)
        return TQ_ERR_VERSION;
    if (since == UINT64_MAX)
        return TQ_OK;
    tq__change_key(key, since + 1);
    return tq__walk_run(t, &w, &from, 0);
}
