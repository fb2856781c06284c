/* test_store_check_marks.c - the journal marks and gaps of tq_store_check() (step 3):
 * each row counted, and each problem named by its table and its journal's id in hex.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "tq_store.h"
#include "tq_store_check.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(check_marks, "tq_ckmarks", 60);

#define ID_1 "01020300000000000000000000000000"
#define ID_2 "01020400000000000000000000000000"

/* The problems a check must list, in order: table, key, and how what begins. */
typedef struct expected {
    const char *const (*want)[3];
    int n, seen;
} expected;

static void on_problem(void *ctx, const tq_check_problem *p)
{
    expected *e = ctx;
    cr_assert_lt(e->seen, e->n, "one more problem: %s %s %s", p->table, p->key, p->what);
    const char *const *w = e->want[e->seen++];
    cr_assert_str_eq(p->table, w[0]);
    cr_assert_str_eq(p->key, w[1], "%s: key", p->table);
    cr_assert(strncmp(p->what, w[2], strlen(w[2])) == 0, "%s: %s", p->table, p->what);
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

    static const char *const want[][3] = {
        {"journals", ID_1, "5 frames applied but last seq 3"},
        {"gaps", ID_2, "a gap (seq 2..3) of a journal never applied"},
    };
    expected e = {want, 2, 0};
    tq_store_check_report rep;
    tq_diag d;
    cr_assert_eq(tq_store_check(g_dir, NULL, on_problem, &e, &rep, &d), TQ_ERR_DBCORRUPT);
    cr_assert_eq(e.seen, 2, "every problem listed");
    cr_assert_eq(rep.journals, 1);
    cr_assert_eq(rep.gaps, 2);
}
