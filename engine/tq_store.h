/* tq_store.h - the LMDB store: payments, permits, permit use, declarations, journals.
 *
 * One LMDB environment per database directory (DIR/data.mdb, DIR/lock.mdb), with
 * named databases:
 *   meta      format version and creation time
 *   receipts  receipt_no -> the payment row (dedup and conflict detection)
 *   cover     decl_no -> the PAY total and guarantees of that declaration
 *   permits   permit_no -> the permit row as last loaded
 *   usage     permit_no -> quantity used (kept apart so a reload keeps it)
 *   decls     decl_no -> the declaration's whole state (tq_decl)
 *   journals  journal id -> last applied seq and a hash of what was applied
 *   gaps      (journal id, first seq) -> a seq range --skip-corrupt passed over
 *   ledger    SHA-256 of a loaded file -> what loading it did
 *   by_office  (office, state) -> decl_no        \  secondary indexes (format 3), kept
 *   era_taxid  (era, declarant) -> decl_no        } by the store itself in every put of
 *   era_permit (era, permit_no) -> decl_no       /  a declaration, in the same txn; the
 *              era is the decl_no's first seven digits (format 5: before it by_taxid and
 *              by_permit, keyed by the name alone)
 *   changes   change number -> one change of a declaration's decision (the feed)
 *   held      (office, decl_no) -> a HELD declaration and its cover (format 4)
 * Keys are the fields' own bytes, so LMDB's order is decl_no / permit_no order and the
 * exports walk a cursor.  Values are encoded byte by byte, little-endian, with no
 * padding, and end in a 32-bit seal (XXH3 of table, key and value); the byte layout is
 * specified in engine/STORE.md.  Every key and every value read is checked (format,
 * seal, decode): damage is TQ_ERR_DBCORRUPT, never data.  The format version is checked
 * on open (TQ_ERR_VERSION on a mismatch); a version 1 or 2 database is read as it is by
 * readers and upgraded in place by the first writer (tq_store_upgrade()).
 *
 * Writers.  Only one process may write: tq_store_open() with TQ_STORE_WRITE takes an
 * exclusive flock() on DIR/lock and writes the holder (pid, command, start time) into
 * it; a second writer gets TQ_ERR_BUSY at once with the holder in *busy.  The kernel
 * drops the lock when its holder dies, so a killed process never blocks the next run.
 * Readers (export, stat) open without the lock, read-only, and see the last commit.
 *
 * Transactions.  A write transaction that hits the map's end returns TQ_ERR_MAPFULL:
 * the transaction is then dead, the caller aborts it, calls tq_store_grow() and redoes
 * the whole batch.  A full disk shows as TQ_ERR_FULL and any other I/O failure as
 * TQ_ERR_IO; in both cases the database stays at its last commit.  MDB_WRITEMAP is never
 * used (a full disk would kill the process with SIGBUS).  Commits are durable (fsync)
 * unless TQ_STORE_NOSYNC is given.
 *
 * Errors common to every accessor below:
 *   TQ_ERR_INPUT    a key or a field out of its bounds (decl_no not 12 bytes,
 *                   permit_no or receipt_no not 1..32 bytes, hs not 8 digits, a
 *                   string not NUL-terminated in its array, ...): nothing was written.
 *                   What a put accepts, a get gives back unchanged.
 *   TQ_ERR_DBCORRUPT  a stored key or value that is damaged (key format, seal, length
 *                   or range), or an LMDB structural error; tq_txn_fault() says which.
 *   TQ_ERR_MAPFULL  (puts) the map is full: abort, tq_store_grow(), redo the batch.
 *   TQ_ERR_STORE    any other LMDB failure; TQ_ERR_IO / TQ_ERR_FULL from the disk.
 *
 * Threads.  A tq_store may be shared by threads.  A tq_txn is used by one thread at a
 * time; a read transaction may move between threads (the environment is opened with
 * MDB_NOTLS) and be reset and renewed across batches; a write transaction stays on the
 * thread that began it (LMDB's rule), and only one exists at a time (a second begin
 * waits).  The map is remapped (tq_store_grow(), or adopting a size another process
 * committed) only while this process has no live transaction; the store counts them.
 *
 * Memory.  Nothing is allocated per get or put; a write transaction keeps one scratch
 * buffer, used only for covers with many guarantees.
 */
#ifndef TQ_STORE_H
#define TQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/tq_error.h"
#include "../formats/tq_event.h"
#include "../formats/tq_journal.h"
#include "../formats/tq_lock.h"
#include "tq_rules.h"

#define TQ_STORE_VERSION 5
#define TQ_STORE_MARKER "thongquan.db"      /* DIR/thongquan.db: this directory is a database */
#define TQ_STORE_MAP_DEFAULT (64ull << 20)   /* initial map size of a new database */

typedef struct tq_store tq_store;
typedef struct tq_txn tq_txn;

enum {
    TQ_STORE_WRITE = 1u << 0,   /* take the writer lock; create DIR when missing */
    TQ_STORE_NOSYNC = 1u << 1   /* no fsync at commit (tests and benchmarks only) */
};

/* Who holds the writer lock, as read from DIR/lock: the lockfile module's holder
 * (formats/tq_lock.h).  Empty strings and pid 0 when the holder wrote nothing readable. */
typedef tq_lock_holder tq_store_holder;

/* TQ_STORE_VERIFY_AUTO walks every tree of a data.mdb up to this size (a few tenths of a
 * second of reading), only the meta pages of a larger one. */
#define TQ_STORE_VERIFY_FULL_MAX (256ull << 20)

enum {
    TQ_STORE_VERIFY_AUTO = 0,   /* default: the whole tree when data.mdb is small enough
                                 * that it costs little, else the meta pages */
    TQ_STORE_VERIFY_META = 1,   /* meta pages and file size only (never less) */
    TQ_STORE_VERIFY_FULL = 2    /* every page reachable from the newest meta */
};

typedef struct tq_store_opts {
    uint64_t map_size;          /* initial map size in bytes; 0 = TQ_STORE_MAP_DEFAULT.
                                 * An existing database keeps its larger size. */
    const char *command;        /* written into the lock file; may be NULL.  Control
                                 * characters become '?'; cut at 127 bytes. */
    tq_diag *diag;              /* may be NULL; on error, why: the path and the system's
                                 * reason ("DIR/lock.mdb: Permission denied") */
    int verify;                 /* TQ_STORE_VERIFY_*: how much of data.mdb is checked
                                 * (engine/tq_lmdb_check.h) before LMDB maps it */
} tq_store_opts;

/* tq_store_open() - open (and with TQ_STORE_WRITE create) the database in dir.
 * opts may be NULL.  busy may be NULL; it is filled when TQ_ERR_BUSY is returned.
 * With TQ_STORE_WRITE, dir and its missing parents are created (mode 0755) and the
 * writer lock is taken before LMDB is touched.  Without it the environment is opened
 * read-only, and write transactions are refused.
 * A missing or empty DIR/data.mdb beside DIR/thongquan.db (the marker a writer leaves)
 * is damage, never a new database.  A writer upgrades a version 1 or 2 database
 * (STORE.md §3.1: tq_store_upgrade(), in committed batches) and adds the marker when
 * missing.  opts->diag gets "PATH: reason" on failure.
 * @return TQ_OK, TQ_ERR_BUSY, TQ_ERR_NOTFOUND (no database and no TQ_STORE_WRITE),
 *         TQ_ERR_VERSION (another format version, or an LMDB file that is not a
 *         thongquan database), TQ_ERR_DBCORRUPT (damage; an emptied data.mdb),
 *         TQ_ERR_PERM (EACCES/EPERM/EROFS: DIR/lock.mdb not writable for a reader, ...),
 *         TQ_ERR_INPUT (dir too long; DIR/lock a symlink or not a regular file),
 *         TQ_ERR_LIMIT (a v1 upgrade larger than one transaction), TQ_ERR_IO,
 *         TQ_ERR_FULL, TQ_ERR_NOMEM, TQ_ERR_STORE.  *out is NULL on error. */
TQ_MUST_USE int tq_store_open(const char *dir, unsigned flags, const tq_store_opts *opts,
                  tq_store **out, tq_store_holder *busy);

/* tq_store_format() - the store format version of the open database (1 ..
 * TQ_STORE_VERSION): what a reader found, or what a writer's upgrade left.  Any
 * thread. */
int tq_store_format(const tq_store *s);

/* tq_store_close() - close; releases the writer lock (and empties DIR/lock).  No
 * transaction may be open.  NULL does nothing. */
void tq_store_close(tq_store *s);

/* tq_store_grow() - double the map size.  First adopts a larger size committed by
 * another process, then doubles the larger of the two.  No transaction of this process
 * may be live (begun and not ended or reset).
 * @return TQ_OK; TQ_ERR_STORE (transactions still live: nothing done); TQ_ERR_FULL (the
 *         size would overflow); TQ_ERR_NOMEM (no address space for the new map: the
 *         store is then unusable, close it). */
TQ_MUST_USE int tq_store_grow(tq_store *s);

typedef struct tq_store_info {
    uint64_t map_size, map_used;  /* bytes */
    uint64_t receipts, covers, permits, decls, journals;
    uint64_t by_state[TQ_STATE_COUNT];         /* decls per tq_state */
} tq_store_info;

/* tq_store_stat() - counts and sizes, in a read transaction of its own.  map_used is
 * the end of the last page in use; by_state scans every declaration.
 * @return TQ_OK, TQ_ERR_DBCORRUPT (a damaged declaration), store errors. */
TQ_MUST_USE int tq_store_stat(tq_store *s, tq_store_info *out);
/* tq_store_count() - tq_store_stat()'s sizes and table counts as t's snapshot sees them,
 * without the by_state scan (left zero): for a reader that already holds a transaction
 * and must not begin a second one (a writer that grew the map meanwhile would make that
 * begin fail while t is live).  Threads: t's thread.
 * @return TQ_OK or a store error. */
TQ_MUST_USE int tq_store_count(tq_txn *t, tq_store_info *out);

/* ---- transactions ---- */

/* tq_txn_begin() - a read (rdonly != 0) or write transaction.  A write transaction
 * waits while another thread of this process holds one.  A read transaction sees the
 * last commit at its begin (or renew).
 * @return TQ_OK, TQ_ERR_STORE (write on a store opened without TQ_STORE_WRITE, or an
 *         LMDB failure), TQ_ERR_NOMEM, TQ_ERR_IO. */
TQ_MUST_USE int tq_txn_begin(tq_store *s, int rdonly, tq_txn **out);
/* tq_txn_commit() - commit and free.  For a read transaction, the same as an abort.
 * If a put of this transaction failed (TQ_ERR_MAPFULL, ...), nothing is committed and
 * that put's error is returned again.  The index changes of the transaction's puts
 * (era_taxid, era_permit, by_office) are applied here first, in key order (STORE.md
 * §3.10), so a commit may itself hit the map's end.
 * @return TQ_OK, TQ_ERR_MAPFULL, TQ_ERR_FULL, TQ_ERR_IO, TQ_ERR_STORE; on error the
 *         transaction is aborted and freed, and the database is at its last commit. */
TQ_MUST_USE int tq_txn_commit(tq_txn *t);
/* tq_txn_abort() - abort and free.  NULL does nothing. */
void tq_txn_abort(tq_txn *t);
/* tq_txn_reset() / tq_txn_renew() - for read transactions reused across batches: reset
 * drops the snapshot (the transaction must not be read until renewed; it may still be
 * aborted); renew takes a fresh one.  reset does nothing on a write transaction or a
 * reset one; renew returns TQ_ERR_STORE for a write transaction and TQ_OK for one that
 * is not reset. */
void tq_txn_reset(tq_txn *t);
TQ_MUST_USE int tq_txn_renew(tq_txn *t);
/* tq_txn_snapshot() - which commit a live read transaction sees (LMDB's transaction id):
 * two read transactions with the same number see the same data.  Threads: any, while
 * t is not being begun, renewed or ended. */
uint64_t tq_txn_snapshot(const tq_txn *t);

/* Every put below may return TQ_ERR_MAPFULL (abort, grow, redo the batch), and only
 * works in a write transaction (TQ_ERR_STORE otherwise). */

/* ---- payments ---- */

/* tq_store_add_payment() - record a payment row (kind TQ_PAY or TQ_GUARANTEE).
 * @return TQ_OK, with *is_new = 1 (new: its amount now counts for its declaration) or
 *         0 (the same row is already known: it counts once, nothing changed);
 *         TQ_ERR_CONFLICT (a known receipt_no with different decl_no, kind, amount or
 *         valid_until; *known receives the stored row unless known is NULL; nothing
 *         changed); TQ_ERR_INPUT; TQ_ERR_MAPFULL; or a store error.  known and is_new
 *         may be NULL.  Threads: the transaction's thread. */
TQ_MUST_USE int tq_store_add_payment(tq_txn *t, const tq_payment *p, tq_payment *known,
                                     int *is_new);

/* tq_store_get_payment() - the stored row of receipt_no.
 * @return TQ_OK or TQ_ERR_NOTFOUND (*out unchanged). */
TQ_MUST_USE int tq_store_get_payment(tq_txn *t, const char *receipt_no, tq_payment *out);

/* tq_store_get_cover() - the cover of decl_no.  The guarantees, sorted by valid_until
 * with equal days merged, are copied into *guar (grown with realloc, owned by the
 * caller: *guar may be NULL with *guar_cap 0 at first) and cover->guar points at them.
 * A declaration with no payment gets an empty cover and TQ_OK.  Sums are exact (u128).
 * @return TQ_OK, TQ_ERR_NOMEM (*guar and *guar_cap unchanged), TQ_ERR_DBCORRUPT, ... */
TQ_MUST_USE int tq_store_get_cover(tq_txn *t, const char *decl_no, tq_cover *cover,
                       tq_guarantee **guar, size_t *guar_cap);

/* tq_store_each_payment() - every payment row in receipt_no order; stops early and
 * returns fn's value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_payment(tq_txn *t, int (*fn)(void *ctx, const tq_payment *p), void *ctx);

/* ---- permits ---- */

/* tq_store_put_permit() - insert or replace a permit row (its use is kept).
 * @return TQ_OK (new), 1 (replaced), or a store error. */
TQ_MUST_USE int tq_store_put_permit(tq_txn *t, const tq_permit *p);
/* @return TQ_OK, TQ_ERR_NOTFOUND (*out unchanged), TQ_ERR_DBCORRUPT (*out undefined). */
TQ_MUST_USE int tq_store_get_permit(tq_txn *t, const char *permit_no, tq_permit *out);
/* tq_store_get_used() - 0 when nothing was recorded. */
TQ_MUST_USE int tq_store_get_used(tq_txn *t, const char *permit_no, uint64_t *used);
/* tq_store_put_used() - whether or not the permit is known. */
TQ_MUST_USE int tq_store_put_used(tq_txn *t, const char *permit_no, uint64_t used);
/* tq_store_each_permit() - every permit in permit_no order, with its use; stops early
 * and returns fn's value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_permit(tq_txn *t,
                         int (*fn)(void *ctx, const tq_permit *p, uint64_t used),
                         void *ctx);

/* ---- declarations ---- */

/* tq_store_get_decl() - the whole state of decl_no.  Every byte of *out is written
 * (unused lines and padding zeroed), so equal stored states give equal bytes.
 * @return TQ_OK, TQ_ERR_NOTFOUND (*out unchanged), TQ_ERR_DBCORRUPT (*out undefined). */
TQ_MUST_USE int tq_store_get_decl(tq_txn *t, const char *decl_no, tq_decl *out);
/* tq_store_put_decl() - insert or replace.  Bounds checked (TQ_ERR_INPUT): state,
 * channel 1..3, officer and reasons bits, nsec, nlines <= 50, declarant <= 13 bytes,
 * hs 8 digits, permit <= 32 bytes. */
TQ_MUST_USE int tq_store_put_decl(tq_txn *t, const tq_decl *d);
/* Encoded declarations, for a writer that keeps declarations in memory between
 * commits (the replay pipeline): the value bytes are exactly what put_decl stores,
 * without the 4-byte seal, which put_decl_encoded appends (it depends on the key). */
#define TQ_STORE_DECL_ENC_MAX (84 + TQ_TAXID_MAX + TQ_LINES_MAX * (25 + TQ_PERMIT_MAX))
/* tq_store_decl_encode() - @return TQ_OK with *len set, or TQ_ERR_INPUT (d is not a
 * storable state; same checks as put_decl).  buf holds TQ_STORE_DECL_ENC_MAX bytes. */
TQ_MUST_USE int tq_store_decl_encode(const tq_decl *d, uint8_t *buf, size_t *len);
/* tq_store_decl_decode() - decode n bytes into *out with decl_no set.
 * @return TQ_OK or TQ_ERR_DBCORRUPT. */
TQ_MUST_USE int tq_store_decl_decode(const char *decl_no, const uint8_t *v, size_t n, tq_decl *out);
/* tq_store_put_decl_encoded() - store encoded bytes under decl_no.  append != 0 promises
 * that decl_no sorts after every key in the table (LMDB's MDB_APPEND: a bulk load at
 * several times the speed of a plain put); a broken promise returns TQ_ERR_STORE. */
TQ_MUST_USE int tq_store_put_decl_encoded(tq_txn *t, const char *decl_no, const uint8_t *v, size_t n,
                              int append);
/* tq_store_get_decl_encoded() - the stored value of decl_no as bytes (key format and
 * seal checked, seal not included): what tq_store_decl_decode() reads and the puts
 * write.  *v points into the database's map, valid until the next put through t or its
 * end: copy what must outlive that.  The bytes are not decoded (the decode checks them).
 * @return TQ_OK, TQ_ERR_NOTFOUND, TQ_ERR_DBCORRUPT (tq_txn_fault() says which key). */
TQ_MUST_USE int tq_store_get_decl_encoded(tq_txn *t, const char *decl_no, const uint8_t **v,
                                          size_t *n);
/* tq_store_put_decl_known() - tq_store_put_decl_encoded() (append decided by the store)
 * for a writer that read the stored value itself in t: old/oldn are the bytes
 * tq_store_get_decl_encoded() gave for decl_no (copied), and nothing has put decl_no
 * through t since; old NULL says it found nothing stored.  The index entries then move
 * from old without a second read (the replay pipeline re-puts every declaration a batch
 * changed: one B-tree descent and one seal fewer each).  The caller vouches for old: a
 * wrong one leaves the indexes wrong until tq_store_verify() reports it.  With the
 * environment's TQ_STORE_CHECK_OLD set (not "0") when the store was opened (tests), the
 * stored value is read anyway and a mismatch is refused: TQ_ERR_STORE, nothing written,
 * tq_txn_fault() names the key.  Threads: as every put (t's thread).
 * @return TQ_OK, TQ_ERR_INPUT (bad decl_no), TQ_ERR_STORE, TQ_ERR_MAPFULL, store errors. */
TQ_MUST_USE int tq_store_put_decl_known(tq_txn *t, const char *decl_no, const uint8_t *v,
                                        size_t n, const uint8_t *old, size_t oldn);
/* tq_store_last_decl() / tq_store_first_decl() - the greatest / least decl_no stored
 * (13 bytes with NUL).  @return TQ_OK, TQ_ERR_NOTFOUND (no declaration yet),
 * TQ_ERR_DBCORRUPT (its record is damaged: tq_txn_fault()). */
TQ_MUST_USE int tq_store_last_decl(tq_txn *t, char out[TQ_DECL_NO_LEN + 1]);
TQ_MUST_USE int tq_store_first_decl(tq_txn *t, char out[TQ_DECL_NO_LEN + 1]);

/* tq_store_each_decl() - every declaration in decl_no order; stops early and returns
 * fn's value when fn returns non-zero.  fn may put through the same (write)
 * transaction, including replacing the declaration it was given. */
TQ_MUST_USE int tq_store_each_decl(tq_txn *t, int (*fn)(void *ctx, const tq_decl *d), void *ctx);

/* tq_decl_head - a declaration without its lines: the fields a stored value holds
 * before them (STORE.md §3.6), as tq_decl has them, and how many lines follow.  For the
 * walks that read every declaration for its state (the tally, counts): a tq_decl is
 * about 3 KiB, mostly lines, and decoding the lines is most of a full decode's time. */
typedef struct tq_decl_head {
    char decl_no[TQ_DECL_NO_LEN + 1];
    char declarant[TQ_TAXID_MAX + 1];
    char kind[4];               /* "" when stored in format 2, as tq_decl */
    char office[5];             /* "" likewise */
    uint8_t state;              /* tq_state */
    uint8_t channel;            /* 1..3 */
    uint8_t officer;            /* TQ_SEEN_* */
    uint8_t manual;
    uint32_t version;
    uint32_t reasons;           /* TQ_R_* */
    uint64_t tax_due, tax_short;
    tq_instant registered;
    int32_t reg_day;
    uint8_t src_id[TQ_JOURNAL_ID_LEN];  /* zeros: unknown */
    uint64_t src_seq;
    uint16_t nlines;            /* lines stored after the head (not decoded) */
} tq_decl_head;

/* tq_store_each_decl_head() - every declaration in decl_no order, as its head; stops
 * early and returns fn's value when fn returns non-zero.  Each record is checked exactly
 * as tq_store_each_decl() checks it -- key format, seal, and every field, the lines
 * included (their ranges, lengths, and that nothing follows the last) -- so a record
 * one walk refuses the other refuses with the same fault; only the copying of the lines
 * into a tq_decl is left out.  *h is the walk's (on its stack), valid during the call;
 * every byte is defined (padding zeroed).  fn must not put through t.
 * Threads: t's thread.  Memory: nothing per record (the head is on the walk's stack).
 * @return TQ_OK, fn's first non-zero value, TQ_ERR_DBCORRUPT (a damaged record: the
 *         walk stops there and tq_txn_fault() names the table decls, the key and what
 *         is wrong), store errors. */
TQ_MUST_USE int tq_store_each_decl_head(tq_txn *t,
                                        int (*fn)(void *ctx, const tq_decl_head *h),
                                        void *ctx);
/* tq_store_each_decl_head_range() - tq_store_each_decl_head() over the declarations
 * with from <= decl_no < to (from NULL: from the first; to NULL: to the last), both
 * 12-digit decl_nos: two walks over [a, m) and [m, NULL) visit each declaration once.
 * @return as tq_store_each_decl_head(), or TQ_ERR_INPUT (a bound that is no decl_no). */
TQ_MUST_USE int tq_store_each_decl_head_range(tq_txn *t, const char *from, const char *to,
                                              int (*fn)(void *ctx, const tq_decl_head *h),
                                              void *ctx);
/* tq_store_decl_head_decode() - tq_store_decl_decode() of the head only: the n bytes
 * are checked as tq_store_decl_decode() checks them (lines included), and *out gets the
 * head with decl_no set.  Pure: no store, any thread.
 * @return TQ_OK or TQ_ERR_DBCORRUPT (*out undefined) -- exactly when
 *         tq_store_decl_decode() returns it for the same bytes. */
TQ_MUST_USE int tq_store_decl_head_decode(const char *decl_no, const uint8_t *v, size_t n,
                                          tq_decl_head *out);

/* ---- journals ---- */

typedef struct tq_journal_mark {
    uint8_t id[TQ_JOURNAL_ID_LEN];
    uint64_t last_seq;          /* last applied seq (0: none) */
    uint64_t frames;            /* complete frames applied */
    uint64_t chain;             /* hash chain over the checksums of the applied frames */
    uint64_t applied_at;        /* unix seconds of the last commit */
} tq_journal_mark;

/* @return TQ_OK or TQ_ERR_NOTFOUND (mark zeroed, id copied). */
TQ_MUST_USE int tq_store_get_journal(tq_txn *t, const uint8_t id[TQ_JOURNAL_ID_LEN], tq_journal_mark *m);
TQ_MUST_USE int tq_store_put_journal(tq_txn *t, const tq_journal_mark *m);
/* tq_store_each_journal() - every mark in id byte order; stops early and returns fn's
 * value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_journal(tq_txn *t, int (*fn)(void *ctx, const tq_journal_mark *m),
                          void *ctx);


/* ---- secondary indexes (format 3): the worklists' ways in ---- */

/* The store keeps the indexes itself: every put of a declaration (put_decl,
 * put_decl_encoded) reads the stored value it replaces and moves the index entries in
 * the same transaction, so an index never disagrees with a committed declaration.
 * An index entry is only a pointer: the walks below read each declaration it names and
 * check it (seal, and that it still has the indexed office/state, declarant or permit);
 * a disagreement is TQ_ERR_DBCORRUPT with the index table and key in tq_txn_fault(). */
typedef enum tq_store_index {
    TQ_INDEX_OFFICE = 1,    /* key: office (4 chars); state filters (-1: every state) */
    TQ_INDEX_DECLARANT = 2, /* key: declarant (1..13 chars); state filters likewise */
    TQ_INDEX_PERMIT = 3     /* key: permit_no (1..32 chars), named on any line */
} tq_store_index;

/* tq_store_each_decl_by() - every declaration under key in index idx, in decl_no order,
 * restricted to state when state >= 0; stops early and returns fn's value when fn
 * returns non-zero.  fn must not put through t.  Reads only the entries under key: the
 * cost is the number of declarations listed, not the size of the table.
 * @return TQ_OK, TQ_ERR_INPUT (a key no declaration could have), TQ_ERR_DBCORRUPT,
 *         store errors. */
TQ_MUST_USE int tq_store_each_decl_by(tq_txn *t, tq_store_index idx, const char *key, int state,
                          int (*fn)(void *ctx, const tq_decl *d), void *ctx);

/* tq_store_each_office() - for every office with declarations in state, in office
 * order: fn(ctx, office, count).  Counts come from the index (no declaration is read).
 * Declarations without an office (stored before format 3, not backfilled) count under
 * office "".  Stops early and returns fn's value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_office(tq_txn *t, int state,
                         int (*fn)(void *ctx, const char *office, uint64_t count),
                         void *ctx);

/* ---- the change feed (format 3) ---- */

/* Why a change happened. */
enum {
    TQ_CHANGE_EVENT = 1,      /* a journal event (replay, fill-gap): src_id/src_seq say which */
    TQ_CHANGE_RECONCILE = 2,  /* reconcile decided a held declaration again */
    TQ_CHANGE_UPGRADE = 3     /* the upgrade to format 3: one per declaration already
                               * stored, so the feed read from 0 rebuilds every decision */
};

/* One change of a declaration's decision: a new declaration, or a different state,
 * reasons, version or manual flag. */
typedef struct tq_change {
    uint64_t no;                       /* 1, 2, ...: one counter per store, no gaps */
    char decl_no[TQ_DECL_NO_LEN + 1];
    uint8_t state;                     /* tq_state, never PENDING */
    uint8_t manual;
    uint8_t cause;                     /* TQ_CHANGE_* */
    uint32_t reasons;
    uint32_t version;
    uint8_t src_id[TQ_JOURNAL_ID_LEN]; /* TQ_CHANGE_EVENT: the event; else zero */
    uint64_t src_seq;
} tq_change;

/* tq_store_add_change() - append c to the feed with the next number (written into
 * c->no), in t: the number is committed exactly when the transaction is, so a killed
 * writer leaves neither a gap nor a duplicate.  Numbers ascend in the order of calls.
 * @return TQ_OK, TQ_ERR_INPUT (bad decl_no, state, cause), store errors. */
TQ_MUST_USE int tq_store_add_change(tq_txn *t, tq_change *c);

/* tq_store_last_change() - the number of the last change (0: none yet). */
TQ_MUST_USE int tq_store_last_change(tq_txn *t, uint64_t *no);

/* tq_store_each_change() - every change numbered above since, in number order; stops
 * early and returns fn's value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_change(tq_txn *t, uint64_t since,
                         int (*fn)(void *ctx, const tq_change *c), void *ctx);

/* ---- upgrade ---- */

typedef struct tq_store_upgrade_stats {
    uint32_t from_version;    /* the format tq_store_open() found (TQ_STORE_VERSION:
                               * nothing to do) */
    uint64_t decls;           /* declarations rewritten (by the open's upgrade and this
                               * store's calls) */
    uint64_t backfilled;      /* declarations whose office and kind a journal filled */
} tq_store_upgrade_stats;

/* tq_store_upgrade() - bring the database of s (opened with TQ_STORE_WRITE) to
 * TQ_STORE_VERSION in place: declarations rewritten, indexes built, the feed seeded
 * (TQ_CHANGE_UPGRADE, decl_no order), in batches of bounded size, each committed, so a
 * database of any size upgrades.  A killed upgrade run again goes on where it stopped
 * rewriting declarations (to 3), and starts over the builds of derived tables (held,
 * to 4; the era indexes, to 5), which a writer of the older format may have left
 * stale meanwhile (STORE.md §3.1).  The version is written last.  tq_store_open() with TQ_STORE_WRITE calls it; readers open
 * an older format and read it (a version 2 declaration reads with empty office and
 * kind), except the indexes and the feed: TQ_ERR_VERSION there.
 * journals (may be NULL, njournals 0): journal files whose DECL and AMEND events fill
 * office, kind and line values of declarations that lack them (thongquan upgrade
 * --journal); a journal that is not readable is an error, nothing half-applied beyond
 * whole committed batches.  Filling is idempotent: a declaration whose office is set
 * is only given line values its stored lines match (STORE.md §3.1).
 * Since the open upgrades already, a call on a store opened on an older database finds
 * it current and reports what the open did: st (may be NULL) gets the totals of this
 * store (from_version as found at open).  The progress marker is meta `upgrade`; the
 * environment's TQ_UPGRADE_BATCH (tests) makes batches smaller than 20,000.
 * @return TQ_OK, TQ_ERR_STORE (s is a reader), TQ_ERR_DBCORRUPT (a damaged record:
 * never blessed by a rewrite), the journal's errors (TQ_ERR_IO, TQ_ERR_CORRUPT, ...),
 * store errors; d says why. */
TQ_MUST_USE int tq_store_upgrade(tq_store *s, const char *const *journals, size_t njournals,
                     tq_store_upgrade_stats *st, tq_diag *d);

/* ---- faults: which table and key a TQ_ERR_DBCORRUPT came from ---- */

/* tq_txn_fault() - after an accessor of t returned TQ_ERR_DBCORRUPT (or another store
 * error), describe it: d->field is "(database)" and d->why names the table, the key
 * (quoted with tq_diag_quote) and what is wrong ("table 'decls', key '103456789012':
 * value is 7 bytes, shorter than its header").  Call it before the transaction is
 * committed or aborted.  Thread-safe as t is: per transaction. */
void tq_txn_fault(const tq_txn *t, tq_diag *d);

/* ---- skipped gaps: what --skip-corrupt passed over, kept per journal ---- */

typedef struct tq_gap {
    uint8_t id[TQ_JOURNAL_ID_LEN];  /* the journal */
    uint64_t first, last;           /* seq range skipped */
    uint64_t frame;                 /* 0-based frame index */
    uint64_t checksum;              /* the frame's content checksum as its header gave it,
                                     * so a repaired copy's frame can be matched */
    uint64_t skipped_at;            /* unix seconds */
} tq_gap;

/* tq_store_put_gap() - record (or replace) the gap keyed by (id, first). */
TQ_MUST_USE int tq_store_put_gap(tq_txn *t, const tq_gap *g);
/* tq_store_del_gap() - forget a filled gap.  @return TQ_OK or TQ_ERR_NOTFOUND. */
TQ_MUST_USE int tq_store_del_gap(tq_txn *t, const uint8_t id[TQ_JOURNAL_ID_LEN], uint64_t first);
/* tq_store_each_gap() - the gaps of journal id (every journal's when id is NULL), in
 * (id, first) order; stops early and returns fn's value when fn returns non-zero. */
TQ_MUST_USE int tq_store_each_gap(tq_txn *t, const uint8_t *id,
                      int (*fn)(void *ctx, const tq_gap *g), void *ctx);

/* ---- the ledger of loaded files (the nightly job), keyed by content ---- */

typedef struct tq_ledger_entry {
    uint8_t sha256[32];         /* of the file's bytes */
    uint8_t kind;               /* tq_load_kind: 1 payments, 2 permits */
    uint8_t outcome;            /* 0 loaded, 1 loaded with rejected rows */
    uint64_t loaded_at;         /* unix seconds */
    uint64_t rows;              /* data rows read */
    char name[256];             /* the file's name when loaded, NUL-terminated; any
                                 * bytes but NUL (quote it before printing) */
} tq_ledger_entry;

/* tq_store_get_ledger() - @return TQ_OK or TQ_ERR_NOTFOUND (*out unchanged). */
TQ_MUST_USE int tq_store_get_ledger(tq_txn *t, const uint8_t sha256[32], tq_ledger_entry *out);
/* tq_store_put_ledger() - record e (in the load's own transaction, so that a file is
 * in the ledger exactly when its rows are in the database). */
TQ_MUST_USE int tq_store_put_ledger(tq_txn *t, const tq_ledger_entry *e);
/* tq_store_each_ledger() - every entry in sha256 order. */
TQ_MUST_USE int tq_store_each_ledger(tq_txn *t, int (*fn)(void *ctx, const tq_ledger_entry *e),
                         void *ctx);

/* ---- verification ---- */

/* tq_store_verify() - walk every record of every table in t and check each key and value
 * as a get would (key format, checksum, decode, enums), calling on_bad (may be NULL) for
 * each bad record with d->why naming table and key, and going on to the next.  *records
 * (may be NULL) gets the number of records walked.
 * @return TQ_OK (all sound), TQ_ERR_DBCORRUPT (at least one bad record), store errors. */
TQ_MUST_USE int tq_store_verify(tq_txn *t, void (*on_bad)(void *ctx, const tq_diag *d), void *ctx,
                    uint64_t *records);

/* ---- backup ---- */

/* tq_store_backup() - a consistent, compacted copy of the database into out_dir (created;
 * it must not exist, or be an empty directory), taken from one read snapshot while
 * writers go on (LMDB's mdb_env_copy2 with MDB_CP_COMPACT), fsynced, with the marker
 * file: out_dir is itself a database directory, usable as --db.  On error out_dir's
 * partial copy is removed.
 * @return TQ_OK, TQ_ERR_EXISTS (out_dir not empty), TQ_ERR_PERM, TQ_ERR_IO,
 *         TQ_ERR_FULL, TQ_ERR_DBCORRUPT, TQ_ERR_STORE.  d says why. */
TQ_MUST_USE int tq_store_backup(tq_store *s, const char *out_dir, tq_diag *d);

/* tq_store_dir() - the directory s was opened on (valid while s is open). */
const char *tq_store_dir(const tq_store *s);

#endif
