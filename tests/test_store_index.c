/* test_store_index.c - the secondary indexes (STORE.md §3.10): by_office, era_taxid and
 * era_permit follow every put of a declaration, walks come in decl_no order with the
 * state filter (a name's entries found era by era), counts per office, and a damaged
 * index entry is TQ_ERR_DBCORRUPT naming the index, never a wrong declaration.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(store_index, "tq_store_index", 60);

static tq_decl decl(const char *no, const char *office, int state, const char *declarant,
                    const char *p1, const char *p2)
{
    tq_decl d = tq_test_decl(no, office, declarant, state);
    d.nlines = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(d.lines[i].hs, sizeof d.lines[i].hs, "85171300");
        d.lines[i].qty = 1;
        d.lines[i].value = 1000u * (unsigned)i;
    }
    snprintf(d.lines[0].permit, sizeof d.lines[0].permit, "%s", p1);
    snprintf(d.lines[1].permit, sizeof d.lines[1].permit, "%s", p2);
    snprintf(d.lines[2].permit, sizeof d.lines[2].permit, "%s", p1);   /* repeated */
    return d;
}

static void put(tq_store *s, const tq_decl *d)
{
    tq_txn *t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl(t, d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

/* The damage tests' two declarations, each put in a transaction of its own, the store
 * closed after: a (100000000001, HN01, HELD, declarant 0101234567, permit P1) and b
 * (b_no at b_office in b_state, declarant 0309999999, permit P2).  @return a. */
static tq_decl store_a_and_b(const char *b_no, const char *b_office, int b_state)
{
    tq_decl a = decl("100000000001", "HN01", TQ_STATE_HELD, "0101234567", "P1", "");
    tq_decl b = decl(b_no, b_office, b_state, "0309999999", "P2", "");
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, &a);
    put(s, &b);
    tq_store_close(s);
    return a;
}

static int collect(void *ctx, const tq_decl *d)
{
    tq_test_lines_add(ctx, "%s", d->decl_no);
    return 0;
}

/* What tq_store_verify() says of s. */
static int verify(tq_store *s)
{
    tq_txn *t = tq_test_begin(s, 1);
    int rc = tq_store_verify(t, NULL, NULL, NULL);
    tq_txn_abort(t);
    return rc;
}

/* "a,b,c": the decl_nos listed under (idx, key, state), in the order given. */
static const char *by(tq_store *s, tq_store_index idx, const char *key, int state)
{
    static char out[256];
    tq_test_lines l = {0};
    tq_txn *t = tq_test_begin(s, 1);
    int rc = tq_store_each_decl_by(t, idx, key, state, collect, &l);
    tq_diag d;
    tq_txn_fault(t, &d);
    tq_txn_abort(t);
    cr_assert_eq(rc, TQ_OK, "each_decl_by %s: %s: %s", key, tq_strerror(rc), d.why);
    out[0] = '\0';
    for (int i = 0; i < l.n && i < TQ_TEST_LINES_MAX; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, l.line[i] + 9);     /* the last 3 digits are enough to read */
    }
    return out;
}

Test(store_index, puts_move_entries_when_state_office_permits_or_declarant_change)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_decl a = decl("100000000003", "HN01", TQ_STATE_HELD, "0101234567", "P1", "P2");
    tq_decl b = decl("100000000001", "HN01", TQ_STATE_HELD, "0101234567", "P2", "");
    tq_decl c = decl("100000000002", "SG02", TQ_STATE_CLEARED, "0309999999", "P1", "");
    put(s, &a);
    put(s, &b);
    put(s, &c);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD), "001,003");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "SG02", TQ_STATE_CLEARED), "002");
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0101234567", -1), "001,003");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P1", -1), "002,003", "P1 listed once for 003");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P2", -1), "001,003");

    /* state */
    a.state = TQ_STATE_CLEARED;
    put(s, &a);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_CLEARED), "003");
    /* office */
    snprintf(a.office, sizeof a.office, "SG02");
    put(s, &a);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", -1), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "SG02", TQ_STATE_CLEARED), "002,003");
    /* permits: P2 dropped, P3 added */
    snprintf(a.lines[1].permit, sizeof a.lines[1].permit, "P3");
    put(s, &a);
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P2", -1), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P3", -1), "003");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P1", -1), "002,003");
    /* declarant */
    snprintf(a.declarant, sizeof a.declarant, "0309999999");
    put(s, &a);
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0101234567", -1), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0309999999", -1), "002,003");
    /* an unchanged put changes nothing; an aborted one leaves the entries alone */
    put(s, &a);
    tq_txn *t = tq_test_begin(s, 0);
    b.state = TQ_STATE_CANCELLED;
    cr_assert_eq(tq_store_put_decl(t, &b), TQ_OK);
    tq_txn_abort(t);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_CANCELLED), "");
    /* the pipeline's path: encoded bytes, replacing and appending */
    uint8_t buf[TQ_STORE_DECL_ENC_MAX];
    size_t n;
    b.state = TQ_STATE_REJECTED;
    cr_assert_eq(tq_store_decl_encode(&b, buf, &n), TQ_OK);
    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl_encoded(t, b.decl_no, buf, n, 0), TQ_OK);
    tq_decl e = decl("100000000009", "HN01", TQ_STATE_REJECTED, "0101234567", "P9", "");
    cr_assert_eq(tq_store_decl_encode(&e, buf, &n), TQ_OK);
    cr_assert_eq(tq_store_put_decl_encoded(t, e.decl_no, buf, n, 1), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_REJECTED), "001,009");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD), "");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P9", -1), "009");
    cr_assert_eq(verify(s), TQ_OK);
    tq_store_close(s);
}

TQ_STORE_TEST(store_index, walks_are_in_decl_no_order_and_filter_by_state, 0)
{
    /* put out of order, states interleaved */
    static const int order[] = {7, 2, 9, 4, 1, 8, 3, 6, 5, 0};
    for (int i = 0; i < 10; i++) {
        char no[13];
        snprintf(no, sizeof no, "10000000000%d", order[i]);
        tq_decl d = decl(no, "HN01", 1 + order[i] % 3, "0101234567", "", "");
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", -1),
                     "000,001,002,003,004,005,006,007,008,009", "states merged");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_CLEARED), "000,003,006,009");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD), "001,004,007");
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0101234567", TQ_STATE_REJECTED),
                     "002,005,008");
    cr_assert_str_eq(by(s, TQ_INDEX_OFFICE, "ZZ99", -1), "", "an office with none");
    /* stop early: fn's value comes back */
    t = tq_test_begin(s, 1);
    tq_test_lines l = {0};
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, "HN01", -1, collect, &l), TQ_OK);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, "HN1", -1, collect, &l),
                 TQ_ERR_INPUT);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, "HN01", 5, collect, &l),
                 TQ_ERR_INPUT);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "bad permit", -1, collect, &l),
                 TQ_ERR_INPUT);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_DECLARANT, "", -1, collect, &l),
                 TQ_ERR_INPUT);
    tq_txn_abort(t);
}

typedef struct counts {
    int n;
    char office[8][5];
    uint64_t count[8];
} counts;

static int on_office(void *ctx, const char *office, uint64_t count)
{
    counts *c = ctx;
    snprintf(c->office[c->n], sizeof c->office[0], "%s", office);
    c->count[c->n++] = count;
    return 0;
}

static int stop_at_first(void *ctx, const char *office, uint64_t count)
{
    (void)office, (void)count;
    ++*(int *)ctx;
    return 42;
}

TQ_STORE_TEST(store_index, each_office_counts_per_office_and_state, 0)
{
    const char *offices[] = {"SG02", "HN01", "", "HN01", "SG02", "HN01"};
    const int states[] = {TQ_STATE_HELD, TQ_STATE_HELD, TQ_STATE_HELD, TQ_STATE_CLEARED,
                          TQ_STATE_HELD, TQ_STATE_HELD};
    for (int i = 0; i < 6; i++) {
        char no[13];
        snprintf(no, sizeof no, "20000000000%d", i);
        tq_decl d = decl(no, offices[i], states[i], "", "", "");
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 1);
    counts c = {0};
    cr_assert_eq(tq_store_each_office(t, TQ_STATE_HELD, on_office, &c), TQ_OK);
    cr_assert_eq(c.n, 3);
    cr_assert_str_eq(c.office[0], "", "no office first");
    cr_assert_eq(c.count[0], 1);
    cr_assert_str_eq(c.office[1], "HN01");
    cr_assert_eq(c.count[1], 2);
    cr_assert_str_eq(c.office[2], "SG02");
    cr_assert_eq(c.count[2], 2);
    memset(&c, 0, sizeof c);
    cr_assert_eq(tq_store_each_office(t, -1, on_office, &c), TQ_OK);
    cr_assert_eq(c.n, 3);
    cr_assert_eq(c.count[1], 3, "HN01 in every state");
    memset(&c, 0, sizeof c);
    cr_assert_eq(tq_store_each_office(t, TQ_STATE_CANCELLED, on_office, &c), TQ_OK);
    cr_assert_eq(c.n, 0);
    int calls = 0;
    cr_assert_eq(tq_store_each_office(t, -1, stop_at_first, &calls), 42);
    cr_assert_eq(calls, 1);
    cr_assert_eq(tq_store_each_office(t, 7, on_office, &c), TQ_ERR_INPUT);
    tq_txn_abort(t);
}

/* Raw LMDB, as damage would leave the index: entry `from` under key replaced by `to`. */
static void raw_move_entry(const char *db, const void *key, size_t kn, const char *from,
                           const char *to)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {kn, (void *)key}, v = {12, (void *)from};
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, MDB_DUPSORT | MDB_DUPFIXED | MDB_CREATE, &dbi), 0);
    if (from)
        cr_assert_eq(mdb_del(txn, dbi, &k, &v), 0);
    if (to) {
        v.mv_data = (void *)to;
        cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Opens the store (closed by the caller after its raw damage), requires a walk of (idx,
 * key, state) and verify to say TQ_ERR_DBCORRUPT, the walk's fault `want`, and never
 * 100000000002 listed; closes it. */
static void expect_damage(tq_store_index idx, const char *key, int state, const char *want)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 1);
    tq_test_lines l = {0};
    tq_diag d;
    cr_assert_eq(tq_store_each_decl_by(t, idx, key, state, collect, &l), TQ_ERR_DBCORRUPT);
    tq_txn_fault(t, &d);
    cr_assert(strstr(d.why, want) != NULL, "%s", d.why);
    for (int i = 0; i < l.n && i < TQ_TEST_LINES_MAX; i++)
        cr_assert_neq(strcmp(l.line[i], "100000000002"), 0, "the wrong declaration listed");
    uint64_t records;
    cr_assert_eq(tq_store_verify(t, NULL, NULL, &records), TQ_ERR_DBCORRUPT);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(store_index, a_damaged_entry_is_dbcorrupt_never_a_wrong_declaration)
{
    tq_decl a = store_a_and_b("100000000002", "SG02", TQ_STATE_CLEARED);

    /* an entry that points to a declaration without that key */
    raw_move_entry("by_office", "HN01\x02", 5, NULL, "100000000002");
    expect_damage(TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD,
                  "table 'by_office', key 'HN01\\x02': entry names declaration "
                  "'100000000002', which does not have this key");
    raw_move_entry("by_office", "HN01\x02", 5, "100000000002", NULL);

    /* an entry that points to nothing */
    raw_move_entry("era_taxid", "10000000101234567", 17, "100000000001", "100000000007");
    expect_damage(TQ_INDEX_DECLARANT, "0101234567", -1,
                  "entry names declaration '100000000007', which does not exist");
    /* a lost office entry: the put that would move it says so (by_office is kept at
     * once; era_taxid and era_permit changes are applied sorted at the commit, where a
     * lost entry is simply not deleted and verify reports it) */
    raw_move_entry("by_office", "HN01\x02", 5, "100000000001", NULL);
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    a.state = TQ_STATE_CLEARED;
    cr_assert_eq(tq_store_put_decl(t, &a), TQ_ERR_DBCORRUPT);
    tq_diag d;
    tq_txn_fault(t, &d);
    cr_assert(strstr(d.why, "table 'by_office', key 'HN01\\x02': no entry for declaration "
                            "'100000000001'") != NULL, "%s", d.why);
    tq_txn_abort(t);
    tq_store_close(s);
    raw_move_entry("by_office", "HN01\x02", 5, NULL, "100000000001");

    /* an entry that is not a decl_no */
    raw_move_entry("era_taxid", "10000000101234567", 17, "100000000007", "1000000000x1");
    expect_damage(TQ_INDEX_DECLARANT, "0101234567", -1, "entry is not a decl_no");
}

/* by_taxid and by_permit changes wait in the transaction; a walk in that transaction
 * sees them, and so does the next one after the commit, and an abort drops them. */
TQ_STORE_TEST(store_index, deferred_changes_are_seen_by_walks_in_the_same_transaction, 0)
{
    for (int i = 1; i <= 300; i++) {
        char no[13], taxid[16];
        snprintf(no, sizeof no, "3%011d", i);
        snprintf(taxid, sizeof taxid, "01%08d", (i * 7919) % 97);   /* keys out of order */
        tq_decl d = decl(no, "HN01", TQ_STATE_HELD, taxid, i % 2 ? "PA" : "PB", "PC");
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    tq_test_lines l = {0};
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "PA", -1, collect, &l), TQ_OK);
    cr_assert_eq(l.n, 150);
    tq_decl d = decl("300000000001", "HN01", TQ_STATE_HELD, "0199999999", "PB", "");
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);      /* moves 001 from PA to PB */
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_OK, "verify syncs first");
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0199999999", -1), "001");
    memset(&l, 0, sizeof l);
    t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "PA", -1, collect, &l), TQ_OK);
    cr_assert_eq(l.n, 149);
    memset(&l, 0, sizeof l);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "PC", -1, collect, &l), TQ_OK);
    cr_assert_eq(l.n, 299, "001 no longer names PC");
    tq_txn_abort(t);
    t = tq_test_begin(s, 0);
    d = decl("300000000002", "HN01", TQ_STATE_HELD, "0188888888", "PZ", "");
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_txn_abort(t);
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "PZ", -1), "", "an abort drops them");
    cr_assert_eq(verify(s), TQ_OK);
}

Test(store_index, verify_finds_a_lost_entry)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_decl a = decl("100000000001", "HN01", TQ_STATE_HELD, "0101234567", "P1", "");
    put(s, &a);
    tq_store_close(s);
    raw_move_entry("era_permit", "1000000P1", 9, "100000000001", NULL);
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    cr_assert_eq(verify(s), TQ_ERR_DBCORRUPT);
    tq_store_close(s);
}

/* ---- eras (format 5) ---- */

/* Raw LMDB, the store closed: whether table db holds entry decl under key. */
static int raw_has(const char *db, const char *key, const char *decl)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c = NULL;
    MDB_val k = {strlen(key), (void *)key}, v = {12, (void *)decl};
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 24), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    int has = mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_cursor_open(txn, dbi, &c) == 0 &&
              mdb_cursor_get(c, &k, &v, MDB_GET_BOTH) == 0;
    if (c)
        mdb_cursor_close(c);        /* a read-only transaction's are the caller's */
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return has;
}

/* The key is the decl_no's first seven digits, then the name; by_taxid and by_permit are
 * no more. */
Test(store_index, era_keys_are_the_first_six_digits_then_the_name)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_decl a = decl("123456000001", "HN01", TQ_STATE_HELD, "0101234567", "P1", "P2");
    put(s, &a);
    tq_store_close(s);
    cr_assert(raw_has("era_taxid", "12345600101234567", "123456000001"));
    cr_assert(raw_has("era_permit", "1234560P1", "123456000001"));
    cr_assert(raw_has("era_permit", "1234560P2", "123456000001"));
    cr_assert_not(raw_has("era_taxid", "0101234567", "123456000001"));
    cr_assert_not(raw_has("by_taxid", "0101234567", "123456000001"), "no by_taxid in format 5");
}

/* A model of many declarations over scattered eras, under names that are prefixes of
 * each other, with eras holding only lesser or only greater names: every name's list is
 * exactly its declarations in decl_no order, before and after moves between eras'
 * names. */
#define ERA_N 1500
static const char *const era_taxid[] = {"0101234567", "010123456", "0101234568",
                                        "01012345670", "0100000000", "0999999999999"};
static const char *const era_permit[] = {"P1", "P10", "P0", "P1A", "Q", "P"};
#define ERA_NT (sizeof era_taxid / sizeof era_taxid[0])
#define ERA_NP (sizeof era_permit / sizeof era_permit[0])

typedef struct era_m {
    char no[13];
    unsigned tx, p1, p2;
} era_m;

static void era_expect(tq_store *s, const era_m *m, size_t n, tq_store_index idx,
                       unsigned name)
{
    const char *key = idx == TQ_INDEX_DECLARANT ? era_taxid[name] : era_permit[name];
    tq_test_lines l = {0};
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_each_decl_by(t, idx, key, -1, collect, &l), TQ_OK, "%s", key);
    tq_txn_abort(t);
    int want = 0;
    for (size_t i = 0; i < n; i++) {
        int has = idx == TQ_INDEX_DECLARANT ? m[i].tx == name
                                            : m[i].p1 == name || m[i].p2 == name;
        if (!has)
            continue;
        cr_assert_lt(want, l.n, "%s: %d listed, more wanted (%s)", key, l.n, m[i].no);
        if (want < TQ_TEST_LINES_MAX)
            cr_assert_str_eq(l.line[want], m[i].no, "%s: entry %d", key, want);
        want++;
    }
    cr_assert_eq(l.n, want, "%s: %d listed, %d wanted", key, l.n, want);
}

static int era_no_cmp(const void *a, const void *b)
{
    return strcmp(((const era_m *)a)->no, ((const era_m *)b)->no);
}

Test(store_index, a_name_is_found_in_every_era_and_nowhere_else)
{
    static const char *const eras[] = {"1000000", "1000001", "1000002", "2500000", "2500001",
                                       "3000000", "4000000", "9999998", "9999999"};
    era_m *m = calloc(ERA_N, sizeof *m);
    cr_assert_not_null(m);
    unsigned seed = 20261204;
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    for (size_t i = 0; i < ERA_N; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned e = (seed >> 8) % (sizeof eras / sizeof eras[0]);
        snprintf(m[i].no, sizeof m[i].no, "%s%05zu", eras[e], i);
        /* era 3000000 holds only the least names, 4000000 only the greatest */
        m[i].tx = e == 5 ? 4 : e == 6 ? 5 : (seed >> 16) % ERA_NT;
        m[i].p1 = e == 5 ? 2 : e == 6 ? 4 : (seed >> 20) % ERA_NP;
        m[i].p2 = (seed >> 24) % ERA_NP;
        tq_decl d = decl(m[i].no, "HN01", TQ_STATE_HELD, era_taxid[m[i].tx],
                         era_permit[m[i].p1], era_permit[m[i].p2]);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    qsort(m, ERA_N, sizeof *m, era_no_cmp);
    for (unsigned k = 0; k < ERA_NT; k++)
        era_expect(s, m, ERA_N, TQ_INDEX_DECLARANT, k);
    for (unsigned k = 0; k < ERA_NP; k++)
        era_expect(s, m, ERA_N, TQ_INDEX_PERMIT, k);
    /* moves: every third declaration to another declarant and permit */
    t = tq_test_begin(s, 0);
    for (size_t i = 0; i < ERA_N; i += 3) {
        m[i].tx = (m[i].tx + 1) % ERA_NT;
        m[i].p1 = (m[i].p1 + 1) % ERA_NP;
        tq_decl d = decl(m[i].no, "HN01", TQ_STATE_HELD, era_taxid[m[i].tx],
                         era_permit[m[i].p1], era_permit[m[i].p2]);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    for (unsigned k = 0; k < ERA_NT; k++)
        era_expect(s, m, ERA_N, TQ_INDEX_DECLARANT, k);
    for (unsigned k = 0; k < ERA_NP; k++)
        era_expect(s, m, ERA_N, TQ_INDEX_PERMIT, k);
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0101234569", -1), "", "a name never used");
    cr_assert_eq(verify(s), TQ_OK);
    tq_store_close(s);
    free(m);
}

/* An entry under the wrong era names a declaration without that key; a key whose era is
 * not seven digits is damage the walk names. */
Test(store_index, an_entry_in_the_wrong_era_or_a_bad_era_is_dbcorrupt)
{
    store_a_and_b("200000000002", "HN01", TQ_STATE_HELD);
    /* b's entry copied under a's name in b's era: b has another declarant */
    raw_move_entry("era_taxid", "20000000101234567", 17, NULL, "200000000002");
    expect_damage(TQ_INDEX_DECLARANT, "0101234567", -1,
                  "table 'era_taxid', key '20000000101234567': entry names declaration "
                  "'200000000002', which does not have this key");
    raw_move_entry("era_taxid", "20000000101234567", 17, "200000000002", NULL);
    /* a's entry moved to an era that is not a's */
    raw_move_entry("era_permit", "1000000P1", 9, "100000000001", NULL);
    raw_move_entry("era_permit", "1000001P1", 9, NULL, "100000000001");
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 1);
    tq_test_lines l = {0};
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "P1", -1, collect, &l),
                 TQ_ERR_DBCORRUPT);
    cr_assert_eq(l.n, 0);
    tq_diag d;
    tq_txn_fault(t, &d);
    cr_assert(strstr(d.why, "key '1000001P1'") && strstr(d.why, "does not have this key"),
              "%s", d.why);
    tq_txn_abort(t);
    cr_assert_eq(verify(s), TQ_ERR_DBCORRUPT, "and verify misses a's entry in its era");
    tq_store_close(s);
    raw_move_entry("era_permit", "1000001P1", 9, "100000000001", NULL);
    raw_move_entry("era_permit", "1000000P1", 9, NULL, "100000000001");
    /* an era that is not digits, where the walk of P2 must step over it */
    raw_move_entry("era_permit", "100000xP2", 9, NULL, "100000000001");
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    t = tq_test_begin(s, 1);
    memset(&l, 0, sizeof l);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_PERMIT, "P2", -1, collect, &l),
                 TQ_ERR_DBCORRUPT);
    tq_txn_fault(t, &d);
    cr_assert(strstr(d.why, "table 'era_permit', key '100000xP2': key is not an era") != NULL,
              "%s", d.why);
    tq_txn_abort(t);
    tq_store_close(s);
}

/* A killed 4 -> 5 upgrade, then a writer of format 4 changing a declaration the build
 * had done, then the upgrade again: the build starts over, so the era indexes hold what
 * decls hold.  Going on after the marker would keep the entry built from the old value
 * and miss the new one. */
Test(store_index, a_killed_era_build_starts_over)
{
    store_a_and_b("100000000002", "SG02", TQ_STATE_CLEARED);
    /* format 4 as it was: by_taxid and by_permit; the era build done up to a, when a's
     * declarant was 0188888888 (a writer of format 4 changed it to 0101234567 since) */
    tq_test_raw_version(g_dir, 4);
    tq_test_raw_put(g_dir, "meta", 0, "upgrade", 7, "100000000001", 12, 0);
    tq_test_raw_put(g_dir, "by_taxid", 1, "0101234567", 10, "100000000001", 12, -1);
    tq_test_raw_put(g_dir, "by_taxid", 1, "0309999999", 10, "100000000002", 12, -1);
    tq_test_raw_put(g_dir, "by_permit", 1, "P1", 2, "100000000001", 12, -1);
    tq_test_raw_put(g_dir, "by_permit", 1, "P2", 2, "100000000002", 12, -1);
    raw_move_entry("era_taxid", "10000000101234567", 17, "100000000001", NULL);
    raw_move_entry("era_taxid", "10000000188888888", 17, NULL, "100000000001");
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    cr_assert_eq(tq_store_format(s), 5);
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0101234567", -1), "001");
    cr_assert_str_eq(by(s, TQ_INDEX_DECLARANT, "0188888888", -1), "");
    cr_assert_str_eq(by(s, TQ_INDEX_PERMIT, "P2", -1), "002");
    cr_assert_eq(verify(s), TQ_OK);
    tq_store_close(s);
    cr_assert_not(raw_has("by_taxid", "0101234567", "100000000001"), "by_taxid dropped");
}
