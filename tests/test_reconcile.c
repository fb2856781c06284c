/* test_reconcile.c - what tq_reconcile_run() (engine/tq_reconcile.c) tells its caller
 * after the re-evaluation: the declarations it leaves HELD (still_held, with their new
 * reasons and tax_short, in decl_no order) and the totals it leaves (tally_after).  A
 * dry run reports exactly what the real run then does, and changes nothing.
 *
 * (The order of re-evaluation, the feed and the offices are in test_feed_paths.c.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_export.h"
#include "tq_reconcile.h"
#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(reconcile, "tq_reconcile", 60);

/* 2024-08-06T09:00:00+07:00 */
#define T0 1722909600LL

static tq_decl decl(const char *no, int state, uint32_t reasons, uint64_t tax_due,
                    int64_t reg_sec)
{
    tq_decl d = tq_test_decl(no, "01B1", "0101234567", state);
    d.reasons = reasons;
    d.tax_due = tax_due;
    d.registered.sec = reg_sec;
    d.reg_day = tq_instant_vn_day(d.registered);
    d.lines[0].value = 1000;
    return d;
}

static void pay(tq_txn *t, const char *decl_no, const char *receipt, uint64_t amount)
{
    tq_payment p = tq_test_pay(decl_no, receipt, amount);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
}

/* Five declarations: one the payments now clear, two that stay HELD (one paid in part:
 * its tax_short changes), a manual clearance with a discrepancy and a rejection. */
static tq_store *fixture(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    const uint32_t TAX = TQ_R_TAX_SHORT;
    tq_decl ds[] = {
        decl("100000000003", TQ_STATE_HELD, TAX, 50, T0 + 2 * 3600),
        decl("100000000001", TQ_STATE_HELD, TAX, 100, T0),
        decl("100000000002", TQ_STATE_HELD, TAX, 500, T0 + 3600),
        decl("100000000004", TQ_STATE_CLEARED, TAX, 70, T0 + 3 * 3600),
        decl("100000000005", TQ_STATE_REJECTED, 0, 0, T0 + 4 * 3600),
    };
    ds[1].tax_short = 100;
    ds[2].tax_short = 500;
    ds[0].tax_short = 50;
    ds[3].manual = 1;
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        cr_assert_eq(tq_store_put_decl(t, &ds[i]), TQ_OK, "put %s", ds[i].decl_no);
    pay(t, "100000000001", "KB-1", 100);     /* paid in full: cleared now */
    pay(t, "100000000002", "KB-2", 200);     /* 300 still short */
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    return s;
}

/* held() - still_held: "decl_no reasons tax_short;" appended to a 512-byte buffer. */
static void held(void *ctx, const tq_decl *d)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s %x %llu;", d->decl_no, (unsigned)d->reasons,
             (unsigned long long)d->tax_short);
}

static void run(tq_store *s, int dry_run, char *held_buf, tq_tally *after,
                tq_reconcile_stats *st)
{
    tq_reconcile_opts o = {.dry_run = dry_run, .still_held = held, .ctx = held_buf,
                           .tally_after = after};
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_reconcile_run(s, &o, NULL, st, &d);
    cr_assert_eq(rc, TQ_OK, "reconcile: %s: %s", tq_strerror(rc), d.why);
}

static void tally(tq_store *s, tq_tally *t)
{
    cr_assert_eq(tq_export_tally(s, t), TQ_OK);
}

static void assert_tally_eq(const tq_tally *a, const tq_tally *b, const char *what)
{
    cr_assert_eq(a->declarations, b->declarations, "%s: declarations", what);
    for (int i = 0; i < TQ_STATE_COUNT; i++)
        cr_assert_eq(a->by_state[i], b->by_state[i], "%s: state %d: %llu, %llu", what, i,
                     (unsigned long long)a->by_state[i], (unsigned long long)b->by_state[i]);
    for (int i = 0; i < TQ_REASON_COUNT; i++)
        cr_assert_eq(a->held_by_reason[i], b->held_by_reason[i], "%s: reason %d", what, i);
    cr_assert_eq(a->manual_cleared, b->manual_cleared, "%s: manual", what);
    cr_assert_eq(a->manual_with_discrepancies, b->manual_with_discrepancies, "%s", what);
}

Test(reconcile, still_held_names_those_left_held_with_their_new_reasons_in_order)
{
    tq_store *s = fixture();
    char buf[512] = "";
    tq_tally after;
    tq_reconcile_stats st;
    run(s, 0, buf, &after, &st);
    cr_assert_eq(st.cleared_now, 1);
    cr_assert_eq(st.still_held, 2);
    cr_assert_str_eq(buf, "100000000002 1 300;100000000003 1 50;",
                     "the HELD ones after the run, tax_short as re-evaluated: %s", buf);
    /* a second run clears nothing more and leaves the same held */
    buf[0] = '\0';
    run(s, 0, buf, &after, &st);
    cr_assert_eq(st.cleared_now, 0);
    cr_assert_str_eq(buf, "100000000002 1 300;100000000003 1 50;");
    cr_assert_eq(after.by_state[TQ_STATE_CLEARED], 2);
    tq_store_close(s);
}

Test(reconcile, a_dry_run_reports_what_the_run_then_does_and_changes_nothing)
{
    tq_store *s = fixture();
    tq_tally before, dry_after, real_after, counted;
    tq_reconcile_stats st;
    char dry_held[512] = "", real_held[512] = "";
    tally(s, &before);
    run(s, 1, dry_held, &dry_after, &st);
    cr_assert_eq(st.cleared_now, 1);
    tally(s, &counted);
    assert_tally_eq(&counted, &before, "the database after a dry run");
    cr_assert_eq(dry_after.by_state[TQ_STATE_CLEARED], before.by_state[TQ_STATE_CLEARED] + 1,
                 "the dry run's totals are those it would leave");
    cr_assert_eq(dry_after.by_state[TQ_STATE_HELD], 2);
    cr_assert_eq(dry_after.held_by_reason[0], 2, "TAX_SHORT, on the two left held");

    run(s, 0, real_held, &real_after, &st);
    tally(s, &counted);
    assert_tally_eq(&real_after, &counted, "tally_after against a count after the commit");
    assert_tally_eq(&dry_after, &real_after, "dry run against the run");
    cr_assert_str_eq(dry_held, real_held, "still held: dry run %s, run %s", dry_held,
                     real_held);
    cr_assert_eq(counted.manual_with_discrepancies, 1, "a manual clearance is left as is");
    tq_store_close(s);
}
