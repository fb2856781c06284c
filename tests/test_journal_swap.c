/* test_journal_swap.c - proves SPEC §6 "Nothing lost" against a swapped or edited
 * journal: a journal whose id matches one already (partly) replayed into a database but
 * whose content before the replayed mark differs is refused (TQ_ERR_MISMATCH; the CLI
 * exits 5 with a message saying so) and the database is left untouched; a journal that
 * is shorter than what was replayed is refused the same way; whereas a journal that was
 * appended to after a replay (`journal pack --append`, same id) is not a mismatch: the
 * replay goes on with the new events only and ends exactly where a replay of the whole
 * journal from scratch ends.  Also: a journal that differs only after the mark is the
 * same journal as far as the database knows, and is continued.
 *
 * Same id with other content cannot be made through the writer API (every create draws
 * a fresh id), so it is made by byte surgery as formats/JOURNAL.md §2-3 lays the file
 * out: journal B's frames under journal A's file header, each frame header checksum
 * recomputed with A's id as the seed.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#include "tq_buf.h"
#include "tq_export.h"
#include "tq_journal.h"
#include "tq_ndjson.h"
#include "tq_replay.h"
#include "tq_store.h"

#define NEVENTS 1200           /* about 18 frames of 4 KiB */
#define FRAME_BYTES 4096

#define TQ_TESTDIR_PATHS 64     /* a test uses fewer than 64 names */
#include "tq_testdir.h"
#include "tq_testrec.h"

TQ_TESTDIR_SUITE(swap, "tq_swap", 120);


/* Event i of a journal: DECLs of distinct declarations, with a HELD result whose
 * tax_short shows tax_due in the export.  `edit` changes the tax of event edit_at. */
static void make_event(unsigned i, long edit_at, tq_event *ev)
{
    char line[512];
    unsigned long long tax = 1000000ull + i * 1000ull + (i == (unsigned long)edit_at ? 7 : 0);
    snprintf(line, sizeof line,
             "{\"ev\":\"DECL\",\"decl_no\":\"1%011u\",\"kind\":\"A11\",\"office\":\"01B1\","
             "\"declarant\":\"0101234567\",\"registered_at\":\"2024-08-06T09:%02u:%02u+07:00\","
             "\"channel\":1,\"tax_due\":%llu,\"lines\":[{\"hs\":\"85171300\",\"qty\":%u,"
             "\"value\":250000000,\"permit\":\"GCN-2024-%06u\"}]}",
             i + 1, i / 60 % 60, i % 60, tax, 1 + i % 97, i % 50);
    tq_diag d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(tq_ndjson_parse_event(line, strlen(line), i + 1, ev, &d), TQ_OK,
                 "test event %u: %s", i, d.why);
}

/* write_journal() - events [from, to) into path: created, or appended to. */
static void write_journal(const char *path, unsigned from, unsigned to, long edit_at, int append)
{
    static tq_event ev;
    tq_journal_write_opts wo = {.frame_bytes = FRAME_BYTES};
    tq_journal_writer *w;
    int rc = append ? tq_journal_append(path, &wo, &w) : tq_journal_create(path, &wo, &w);
    cr_assert_eq(rc, TQ_OK, "%s %s: %s", append ? "append" : "create", path, tq_strerror(rc));
    for (unsigned i = from; i < to; i++) {
        make_event(i, edit_at, &ev);
        cr_assert_eq(tq_journal_add(w, &ev), TQ_OK);
    }
    cr_assert_eq(tq_journal_finish(w), TQ_OK);
}

/* frame_ends() - byte offset of the end of each frame; returns the frame count. */
static size_t frame_ends(const uint8_t *b, size_t n, size_t *ends, size_t max)
{
    size_t off = 64, k = 0;
    while (off + 40 <= n && k < max) {
        cr_assert_eq(memcmp(b + off, "TQFR", 4), 0, "no frame at byte %zu", off);
        off += 40 + tq_le_get32(b + off + 20);
        ends[k++] = off;
    }
    cr_assert_eq(off, n, "the journal does not end at a frame boundary");
    return k;
}

/* forge() - out = the frames of body under the file header of idsrc, every frame
 * header re-sealed with idsrc's id (JOURNAL.md §3: the seed is the id's first 8 bytes,
 * little-endian). */
static void forge(const char *idsrc, const char *body, const char *out)
{
    size_t na, nb;
    uint8_t *a = tq_test_slurp(idsrc, &na), *b = tq_test_slurp(body, &nb);
    cr_assert(na >= 64 && nb >= 64);
    memcpy(b, a, 64);
    uint64_t seed = tq_le_get64(a + 24);
    for (size_t off = 64; off + 40 <= nb; off += 40 + tq_le_get32(b + off + 20)) {
        uint32_t h = (uint32_t)XXH3_64bits_withSeed(b + off, 36, seed);
        for (int i = 0; i < 4; i++)
            b[off + 36 + i] = (uint8_t)(h >> (8 * i));
    }
    tq_test_spit(out, b, nb);
    free(a);
    free(b);
}

static tq_store *open_db(const char *dir)
{
    tq_store *s = NULL;
    tq_store_holder h;
    int rc = tq_store_open(dir, TQ_STORE_WRITE | TQ_STORE_NOSYNC, NULL, &s, &h);
    cr_assert_eq(rc, TQ_OK, "open %s: %s", dir, tq_strerror(rc));
    return s;
}

/* A progress callback that asks the replay to stop once seq `at` is applied. */
typedef struct stopper {
    uint64_t at;
    volatile int stop;
} stopper;

static void stop_at(void *ctx, uint64_t seq, uint64_t bytes, uint64_t total)
{
    (void)bytes;
    (void)total;
    stopper *st = ctx;
    if (st->at && seq >= st->at)
        st->stop = 1;
}

/* replay() - @return the replay's result; stop_after 0 = run to the end. */
static int replay(tq_store *s, const char *path, uint64_t stop_after, tq_replay_stats *st,
                  tq_diag *d)
{
    static stopper sp;
    sp.at = stop_after;
    sp.stop = 0;
    tq_replay_opts o = {.threads = 1, .batch_events = 100, .stop = &sp.stop,
                        .progress = stop_at, .progress_ctx = &sp};
    memset(st, 0, sizeof *st);
    memset(d, 0, sizeof *d);
    return tq_replay_run(s, path, &o, st, d);
}

/* snapshot() - the decisions export, the permit use and the journal marks, as text. */
static int put_mark(void *ctx, const tq_journal_mark *m)
{
    fprintf(ctx, "mark %llu %llu %llx\n", (unsigned long long)m->last_seq,
            (unsigned long long)m->frames, (unsigned long long)m->chain);
    return 0;
}

static char *snapshot(tq_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(tq_export_decisions(s, f), TQ_OK);
    cr_assert_eq(tq_export_permits(s, f), TQ_OK);
    tq_txn *t;
    cr_assert_eq(tq_txn_begin(s, 1, &t), TQ_OK);
    cr_assert_eq(tq_store_each_journal(t, put_mark, f), TQ_OK);
    tq_txn_abort(t);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* decisions_now() - the decisions and permits export of s (caller frees). */
static char *decisions_now(tq_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(tq_export_decisions(s, f), TQ_OK);
    cr_assert_eq(tq_export_permits(s, f), TQ_OK);
    fclose(f);
    return buf;
}

/* decisions_of() - the same export after a fresh replay of path into dbname. */
static char *decisions_of(const char *path, const char *dbname)
{
    tq_store *s = open_db(path_in(dbname));
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, path, 0, &st, &d), TQ_OK, "%s", d.why);
    char *buf = decisions_now(s);
    tq_store_close(s);
    return buf;
}

/* expect_decisions_of() - the decisions and permits in s must be those of a replay of
 * the journal at path from scratch (into the database "ref"); what names the case. */
static void expect_decisions_of(tq_store *s, const char *path, const char *what)
{
    char *got = decisions_now(s), *want = decisions_of(path, "ref");
    cr_assert_str_eq(got, want, "%s", what);
    free(got);
    free(want);
}

/* run_cli() - run the thongquan binary with a shell command line; the exit status, and
 * stderr in *err (caller frees). */
static int run_cli(const char *args, char **err)
{
    char cmd[2048];
    const char *errf = path_in("cli.err");
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s' >/dev/null", TQ_BINARY, args, errf);
    int st = system(cmd);
    size_t n;
    *err = (char *)tq_test_slurp(errf, &n);
    (*err)[n] = '\0';
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

/* ---- the tests ---- */

/* A: NEVENTS events, replayed up to about a third.  B: the same events but one, early,
 * with another tax_due; forged to carry A's id.  B must be refused, nothing changed. */
Test(swap, content_before_the_mark_differs_is_refused)
{
    const char *A = path_in("a.tqj"), *B = path_in("b.tqj"), *F = path_in("forged.tqj");
    write_journal(A, 0, NEVENTS, -1, 0);
    write_journal(B, 0, NEVENTS, 5, 0);
    forge(A, B, F);
    /* the forgery is a valid journal with A's id: only the replay's mark can tell */
    tq_journal_reader *ra, *rf;
    cr_assert_eq(tq_journal_open(A, &ra), TQ_OK);
    cr_assert_eq(tq_journal_open(F, &rf), TQ_OK);
    cr_assert_eq(memcmp(tq_journal_id(ra), tq_journal_id(rf), TQ_JOURNAL_ID_LEN), 0);
    tq_journal_close(ra);
    tq_journal_close(rf);

    const char *db = path_in("db");
    tq_store *s = open_db(db);
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, A, NEVENTS / 3, &st, &d), TQ_OK, "%s", d.why);
    cr_assert(st.interrupted);
    cr_assert(st.journal_last_seq >= NEVENTS / 3 && st.journal_last_seq < NEVENTS,
              "mark %llu", (unsigned long long)st.journal_last_seq);
    char *before = snapshot(s);

    int rc = replay(s, F, 0, &st, &d);
    cr_assert_eq(rc, TQ_ERR_MISMATCH, "a journal with A's id and other content: %s (%s)",
                 tq_strerror(rc), d.why);
    cr_assert(strstr(d.why, "differs") != NULL, "message: %s", d.why);
    char *after = snapshot(s);
    cr_assert_str_eq(after, before, "the refused journal changed the database");
    free(after);
    tq_store_close(s);

    /* the command line: exit 5, a message that says what is wrong */
    char args[1024], *err;
    snprintf(args, sizeof args, "replay '%s' --db '%s'", F, db);
    int status = run_cli(args, &err);
    cr_assert_eq(status, 5, "thongquan replay of the forged journal exited %d: %s", status, err);
    cr_assert(strstr(err, "differs") != NULL && strstr(err, "refusing") != NULL,
              "stderr does not explain the refusal: %s", err);
    free(err);
    s = open_db(db);
    after = snapshot(s);
    cr_assert_str_eq(after, before, "the refused journal (CLI) changed the database");
    free(after);

    /* A itself still resumes and ends where a replay of A from scratch ends */
    cr_assert_eq(replay(s, A, 0, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.journal_last_seq, NEVENTS);
    expect_decisions_of(s, A, "the end state differs from a replay from scratch");
    free(before);
    tq_store_close(s);
}

/* The first and the last frame before the mark are the likeliest to be compared
 * carelessly: an edit in the first record, and in the last record before the mark. */
Test(swap, edit_at_either_end_of_the_applied_prefix_is_refused)
{
    const char *A = path_in("a.tqj");
    write_journal(A, 0, NEVENTS, -1, 0);
    size_t n, ends[256];
    uint8_t *b = tq_test_slurp(A, &n);
    size_t nf = frame_ends(b, n, ends, 256);
    free(b);
    cr_assert(nf >= 6, "%zu frames", nf);
    tq_store *s = open_db(path_in("db"));
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, A, NEVENTS / 2, &st, &d), TQ_OK, "%s", d.why);
    uint64_t mark = st.journal_last_seq;
    char *before = snapshot(s);
    long edits[2] = {0, (long)mark - 1};    /* event index = seq - 1 */
    for (int e = 0; e < 2; e++) {
        const char *B = path_in("b.tqj"), *F = path_in("forged.tqj");
        write_journal(B, 0, NEVENTS, edits[e], 0);
        forge(A, B, F);
        int rc = replay(s, F, 0, &st, &d);
        cr_assert_eq(rc, TQ_ERR_MISMATCH, "edit of seq %ld (mark %llu) not refused: %s",
                     edits[e] + 1, (unsigned long long)mark, tq_strerror(rc));
        char *after = snapshot(s);
        cr_assert_str_eq(after, before);
        free(after);
    }
    free(before);
    tq_store_close(s);
}

/* An older, shorter copy of the journal (same id, fewer frames than were applied). */
Test(swap, journal_shorter_than_the_mark_is_refused)
{
    const char *A = path_in("a.tqj"), *S = path_in("short.tqj");
    write_journal(A, 0, NEVENTS, -1, 0);
    size_t n, ends[256];
    uint8_t *b = tq_test_slurp(A, &n);
    size_t nf = frame_ends(b, n, ends, 256);
    cr_assert(nf >= 6);
    tq_test_spit(S, b, ends[nf / 4]);          /* a clean cut: a valid, shorter journal */
    free(b);
    tq_store *s = open_db(path_in("db"));
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, A, NEVENTS / 2, &st, &d), TQ_OK, "%s", d.why);
    char *before = snapshot(s);
    int rc = replay(s, S, 0, &st, &d);
    cr_assert_eq(rc, TQ_ERR_MISMATCH, "a shorter copy was not refused: %s", tq_strerror(rc));
    cr_assert(strstr(d.why, "fewer frames") != NULL, "message: %s", d.why);
    char *after = snapshot(s);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    tq_store_close(s);
}

/* Content that differs only after the mark is, to the database, the journal going on
 * differently from where it stopped: accepted, and the result is exactly B's. */
Test(swap, content_after_the_mark_may_differ)
{
    const char *A = path_in("a.tqj"), *B = path_in("b.tqj"), *F = path_in("forged.tqj");
    write_journal(A, 0, NEVENTS, -1, 0);
    write_journal(B, 0, NEVENTS, NEVENTS - 3, 0);
    forge(A, B, F);
    tq_store *s = open_db(path_in("db"));
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, A, NEVENTS / 3, &st, &d), TQ_OK, "%s", d.why);
    cr_assert(st.journal_last_seq < NEVENTS - 3);
    uint64_t mark = st.journal_last_seq;
    cr_assert_eq(replay(s, F, 0, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.already_applied, mark);
    cr_assert_eq(st.events, NEVENTS - mark);
    expect_decisions_of(s, B, "the end state differs from a replay from scratch");
    tq_store_close(s);
}

/* A journal appended to after a full replay and after a partial one: not a mismatch;
 * only the new events are applied; the end state is that of the whole journal. */
Test(swap, appended_journal_continues_with_the_new_events)
{
    const char *J = path_in("j.tqj"), *W = path_in("whole.tqj");
    write_journal(J, 0, NEVENTS / 2, -1, 0);
    write_journal(W, 0, NEVENTS, -1, 0);
    tq_store *s = open_db(path_in("db"));
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, J, 0, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.journal_last_seq, NEVENTS / 2);

    write_journal(J, NEVENTS / 2, 3 * NEVENTS / 4, -1, 1);   /* append */
    cr_assert_eq(replay(s, J, 0, &st, &d), TQ_OK, "after an append: %s", d.why);
    cr_assert_eq(st.already_applied, NEVENTS / 2);
    cr_assert_eq(st.events, 3 * NEVENTS / 4 - NEVENTS / 2, "applied %llu new events",
                 (unsigned long long)st.events);
    cr_assert_eq(st.first_seq, NEVENTS / 2 + 1);

    /* append again, then replay only part of the new events, then the rest */
    write_journal(J, 3 * NEVENTS / 4, NEVENTS, -1, 1);
    cr_assert_eq(replay(s, J, 7 * NEVENTS / 8, &st, &d), TQ_OK, "%s", d.why);
    cr_assert(st.interrupted);
    cr_assert_eq(replay(s, J, 0, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.journal_last_seq, NEVENTS);
    cr_assert_eq(st.events + st.already_applied, NEVENTS);

    expect_decisions_of(s, W, "appended journal replayed in steps differs from the whole");
    /* and once more: nothing new, nothing changes */
    char *before = snapshot(s);
    cr_assert_eq(replay(s, J, 0, &st, &d), TQ_OK, "%s", d.why);
    cr_assert_eq(st.events, 0);
    char *after = snapshot(s);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    tq_store_close(s);
}

/* The same through the command line: `journal pack --append` after a replay. */
Test(swap, cli_pack_append_after_replay)
{
    const char *A = path_in("a.tqj"), *db = path_in("db");
    write_journal(A, 0, NEVENTS / 2, -1, 0);
    /* the second half as NDJSON, to append with the CLI */
    const char *nd = path_in("more.ndjson");
    FILE *f = fopen(nd, "w");
    cr_assert_not_null(f);
    static tq_event ev;
    static char line[TQ_NDJSON_LINE_MAX];
    for (unsigned i = NEVENTS / 2; i < NEVENTS; i++) {
        make_event(i, -1, &ev);
        size_t n = tq_ndjson_format_event(&ev, 0, line, sizeof line);
        cr_assert(n > 0 && n < sizeof line);
        fwrite(line, 1, n, f);
    }
    fclose(f);
    char args[1024], *err;
    snprintf(args, sizeof args, "replay '%s' --db '%s' --no-sync", A, db);
    cr_assert_eq(run_cli(args, &err), 0, "%s", err);
    free(err);
    snprintf(args, sizeof args, "journal pack '%s' -o '%s' --append", nd, A);
    cr_assert_eq(run_cli(args, &err), 0, "pack --append: %s", err);
    free(err);
    snprintf(args, sizeof args, "replay '%s' --db '%s' --no-sync", A, db);
    int status = run_cli(args, &err);
    cr_assert_eq(status, 0, "replay after pack --append exited %d: %s", status, err);
    free(err);
    tq_store *s = open_db(db);
    tq_replay_stats st;
    tq_diag d;
    cr_assert_eq(replay(s, A, 0, &st, &d), TQ_OK);
    cr_assert_eq(st.events, 0);
    cr_assert_eq(st.already_applied, NEVENTS);
    const char *W = path_in("whole.tqj");
    write_journal(W, 0, NEVENTS, -1, 0);
    expect_decisions_of(s, W, "the end state differs from a replay from scratch");
    tq_store_close(s);
}
