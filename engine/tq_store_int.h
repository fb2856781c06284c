/* tq_store_int.h - what the store's files share: the structs, the table ids, and the
 * record layer (sealed get/put/walk with faults).  Not part of the API: only
 * engine/tq_store*.c include it.
 *
 * Files of the store, one job each:
 *   tq_store.c         records: errors, seals, keys, get/put, faults, transactions
 *   tq_store_walk.c    the walks: the one cursor loop, checked and typed layers on it
 *   tq_store_tables.c  the codecs and accessors of the seven v1 tables
 *   tq_store_log.c     the gaps and ledger tables
 *   tq_store_index.c   the secondary indexes (by_office; era_taxid and era_permit, or
 *                      by_taxid and by_permit before format 5)
 *   tq_store_feed.c    the change feed (changes)
 *   tq_store_held.c    the held table (format 4): each held declaration and its cover
 *                      under its office, kept up by every put and every payment
 *   tq_store_upgrade.c the upgrades to 3, 4 and 5, batched and resumable
 *   tq_store_open.c    open/close, layout, version upgrade, marker, writer lock, map
 *   tq_store_verify.c  tq_store_verify(), tq_store_stat() and tq_store_count()
 *   tq_store_backup.c  tq_store_backup()
 */
#ifndef TQ_STORE_INT_H
#define TQ_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "tq_store.h"
#include "../formats/tq_buf.h"

/* Table ids: their order is fixed (the id seeds each value's seal, STORE.md §2). */
enum {
    DB_META, DB_RECEIPTS, DB_COVER, DB_PERMITS, DB_USAGE, DB_DECLS, DB_JOURNALS,
    DB_GAPS, DB_LEDGER, DB_BY_OFFICE, DB_BY_TAXID, DB_BY_PERMIT, DB_CHANGES, DB_HELD,
    DB_ERA_TAXID, DB_ERA_PERMIT, DB_COUNT
};
#define TQ__DB_V1 DB_GAPS       /* version 1 had the tables before this one */
#define TQ__DB_V2 DB_BY_OFFICE  /* version 2 had the tables before this one */
#define TQ__DB_V3 DB_HELD       /* version 3 had the tables before this one */
#define TQ__DB_V4 DB_ERA_TAXID  /* version 4 had the tables before this one; version 5
                                 * has them all but by_taxid and by_permit */
extern const char *const tq__db_name[DB_COUNT];
/* tq__db_in() - whether table db is part of store format version (1..5). */
int tq__db_in(int db, int version);

/* era_taxid and era_permit (format 5) key each entry by its declaration's era, the
 * first TQ__ERA_LEN digits of the decl_no, then the declarant or permit_no (STORE.md
 * §3.10): a run of new declarations, numbered upwards, lands in one or two eras. */
#define TQ__ERA_LEN 7

#define TQ__SEAL_LEN 4          /* bytes of seal after every value of a v2 database */
#define TQ__KEY_MAX 48          /* longest key of any table (gaps: 24, ledger: 32) */
#define TQ__OFFICE_KEY 5        /* by_office: office (4 bytes, zeros for none), state */

struct tq_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    tq_lock lock;               /* DIR/lock; fd -1 for a reader */
    int rdonly;
    int sealed;                 /* values carry a seal (version 2) */
    int has_log;                /* the gaps and ledger tables exist (version 2) */
    int has_v3;                 /* the index and feed tables exist (version 3, or a
                                 * version 2 database a writer is upgrading) */
    int has_held;               /* the held table exists (version 4, or an older
                                 * database a writer is upgrading): kept up */
    int version;                /* the format version in meta (1 .. 5) */
    int db_taxid, db_permit;    /* the declarant and permit indexes the upkeep and the
                                 * walks use: DB_ERA_* from version 5 (or once a
                                 * writer's upgrade built them), else DB_BY_* */
    int check_old;              /* TQ_STORE_CHECK_OLD set at open: put_decl_known()
                                 * compares the caller's old value with the stored one */
    tq_store_upgrade_stats up;  /* what tq_store_open()'s upgrade did */
    pthread_mutex_t mu;         /* guards live and every remap */
    long live;                  /* transactions holding a snapshot */
    char *dir;
    char *data_path;            /* DIR/data.mdb */
};

struct tq_txn {
    tq_store *s;
    MDB_txn *txn;
    unsigned char rdonly;
    unsigned char live;         /* counted in s->live: begun or renewed, not reset */
    int failed;                 /* first LMDB error of a put: the txn is dead */
    uint8_t *scratch;           /* long covers, see tq__cover_add() */
    MDB_cursor *ixc[DB_COUNT];  /* write: the index cursors (tq_store_index.c), by
                                 * table id */
    MDB_cursor *coverc;         /* tq_store_get_cover()'s, kept: a lookup on the page of
                                 * the one before skips LMDB's descent from the root.
                                 * Closed by reset and at the end (a reader's); freed
                                 * with the txn (a writer's) */
    struct tq__ixop *ixq;       /* write: index changes not yet applied */
    uint32_t *ixpend;           /* write: decl_no -> its latest queued office change,
                                 * then the sync's scratch (tq_store_index.c) */
    size_t nixq, ixq_cap;
    size_t nixapp, nixhash;     /* write: queued office changes in each of ixpend's
                                 * two lookups */
    uint32_t ixseq;
    char decl_last[TQ_DECL_NO_LEN]; /* write: the greatest decl_no, once known */
    int decl_last_known;
    uint64_t feed_last;         /* the last change number, once feed_known */
    int feed_known;
    MDB_cursor *feedc;          /* write: the feed's append cursor (freed with the txn) */
    MDB_cursor *declc;          /* write: the appends to decls, while no other put of a
                                 * declaration came between them (tq__decl_put) */
    size_t scratch_cap;
    /* the first fault of this transaction (tq_txn_fault) */
    int fault_db;               /* -1: none */
    uint8_t fault_key[TQ__KEY_MAX];
    size_t fault_klen;          /* the key's full length (only TQ__KEY_MAX kept) */
    char fault_what[160];
};

/* ---- errors ---- */
TQ_MUST_USE int tq__mdb(int rc);            /* LMDB return -> TQ_* */

/* Little-endian integers in values: formats/tq_buf.h's tq_le_* (one home for them). */
int32_t tq__i32(uint32_t u);
/* A value of four little-endian u64, in order (a journal's mark, a gap). */
#define TQ__U64X4_LEN 32
void tq__u64x4_put(uint8_t buf[TQ__U64X4_LEN], uint64_t a, uint64_t b, uint64_t c,
                   uint64_t d);
/* tq__u64x4_get() - the four of value v.  @return NULL, or what is wrong. */
const char *tq__u64x4_get(const MDB_val *v, uint64_t *a, uint64_t *b, uint64_t *c,
                          uint64_t *d);

/* ---- records ---- */

/* tq__seal() - the seal of value v (n bytes, without seal) under key k of table db. */
uint32_t tq__seal(int db, const MDB_val *k, const void *v, size_t n);
/* tq__key_bad() - NULL when k is a well-formed key of table db, else what is wrong. */
const char *tq__key_bad(int db, const MDB_val *k);
/* tq__fault() - record (the first) fault of t and return TQ_ERR_DBCORRUPT. */
TQ_MUST_USE int tq__fault(tq_txn *t, int db, const MDB_val *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* tq__describe() - "table 'T', key 'K': what" into out. */
void tq__describe(int db, const uint8_t *key, size_t klen, const char *what, char *out,
                  size_t cap);
/* tq__unseal() - check the key and the seal of a stored record and strip the seal from
 * v.  @return NULL, or what is wrong. */
const char *tq__unseal(const tq_store *s, int db, const MDB_val *k, MDB_val *v);

/* tq__get() - the value of k in db, unsealed.  @return TQ_OK, TQ_ERR_NOTFOUND,
 * TQ_ERR_DBCORRUPT (fault recorded), other store errors. */
TQ_MUST_USE int tq__get(tq_txn *t, int db, MDB_val *k, MDB_val *v);
/* tq__get_at() - tq__get() through cursor c on db (NULL: none), which LMDB lets skip
 * the descent from the root when k is on the page of the cursor's last key. */
TQ_MUST_USE int tq__get_at(tq_txn *t, MDB_cursor *c, int db, MDB_val *k, MDB_val *v);
/* tq__put() - store n bytes of v under k, sealed.  flags: MDB_NOOVERWRITE, MDB_APPEND.
 * @return TQ_OK, 1 (MDB_NOOVERWRITE and k exists), or an error (the txn is then dead). */
TQ_MUST_USE int tq__put(tq_txn *t, int db, const MDB_val *k, const void *v, size_t n, unsigned flags);
/* tq__put_at() - tq__put() through cursor c of db (opened in t): an MDB_APPEND through
 * a cursor that is already at the end does not descend from the root again. */
TQ_MUST_USE int tq__put_at(tq_txn *t, MDB_cursor *c, int db, const MDB_val *k, const void *v,
                           size_t n, unsigned flags);
TQ_MUST_USE int tq__del(tq_txn *t, int db, const MDB_val *k);

/* ---- walks (tq_store_walk.c) ----
 * Every walk visits the records of one table in key order, from the first key at or
 * after `from` (NULL: the first key of the table), while the key begins with the first
 * `under` bytes of from (0: to the end), and stops at and returns the first non-zero
 * result of its callback.  Single-threaded within t; the callback may write through t
 * (the record it was handed is a copy, or checked before any write). */

typedef int (*tq__scan_fn)(void *arg, MDB_val *k, MDB_val *v);
/* tq__scan() - visit the records as stored: values sealed, nothing checked (the walks
 * of verify, which go on past a bad record).  *lmdb (may be NULL) gets the LMDB error
 * that stopped the cursor within the table, 0 when none did.
 * @return TQ_OK at the end, visit's result, or tq__mdb() of the LMDB error
 *         (TQ_ERR_DBCORRUPT for a damaged tree: only *lmdb says it was the cursor's). */
TQ_MUST_USE int tq__scan(tq_txn *t, int db, const MDB_val *from, size_t under,
                         tq__scan_fn visit, void *arg, int *lmdb);

/* tq__last() - the last record of db as stored (value sealed, nothing checked).
 * @return TQ_OK, TQ_ERR_NOTFOUND (the table is empty), store errors. */
TQ_MUST_USE int tq__last(tq_txn *t, int db, MDB_val *k, MDB_val *v);
/* tq__first() - the first record of db (tq__last()'s twin), unchecked. */
TQ_MUST_USE int tq__first(tq_txn *t, int db, MDB_val *k, MDB_val *v);

typedef int (*tq__visit)(void *arg, const MDB_val *k, const MDB_val *v);
/* tq__each() - visit the records with keys checked and values unsealed; a bad record,
 * or a damaged tree, stops the walk with TQ_ERR_DBCORRUPT (fault recorded). */
TQ_MUST_USE int tq__each(tq_txn *t, int db, const MDB_val *from, size_t under,
                         tq__visit visit, void *arg);

/* The callbacks of the tq_store_each_*() walks: the member of a table's record type. */
typedef union tq__walk_fn {
    int (*decl)(void *ctx, const tq_decl *d);                   /* DB_DECLS */
    int (*payment)(void *ctx, const tq_payment *p);             /* DB_RECEIPTS */
    int (*permit)(void *ctx, const tq_permit *p, uint64_t used);/* DB_PERMITS */
    int (*journal)(void *ctx, const tq_journal_mark *m);        /* DB_JOURNALS */
    int (*gap)(void *ctx, const tq_gap *g);                     /* DB_GAPS */
    int (*ledger)(void *ctx, const tq_ledger_entry *e);         /* DB_LEDGER */
    int (*change)(void *ctx, const tq_change *c);               /* DB_CHANGES */
} tq__walk_fn;

/* A typed walk of table db.  decode: what is wrong with the (unsealed) record, or NULL
 * once it has filled *item from key and value; item: the caller's, size bytes, zeroed
 * before each decode.  fn: the member of db's type, called with ctx and item (and, for
 * permits, the permit's use from table usage). */
typedef struct tq__walk {
    int db;
    const char *(*decode)(const MDB_val *k, const MDB_val *v, void *item);
    void *item;
    size_t size;
    tq__walk_fn fn;
    void *ctx;
} tq__walk;
/* tq__walk_run() - tq__each() with each record decoded and handed to w->fn; a record
 * decode calls bad is a fault of that record.
 * @return TQ_OK at the end, fn's first non-zero result, TQ_ERR_DBCORRUPT (fault
 *         recorded), store errors. */
TQ_MUST_USE int tq__walk_run(tq_txn *t, const tq__walk *w, const MDB_val *from,
                             size_t under);

/* tq__txn_finish() - end t: commit it with commit when rc is TQ_OK; else, when rc is
 * TQ_ERR_DBCORRUPT, d gets the damage (tq_txn_fault), t is aborted and rc returned.
 * t is ended either way. */
TQ_MUST_USE int tq__txn_finish(tq_txn *t, int rc, tq_diag *d, int (*commit)(tq_txn *t));
/* tq__txn_commit_handles() - commit t even when read-only: LMDB keeps the DBI handles
 * a transaction opened only when it commits. */
TQ_MUST_USE int tq__txn_commit_handles(tq_txn *t);

/* ---- files (tq_store_open.c) ---- */
/* tq__sys() - d gets "PATH: strerror(e)"; @return the TQ_ERR_* of errno e. */
TQ_MUST_USE int tq__sys(tq_diag *d, const char *path, int e);
/* tq__marker_write() - DIR/thongquan.db, atomically, unless present. */
TQ_MUST_USE int tq__marker_write(const char *dir, tq_diag *d);

/* ---- value checks (tq_store_tables.c, tq_store_log.c), for tq_store_verify ---- */
/* tq__value_bad() - NULL when the (unsealed) value decodes as a get would, else what
 * is wrong. */
const char *tq__value_bad(const tq_store *s, int db, const MDB_val *k, const MDB_val *v);
const char *tq__log_value_bad(int db, const MDB_val *k, const MDB_val *v);

/* ---- index upkeep (tq_store_index.c) ---- */
/* tq__index_move() - move the index entries of decl_no from what the stored value old
 * (unsealed; NULL when there is none, or when it is a format 2 value, which has no
 * entries) names to what the value new names.  Call it before the declaration's put:
 * old may point into a page of decls that the put rewrites.  append: the put is an
 * MDB_APPEND (no old value; decl_no above every stored one).
 * @return TQ_OK, TQ_ERR_DBCORRUPT (old does not decode, or an entry it implies is
 *         missing: fault recorded), store errors. */
TQ_MUST_USE int tq__index_move(tq_txn *t, const MDB_val *k, const MDB_val *old, const MDB_val *nv,
                   int append);
/* tq__index_era_add() - for the upgrade to format 5: queue the era_taxid and era_permit
 * entries of the stored declaration (k, v), as appends (the upgrade walks decls in key
 * order).  A format 2 value has none.  @return TQ_OK, TQ_ERR_DBCORRUPT (v does not
 * decode: fault recorded), store errors. */
TQ_MUST_USE int tq__index_era_add(tq_txn *t, const MDB_val *k, const MDB_val *v);
/* tq__index_sync() - apply the index changes t deferred (sorted, through cursors): before
 * a commit and before anything reads an index in t.  @return TQ_OK or a store error. */
TQ_MUST_USE int tq__index_sync(tq_txn *t);
/* tq__index_entry_bad() - NULL when the (unsealed) index entry value v is a decl_no. */
const char *tq__index_entry_bad(const MDB_val *v);
/* tq__index_check() - for tq_store_verify(): NULL when entry v under key k of index db
 * names a declaration that has that key (or a damaged one, which the walk of decls
 * reports), else what is wrong.  d: scratch. */
const char *tq__index_check(tq_txn *t, int db, const MDB_val *k, const MDB_val *v,
                            tq_decl *d);
/* tq__index_missing() - for tq_store_verify(): NULL when every entry the (unsealed)
 * declaration value dv under dk implies is in its index, else which is missing. */
const char *tq__index_missing(tq_txn *t, const MDB_val *dk, const MDB_val *dv);
/* tq__is_index() - db is one of the index tables (values unsealed, DUPSORT): by_office,
 * era_taxid, era_permit, and before format 5 by_taxid, by_permit. */
TQ_MUST_USE int tq__is_index(int db);

/* ---- the feed (tq_store_feed.c) ---- */
/* tq__add_change() - tq_store_add_change() without the version check: the upgrade
 * seeds the feed before it writes version 3. */
TQ_MUST_USE int tq__add_change(tq_txn *t, tq_change *c);
/* tq__feed_value_bad() - NULL when the (unsealed) value decodes as a change. */
const char *tq__feed_value_bad(const MDB_val *v);

/* ---- the codec of declarations (tq_store_tables.c), for the index and upgrade ---- */
/* tq__decl_keys() - what a stored declaration value is indexed under. */
typedef struct tq__dkeys {
    int v3;                     /* a format 3 value (format 2: office unknown) */
    uint8_t office_key[TQ__OFFICE_KEY];
    const uint8_t *declarant;   /* into the value */
    size_t ndeclarant;
    size_t npermits;            /* distinct, in order of first line */
    const uint8_t *permit[TQ_LINES_MAX];
    uint8_t npermit[TQ_LINES_MAX];
} tq__dkeys;
const char *tq__decl_keys(const MDB_val *v, tq__dkeys *out);
/* tq__decl_decode_v() - decode a stored value (format 2 or 3) into *out, decl_no from
 * k.  @return NULL, or what is wrong. */
const char *tq__decl_decode_v(const MDB_val *k, const MDB_val *v, tq_decl *out);

/* ---- version 1 -> 2 (tq_store_tables.c) ---- */
/* tq__cover_rebuild() - recompute every cover from the receipts (exact sums), in txn. */
TQ_MUST_USE int tq__cover_rebuild(tq_txn *t);

/* ---- the held table (tq_store_held.c) ---- */
#include "tq_store_held.h"

#endif
