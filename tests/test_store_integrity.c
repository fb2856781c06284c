/* test_store_integrity.c - what the store does with damage and the files around it:
 * tq_store_verify(), the version-1 upgrade on a real v1 database, the marker file, the
 * writer lock's refusal of a planted link, the gaps and ledger tables, and backups
 * taken while another process commits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(integrity, "tq_integ", 120);


static tq_decl make_decl(const char *no)
{
    tq_decl d = tq_test_decl(no, NULL, "0101234567", TQ_STATE_HELD);
    d.lines[0].qty = 5;
    return d;
}

static void fill(tq_store *s)
{
    tq_txn *t = tq_test_begin(s, 0);
    const char *nos[] = {"103456789012", "103456789013", "203456789012"};
    for (int i = 0; i < 3; i++) {
        tq_decl d = make_decl(nos[i]);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    tq_payment p = {.decl_no = "103456789012", .receipt_no = "KB-1", .kind = TQ_PAY,
                    .amount = 7, .valid_until = TQ_NO_DATE};
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    tq_permit pm = {.permit_no = "GP-1", .agency = "BCT", .holder = "0101234567",
                    .status = TQ_PERMIT_VALID, .nprefixes = 1, .prefixes = {"85"}};
    cr_assert_eq(tq_store_put_permit(t, &pm), TQ_OK);
    cr_assert_eq(tq_store_put_used(t, "GP-1", 3), TQ_OK);
    tq_journal_mark m = {.id = {1, 2, 3}, .last_seq = 9, .frames = 1};
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_gap g = {.id = {1, 2, 3}, .first = 4, .last = 6, .frame = 1, .checksum = 77};
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    tq_ledger_entry e = {.sha256 = {9}, .kind = 1, .rows = 3, .name = "p.csv"};
    cr_assert_eq(tq_store_put_ledger(t, &e), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
}

static void on_bad(void *ctx, const tq_diag *d)
{
    tq_test_lines_add(ctx, "%s", d->why);
}

/* ---- verify ---- */

Test(integrity, verify_reports_every_bad_record_and_goes_on)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    fill(s);
    tq_txn *t = tq_test_begin(s, 1);
    uint64_t n = 0;
    tq_test_lines b = {0};
    cr_assert_eq(tq_store_verify(t, on_bad, &b, &n), TQ_OK);
    cr_assert_eq(b.n, 0);
    /* meta 2, decls 3, receipts 1, cover 1, permits 1, usage 1, journals 1, gap 1,
     * ledger 1; by_office 3 and by_taxid 3 (one entry per declaration each); held 3
     * (the three are HELD) */
    cr_assert_eq(n, 21);
    tq_txn_abort(t);
    tq_store_close(s);

    tq_test_raw_flip(g_dir, "decls", "103456789013", 12, 0, -1);
    tq_test_raw_flip(g_dir, "receipts", "KB-1", 4, 3, -1);
    tq_test_raw_flip(g_dir, "usage", "GP-1", 4, 0, -1);
    s = tq_test_open(g_dir, 0);
    t = tq_test_begin(s, 1);
    memset(&b, 0, sizeof b);
    cr_assert_eq(tq_store_verify(t, on_bad, &b, &n), TQ_ERR_DBCORRUPT);
    cr_assert_eq(n, 21, "every record walked");
    cr_assert_eq(b.n, 3);
    cr_assert(strstr(b.line[0], "table 'receipts', key 'KB-1'") != NULL, "%s", b.line[0]);
    cr_assert(strstr(b.line[1], "table 'usage', key 'GP-1'") != NULL, "%s", b.line[1]);
    cr_assert(strstr(b.line[2], "table 'decls', key '103456789013'") != NULL, "%s", b.line[2]);
    /* The sound records still read. */
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(t, "103456789012", &d), TQ_OK);
    uint64_t used;
    cr_assert_eq(tq_store_get_used(t, "GP-1", &used), TQ_ERR_DBCORRUPT);
    tq_txn_abort(t);
    tq_store_close(s);
}

/* ---- the version 1 fixture ---- */

/* The last decl_no stored in the database in g_dir, read by a reader. */
static void last_decl(char no[13])
{
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_last_decl(t, no), TQ_OK);
    tq_txn_abort(t);
    tq_store_close(s);
}

/* A reader of the database in g_dir finds the declaration no damaged. */
static void expect_damaged_decl(const char *no)
{
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(t, no, &d), TQ_ERR_DBCORRUPT, "declaration %s", no);
    tq_txn_abort(t);
    tq_store_close(s);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "copy %s", from);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

static int count_decl(void *ctx, const tq_decl *d)
{
    (void)d;
    ++*(int *)ctx;
    return 0;
}

/* The index entries a declaration implies: office, declarant, each distinct permit. */
static int count_entries(void *ctx, const tq_decl *d)
{
    const char *names[TQ_LINES_MAX];
    *(uint64_t *)ctx += 1 + (d->declarant[0] != '\0') + tq_rules_permits(d, names);
    return 0;
}

static int count_change(void *ctx, const tq_change *c)
{
    cr_assert_eq(c->cause, TQ_CHANGE_UPGRADE);
    ++*(int *)ctx;
    return 0;
}

static int count_held(void *ctx, const tq_decl *d)
{
    *(int *)ctx += d->state == TQ_STATE_HELD;
    return 0;
}

Test(integrity, v1_database_is_read_as_is_and_upgraded_by_a_writer)
{
    copy_file(TQ_SOURCE_DIR "/tests/data/store-v1/data.mdb", path_in("data.mdb"));
    struct stat before, after;
    cr_assert_eq(stat(path_in("data.mdb"), &before), 0);
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    int n = 0;
    cr_assert_eq(tq_store_each_decl(t, count_decl, &n), TQ_OK);
    cr_assert_eq(n, 50);
    uint64_t records = 0;
    cr_assert_eq(tq_store_verify(t, NULL, NULL, &records), TQ_OK);
    /* the indexes and the feed do not exist before the upgrade: refused, not empty */
    uint64_t last;
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, "", -1, count_decl, &n),
                 TQ_ERR_VERSION);
    cr_assert_eq(tq_store_each_office(t, -1, NULL, NULL), TQ_ERR_VERSION);
    cr_assert_eq(tq_store_last_change(t, &last), TQ_ERR_VERSION);
    cr_assert_eq(tq_store_each_change(t, 0, count_change, &n), TQ_ERR_VERSION);
    tq_txn_abort(t);
    tq_store_close(s);
    cr_assert_eq(stat(path_in("data.mdb"), &after), 0);
    cr_assert_eq(after.st_mtime, before.st_mtime, "a reader does not upgrade");

    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    t = tq_test_begin(s, 1);
    n = 0;
    cr_assert_eq(tq_store_each_decl(t, count_decl, &n), TQ_OK);
    cr_assert_eq(n, 50);
    uint64_t records2 = 0, entries = 0;
    cr_assert_eq(tq_store_verify(t, NULL, NULL, &records2), TQ_OK);
    cr_assert_eq(tq_store_each_decl(t, count_entries, &entries), TQ_OK);
    int changes = 0;
    cr_assert_eq(tq_store_each_change(t, 0, count_change, &changes), TQ_OK);
    cr_assert_eq(changes, 50, "one change per declaration");
    int held = 0;       /* format 4: one row in held per HELD declaration */
    cr_assert_eq(tq_store_each_decl(t, count_held, &held), TQ_OK);
    cr_assert_eq(records2, records + 50 + entries + (uint64_t)held,
                 "the same records, now sealed, with the feed, the indexes and held");
    tq_txn_abort(t);
    tq_store_close(s);

    /* Sealed now: a flipped byte of a declaration is caught. */
    char no[13];
    last_decl(no);
    tq_test_raw_flip(g_dir, "decls", no, 12, 9, -1);
    expect_damaged_decl(no);
}

/* A damaged record stops the upgrade: nothing is changed (one transaction), the error
 * names the record, and the database is still read as version 1. */
Test(integrity, upgrade_of_a_damaged_v1_database_changes_nothing)
{
    copy_file(TQ_SOURCE_DIR "/tests/data/store-v1/data.mdb", path_in("data.mdb"));
    char last[13];
    last_decl(last);
    tq_test_raw_flip(g_dir, "decls", last, 12, 0, -1);      /* state byte: 1..4 -> out of range */
    FILE *f = fopen(path_in("data.mdb"), "rb");
    static uint8_t before[1 << 20], after[1 << 20];
    size_t nb = fread(before, 1, sizeof before, f);
    fclose(f);

    tq_diag d = {0};
    tq_store_opts o = {.diag = &d};
    tq_store *s = NULL;
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, &o, &s, NULL), TQ_ERR_DBCORRUPT);
    cr_assert_null(s);
    char want[64];
    snprintf(want, sizeof want, "table 'decls', key '%s'", last);
    cr_assert(strstr(d.why, want) != NULL, "%s", d.why);
    f = fopen(path_in("data.mdb"), "rb");
    size_t na = fread(after, 1, sizeof after, f);
    fclose(f);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(before, after, nb), 0, "the failed upgrade changed nothing");
    struct stat sb;
    cr_assert_neq(stat(path_in(TQ_STORE_MARKER), &sb), 0, "no marker for a failed open");
    expect_damaged_decl(last);
}

/* ---- the marker ---- */

Test(integrity, emptied_or_removed_data_file_is_damage_not_a_new_database)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    fill(s);
    tq_store_close(s);
    struct stat sb;
    cr_assert_eq(stat(path_in(TQ_STORE_MARKER), &sb), 0, "marker written at creation");
    for (int way = 0; way < 2; way++) {
        if (way == 0)
            cr_assert_eq(truncate(path_in("data.mdb"), 0), 0);
        else
            cr_assert_eq(unlink(path_in("data.mdb")), 0);
        for (int w = 0; w < 2; w++) {
            tq_diag d = {0};
            tq_store_opts o = {.diag = &d};
            s = NULL;
            cr_assert_eq(tq_store_open(g_dir, w ? TQ_STORE_WRITE : 0, &o, &s, NULL),
                         TQ_ERR_DBCORRUPT, "way %d writer %d", way, w);
            cr_assert_null(s);
            cr_assert(strstr(d.why, "restore the backup") != NULL, "%s", d.why);
            cr_assert(strstr(d.why, "data.mdb") != NULL, "%s", d.why);
        }
        cr_assert(way == 1 || (stat(path_in("data.mdb"), &sb) == 0 && sb.st_size == 0),
                  "nothing written into the emptied file");
    }
}

Test(integrity, writer_adds_the_marker_to_a_database_without_one)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_store_close(s);
    cr_assert_eq(unlink(path_in(TQ_STORE_MARKER)), 0);
    s = tq_test_open(g_dir, 0);
    tq_store_close(s);
    struct stat sb;
    cr_assert_neq(stat(path_in(TQ_STORE_MARKER), &sb), 0, "readers write nothing");
    s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_store_close(s);
    cr_assert_eq(stat(path_in(TQ_STORE_MARKER), &sb), 0);
    FILE *f = fopen(path_in(TQ_STORE_MARKER), "r");
    char text[256] = "";
    cr_assert_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    cr_assert(strstr(text, "format=5\nid=") != NULL, "%s", text);
}

/* ---- the writer lock ---- */

Test(integrity, planted_lock_link_is_refused_and_its_target_untouched)
{
    const char *victim = path_in("victim");
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    cr_assert_eq(mkdir(path_in("db"), 0755), 0);
    cr_assert_eq(symlink(victim, path_in("db/lock")), 0);
    tq_store *s = NULL;
    tq_diag d = {0};
    tq_store_opts o = {.diag = &d};
    cr_assert_eq(tq_store_open(path_in("db"), TQ_STORE_WRITE, &o, &s, NULL), TQ_ERR_INPUT);
    cr_assert(strstr(d.why, "symbolic link") != NULL, "%s", d.why);
    char text[64] = "";
    f = fopen(victim, "r");
    cr_assert_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    cr_assert_str_eq(text, "precious\n");
    struct stat sb;
    cr_assert_neq(stat(path_in("db/data.mdb"), &sb), 0, "LMDB never touched");
}

/* ---- gaps and ledger ---- */

TQ_TEST_COLLECTOR(gap_list, tq_gap, 8)

TQ_STORE_TEST(integrity, gaps_round_trip_in_id_and_seq_order, 0)
{
    uint8_t a[16] = {1}, b[16] = {2};
    /* first 300 before 5 in byte order of a little-endian key; big-endian keeps seq order */
    tq_gap gs[] = {{.first = 300, .last = 310}, {.first = 5, .last = 9, .frame = 1},
                   {.first = 256, .last = 256}};
    for (int i = 0; i < 3; i++) {
        memcpy(gs[i].id, a, 16);
        gs[i].checksum = 1000 + (uint64_t)i;
        gs[i].skipped_at = 1700000000;
        cr_assert_eq(tq_store_put_gap(t, &gs[i]), TQ_OK);
    }
    tq_gap other = {.first = 1, .last = 2};
    memcpy(other.id, b, 16);
    cr_assert_eq(tq_store_put_gap(t, &other), TQ_OK);
    tq_gap bad = {.first = 0, .last = 2};
    cr_assert_eq(tq_store_put_gap(t, &bad), TQ_ERR_INPUT);
    bad.first = 3;
    cr_assert_eq(tq_store_put_gap(t, &bad), TQ_ERR_INPUT, "last before first");
    cr_assert_eq(tq_txn_commit(t), TQ_OK);

    t = tq_test_begin(s, 1);
    gap_list l = {0};
    cr_assert_eq(tq_store_each_gap(t, a, gap_list_take, &l), TQ_OK);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.v[0].first, 5);
    cr_assert_eq(l.v[0].frame, 1);
    cr_assert_eq(l.v[1].first, 256);
    cr_assert_eq(l.v[2].first, 300);
    cr_assert_eq(l.v[2].last, 310);
    cr_assert_eq(l.v[2].checksum, 1000);
    cr_assert_eq(memcmp(l.v[2].id, a, 16), 0);
    memset(&l, 0, sizeof l);
    cr_assert_eq(tq_store_each_gap(t, NULL, gap_list_take, &l), TQ_OK);
    cr_assert_eq(l.n, 4);
    tq_txn_abort(t);

    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_del_gap(t, a, 256), TQ_OK);
    cr_assert_eq(tq_store_del_gap(t, a, 256), TQ_ERR_NOTFOUND);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    t = tq_test_begin(s, 1);
    memset(&l, 0, sizeof l);
    cr_assert_eq(tq_store_each_gap(t, a, gap_list_take, &l), TQ_OK);
    cr_assert_eq(l.n, 2);
    tq_txn_abort(t);
}

TQ_TEST_COLLECTOR(ledger_list, tq_ledger_entry, 4)

TQ_STORE_TEST(integrity, ledger_round_trip_with_hostile_names, 0)
{
    tq_ledger_entry e1 = {.sha256 = {0xff, 1}, .kind = 2, .outcome = 1,
                          .loaded_at = 1700000001, .rows = 12};
    snprintf(e1.name, sizeof e1.name, "-a\nb\\c\xff.csv");
    tq_ledger_entry e2 = {.sha256 = {0x01}, .kind = 1, .rows = 0};
    memset(e2.name, 'n', 255);
    cr_assert_eq(tq_store_put_ledger(t, &e1), TQ_OK);
    cr_assert_eq(tq_store_put_ledger(t, &e2), TQ_OK);
    tq_ledger_entry bad = e2;
    bad.kind = 3;
    cr_assert_eq(tq_store_put_ledger(t, &bad), TQ_ERR_INPUT);
    bad = e2;
    memset(bad.name, 'n', sizeof bad.name);         /* no NUL */
    cr_assert_eq(tq_store_put_ledger(t, &bad), TQ_ERR_INPUT);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);

    t = tq_test_begin(s, 1);
    tq_ledger_entry got;
    memset(&got, 0x55, sizeof got);
    cr_assert_eq(tq_store_get_ledger(t, e1.sha256, &got), TQ_OK);
    cr_assert_eq(memcmp(&got, &e1, sizeof got), 0, "every byte back");
    uint8_t none[32] = {7};
    cr_assert_eq(tq_store_get_ledger(t, none, &got), TQ_ERR_NOTFOUND);
    ledger_list l = {0};
    cr_assert_eq(tq_store_each_ledger(t, ledger_list_take, &l), TQ_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.v[0].sha256[0], 0x01, "sha256 order");
    cr_assert_eq(strlen(l.v[0].name), 255);
    tq_txn_abort(t);
}

/* ---- backup ---- */

/* The child commits declaration N and a journal mark with last_seq N in one
 * transaction, over and over: any consistent snapshot has as many declarations as its
 * mark says. */
static void committer(const char *dir)
{
    tq_store *s = NULL;
    tq_store_opts o = {.command = "committer"};
    if (tq_store_open(dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL) != TQ_OK)
        _exit(2);
    for (uint64_t i = 1; i < 1000000; i++) {
        tq_txn *t;
        char no[13];
        snprintf(no, sizeof no, "1%011llu", (unsigned long long)i);
        tq_decl d = make_decl(no);
        tq_journal_mark m = {.id = {5}, .last_seq = i};
        if (tq_txn_begin(s, 0, &t) != TQ_OK || tq_store_put_decl(t, &d) != TQ_OK ||
            tq_store_put_journal(t, &m) != TQ_OK || tq_txn_commit(t) != TQ_OK)
            _exit(3);
    }
    _exit(0);
}

Test(integrity, backup_while_another_process_commits_is_one_commit)
{
    const char *src = path_in("src");
    tq_store *s = tq_test_open(src, TQ_STORE_WRITE);
    tq_store_close(s);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        committer(src);
    s = tq_test_open(src, 0);
    /* wait (10 s at most, a loaded machine is slow) for the committer's first commits */
    for (int i = 0; i < 1000; i++) {
        tq_txn *w = tq_test_begin(s, 1);
        tq_journal_mark wm;
        uint8_t wid[16] = {5};
        int got = tq_store_get_journal(w, wid, &wm);
        tq_txn_abort(w);
        if (got == TQ_OK && wm.last_seq >= 10)
            break;
        usleep(10 * 1000);
    }
    tq_diag d = {0};
    int rc = tq_store_backup(s, path_in("bak"), &d);
    cr_assert_eq(rc, TQ_OK, "%s: %s", tq_strerror(rc), d.why);
    cr_assert_eq(tq_store_backup(s, path_in("bak"), &d), TQ_ERR_EXISTS, "not empty");
    tq_store_close(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    struct stat sb;
    cr_assert_eq(stat(path_in("bak/" TQ_STORE_MARKER), &sb), 0);
    s = tq_test_open(path_in("bak"), 0);
    tq_txn *t = tq_test_begin(s, 1);
    uint8_t id[16] = {5};
    tq_journal_mark m;
    cr_assert_eq(tq_store_get_journal(t, id, &m), TQ_OK);
    int n = 0;
    cr_assert_eq(tq_store_each_decl(t, count_decl, &n), TQ_OK);
    cr_assert_gt(n, 0, "the committer ran before the copy");
    cr_assert_eq((uint64_t)n, m.last_seq, "one commit: %d decls, mark %llu", n,
                 (unsigned long long)m.last_seq);
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_OK);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(integrity, failed_backup_leaves_nothing)
{
    tq_store *s = tq_test_open(path_in("src"), TQ_STORE_WRITE);
    fill(s);
    tq_diag d = {0};
    cr_assert_eq(tq_store_backup(s, path_in("no/such/parent"), &d), TQ_ERR_IO);
    cr_assert(strstr(d.why, "No such file or directory") != NULL, "%s", d.why);
    /* a file where the directory should be */
    FILE *f = fopen(path_in("afile"), "w");
    fclose(f);
    cr_assert_eq(tq_store_backup(s, path_in("afile"), &d), TQ_ERR_EXISTS);
    /* an empty directory is accepted */
    cr_assert_eq(mkdir(path_in("empty"), 0755), 0);
    cr_assert_eq(tq_store_backup(s, path_in("empty"), &d), TQ_OK, "%s", d.why);
    tq_store_close(s);
}
