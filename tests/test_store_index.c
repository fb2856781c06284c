/* test_store_index.c - the secondary indexes of store format 3 (STORE.md §3.10):
 * by_office, by_taxid, by_permit follow every put of a declaration, walks come in
 * decl_no order with the state filter, counts per office, and a damaged index entry is
 * TQ_ERR_DBCORRUPT naming the index, never a wrong declaration.
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
    cr_assert_eq(mdb_dbi_open(txn, db, MDB_DUPSORT | MDB_DUPFIXED, &dbi), 0);
    if (from)
        cr_assert_eq(mdb_del(txn, dbi, &k, &v), 0);
    if (to) {
        v.mv_data = (void *)to;
        cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void expect_damage(tq_store *s, tq_store_index idx, const char *key, int state,
                          const char *want)
{
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
}

Test(store_index, a_damaged_entry_is_dbcorrupt_never_a_wrong_declaration)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_decl a = decl("100000000001", "HN01", TQ_STATE_HELD, "0101234567", "P1", "");
    tq_decl b = decl("100000000002", "SG02", TQ_STATE_CLEARED, "0309999999", "P2", "");
    put(s, &a);
    put(s, &b);
    tq_store_close(s);

    /* an entry that points to a declaration without that key */
    raw_move_entry("by_office", "HN01\x02", 5, NULL, "100000000002");
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    expect_damage(s, TQ_INDEX_OFFICE, "HN01", TQ_STATE_HELD,
                  "table 'by_office', key 'HN01\\x02': entry names declaration "
                  "'100000000002', which does not have this key");
    tq_store_close(s);
    raw_move_entry("by_office", "HN01\x02", 5, "100000000002", NULL);

    /* an entry that points to nothing */
    raw_move_entry("by_taxid", "0101234567", 10, "100000000001", "100000000007");
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    expect_damage(s, TQ_INDEX_DECLARANT, "0101234567", -1,
                  "entry names declaration '100000000007', which does not exist");
    tq_store_close(s);
    /* a lost office entry: the put that would move it says so (by_office is kept at
     * once; by_taxid and by_permit changes are applied sorted at the commit, where a
     * lost entry is simply not deleted and verify reports it) */
    raw_move_entry("by_office", "HN01\x02", 5, "100000000001", NULL);
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
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
    raw_move_entry("by_taxid", "0101234567", 10, "100000000007", "1000000000x1");
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    expect_damage(s, TQ_INDEX_DECLARANT, "0101234567", -1, "entry is not a decl_no");
    tq_store_close(s);
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
    raw_move_entry("by_permit", "P1", 2, "100000000001", NULL);
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    cr_assert_eq(verify(s), TQ_ERR_DBCORRUPT);
    tq_store_close(s);
}
