/* test_pack.c - tq_journal_pack() and tq_journal_verify() (formats/tq_pack.c,
 * formats/tq_journal_verify.c), called directly: what the CLI only words.
 *
 * Inputs are in-memory streams (fmemopen); journals and reject files live in a fresh
 * directory under /tmp.  Each promise of tq_pack.h has a test: strict packs all or
 * nothing, a reject file gets every bad line whole (one over the line limit too), one
 * numbering in both modes, a reject file that cannot be written commits nothing, an
 * existing journal is not replaced without force, a held journal is BUSY with its
 * holder, a stop undoes, and append continues the seq or leaves the journal as it was.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_journal.h"
#include "tq_pack.h"
#include "tq_testdir.h"
#include "tq_testfiles.h"
#include "tq_testrec.h"

TQ_TESTDIR_SUITE(pack, "tq_pack", 60);

#define CANCEL(n) "{\"ev\":\"CANCEL\",\"decl_no\":\"10345678901" #n "\"}\n"
static const char good3[] = CANCEL(1) CANCEL(2) CANCEL(3);
/* line 2: unknown field; line 4: blank; line 5: seq that does not match */
static const char mixed[] = CANCEL(1) "{\"ev\":\"CANCEL\",\"decl_no\":\"103456789012\",\"x\":1}\n"
    CANCEL(3) "\n" "{\"seq\":99,\"ev\":\"CANCEL\",\"decl_no\":\"103456789015\"}\n" CANCEL(6);

typedef struct seen {
    int n;
    uint64_t line[16], seq[16];
    char field[16][40];
} seen;

static void on_bad(void *ctx, const tq_diag *d)
{
    seen *s = ctx;
    if (s->n < 16) {
        s->line[s->n] = d->line;
        s->seq[s->n] = d->seq;
        snprintf(s->field[s->n], sizeof s->field[s->n], "%s", d->field);
    }
    s->n++;
}

/* One pack's outcome: the bad lines it was told of, its stats and its diagnostic. */
typedef struct packed {
    seen s;
    tq_pack_stats st;
    tq_diag d;
} packed;

/* pack_str() - pack the n bytes of text into out (reject file, append, force as given),
 * 4 KiB frames, the outcome in *r.  Returns tq_journal_pack()'s code. */
static int pack_str(packed *r, const char *text, size_t n, const char *out, const char *reject,
                    int append, int force)
{
    FILE *in = fmemopen((void *)text, n, "r");
    cr_assert_not_null(in);
    tq_pack_opts o = {.in = in, .out = out, .append = append, .force = force,
                      .reject = reject, .on_bad = on_bad, .ctx = &r->s, .frame_bytes = 4096};
    memset(&r->d, 0, sizeof r->d);
    int rc = tq_journal_pack(&o, &r->st, &r->d);
    fclose(in);
    return rc;
}

static uint64_t count_events(const char *path)
{
    tq_journal_reader *r;
    cr_assert_eq(tq_journal_open(path, &r), TQ_OK);
    uint64_t n = tq_test_count_events(r);
    tq_journal_close(r);
    return n;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    b[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* same_as() - whether the file at path still holds the n bytes of before. */
static int same_as(const char *path, const char *before, size_t n)
{
    size_t m;
    char *now = slurp(path, &m);
    int same = m == n && memcmp(now, before, n) == 0;
    free(now);
    return same;
}

Test(pack, strict_packs_everything_or_nothing)
{
    packed r = {0};
    const char *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 0), TQ_OK, "%s", r.d.why);
    cr_assert_eq(r.st.events, 3);
    cr_assert_eq(r.st.first_seq, 1);
    cr_assert_eq(r.st.last_seq, 3);
    cr_assert_eq(count_events(j), 3);
    const char *k = path_in("k.tqj");
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, k, NULL, 0, 0), TQ_ERR_INPUT);
    cr_assert_eq(r.st.bad, 3);
    cr_assert_eq(r.st.events, 0);
    cr_assert_eq(access(k, F_OK), -1, "a bad line in strict mode writes nothing");
    cr_assert_eq(access(path_in("k.tqj.lock"), F_OK), -1);
}

Test(pack, one_numbering_in_both_modes)
{
    packed a = {0}, b = {0};
    const seen *strict = &a.s, *skip = &b.s;
    cr_assert_eq(pack_str(&a, mixed, sizeof mixed - 1, path_in("a.tqj"), NULL, 0, 0),
                 TQ_ERR_INPUT);
    cr_assert_eq(pack_str(&b, mixed, sizeof mixed - 1, path_in("b.tqj"), path_in("rej"), 0, 0),
                 TQ_OK, "%s", b.d.why);
    cr_assert_eq(strict->n, 3);
    cr_assert_eq(skip->n, 3);
    uint64_t want[3] = {2, 4, 5};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(strict->line[i], want[i]);
        cr_assert_eq(skip->line[i], want[i], "both modes name line %llu", (unsigned long long)want[i]);
        cr_assert_eq(strict->seq[i], 0, "a rejected line has no seq");
        cr_assert_eq(skip->seq[i], 0, "a rejected line has no seq");
        cr_assert_str_eq(strict->field[i], skip->field[i]);
    }
    /* with a reject file the good events take consecutive seqs */
    cr_assert_eq(b.st.events, 3);
    cr_assert_eq(count_events(path_in("b.tqj")), 3);
}

Test(pack, reject_file_gets_every_bad_line_whole)
{
    packed r = {0};
    const char *rej = path_in("rej.ndjson");
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, path_in("j.tqj"), rej, 0, 0), TQ_OK);
    size_t n;
    char *b = slurp(rej, &n);
    const char want[] = "{\"ev\":\"CANCEL\",\"decl_no\":\"103456789012\",\"x\":1}\n\n"
                        "{\"seq\":99,\"ev\":\"CANCEL\",\"decl_no\":\"103456789015\"}\n";
    cr_assert_str_eq(b, want);
    free(b);
}

Test(pack, line_over_the_limit_reaches_the_reject_file_whole)
{
    /* 3 MiB of one line between two good ones, with the default 1 MiB limit */
    size_t big = 3u << 20;
    size_t n = 2 * (sizeof CANCEL(1) - 1) + big + 1;
    char *text = malloc(n);
    size_t at = 0;
    memcpy(text + at, CANCEL(1), sizeof CANCEL(1) - 1);
    at += sizeof CANCEL(1) - 1;
    for (size_t i = 0; i < big; i++)
        text[at + i] = (char)('a' + i % 26);
    at += big;
    text[at++] = '\n';
    memcpy(text + at, CANCEL(3), sizeof CANCEL(3) - 1);
    at += sizeof CANCEL(3) - 1;
    packed r = {0};
    const char *rej = path_in("rej.ndjson"), *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, text, at, j, rej, 0, 0), TQ_OK, "%s", r.d.why);
    cr_assert_eq(r.s.n, 1);
    cr_assert_eq(r.s.line[0], 2);
    cr_assert_str_eq(r.s.field[0], "(line)");
    cr_assert_eq(count_events(j), 2, "the lines after it are still read");
    size_t rn;
    char *b = slurp(rej, &rn);
    cr_assert_eq(rn, big + 1, "the whole line and its newline");
    cr_assert(memcmp(b, text + sizeof CANCEL(1) - 1, big + 1) == 0);
    free(b);
    /* a small limit, the same way */
    tq_pack_opts o = {.out = path_in("j2.tqj"), .reject = path_in("rej2"), .line_max = 10};
    o.in = fmemopen((void *)good3, sizeof good3 - 1, "r");
    cr_assert_eq(tq_journal_pack(&o, &r.st, &r.d), TQ_OK);
    fclose(o.in);
    cr_assert_eq(r.st.bad, 3);
    b = slurp(path_in("rej2"), &rn);
    cr_assert_str_eq(b, good3);
    free(b);
    free(text);
}

Test(pack, reject_file_that_cannot_be_written_commits_nothing)
{
    packed r = {0};
    const char *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, j, path_in("nodir/rej"), 0, 0),
                 TQ_ERR_IO);
    cr_assert_str_eq(r.d.field, "(reject)");
    cr_assert_not_null(strstr(r.d.why, "nodir/rej"), "why: %s", r.d.why);
    cr_assert_eq(access(j, F_OK), -1);
    /* a write that fails (ENOSPC) after the open: nothing committed either */
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full");
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, j, "/dev/full", 0, 0),
                 TQ_ERR_FULL);
    cr_assert_str_eq(r.d.field, "(reject)");
    cr_assert_eq(access(j, F_OK), -1, "the journal must not be created");
    /* and an append is left as it was */
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 0), TQ_OK);
    size_t n0;
    char *before = slurp(j, &n0);
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, j, "/dev/full", 1, 0), TQ_ERR_FULL);
    cr_assert(same_as(j, before, n0));
    free(before);
}

Test(pack, existing_journal_needs_force_or_append)
{
    packed r = {0};
    const char *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 0), TQ_OK);
    size_t n0;
    char *before = slurp(j, &n0);
    cr_assert_eq(pack_str(&r, good3, 2 * (sizeof CANCEL(1) - 1), j, NULL, 0, 0),
                 TQ_ERR_EXISTS);
    cr_assert(same_as(j, before, n0), "refused: untouched");
    cr_assert_eq(pack_str(&r, good3, 2 * (sizeof CANCEL(1) - 1), j, NULL, 0, 1), TQ_OK);
    cr_assert_eq(count_events(j), 2, "--force replaces");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 1, 0), TQ_OK);
    cr_assert_eq(r.st.first_seq, 3);
    cr_assert_eq(r.st.last_seq, 5);
    cr_assert_eq(count_events(j), 5, "--append continues the seq");
    /* a strict append with a bad line: the journal stays as it was */
    before = (free(before), slurp(j, &n0));
    cr_assert_eq(pack_str(&r, mixed, sizeof mixed - 1, j, NULL, 1, 0), TQ_ERR_INPUT);
    cr_assert(same_as(j, before, n0));
    free(before);
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, path_in("none.tqj"), NULL, 1, 0),
                 TQ_ERR_NOTFOUND);
}

Test(pack, held_journal_is_busy_with_its_holder)
{
    packed r = {0};
    const char *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 0), TQ_OK);
    tq_journal_write_opts wo = {.command = "journal pack slow.ndjson"};
    tq_journal_writer *w;
    cr_assert_eq(tq_journal_append(j, &wo, &w), TQ_OK);
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 1, 0), TQ_ERR_BUSY);
    cr_assert_eq(r.st.holder.pid, (long)getpid());
    cr_assert_str_eq(r.st.holder.command, "journal pack slow.ndjson");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 1), TQ_ERR_BUSY,
                 "--force does not break a lock");
    tq_journal_abandon(w);
    cr_assert_eq(count_events(j), 3);
}

Test(pack, stop_undoes)
{
    const char *j = path_in("j.tqj"), *rej = path_in("rej");
    volatile int stop = 1;
    tq_pack_stats st;
    tq_diag d = {0};
    tq_pack_opts o = {.out = j, .reject = rej, .stop = &stop};
    o.in = fmemopen((void *)mixed, sizeof mixed - 1, "r");
    cr_assert_eq(tq_journal_pack(&o, &st, &d), TQ_ERR_INTERRUPTED);
    fclose(o.in);
    cr_assert_eq(access(j, F_OK), -1);
    cr_assert_eq(access(rej, F_OK), -1, "the reject file is not committed either");
}

Test(pack, verify_reports_counts_and_faults)
{
    packed r = {0};
    const char *j = path_in("j.tqj");
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 0), TQ_OK);
    tq_verify_result res;
    cr_assert_eq(tq_journal_verify(j, &res, &r.d), TQ_OK);
    TQ_TEST_EXPECT_FIELDS("good", {"opened", res.opened, 1}, {"version", res.version, 2},
                          {"frame_max", res.frame_max, 8192}, {"events", res.events, 3},
                          {"frames", res.frames, 1}, {"first_seq", res.first_seq, 1},
                          {"last_seq", res.last_seq, 3});
    cr_assert(res.file_size > 64);
    /* torn: cut inside the frame */
    cr_assert_eq(truncate(j, (off_t)res.file_size - 2), 0);
    cr_assert_eq(tq_journal_verify(j, &res, &r.d), TQ_ERR_TORN);
    cr_assert_eq(res.bad.offset, 64);
    cr_assert_eq(res.events, 0);
    /* corrupt: a flipped payload byte */
    cr_assert_eq(pack_str(&r, good3, sizeof good3 - 1, j, NULL, 0, 1), TQ_OK);
    FILE *f = fopen(j, "r+b");
    fseek(f, 64 + 40 + 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 64 + 40 + 3, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    cr_assert_eq(tq_journal_verify(j, &res, &r.d), TQ_ERR_CORRUPT);
    TQ_TEST_EXPECT_FIELDS("corrupt", {"bad.index", res.bad.index, 0},
                          {"bad.first_seq", res.bad.first_seq, 1}, {"bad.count", res.bad.count, 3});
    /* not there */
    cr_assert_eq(tq_journal_verify(path_in("none"), &res, &r.d), TQ_ERR_IO);
    cr_assert_eq(res.opened, 0);
}
