/* test_nightly.c - the nightly job's library half: one inbox file taken in
 * (tq_nightly_take: loaded, duplicate, refused with its NAME.err, a link refused), the
 * run's record (tq_nightly_outcome: report stamp, counts, where a file went) and what
 * the run tells (tq_nightly_report: the JSON report and the metrics). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_nightly_report.h"
#include "tq_nightly_take.h"
#include "tq_path.h"

#define TQ_TESTDIR_PATHS 8
#include "tq_testdir.h"
#include "tq_testfiles.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(nightly, "tq_nightly", 60);

#define PERMITS_HEAD "permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\n"
#define PERMIT_ROW "P1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n"
#define BAD_ROW "P2,BCT,0101234567,2024-01-01,2024-12-31,MAYBE,8517,0\n"

static void put_file(const char *path, const char *text, time_t mtime)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

#define slurp tq_test_text

/* A run over inbox g_dir/inbox into store g_dir/db, taking every input of a scan. */
typedef struct night {
    tq_nightly *n;
    tq_store *s;
    tq_nightly_outcome o;
    tq_nightly_list sc;
    tq_nightly_take_ctx c;
    char inbox[128];
} night;

static void night_open(night *x)
{
    memset(x, 0, sizeof *x);
    snprintf(x->inbox, sizeof x->inbox, "%s", path_in("inbox"));
    mkdir(x->inbox, 0700);
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_nightly_open(x->inbox, &x->n, &d), TQ_OK, "%s", d.why);
    x->s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_nightly_outcome_init(&x->o, x->inbox, path_in("db"), NULL, NULL, time(NULL));
    x->c = (tq_nightly_take_ctx){.n = x->n, .s = x->s, .date = x->o.date};
}

/* night_take() - scan and take every input; each one's took into took[]. */
static void night_take(night *x, int *took, size_t max)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_nightly_scan(x->n, time(NULL), 0, &x->sc, &d), TQ_OK);
    cr_assert_leq(x->sc.n_in, max);
    for (size_t i = 0; i < x->sc.n_in; i++) {
        tq_nightly_taken t;
        memset(&d, 0, sizeof d);
        cr_assert_eq(tq_nightly_take(&x->c, &x->sc.in[i], &x->o, &t, &d), TQ_OK, "%s", d.why);
        took[i] = t.took;
    }
}

static void night_close(night *x)
{
    tq_nightly_scan_free(&x->sc);
    tq_nightly_outcome_release(&x->o);
    tq_store_close(x->s);
    tq_nightly_close(x->n);
}

Test(nightly, take_loads_then_knows_the_content)
{
    night x;
    night_open(&x);
    put_file(path_in("inbox/permits-a.csv"), PERMITS_HEAD PERMIT_ROW, time(NULL) - 300);
    put_file(path_in("inbox/permits-b.csv"), PERMITS_HEAD PERMIT_ROW, time(NULL) - 200);
    int took[2];
    night_take(&x, took, 2);
    cr_expect_eq(took[0], TQ_NIGHTLY_TOOK_LOADED);
    cr_expect_eq(took[1], TQ_NIGHTLY_TOOK_DUPLICATE);
    cr_expect_eq(x.c.any_load, 1);
    cr_expect_eq(tq_nightly_pending(x.n), 1, "a load must mark the reconcile owed first");
    cr_assert_eq(x.o.nf, 2);
    char done[64], dup[64];
    snprintf(done, sizeof done, "done/%s/permits-a.csv", x.o.date);
    snprintf(dup, sizeof dup, "duplicate/%s/permits-b.csv", x.o.date);
    cr_expect_eq(x.o.f[0].result, TQ_NIGHTLY_R_LOADED);
    cr_expect_eq(x.o.f[0].rows, 1);
    cr_expect_str_eq(x.o.f[0].stored, done);
    cr_expect_eq(strlen(x.o.f[0].sha), 64);
    cr_expect_eq(x.o.f[1].result, TQ_NIGHTLY_R_DUPLICATE);
    cr_expect_str_eq(x.o.f[1].stored, dup);
    cr_expect_str_eq(x.o.f[0].sha, x.o.f[1].sha);
    struct stat st;
    char *p = tq_path_join(x.inbox, done);
    cr_expect_eq(stat(p, &st), 0, "not moved to %s", done);
    free(p);
    night_close(&x);
}

/* Bad rows: nothing loaded, the file in failed/ with NAME.err listing the first
 * TQ_NIGHTLY_ERR_LINES rows and how many more. */
Test(nightly, take_refuses_bad_rows_with_an_err_file)
{
    night x;
    night_open(&x);
    size_t cap = 64 * 60 + 200;
    char *text = malloc(cap);
    size_t o = (size_t)snprintf(text, cap, PERMITS_HEAD);
    for (int i = 0; i < TQ_NIGHTLY_ERR_LINES + 2; i++)
        o += (size_t)snprintf(text + o, cap - o, BAD_ROW);
    put_file(path_in("inbox/permits-bad.csv"), text, time(NULL) - 300);
    free(text);
    int took[1];
    night_take(&x, took, 1);
    cr_expect_eq(took[0], TQ_NIGHTLY_TOOK_REFUSED);
    cr_expect_eq(x.o.f[0].result, TQ_NIGHTLY_R_FAILED);
    cr_expect_str_eq(x.o.f[0].why, "52 bad rows, nothing loaded");
    char err[64];
    snprintf(err, sizeof err, "failed/%s/permits-bad.csv.err", x.o.date);
    char *p = tq_path_join(x.inbox, err), *e = slurp(p);
    cr_expect_eq(strncmp(e, "permits-bad.csv: refused by thongquan nightly at ", 49), 0, "%s", e);
    cr_expect_not_null(strstr(e, "\nline 2: field 'status'"), "%s", e);
    cr_expect_not_null(strstr(e, "\nline 51: field 'status'"), "%s", e);
    cr_expect_null(strstr(e, "\nline 52: field"), "past the limit: %s", e);
    cr_expect_not_null(strstr(e, "\n... and 2 more bad rows\nnothing of this file was loaded\n"),
                       "%s", e);
    free(e);
    free(p);
    night_close(&x);
}

/* A link is never followed: refused, its NAME.err says why, nothing of it read. */
Test(nightly, take_refuses_a_link)
{
    night x;
    night_open(&x);
    put_file(path_in("target.csv"), PERMITS_HEAD PERMIT_ROW, time(NULL) - 300);
    cr_assert_eq(symlink(path_in("target.csv"), path_in("inbox/permits-l.csv")), 0);
    int took[1];
    night_take(&x, took, 1);
    cr_expect_eq(took[0], TQ_NIGHTLY_TOOK_REFUSED);
    cr_expect_eq(x.o.f[0].sha[0], '\0');
    cr_expect_eq(x.c.any_load, 0);
    char err[64];
    snprintf(err, sizeof err, "failed/%s/permits-l.csv.err", x.o.date);
    char *p = tq_path_join(x.inbox, err), *e = slurp(p);
    char want[512];
    snprintf(want, sizeof want, "\n%s\nnothing of this file was read\n", x.o.f[0].why);
    cr_expect_not_null(strstr(e, want), "%s", e);
    free(e);
    free(p);
    night_close(&x);
}

/* The stamp never reuses a name an earlier run (or anything else) holds. */
Test(nightly, stamp_passes_over_names_taken)
{
    time_t start = 1722910500;
    struct tm tm;
    localtime_r(&start, &tm);
    char base[32], name[96];
    strftime(base, sizeof base, "%Y-%m-%dT%H%M%S", &tm);
    tq_nightly_outcome o;
    tq_nightly_outcome_init(&o, "in", "db", g_dir, NULL, start);
    cr_assert_eq(tq_nightly_outcome_stamp(&o, start), TQ_OK);
    cr_expect_str_eq(o.stamp, base);
    snprintf(name, sizeof name, "nightly-%s.json", base);
    cr_expect_str_eq(o.report_path, path_in(name));
    snprintf(name, sizeof name, "report-%s.html", base);
    put_file(path_in(name), "x", start);
    snprintf(name, sizeof name, "worklists-%s-2", base);
    cr_assert_eq(symlink("nowhere", path_in(name)), 0);
    cr_assert_eq(tq_nightly_outcome_stamp(&o, start), TQ_OK);
    snprintf(name, sizeof name, "%s-3", base);
    cr_expect_str_eq(o.stamp, name);
    cr_expect_str_eq(o.csv_dir, path_in(name));
    snprintf(name, sizeof name, "reconcile-%s-3.json", base);
    cr_expect_str_eq(o.reconcile_report, path_in(name));
    tq_nightly_outcome_release(&o);
    cr_expect_null(o.report_path);
}

static tq_nightly_entry entry(char *name, int kind)
{
    tq_nightly_entry e = {.name = name, .kind = kind};
    return e;
}

/* Counts by result, with every ignored name and the files that wait; where a file went,
 * quoted. */
Test(nightly, outcome_counts_and_stored_names)
{
    tq_nightly_outcome o;
    tq_nightly_outcome_init(&o, "in", "db", NULL, NULL, time(NULL));
    int results[] = {TQ_NIGHTLY_R_LOADED, TQ_NIGHTLY_R_FAILED, TQ_NIGHTLY_R_LOADED,
                     TQ_NIGHTLY_R_WAITING};
    for (int i = 0; i < 4; i++) {
        tq_nightly_entry e = entry((char *)"payments-x.csv", 1);
        cr_assert_not_null(tq_nightly_outcome_add(&o, &e, results[i]));
    }
    tq_nightly_list sc = {.n_ignored = 1, .n_ignored_total = 3, .n_waiting = 2};
    tq_nightly_outcome_count(&o, &sc);
    cr_expect_eq(o.count[TQ_NIGHTLY_R_LOADED], 2);
    cr_expect_eq(o.count[TQ_NIGHTLY_R_FAILED], 1);
    cr_expect_eq(o.count[TQ_NIGHTLY_R_DUPLICATE], 0);
    cr_expect_eq(o.count[TQ_NIGHTLY_R_IGNORED], 3);
    cr_expect_eq(o.count[TQ_NIGHTLY_R_WAITING], 3);
    tq_nightly_file_stored(&o.f[1], TQ_NIGHTLY_FAILED, "2024-08-06", "pay\nments.csv");
    cr_expect_str_eq(o.f[1].stored, "failed/2024-08-06/pay\\x0aments.csv");
    tq_nightly_entry odd = entry((char *)"a b", 0);
    tq_nightly_file *f = tq_nightly_outcome_add(&o, &odd, TQ_NIGHTLY_R_LOADED);
    cr_expect_str_eq(f->q, "a\\x20b");
    cr_expect_str_eq(f->hex, "612062");
    cr_expect_str_eq(tq_nightly_result_name(TQ_NIGHTLY_R_DUPLICATE), "duplicate");
    cr_expect_str_eq(tq_nightly_kind_name(2), "permits");
    tq_nightly_outcome_release(&o);
}

/* The report's members, exactly. */
Test(nightly, report_json)
{
    tq_nightly_outcome o;
    tq_nightly_outcome_init(&o, "/in", "/db", NULL, "/m.prom", time(NULL));
    snprintf(o.started_at, sizeof o.started_at, "2024-08-06T01:00:00Z");
    tq_nightly_entry e = entry((char *)"permits-a.csv", 2);
    tq_nightly_file *f = tq_nightly_outcome_add(&o, &e, TQ_NIGHTLY_R_LOADED);
    f->rows = 3;
    tq_nightly_file_stored(f, TQ_NIGHTLY_DONE, "2024-08-06", "permits-a.csv");
    tq_nightly_list sc = {0};
    tq_nightly_outcome_count(&o, &sc);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    tq_json j;
    tq_json_init(&j, out);
    tq_json_begin_object(&j);
    tq_nightly_report_json(&j, &o, &sc, 0, "2024-08-06T01:00:09Z");
    tq_json_end_object(&j);
    fclose(out);
    cr_expect_str_eq(buf, "{\"command\":\"nightly\",\"inbox\":\"/in\",\"database\":\"/db\","
                          "\"started_at\":\"2024-08-06T01:00:00Z\",\"finished_at\":"
                          "\"2024-08-06T01:00:09Z\",\"exit_status\":0,\"files\":[{\"name\":"
                          "\"permits-a.csv\",\"name_hex\":\"7065726d6974732d612e637376\","
                          "\"kind\":\"permits\",\"result\":\"loaded\",\"rows\":3,\"stored\":"
                          "\"done/2024-08-06/permits-a.csv\"}],\"ignored\":[],"
                          "\"ignored_not_listed\":0,\"counts\":{\"loaded\":1,\"failed\":0,"
                          "\"duplicate\":0,\"ignored\":0,\"waiting\":0},\"reconcile\":{\"ran\":"
                          "false,\"status\":0,\"cleared_now\":0,\"report\":null,\"page\":null},"
                          "\"worklists\":null,\"metrics\":{\"path\":\"/m.prom\",\"error\":null}}");
    free(buf);
    tq_nightly_outcome_release(&o);
}

static char *prom_of(const tq_nightly_outcome *o, tq_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    tq_nightly_report_prom(out, o, 7, s, 1.5, 1722910500);
    fclose(out);
    return buf;
}

/* Every series is there: NaN where the database could not be read, the office gauge
 * from the store's index. */
Test(nightly, report_prom)
{
    tq_nightly_outcome o;
    tq_nightly_outcome_init(&o, "/in", "/db", NULL, NULL, time(NULL));
    o.count[TQ_NIGHTLY_R_FAILED] = 2;
    o.state.last_success = 99;
    char *p = prom_of(&o, NULL);
    cr_expect_not_null(strstr(p, "\nthongquan_declarations{state=\"HELD\"} NaN\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_held_declarations{office=\"unknown\"} NaN\n"), "%s",
                       p);
    cr_expect_not_null(strstr(p, "\nthongquan_nightly_files{result=\"failed\"} 2\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_nightly_duration_seconds 1.500\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_nightly_last_run_timestamp_seconds 1722910500\n"),
                       "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_nightly_last_exit_status 7\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_nightly_last_success_timestamp_seconds 99\n"), "%s",
                       p);
    free(p);

    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    o.have_tally = 1;
    o.tally.by_state[TQ_STATE_HELD] = 1;
    p = prom_of(&o, s);
    cr_expect_not_null(strstr(p, "\nthongquan_declarations{state=\"HELD\"} 1\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_held_declarations{office=\"01B1\"} 1\n"), "%s", p);
    cr_expect_not_null(strstr(p, "\nthongquan_held_declarations{office=\"unknown\"} 0\n"), "%s", p);
    free(p);
    tq_store_close(s);
    tq_nightly_outcome_release(&o);
}

/* The same content again under the name it was loaded by is a duplicate, unless it is
 * found in work/: then the run that loaded it stopped before filing it, and it is
 * filed as loaded, with the ledger's row count. */
Test(nightly, take_same_name_again_or_recovered)
{
    night x;
    night_open(&x);
    put_file(path_in("inbox/permits-a.csv"), PERMITS_HEAD PERMIT_ROW, time(NULL) - 300);
    int took[1];
    night_take(&x, took, 1);
    cr_assert_eq(took[0], TQ_NIGHTLY_TOOK_LOADED);
    tq_nightly_scan_free(&x.sc);

    put_file(path_in("inbox/permits-a.csv"), PERMITS_HEAD PERMIT_ROW, time(NULL) - 300);
    night_take(&x, took, 1);
    cr_expect_eq(took[0], TQ_NIGHTLY_TOOK_DUPLICATE);
    tq_nightly_scan_free(&x.sc);

    put_file(path_in("inbox/.thongquan/work/permits-a.csv"), PERMITS_HEAD PERMIT_ROW,
             time(NULL) - 300);
    night_take(&x, took, 1);
    cr_expect_eq(took[0], TQ_NIGHTLY_TOOK_RECOVERED);
    cr_assert_eq(x.o.nf, 3);
    cr_expect_eq(x.o.f[2].result, TQ_NIGHTLY_R_LOADED);
    cr_expect_eq(x.o.f[2].rows, 1);
    char done[64];
    snprintf(done, sizeof done, "done/%s/permits-a-2.csv", x.o.date);
    cr_expect_str_eq(x.o.f[2].stored, done);
    night_close(&x);
}

/* A quiet night still reads the database's counts; a tally already taken is kept; a
 * database that cannot be read leaves none. */
Test(nightly, outcome_tally)
{
    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);
    tq_nightly_outcome o;
    tq_nightly_outcome_init(&o, "in", path_in("db"), NULL, NULL, time(NULL));
    tq_nightly_outcome_tally(&o);
    cr_expect_eq(o.have_tally, 1);
    cr_expect_eq(o.tally.by_state[TQ_STATE_HELD], 1);
    o.tally.by_state[TQ_STATE_HELD] = 5;
    tq_nightly_outcome_tally(&o);
    cr_expect_eq(o.tally.by_state[TQ_STATE_HELD], 5, "a tally taken was read again");
    tq_nightly_outcome_init(&o, "in", path_in("nodb"), NULL, NULL, time(NULL));
    tq_nightly_outcome_tally(&o);
    cr_expect_eq(o.have_tally, 0);
}

/* The worklists go into the run's folder; where they cannot, the outcome says why. */
Test(nightly, outcome_worklists)
{
    tq_store *s = tq_test_open(path_in("db"), TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = tq_test_decl("100000000011", "01B1", "0101234567", TQ_STATE_HELD);
    d.reasons = TQ_R_AWAIT_OFFICER;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);
    tq_nightly_outcome o;
    tq_diag dg;
    memset(&dg, 0, sizeof dg);
    tq_nightly_outcome_init(&o, "in", path_in("db"), NULL, NULL, time(NULL));
    cr_expect_eq(tq_nightly_outcome_worklists(&o, 7200, time(NULL), &dg), TQ_OK);
    cr_expect_eq(o.worklists_done, 0, "no reports: no worklists");
    tq_nightly_outcome_init(&o, "in", path_in("db"), g_dir, NULL, time(NULL));
    cr_assert_eq(tq_nightly_outcome_stamp(&o, time(NULL)), TQ_OK);
    cr_expect_eq(tq_nightly_outcome_worklists(&o, 7200, time(NULL), &dg), TQ_OK, "%s", dg.why);
    cr_expect_eq(o.worklists_done, 1);
    cr_expect_eq(o.wl.rows, 1);
    char *p = tq_path_join(o.worklist_dir, "office-01B1.csv");
    struct stat st;
    cr_expect_eq(stat(p, &st), 0, "no %s", p);
    free(p);
    put_file(path_in("blocked"), "x", time(NULL));
    free(o.worklist_dir);
    o.worklist_dir = strdup(path_in("blocked"));
    o.worklists_done = 0;
    cr_expect_neq(tq_nightly_outcome_worklists(&o, 7200, time(NULL), &dg), TQ_OK);
    cr_expect_eq(o.worklists_done, 0);
    cr_expect_neq(o.worklist_error[0], '\0');
    tq_nightly_outcome_release(&o);
}

/* The state file is replaced, never written through: a link planted at
 * .thongquan/state is itself replaced and its target stays as it was. */
Test(nightly, state_write_replaces_a_planted_link)
{
    tq_nightly *n;
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(mkdir(path_in("inbox"), 0700), 0);
    cr_assert_eq(tq_nightly_open(path_in("inbox"), &n, &d), TQ_OK, "%s", d.why);
    put_file(path_in("victim"), "precious\n", time(NULL));
    cr_assert_eq(symlink(path_in("victim"), path_in("inbox/.thongquan/state")), 0);
    tq_nightly_state st = {.last_success = 11, .last_reconcile = 22, .cleared_now = 33};
    cr_assert_eq(tq_nightly_state_write(n, &st, &d), TQ_OK, "%s", d.why);
    char *v = slurp(path_in("victim"));
    cr_expect_str_eq(v, "precious\n");
    free(v);
    struct stat sb;
    cr_assert_eq(lstat(path_in("inbox/.thongquan/state"), &sb), 0);
    cr_expect(S_ISREG(sb.st_mode), "the link was followed, not replaced");
    cr_expect_eq(sb.st_mode & 077, 0, "the state is private");
    tq_nightly_state back;
    tq_nightly_state_read(n, &back);
    cr_expect_eq(back.last_success, 11);
    cr_expect_eq(back.last_reconcile, 22);
    cr_expect_eq(back.cleared_now, 33);
    tq_nightly_close(n);
}
