/* test_lmdb_check.c - the LMDB file checker (engine/tq_lmdb_check.c) and the whole
 * database check (engine/tq_store_check.c).
 *
 * File tests make a small LMDB environment with raw LMDB calls (one named database of
 * 3000 keys: a branch root over leaves, and one value on overflow pages), then damage
 * one thing in a copy of data.mdb as a bad disk would, and expect TQ_ERR_DBCORRUPT with
 * a message that says what.  Store tests build a thongquan database through the store
 * API and break what must hold between its records.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* mkdtemp, nftw */
#endif
#include <criterion/criterion.h>

#include <ftw.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tq_lmdb_check.h"
#include "tq_store.h"
#include "tq_store_check.h"
#include "tq_store_int.h"     /* tq__seal: to forge a record that checks */
#include "tq_teststore.h"

static char g_dir[64];
static char g_path[128];            /* g_dir/data.mdb */
static uint8_t *g_buf;              /* the file, as made */
static size_t g_size;
static size_t g_ps;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tq_lmdbcheck_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/data.mdb", g_dir);
    g_buf = NULL;
}

static void teardown(void)
{
    free(g_buf);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(lmdb_check, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a raw LMDB file, and access to its bytes ---- */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void make_env(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char key[16], val[64], big[5000];
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_NOSYNC, 0644), 0);
    for (int batch = 0; batch < 3; batch++) {          /* a few commits: both metas used */
        cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
        cr_assert_eq(mdb_dbi_open(txn, "t", MDB_CREATE, &dbi), 0);
        for (int i = batch * 1000; i < batch * 1000 + 1000; i++) {
            MDB_val k = { (size_t)snprintf(key, sizeof key, "key%06d", i), key };
            MDB_val v = { sizeof val, val };
            memset(val, 'a' + i % 26, sizeof val);
            cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        }
        if (batch == 1) {
            MDB_val k = { 3, "big" }, v = { sizeof big, big };
            memset(big, 'b', sizeof big);
            cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        }
        cr_assert_eq(mdb_txn_commit(txn), 0);
    }
    mdb_env_close(env);
}

static void load(void)
{
    FILE *f = fopen(g_path, "rb");
    struct stat sb;
    cr_assert_not_null(f);
    cr_assert_eq(fstat(fileno(f), &sb), 0);
    g_size = (size_t)sb.st_size;
    g_buf = malloc(g_size);
    cr_assert_eq(fread(g_buf, 1, g_size, f), g_size);
    fclose(f);
    g_ps = rd32(g_buf + 16 + 24);
}

/* save() - write buf (n bytes) as data.mdb. */
static void save(const uint8_t *buf, size_t n)
{
    FILE *f = fopen(g_path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static uint8_t *copy(void)
{
    uint8_t *b = malloc(g_size);
    memcpy(b, g_buf, g_size);
    return b;
}

/* Offsets into a meta page (MDB_meta at 16). */
enum { M_MAGIC = 16, M_VERSION = 20, M_MAPSIZE = 32, M_PSIZE = 40, M_FREE_ROOT = 80,
       M_MAIN_DEPTH = 94, M_MAIN_ENTRIES = 120, M_MAIN_ROOT = 128, M_LAST_PG = 136,
       M_TXNID = 144 };

static size_t newest_meta(const uint8_t *b)
{
    return rd64(b + g_ps + M_TXNID) > rd64(b + M_TXNID) ? g_ps : 0;
}

/* The named database "t": its MDB_db record inside the main tree's root leaf. */
static uint8_t *named_record(uint8_t *b)
{
    uint8_t *main_root = b + rd64(b + newest_meta(b) + M_MAIN_ROOT) * g_ps;
    uint8_t *node = main_root + rd16(main_root + 16);
    cr_assert_eq(rd16(main_root + 10), 2, "main root is a leaf");
    cr_assert_eq(rd16(node + 6), 1);
    return node + 8 + 1;
}

static uint8_t *page(uint8_t *b, uint64_t pgno)
{
    return b + pgno * g_ps;
}

/* loaded_copy() - a fresh environment with the test data, read into memory (copy()). */
static uint8_t *loaded_copy(void)
{
    make_env();
    load();
    return copy();
}

/* named_root() - the root page of the named tree in the copy b. */
static uint8_t *named_root(uint8_t *b)
{
    return page(b, rd64(named_record(b) + 40));
}

static uint8_t *node_at(uint8_t *p, unsigned i)
{
    return p + rd16(p + 16 + 2 * i);
}

static uint64_t child_of(uint8_t *p, unsigned i)
{
    uint8_t *n = node_at(p, i);
    return rd16(n) | (uint64_t)rd16(n + 2) << 16 | (uint64_t)rd16(n + 4) << 32;
}

static void set_child(uint8_t *p, unsigned i, uint64_t pgno)
{
    uint8_t *n = node_at(p, i);
    wr16(n, (uint16_t)pgno);
    wr16(n + 2, (uint16_t)(pgno >> 16));
    wr16(n + 4, (uint16_t)(pgno >> 32));
}

/* ---- running the check ---- */

static char g_first[512];

static void keep_first(void *ctx, const char *what)
{
    (void)ctx;
    if (g_first[0] == '\0')
        snprintf(g_first, sizeof g_first, "%s", what);
}

static int check(unsigned flags, tq_lmdb_check_stats *st, tq_diag *d)
{
    g_first[0] = '\0';
    memset(d, 0, sizeof *d);
    return tq_lmdb_check_file(g_path, flags, 0, keep_first, NULL, st, d);
}

/* expect_damage() - save b, expect DBCORRUPT with a message containing what. */
static void expect_damage(uint8_t *b, size_t n, unsigned flags, const char *what)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    save(b, n);
    free(b);
    int rc = check(flags, &st, &d);
    cr_assert_eq(rc, TQ_ERR_DBCORRUPT, "expected damage '%s', got %s", what, tq_strerror(rc));
    cr_assert(strstr(d.why, what) != NULL, "message '%s' lacks '%s'", d.why, what);
    cr_assert(strstr(d.why, g_path) != NULL, "message '%s' does not name the file", d.why);
    cr_assert_gt(st.problems, 0);
}

/* ---- the file: sound ---- */

Test(lmdb_check, sound_file_is_ok)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    make_env();
    load();
    cr_assert_eq(check(TQ_LMDB_CHECK_TREES, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.problems, 0);
    cr_assert_eq(st.page_size, g_ps);
    cr_assert_eq(st.file_size, g_size);
    cr_assert_gt(st.pages_visited, 10, "the walk reached %llu pages",
                 (unsigned long long)st.pages_visited);
    cr_assert_eq(check(TQ_LMDB_CHECK_META, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.pages_visited, 0, "meta only reads no tree page");
}

Test(lmdb_check, missing_file_is_notfound)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    cr_assert_eq(check(TQ_LMDB_CHECK_TREES, &st, &d), TQ_ERR_NOTFOUND);
}

/* ---- meta pages ---- */

static void meta_field(size_t off, uint64_t xor_mask, int width, const char *what)
{
    uint8_t *b = copy();
    size_t m = newest_meta(b) + off;
    if (width == 8)
        wr64(b + m, rd64(b + m) ^ xor_mask);
    else
        b[m] ^= (uint8_t)xor_mask;
    expect_damage(b, g_size, TQ_LMDB_CHECK_META, what);
}

Test(lmdb_check, each_meta_field)
{
    make_env();
    load();
    meta_field(M_MAGIC, 0x01, 1, "magic");
    meta_field(M_VERSION, 0x02, 1, "data version");
    meta_field(M_PSIZE + 1, 0x20, 1, "page size");
    meta_field(M_MAPSIZE, 1ull << 50, 8, "map size");
    meta_field(M_FREE_ROOT, 1ull << 40, 8, "free tree: root page");
    meta_field(M_MAIN_ROOT, 1ull << 30, 8, "main tree: root page");
    meta_field(M_MAIN_DEPTH, 0x40, 1, "depth");
    meta_field(M_LAST_PG, 1ull << 62, 8, "last page");
    meta_field(M_TXNID, 0x01, 1, "txnid");            /* parity */
    meta_field(M_TXNID, 0x04, 1, "not consecutive");  /* the older commit would win */
    meta_field(10, 0x01, 1, "page header says");      /* page header flags */
}

Test(lmdb_check, older_meta_damage_is_found_too)
{
    uint8_t *b = loaded_copy();
    size_t older = newest_meta(b) ? 0 : g_ps;
    b[older + M_MAGIC + 3] ^= 0xff;
    expect_damage(b, g_size, TQ_LMDB_CHECK_META, "meta page");
}

/* ---- truncation ---- */

Test(lmdb_check, truncations)
{
    make_env();
    load();
    expect_damage(copy(), 0, TQ_LMDB_CHECK_META, "empty");
    expect_damage(copy(), 100, TQ_LMDB_CHECK_META, "shorter than a meta page");
    expect_damage(copy(), g_ps + 200, TQ_LMDB_CHECK_META, "two meta pages");
    /* Cut pages in use: even the meta-only check walks then, and names the page. */
    expect_damage(copy(), g_size - g_ps, TQ_LMDB_CHECK_META, "beyond the end of the file");
    expect_damage(copy(), g_size / 2, TQ_LMDB_CHECK_TREES, "beyond the end of the file");
    expect_damage(copy(), 3 * g_ps, TQ_LMDB_CHECK_META, "beyond the end of the file");
}

/* ---- trees ---- */

Test(lmdb_check, dangling_branch_child)
{
    uint8_t *b = loaded_copy();
    uint8_t *root = named_root(b);
    cr_assert_eq(rd16(root + 10), 1, "the named tree has a branch root");
    set_child(root, 1, rd64(b + newest_meta(b) + M_LAST_PG) + 5);
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "child page");
}

Test(lmdb_check, loop_child_reached_twice)
{
    uint8_t *b = loaded_copy();
    uint8_t *root = named_root(b);
    set_child(root, 2, child_of(root, 1));
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "reached twice");
}

Test(lmdb_check, overlapping_nodes)
{
    uint8_t *b = loaded_copy();
    uint8_t *leaf = page(b, child_of(named_root(b), 0));
    cr_assert_eq(rd16(leaf + 10), 2);
    wr16(leaf + 18, rd16(leaf + 16));             /* node 1 starts where node 0 does */
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "overlap or gap");
}

Test(lmdb_check, node_offset_outside_page)
{
    uint8_t *b = loaded_copy();
    uint8_t *leaf = page(b, child_of(named_root(b), 0));
    wr16(leaf + 16, (uint16_t)(g_ps - 4));
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "overrunning the page");
}

Test(lmdb_check, keys_out_of_order)
{
    uint8_t *b = loaded_copy();
    uint8_t *leaf = page(b, child_of(named_root(b), 0));
    uint16_t a = rd16(leaf + 16), c = rd16(leaf + 18);
    wr16(leaf + 16, c);
    wr16(leaf + 18, a);
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "key not above the one before");
}

Test(lmdb_check, key_outside_parent_separators)
{
    uint8_t *b = loaded_copy();
    uint8_t *root = named_root(b);
    uint8_t *leaf = page(b, child_of(root, 1));
    uint8_t *k = node_at(leaf, 0) + 8;
    k[0] = 'a';                                    /* "key..." -> "aey...": below */
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "below its parent's separator");
}

Test(lmdb_check, bad_page_header)
{
    uint8_t *b = loaded_copy();
    uint8_t *leaf = page(b, child_of(named_root(b), 0));
    wr16(leaf + 10, 0x12);                         /* P_LEAF | P_DIRTY on disk */
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "expected a leaf page");
    b = copy();
    leaf = page(b, child_of(named_root(b), 0));
    wr16(leaf + 12, rd16(leaf + 14) + 2);          /* lower beyond upper */
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "bounds");
}

Test(lmdb_check, entry_count_mismatch)
{
    uint8_t *b = loaded_copy();
    uint8_t *rec = named_record(b);
    wr64(rec + 32, rd64(rec + 32) + 1);
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "its record says");
}

Test(lmdb_check, overflow_run_damage)
{
    make_env();
    load();
    /* find the "big" node: the first key of its leaf sorts before "key..." */
    uint8_t *b = copy();
    uint8_t *leaf = page(b, child_of(named_root(b), 0));
    uint8_t *n = node_at(leaf, 0);
    cr_assert_eq(rd16(n + 6), 3);
    cr_assert_eq(rd16(n + 4), 1, "F_BIGDATA");
    uint64_t opg = rd64(n + 8 + 3);
    page(b, opg)[12] ^= 0x01;                      /* its page count */
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "overflow page");
    b = copy();
    n = node_at(page(b, child_of(named_root(b), 0)), 0);
    wr64(n + 8 + 3, rd64(b + newest_meta(b) + M_LAST_PG));
    expect_damage(b, g_size, TQ_LMDB_CHECK_TREES, "overflow pages");
}

Test(lmdb_check, max_problems_bounds_the_list)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    uint8_t *b = loaded_copy();
    uint8_t *root = named_root(b);
    unsigned n = (rd16(root + 12) - 16) / 2;
    for (unsigned i = 0; i < n; i++)
        set_child(root, i, 1ull << 40);
    save(b, g_size);
    free(b);
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_lmdb_check_file(g_path, TQ_LMDB_CHECK_TREES, 2, NULL, NULL, &st, &d),
                 TQ_ERR_DBCORRUPT);
    cr_assert_eq(st.problems, 2);
}

/* ---- the whole database (tq_store_check) ---- */

/* cleared_decl() - a cleared declaration whose one line uses qty of permit. */
static tq_decl cleared_decl(const char *no, const char *permit, uint64_t qty)
{
    tq_decl d = tq_test_decl(no, NULL, "0101234567", TQ_STATE_CLEARED);
    d.tax_due = 1000;
    d.registered.sec = 1722910500;
    d.reg_day = 19941;
    snprintf(d.lines[0].permit, sizeof d.lines[0].permit, "%s", permit);
    d.lines[0].qty = qty;
    return d;
}

/* A small sound database: a permit with quota, two cleared declarations using 30 of
 * it, payments covering them. */
static void make_store(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_permit p;
    memset(&p, 0, sizeof p);
    snprintf(p.permit_no, sizeof p.permit_no, "GP-1");
    snprintf(p.agency, sizeof p.agency, "BCT");
    snprintf(p.holder, sizeof p.holder, "0101234567");
    p.status = TQ_PERMIT_VALID;
    p.nprefixes = 1;
    snprintf(p.prefixes[0], sizeof p.prefixes[0], "8517");
    p.valid_from = 19000;
    p.valid_to = 20000;
    p.quota = 100;
    cr_assert_eq(tq_store_put_permit(t, &p), TQ_OK);
    cr_assert_eq(tq_store_put_used(t, "GP-1", 30), TQ_OK);
    tq_decl d1 = cleared_decl("100000000001", "GP-1", 10);
    tq_decl d2 = cleared_decl("100000000002", "GP-1", 20);
    cr_assert_eq(tq_store_put_decl(t, &d1), TQ_OK);
    cr_assert_eq(tq_store_put_decl(t, &d2), TQ_OK);
    tq_payment pay = { .decl_no = "100000000001", .receipt_no = "KB-1", .kind = TQ_PAY,
                       .amount = 1000, .valid_until = INT32_MIN };
    tq_payment g = { .decl_no = "100000000002", .receipt_no = "BL-1", .kind = TQ_GUARANTEE,
                     .amount = 1000, .valid_until = 19990 };
    cr_assert_eq(tq_store_add_payment(t, &pay, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_store_add_payment(t, &g, NULL, NULL), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);
}

static char g_tables[1024];

static void keep_tables(void *ctx, const tq_check_problem *p)
{
    (void)ctx;
    size_t n = strlen(g_tables);
    snprintf(g_tables + n, sizeof g_tables - n, "%s:%s:%s\n", p->table, p->key, p->what);
}

static int store_check(tq_store_check_report *r)
{
    tq_diag d;
    memset(&d, 0, sizeof d);
    g_tables[0] = '\0';
    return tq_store_check(g_dir, NULL, keep_tables, NULL, r, &d);
}

/* edit() - make_store(), then a write transaction on it; edited() commits it, closes
 * the store and runs the store check (@return its status, the problems in g_tables). */
static tq_txn *edit(tq_store **s)
{
    make_store();
    *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    return tq_test_begin(*s, 0);
}

static int edited(tq_store *s, tq_txn *t, tq_store_check_report *r)
{
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);
    return store_check(r);
}

#define EXPECT_PROBLEM(text) cr_assert(strstr(g_tables, text) != NULL, "%s", g_tables)

Test(lmdb_check, sound_store_is_ok)
{
    tq_store_check_report r;
    make_store();
    cr_assert_eq(store_check(&r), TQ_OK, "%s", g_tables);
    cr_assert_eq(r.steps, 3);
    cr_assert_eq(r.decls, 2);
    cr_assert_eq(r.receipts, 2);
    cr_assert_eq(r.permits, 1);
}

Test(lmdb_check, store_usage_above_cleared)
{
    tq_store_check_report r;
    tq_store *s;
    tq_txn *t = edit(&s);
    cr_assert_eq(tq_store_put_used(t, "GP-1", 31), TQ_OK);   /* 30 were cleared */
    cr_assert_eq(edited(s, t, &r), TQ_ERR_DBCORRUPT);
    EXPECT_PROBLEM("usage:GP-1:used 31, more than the 30");
}

Test(lmdb_check, store_usage_below_cleared_is_fine)
{
    tq_store_check_report r;
    tq_store *s;
    tq_txn *t = edit(&s);
    /* a reload may have made it a quota permit after some clearances: use below the
     * cleared quantities is not damage */
    cr_assert_eq(tq_store_put_used(t, "GP-1", 10), TQ_OK);
    cr_assert_eq(edited(s, t, &r), TQ_OK, "%s", g_tables);
}

Test(lmdb_check, store_decl_fields_disagree)
{
    tq_store_check_report r;
    tq_store *s;
    tq_txn *t = edit(&s);
    tq_decl d = cleared_decl("100000000003", "", 1);
    d.state = TQ_STATE_HELD;                       /* HELD with no reason */
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    d = cleared_decl("100000000004", "", 1);
    d.reasons = TQ_R_TAX_SHORT;                    /* cleared by the rules, with a reason */
    d.tax_short = 5;
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    cr_assert_eq(edited(s, t, &r), TQ_ERR_DBCORRUPT);
    EXPECT_PROBLEM("decls:100000000003:HELD without a reason");
    EXPECT_PROBLEM("decls:100000000004:state CLEARED");
}

/* rewrite_receipt() - change the amount of receipt_no with raw LMDB calls and seal it
 * again as the store does: a value that decodes and checks, but no longer adds up to
 * its declaration's cover (as a bug writing one without the other would leave it). */
static void rewrite_receipt(const char *receipt_no, int flip_seal)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t val[64];
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_NOSYNC, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "receipts", 0, &dbi), 0);
    MDB_val k = { strlen(receipt_no), (void *)receipt_no }, v;
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
    cr_assert_eq(v.mv_size, 25 + TQ__SEAL_LEN);
    memcpy(val, v.mv_data, v.mv_size);
    val[13] ^= 0x01;                               /* amount, little-endian */
    uint32_t seal = tq__seal(DB_RECEIPTS, &k, val, 25) ^ (flip_seal ? 1u : 0u);
    memcpy(val + 25, &seal, 4);
    MDB_val nv = { v.mv_size, val };
    cr_assert_eq(mdb_put(txn, dbi, &k, &nv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(lmdb_check, store_cover_differs_from_receipts)
{
    tq_store_check_report r;
    make_store();
    rewrite_receipt("KB-1", 0);
    int rc = store_check(&r);
    cr_assert_eq(rc, TQ_ERR_DBCORRUPT, "%s", tq_strerror(rc));
    cr_assert(strstr(g_tables, "cover:100000000001:PAY total 1000, but its receipts add up "
                               "to 1001") != NULL, "%s", g_tables);
}

Test(lmdb_check, store_damaged_record_is_listed)
{
    tq_store_check_report r;
    make_store();
    rewrite_receipt("KB-1", 1);                    /* a seal that does not match */
    int rc = store_check(&r);
    cr_assert_eq(rc, TQ_ERR_DBCORRUPT, "%s", tq_strerror(rc));
    cr_assert(strstr(g_tables, "records:") == g_tables, "%s", g_tables);
    EXPECT_PROBLEM("KB-1");
    cr_assert_eq(r.steps, 1, "cross-checks skipped over damaged records");
}

Test(lmdb_check, store_journal_mark_inconsistent)
{
    tq_store_check_report r;
    tq_store *s;
    tq_txn *t = edit(&s);
    tq_journal_mark m;
    memset(&m, 0, sizeof m);
    memset(m.id, 0xab, sizeof m.id);
    m.last_seq = 3;
    m.frames = 5;                                  /* more frames than events */
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    cr_assert_eq(edited(s, t, &r), TQ_ERR_DBCORRUPT);
    EXPECT_PROBLEM("journals:abababab");
}

Test(lmdb_check, store_file_damage_stops_before_lmdb)
{
    tq_store_check_report r;
    make_store();
    load();
    uint8_t *b = copy();
    wr64(b + newest_meta(b) + M_MAIN_ROOT, 1ull << 33);
    save(b, g_size);
    free(b);
    cr_assert_eq(store_check(&r), TQ_ERR_DBCORRUPT);
    cr_assert_eq(r.steps, 0, "LMDB was not let near the file");
    cr_assert(strstr(g_tables, "data.mdb:") == g_tables, "%s", g_tables);
}

Test(lmdb_check, store_missing_is_notfound)
{
    tq_store_check_report r;
    cr_assert_eq(store_check(&r), TQ_ERR_NOTFOUND);
}

/* ---- a writer committing while the file is checked ---- */

/* churn() - the child: commit rewrites of every key as fast as it can, so that pages
 * freed by one commit are reused by the next ones (no LMDB reader pins them: the
 * checker is not an LMDB reader). */
static void churn(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char key[16], val[64];
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
        mdb_env_open(env, g_dir, MDB_NOSYNC, 0644))
        _exit(2);
    for (unsigned round = 0;; round++) {
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, "t", 0, &dbi))
            _exit(3);
        for (int i = (int)(round % 3) * 1000; i < (int)(round % 3) * 1000 + 1000; i++) {
            MDB_val k = { (size_t)snprintf(key, sizeof key, "key%06d", i), key };
            MDB_val v = { sizeof val - round % 7, val };
            memset(val, 'a' + (int)(round % 26), sizeof val);
            if (mdb_put(txn, dbi, &k, &v, 0))
                _exit(4);
        }
        if (mdb_txn_commit(txn))
            _exit(5);
    }
}

Test(lmdb_check, writer_committing_is_never_damage)
{
    tq_lmdb_check_stats st;
    tq_diag d;
    unsigned runs = 0, busy = 0;
    make_env();
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        churn();
    usleep(20000);
    for (double t0 = (double)time(NULL); (double)time(NULL) - t0 < 3; runs++) {
        memset(&d, 0, sizeof d);
        int rc = tq_lmdb_check_file(g_path, TQ_LMDB_CHECK_TREES, 0, NULL, NULL, &st, &d);
        if (rc == TQ_ERR_BUSY)
            busy++;
        else if (rc != TQ_OK) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("run %u, txnid %llu: %s: %s", runs, (unsigned long long)st.txnid,
                           tq_strerror(rc), d.why);
        }
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the writer stopped early (exit %d)", WEXITSTATUS(status));
    cr_assert_gt(runs, 10);
    cr_assert_lt(busy, runs, "every run found the file moving");
}
