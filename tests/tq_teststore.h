/* tq_teststore.h - opening a store and beginning a transaction in a Criterion test,
 * failing the test (with the library's reason) when either does not succeed.
 *
 *     #include "tq_teststore.h"
 *     tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);    (always TQ_STORE_NOSYNC)
 *     tq_txn *t = tq_test_begin(s, 0);                      (0: write, 1: read)
 *     tq_test_commit(t);
 *     tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
 *
 * Header-only: one test program includes it once. */
#ifndef TQ_TESTSTORE_H
#define TQ_TESTSTORE_H

#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tq_store.h"

__attribute__((unused)) static tq_store *tq_test_open(const char *dir, unsigned flags)
{
    tq_store *s = NULL;
    tq_store_opts o = {.command = "thongquan test"};
    int rc = tq_store_open(dir, flags | TQ_STORE_NOSYNC, &o, &s, NULL);
    cr_assert_eq(rc, TQ_OK, "open %s: %s", dir, tq_strerror(rc));
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

/* tq_test_pay() - a PAY row of amount for decl_no under receipt. */
__attribute__((unused)) static tq_payment tq_test_pay(const char *decl_no, const char *receipt,
                                                      uint64_t amount)
{
    tq_payment p;
    memset(&p, 0, sizeof p);
    snprintf(p.decl_no, sizeof p.decl_no, "%s", decl_no);
    snprintf(p.receipt_no, sizeof p.receipt_no, "%s", receipt);
    p.kind = TQ_PAY;
    p.amount = amount;
    p.valid_until = TQ_NO_DATE;
    return p;
}

#endif
