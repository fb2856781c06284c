/* test_tally_head.c - the head walk of declarations (tq_store_each_decl_head(),
 * tq_store_decl_head_decode()) and the tally that rides on it (tq_export_tally()): it
 * counts what a walk of whole declarations counts, and it trusts a stored value no more
 * than the full decode does -- a flipped byte is a fault naming decls and the key, a
 * value cut short or too long is refused, and any bytes the full decode refuses the
 * head decode refuses too.  Split over two threads (tq_export_tally_split()), it counts
 * the same, in one snapshot even while a writer commits.
 */
#include <criterion/criterion.h>

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "tq_export.h"
#include "tq_store.h"

#include "tq_testdir.h"
#include "tq_teststore.h"

TQ_TESTDIR_SUITE(tally, "tq_tally", 120);

#define DECLS_ID 5              /* the seal's table id of decls (STORE.md §2) */
#define VMAX 4096

/* ---- a store of declarations in every state ---- */

typedef struct row {
    const char *no;
    int state;
    uint32_t reasons;
    int manual;
    int nlines;                 /* 0..50; lines with a permit each from the second */
} row;

static const row k_rows[] = {
    {"100000000001", TQ_STATE_PENDING, 0, 0, 1},
    {"100000000002", TQ_STATE_CLEARED, 0, 0, 1},
    {"100000000003", TQ_STATE_CLEARED, 0, 0, 3},
    {"100000000004", TQ_STATE_HELD, TQ_R_TAX_SHORT, 0, 2},
    {"100000000005", TQ_STATE_HELD, TQ_R_TAX_SHORT | TQ_R_PERMIT_MISSING | TQ_R_AWAIT_OFFICER,
     0, 50},
    {"100000000006", TQ_STATE_HELD, TQ_R_PERMIT_QUOTA | TQ_R_PERMIT_HS, 0, 4},
    {"100000000007", TQ_STATE_HELD, TQ_R_AWAIT_OFFICER, 0, 0},
    {"100000000008", TQ_STATE_REJECTED, TQ_R_PERMIT_REVOKED, 0, 1},
    {"100000000009", TQ_STATE_CANCELLED, TQ_R_TAX_SHORT, 0, 1},
    {"100000000010", TQ_STATE_CLEARED, 0, 1, 1},                      /* manual, clean */
    {"100000000011", TQ_STATE_CLEARED, TQ_R_TAX_SHORT | TQ_R_PERMIT_HOLDER, 1, 2},
    {"100000000012", TQ_STATE_CLEARED, TQ_R_PERMIT_EXPIRED, 1, 6},
    {"100000000013", TQ_STATE_HELD, TQ_R_TAX_SHORT, 1, 1},  /* manual but not cleared */
    {"100000000014", TQ_STATE_CANCELLED, 0, 1, 1},
};
#define NROWS (sizeof k_rows / sizeof k_rows[0])

static tq_decl row_decl(const row *r)
{
    tq_decl d = tq_test_decl(r->no, r->manual ? NULL : "01B1", "0101234567", r->state);
    d.reasons = r->reasons;
    d.manual = (uint8_t)r->manual;
    d.version = 7;
    d.tax_due = 123456789;
    d.tax_short = r->reasons & TQ_R_TAX_SHORT ? 4321 : 0;
    d.registered.sec = 1767225600;
    d.reg_day = 20454;
    d.src_seq = 99;
    d.src_id[0] = 0xAB;
    d.nlines = (uint16_t)r->nlines;
    for (int i = 0; i < r->nlines; i++) {
        tq_decl_line *l = &d.lines[i];
        snprintf(l->hs, sizeof l->hs, "%08u", (85171300u + (unsigned)i) % 100000000u);
        l->qty = 1000u * (unsigned)i + 1;
        l->value = 100000000000ull + (unsigned)i;
        if (i > 0)
            snprintf(l->permit, sizeof l->permit, "GP-%02d/2026", i % 7);
    }
    return d;
}

static void fill(void)
{
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    tq_txn *t = tq_test_begin(s, 0);
    for (size_t i = 0; i < NROWS; i++) {
        tq_decl d = row_decl(&k_rows[i]);
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK, "put %s", d.decl_no);
    }
    tq_test_commit(t);
    tq_store_close(s);
}

/* The oracle: the tally counted from whole declarations (the walk the tally used
 * before it read heads). */
static int full_count(void *ctx, const tq_decl *d)
{
    tq_tally *t = ctx;
    t->declarations++;
    t->by_state[d->state]++;
    for (int b = 0; d->state == TQ_STATE_HELD && b < TQ_REASON_COUNT; b++)
        t->held_by_reason[b] += (d->reasons >> b) & 1u;
    t->manual_cleared += d->state == TQ_STATE_CLEARED && d->manual;
    t->manual_with_discrepancies += d->state == TQ_STATE_CLEARED && d->manual && d->reasons;
    return 0;
}

/* h is the head of d: every field but the lines. */
static int same_head(const tq_decl_head *h, const tq_decl *d)
{
    return h->state == d->state && h->channel == d->channel && h->officer == d->officer &&
           h->manual == d->manual && h->version == d->version && h->reasons == d->reasons &&
           h->tax_due == d->tax_due && h->tax_short == d->tax_short &&
           h->registered.sec == d->registered.sec &&
           h->registered.nsec == d->registered.nsec && h->reg_day == d->reg_day &&
           h->src_seq == d->src_seq && h->nlines == d->nlines &&
           memcmp(h->src_id, d->src_id, sizeof h->src_id) == 0 &&
           strcmp(h->declarant, d->declarant) == 0 && strcmp(h->kind, d->kind) == 0 &&
           strcmp(h->office, d->office) == 0 && strcmp(h->decl_no, d->decl_no) == 0;
}

/* Each head of the walk against the whole declaration a get gives. */
typedef struct heads {
    tq_txn *t;
    size_t n;
} heads;

static int head_matches(void *ctx, const tq_decl_head *h)
{
    heads *w = ctx;
    tq_decl d;
    cr_assert_lt(w->n, NROWS);
    cr_assert_str_eq(h->decl_no, k_rows[w->n].no, "heads in decl_no order");
    cr_assert_eq(tq_store_get_decl(w->t, h->decl_no, &d), TQ_OK);
    cr_assert(same_head(h, &d), "%s: the head is the declaration's", h->decl_no);
    w->n++;
    return 0;
}

static int stop_at_second(void *ctx, const tq_decl_head *h)
{
    (void)h;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

Test(tally, counts_what_the_walk_of_whole_declarations_counts)
{
    fill();
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    tq_tally head, full;
    memset(&full, 0, sizeof full);
    cr_assert_eq(tq_export_tally_txn(t, &head), TQ_OK);
    cr_assert_eq(tq_store_each_decl(t, full_count, &full), TQ_OK);
    cr_assert_eq(head.declarations, full.declarations);
    for (int i = 0; i < TQ_STATE_COUNT; i++)
        cr_assert_eq(head.by_state[i], full.by_state[i], "state %d", i);
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        cr_assert_eq(head.held_by_reason[b], full.held_by_reason[b], "reason bit %d", b);
    cr_assert_eq(head.manual_cleared, full.manual_cleared);
    cr_assert_eq(head.manual_with_discrepancies, full.manual_with_discrepancies);
    /* and the figures themselves, counted by hand from k_rows */
    cr_assert_eq(head.declarations, 14);
    cr_assert(head.by_state[TQ_STATE_PENDING] == 1 && head.by_state[TQ_STATE_CLEARED] == 5 &&
                  head.by_state[TQ_STATE_HELD] == 5 && head.by_state[TQ_STATE_REJECTED] == 1 &&
                  head.by_state[TQ_STATE_CANCELLED] == 2,
              "states by hand");
    static const uint64_t held[TQ_REASON_COUNT] = {3, 1, 0, 0, 0, 1, 2, 1};
    for (int b = 0; b < TQ_REASON_COUNT; b++)
        cr_assert_eq(head.held_by_reason[b], held[b], "held by reason bit %d by hand", b);
    cr_assert_eq(head.manual_cleared, 3);
    cr_assert_eq(head.manual_with_discrepancies, 2);
    heads w = {t, 0};
    cr_assert_eq(tq_store_each_decl_head(t, head_matches, &w), TQ_OK);
    cr_assert_eq(w.n, NROWS, "every declaration once");
    int calls = 0;
    cr_assert_eq(tq_store_each_decl_head(t, stop_at_second, &calls), 42, "fn's value");
    cr_assert_eq(calls, 2, "the walk stops where fn says");
    tq_txn_abort(t);
    tq_store_close(s);
}

/* ---- damage ---- */

/* The stored value of key (seal included) in buf, its length returned. */
static size_t raw_get(const char *key, uint8_t *buf)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 20), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "decls", 0, &dbi), 0);
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0, "%s stored", key);
    cr_assert_leq(v.mv_size, VMAX);
    memcpy(buf, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return v.mv_size;
}

/* Stores the n bytes of fields under key in decls, raw, followed by their seal (as a
 * put would seal them: only decoding can tell them from a put's). */
static void raw_put_sealed(const char *key, const uint8_t *fields, size_t n)
{
    uint8_t buf[VMAX + 4];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {n + 4, buf};
    memcpy(buf, fields, n);
    uint32_t seal = (uint32_t)XXH3_64bits_withSeed(
        buf, n, XXH3_64bits_withSeed(key, strlen(key), DECLS_ID));
    for (int i = 0; i < 4; i++)
        buf[n + (size_t)i] = (uint8_t)(seal >> (8 * i));
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 20), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "decls", 0, &dbi), 0);
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The tally of the store refuses: TQ_ERR_DBCORRUPT, its fault naming decls, key and
 * why; the full walk says the same. */
static void tally_refused(const char *key, const char *why, const char *what)
{
    char want[64];
    tq_tally tally;
    tq_diag d = {0}, full = {0};
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(tq_export_tally_txn(t, &tally), TQ_ERR_DBCORRUPT, "%s: refused", what);
    tq_txn_fault(t, &d);
    tq_txn_abort(t);
    snprintf(want, sizeof want, "table 'decls', key '%s'", key);
    cr_assert(strstr(d.why, want) != NULL, "%s: the fault names decls and the key: %s", what,
              d.why);
    cr_assert(strstr(d.why, why) != NULL, "%s: the fault says '%s': %s", what, why, d.why);
    t = tq_test_begin(s, 1);
    cr_assert_eq(tq_store_each_decl(t, full_count, &tally), TQ_ERR_DBCORRUPT);
    tq_txn_fault(t, &full);
    cr_assert_str_eq(d.why, full.why, "%s: as the full walk says", what);
    tq_txn_abort(t);
    tq_store_close(s);
}

static void tally_sound(const char *what)
{
    tq_tally tally;
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(tq_export_tally_txn(t, &tally), TQ_OK, "%s", what);
    cr_assert_eq(tally.declarations, NROWS, "%s", what);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(tally, a_flipped_byte_is_a_fault_naming_decls_and_the_key_never_a_count)
{
    /* "100000000011": CLEARED by hand with discrepancies, two lines */
    static const char key[] = "100000000011";
    uint8_t v[VMAX];
    fill();
    size_t n = raw_get(key, v);
    /* the state, the manual flag, the reasons, a byte of the last line, the seal */
    const size_t at[] = {0, 3, 5, n - 6, n - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "byte %zu of %zu", at[i], n);
        tq_test_raw_flip(g_dir, "decls", key, 12, at[i], -1);
        tally_refused(key, "seal mismatch", what);
        tq_test_raw_flip(g_dir, "decls", key, 12, at[i], -1);
        tally_sound(what);
    }
}

Test(tally, damage_a_seal_cannot_see_in_the_lines_is_refused_as_the_full_decode_does)
{
    static const char key[] = "100000000005";   /* HELD, 50 lines */
    uint8_t v[VMAX], w[VMAX];
    fill();
    size_t n = raw_get(key, v) - 4;             /* the fields, without the seal */
    /* the last line (STORE.md §3.6): hs 85171349 (4 bytes), qty 49001 (a var of 3),
     * value 100000000049 (6), permit "GP-00/2026" (1 + 10); the top byte of its hs made
     * 0xFF is out of range */
    memcpy(w, v, n);
    w[n - 11 - 6 - 3 - 4 + 3] = 0xFF;
    raw_put_sealed(key, w, n);
    tq_decl_head h;
    tq_decl full;
    cr_assert_eq(tq_store_decl_decode(key, w, n, &full), TQ_ERR_DBCORRUPT, "test's own aim");
    cr_assert_eq(tq_store_decl_head_decode(key, w, n, &h), TQ_ERR_DBCORRUPT);
    tally_refused(key, "hs out of range", "hs of the last line");
    /* a NUL in the last permit */
    memcpy(w, v, n);
    w[n - 3] = 0;
    raw_put_sealed(key, w, n);
    tally_refused(key, "value cut short or a field too long", "NUL in a permit");
    raw_put_sealed(key, v, n);
    tally_sound("put back");
}

Test(tally, a_value_cut_short_or_too_long_is_refused)
{
    static const char key[] = "100000000003";
    uint8_t v[VMAX];
    fill();
    size_t n = raw_get(key, v) - 4;
    raw_put_sealed(key, v, n - 1);
    tally_refused(key, "value cut short or a field too long", "one byte short");
    v[n] = 0;
    raw_put_sealed(key, v, n + 1);
    tally_refused(key, "bytes after the last field", "one byte over");
    raw_put_sealed(key, v, 3);
    tally_refused(key, "value cut short or a field too long", "three bytes");
    raw_put_sealed(key, v, 0);
    tally_refused(key, "value cut short or a field too long", "no field at all");
    raw_put_sealed(key, v, n);
    tally_sound("put back");
}

/* ---- the head refuses exactly what the full decode refuses ---- */

/* A format 2 value (STORE.md §3.6) of one line, by hand: puts write only format 3. */
static size_t format2(uint8_t *p)
{
    static const uint8_t v[] = {
        TQ_STATE_HELD, 1, 0, 0,             /* state, channel, officer, manual */
        3, TQ_R_TAX_SHORT, 0x90, 0x4e, 5,   /* version, reasons, tax_due 10000, short */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* registered, reg_day */
        3, '0', '1', '2',                   /* declarant */
        1,                                  /* nlines */
        0x64, 0x9a, 0x13, 0x05,             /* hs 85170788 */
        2,                                  /* qty */
        4, 'G', 'P', '-', '1',              /* permit */
    };
    memcpy(p, v, sizeof v);
    return sizeof v;
}

/* Both decodes of the n bytes at v agree: refused by both, or by neither with the same
 * fields.  @return 1 when accepted. */
static int agree(const uint8_t *v, size_t n, const char *what)
{
    tq_decl d;
    tq_decl_head h;
    int full = tq_store_decl_decode("100000000001", v, n, &d);
    int head = tq_store_decl_head_decode("100000000001", v, n, &h);
    cr_assert_eq(head, full, "%s: head %d, full %d", what, head, full);
    if (full != TQ_OK)
        return 0;
    cr_assert(same_head(&h, &d), "%s: the head is the declaration's", what);
    return 1;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(tally, the_head_decode_refuses_exactly_what_the_full_decode_refuses)
{
    static uint8_t v[TQ_STORE_DECL_ENC_MAX + 8], w[TQ_STORE_DECL_ENC_MAX + 8];
    static const uint8_t masks[] = {0x01, 0x10, 0x7f, 0x80, 0xff};
    size_t accepted = 0, refused = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char what[64];
    for (size_t r = 0; r <= NROWS; r++) {
        size_t n;
        if (r < NROWS) {
            tq_decl d = row_decl(&k_rows[r]);
            cr_assert_eq(tq_store_decl_encode(&d, v, &n), TQ_OK);
        } else {
            n = format2(v);
        }
        snprintf(what, sizeof what, "row %zu as encoded", r);
        cr_assert(agree(v, n, what), "%s decodes", what);
        for (size_t len = 0; len <= n + 1; len++) {   /* every length, one over too */
            memcpy(w, v, n);
            w[n] = 0x01;
            snprintf(what, sizeof what, "row %zu cut to %zu of %zu", r, len, n);
            cr_assert_eq(agree(w, len, what), len == n, "%s: refused unless whole", what);
        }
        for (size_t at = 0; at < n && n < 400; at++) {  /* every byte, five ways */
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(w, v, n);
                w[at] ^= masks[m];
                snprintf(what, sizeof what, "row %zu byte %zu ^ 0x%02x", r, at, masks[m]);
                int ok = agree(w, n, what);
                accepted += ok;
                refused += !ok;
            }
        }
        for (int i = 0; i < 2000; i++) {        /* a few bytes at random */
            memcpy(w, v, n);
            for (int j = 0; j < 3; j++)
                w[rng(&seed) % n] = (uint8_t)rng(&seed);
            snprintf(what, sizeof what, "row %zu random %d", r, i);
            int ok = agree(w, n, what);
            accepted += ok;
            refused += !ok;
        }
    }
    cr_assert_gt(accepted, 1000, "some damage still decodes (%zu): both must say so", accepted);
    cr_assert_gt(refused, 1000, "and much does not (%zu)", refused);
}

/* ---- the tally on two threads ---- */

static void same_tally(const tq_tally *a, const tq_tally *b, const char *what)
{
    cr_assert_eq(a->declarations, b->declarations, "%s", what);
    for (int i = 0; i < TQ_STATE_COUNT; i++)
        cr_assert_eq(a->by_state[i], b->by_state[i], "%s: state %d", what, i);
    for (int i = 0; i < TQ_REASON_COUNT; i++)
        cr_assert_eq(a->held_by_reason[i], b->held_by_reason[i], "%s: reason %d", what, i);
    cr_assert_eq(a->manual_cleared, b->manual_cleared, "%s", what);
    cr_assert_eq(a->manual_with_discrepancies, b->manual_with_discrepancies, "%s", what);
}

/* One walk's tally, and the split's (which must split). */
static void split_agrees(tq_store *s, int want_halves, const char *what)
{
    tq_tally one, two;
    int halves = -1;
    tq_txn *t = tq_test_begin(s, 1);
    cr_assert_eq(tq_export_tally_txn(t, &one), TQ_OK, "%s", what);
    tq_txn_abort(t);
    cr_assert_eq(tq_export_tally_split(s, &two, 0, &halves), TQ_OK, "%s", what);
    cr_assert_eq(halves, want_halves, "%s: counted in halves", what);
    same_tally(&one, &two, what);
}

static int count_heads(void *ctx, const tq_decl_head *h)
{
    (void)h;
    ++*(size_t *)ctx;
    return 0;
}

Test(tally, a_range_walk_visits_each_declaration_of_its_range_once)
{
    fill();
    tq_store *s = tq_test_open(g_dir, 0);
    tq_txn *t = tq_test_begin(s, 1);
    size_t lo = 0, hi = 0, none = 0, all = 0;
    cr_assert_eq(tq_store_each_decl_head_range(t, NULL, "100000000008", count_heads, &lo), 0);
    cr_assert_eq(tq_store_each_decl_head_range(t, "100000000008", NULL, count_heads, &hi), 0);
    cr_assert_eq(tq_store_each_decl_head_range(t, "100000000005", "100000000005", count_heads,
                                               &none), 0);
    cr_assert_eq(tq_store_each_decl_head_range(t, "100000000000", "999999999999", count_heads,
                                               &all), 0);
    cr_assert(lo == 7 && hi == 7 && none == 0 && all == NROWS, "lo %zu hi %zu none %zu all %zu",
              lo, hi, none, all);
    cr_assert_eq(tq_store_each_decl_head_range(t, "10000000000", NULL, count_heads, &lo),
                 TQ_ERR_INPUT, "a bound that is no decl_no");
    cr_assert_eq(tq_store_each_decl_head_range(t, NULL, "10000000000x", count_heads, &lo),
                 TQ_ERR_INPUT);
    tq_txn_abort(t);
    tq_store_close(s);
}

Test(tally, in_two_halves_it_counts_what_one_walk_counts)
{
    fill();
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    split_agrees(s, 1, "14 declarations");
    /* all but one at the low end: one half nearly empty */
    tq_txn *t = tq_test_begin(s, 0);
    tq_decl d = row_decl(&k_rows[4]);
    memcpy(d.decl_no, "999999999999", TQ_DECL_NO_LEN);
    cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
    tq_test_commit(t);
    split_agrees(s, 1, "one far above the rest");
    /* a damaged record in the upper half: one walk says what is wrong */
    tq_store_close(s);
    tq_test_raw_flip(g_dir, "decls", "100000000013", 12, 0, -1);
    s = tq_test_open(g_dir, 0);
    tq_tally two;
    int halves = -1;
    cr_assert_eq(tq_export_tally_split(s, &two, 0, &halves), TQ_ERR_DBCORRUPT);
    cr_assert_eq(halves, 0, "the fault is found by one walk");
    tq_store_close(s);
}

/* A writer that adds, in each commit, one CLEARED declaration low in the range and one
 * HELD high in it: every snapshot has as many of each added. */
typedef struct pairs {
    tq_store *s;
    int commits;
} pairs;

static void *add_pairs(void *arg)
{
    pairs *p = arg;
    for (int i = 0; i < p->commits; i++) {
        char no[16];
        tq_txn *t = tq_test_begin(p->s, 0);
        tq_decl lo = row_decl(&k_rows[1]), hi = row_decl(&k_rows[3]);
        snprintf(no, sizeof no, "2%011d", i);
        memcpy(lo.decl_no, no, TQ_DECL_NO_LEN);
        snprintf(no, sizeof no, "9%011d", i);
        memcpy(hi.decl_no, no, TQ_DECL_NO_LEN);
        cr_assert_eq(tq_store_put_decl(t, &lo), TQ_OK);
        cr_assert_eq(tq_store_put_decl(t, &hi), TQ_OK);
        tq_test_commit(t);
    }
    return NULL;
}

Test(tally, in_two_halves_it_never_counts_two_commits_at_once)
{
    fill();         /* 5 CLEARED, 5 HELD */
    tq_store *s = tq_test_open(g_dir, TQ_STORE_WRITE);
    pairs p = {s, 400};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, add_pairs, &p), 0);
    int split = 0, tallies = 0;
    for (; tallies < 3000; tallies++) {
        tq_tally tl;
        int halves;
        cr_assert_eq(tq_export_tally_split(s, &tl, 0, &halves), TQ_OK);
        cr_assert_eq(tl.by_state[TQ_STATE_CLEARED], tl.by_state[TQ_STATE_HELD],
                     "tally %d: %llu CLEARED, %llu HELD: two commits counted as one", tallies,
                     (unsigned long long)tl.by_state[TQ_STATE_CLEARED],
                     (unsigned long long)tl.by_state[TQ_STATE_HELD]);
        split += halves;
        if (tl.declarations == NROWS + 2 * (uint64_t)p.commits)
            break;
    }
    pthread_join(th, NULL);
    cr_assert_gt(split, 0, "some tallies were counted in halves");
    tq_store_close(s);
}
