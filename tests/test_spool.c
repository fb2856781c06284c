/* test_spool.c - tq_spool (formats/tq_spool.c): a list streamed to a temporary JSON
 * array and a CSV file, copied into a report, started again by a reset, and the CSV
 * only in place once committed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tq_spool.h"

#include "tq_testdir.h"

TQ_TESTDIR_SUITE(spool, "tq_spool", 30);

static void open_spool(tq_spool *sp, const char *csv)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    int rc = tq_spool_open(sp, tmpfile(), csv, "decl_no,n\n", &d);
    cr_assert_eq(rc, TQ_OK, "open: %s: %s", tq_strerror(rc), d.why);
}

static void entry(tq_spool *sp, const char *no, unsigned n)
{
    tq_json_begin_object(&sp->json);
    tq_json_kv_string(&sp->json, "decl_no", no);
    tq_json_kv_u64(&sp->json, "n", n);
    tq_json_end_object(&sp->json);
    tq_spool_csv(sp, "%s,%u\n", no, n);
}

/* report() - {"list":<the spool's array>} as the string it writes, in buf. */
static void report(tq_spool *sp, char *buf, size_t cap)
{
    FILE *f = fmemopen(buf, cap, "w");
    cr_assert_not_null(f);
    tq_json j;
    tq_json_init(&j, f);
    tq_json_begin_object(&j);
    tq_json_key(&j, "list");
    cr_assert_eq(tq_spool_copy(sp, &j), TQ_OK);
    tq_json_end_object(&j);
    cr_assert_eq(tq_json_finish(&j), TQ_OK);
    fclose(f);
}

/* expect_report() - the report holds want. */
static void expect_report(tq_spool *sp, const char *want)
{
    char buf[512];
    report(sp, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

/* commit() - the CSV into place, and the spool released. */
static void commit(tq_spool *sp)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_spool_commit(sp, &d), TQ_OK, "commit: %s", d.why);
    tq_spool_release(sp);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is not there", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* files_in_dir() - how many entries g_dir holds (temporary files included). */
static int files_in_dir(void)
{
    DIR *dir = opendir(g_dir);
    cr_assert_not_null(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

Test(spool, the_array_goes_into_the_report_and_the_csv_into_place_on_commit)
{
    tq_spool sp;
    const char *csv = path_in("l.csv");
    open_spool(&sp, csv);
    entry(&sp, "100000000001", 1);
    entry(&sp, "100000000002", 2);
    cr_assert_eq(tq_spool_end(&sp), TQ_OK);
    char buf[512];
    report(&sp, buf, sizeof buf);
    cr_assert_str_eq(buf, "{\"list\":[{\"decl_no\":\"100000000001\",\"n\":1},"
                          "{\"decl_no\":\"100000000002\",\"n\":2}]}\n");
    report(&sp, buf, sizeof buf);
    cr_assert_str_eq(buf, "{\"list\":[{\"decl_no\":\"100000000001\",\"n\":1},"
                          "{\"decl_no\":\"100000000002\",\"n\":2}]}\n", "copied twice");
    cr_assert_eq(access(csv, F_OK), -1, "the CSV is in place before the commit");
    commit(&sp);
    slurp(csv, buf, sizeof buf);
    cr_assert_str_eq(buf, "decl_no,n\n100000000001,1\n100000000002,2\n");
    cr_assert_eq(files_in_dir(), 1, "a temporary file was left");
}

Test(spool, a_reset_starts_both_files_again)
{
    tq_spool sp;
    const char *csv = path_in("r.csv");
    open_spool(&sp, csv);
    for (unsigned i = 0; i < 500; i++)
        entry(&sp, "100000000009", i);
    tq_spool_reset(&sp);
    entry(&sp, "100000000001", 7);
    cr_assert_eq(tq_spool_end(&sp), TQ_OK);
    expect_report(&sp, "{\"list\":[{\"decl_no\":\"100000000001\",\"n\":7}]}\n");
    commit(&sp);
    char buf[512];
    slurp(csv, buf, sizeof buf);
    cr_assert_str_eq(buf, "decl_no,n\n100000000001,7\n");
}

Test(spool, released_without_a_commit_leaves_no_file)
{
    tq_spool sp;
    open_spool(&sp, path_in("gone.csv"));
    entry(&sp, "100000000001", 1);
    cr_assert_eq(tq_spool_end(&sp), TQ_OK);
    tq_spool_release(&sp);
    tq_spool_release(&sp);
    cr_assert_eq(files_in_dir(), 0, "a CSV or its temporary file was left");
}

Test(spool, an_empty_list_and_no_csv)
{
    tq_spool sp;
    open_spool(&sp, NULL);
    tq_spool_csv(&sp, "%s\n", "ignored");
    cr_assert_eq(tq_spool_end(&sp), TQ_OK);
    expect_report(&sp, "{\"list\":[]}\n");
    commit(&sp);
    cr_assert_eq(files_in_dir(), 0);
}

Test(spool, a_stream_cannot_be_reset_and_the_end_says_so)
{
    tq_spool sp;
    open_spool(&sp, "/dev/null");   /* a device: written in place, no temporary file */
    entry(&sp, "100000000001", 1);
    tq_spool_reset(&sp);
    cr_assert_eq(tq_spool_end(&sp), TQ_ERR_IO);
    tq_spool_release(&sp);
}

Test(spool, no_temporary_file_is_an_error)
{
    tq_spool sp;
    tq_diag d;
    cr_assert_eq(tq_spool_open(&sp, NULL, NULL, "h\n", &d), TQ_ERR_INPUT);
    tq_spool_release(&sp);
}
