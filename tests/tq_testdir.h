/* tq_testdir.h - what the Criterion suites share: a fresh directory per test under
 * /tmp, removed with everything in it afterwards, and paths in it.
 *
 *     #include "tq_testdir.h"
 *     TQ_TESTDIR_SUITE(store, "tq_store", 60);     (suite name, prefix, timeout)
 *
 * then g_dir is the test's directory and path_in("x") is "g_dir/x", from a ring of
 * TQ_TESTDIR_PATHS buffers (default 4; define it before the include for more), so a
 * test may hold that many paths at once.  Header-only: one test program
 * includes it once. */
#ifndef TQ_TESTDIR_H
#define TQ_TESTDIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char g_dir[64];

static int tq_testdir_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void tq_testdir_make(const char *prefix)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/%s_XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(g_dir));
}

static void tq_testdir_remove(void)
{
    nftw(g_dir, tq_testdir_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#ifndef TQ_TESTDIR_PATHS
#define TQ_TESTDIR_PATHS 4
#endif

__attribute__((unused)) static const char *path_in(const char *name)
{
    static char buf[TQ_TESTDIR_PATHS][256];
    static int i;
    i = (i + 1) % TQ_TESTDIR_PATHS;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_dir, name);
    return buf[i];
}

#define TQ_TESTDIR_SUITE(name, prefix, seconds)                                        \
    static void name##_testdir_init(void) { tq_testdir_make(prefix); }                  \
    TestSuite(name, .init = name##_testdir_init, .fini = tq_testdir_remove,            \
              .timeout = seconds)

#endif
