/* test_worklist.c - the officers' worklists (tq_worklist): which held declarations go on
 * which office's list with the deadline's verdict, the tax-paid list, the refusal to
 * overwrite without force and the stale files removed with it, and the per-office count
 * of held declarations the nightly job's gauge reads. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tq_path.h"
#include "tq_worklist.h"

#define TQ_TESTDIR_PATHS 8
#include "tq_testdir.h"
#include "tq_testfiles.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(worklist, "tq_worklist", 60);

#define T0 1722910500 /* 2024-08-06T09:15:00+07:00 */

static void put(tq_txn *t, const char *no, const char *office, int state, uint32_t reasons,
                int64_t registered, uint64_t tax_due)
{
    tq_decl d = tq_test_decl(no, office, "0101234567", state);
    d.reasons = reasons;
    d.tax_due = tax_due;
    d.registered.sec = registered;
    d.reg_day = tq_instant_vn_day(d.registered);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK, "%s", no);
}

static tq_store *fixture(void)
{
    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    put(t, "100000000011", "01B1", TQ_STATE_HELD, TQ_R_AWAIT_OFFICER, T0, 1000);
    put(t, "100000000012", "01B1", TQ_STATE_HELD, TQ_R_AWAIT_OFFICER, T0 + 3 * 3600, 2000);
    put(t, "100000000013", "01B1", TQ_STATE_CLEARED, 0, T0, 0);
    put(t, "100000000016", "01B1", TQ_STATE_HELD, TQ_R_PERMIT_MISSING, T0 + 2 * 3600, 9);
    put(t, "100000000014", "02C2", TQ_STATE_HELD, TQ_R_TAX_SHORT, T0, 500);
    put(t, "100000000015", NULL, TQ_STATE_HELD, TQ_R_AWAIT_OFFICER, T0, 0);
    /* 11 paid in full, 12 and 14 not at all, 15 owes nothing */
    tq_payment p = {.decl_no = "100000000011", .receipt_no = "KB-1", .kind = TQ_PAY,
                    .amount = 1000, .valid_until = TQ_NO_DATE};
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    return s;
}

static char *slurp(const char *dir, const char *name)
{
    char *p = tq_path_join(dir, name), *buf = tq_test_text(p);
    free(p);
    return buf;
}

typedef struct seen {
    char text[256];
} seen;

static int on_office(void *ctx, const char *office, uint64_t count)
{
    seen *s = ctx;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "[%s]=%llu ", office, (unsigned long long)count);
    return 0;
}

Test(worklist, held_by_office_counts_the_held_only)
{
    tq_store *s = fixture();
    seen x = {""};
    cr_assert_eq(tq_worklist_held_by_office(s, on_office, &x), TQ_OK);
    cr_expect_str_eq(x.text, "[]=1 [01B1]=3 [02C2]=1 ");
    tq_store_close(s);
}

/* Held on AWAIT_OFFICER: on its office's list (and office-unknown.csv without one), with
 * the deadline passed or not as of the time given; held for tax only: on no list. */
Test(worklist, lists_by_office_with_the_deadline)
{
    tq_store *s = fixture();
    char *out = strdup(path_in("lists/today"));
    tq_worklist_opts o = {.deadline = 7200};
    o.as_of.sec = T0 + 4 * 3600; /* 11 is 4 h old, 12 1 h, 16 2 h: at its deadline */
    tq_worklist_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_worklist_write(s, out, &o, &st, &d), TQ_OK, "%s", d.why);
    cr_expect_eq(st.files, 3); /* office-01B1, office-unknown, tax-paid-held */
    cr_expect_eq(st.rows, 4);
    cr_expect_eq(st.past_deadline, 3);
    cr_expect_eq(st.tax_paid_held, 2);
    char *b = slurp(out, "office-01B1.csv");
    cr_expect_str_eq(b, "decl_no,office,kind,declarant,registered_at,age,deadline_at,"
                        "deadline_passed,reasons,permits,permit_problems\n"
                        "100000000011,01B1,A11,0101234567,2024-08-06T09:15:00+07:00,4h00m,"
                        "2024-08-06T11:15:00+07:00,yes,AWAIT_OFFICER,,\n"
                        "100000000012,01B1,A11,0101234567,2024-08-06T12:15:00+07:00,1h00m,"
                        "2024-08-06T14:15:00+07:00,no,AWAIT_OFFICER,,\n"
                        "100000000016,01B1,A11,0101234567,2024-08-06T11:15:00+07:00,2h00m,"
                        "2024-08-06T13:15:00+07:00,yes,PERMIT_MISSING,,\n");
    free(b);
    b = slurp(out, "office-unknown.csv");
    cr_expect_not_null(strstr(b, "\n100000000015,,"), "%s", b);
    free(b);
    struct stat sb;
    char *p = tq_path_join(out, "office-02C2.csv");
    cr_expect_neq(stat(p, &sb), 0, "a declaration held for tax only is on an office list");
    free(p);
    b = slurp(out, TQ_WORKLIST_TAX_PAID);
    cr_expect_str_eq(b, "decl_no,office,kind,declarant,registered_at,age,tax_due,covered,"
                        "reasons\n"
                        "100000000011,01B1,A11,0101234567,2024-08-06T09:15:00+07:00,4h00m,1000,"
                        "1000,AWAIT_OFFICER\n"
                        "100000000015,,,0101234567,2024-08-06T09:15:00+07:00,4h00m,0,0,"
                        "AWAIT_OFFICER\n");
    free(b);
    free(out);
    tq_store_close(s);
}

/* Without force an earlier run's lists stop it before anything is written; with force
 * they are replaced and an office list this run did not write is removed. */
Test(worklist, force_replaces_and_removes_stale_lists)
{
    tq_store *s = fixture();
    char *out = strdup(path_in("lists"));
    tq_worklist_opts o = {.deadline = 7200};
    o.as_of.sec = T0 + 4 * 3600;
    tq_worklist_stats st;
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_worklist_write(s, out, &o, &st, &d), TQ_OK, "%s", d.why);
    char *stale = tq_path_join(out, "office-09Z9.csv");
    FILE *f = fopen(stale, "w");
    cr_assert_not_null(f);
    fclose(f);
    struct timespec old[2] = {{.tv_sec = T0}, {.tv_sec = T0}}; /* an earlier run's */
    cr_assert_eq(utimensat(AT_FDCWD, stale, old, 0), 0);
    memset(&d, 0, sizeof d);
    cr_expect_eq(tq_worklist_write(s, out, &o, &st, &d), TQ_ERR_EXISTS);
    cr_expect_not_null(strstr(d.why, " exists (use --force to replace the worklists"), "%s",
                       d.why);
    o.force = 1;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_worklist_write(s, out, &o, &st, &d), TQ_OK, "%s", d.why);
    cr_expect_eq(st.removed, 1);
    struct stat sb;
    cr_expect_neq(stat(stale, &sb), 0, "the stale list stayed");
    free(stale);
    free(out);
    tq_store_close(s);
}
