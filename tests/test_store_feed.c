/* test_store_feed.c - the change feed of store format 3 (STORE.md §3.11): numbers from
 * one counter in add order, committed with their transaction (an abort leaves no gap),
 * read back from any point, damage is TQ_ERR_DBCORRUPT.
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

TQ_TESTDIR_SUITE(store_feed, "tq_store_feed", 60);

static tq_change change(int i)
{
    tq_change c;
    memset(&c, 0, sizeof c);
    snprintf(c.decl_no, sizeof c.decl_no, "1%011d", i);
    c.state = (uint8_t)(1 + i % 4);
    c.manual = (uint8_t)(i % 2);
    c.cause = TQ_CHANGE_EVENT;
    c.reasons = (uint32_t)i % 256;
    c.version = (uint32_t)i * 7;
    memset(c.src_id, i, sizeof c.src_id);
    c.src_seq = 1000u + (unsigned)i;
    return c;
}

static void add(tq_txn *t, int i, uint64_t want_no)
{
    tq_change c = change(i);
    cr_assert_eq(tq_store_add_change(t, &c), TQ_OK);
    cr_assert_eq(c.no, want_no);
}

TQ_TEST_COLLECTOR(seen, tq_change, 64)

Test(store_feed, numbers_ascend_in_add_order_and_read_back_exactly)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    uint64_t last = 99;
    cr_assert_eq(tq_store_last_change(t, &last), TQ_OK);
    cr_assert_eq(last, 0, "an empty feed");
    for (int i = 1; i <= 5; i++)
        add(t, i, (uint64_t)i);
    cr_assert_eq(tq_store_last_change(t, &last), TQ_OK);
    cr_assert_eq(last, 5, "seen inside the transaction");
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 0);
    add(t, 6, 6);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);

    s = tq_test_open(g_dir, 0);
    t = tq_test_begin(s, 1);
    seen got = {0};
    cr_assert_eq(tq_store_each_change(t, 0, seen_take, &got), TQ_OK);
    cr_assert_eq(got.n, 6);
    for (int i = 0; i < 6; i++) {
        tq_change want = change(i + 1);
        want.no = (uint64_t)i + 1;
        cr_assert_eq(memcmp(&got.v[i], &want, sizeof want), 0, "change %d", i + 1);
    }
    memset(&got, 0, sizeof got);
    cr_assert_eq(tq_store_each_change(t, 4, seen_take, &got), TQ_OK);
    cr_assert_eq(got.n, 2, "since 4: 5 and 6");
    cr_assert_eq(got.v[0].no, 5);
    memset(&got, 0, sizeof got);
    cr_assert_eq(tq_store_each_change(t, 6, seen_take, &got), TQ_OK);
    cr_assert_eq(got.n, 0);
    cr_assert_eq(tq_store_each_change(t, UINT64_MAX, seen_take, &got), TQ_OK);
    cr_assert_eq(tq_store_last_change(t, &last), TQ_OK);
    cr_assert_eq(last, 6);
    tq_change c = change(1);
    cr_assert_eq(tq_store_add_change(t, &c), TQ_ERR_STORE, "a reader adds nothing");
    tq_txn_abort(t);
    tq_store_close(s);
}

TQ_STORE_TEST(store_feed, an_aborted_transaction_leaves_no_gap, 0)
{
    add(t, 1, 1);
    add(t, 2, 2);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 0);
    add(t, 3, 3);
    add(t, 4, 4);
    tq_txn_abort(t);
    t = tq_test_begin(s, 0);
    add(t, 5, 3);       /* the aborted numbers were never given */
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 1);
    seen got = {0};
    cr_assert_eq(tq_store_each_change(t, 0, seen_take, &got), TQ_OK);
    cr_assert_eq(got.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(got.v[i].no, (uint64_t)i + 1);
    cr_assert_str_eq(got.v[2].decl_no, "100000000005");
    tq_txn_abort(t);
}

TQ_STORE_TEST(store_feed, bad_changes_are_refused, 0)
{
    tq_change c = change(1);
    c.state = TQ_STATE_PENDING;
    cr_assert_eq(tq_store_add_change(t, &c), TQ_ERR_INPUT);
    c = change(1);
    c.cause = 0;
    cr_assert_eq(tq_store_add_change(t, &c), TQ_ERR_INPUT);
    c = change(1);
    c.decl_no[0] = '0';
    cr_assert_eq(tq_store_add_change(t, &c), TQ_ERR_INPUT);
    c = change(1);
    c.reasons = 256;
    cr_assert_eq(tq_store_add_change(t, &c), TQ_ERR_INPUT);
    add(t, 1, 1);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

Test(store_feed, a_damaged_change_is_dbcorrupt)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    for (int i = 1; i <= 3; i++)
        add(t, i, (uint64_t)i);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);

    /* flip one byte of change 2 */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 2}, buf[64];
    MDB_val k = {8, key}, v;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "changes", 0, &dbi), 0);
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(buf, v.mv_data, v.mv_size);
    buf[13] ^= 0x04;
    v.mv_data = buf;
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    s = tq_test_open(g_dir, 0);
    t = tq_test_begin(s, 1);
    seen got = {0};
    cr_assert_eq(tq_store_each_change(t, 0, seen_take, &got), TQ_ERR_DBCORRUPT);
    cr_assert_eq(got.n, 1, "change 1 came before the damage");
    tq_diag d;
    tq_txn_fault(t, &d);
    cr_assert(strstr(d.why, "table 'changes', key '0000000000000002'") != NULL, "%s", d.why);
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_ERR_DBCORRUPT);
    tq_txn_abort(t);
    tq_store_close(s);
}
