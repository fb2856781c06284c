/* tq_teststore.h - opening a store and beginning a transaction in a Criterion test,
 * failing the test (with the library's reason) when either does not succeed.
 *
 *     #include "tq_teststore.h"
 *     tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);    (always TQ_STORE_NOSYNC)
 *     tq_txn *t = tq_test_begin(s, 0);                      (0: write, 1: read)
 *
 * Header-only: one test program includes it once. */
#ifndef TQ_TESTSTORE_H
#define TQ_TESTSTORE_H

#include <criterion/criterion.h>

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

#endif
