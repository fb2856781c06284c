/* tq_testfiles.h - what a Criterion suite asks of the files a run left behind, written
 * once: how many entries a directory holds, and how many events a journal holds; and
 * where the conformance cases of ../shared are, skipping a test when they are not.
 *
 *     #include "tq_testfiles.h"
 *     cr_assert_eq(tq_test_count_entries(dir, ".tmp"), 0);   (NULL: every entry)
 *     cr_assert_eq(tq_test_count_events(r), 200);            (seqs must run 1, 2, ...)
 *
 * Header-only: one test program includes it once. */
#ifndef TQ_TESTFILES_H
#define TQ_TESTFILES_H

#include <criterion/criterion.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_journal.h"

#ifndef TQ_SOURCE_DIR
#define TQ_SOURCE_DIR "."
#endif

/* TQ_TEST_CASES_DIR - the conformance cases, in ../shared beside the source tree. */
#define TQ_TEST_CASES_DIR TQ_SOURCE_DIR "/../shared/conformance/cases"

/* TQ_TEST_NEED_CASES() - skip the test (Criterion's skip, not a pass) when the
 * conformance cases are not there. */
#define TQ_TEST_NEED_CASES()                                                           \
    do {                                                                               \
        DIR *cases_ = opendir(TQ_TEST_CASES_DIR);                                      \
        if (cases_ == NULL)                                                            \
            cr_skip_test("no conformance cases at %s", TQ_TEST_CASES_DIR);             \
        closedir(cases_);                                                              \
    } while (0)

/* tq_test_case_path() - the path of file in the conformance case name, in one of two
 * static buffers. */
__attribute__((unused)) static const char *tq_test_case_path(const char *name, const char *file)
{
    static char buf[2][1024];
    static int i;
    i ^= 1;
    snprintf(buf[i], sizeof buf[i], "%s/%s/%s", TQ_TEST_CASES_DIR, name, file);
    return buf[i];
}

/* tq_test_text() - the whole text file at path (up to 1 MiB), NUL-ended, malloc'd: the
 * caller frees it.  Fails the test when the file cannot be read. */
__attribute__((unused)) static char *tq_test_text(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *buf = calloc(1, 1 << 20);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* tq_test_count_entries() - the entries of dir other than "." and "..", only those
 * whose name contains part when part is not NULL (temporaries, say).  Fails the test
 * when dir cannot be opened. */
__attribute__((unused)) static size_t tq_test_count_entries(const char *dir, const char *part)
{
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "opendir %s", dir);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            (part == NULL || strstr(de->d_name, part) != NULL))
            n++;
    closedir(dp);
    return n;
}

/* tq_test_count_events() - read the open journal r to its end: the events must be
 * numbered 1, 2, ... and the end must be a clean TQ_ERR_EOF (the test fails
 * otherwise).  Returns how many there were; r stays open (the caller closes it). */
__attribute__((unused)) static uint64_t tq_test_count_events(tq_journal_reader *r)
{
    tq_event ev;
    uint64_t n = 0;
    int rc;
    while ((rc = tq_journal_next_event(r, &ev, NULL)) == TQ_OK)
        cr_assert_eq(ev.seq, ++n);
    cr_assert_eq(rc, TQ_ERR_EOF, "journal ends with %s", tq_strerror(rc));
    return n;
}

#endif
