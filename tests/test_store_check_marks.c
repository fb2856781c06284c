/* test_store_check_marks.c - the journal marks and gaps of tq_store_check() (step 3):
 * each row counted, and each problem named by its table and its journal's id in hex.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_store.h"
#include "tq_store_check.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(check_marks, "tq_ckmarks", 60);

#define ID_1 "01020300000000000000000000000000"
#define ID_2 "01020400000000000000000000000000"

typedef struct problems {
    int n;
    char line[8][400];
} problems;

static void on_problem(void *ctx, const tq_check_problem *p)
{
    problems *ps = ctx;
    if (ps->n < 8)
        snprintf(ps->line[ps->n], sizeof ps->line[0], "%s|%s|%s", p->table, p->key, p->what);
    ps->n++;
}

Test(check_marks, marks_and_gaps_are_counted_and_named_by_their_journal)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_journal_mark m = {.id = {1, 2, 3}, .last_seq = 3, .frames = 5};
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_gap g = {.id = {1, 2, 3}, .first = 2, .last = 3};
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    g.id[2] = 4;            /* a journal without a mark */
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);

    problems ps = {0};
    tq_store_check_report rep;
    tq_diag d;
    cr_assert_eq(tq_store_check(g_dir, NULL, on_problem, &ps, &rep, &d), TQ_ERR_DBCORRUPT);
    cr_assert_eq(rep.journals, 1);
    cr_assert_eq(rep.gaps, 2);
    cr_assert_eq(ps.n, 2, "%s", ps.line[0]);
    cr_assert_str_eq(ps.line[0], "journals|" ID_1 "|5 frames applied but last seq 3");
    cr_assert(strncmp(ps.line[1], "gaps|" ID_2 "|a gap (seq 2..3) of a journal never",
                      strlen("gaps|" ID_2 "|a gap (seq 2..3) of a journal never")) == 0,
              "%s", ps.line[1]);
}
