/* test_store_walk.c - the walks of the store (engine/tq_store_walk.c), through every
 * tq_store_each_*() that rides on them: a damaged record stops each walk as a fault
 * naming its table, and a walk under a prefix (a journal's gaps, an office's held
 * declarations) stays under it.
 */
#include <criterion/criterion.h>

#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "tq_store.h"
#include "tq_store_held.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(walk, "tq_walk", 60);

static const uint8_t k_id1[TQ_JOURNAL_ID_LEN] = {1, 2, 3};
static const uint8_t k_id2[TQ_JOURNAL_ID_LEN] = {1, 2, 4};

/* Two offices' HELD declarations, one payment, a permit and its use, a mark, a gap of
 * each of two journals, a ledger entry and a change. */
static void fill(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = tq_test_decl("103456789012", "01B1", "0101234567", TQ_STATE_HELD);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    d = tq_test_decl("103456789013", "02C2", "0101234567", TQ_STATE_HELD);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_payment p = tq_test_pay("103456789012", "KB-1", 7);
    cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    tq_permit pm = {.permit_no = "GP-1", .agency = "BCT", .holder = "0101234567",
                    .status = TQ_PERMIT_VALID, .nprefixes = 1, .prefixes = {"85"}};
    cr_assert_eq(tq_store_put_permit(t, &pm), 0);
    cr_assert_eq(tq_store_put_used(t, "GP-1", 3), TQ_OK);
    tq_journal_mark m = {.id = {1, 2, 3}, .last_seq = 9, .frames = 1};
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_gap g = {.id = {1, 2, 3}, .first = 4, .last = 6, .frame = 1, .checksum = 77};
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    memcpy(g.id, k_id2, sizeof g.id);
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    tq_ledger_entry e = {.sha256 = {9}, .kind = 1, .rows = 3, .name = "p.csv"};
    cr_assert_eq(tq_store_put_ledger(t, &e), TQ_OK);
    tq_change c = {.decl_no = "103456789012", .state = TQ_STATE_HELD,
                   .cause = TQ_CHANGE_EVENT};
    cr_assert_eq(tq_store_add_change(t, &c), TQ_OK);
    tq_test_commit(t);
    tq_store_close(s);
}

/* The records a walk handed over, as text, each followed by ';': ctx of every callback
 * below is a char[LIST_CAP], "" before the walk. */
#define LIST_CAP 400

static void saw(void *ctx, const char *what)
{
    char *list = ctx;
    size_t n = strlen(list);
    snprintf(list + n, LIST_CAP - n, "%s;", what);
}

static int on_decl(void *ctx, const tq_decl *d) { saw(ctx, d->decl_no); return 0; }
static int on_pay(void *ctx, const tq_payment *p) { saw(ctx, p->receipt_no); return 0; }
static int on_mark(void *ctx, const tq_journal_mark *m) { (void)m; saw(ctx, "mark"); return 0; }
static int on_ledger(void *ctx, const tq_ledger_entry *e) { saw(ctx, e->name); return 0; }
static int on_change(void *ctx, const tq_change *c) { saw(ctx, c->decl_no); return 0; }

static int on_permit(void *ctx, const tq_permit *p, uint64_t used)
{
    char what[64];
    snprintf(what, sizeof what, "%s:%llu", p->permit_no, (unsigned long long)used);
    saw(ctx, what);
    return 0;
}

static int on_gap(void *ctx, const tq_gap *g)
{
    char what[64];
    snprintf(what, sizeof what, "%u:%llu-%llu", g->id[2], (unsigned long long)g->first,
             (unsigned long long)g->last);
    saw(ctx, what);
    return 0;
}

static int on_held(void *ctx, const tq_decl *d, const tq_cover *cover)
{
    (void)cover;
    saw(ctx, d->decl_no);
    return 0;
}

/* One walk of each kind, by table name. */
static int walk(tq_txn *t, const char *table, char *w)
{
    if (strcmp(table, "decls") == 0)
        return tq_store_each_decl(t, on_decl, w);
    if (strcmp(table, "receipts") == 0)
        return tq_store_each_payment(t, on_pay, w);
    if (strcmp(table, "permits") == 0 || strcmp(table, "usage") == 0)
        return tq_store_each_permit(t, on_permit, w);
    if (strcmp(table, "journals") == 0)
        return tq_store_each_journal(t, on_mark, w);
    if (strcmp(table, "gaps") == 0)
        return tq_store_each_gap(t, NULL, on_gap, w);
    if (strcmp(table, "ledger") == 0)
        return tq_store_each_ledger(t, on_ledger, w);
    if (strcmp(table, "changes") == 0)
        return tq_store_each_change(t, 0, on_change, w);
    return tq_store_each_held(t, "01B1", on_held, w);
}

/* Flips k's value, walks table, and checks the walk stops with a fault of table whose
 * text holds why exactly when the value was not sealed again; then puts it back. */
static void walk_damaged(const char *table, const void *k, size_t kn, int db_id,
                         const char *why)
{
    char w[LIST_CAP] = "";
    tq_diag d = {0};
    char want[32];
    tq_test_raw_flip(g_dir, table, k, kn, 0, db_id);
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(walk(t, table, w), TQ_ERR_DBCORRUPT, "%s: damaged", table);
    tq_txn_fault(t, &d);
    snprintf(want, sizeof want, "table '%s'", table);
    cr_assert(strstr(d.why, want) != NULL, "%s: the fault says %s", table, d.why);
    cr_assert_eq(strstr(d.why, why) != NULL, db_id < 0,
                 "%s: the fault of %s says %s", table, db_id < 0 ? "the seal" : "the value",
                 d.why);
    tq_txn_abort(t);
    tq_store_close(s);
    tq_test_raw_flip(g_dir, table, k, kn, 0, db_id);
    s = tq_test_open(g_dir, 0);
    t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_verify(t, NULL, NULL, NULL), TQ_OK, "%s: put back", table);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(walk, every_walk_reads_its_table_and_stops_at_a_damaged_record)
{
    static const uint8_t gap_key[24] = {1, 2, 3, [23] = 4}, sha[32] = {9};
    static const uint8_t change_key[8] = {[7] = 1};
    static const struct {
        const char *table, *want;
        const void *key;    /* of the record damaged */
        size_t klen;
        int db_id;          /* the table's id when a flip of byte 0 does not decode */
    } rows[] = {
        {"decls", "103456789012;103456789013;", "103456789012", 12, 5},
        {"receipts", "KB-1;", "KB-1", 4, 1},
        {"permits", "GP-1:3;", "GP-1", 4, -1},
        {"usage", "GP-1:3;", "GP-1", 4, -1},
        {"journals", "mark;", k_id1, TQ_JOURNAL_ID_LEN, -1},
        {"gaps", "3:4-6;4:4-6;", gap_key, sizeof gap_key, -1},
        {"ledger", "p.csv;", sha, sizeof sha, 8},
        {"changes", "103456789012;", change_key, sizeof change_key, 12},
        {"held", "103456789012;", "01B1103456789012", 16, 13},
    };
    fill();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char w[LIST_CAP] = "";
        tq_store *s = tq_test_open(g_dir, 0);
        tq_txn *t = tq_test_begin(s, 1);
        cr_assert_eq(walk(t, rows[i].table, w), TQ_OK, "%s: sound", rows[i].table);
        cr_assert_str_eq(w, rows[i].want, "%s: every record, in order", rows[i].table);
        tq_txn_abort(t);
        tq_store_close(s);
        walk_damaged(rows[i].table, rows[i].key, rows[i].klen, -1, "seal mismatch");
        if (rows[i].db_id >= 0)
            walk_damaged(rows[i].table, rows[i].key, rows[i].klen, rows[i].db_id,
                         "seal mismatch");
    }
}

Test(walk, a_walk_under_a_prefix_stays_under_it)
{
    static const struct {
        const char *name;
        const uint8_t *id;      /* the gaps of this journal (NULL: every journal's) ... */
        const char *office;     /* ... or, when set, the held declarations of this office */
        const char *want;
    } rows[] = {
        {"one journal's gaps", k_id1, NULL, "3:4-6;"},
        {"the other journal's gaps", k_id2, NULL, "4:4-6;"},
        {"every journal's gaps", NULL, NULL, "3:4-6;4:4-6;"},
        {"one office's held declarations", NULL, "02C2", "103456789013;"},
        {"an office with none", NULL, "03D3", ""},
    };
    fill();
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char w[LIST_CAP] = "";
        int rc = rows[i].office ? tq_store_each_held(t, rows[i].office, on_held, w)
                                : tq_store_each_gap(t, rows[i].id, on_gap, w);
        cr_assert_eq(rc, TQ_OK, "%s", rows[i].name);
        cr_assert_str_eq(w, rows[i].want, "%s", rows[i].name);
    }
    tq_txn_abort(t);
    tq_store_close(s);
}
