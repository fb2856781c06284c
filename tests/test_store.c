/* test_store.c - the LMDB store (engine/tq_store.c): one small behaviour per test.
 *
 * Each test works in a fresh directory under /tmp, removed afterwards.  Damaged values
 * and foreign versions are written with raw LMDB calls, as a bad disk or an older
 * program would leave them.  Lock tests fork: flock() is per open file, so a child
 * holding the lock is a real second writer, and killing it shows that a dead holder
 * blocks nobody.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_testrec.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(store, "tq_store", 60);

/* ---- helpers ---- */

static tq_store *open_writer_at(const char *dir, uint64_t map_size)
{
    tq_store *s = NULL;
    tq_store_opts o = {.map_size = map_size, .command = "test_store"};
    int rc = tq_store_open(dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL);
    cr_assert_eq(rc, TQ_OK, "open %s: %s", dir, tq_strerror(rc));
    return s;
}

static tq_store *open_writer(void)
{
    return open_writer_at(g_dir, 0);
}

static tq_store *open_reader(void)
{
    tq_store *s = NULL;
    int rc = tq_store_open(g_dir, 0, NULL, &s, NULL);
    cr_assert_eq(rc, TQ_OK, "open reader: %s", tq_strerror(rc));
    return s;
}


/* A zeroed declaration with n lines, as tq_rules_begin() builds them. */
static tq_decl make_decl(const char *no, unsigned nlines)
{
    tq_decl d = tq_test_decl(no, NULL, "0101234567", TQ_STATE_HELD);
    d.reasons = TQ_R_TAX_SHORT;
    d.tax_due = 12500000;
    d.tax_short = 500000;
    d.registered.sec = 1722910500;
    d.reg_day = 19941;
    d.nlines = (uint16_t)nlines;
    for (unsigned i = 0; i < nlines; i++) {
        snprintf(d.lines[i].hs, sizeof d.lines[i].hs, "%08u", 85171300u + i);
        d.lines[i].qty = 100 + i;
        if (i % 2 == 0)
            snprintf(d.lines[i].permit, sizeof d.lines[i].permit, "GCN-2024-%06u", i);
    }
    return d;
}

/* cover_of() - the cover of decl_no, which must be readable.  Its guarantees live in
 * one buffer the whole test reuses (freed when the test's process ends). */
static tq_cover cover_of(tq_txn *t, const char *decl_no)
{
    static tq_guarantee *guar;
    static size_t cap;
    tq_cover c;
    int rc = tq_store_get_cover(t, decl_no, &c, &guar, &cap);
    cr_assert_eq(rc, TQ_OK, "cover of %s: %s", decl_no, tq_strerror(rc));
    return c;
}

static tq_permit make_permit(const char *no, uint64_t quota)
{
    tq_permit p;
    memset(&p, 0, sizeof p);
    snprintf(p.permit_no, sizeof p.permit_no, "%s", no);
    snprintf(p.agency, sizeof p.agency, "BCT");
    snprintf(p.holder, sizeof p.holder, "0101234567");
    p.status = TQ_PERMIT_VALID;
    p.valid_from = 19723;
    p.valid_to = 20088;
    p.quota = quota;
    p.nprefixes = 2;
    snprintf(p.prefixes[0], sizeof p.prefixes[0], "8517");
    snprintf(p.prefixes[1], sizeof p.prefixes[1], "8471");
    return p;
}

/* Raw LMDB access, as another program (or a damaged disk) would write. */
static void raw_put(const char *db, const void *k, size_t kn, const void *v, size_t vn)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 10), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The stored bytes of k in db, copied into out; returns their length. */
static size_t raw_get(const char *db, const void *k, size_t kn, void *out, size_t cap)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val key = {kn, (void *)k}, val;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 10), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
    cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0);
    cr_assert_leq(val.mv_size, cap);
    memcpy(out, val.mv_data, val.mv_size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return val.mv_size;
}

/* Table ids, as engine/STORE.md §2 numbers them for the seal. */
static int table_id(const char *db)
{
    static const char *const names[] = {"meta",  "receipts", "cover",   "permits", "usage",
                                        "decls", "journals", "gaps",    "ledger"};
    for (int i = 0; i < 9; i++)
        if (strcmp(db, names[i]) == 0)
            return i;
    cr_assert_fail("no table %s", db);
    return -1;
}

/* The seal of STORE.md §2, computed here from its description (not the store's code):
 * the low 32 bits of XXH3-64 of the value, seeded with XXH3-64 of the key seeded with
 * the table id, little-endian after the value. */
static size_t seal(const char *db, const void *k, size_t kn, const void *v, size_t vn,
                   uint8_t *out)
{
    uint64_t seed = XXH3_64bits_withSeed(k, kn, (uint64_t)table_id(db));
    uint32_t h = (uint32_t)XXH3_64bits_withSeed(v, vn, seed);
    memcpy(out, v, vn);
    for (int i = 0; i < 4; i++)
        out[vn + i] = (uint8_t)(h >> (8 * i));
    return vn + 4;
}

/* A damaged value that carries a correct seal: what only the decoder can catch. */
static void raw_put_sealed(const char *db, const void *k, size_t kn, const void *v, size_t vn)
{
    uint8_t buf[4096];
    cr_assert_leq(vn + 4, sizeof buf);
    raw_put(db, k, kn, buf, seal(db, k, kn, v, vn, buf));
}

static void put_one_decl(const char *no)
{
    tq_store *s = open_writer();
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = make_decl(no, 3);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);
}

/* ---- open, create, version ---- */

Test(store, open_creates_missing_dirs_and_reopens)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/a/b/db", g_dir);
    tq_store *s = open_writer_at(dir, 0);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = make_decl("103456789012", 2);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);

    struct stat sb;
    const char *files[] = {"data.mdb", "lock.mdb", "lock"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        cr_assert_eq(stat(p, &sb), 0, "%s missing", files[i]);
    }

    s = NULL;
    cr_assert_eq(tq_store_open(dir, 0, NULL, &s, NULL), TQ_OK);
    t = tq_test_begin(s, 1);
    tq_decl got;
    cr_assert_eq(tq_store_get_decl(t, "103456789012", &got), TQ_OK);
    cr_assert_eq(memcmp(&got, &d, sizeof d), 0);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(store, reader_without_database_is_notfound)
{
    tq_store *s = (tq_store *)&s;
    cr_assert_eq(tq_store_open(path_in("nope"), 0, NULL, &s, NULL), TQ_ERR_NOTFOUND);
    cr_assert_null(s);
    struct stat sb;
    cr_assert_neq(stat(path_in("nope"), &sb), 0, "a reader must not create the dir");
    /* An existing but empty directory is no database either. */
    cr_assert_eq(tq_store_open(g_dir, 0, NULL, &s, NULL), TQ_ERR_NOTFOUND);
}

Test(store, version_mismatch_is_refused)
{
    put_one_decl("103456789012");
    uint8_t v3[4] = {TQ_STORE_VERSION + 1, 0, 0, 0};
    raw_put_sealed("meta", "version", 7, v3, sizeof v3);
    tq_store *s = NULL;
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, NULL, &s, NULL), TQ_ERR_VERSION);
    cr_assert_null(s);
    cr_assert_eq(tq_store_open(g_dir, 0, NULL, &s, NULL), TQ_ERR_VERSION);
    /* The refused writer released its lock. */
    uint8_t v2[4] = {TQ_STORE_VERSION, 0, 0, 0};
    raw_put_sealed("meta", "version", 7, v2, sizeof v2);
    s = open_writer();
    tq_store_close(s);
}

Test(store, foreign_lmdb_file_is_refused)
{
    raw_put(NULL, "hello", 5, "world", 5);
    tq_store *s = NULL;
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, NULL, &s, NULL), TQ_ERR_VERSION);
    cr_assert_eq(tq_store_open(g_dir, 0, NULL, &s, NULL), TQ_ERR_VERSION);
}

Test(store, dir_that_is_a_file_is_an_io_error)
{
    FILE *f = fopen(path_in("file"), "w");
    cr_assert_not_null(f);
    fclose(f);
    tq_store *s = NULL;
    tq_diag d;
    tq_store_opts o = {.diag = &d};
    cr_assert_eq(tq_store_open(path_in("file"), TQ_STORE_WRITE, &o, &s, NULL), TQ_ERR_IO);
    cr_assert(strstr(d.why, "Not a directory") != NULL, "%s", d.why);
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_store_open(path_in("file"), 0, &o, &s, NULL), TQ_ERR_IO);
    cr_assert(strstr(d.why, "file/data.mdb: Not a directory") != NULL, "%s", d.why);
}

Test(store, reader_refuses_write_transactions)
{
    put_one_decl("103456789012");
    tq_store *s = open_reader();
    tq_txn *t = (tq_txn *)&t;
    cr_assert_eq(tq_txn_begin(s, 0, &t), TQ_ERR_STORE);
    cr_assert_null(t);
    tq_store_close(s);
}

/* ---- the writer lock ---- */

Test(store, lock_file_names_the_holder)
{
    tq_store *s = NULL;
    tq_store_opts o = {.command = "thongquan replay j.tqj\nforged=1"};
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL), TQ_OK);
    char text[512] = {0};
    FILE *f = fopen(path_in("lock"), "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char want[128];
    snprintf(want, sizeof want, "pid=%ld\ncommand=thongquan replay j.tqj?forged=1\nstarted=",
             (long)getpid());
    cr_assert_eq(strncmp(text, want, strlen(want)), 0, "lock text: %s", text);
    const char *started = text + strlen(want);
    cr_assert_eq(strlen(started), 21, "started: %s", started);     /* ...SSZ\n */
    cr_assert_eq(started[4], '-');
    cr_assert_eq(started[10], 'T');
    cr_assert_eq(started[19], 'Z');
    tq_store_close(s);
}

Test(store, second_writer_in_process_is_busy)
{
    tq_store *s = open_writer();
    tq_store *s2 = (tq_store *)&s2;
    tq_store_holder h;
    memset(&h, 0x55, sizeof h);
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, NULL, &s2, &h), TQ_ERR_BUSY);
    cr_assert_null(s2);
    cr_assert_eq(h.pid, (long)getpid());
    cr_assert_str_eq(h.command, "test_store");
    cr_assert_eq(strlen(h.started), 20);
    /* busy may be NULL. */
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, NULL, &s2, NULL), TQ_ERR_BUSY);
    tq_store_close(s);
    s2 = open_writer();
    tq_store_close(s2);
}

/* fork_talking() - forks a child that reports to the parent on the pipe `ready` and
 * waits for it on the pipe `go`; each side's unused ends are closed (so a child blocked
 * on go ends when the parent does).  Returns the child's pid, 0 in the child. */
static pid_t fork_talking(int ready[2], int go[2])
{
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
    } else {
        close(ready[1]);
        close(go[0]);
    }
    return pid;
}

/* The parent's side: the child's next report on fd is the byte want. */
static void expect_report(int fd, char want, const char *what)
{
    char c = 0;
    cr_assert_eq(read(fd, &c, 1), 1, "%s: no report", what);
    cr_assert_eq(c, want, "%s", what);
}

/* A child that opens the database as a writer, optionally stores one declaration,
 * reports on `ready` and waits on `go` until it is killed. */
static pid_t spawn_writer(int with_decl)
{
    int ready[2], go[2];
    pid_t pid = fork_talking(ready, go);
    if (pid == 0) {
        tq_store *s = NULL;
        tq_store_opts o = {.command = "child-writer"};
        char c = 'x';
        if (tq_store_open(g_dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL) == TQ_OK) {
            tq_txn *t = NULL;
            c = 'r';
            if (with_decl) {
                tq_decl d = make_decl("103456789012", 2);
                if (tq_txn_begin(s, 0, &t) != TQ_OK || tq_store_put_decl(t, &d) != TQ_OK ||
                    tq_txn_commit(t) != TQ_OK)
                    c = 'x';
            }
        }
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    expect_report(ready[0], 'r', "the child could not open the database");
    close(ready[0]);
    /* go[1] stays open: the child blocks until it is killed. */
    return pid;
}

static void kill_child(pid_t pid)
{
    int status;
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status));
}

Test(store, second_writer_is_busy_until_holder_dies)
{
    pid_t child = spawn_writer(0);
    tq_store *s = NULL;
    tq_store_holder h;
    cr_assert_eq(tq_store_open(g_dir, TQ_STORE_WRITE, NULL, &s, &h), TQ_ERR_BUSY);
    cr_assert_eq(h.pid, (long)child);
    cr_assert_str_eq(h.command, "child-writer");
    /* SIGKILL: the holder gets no chance to clean up; the kernel drops its lock. */
    kill_child(child);
    s = open_writer();
    tq_store_close(s);
}

Test(store, reader_opens_while_writer_holds_lock)
{
    pid_t child = spawn_writer(1);
    tq_store *s = open_reader();
    tq_txn *t = tq_test_begin(s, 1);
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(t, "103456789012", &d), TQ_OK);
    cr_assert_eq(d.nlines, 2);
    tq_txn_abort(t);
    tq_store_close(s);
    kill_child(child);
}

/* ---- payments ---- */

TQ_STORE_TEST(store, same_payment_row_counts_once, 0)
{
    tq_payment p = tq_test_payment("103456789012", "KB-2024-0000001", TQ_PAY, 12500000, 0);
    int is_new = -1;
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, &is_new), TQ_OK);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, &is_new), TQ_OK);
    cr_assert_eq(is_new, 0);
    tq_test_commit(t);
    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, &is_new), TQ_OK);
    cr_assert_eq(is_new, 0, "dedup across transactions");
    tq_cover c = cover_of(t, "103456789012");
    cr_assert_eq(c.pay_total, 12500000);
    cr_assert_eq(c.nguar, 0);
    tq_payment got;
    cr_assert_eq(tq_store_get_payment(t, "KB-2024-0000001", &got), TQ_OK);
    cr_assert(tq_test_payment_equal(&got, &p));
    cr_assert_eq(tq_store_get_payment(t, "KB-2024-0000002", &got), TQ_ERR_NOTFOUND);
    tq_test_commit(t);
}

TQ_STORE_TEST(store, payment_conflict_on_each_field, 0)
{
    tq_payment base =
        tq_test_payment("103456789013", "BL-VCB-000017", TQ_GUARANTEE, 8000000, 20088);
    cr_assert_eq(tq_store_add_payment(t, &base, NULL, NULL), TQ_OK);
    tq_payment v[4] = {base, base, base, base};
    snprintf(v[0].decl_no, sizeof v[0].decl_no, "103456789014");
    v[1].kind = TQ_PAY;
    v[1].valid_until = TQ_NO_DATE;
    v[1].kind = TQ_PAY;
    v[2].amount = 8000001;
    v[3].valid_until = 20089;
    /* v[1] differs in kind and valid_until; make one that differs in kind alone. */
    tq_payment kind_only = base;
    kind_only.kind = TQ_PAY;
    tq_payment all[5] = {v[0], v[1], kind_only, v[2], v[3]};
    for (int i = 0; i < 5; i++) {
        tq_payment known;
        memset(&known, 0, sizeof known);
        cr_assert_eq(tq_store_add_payment(t, &all[i], &known, NULL), TQ_ERR_CONFLICT, "variant %d", i);
        cr_assert(tq_test_payment_equal(&known, &base), "variant %d", i);
        cr_assert_eq(tq_store_add_payment(t, &all[i], NULL, NULL), TQ_ERR_CONFLICT);
    }
    /* Nothing changed: one guarantee, for the original declaration only. */
    tq_cover c = cover_of(t, "103456789013");
    cr_assert_eq(c.pay_total, 0);
    cr_assert_eq(c.nguar, 1);
    cr_assert_eq(c.guar[0].valid_until, 20088);
    cr_assert_eq(c.guar[0].amount, 8000000);
    c = cover_of(t, "103456789014");
    cr_assert_eq(c.nguar, 0);
    cr_assert_eq(c.pay_total, 0);
    tq_test_commit(t);
}

TQ_STORE_TEST(store, payment_bad_fields_are_input_errors, 0)
{
    tq_payment p = tq_test_payment("10345678901", "KB-1", TQ_PAY, 1, 0);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_ERR_INPUT, "11-digit decl_no");
    p = tq_test_payment("103456789012", "", TQ_PAY, 1, 0);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_ERR_INPUT, "empty receipt_no");
    p = tq_test_payment("103456789012", "KB-1", 3, 1, 0);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_ERR_INPUT, "kind 3");
    tq_test_commit(t);
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.receipts, 0);
    cr_assert_eq(info.covers, 0);
}

TQ_STORE_TEST(store, cover_sums_pay_and_merges_guarantees, 0)
{
    const char *no = "103456789012";
    tq_payment rows[] = {
        tq_test_payment(no, "P1", TQ_PAY, 100, 0),
        tq_test_payment(no, "G1", TQ_GUARANTEE, 10, 20000),
        tq_test_payment(no, "P2", TQ_PAY, 200, 0),
        tq_test_payment(no, "G2", TQ_GUARANTEE, 20, 19000),
        tq_test_payment(no, "G3", TQ_GUARANTEE, 30, 21000),
        tq_test_payment(no, "G4", TQ_GUARANTEE, 40, 20000),      /* same day as G1: merged */
        tq_test_payment(no, "G5", TQ_GUARANTEE, UINT64_MAX - 5, 19000),  /* past 64 bits with G2 */
        tq_test_payment(no, "G6", TQ_GUARANTEE, 1, -5),          /* before 1970: first */
        tq_test_payment("103456789099", "P3", TQ_PAY, 7, 0),     /* another declaration */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(tq_store_add_payment(t, &rows[i], NULL, NULL), TQ_OK, "row %zu", i);
    tq_test_commit(t);

    t = tq_test_begin(s, 1);
    /* the caller's buffer, grown by the store: checked here, so not cover_of() */
    tq_cover c;
    tq_guarantee *g = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_store_get_cover(t, no, &c, &g, &cap), TQ_OK);
    cr_assert_eq(c.pay_total, 300);
    cr_assert_eq(c.nguar, 4);
    cr_assert_eq(c.guar, g);
    cr_assert_geq(cap, 4);
    const tq_guarantee want[] = {
        {-5, 1}, {19000, (tq_u128)UINT64_MAX + 15}, {20000, 50}, {21000, 30}};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(c.guar[i].valid_until, want[i].valid_until, "entry %d", i);
        cr_assert(c.guar[i].amount == want[i].amount, "entry %d", i);
    }
    free(g);
    c = cover_of(t, "103456789099");
    cr_assert_eq(c.pay_total, 7);
    cr_assert_eq(c.nguar, 0);
    tq_txn_abort(t);
}

TQ_STORE_TEST(store, sums_are_exact_past_64_bits, 0)
{
    tq_payment a = tq_test_payment("103456789012", "P1", TQ_PAY, UINT64_MAX - 10, 0);
    tq_payment b = tq_test_payment("103456789012", "P2", TQ_PAY, 100, 0);
    tq_payment g1 = tq_test_payment("103456789012", "G1", TQ_GUARANTEE, UINT64_MAX, 20000);
    tq_payment g2 = tq_test_payment("103456789012", "G2", TQ_GUARANTEE, UINT64_MAX, 20000);
    cr_assert_eq(tq_store_add_payment(t, &a, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &b, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &g1, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &g2, NULL, NULL), TQ_OK);
    tq_cover c = cover_of(t, "103456789012");
    cr_assert(c.pay_total == (tq_u128)UINT64_MAX + 90, "pay total exact");
    cr_assert_eq(c.nguar, 1, "one day, merged");
    cr_assert(c.guar[0].amount == (tq_u128)UINT64_MAX * 2, "merged guarantees exact");
    char dec[TQ_U128_DEC_MAX];
    cr_assert_str_eq(tq_u128_dec(tq_rules_covered_exact(&c, 20000), dec),
                     "55340232221128654935");
    tq_test_commit(t);
}

TQ_STORE_TEST(store, no_payment_gives_empty_cover, 1)
{
    tq_cover c;
    memset(&c, 0x55, sizeof c);
    tq_guarantee *g = NULL;
    size_t cap = 0;
    cr_assert_eq(tq_store_get_cover(t, "103456789012", &c, &g, &cap), TQ_OK);
    cr_assert_eq(c.pay_total, 0);
    cr_assert_eq(c.nguar, 0);
    cr_assert_null(g);
    cr_assert_eq(cap, 0);
    tq_txn_abort(t);
}

TQ_STORE_TEST(store, many_guarantees_stay_sorted, 0)
{
    /* More distinct days than the stack buffer holds: the scratch path. */
    for (int i = 0; i < 100; i++) {
        char r[16];
        snprintf(r, sizeof r, "G%03d", i);
        int32_t day = 20000 + (i * 37) % 100;       /* a permutation of 20000..20099 */
        tq_payment p = tq_test_payment("103456789012", r, TQ_GUARANTEE, (uint64_t)day, day);
        cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    }
    tq_test_commit(t);
    t = tq_test_begin(s, 1);
    tq_cover c;
    tq_guarantee *g = malloc(2 * sizeof *g);
    size_t cap = 2;
    cr_assert_eq(tq_store_get_cover(t, "103456789012", &c, &g, &cap), TQ_OK);
    cr_assert_eq(c.nguar, 100);
    cr_assert_geq(cap, 100);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(c.guar[i].valid_until, 20000 + i);
        cr_assert_eq(c.guar[i].amount, (uint64_t)(20000 + i));
    }
    tq_txn_abort(t);
    free(g);
}

/* ---- permits ---- */

TQ_STORE_TEST(store, permit_replace_keeps_used, 0)
{
    tq_permit p = make_permit("GP-NK-2024-77", 50000);
    uint64_t used = 99;
    cr_assert_eq(tq_store_get_used(t, "GP-NK-2024-77", &used), TQ_OK);
    cr_assert_eq(used, 0);
    cr_assert_eq(tq_store_put_permit(t, &p), TQ_OK);
    cr_assert_eq(tq_store_put_used(t, "GP-NK-2024-77", 777), TQ_OK);
    tq_test_commit(t);

    t = tq_test_begin(s, 0);
    p.status = TQ_PERMIT_REVOKED;
    p.nprefixes = 1;
    cr_assert_eq(tq_store_put_permit(t, &p), 1);
    tq_test_commit(t);

    t = tq_test_begin(s, 1);
    tq_permit got;
    cr_assert_eq(tq_store_get_permit(t, "GP-NK-2024-77", &got), TQ_OK);
    cr_assert_eq(got.status, TQ_PERMIT_REVOKED);
    cr_assert_eq(got.nprefixes, 1);
    cr_assert_str_eq(got.prefixes[0], "8517");
    cr_assert_eq(tq_store_get_used(t, "GP-NK-2024-77", &used), TQ_OK);
    cr_assert_eq(used, 777);
    cr_assert_eq(tq_store_get_permit(t, "GP-NK-2024-78", &got), TQ_ERR_NOTFOUND);
    tq_txn_abort(t);
}

TQ_STORE_TEST(store, permit_round_trip_at_the_bounds, 0)
{
    tq_permit p;
    memset(&p, 0, sizeof p);
    memset(p.permit_no, 'Z', TQ_PERMIT_MAX);
    memset(p.agency, 'A', TQ_AGENCY_MAX);
    memset(p.holder, '9', TQ_TAXID_MAX);
    p.status = TQ_PERMIT_REVOKED;
    p.valid_from = INT32_MIN;
    p.valid_to = INT32_MAX;
    p.quota = TQ_QUOTA_MAX;
    p.nprefixes = TQ_PREFIXES_MAX;
    for (int i = 0; i < TQ_PREFIXES_MAX; i++)
        snprintf(p.prefixes[i], sizeof p.prefixes[i], "%08d", 99999999 - i);
    cr_assert_eq(tq_store_put_permit(t, &p), TQ_OK);
    tq_permit got;
    memset(&got, 0x55, sizeof got);
    cr_assert_eq(tq_store_get_permit(t, p.permit_no, &got), TQ_OK);
    cr_assert_eq(memcmp(&got, &p, sizeof p), 0, "every byte comes back");
    /* Past the bounds: refused, nothing written. */
    tq_permit bad = p;
    bad.nprefixes = TQ_PREFIXES_MAX + 1;
    cr_assert_eq(tq_store_put_permit(t, &bad), TQ_ERR_INPUT);
    bad = p;
    bad.status = 0;
    cr_assert_eq(tq_store_put_permit(t, &bad), TQ_ERR_INPUT);
    bad = p;
    memset(bad.agency, 'A', sizeof bad.agency);    /* no NUL */
    cr_assert_eq(tq_store_put_permit(t, &bad), TQ_ERR_INPUT);
    cr_assert_eq(tq_store_get_used(t, "", &(uint64_t){0}), TQ_ERR_INPUT);
    tq_test_commit(t);
}

/* ---- declarations ---- */

Test(store, decl_round_trip_with_fifty_lines_and_max_values)
{
    tq_decl d = make_decl("999999999999", TQ_LINES_MAX);
    d.state = TQ_STATE_CANCELLED;
    d.channel = 3;
    d.officer = TQ_SEEN_DOCS_OK | TQ_SEEN_INSPECT_OK;
    d.manual = 1;
    d.version = UINT32_MAX;
    d.reasons = (1u << TQ_REASON_COUNT) - 1;
    d.tax_due = UINT64_MAX;
    d.tax_short = TQ_MONEY_MAX;
    d.registered.sec = INT64_MIN;
    d.registered.nsec = 999999999;
    d.reg_day = INT32_MIN;
    memset(d.declarant, '9', TQ_TAXID_MAX);
    memcpy(d.kind, "Z9Z", 4);
    memcpy(d.office, "ZZ99", 5);
    memset(d.src_id, 0xff, sizeof d.src_id);
    d.src_seq = UINT64_MAX;
    for (unsigned i = 0; i < TQ_LINES_MAX; i++) {
        snprintf(d.lines[i].hs, sizeof d.lines[i].hs, "%08u", i % 2 ? 99999999u : i);
        d.lines[i].qty = i % 2 ? UINT64_MAX : TQ_QTY_MAX;
        d.lines[i].value = i % 2 ? TQ_MONEY_MAX : 0;
        memset(d.lines[i].permit, 0, sizeof d.lines[i].permit);
        if (i % 3 != 2)
            memset(d.lines[i].permit, i % 3 ? 'p' : '-', TQ_PERMIT_MAX);
    }
    tq_store *s = open_writer();
    tq_txn *t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    t = tq_test_begin(s, 1);
    tq_decl got;
    memset(&got, 0x55, sizeof got);
    cr_assert_eq(tq_store_get_decl(t, "999999999999", &got), TQ_OK);
    cr_assert_eq(memcmp(&got, &d, sizeof d), 0, "every byte comes back");
    cr_assert_str_eq(got.lines[0].hs, "00000000");
    cr_assert_eq(got.registered.sec, INT64_MIN);
    cr_assert_eq(got.version, UINT32_MAX);
    tq_txn_abort(t);
    tq_store_close(s);

    /* The largest value fits the documented bound of STORE.md (2947 bytes). */
    uint8_t raw[4096];
    size_t n = raw_get("decls", "999999999999", 12, raw, sizeof raw);
    cr_assert_leq(n, 2947 + 4);
}

Test(store, decl_small_values_encode_compactly)
{
    tq_decl d = make_decl("103456789012", 1);
    memset(d.lines[0].permit, 0, sizeof d.lines[0].permit);
    d.registered.sec = 0;
    d.reg_day = 0;
    d.tax_due = d.tax_short = 0;
    d.declarant[0] = '\0';
    tq_store *s = open_writer();
    tq_txn *t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);
    uint8_t raw[64];
    size_t n = raw_get("decls", "103456789012", 12, raw, sizeof raw);
    /* 0x80|state channel officer manual | version reasons tax_due tax_short | sec(8)
     * nsec(4) reg_day(4) | declarant len | kind len | office len | src_id(16) src_seq |
     * nlines | hs 85171300 = 0x05139c64 | qty 100 | value 0 | permit len */
    const uint8_t want[] = {
        0x82, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x9c, 0x13,
        0x05, 0x64, 0x00, 0x00};
    cr_assert_eq(n, sizeof want + 4, "the value and its seal");
    cr_assert_eq(memcmp(raw, want, sizeof want), 0);
    uint8_t sealed[64];
    seal("decls", "103456789012", 12, want, sizeof want, sealed);
    cr_assert_eq(memcmp(raw, sealed, n), 0, "the seal as STORE.md describes it");
}

TQ_STORE_TEST(store, decl_out_of_bounds_is_refused, 0)
{
    tq_decl ok = make_decl("103456789012", 2), d;
    d = ok;
    snprintf(d.lines[1].hs, sizeof d.lines[1].hs, "8517130");
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "7-digit hs");
    d = ok;
    memcpy(d.lines[1].hs, "8517130x", 8);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "hs not digits");
    d = ok;
    d.channel = 0;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "channel 0");
    d = ok;
    d.state = 5;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "state 5");
    d = ok;
    d.nlines = TQ_LINES_MAX + 1;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "51 lines");
    d = ok;
    d.registered.nsec = 1000000000;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "nsec");
    d = ok;
    d.reasons = 1u << TQ_REASON_COUNT;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "unknown reason bit");
    d = ok;
    d.decl_no[11] = '\0';
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "11-digit decl_no");
    d = ok;
    memset(d.lines[0].permit, 'p', sizeof d.lines[0].permit);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_INPUT, "permit without NUL");
    tq_decl got;
    cr_assert_eq(tq_store_get_decl(t, "103456789012", &got), TQ_ERR_NOTFOUND);
    cr_assert_eq(tq_store_get_decl(t, "1034567890", &got), TQ_ERR_INPUT);
    tq_test_commit(t);
}

Test(store, damaged_decl_is_corrupt)
{
    put_one_decl("103456789012");
    uint8_t good[512];
    size_t n = raw_get("decls", "103456789012", 12, good, sizeof good) - 4;  /* payload */
    /* Every truncation, one byte too many, and some bad fields, each under its own key,
     * each once with a correct seal (the decoder must catch it) and once as it is (the
     * seal must). */
    uint8_t bad[8][520];
    size_t len[8];
    int nbad = 0;
    memcpy(bad[nbad], good, n);
    bad[nbad][n] = 0;
    len[nbad++] = n + 1;
    const size_t fields[] = {0 /* state */, 1 /* channel */, 2 /* officer */, 3 /* manual */};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memcpy(bad[nbad], good, n);
        bad[nbad][fields[i]] = 0x77;
        len[nbad++] = n;
    }
    memcpy(bad[nbad], good, n);
    memset(bad[nbad] + 4, 0xff, 11);    /* a varint that never ends within 64 bits */
    len[nbad++] = n;
    char key[13];
    int k = 0;
    for (size_t cut = 0; cut < n; cut++, k += 2) {
        snprintf(key, sizeof key, "2%011d", k);
        raw_put_sealed("decls", key, 12, good, cut);
        snprintf(key, sizeof key, "2%011d", k + 1);
        raw_put("decls", key, 12, good, cut);
    }
    for (int i = 0; i < nbad; i++, k += 2) {
        snprintf(key, sizeof key, "2%011d", k);
        raw_put_sealed("decls", key, 12, bad[i], len[i]);
        snprintf(key, sizeof key, "2%011d", k + 1);
        raw_put("decls", key, 12, bad[i], len[i]);
    }
    /* A good value moved under another well-formed key: only the seal tells. */
    raw_put("decls", "203456789012", 12, good, n + 4);

    tq_store *s = open_reader();
    tq_txn *t = tq_test_begin(s, 1);
    tq_decl d;
    tq_diag dg;
    cr_assert_eq(tq_store_get_decl(t, "103456789012", &d), TQ_OK);
    for (int i = 0; i < k; i++) {
        snprintf(key, sizeof key, "2%011d", i);
        cr_assert_eq(tq_store_get_decl(t, key, &d), TQ_ERR_DBCORRUPT, "value %d", i);
    }
    tq_txn_abort(t);
    t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_get_decl(t, "203456789012", &d), TQ_ERR_DBCORRUPT);
    tq_txn_fault(t, &dg);
    cr_assert_str_eq(dg.field, "(database)");
    cr_assert_str_eq(dg.why, "table 'decls', key '203456789012': seal mismatch (the key or "
                             "the value was changed)");
    tq_txn_abort(t);
    t = tq_test_begin(s, 1);
    snprintf(key, sizeof key, "2%011d", 2 * (int)n + 2);   /* state 0x77, sealed */
    cr_assert_eq(tq_store_get_decl(t, key, &d), TQ_ERR_DBCORRUPT);
    tq_txn_fault(t, &dg);
    cr_assert(strstr(dg.why, "state out of range") != NULL, "%s", dg.why);
    tq_txn_abort(t);
    tq_store_close(s);
}

static int count_decl(void *ctx, const tq_decl *d)
{
    (void)d;
    ++*(int *)ctx;
    return 0;
}

Test(store, each_decl_stops_at_damage)
{
    put_one_decl("103456789012");
    raw_put("decls", "203456789012", 12, "\x02\x01", 2);
    tq_store *s = open_reader();
    tq_txn *t = tq_test_begin(s, 1);
    int n = 0;
    cr_assert_eq(tq_store_each_decl(t, count_decl, &n), TQ_ERR_DBCORRUPT);
    cr_assert_eq(n, 1);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(store, damaged_cover_is_corrupt)
{
    tq_store *s = open_writer();
    tq_txn *t = tq_test_begin(s, 0);
    tq_payment g1 = tq_test_payment("103456789012", "G1", TQ_GUARANTEE, 5, 20000);
    tq_payment g2 = tq_test_payment("103456789012", "G2", TQ_GUARANTEE, 6, 20001);
    cr_assert_eq(tq_store_add_payment(t, &g1, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &g2, NULL, NULL), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);
    uint8_t v[96];
    size_t n = raw_get("cover", "103456789012", 12, v, sizeof v) - 4;
    /* pay_total u128, nguar u32, then (day i32, amount u128) per guarantee */
    cr_assert_eq(n, 20 + 2 * 20);
    /* Swap the two days: no longer ascending. */
    uint8_t sw[60];
    memcpy(sw, v, n);
    memcpy(sw + 20, v + 40, 20);
    memcpy(sw + 40, v + 20, 20);
    raw_put_sealed("cover", "203456789012", 12, sw, n);
    raw_put_sealed("cover", "303456789012", 12, v, n - 1);   /* short */
    v[16] = 3;                                                /* count says 3 */
    raw_put_sealed("cover", "403456789012", 12, v, n);
    s = open_writer();
    t = tq_test_begin(s, 0);
    tq_cover c;
    tq_guarantee *g = NULL;
    size_t cap = 0;
    const char *nos[] = {"203456789012", "303456789012", "403456789012"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tq_store_get_cover(t, nos[i], &c, &g, &cap), TQ_ERR_DBCORRUPT, "%s", nos[i]);
        char r[8];
        snprintf(r, sizeof r, "X%d", i);
        tq_payment p = tq_test_payment(nos[i], r, TQ_PAY, 1, 0);
        cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_ERR_DBCORRUPT, "%s", nos[i]);
    }
    tq_txn_abort(t);
    free(g);
    tq_store_close(s);
}

/* ---- iteration ---- */

typedef struct seen {
    char keys[16][64];
    int n, stop_at;
} seen;

static int seen_decl(void *ctx, const tq_decl *d)
{
    seen *s = ctx;
    snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", d->decl_no);
    return s->n == s->stop_at ? 42 : 0;
}

static int seen_permit(void *ctx, const tq_permit *p, uint64_t used)
{
    seen *s = ctx;
    snprintf(s->keys[s->n++], sizeof s->keys[0], "%s=%llu", p->permit_no,
             (unsigned long long)used);
    return s->n == s->stop_at ? 43 : 0;
}

static int seen_payment(void *ctx, const tq_payment *p)
{
    seen *s = ctx;
    snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", p->receipt_no);
    return s->n == s->stop_at ? 44 : 0;
}

TQ_STORE_TEST(store, each_walks_in_byte_order, 0)
{
    const char *decls[] = {"900000000000", "100000000001", "500000000000", "100000000000"};
    const char *permits[] = {"b", "B.1", "a", "AB", "B-1", "ABC", "A"};
    const char *receipts[] = {"kb-2", "KB-10", "KB-2"};
    for (int i = 0; i < 4; i++) {
        tq_decl d = make_decl(decls[i], 1);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    for (int i = 0; i < 7; i++) {
        tq_permit p = make_permit(permits[i], 10);
        cr_assert_eq(tq_store_put_permit(t, &p), TQ_OK);
        cr_assert_eq(tq_store_put_used(t, permits[i], (uint64_t)i), TQ_OK);
    }
    for (int i = 0; i < 3; i++) {
        tq_payment p = tq_test_payment("103456789012", receipts[i], TQ_PAY, 1, 0);
        cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    }
    tq_test_commit(t);

    t = tq_test_begin(s, 1);
    seen a = {.stop_at = -1};
    cr_assert_eq(tq_store_each_decl(t, seen_decl, &a), TQ_OK);
    const char *wd[] = {"100000000000", "100000000001", "500000000000", "900000000000"};
    cr_assert_eq(a.n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(a.keys[i], wd[i]);

    seen b = {.stop_at = -1};
    cr_assert_eq(tq_store_each_permit(t, seen_permit, &b), TQ_OK);
    const char *wp[] = {"A=6", "AB=3", "ABC=5", "B-1=4", "B.1=1", "a=2", "b=0"};
    cr_assert_eq(b.n, 7);
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(b.keys[i], wp[i]);

    seen c = {.stop_at = -1};
    cr_assert_eq(tq_store_each_payment(t, seen_payment, &c), TQ_OK);
    const char *wr[] = {"KB-10", "KB-2", "kb-2"};
    cr_assert_eq(c.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(c.keys[i], wr[i]);
    tq_txn_abort(t);
}

TQ_STORE_TEST(store, each_stops_early_with_the_callbacks_value, 0)
{
    for (int i = 0; i < 5; i++) {
        char no[13], name[8];
        snprintf(no, sizeof no, "10000000000%d", i);
        snprintf(name, sizeof name, "P%d", i);
        tq_decl d = make_decl(no, 1);
        tq_permit p = make_permit(name, 0);
        tq_payment pay = tq_test_payment(no, name, TQ_PAY, 1, 0);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
        cr_assert_eq(tq_store_put_permit(t, &p), TQ_OK);
        cr_assert_eq(tq_store_add_payment(t, &pay, NULL, NULL), TQ_OK);
    }
    seen a = {.stop_at = 2}, b = {.stop_at = 3}, c = {.stop_at = 1};
    cr_assert_eq(tq_store_each_decl(t, seen_decl, &a), 42);
    cr_assert_eq(a.n, 2);
    cr_assert_eq(tq_store_each_permit(t, seen_permit, &b), 43);
    cr_assert_eq(b.n, 3);
    cr_assert_eq(tq_store_each_payment(t, seen_payment, &c), 44);
    cr_assert_eq(c.n, 1);
    tq_test_commit(t);
}

/* Puts d again into the write transaction ctx, which walks: CLEARED, one version on. */
static int rewrite_decl(void *ctx, const tq_decl *d)
{
    tq_decl c = *d;
    c.state = TQ_STATE_CLEARED;
    c.version++;
    c.nlines = 2;               /* a different size: the value moves in its page */
    return tq_store_put_decl(ctx, &c);
}

/* Counts in *ctx the declarations rewritten exactly once: a walk that met a value twice
 * leaves it at version 2, one that skipped a value leaves it at 0. */
static int count_rewritten_once(void *ctx, const tq_decl *d)
{
    *(int *)ctx += d->version == 1 && d->state == TQ_STATE_CLEARED && d->nlines == 2;
    return 0;
}

TQ_STORE_TEST(store, each_decl_callback_may_rewrite, 0)
{
    for (int i = 0; i < 300; i++) {
        char no[13];
        snprintf(no, sizeof no, "1%011d", i);
        tq_decl d = make_decl(no, 5);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    tq_test_commit(t);
    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_each_decl(t, rewrite_decl, t), TQ_OK);
    tq_test_commit(t);
    t = tq_test_begin(s, 1);
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.decls, 300);
    cr_assert_eq(info.by_state[TQ_STATE_CLEARED], 300);
    int once = 0;
    cr_assert_eq(tq_store_each_decl(t, count_rewritten_once, &once), TQ_OK);
    cr_assert_eq(once, 300, "every declaration rewritten exactly once");
    tq_txn_abort(t);
}

/* ---- journals ---- */

static int seen_mark(void *ctx, const tq_journal_mark *m)
{
    seen *s = ctx;
    snprintf(s->keys[s->n++], sizeof s->keys[0], "%02x:%llu", m->id[0],
             (unsigned long long)m->last_seq);
    return 0;
}

TQ_STORE_TEST(store, journal_marks_round_trip, 0)
{
    tq_journal_mark m;
    uint8_t id[TQ_JOURNAL_ID_LEN];
    memset(id, 0xab, sizeof id);
    memset(&m, 0x55, sizeof m);
    cr_assert_eq(tq_store_get_journal(t, id, &m), TQ_ERR_NOTFOUND);
    cr_assert_eq(memcmp(m.id, id, sizeof id), 0);
    cr_assert_eq(m.last_seq, 0);
    cr_assert_eq(m.frames, 0);
    cr_assert_eq(m.chain, 0);
    cr_assert_eq(m.applied_at, 0);

    m.last_seq = 1000000;
    m.frames = 17;
    m.chain = UINT64_MAX - 1;
    m.applied_at = 1722910500;
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_journal_mark m2 = m;
    m2.id[0] = 0x01;
    m2.last_seq = 5;
    cr_assert_eq(tq_store_put_journal(t, &m2), TQ_OK);
    tq_test_commit(t);

    t = tq_test_begin(s, 1);
    tq_journal_mark got;
    cr_assert_eq(tq_store_get_journal(t, id, &got), TQ_OK);
    cr_assert_eq(memcmp(&got, &m, sizeof m), 0);
    seen a = {.stop_at = -1};
    cr_assert_eq(tq_store_each_journal(t, seen_mark, &a), TQ_OK);
    cr_assert_eq(a.n, 2);
    cr_assert_str_eq(a.keys[0], "01:5");
    cr_assert_str_eq(a.keys[1], "ab:1000000");
    tq_txn_abort(t);
}

/* ---- map size ---- */

static int put_batch(tq_txn *t, int n)
{
    for (int i = 0; i < n; i++) {
        char no[13];
        snprintf(no, sizeof no, "1%011d", i);
        tq_decl d = make_decl(no, 10);
        int rc = tq_store_put_decl(t, &d);
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}

/* fill_growing() - put_batch(n) committed in one transaction, the map grown (and *grows
 * counted) and the batch redone each time it is full, as the replay does.  Asserts
 * nothing (a forked child runs it too): returns TQ_OK or the error that stopped it. */
static int fill_growing(tq_store *s, int n, int *grows)
{
    for (;;) {
        tq_txn *t = NULL;
        int rc = tq_txn_begin(s, 0, &t);
        if (rc != TQ_OK)
            return rc;
        rc = put_batch(t, n);
        rc = rc == TQ_OK ? tq_txn_commit(t) : (tq_txn_abort(t), rc);
        if (rc != TQ_ERR_MAPFULL || (rc = tq_store_grow(s)) != TQ_OK)
            return rc;
        ++*grows;
    }
}

Test(store, map_full_then_grow_and_redo)
{
    const uint64_t small = 64 << 10;
    tq_store *s = open_writer_at(g_dir, small);
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, small);
    int grows = 0;
    int rc = fill_growing(s, 2000, &grows);
    cr_assert_eq(rc, TQ_OK, "%s", tq_strerror(rc));
    cr_assert_geq(grows, 2);
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.decls, 2000);
    cr_assert_eq(info.map_size, small << grows);
    cr_assert_leq(info.map_used, info.map_size);
    tq_txn *t = tq_test_begin(s, 1);
    for (int i = 0; i < 2000; i++) {
        char no[13];
        tq_decl d;
        snprintf(no, sizeof no, "1%011d", i);
        cr_assert_eq(tq_store_get_decl(t, no, &d), TQ_OK);
        cr_assert_eq(d.nlines, 10);
    }
    tq_txn_abort(t);
    tq_store_close(s);

    /* The grown size was committed: a reopen asking for less keeps it. */
    s = open_writer_at(g_dir, small);
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, small << grows);
    tq_store_close(s);
    /* Asking for more gives more. */
    s = open_writer_at(g_dir, 8 << 20);
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, 8 << 20);
    tq_store_close(s);
}

Test(store, commit_after_map_full_reports_map_full)
{
    tq_store *s = open_writer_at(g_dir, 64 << 10);
    tq_txn *t = tq_test_begin(s, 0);
    cr_assert_eq(put_batch(t, 2000), TQ_ERR_MAPFULL);
    tq_decl d = make_decl("999999999999", 1);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_ERR_MAPFULL, "the transaction stays dead");
    cr_assert_eq(tq_txn_commit(t), TQ_ERR_MAPFULL);
    /* Nothing of the batch was committed. */
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.decls, 0);
    tq_store_close(s);
}

Test(store, grow_refuses_while_a_transaction_is_live)
{
    tq_store *s = open_writer_at(g_dir, 64 << 10);
    tq_txn *r = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_grow(s), TQ_ERR_STORE);
    tq_txn_reset(r);
    cr_assert_eq(tq_store_grow(s), TQ_OK, "a reset reader holds no pages");
    cr_assert_eq(tq_txn_renew(r), TQ_OK);
    cr_assert_eq(tq_store_grow(s), TQ_ERR_STORE);
    tq_txn_abort(r);
    tq_txn *w = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_grow(s), TQ_ERR_STORE);
    tq_txn_abort(w);
    cr_assert_eq(tq_store_grow(s), TQ_OK);
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, 256 << 10);
    tq_store_close(s);
}

/* Another process grows the map past a reader's: the reader's next begin adopts the
 * committed size (MDB_MAP_RESIZED) instead of failing. */
/* The child grows the map well past the reader's; with cut, the file is then cut back
 * to 64 KiB under the reader, whose adoption of the new size must refuse it
 * (TQ_ERR_DBCORRUPT) instead of mapping pages the file no longer has (SIGBUS). */
static void grow_under_a_reader(int cut)
{
    int ready[2], go[2];
    pid_t pid = fork_talking(ready, go);
    if (pid == 0) {
        tq_store *s = NULL;
        tq_store_opts o = {.map_size = 64 << 10, .command = "grower"};
        int grows = 0, rc = tq_store_open(g_dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL);
        char c = rc == TQ_OK ? 'r' : 'x';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1 || rc != TQ_OK)
            _exit(1);
        c = fill_growing(s, 3000, &grows) == TQ_OK ? 'd' : 'x';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        (void)!read(go[0], &c, 1);
        tq_store_close(s);
        _exit(0);
    }
    expect_report(ready[0], 'r', "the child could not open the database");
    tq_store *s = open_reader();
    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, 64 << 10);
    cr_assert_eq(write(go[1], "g", 1), 1);
    expect_report(ready[0], 'd', "the child could not fill the database");
    if (cut) {
        cr_assert_eq(truncate(path_in("data.mdb"), 64 << 10), 0);
        cr_assert_eq(tq_store_stat(s, &info), TQ_ERR_DBCORRUPT);
        tq_store_close(s);
        cr_assert_eq(write(go[1], "q", 1), 1);
        waitpid(pid, NULL, 0);
        return;
    }
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.decls, 3000);
    cr_assert_gt(info.map_size, 64 << 10);
    tq_txn *t = tq_test_begin(s, 1);
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(t, "100000002999", &d), TQ_OK);
    tq_txn_abort(t);
    tq_store_close(s);
    cr_assert_eq(write(go[1], "q", 1), 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(store, reader_adopts_a_map_grown_by_the_writer)
{
    grow_under_a_reader(0);
}

Test(store, reader_refuses_a_grown_map_whose_file_was_cut)
{
    grow_under_a_reader(1);
}

/* ---- read transactions ---- */

Test(store, reset_and_renew_see_new_commits)
{
    tq_store *s = open_writer();
    tq_txn *r = tq_test_begin(s, 1);
    tq_decl d;
    cr_assert_eq(tq_store_get_decl(r, "103456789012", &d), TQ_ERR_NOTFOUND);
    tq_txn *w = tq_test_begin(s, 0);
    d = make_decl("103456789012", 1);
    cr_assert_eq(tq_store_put_decl(w, &d), TQ_OK);
    tq_test_commit(w);
    cr_assert_eq(tq_store_get_decl(r, "103456789012", &d), TQ_ERR_NOTFOUND, "snapshot");
    tq_txn_reset(r);
    tq_txn_reset(r);            /* twice is harmless */
    cr_assert_eq(tq_txn_renew(r), TQ_OK);
    cr_assert_eq(tq_store_get_decl(r, "103456789012", &d), TQ_OK);
    cr_assert_eq(tq_txn_renew(r), TQ_OK, "renew of a live reader does nothing");
    cr_assert_eq(tq_store_put_decl(r, &d), TQ_ERR_STORE, "no writes in a reader");
    cr_assert_eq(tq_txn_commit(r), TQ_OK);
    w = tq_test_begin(s, 0);
    cr_assert_eq(tq_txn_renew(w), TQ_ERR_STORE);
    tq_txn_reset(w);            /* does nothing on a writer */
    tq_test_commit(w);
    tq_txn_abort(NULL);
    tq_store_close(NULL);
    tq_store_close(s);
}

/* ---- stat ---- */

TQ_STORE_TEST(store, stat_counts_everything, 0)
{
    const uint8_t states[] = {TQ_STATE_CLEARED, TQ_STATE_CLEARED, TQ_STATE_HELD,
                              TQ_STATE_REJECTED, TQ_STATE_CANCELLED, TQ_STATE_PENDING};
    for (int i = 0; i < 6; i++) {
        char no[13];
        snprintf(no, sizeof no, "10000000000%d", i);
        tq_decl d = make_decl(no, 1);
        d.state = states[i];
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    }
    tq_payment p1 = tq_test_payment("100000000000", "R1", TQ_PAY, 5, 0);
    tq_payment p2 = tq_test_payment("100000000000", "R2", TQ_PAY, 5, 0);
    tq_payment p3 = tq_test_payment("100000000001", "R3", TQ_PAY, 5, 0);
    cr_assert_eq(tq_store_add_payment(t, &p1, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &p2, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &p3, NULL, NULL), TQ_OK);
    tq_permit pm = make_permit("GCN-1", 0);
    cr_assert_eq(tq_store_put_permit(t, &pm), TQ_OK);
    tq_journal_mark m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_test_commit(t);

    tq_store_info info;
    cr_assert_eq(tq_store_stat(s, &info), TQ_OK);
    cr_assert_eq(info.map_size, TQ_STORE_MAP_DEFAULT);
    cr_assert_gt(info.map_used, 0);
    cr_assert_leq(info.map_used, info.map_size);
    cr_assert_eq(info.receipts, 3);
    cr_assert_eq(info.covers, 2);
    cr_assert_eq(info.permits, 1);
    cr_assert_eq(info.decls, 6);
    cr_assert_eq(info.journals, 1);
    const uint64_t want[5] = {1, 2, 1, 1, 1};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(info.by_state[i], want[i], "state %d", i);
}

/* ---- a put that is told what it replaces (tq_store_put_decl_known) ---- */

static int count_by_office(tq_store *s, const char *office)
{
    tq_txn *t = tq_test_begin(s, 1);
    int n = 0;
    cr_assert_eq(tq_store_each_decl_by(t, TQ_INDEX_OFFICE, office, -1, count_decl, &n), TQ_OK);
    tq_txn_abort(t);
    return n;
}

/* The old value the caller passes moves the index entries (no second read), and with
 * TQ_STORE_CHECK_OLD a wrong one is refused before anything is written. */
Test(store, put_known_moves_the_index_from_the_old_value_given)
{
    tq_decl d = make_decl("100000000007", 1);
    snprintf(d.office, sizeof d.office, "HN01");
    snprintf(d.kind, sizeof d.kind, "A11");
    d.state = TQ_STATE_HELD;
    unsetenv("TQ_STORE_CHECK_OLD");
    tq_store *s = open_writer();
    tq_txn *t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    uint8_t old[TQ_STORE_DECL_ENC_MAX], nv[TQ_STORE_DECL_ENC_MAX];
    const uint8_t *v;
    size_t oldn, nn;
    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_get_decl_encoded(t, "100000000008", &v, &oldn), TQ_ERR_NOTFOUND);
    cr_assert_eq(tq_store_get_decl_encoded(t, d.decl_no, &v, &oldn), TQ_OK);
    memcpy(old, v, oldn);
    snprintf(d.office, sizeof d.office, "HN02");
    d.state = TQ_STATE_CLEARED;
    cr_assert_eq(tq_store_decl_encode(&d, nv, &nn), TQ_OK);
    cr_assert_eq(tq_store_put_decl_known(t, d.decl_no, nv, nn, old, oldn), TQ_OK);
    tq_test_commit(t);
    cr_assert_eq(count_by_office(s, "HN01"), 0, "the old office entry is gone");
    cr_assert_eq(count_by_office(s, "HN02"), 1);
    t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_OK, "every entry is where it belongs");
    tq_txn_abort(t);
    tq_store_close(s);

    setenv("TQ_STORE_CHECK_OLD", "1", 1);
    s = open_writer();
    unsetenv("TQ_STORE_CHECK_OLD");
    t = tq_test_begin(s, 0);
    /* old is what was stored before the last commit: not what is stored now */
    cr_assert_eq(tq_store_put_decl_known(t, d.decl_no, nv, nn, old, oldn), TQ_ERR_STORE);
    tq_diag why;
    tq_txn_fault(t, &why);
    cr_assert(strstr(why.why, "100000000007") && strstr(why.why, "old value"), "%s", why.why);
    tq_txn_abort(t);
    t = tq_test_begin(s, 0);
    cr_assert_eq(tq_store_put_decl_known(t, d.decl_no, nv, nn, NULL, 0), TQ_ERR_STORE,
                 "'nothing stored' when something is");
    tq_txn_abort(t);
    cr_assert_eq(count_by_office(s, "HN02"), 1, "nothing was written");
    tq_store_close(s);
}
