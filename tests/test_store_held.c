/* test_store_held.c - the held table of store format 4 (engine/tq_store_held.c): a
 * damaged row stops a list with TQ_ERR_DBCORRUPT naming table 'held' and its key (never
 * a row shown), and `check` finds a row that no longer copies its declaration or cover,
 * a lost row, and a row of a declaration that is not HELD.  (A list trusts a row whose
 * seal is sound: a stale one, which only a bug of the upkeep or a raw writer makes, is
 * found by check, not by a list -- that is the price of not reading decls.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "tq_list.h"
#include "tq_store.h"
#include "tq_store_check.h"
#include "tq_store_held.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(held, "tq_held", 60);

#define KEY_1 "01B1100000000001"       /* office + decl_no of the first declaration */

static void put(tq_store *s, const char *no, int state)
{
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(s, 0, &t), TQ_OK);
    tq_decl d = tq_test_decl(no, "01B1", "0101234567", state);
    d.tax_due = 100;
    d.reasons = state == TQ_STATE_HELD ? TQ_R_AWAIT_OFFICER : 0;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

static void pay(tq_store *s, const char *no, const char *receipt, uint64_t amount)
{
    tq_txn *t;
    tq_payment p = tq_test_pay(no, receipt, amount);
    cr_assert_eq(tq_txn_begin(s, 0, &t), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

/* Two HELD declarations of 01B1 (the first paid), one CLEARED. */
static void fill(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000001", TQ_STATE_HELD);
    put(s, "100000000002", TQ_STATE_CLEARED);
    put(s, "100000000003", TQ_STATE_HELD);
    pay(s, "100000000001", "KB-1", 60);
    tq_store_close(s);
}

/* Raw LMDB on table held, as a damaged disk or a stray writer would leave it. */
typedef enum { RAW_FLIP, RAW_DEL, RAW_GET, RAW_SET } raw_op;

static void raw(raw_op op, const char *key, size_t at, uint8_t *buf, size_t *n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {16, (void *)key}, v;
    uint8_t mine[4096];
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "held", 0, &dbi), 0);
    if (op == RAW_SET) {
        v.mv_size = *n;
        v.mv_data = buf;
        cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    } else if (op == RAW_DEL) {
        cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0, "row %.16s", key);
        cr_assert_lt(at, v.mv_size);
        cr_assert_leq(v.mv_size, sizeof mine);
        memcpy(op == RAW_GET ? buf : mine, v.mv_data, v.mv_size);
        if (op == RAW_GET) {
            *n = v.mv_size;
        } else {
            mine[at] ^= 0x10;
            v.mv_data = mine;
            cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        }
    }
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int count(void *ctx, const tq_list_row *row)
{
    (void)row;
    ++*(int *)ctx;
    return 0;
}

/* Lists 01B1's HELD declarations; *rows gets how many were shown; why the fault. */
static int list(int *rows, char *why, size_t cap)
{
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    tq_list_filter f;
    tq_list_stats st;
    tq_list_filter_init(&f);
    snprintf(f.office, sizeof f.office, "01B1");
    f.state = TQ_STATE_HELD;
    *rows = 0;
    int rc = tq_list_run(t, &f, count, rows, &st);
    cr_assert_eq(st.way, TQ_LIST_BY_HELD);
    tq_diag d;
    memset(&d, 0, sizeof d);
    if (rc == TQ_ERR_DBCORRUPT)
        tq_txn_fault(t, &d);
    snprintf(why, cap, "%s", d.why);
    tq_txn_abort(t);
    tq_store_close(s);
    return rc;
}

/* check()'s problems, as "table|key|what" lines. */
typedef tq_test_lines problems;

static void on_problem(void *ctx, const tq_check_problem *p)
{
    tq_test_lines_add(ctx, "%s|%s|%s", p->table, p->key, p->what);
}

static int check(problems *ps)
{
    tq_store_check_report rep;
    tq_diag d;
    memset(ps, 0, sizeof *ps);
    return tq_store_check(g_dir, NULL, on_problem, ps, &rep, &d);
}

static int any(const problems *ps, const char *a, const char *b)
{
    for (int i = 0; i < ps->n && i < TQ_TEST_LINES_MAX; i++)
        if (strstr(ps->line[i], a) && strstr(ps->line[i], b))
            return 1;
    return 0;
}

Test(held, a_sound_table_lists_and_checks_clean)
{
    fill();
    int rows;
    char why[400];
    cr_assert_eq(list(&rows, why, sizeof why), TQ_OK);
    cr_assert_eq(rows, 2);
    problems ps;
    cr_assert_eq(check(&ps), TQ_OK, "%s", ps.line[0]);
    cr_assert_eq(ps.n, 0);
}

Test(held, a_flipped_byte_stops_the_list_and_check_names_the_row)
{
    fill();
    uint8_t buf[4096];
    size_t n;
    raw(RAW_GET, KEY_1, 0, buf, &n);
    /* a byte of the declaration, of the cover, of the seal */
    size_t at[] = {5, n - 10, n - 1};
    for (size_t i = 0; i < 3; i++) {
        raw(RAW_SET, KEY_1, 0, buf, &n);        /* sound again */
        raw(RAW_FLIP, KEY_1, at[i], NULL, NULL);
        int rows;
        char why[400];
        cr_assert_eq(list(&rows, why, sizeof why), TQ_ERR_DBCORRUPT, "byte %zu", at[i]);
        cr_expect_eq(rows, 0, "no row shown before the damaged one");
        cr_expect(strstr(why, "table 'held'") && strstr(why, "100000000001"), "%s", why);
        problems ps;
        cr_assert_eq(check(&ps), TQ_ERR_DBCORRUPT);
        cr_expect(any(&ps, "held", "100000000001"), "%d: %s", ps.n, ps.line[0]);
    }
}

Test(held, check_finds_a_stale_row_and_a_lost_row)
{
    fill();
    uint8_t old[4096];
    size_t n;
    raw(RAW_GET, KEY_1, 0, old, &n);
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    pay(s, "100000000001", "KB-2", 40);         /* the row follows the cover */
    tq_store_close(s);
    problems ps;
    cr_assert_eq(check(&ps), TQ_OK, "%s", ps.line[0]);
    /* the row of before the payment, its seal sound: check compares it with the cover */
    raw(RAW_SET, KEY_1, 0, old, &n);
    cr_assert_eq(check(&ps), TQ_ERR_DBCORRUPT);
    cr_expect(any(&ps, "held", "cover differs"), "%s", ps.line[0]);
    /* and with the declaration: a row kept when its declaration left HELD */
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000003", TQ_STATE_HELD);
    tq_store_close(s);
    raw(RAW_GET, "01B1100000000003", 0, old, &n);
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000003", TQ_STATE_CLEARED);
    tq_store_close(s);
    raw(RAW_SET, "01B1100000000003", 0, old, &n);
    cr_assert_eq(check(&ps), TQ_ERR_DBCORRUPT);
    cr_expect(any(&ps, "held", "100000000003"), "%s", ps.line[0]);
    /* a lost row: the HELD declaration is named */
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000003", TQ_STATE_HELD);
    tq_store_close(s);
    raw(RAW_DEL, "01B1100000000003", 0, NULL, NULL);
    cr_assert_eq(check(&ps), TQ_ERR_DBCORRUPT);
    cr_expect(any(&ps, "decls", "without its row"), "%s", ps.line[0]);
}

Test(held, rows_follow_puts_and_payments)
{
    fill();
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000001", TQ_STATE_CLEARED);   /* leaves */
    put(s, "100000000002", TQ_STATE_HELD);      /* enters */
    pay(s, "100000000002", "KB-3", 100);
    pay(s, "100000000009", "KB-9", 5);          /* a payment before its declaration */
    put(s, "100000000009", TQ_STATE_HELD);
    tq_store_close(s);
    int rows;
    char why[400];
    cr_assert_eq(list(&rows, why, sizeof why), TQ_OK, "%s", why);
    cr_assert_eq(rows, 3);
    problems ps;
    cr_assert_eq(check(&ps), TQ_OK, "%s", ps.line[0]);
}

/* A killed 3 -> 4 upgrade, then a writer of format 3 clearing a declaration whose row the
 * build had made, then the upgrade again: the build starts over, so held keeps no row of
 * a declaration that is not HELD (a worklist would show it).  Going on after the last
 * row built would keep it. */
Test(held, a_killed_held_build_starts_over)
{
    fill();
    uint8_t row[4096];
    size_t n;
    raw(RAW_GET, "01B1100000000003", 0, row, &n);
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    put(s, "100000000003", TQ_STATE_CLEARED);
    tq_store_close(s);
    /* format 3 as it was, by_taxid and by_permit (none of these declarations names a
     * permit) beside by_office; the held build had reached 3's row, made while 3 was
     * HELD */
    tq_test_raw_version(g_dir, 3);
    for (int i = 1; i <= 3; i++) {
        char no[13];
        snprintf(no, sizeof no, "10000000000%d", i);
        tq_test_raw_put(g_dir, "by_taxid", 1, "0101234567", 10, no, 12, -1);
    }
    tq_test_raw_put(g_dir, "by_permit", 1, NULL, 0, NULL, 0, -1);
    raw(RAW_SET, "01B1100000000003", 0, row, &n);
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    cr_assert_eq(tq_store_format(s), 5);
    tq_store_close(s);
    problems ps;
    cr_assert_eq(check(&ps), TQ_OK, "%s", ps.line[0]);
    int rows;
    char why[256];
    cr_assert_eq(list(&rows, why, sizeof why), TQ_OK, "%s", why);
    cr_assert_eq(rows, 1, "01B1's HELD declarations: only 1");
}
