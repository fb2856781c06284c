/* tq_store.c - the store's record layer: every key and value read from LMDB passes here.
 *
 * Nothing read from the file is trusted.  Every key is checked against its table's
 * format and every value's seal (STORE.md §2: the low 32 bits of an XXH3-64 over the
 * table id, the key and the value) before a decoder sees it, so a flipped byte, a value
 * cut short, or a key flipped into another well-formed key is TQ_ERR_DBCORRUPT with a
 * fault naming the table and the key -- never data, and never mistaken for a damaged
 * journal (TQ_ERR_CORRUPT).  A put writes the value and its seal straight into LMDB's
 * page (MDB_RESERVE), so sealing costs one hash and no copy.
 *
 * Transactions.  LMDB can change the map size only while this process has no live
 * transaction: mdb_env_set_mapsize() unmaps the old mapping under any reader.  The
 * store therefore counts live transactions under a mutex; a remap (tq_store_grow(), or
 * adopting a size another process committed after MDB_MAP_RESIZED) happens under that
 * mutex and only at count zero, and read transactions begin under it, so none can start
 * halfway through a remap.  Write transactions begin outside it, because LMDB may block
 * there on its writer mutex, which would stall every reader behind us.
 */
#include "tq_store_int.h"

#include "tq_lmdb_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

const char *const tq__db_name[DB_COUNT] = {
    "meta", "receipts", "cover", "permits", "usage", "decls", "journals", "gaps", "ledger",
    "by_office", "by_taxid", "by_permit", "changes", "held", "era_taxid", "era_permit"
};

int tq__db_in(int db, int version)
{
    static const int end[] = {0, TQ__DB_V1, TQ__DB_V2, TQ__DB_V3, TQ__DB_V4, DB_COUNT};
    if (version < 1 || version > 5 || db < 0 || db >= end[version])
        return 0;
    return version < 5 || (db != DB_BY_TAXID && db != DB_BY_PERMIT);
}

#define TQ__RESIZE_TRIES 3      /* MDB_MAP_RESIZED again right after adopting: give up */

/* ---- errors ---- */


/* LMDB returns errno values for system failures and its own negative codes otherwise.
 * A damaged file and a failing disk stay apart: an operator restores the backup for
 * the first and looks at the disk for the second. */
int tq__mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return TQ_OK;
    case MDB_NOTFOUND:
        return TQ_ERR_NOTFOUND;
    case MDB_MAP_FULL:
        return TQ_ERR_MAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_BAD_VALSIZE:       /* a stored key or value LMDB itself cannot handle */
    case MDB_INCOMPATIBLE:      /* a named table whose flags are not ours */
        return TQ_ERR_DBCORRUPT;
    case MDB_VERSION_MISMATCH:
        return TQ_ERR_VERSION;
    case MDB_TXN_FULL:
        return TQ_ERR_LIMIT;
    case EINVAL:                /* a misuse of LMDB, not a failing disk */
        return TQ_ERR_STORE;
    }
    return rc > 0 ? tq_errno(rc) : TQ_ERR_STORE;
}

/* Two's complement back from the unsigned image, without the implementation-defined
 * conversion of an out-of-range value. */
int32_t tq__i32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) + INT32_MIN;
}

void tq__u64x4_put(uint8_t buf[TQ__U64X4_LEN], uint64_t a, uint64_t b, uint64_t c,
                   uint64_t d)
{
    buf = tq_le_put64(buf, a);
    buf = tq_le_put64(buf, b);
    buf = tq_le_put64(buf, c);
    tq_le_put64(buf, d);
}

const char *tq__u64x4_get(const MDB_val *v, uint64_t *a, uint64_t *b, uint64_t *c,
                          uint64_t *d)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != TQ__U64X4_LEN)
        return "value is not 32 bytes";
    *a = tq_le_get64(p);
    *b = tq_le_get64(p + 8);
    *c = tq_le_get64(p + 16);
    *d = tq_le_get64(p + 24);
    return NULL;
}

/* ---- seals and keys ---- */

/* The key's hash seeds the value's, so the seal covers (table, key, value) with two
 * short hashes and no buffer. */
uint32_t tq__seal(int db, const MDB_val *k, const void *v, size_t n)
{
    XXH64_hash_t seed = XXH3_64bits_withSeed(k->mv_data, k->mv_size, (XXH64_hash_t)db);
    return (uint32_t)XXH3_64bits_withSeed(v, n, seed);
}

static int tq__name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '/' || c == '_' || c == '-';
}

/* by_office: 4 bytes of office ([0-9A-Z], or 4 zeros: none), then the state. */
static const char *tq__office_key_bad(const unsigned char *b, size_t n)
{
    if (n != TQ__OFFICE_KEY || b[4] > TQ_STATE_CANCELLED)
        return "key is not an office (4 bytes) and a state (0..4)";
    if (memcmp(b, "\0\0\0\0", 4) == 0)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (!((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'A' && b[i] <= 'Z')))
            return "key's office is not 4 of [0-9A-Z]";
    return NULL;
}

const char *tq__key_bad(int db, const MDB_val *k)
{
    const unsigned char *b = k->mv_data;
    size_t n = k->mv_size;
    switch (db) {
    case DB_META:
        return n == 7 && (memcmp(b, "version", 7) == 0 || memcmp(b, "created", 7) == 0 ||
                          memcmp(b, "upgrade", 7) == 0)
                   ? NULL
                   : "not a key of this table";
    case DB_RECEIPTS:
    case DB_PERMITS:
    case DB_USAGE:
        if (n < 1 || n > TQ_PERMIT_MAX)
            return "key is not 1..32 bytes";
        for (size_t i = 0; i < n; i++)
            if (!tq__name_char(b[i]))
                return "key has a byte outside [A-Za-z0-9./_-]";
        return NULL;
    case DB_COVER:
    case DB_DECLS:
        if (n != TQ_DECL_NO_LEN || b[0] == '0')
            return "key is not 12 digits, the first not 0";
        for (size_t i = 0; i < n; i++)
            if (b[i] < '0' || b[i] > '9')
                return "key is not 12 digits, the first not 0";
        return NULL;
    case DB_JOURNALS:
        return n == TQ_JOURNAL_ID_LEN ? NULL : "key is not a 16-byte journal id";
    case DB_GAPS:
        return n == TQ_JOURNAL_ID_LEN + 8 ? NULL : "key is not 24 bytes (journal id, seq)";
    case DB_LEDGER:
        return n == 32 ? NULL : "key is not a 32-byte SHA-256";
    case DB_BY_OFFICE:
        return tq__office_key_bad(b, n);
    case DB_BY_TAXID:
        return n >= 1 && n <= TQ_TAXID_MAX && memchr(b, 0, n) == NULL
                   ? NULL
                   : "key is not 1..13 bytes without NUL";
    case DB_BY_PERMIT:
        return tq__key_bad(DB_PERMITS, k);
    case DB_ERA_TAXID:
    case DB_ERA_PERMIT: {
        MDB_val rest = {n - TQ__ERA_LEN, (void *)(b + TQ__ERA_LEN)};
        if (n <= TQ__ERA_LEN || b[0] == '0')
            return "key is not an era (7 digits, the first not 0) and a name";
        for (size_t i = 0; i < TQ__ERA_LEN; i++)
            if (b[i] < '0' || b[i] > '9')
                return "key is not an era (7 digits, the first not 0) and a name";
        return tq__key_bad(db == DB_ERA_TAXID ? DB_BY_TAXID : DB_BY_PERMIT, &rest);
    }
    case DB_CHANGES:
        return n == 8 && memcmp(b, "\0\0\0\0\0\0\0\0", 8) != 0
                   ? NULL
                   : "key is not a change number (8 bytes, not 0)";
    case DB_HELD:
        return tq__held_key_bad(b, n);
    }
    return "unknown table";
}

const char *tq__unseal(const tq_store *s, int db, const MDB_val *k, MDB_val *v)
{
    const char *bad = tq__key_bad(db, k);
    if (bad != NULL)
        return bad;
    if (tq__is_index(db))
        return tq__index_entry_bad(v);  /* a pointer, checked where it is followed */
    if (!s->sealed)
        return NULL;
    if (v->mv_size < TQ__SEAL_LEN)
        return "value shorter than its seal";
    size_t n = v->mv_size - TQ__SEAL_LEN;
    if (tq_le_get32((const uint8_t *)v->mv_data + n) != tq__seal(db, k, v->mv_data, n))
        return "seal mismatch (the key or the value was changed)";
    v->mv_size = n;
    return NULL;
}

/* ---- faults ---- */

static int tq__key_is_text(int db)
{
    return db != DB_JOURNALS && db != DB_GAPS && db != DB_LEDGER && db != DB_CHANGES;
}

void tq__describe(int db, const uint8_t *key, size_t klen, const char *what, char *out,
                  size_t cap)
{
    char q[2 * TQ__KEY_MAX + 8];
    size_t kept = klen < TQ__KEY_MAX ? klen : TQ__KEY_MAX;
    if (tq__key_is_text(db)) {
        tq_diag_quote((const char *)key, kept, q, sizeof q);
    } else {
        for (size_t i = 0; i < kept; i++)
            snprintf(q + 2 * i, 3, "%02x", key[i]);
        q[2 * kept] = '\0';
    }
    snprintf(out, cap, "table '%s', key '%s'%s: %s",
             db >= 0 && db < DB_COUNT ? tq__db_name[db] : "?", q, klen > kept ? "..." : "",
             what);
}

int tq__fault(tq_txn *t, int db, const MDB_val *k, const char *fmt, ...)
{
    if (t->fault_db >= 0)
        return TQ_ERR_DBCORRUPT;        /* the first fault is the one to report */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->fault_what, sizeof t->fault_what, fmt, ap);
    va_end(ap);
    t->fault_db = db;
    t->fault_klen = k ? k->mv_size : 0;
    if (k)
        memcpy(t->fault_key, k->mv_data, k->mv_size < TQ__KEY_MAX ? k->mv_size : TQ__KEY_MAX);
    return TQ_ERR_DBCORRUPT;
}

void tq_txn_fault(const tq_txn *t, tq_diag *d)
{
    if (d == NULL)
        return;
    memset(d, 0, sizeof *d);
    snprintf(d->field, sizeof d->field, "(database)");
    if (t == NULL || t->fault_db < 0) {
        snprintf(d->why, sizeof d->why, "no damage recorded in this transaction");
        return;
    }
    tq__describe(t->fault_db, t->fault_key, t->fault_klen, t->fault_what, d->why,
                 sizeof d->why);
}

/* ---- get / put / walk ---- */

int tq__get(tq_txn *t, int db, MDB_val *k, MDB_val *v)
{
    return tq__get_at(t, NULL, db, k, v);
}

int tq__get_at(tq_txn *t, MDB_cursor *c, int db, MDB_val *k, MDB_val *v)
{
    int rc = c ? mdb_cursor_get(c, k, v, MDB_SET_KEY) : mdb_get(t->txn, t->s->dbi[db], k, v);
    if (rc != MDB_SUCCESS)
        return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
                   ? tq__fault(t, db, k, "LMDB: %s", mdb_strerror(rc))
                   : tq__mdb(rc);
    const char *bad = tq__unseal(t->s, db, k, v);
    return bad ? tq__fault(t, db, k, "%s", bad) : TQ_OK;
}

/* A failed mdb_put leaves the LMDB transaction unusable; remember why, so that later
 * puts and the commit the caller may try anyway report the real cause rather than
 * MDB_BAD_TXN. */
int tq__put(tq_txn *t, int db, const MDB_val *k, const void *v, size_t n, unsigned flags)
{
    return tq__put_at(t, NULL, db, k, v, n, flags);
}

int tq__put_at(tq_txn *t, MDB_cursor *c, int db, const MDB_val *k, const void *v, size_t n,
               unsigned flags)
{
    if (t->rdonly)
        return TQ_ERR_STORE;
    if (t->failed != TQ_OK)
        return t->failed;
    size_t extra = t->s->sealed ? TQ__SEAL_LEN : 0;
    MDB_val key = *k, val = {n + extra, NULL};
    int rc = c ? mdb_cursor_put(c, &key, &val, flags | MDB_RESERVE)
               : mdb_put(t->txn, t->s->dbi[db], &key, &val, flags | MDB_RESERVE);
    if (rc == MDB_KEYEXIST)
        return 1;
    if (rc != MDB_SUCCESS) {
        t->failed = tq__mdb(rc);
        return t->failed;
    }
    if (n)
        memcpy(val.mv_data, v, n);
    if (extra)
        tq_le_put32((uint8_t *)val.mv_data + n, tq__seal(db, k, v, n));
    return TQ_OK;
}

int tq__del(tq_txn *t, int db, const MDB_val *k)
{
    if (t->rdonly)
        return TQ_ERR_STORE;
    if (t->failed != TQ_OK)
        return t->failed;
    MDB_val key = *k;
    int rc = mdb_del(t->txn, t->s->dbi[db], &key, NULL);
    if (rc == MDB_NOTFOUND)
        return TQ_ERR_NOTFOUND;
    if (rc != MDB_SUCCESS)
        t->failed = tq__mdb(rc);
    return t->failed;
}

/* ---- transactions ---- */

/* Another process grew the map past ours (MDB_MAP_RESIZED): map the size it committed.
 * The caller holds s->mu. */
static int tq__adopt_mapsize(tq_store *s)
{
    if (s->live != 0)
        return TQ_ERR_STORE;    /* remapping now would pull pages from under a reader */
    /* The file must hold every page its newest meta names before LMDB maps and reads
     * them: a file cut short under us would otherwise be a SIGBUS, not an error. */
    int rc = tq_lmdb_check_file(s->data_path, TQ_LMDB_CHECK_META, 1, NULL, NULL, NULL, NULL);
    if (rc != TQ_OK)
        return rc == TQ_ERR_NOTFOUND ? TQ_ERR_DBCORRUPT : rc;
    return tq__mdb(mdb_env_set_mapsize(s->env, 0));
}

int tq_txn_begin(tq_store *s, int rdonly, tq_txn **out)
{
    int err = TQ_OK;
    *out = NULL;
    if (!rdonly && s->rdonly)
        return TQ_ERR_STORE;
    tq_txn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return TQ_ERR_NOMEM;
    t->s = s;
    t->rdonly = rdonly != 0;
    t->fault_db = -1;
    for (int tries = 0;; tries++) {
        if (t->rdonly)
            pthread_mutex_lock(&s->mu);
        int rc = mdb_txn_begin(s->env, NULL, t->rdonly ? MDB_RDONLY : 0, &t->txn);
        if (!t->rdonly)
            pthread_mutex_lock(&s->mu);
        if (rc == MDB_SUCCESS) {
            s->live++;
            t->live = 1;
            pthread_mutex_unlock(&s->mu);
            *out = t;
            return TQ_OK;
        }
        err = rc == MDB_MAP_RESIZED && tries < TQ__RESIZE_TRIES ? tq__adopt_mapsize(s)
                                                                : tq__mdb(rc);
        pthread_mutex_unlock(&s->mu);
        if (err != TQ_OK)
            break;
    }
    free(t);
    return err;
}

/* tq__txn_cursors_end() - before the LMDB transaction ends or is reset: a reader's
 * kept cursor is closed (LMDB frees a writer's with the transaction). */
static void tq__txn_cursors_end(tq_txn *t)
{
    if (t->coverc != NULL && t->rdonly)
        mdb_cursor_close(t->coverc);
    t->coverc = NULL;
}

static void tq__txn_free(tq_txn *t)
{
    if (t->live) {
        pthread_mutex_lock(&t->s->mu);
        t->s->live--;
        pthread_mutex_unlock(&t->s->mu);
    }
    free(t->scratch);
    free(t->ixq);
    free(t->ixpend);
    free(t);
}

/* tq__disk_full() - whether the filesystem of the data file is (nearly) out of space.
 * LMDB reports a short write as EIO ("short write, filesystem full?"), and a full disk
 * gives exactly that: write() stores what fits and returns the count.  So an EIO at
 * commit on a filesystem with less free space than one commit's write (64 pages, the
 * most LMDB writes at once) is a full disk, which the operator fixes by freeing space,
 * not by checking the hardware. */
static int tq__disk_full(tq_store *s)
{
    int fd;
    struct statvfs sv;
    if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstatvfs(fd, &sv) != 0)
        return 0;
    uint64_t blocks = geteuid() == 0 ? (uint64_t)sv.f_bfree : (uint64_t)sv.f_bavail;
    long page = sysconf(_SC_PAGESIZE);
    return blocks * (uint64_t)sv.f_frsize < 64u * (uint64_t)(page > 0 ? page : 4096);
}

int tq_txn_commit(tq_txn *t)
{
    int rc;
    if (t == NULL)
        return TQ_ERR_STORE;
    tq__txn_cursors_end(t);
    int sync = t->rdonly || t->failed != TQ_OK ? TQ_OK : tq__index_sync(t);
    if (sync != TQ_OK) {
        mdb_txn_abort(t->txn);
        rc = sync;
    } else if (t->rdonly || t->failed != TQ_OK) {
        /* A reader has nothing to write (its DBI handles were opened at store open),
         * and a write transaction with a failed put is dead. */
        mdb_txn_abort(t->txn);
        rc = t->failed;
    } else {
        int mrc = mdb_txn_commit(t->txn);       /* frees the LMDB txn, even on error */
        rc = tq__mdb(mrc);
        if (mrc == EIO && tq__disk_full(t->s))
            rc = TQ_ERR_FULL;
    }
    tq__txn_free(t);
    return rc;
}

int tq__txn_finish(tq_txn *t, int rc, tq_diag *d, int (*commit)(tq_txn *t))
{
    if (rc == TQ_ERR_DBCORRUPT)
        tq_txn_fault(t, d);
    if (rc != TQ_OK) {
        tq_txn_abort(t);
        return rc;
    }
    return commit(t);
}

int tq__txn_commit_handles(tq_txn *t)
{
    tq__txn_cursors_end(t);
    int rc = t->failed != TQ_OK ? t->failed : tq__mdb(mdb_txn_commit(t->txn));
    if (t->failed != TQ_OK)
        mdb_txn_abort(t->txn);
    tq__txn_free(t);
    return rc;
}

void tq_txn_abort(tq_txn *t)
{
    if (t == NULL)
        return;
    tq__txn_cursors_end(t);
    mdb_txn_abort(t->txn);
    tq__txn_free(t);
}

void tq_txn_reset(tq_txn *t)
{
    if (t == NULL || !t->rdonly || !t->live)
        return;
    tq__txn_cursors_end(t);
    mdb_txn_reset(t->txn);
    pthread_mutex_lock(&t->s->mu);
    t->s->live--;
    pthread_mutex_unlock(&t->s->mu);
    t->live = 0;
}

uint64_t tq_txn_snapshot(const tq_txn *t)
{
    return (uint64_t)mdb_txn_id(t->txn);
}

int tq_txn_renew(tq_txn *t)
{
    int err;
    if (!t->rdonly)
        return TQ_ERR_STORE;
    if (t->live)
        return TQ_OK;
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&t->s->mu);
        int rc = mdb_txn_renew(t->txn);
        if (rc == MDB_SUCCESS) {
            t->s->live++;
            t->live = 1;
            pthread_mutex_unlock(&t->s->mu);
            return TQ_OK;
        }
        err = rc == MDB_MAP_RESIZED && tries < TQ__RESIZE_TRIES ? tq__adopt_mapsize(t->s)
                                                                : tq__mdb(rc);
        pthread_mutex_unlock(&t->s->mu);
        if (err != TQ_OK)
            return err;
    }
}

int tq_store_grow(tq_store *s)
{
    MDB_envinfo info;
    size_t cur;
    int err = TQ_ERR_STORE;
    pthread_mutex_lock(&s->mu);
    if (s->live != 0)
        goto out;
    mdb_env_info(s->env, &info);
    cur = info.me_mapsize;
    /* Adopt what another process may have committed, then double the larger size. */
    err = tq__mdb(mdb_env_set_mapsize(s->env, 0));
    if (err != TQ_OK)
        goto out;
    mdb_env_info(s->env, &info);
    if (info.me_mapsize > cur)
        cur = info.me_mapsize;
    if (cur > SIZE_MAX / 2) {
        err = TQ_ERR_FULL;
        goto out;
    }
    err = tq__mdb(mdb_env_set_mapsize(s->env, cur * 2));
out:
    pthread_mutex_unlock(&s->mu);
    return err;
}

const char *tq_store_dir(const tq_store *s)
{
    return s->dir;
}
