/* tq_store_held.h - the held table of store format 4 (engine/STORE.md §3.11): one row
 * per HELD declaration, keyed by office and decl_no, holding a copy of the declaration's
 * stored value and of its cover, so one office's held declarations are read in one walk
 * of consecutive rows, with no other lookup.
 *
 * The public part (tq_store_each_held, tq_store_held_verify) needs only tq_store.h; the
 * part after TQ_STORE_INT_H is the store's own (included from tq_store_int.h).
 */
#ifndef TQ_STORE_HELD_H
#define TQ_STORE_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "tq_store.h"

/* tq_store_each_held() - call fn(ctx, d, cover) for every HELD declaration of office
 * (4 characters of [0-9A-Z]; "" for the declarations without an office), in decl_no
 * order, from the held table of t.  d and cover (and cover->guar) are valid during the
 * call only.  Every row's key and seal are checked and its declaration must be HELD
 * and of that office; a row that is not is TQ_ERR_DBCORRUPT naming table 'held' and
 * the key (tq_txn_fault), never a row given to fn.  fn returns 0 to go on, else the
 * walk stops and returns that value.
 * @return TQ_OK, fn's value, TQ_ERR_VERSION (no held table: a database before format 4,
 *         or one being upgraded -- ask the office index instead), TQ_ERR_INPUT (office
 *         malformed), TQ_ERR_NOMEM, TQ_ERR_DBCORRUPT, store errors.
 * Threads: as any read of t. */
TQ_MUST_USE int tq_store_each_held(tq_txn *t, const char *office,
                                   int (*fn)(void *ctx, const tq_decl *d,
                                             const tq_cover *cover),
                                   void *ctx);

/* tq_store_held_verify() - the held table against what it copies, both ways: every row
 * names a HELD declaration of its office and holds exactly that declaration's stored
 * value and its stored cover (or none when it has none), and every HELD declaration has
 * its row.  Calls on_bad (may be NULL) once per problem ("table 'held', key 'K': what"
 * or "table 'decls', ..."), goes on past it.  A store without a held table: TQ_OK.
 * @return TQ_OK, TQ_ERR_DBCORRUPT (problems found), store errors. */
TQ_MUST_USE int tq_store_held_verify(tq_txn *t, void (*on_bad)(void *ctx, const tq_diag *d),
                                     void *ctx, uint64_t *rows);

#ifdef TQ_STORE_INT_H
/* ---- the store's own ---- */
#define TQ__HELD_KEY 16         /* office (4 bytes, zeros for none) + decl_no */

/* tq__held_key_bad() - NULL when (b, n) is a key of held, else what is wrong. */
const char *tq__held_key_bad(const unsigned char *b, size_t n);
/* tq__held_value_bad() - NULL when the (unsealed) value v is laid out as a row. */
const char *tq__held_value_bad(const MDB_val *v);
/* tq__held_move() - keep held up for one put of declaration k: o (NULL: no old value
 * with keys) and n the keys of the old and new values, nv the new value.  Called by
 * tq__index_move() before the put, when t->s->has_held.  @return TQ_OK or store errors. */
TQ_MUST_USE int tq__held_move(tq_txn *t, const MDB_val *k, const tq__dkeys *o,
                              const tq__dkeys *n, const MDB_val *nv);
/* tq__held_cover_changed() - the cover of k is now (cover, n) bytes (unsealed): rewrite
 * k's held row when k is HELD.  Called by tq__cover_add() after its put.  cover may be
 * the transaction's scratch.  @return TQ_OK, TQ_ERR_DBCORRUPT, store errors. */
TQ_MUST_USE int tq__held_cover_changed(tq_txn *t, const MDB_val *k, const uint8_t *cover,
                                       size_t n);
/* tq__held_build() - the upgrade 3 -> 4: up to max rows of held built from by_office's
 * HELD entries, after the last row held has (rows are built in key order, nothing else
 * writes them before version 4).  *n gets how many.  @return TQ_OK, TQ_ERR_DBCORRUPT,
 * store errors. */
TQ_MUST_USE int tq__held_build(tq_txn *t, uint64_t max, uint64_t *n);
#endif

#endif
