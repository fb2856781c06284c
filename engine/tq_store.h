/* tq_store.h - the LMDB store: payments, permits, permit use, declarations, journals.
 *
 * One LMDB environment per database directory (DIR/data.mdb), with named databases:
 *   meta      format version and creation time
 *   receipts  receipt_no -> the payment row (dedup and conflict detection)
 *   cover     decl_no -> the PAY total and guarantees of that declaration
 *   permits   permit_no -> the permit row as last loaded
 *   usage     permit_no -> quantity used (kept apart so a reload keeps it)
 *   decls     decl_no -> the declaration's whole state (tq_decl)
 *   journals  journal id -> last applied seq and a hash of what was applied
 * Keys are the fields' own bytes, so LMDB's order is decl_no / permit_no order and the
 * exports walk a cursor.  The byte layout is specified in engine/STORE.md; the format
 * version is checked on open (TQ_ERR_VERSION on a mismatch).
 *
 * Writers.  Only one process may write: tq_store_open() with TQ_STORE_WRITE takes an
 * exclusive flock() on DIR/lock and writes the holder (pid, command, start time) into
 * it; a second writer gets TQ_ERR_BUSY at once with the holder in *busy.  The kernel
 * drops the lock when its holder dies, so a killed process never blocks the next run.
 * Readers (export, stat) open without the lock and see the last commit.
 *
 * Transactions.  A write transaction that hits the map's end returns TQ_ERR_MAPFULL:
 * the transaction is then dead, the caller aborts it, calls tq_store_grow() and redoes
 * the whole batch.  A full disk shows as TQ_ERR_FULL and any other I/O failure as
 * TQ_ERR_IO; in both cases the database stays at its last commit.  MDB_WRITEMAP is never
 * used (a full disk would kill the process with SIGBUS).
 *
 * Threads.  A tq_store may be shared by threads; each thread uses its own read
 * transactions; only one write transaction exists at a time (LMDB's rule).
 */
#ifndef TQ_STORE_H
#define TQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/tq_error.h"
#include "../formats/tq_event.h"
#include "../formats/tq_journal.h"
#include "tq_rules.h"

#define TQ_STORE_VERSION 1

typedef struct tq_store tq_store;
typedef struct tq_txn tq_txn;

enum {
    TQ_STORE_WRITE = 1u << 0,   /* take the writer lock; create DIR when missing */
    TQ_STORE_NOSYNC = 1u << 1   /* no fsync at commit (tests and benchmarks only) */
};

/* Who holds the writer lock, as read from DIR/lock. */
typedef struct tq_store_holder {
    long pid;
    char command[128];
    char started[32];           /* ISO-8601 UTC */
} tq_store_holder;

typedef struct tq_store_opts {
    uint64_t map_size;          /* initial map size in bytes; 0 = 64 MiB */
    const char *command;        /* written into the lock file; may be NULL */
} tq_store_opts;

/* tq_store_open() - open (and with TQ_STORE_WRITE create) the database in dir.
 * opts may be NULL.  busy may be NULL; it is filled when TQ_ERR_BUSY is returned.
 * @return TQ_OK, TQ_ERR_BUSY, TQ_ERR_NOTFOUND (no database and no TQ_STORE_WRITE),
 *         TQ_ERR_VERSION, TQ_ERR_IO, TQ_ERR_FULL, TQ_ERR_STORE. */
int tq_store_open(const char *dir, unsigned flags, const tq_store_opts *opts,
                  tq_store **out, tq_store_holder *busy);

/* tq_store_close() - close; releases the writer lock.  No transaction may be open.
 * NULL does nothing. */
void tq_store_close(tq_store *s);

/* tq_store_grow() - double the map size (no transaction may be open in this process).
 * @return TQ_OK or TQ_ERR_STORE / TQ_ERR_FULL. */
int tq_store_grow(tq_store *s);

typedef struct tq_store_info {
    uint64_t map_size, map_used;  /* bytes */
    uint64_t receipts, covers, permits, decls, journals;
    uint64_t by_state[5];         /* decls per tq_state */
} tq_store_info;

/* tq_store_stat() - counts and sizes, in a read transaction of its own. */
int tq_store_stat(tq_store *s, tq_store_info *out);

/* ---- transactions ---- */

/* tq_txn_begin() - a read (rdonly != 0) or write transaction.  @return TQ_OK,
 * TQ_ERR_STORE, TQ_ERR_NOMEM. */
int tq_txn_begin(tq_store *s, int rdonly, tq_txn **out);
/* tq_txn_commit() - commit and free.  @return TQ_OK, TQ_ERR_MAPFULL, TQ_ERR_FULL,
 * TQ_ERR_IO, TQ_ERR_STORE; on error the transaction is aborted and freed. */
int tq_txn_commit(tq_txn *t);
/* tq_txn_abort() - abort and free.  NULL does nothing. */
void tq_txn_abort(tq_txn *t);
/* tq_txn_reset() / tq_txn_renew() - for read transactions reused across batches. */
void tq_txn_reset(tq_txn *t);
int tq_txn_renew(tq_txn *t);

/* Every put below may return TQ_ERR_MAPFULL (abort, grow, redo the batch). */

/* ---- payments ---- */

/* tq_store_add_payment() - record a payment row.
 * @return TQ_OK (new: its amount now counts for its declaration), 1 (the same row is
 *         already known: counts once, nothing changed), TQ_ERR_CONFLICT (a known
 *         receipt_no with different content; *known receives the stored row; nothing
 *         changed), or a store error. */
int tq_store_add_payment(tq_txn *t, const tq_payment *p, tq_payment *known);

/* tq_store_get_cover() - the cover of decl_no.  The guarantees are copied into
 * *guar (grown with realloc, owned by the caller) and cover->guar points at them.
 * A declaration with no payment gets an empty cover and TQ_OK. */
int tq_store_get_cover(tq_txn *t, const char *decl_no, tq_cover *cover,
                       tq_guarantee **guar, size_t *guar_cap);

/* tq_store_each_payment() - every payment row in receipt_no order; stops early and
 * returns fn's value when fn returns non-zero. */
int tq_store_each_payment(tq_txn *t, int (*fn)(void *ctx, const tq_payment *p), void *ctx);

/* ---- permits ---- */

/* tq_store_put_permit() - insert or replace a permit row (its use is kept).
 * @return TQ_OK (new), 1 (replaced), or a store error. */
int tq_store_put_permit(tq_txn *t, const tq_permit *p);
/* @return TQ_OK or TQ_ERR_NOTFOUND. */
int tq_store_get_permit(tq_txn *t, const char *permit_no, tq_permit *out);
/* tq_store_get_used() - 0 when nothing was recorded. */
int tq_store_get_used(tq_txn *t, const char *permit_no, uint64_t *used);
int tq_store_put_used(tq_txn *t, const char *permit_no, uint64_t used);
/* tq_store_each_permit() - every permit in permit_no order, with its use. */
int tq_store_each_permit(tq_txn *t,
                         int (*fn)(void *ctx, const tq_permit *p, uint64_t used),
                         void *ctx);

/* ---- declarations ---- */

/* @return TQ_OK or TQ_ERR_NOTFOUND. */
int tq_store_get_decl(tq_txn *t, const char *decl_no, tq_decl *out);
int tq_store_put_decl(tq_txn *t, const tq_decl *d);
/* tq_store_each_decl() - every declaration in decl_no order. */
int tq_store_each_decl(tq_txn *t, int (*fn)(void *ctx, const tq_decl *d), void *ctx);

/* ---- journals ---- */

typedef struct tq_journal_mark {
    uint8_t id[TQ_JOURNAL_ID_LEN];
    uint64_t last_seq;          /* last applied seq (0: none) */
    uint64_t frames;            /* complete frames applied */
    uint64_t chain;             /* hash chain over the checksums of the applied frames */
    uint64_t applied_at;        /* unix seconds of the last commit */
} tq_journal_mark;

/* @return TQ_OK or TQ_ERR_NOTFOUND (mark zeroed, id copied). */
int tq_store_get_journal(tq_txn *t, const uint8_t id[TQ_JOURNAL_ID_LEN], tq_journal_mark *m);
int tq_store_put_journal(tq_txn *t, const tq_journal_mark *m);
int tq_store_each_journal(tq_txn *t, int (*fn)(void *ctx, const tq_journal_mark *m),
                          void *ctx);

#endif
