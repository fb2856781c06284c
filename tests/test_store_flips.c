/* test_store_flips.c - single-byte flips swept over a small database, as SQLite's
 * corruption tests do: every flipped file, opened and read through the store (and then
 * written to), must give either exactly the original content or TQ_ERR_DBCORRUPT /
 * TQ_ERR_VERSION -- never a crash (each try runs in a child, so a signal is seen) and
 * never a silently different answer.  A flip that changes nothing the store can read
 * (free pages, unused bytes of a page) gives the original content: that is fine.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "tq_store.h"

#include "tq_testdir.h"

TQ_TESTDIR_SUITE(flips, "tq_flips", 600);

static void build(const char *dir)
{
    tq_store *s = NULL;
    tq_store_opts o = {.command = "test_store_flips"};
    cr_assert_eq(tq_store_open(dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, &o, &s, NULL), TQ_OK);
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(s, 0, &t), TQ_OK);
    for (int i = 0; i < 60; i++) {
        tq_decl d;
        memset(&d, 0, sizeof d);
        snprintf(d.decl_no, sizeof d.decl_no, "1%011d", i * 7919);
        memcpy(d.declarant, "0101234500", 11);
        d.declarant[8] = (char)('0' + i / 10);
        d.declarant[9] = (char)('0' + i % 10);
        d.state = (uint8_t)(1 + i % 4);
        d.channel = (uint8_t)(1 + i % 3);
        d.tax_due = 1000u * (unsigned)i;
        d.registered.sec = 1722910500 + i;
        d.nlines = (uint16_t)(1 + i % 3);
        for (int l = 0; l < d.nlines; l++) {
            memcpy(d.lines[l].hs, "85171300", 9);
            d.lines[l].hs[7] = (char)('0' + l);
            d.lines[l].qty = 10u + (unsigned)l;
            snprintf(d.lines[l].permit, sizeof d.lines[l].permit, "GP-%d", i % 9);
        }
        cr_assert_eq(tq_store_put_decl(t, &d), TQ_OK);
        tq_payment p = {.kind = i % 3 ? TQ_PAY : TQ_GUARANTEE, .amount = 500u * (unsigned)i,
                        .valid_until = i % 3 ? TQ_NO_DATE : 19900 + i};
        snprintf(p.decl_no, sizeof p.decl_no, "%s", d.decl_no);
        snprintf(p.receipt_no, sizeof p.receipt_no, "KB-%04d", i);
        cr_assert_eq(tq_store_add_payment(t, &p, NULL, NULL), TQ_OK);
    }
    for (int i = 0; i < 9; i++) {
        tq_permit pm = {.agency = "BCT", .holder = "0101234567", .status = TQ_PERMIT_VALID,
                        .valid_from = 19000, .valid_to = 20000, .quota = 100u * (unsigned)i,
                        .nprefixes = 1, .prefixes = {"8517"}};
        snprintf(pm.permit_no, sizeof pm.permit_no, "GP-%d", i);
        cr_assert_eq(tq_store_put_permit(t, &pm), TQ_OK);
        cr_assert_eq(tq_store_put_used(t, pm.permit_no, 3u * (unsigned)i), TQ_OK);
    }
    tq_journal_mark m = {.id = {1, 2, 3}, .last_seq = 99, .frames = 3, .chain = 77};
    cr_assert_eq(tq_store_put_journal(t, &m), TQ_OK);
    tq_gap g = {.id = {1, 2, 3}, .first = 10, .last = 20, .frame = 1};
    cr_assert_eq(tq_store_put_gap(t, &g), TQ_OK);
    tq_ledger_entry e = {.sha256 = {4}, .kind = 1, .rows = 60, .name = "p.csv"};
    cr_assert_eq(tq_store_put_ledger(t, &e), TQ_OK);
    cr_assert_eq(tq_txn_commit(t), TQ_OK);
    tq_store_close(s);
}

/* ---- a fingerprint of everything the store gives back ---- */

typedef struct fp {
    XXH3_state_t *h;
    tq_txn *t;
} fp;

/* A declaration and its cover, whose guarantees are read into one buffer that lives (and
 * stays reachable) as long as the process, as cover_of() in test_store.c. */
static int fp_decl(void *ctx, const tq_decl *d)
{
    static tq_guarantee *guar;
    static size_t cap;
    fp *f = ctx;
    XXH3_64bits_update(f->h, d, sizeof *d);
    tq_cover c;
    int rc = tq_store_get_cover(f->t, d->decl_no, &c, &guar, &cap);
    if (rc != TQ_OK)
        return rc;
    XXH3_64bits_update(f->h, &c.pay_total, sizeof c.pay_total);
    for (uint32_t i = 0; i < c.nguar; i++) {    /* field by field: padding is not data */
        XXH3_64bits_update(f->h, &c.guar[i].valid_until, sizeof c.guar[i].valid_until);
        XXH3_64bits_update(f->h, &c.guar[i].amount, sizeof c.guar[i].amount);
    }
    return 0;
}

static int fp_permit(void *ctx, const tq_permit *p, uint64_t used)
{
    fp *f = ctx;
    XXH3_64bits_update(f->h, p, sizeof *p);
    XXH3_64bits_update(f->h, &used, sizeof used);
    return 0;
}

/* FP_WHOLE(name, type): the walk callback name, which adds each value's bytes whole. */
#define FP_WHOLE(name, type)                                                              \
    static int name(void *ctx, const type *v)                                             \
    {                                                                                     \
        XXH3_64bits_update(((fp *)ctx)->h, v, sizeof *v);                                 \
        return 0;                                                                         \
    }

FP_WHOLE(fp_payment, tq_payment)
FP_WHOLE(fp_mark, tq_journal_mark)
FP_WHOLE(fp_gap, tq_gap)
FP_WHOLE(fp_ledger, tq_ledger_entry)

/* @return TQ_OK with *out set, or the first error. */
static int fingerprint(const char *dir, uint64_t *out)
{
    tq_store *s = NULL;
    tq_store_opts o = {.verify = TQ_STORE_VERIFY_AUTO};
    int rc = tq_store_open(dir, 0, &o, &s, NULL);
    if (rc != TQ_OK)
        return rc;
    fp f = {.h = XXH3_createState()};
    XXH3_64bits_reset(f.h);
    rc = tq_txn_begin(s, 1, &f.t);
    tq_store_info info;
    if (rc == TQ_OK)
        rc = tq_store_each_decl(f.t, fp_decl, &f);
    if (rc == TQ_OK)
        rc = tq_store_each_permit(f.t, fp_permit, &f);
    if (rc == TQ_OK)
        rc = tq_store_each_payment(f.t, fp_payment, &f);
    if (rc == TQ_OK)
        rc = tq_store_each_journal(f.t, fp_mark, &f);
    if (rc == TQ_OK)
        rc = tq_store_each_gap(f.t, NULL, fp_gap, &f);
    if (rc == TQ_OK)
        rc = tq_store_each_ledger(f.t, fp_ledger, &f);
    if (rc == TQ_OK)
        rc = tq_store_verify(f.t, NULL, NULL, NULL);
    tq_txn_abort(f.t);
    if (rc == TQ_OK)
        rc = tq_store_stat(s, &info);
    tq_store_close(s);
    *out = XXH3_64bits_digest(f.h);
    XXH3_freeState(f.h);
    return rc;
}

/* Then a writer: open, put, commit, must not crash either. */
static int write_one(const char *dir)
{
    tq_store *s = NULL;
    int rc = tq_store_open(dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, NULL);
    if (rc != TQ_OK)
        return rc;
    tq_txn *t;
    rc = tq_txn_begin(s, 0, &t);
    if (rc == TQ_OK) {
        tq_decl d;
        memset(&d, 0, sizeof d);
        snprintf(d.decl_no, sizeof d.decl_no, "900000000001");
        d.state = 1;
        d.channel = 1;
        rc = tq_store_put_decl(t, &d);
        tq_payment p = {.decl_no = "100000007919", .receipt_no = "NEW-1", .kind = TQ_PAY,
                        .amount = 5, .valid_until = TQ_NO_DATE};
        if (rc == TQ_OK)
            rc = tq_store_add_payment(t, &p, NULL, NULL);
        rc = rc == TQ_OK ? tq_txn_commit(t) : (tq_txn_abort(t), rc);
    }
    tq_store_close(s);
    return rc;
}

enum { SAME = 0, DIFFERENT = 1, REFUSED = 2, OTHER = 3 };

static int outcome(int rc, uint64_t got, uint64_t want)
{
    if (rc == TQ_OK)
        return got == want ? SAME : DIFFERENT;
    return rc == TQ_ERR_DBCORRUPT || rc == TQ_ERR_VERSION ? REFUSED : OTHER;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void put_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

Test(flips, no_flip_crashes_or_gives_a_silent_wrong_answer)
{
    char base[128], dir[128], data[160], lock[160], marker[160];
    snprintf(base, sizeof base, "%s/base", g_dir);
    snprintf(dir, sizeof dir, "%s/t", g_dir);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    snprintf(marker, sizeof marker, "%s/thongquan.db", dir);
    build(base);
    char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", base);
    size_t n;
    uint8_t *good = slurp(path, &n);
    uint64_t want;
    cr_assert_eq(fingerprint(base, &want), TQ_OK);
    cr_assert_eq(mkdir(dir, 0755), 0);
    uint64_t again;
    put_file(data, good, n);
    cr_assert_eq(fingerprint(dir, &again), TQ_OK);
    cr_assert_eq(again, want, "an unflipped copy reads the same");

    uint8_t *bad = malloc(n);
    int count[4] = {0}, tries = 0;
    /* TQ_FLIP_STRIDE=1 TQ_FLIP_FROM=.. TQ_FLIP_TO=..: an exhaustive sweep, in pieces */
    long stride = getenv("TQ_FLIP_STRIDE") ? atol(getenv("TQ_FLIP_STRIDE")) : 23;
    size_t from = getenv("TQ_FLIP_FROM") ? (size_t)atol(getenv("TQ_FLIP_FROM")) : 0;
    size_t to = getenv("TQ_FLIP_TO") ? (size_t)atol(getenv("TQ_FLIP_TO")) : n;
    if (stride < 1)
        stride = 1;
    for (size_t at = from; at < n && at < to;
         at += (at < 200 || (at >= 4096 && at < 4296)) ? 1 : (size_t)stride) {
        memcpy(bad, good, n);
        bad[at] ^= (uint8_t)(1u << (at % 8));
        put_file(data, bad, n);
        unlink(lock);
        unlink(marker);
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            uint64_t got = 0;
            int rc = fingerprint(dir, &got);
            int o = outcome(rc, got, want);
            if (o == SAME || o == REFUSED) {
                int w = write_one(dir);
                if (w != TQ_OK && w != TQ_ERR_DBCORRUPT && w != TQ_ERR_VERSION)
                    o = OTHER;
            }
            _exit(o);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(!WIFSIGNALED(st), "flip at %zu: killed by signal %d", at, WTERMSIG(st));
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) <= OTHER, "flip at %zu: status %d", at, st);
        count[WEXITSTATUS(st)]++;
        tries++;
        cr_expect_neq(WEXITSTATUS(st), DIFFERENT, "flip at %zu: silently different content", at);
        cr_expect_neq(WEXITSTATUS(st), OTHER, "flip at %zu: an error other than damage", at);
    }
    cr_log_info("%d flips over %zu bytes: %d same content, %d refused as damage, "
                "%d silently different, %d other errors",
                tries, n, count[SAME], count[REFUSED], count[DIFFERENT], count[OTHER]);
    fprintf(stderr, "flips: %d over %zu bytes: %d same, %d refused, %d different, %d other\n",
            tries, n, count[SAME], count[REFUSED], count[DIFFERENT], count[OTHER]);
    free(bad);
    free(good);
}
