/* tq_teststore.h - what the Criterion suites of the store share: opening a store and
 * beginning a transaction, failing the test (with the library's reason) when either does
 * not succeed; records to store; a test run in its own store and transaction; and lists
 * of what a walk gave.
 *
 *     #include "tq_teststore.h"
 *     tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);    (always TQ_STORE_NOSYNC)
 *     tq_txn *t = tq_test_begin(s, 0);                      (0: write, 1: read)
 *     tq_test_commit(t);
 *     tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
 *
 *     TQ_STORE_TEST(store, name, 0) { ...s and t... }   (a test given its store and txn)
 *     TQ_TEST_COLLECTOR(gaps, tq_gap, 8)                  (what a walk gave: gaps_take)
 *     tq_test_lines l = {0}; tq_test_lines_add(&l, "%s", why);
 *
 * Header-only: one test program includes it once. */
#ifndef TQ_TESTSTORE_H
#define TQ_TESTSTORE_H

#include <criterion/criterion.h>
#include <lmdb.h>
#include <xxhash.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tq_store.h"

__attribute__((unused)) static tq_store *tq_test_open(const char *dir, unsigned flags)
{
    tq_store *s = NULL;
    tq_diag d = {0};
    tq_store_opts o = {.command = "thongquan test", .diag = &d};
    int rc = tq_store_open(dir, flags | TQ_STORE_NOSYNC, &o, &s, NULL);
    cr_assert_eq(rc, TQ_OK, "open %s: %s: %s", dir, tq_strerror(rc), d.why);
    return s;
}

__attribute__((unused)) static tq_txn *tq_test_begin(tq_store *s, int rdonly)
{
    tq_txn *t = NULL;
    int rc = tq_txn_begin(s, rdonly, &t);
    cr_assert_eq(rc, TQ_OK, "begin: %s", tq_strerror(rc));
    return t;
}

__attribute__((unused)) static void tq_test_commit(tq_txn *t)
{
    int rc = tq_txn_commit(t);
    cr_assert_eq(rc, TQ_OK, "commit: %s", tq_strerror(rc));
}

/* tq_test_decl() - a storable declaration: kind A11 in office (none and no kind when
 * office is NULL, as format 2 kept them), channel 1, one line of hs 85171300, qty 1,
 * value 0, no permit.  Callers change what their test is about. */
__attribute__((unused)) static tq_decl tq_test_decl(const char *no, const char *office,
                                                    const char *declarant, int state)
{
    tq_decl d;
    memset(&d, 0, sizeof d);
    snprintf(d.decl_no, sizeof d.decl_no, "%s", no);
    if (office) {
        snprintf(d.office, sizeof d.office, "%s", office);
        snprintf(d.kind, sizeof d.kind, "A11");
    }
    snprintf(d.declarant, sizeof d.declarant, "%s", declarant);
    d.state = (uint8_t)state;
    d.channel = 1;
    d.nlines = 1;
    snprintf(d.lines[0].hs, sizeof d.lines[0].hs, "85171300");
    d.lines[0].qty = 1;
    return d;
}

/* tq_test_payment() - a row of kind (TQ_PAY or TQ_GUARANTEE; other values for tests of
 * refusal) and amount for decl_no under receipt, valid until valid_until (a guarantee's
 * day; a PAY row has TQ_NO_DATE whatever is given). */
__attribute__((unused)) static tq_payment tq_test_payment(const char *decl_no,
                                                          const char *receipt, int kind,
                                                          uint64_t amount, int32_t valid_until)
{
    tq_payment p;
    memset(&p, 0, sizeof p);
    snprintf(p.decl_no, sizeof p.decl_no, "%s", decl_no);
    snprintf(p.receipt_no, sizeof p.receipt_no, "%s", receipt);
    p.kind = (uint8_t)kind;
    p.amount = amount;
    p.valid_until = kind == TQ_PAY ? TQ_NO_DATE : valid_until;
    return p;
}

/* tq_test_pay() - a PAY row of amount for decl_no under receipt. */
__attribute__((unused)) static tq_payment tq_test_pay(const char *decl_no, const char *receipt,
                                                      uint64_t amount)
{
    return tq_test_payment(decl_no, receipt, TQ_PAY, amount, TQ_NO_DATE);
}

/* TQ_STORE_TEST(suite, name, rdonly) { body }: the Criterion test suite::name, whose body
 * runs with s, g_dir (of tq_testdir.h) opened as a writer, and t, a transaction begun on
 * it (rdonly as tq_test_begin).  The body ends t and any transaction it begins after it;
 * the store is closed when the body returns (so the body must not close s itself). */
#define TQ_STORE_TEST(suite, name, rdonly)                                                \
    static void suite##_##name##_with(tq_store *s, tq_txn *t);                            \
    Test(suite, name)                                                                     \
    {                                                                                     \
        tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);                                \
        suite##_##name##_with(s, tq_test_begin(s, rdonly));                               \
        tq_store_close(s);                                                                \
    }                                                                                     \
    static void suite##_##name##_with(__attribute__((unused)) tq_store *s, tq_txn *t)

/* TQ_TEST_COLLECTOR(name, type, cap): the type name, {int n; type v[cap];}, which keeps
 * the first cap values a walk gives (n counts them all), and name_take(ctx, value), the
 * walk's callback that keeps one in the name *ctx and returns 0 (go on).  No semicolon
 * after it: it ends with a function's body. */
#define TQ_TEST_COLLECTOR(name, type, cap)                                                \
    typedef struct name {                                                                 \
        int n;                                                                            \
        type v[cap];                                                                      \
    } name;                                                                               \
    __attribute__((unused)) static int name##_take(void *ctx, const type *value)          \
    {                                                                                     \
        name *l = ctx;                                                                    \
        if (l->n < (cap))                                                                 \
            l->v[l->n] = *value;                                                          \
        l->n++;                                                                           \
        return 0;                                                                         \
    }

/* tq_test_lines - the first TQ_TEST_LINES_MAX lines a walk reported (each cut to 399
 * bytes); n counts every line, kept or not. */
#define TQ_TEST_LINES_MAX 16
typedef struct tq_test_lines {
    int n;
    char line[TQ_TEST_LINES_MAX][400];
} tq_test_lines;

/* tq_test_lines_add() - one line, printf-formatted, into l. */
__attribute__((unused, format(printf, 2, 3))) static void tq_test_lines_add(tq_test_lines *l,
                                                                           const char *fmt,
                                                                           ...)
{
    if (l->n < TQ_TEST_LINES_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->line[l->n], sizeof l->line[0], fmt, ap);
        va_end(ap);
    }
    l->n++;
}

/* tq_test_raw_flip() - raw LMDB, as a damaged disk would leave it: flips bit 0x10 of
 * byte `at` of k's stored value in table db of the store at dir (a second flip puts it
 * back).  reseal_id >= 0: seals the flipped value again as table id reseal_id (STORE.md
 * §2), so that only the value's decoding can tell; -1 leaves the seal to find it. */
static inline void tq_test_raw_flip(const char *dir, const char *db, const void *k,
                                    size_t kn, size_t at, int reseal_id)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val key = {kn, (void *)k}, val;
    uint8_t buf[4096];
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0, "table %s", db);
    cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0, "record of %s", db);
    cr_assert_leq(val.mv_size, sizeof buf);
    cr_assert_lt(at, val.mv_size);
    memcpy(buf, val.mv_data, val.mv_size);
    buf[at] ^= 0x10;
    if (reseal_id >= 0) {
        size_t n = val.mv_size - 4;
        XXH64_hash_t seed = XXH3_64bits_withSeed(k, kn, (XXH64_hash_t)reseal_id);
        uint32_t seal = (uint32_t)XXH3_64bits_withSeed(buf, n, seed);
        for (int i = 0; i < 4; i++)
            buf[n + (size_t)i] = (uint8_t)(seal >> (8 * i));
    }
    val.mv_data = buf;
    cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* tq_test_raw_put() - raw LMDB, as a writer of another version would leave the store at
 * dir: puts (k, v) into table db, creating it when missing (MDB_DUPSORT | MDB_DUPFIXED
 * with dupsort: an index, where v is one more entry under k); k NULL creates the table
 * only.  seal_id >= 0: v is sealed as table id seal_id (STORE.md §2.1, computed here
 * from its description). */
static inline void tq_test_raw_put(const char *dir, const char *db, int dupsort,
                                   const void *k, size_t kn, const void *v, size_t vn,
                                   int seal_id)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t buf[4096];
    cr_assert_leq(vn + 4, sizeof buf);
    if (vn)
        memcpy(buf, v, vn);
    if (k != NULL && seal_id >= 0) {
        XXH64_hash_t seed = XXH3_64bits_withSeed(k, kn, (XXH64_hash_t)seal_id);
        uint32_t seal = (uint32_t)XXH3_64bits_withSeed(v, vn, seed);
        for (int i = 0; i < 4; i++)
            buf[vn + (size_t)i] = (uint8_t)(seal >> (8 * i));
        vn += 4;
    }
    MDB_val key = {kn, (void *)k}, val = {vn, buf};
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    unsigned flags = MDB_CREATE | (dupsort ? MDB_DUPSORT | MDB_DUPFIXED : 0);
    cr_assert_eq(mdb_dbi_open(txn, db, flags, &dbi), 0, "table %s", db);
    if (k != NULL)
        cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* tq_test_raw_version() - meta `version` of the store at dir set to version (sealed), as
 * a store of that format wrote it. */
static inline void tq_test_raw_version(const char *dir, uint32_t version)
{
    uint8_t v[4] = {(uint8_t)version, (uint8_t)(version >> 8), (uint8_t)(version >> 16),
                    (uint8_t)(version >> 24)};
    tq_test_raw_put(dir, "meta", 0, "version", 7, v, sizeof v, 0);
}

#endif
