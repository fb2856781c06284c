/* test_store_upgrade.c - tq_store_upgrade()'s backfill (STORE.md §3.1): a declaration
 * stored without office, kind and line values gets them from its journal's DECL and
 * AMEND events, its index entries move with it, and a second run changes nothing.
 * (The version 2 -> 3 upgrade itself is proven on a database written by bb8d3fb in
 * tests/cli/test_upgrade.sh, and version 1 -> 3 in test_store_integrity.c.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_journal.h"
#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(store_upgrade, "tq_store_upgrade", 60);

static tq_event decl_event(const char *no, uint64_t qty, uint64_t value)
{
    tq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ev = TQ_EV_DECL;
    ev.has = TQ_HAS_TAX_DUE | TQ_HAS_LINES;
    ev.channel = 1;
    snprintf(ev.decl_no, sizeof ev.decl_no, "%s", no);
    snprintf(ev.kind, sizeof ev.kind, "A11");
    snprintf(ev.office, sizeof ev.office, "HN01");
    snprintf(ev.declarant, sizeof ev.declarant, "0101234567");
    snprintf(ev.registered_at, sizeof ev.registered_at, "2024-08-05T09:00:00+07:00");
    ev.registered.sec = 1722823200;
    ev.nlines = 1;
    snprintf(ev.lines[0].hs, sizeof ev.lines[0].hs, "85171300");
    ev.lines[0].qty = qty;
    ev.lines[0].value = value;
    return ev;
}

/* What a version 2 database held: the decision, no office, kind or values. */
static tq_decl stored(const char *no, uint64_t qty)
{
    tq_decl d = tq_test_decl(no, NULL, "0101234567", TQ_STATE_HELD);
    d.lines[0].qty = qty;
    return d;
}

static int count(void *ctx, const tq_decl *d)
{
    (void)d;
    ++*(int *)ctx;
    return 0;
}

static int listed(tq_store *s, const char *office)
{
    tq_txn *t;
    int n = 0;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, office, TQ_STATE_HELD, count, &n),
                 TQ_OK);
    tq_txn_abort(t);
    return n;
}

Test(store_upgrade, backfill_fills_office_kind_and_values_once)
{
    /* the journal: 001 declared then amended (the amendment's lines are stored), 002
     * declared, 003 declared but not stored */
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_create(path_in("j.tqj"), NULL, &w), TQ_OK);
    tq_event ev = decl_event("100000000001", 5, 700);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    ev = decl_event("100000000002", 9, 900);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    ev = decl_event("100000000003", 1, 100);
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    ev = decl_event("100000000001", 6, 800);
    ev.ev = TQ_EV_AMEND;
    ev.has = TQ_HAS_LINES;
    ev.office[0] = ev.kind[0] = '\0';
    cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    cr_assert_eq(tq_journal_finish(w), TQ_OK);

    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(s, 0, &t), TQ_OK);
    tq_decl d = stored("100000000001", 6);
    d.version = 1;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    d = stored("100000000002", 9);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    cr_assert_eq(listed(s, ""), 2, "no office yet");

    const char *js[] = {path_in("j.tqj")};
    tq_store_upgrade_stats st;
    tq_diag dg = {0};
    cr_assert_eq(tq_store_upgrade(s, js, 1, &st, &dg), TQ_OK, "%s", dg.why);
    cr_assert_eq(st.from_version, TQ_STORE_VERSION);
    cr_assert_eq(st.backfilled, 2);
    cr_assert_eq(listed(s, ""), 0);
    cr_assert_eq(listed(s, "HN01"), 2, "the index moved with the office");

    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_get_decl(t, "100000000001", &d), TQ_OK);
    cr_assert_str_eq(d.office, "HN01");
    cr_assert_str_eq(d.kind, "A11");
    cr_assert_eq(d.lines[0].value, 800, "the amended lines' value, not the DECL's");
    cr_assert_eq(d.state, TQ_STATE_HELD, "the decision untouched");
    cr_assert_eq(tq_store_get_decl(t, "100000000002", &d), TQ_OK);
    cr_assert_eq(d.lines[0].value, 900);
    cr_assert_eq(tq_store_get_decl(t, "100000000003", &d), TQ_ERR_NOTFOUND, "not created");
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_OK);
    tq_txn_abort(t);

    cr_assert_eq(tq_store_upgrade(s, js, 1, &st, &dg), TQ_OK);
    cr_assert_eq(st.backfilled, 2, "the second run fills nothing more");
    const char *missing[] = {path_in("nope.tqj")};
    cr_assert_neq(tq_store_upgrade(s, missing, 1, &st, &dg), TQ_OK);
    tq_store_close(s);
}
